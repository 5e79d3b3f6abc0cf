//! The tree domain: a loaded package tree plus the builders the rules declare, indexed
//! once so every rule lookup is a hash probe or a slice, never a scan.

use std::collections::HashMap;

use crate::fasthash::FastMap;

use crate::eval::domain::{ClassifyInput, Domain};
use crate::eval::schema::{Closed as _, KeySet, Values};
use crate::lang::pattern::Capture;
use crate::lang::compile::{Policy, Reach};
use crate::lang::glob;
use crate::source::Span;
use crate::tree::{BuildSh, DepKind, Package, ProblemKind, Tree};

struct BuilderFacts<'a> {
    available: bool,
    kind: BuilderKind,
    entries: std::ops::Range<u32>,
    first_entry: FastMap<&'a str, u32>,
    names: Vec<&'a str>,
    topological: bool,
}

struct EntryFacts<'a> {
    name: &'a str,
    span: Span,
    index: u32,
    builder: u32,
    package: Option<u32>,
    /// What follows the name on its list line, and where.
    extra: Option<(&'a str, Span)>,
}

/// A parsed `.audit-override` file.
struct Override {
    reason: String,
    approved_by: String,
    expires_at: String,
    problem: Option<String>,
}

fn parse_override(text: &str) -> Override {
    let v: Result<serde_json::Value, _> = serde_json::from_str(text);
    let field = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").trim().to_string();
    match v {
        Ok(v) if v.is_object() => {
            let o = Override {
                reason: field(&v, "reason"),
                approved_by: field(&v, "approved_by"),
                expires_at: field(&v, "expires_at"),
                problem: None,
            };
            let date_ok = o.expires_at.len() == 10 && o.expires_at.as_bytes().iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() });
            let problem = if o.reason.is_empty() {
                Some("it has no `reason`".to_string())
            } else if o.approved_by.is_empty() {
                Some("it has no `approved_by`".to_string())
            } else if !date_ok {
                Some(format!("`expires_at` is `{}`, not a YYYY-MM-DD date", o.expires_at))
            } else {
                None
            };
            Override { problem, ..o }
        }
        Ok(_) => Override { reason: String::new(), approved_by: String::new(), expires_at: String::new(), problem: Some("it is not a JSON object".into()) },
        Err(e) => Override { reason: String::new(), approved_by: String::new(), expires_at: String::new(), problem: Some(format!("it is not valid JSON ({e})")) },
    }
}

pub struct TreeFacts<'a> {
    pub tree: &'a Tree,
    policy: &'a Policy,
    audit: Option<&'a crate::audit::AuditFacts>,
    scan: Option<&'a crate::scan::ScanFacts>,
    scan_b: Option<&'a crate::scanb::ScanBFacts>,
    resolved: Vec<crate::scan::reconcile::Resolved>,
    overrides: Vec<Option<Override>>,
    /// Per package (by index), its row in the audit database: looked up once here, not per
    /// check and field (a string-keyed tree search each, at 100,000 recipes).
    audit_rows: Vec<Option<&'a crate::audit::AuditRow>>,
    /// The first package of each name (lookups of dependency targets: one probe, no list).
    by_name: FastMap<&'a str, u32>,
    /// Every package of a name that more than one package has, in tree order.
    same_name: FastMap<&'a str, Vec<u32>>,
    /// Flattened dependency records: (package, index in its deps, target recipe).
    deps: Vec<(u32, u32, Option<u32>)>,
    dep_range: Vec<std::ops::Range<u32>>,
    sources: Vec<(u32, u32)>,
    source_range: Vec<std::ops::Range<u32>>,
    paths: Vec<(u32, u32)>,
    path_range: Vec<std::ops::Range<u32>>,
    keys: Vec<(u32, u32)>,
    key_range: Vec<std::ops::Range<u32>>,
    functions: Vec<(u32, u32)>,
    function_range: Vec<std::ops::Range<u32>>,
    builders: Vec<BuilderFacts<'a>>,
    entries: Vec<EntryFacts<'a>>,
    reach: Vec<Vec<u32>>,
    tier_counts: Vec<i64>,
}

/// A per-package list flattened into records `(package, index)`, with each package's range.
#[derive(Default)]
struct Flat {
    items: Vec<(u32, u32)>,
    range: Vec<std::ops::Range<u32>>,
}

impl Flat {
    fn push(&mut self, p: usize, count: usize) {
        let start = self.items.len() as u32;
        self.items.extend((0..count as u32).map(|i| (p as u32, i)));
        self.range.push(start..self.items.len() as u32);
    }
}

impl<'a> TreeFacts<'a> {
    pub fn new(tree: &'a Tree, policy: &'a Policy) -> TreeFacts<'a> {
        let pk = &tree.packages;
        let mut by_name: FastMap<&str, u32> = FastMap::with_capacity_and_hasher(pk.len(), Default::default());
        let mut same_name: FastMap<&str, Vec<u32>> = FastMap::default();
        for (i, p) in pk.iter().enumerate() {
            let first = *by_name.entry(p.name.as_str()).or_insert(i as u32);
            if first != i as u32 {
                same_name.entry(p.name.as_str()).or_insert_with(|| vec![first]).push(i as u32);
            }
        }
        let lookup = |n: &str| by_name.get(n).copied();
        // One pass over the packages (each is visited once, not once per relation).
        let mut deps: Vec<(u32, u32, Option<u32>)> = Vec::with_capacity(pk.iter().map(|p| p.deps.len()).sum());
        let mut dep_range = Vec::with_capacity(pk.len());
        let (mut sources, mut paths, mut keys, mut functions) = (Flat::default(), Flat::default(), Flat::default(), Flat::default());
        for (p, pkg) in pk.iter().enumerate() {
            let start = deps.len() as u32;
            deps.extend((0..pkg.deps.len() as u32).map(|i| (p as u32, i, None)));
            dep_range.push(start..deps.len() as u32);
            sources.push(p, pkg.sources.len());
            paths.push(p, pkg.verify_paths.as_ref().map(Vec::len).unwrap_or(0));
            keys.push(p, pkg.keys.len());
            functions.push(p, if let BuildSh::Parsed(b) = &pkg.build_sh { b.functions.len() } else { 0 });
        }
        // Each target is a probe into a 100,000-name table, a cache miss or three: shared
        // out over the cores.
        let workers = crate::parallel::workers(deps.len(), 16_384, crate::parallel::cores());
        crate::parallel::for_each(&mut deps, workers, |_, (p, i, target)| {
            *target = lookup(&pk[*p as usize].deps[*i as usize].name);
        });
        let (Flat { items: sources, range: source_range }, Flat { items: paths, range: path_range }) = (sources, paths);
        let (Flat { items: keys, range: key_range }, Flat { items: functions, range: function_range }) = (keys, functions);

        let lists: HashMap<&str, &crate::tree::BuilderList> =
            tree.builder_lists.iter().map(|l| (l.file_name.as_str(), l)).collect();
        let mut builders = vec![];
        let mut entries = vec![];
        for (bi, b) in policy.builders.iter().enumerate() {
            let start = entries.len() as u32;
            let mut available = true;
            let mut kind = BuilderKind::Named;
            let mut names = vec![];
            let mut topological = false;
            for r in &b.reach {
                match r {
                    Reach::List(file, _) => {
                        kind = BuilderKind::Static;
                        match lists.get(file.as_str()) {
                            Some(l) => {
                                let mut extra = l.extra.iter().peekable();
                                for (i, (n, span)) in l.entries.iter().enumerate() {
                                    let extra = extra.next_if(|(at, _, _)| *at == i).map(|(_, t, s)| (t.as_str(), *s));
                                    entries.push(EntryFacts {
                                        name: n.as_str(),
                                        span: *span,
                                        index: i as u32,
                                        builder: bi as u32,
                                        package: lookup(n),
                                        extra,
                                    });
                                }
                            }
                            None => available = false,
                        }
                    }
                    Reach::Topological(file, _) => {
                        kind = BuilderKind::Topological;
                        let invokes = lists
                            .get(file.as_str())
                            .and_then(|l| l.invokes_tier.as_ref())
                            .map(|(t, _)| Some(t.as_str()) == b.tier.as_deref())
                            .unwrap_or(false);
                        available &= invokes;
                        topological = true;
                    }
                    Reach::Names(ns) => names.extend(ns.iter().map(|(n, _)| n.as_str())),
                }
            }
            let range = start..entries.len() as u32;
            let mut first_entry = FastMap::default();
            for e in range.clone() {
                first_entry.entry(entries[e as usize].name).or_insert(e);
            }
            builders.push(BuilderFacts { available, kind, entries: range, first_entry, names, topological });
        }

        let reach = pk
            .iter()
            .map(|p| {
                let tier = p.tier.as_deref().unwrap_or(p.dir_tier.as_str());
                policy
                    .builders
                    .iter()
                    .zip(&builders)
                    .enumerate()
                    .filter(|(_, (def, f))| {
                        f.available
                            && def.tier.as_deref() == Some(tier)
                            && (f.topological
                                || f.first_entry.contains_key(p.name.as_str())
                                || f.names.iter().any(|g| glob::matches(g, &p.name)))
                    })
                    .map(|(i, _)| i as u32)
                    .collect()
            })
            .collect();
        let mut tier_counts = vec![0i64; policy.tiers.names.len()];
        for p in pk {
            if let Some(t) = p.tier.as_deref().and_then(|t| policy.tiers.index(t)) {
                tier_counts[t as usize] += 1;
            }
        }
        TreeFacts {
            tree,
            policy,
            audit: None,
            scan: None,
            scan_b: None,
            resolved: vec![],
            overrides: vec![],
            audit_rows: vec![],
            by_name,
            same_name,
            deps,
            dep_range,
            sources,
            source_range,
            paths,
            path_range,
            keys,
            key_range,
            functions,
            function_range,
            builders,
            entries,
            reach,
            tier_counts,
        }
    }

    /// Attach the audit facts (Gate 2) and read the packages' `.audit-override` files.
    pub fn with_audit(mut self, audit: &'a crate::audit::AuditFacts, sources: &crate::source::SourceMap) -> TreeFacts<'a> {
        self.audit = Some(audit);
        self.audit_rows = match &audit.db {
            Some(db) => self.tree.packages.iter().map(|p| db.rows.get(&p.name)).collect(),
            None => vec![],
        };
        self.overrides = self.tree.packages.iter().map(|p| p.audit_override.map(|id| parse_override(&sources.get(id).text))).collect();
        self
    }

    /// Attach the source scan facts (Gate 6); upstream names are resolved to recipes here.
    pub fn with_scan(mut self, scan: &'a crate::scan::ScanFacts) -> TreeFacts<'a> {
        self.resolved = crate::scan::reconcile::resolve(self.tree, self.policy, scan);
        self.scan = Some(scan);
        self
    }

    /// Attach the build log facts (Gate 5, Scan B).
    pub fn with_scan_b(mut self, scan_b: &'a crate::scanb::ScanBFacts) -> TreeFacts<'a> {
        self.scan_b = Some(scan_b);
        self
    }

    /// The build logs attached (Gate 5), if any.
    pub fn scan_b(&self) -> Option<&'a crate::scanb::ScanBFacts> {
        self.scan_b
    }

    fn audit_row(&self, package: u32) -> Option<&'a crate::audit::AuditRow> {
        self.audit_rows.get(package as usize).copied().flatten()
    }

    fn log_hit(&self, i: u32) -> Option<(&'a crate::scanb::LogHit, &'a crate::scanb::ScanBFacts, &'a crate::lang::compile::LogPattern)> {
        let s = self.scan_b?;
        let h = s.hits.get(i as usize)?;
        Some((h, s, self.policy.log_patterns.get(h.pattern as usize)?))
    }

    fn build_log(&self, i: u32) -> Option<&'a crate::scanb::BuildLog> {
        self.scan_b?.logs.get(i as usize)
    }

    fn upstream(&self, i: u32) -> Option<(&'a crate::scan::UpstreamDep, &crate::scan::reconcile::Resolved)> {
        let r = self.resolved.get(i as usize)?;
        let d = self.scan?.packages.get(r.package as usize)?.deps.get(r.dep as usize)?;
        Some((d, r))
    }

    fn scan_of(&self, i: u32) -> Option<&'a crate::scan::PackageScan> {
        self.scan?.packages.get(i as usize)
    }

    fn override_of(&self, i: u32) -> Option<&Override> {
        self.overrides.get(i as usize)?.as_ref()
    }

    fn pkg(&self, i: u32) -> &'a Package {
        &self.tree.packages[i as usize]
    }

    fn dep(&self, i: u32) -> &'a crate::tree::Dep {
        let (p, di, _) = self.deps[i as usize];
        &self.pkg(p).deps[di as usize]
    }

    fn source(&self, i: u32) -> &'a crate::tree::SourceEntry {
        let (p, si) = self.sources[i as usize];
        &self.pkg(p).sources[si as usize]
    }

    fn sh_function(&self, i: u32) -> Option<&'a crate::tree::ShFunction> {
        let (p, fi) = self.functions[i as usize];
        match &self.pkg(p).build_sh {
            BuildSh::Parsed(b) => b.functions.get(fi as usize),
            _ => None,
        }
    }

    fn package_index(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// The phase of the earliest builder that reaches the package.
    pub fn build_phase(&self, p: u32) -> Option<&'a str> {
        self.reach[p as usize]
            .iter()
            .filter_map(|&b| self.policy.builders[b as usize].phase.as_deref())
            .min_by_key(|ph| self.policy.phase_index(ph).unwrap_or(usize::MAX))
    }

    /// The `i`th exact name over every set of the rules, in declaration order: (set, item).
    fn set_entry(&self, i: u32) -> Option<(usize, &'a (String, Span))> {
        let mut i = i as usize;
        for (k, set) in self.policy.sets.iter().enumerate() {
            match set.exact.get(i) {
                Some(item) => return Some((k, item)),
                None => i -= set.exact.len(),
            }
        }
        None
    }

    /// Every package declaring the name of package `i`, itself included, in tree order.
    fn same_name_of(&self, i: u32) -> Vec<u32> {
        match self.same_name.get(self.pkg(i).name.as_str()) {
            Some(all) => all.clone(),
            None => vec![i],
        }
    }

    /// The build dependencies package `i` declares, sorted, without duplicates.
    fn declared_build_deps(&self, i: u32) -> Vec<&'a str> {
        let mut v: Vec<&str> = self.pkg(i).deps.iter().filter(|d| d.kind == DepKind::Build).map(|d| d.name.as_str()).collect();
        v.sort();
        v.dedup();
        v
    }

    fn tier_builders(&self, tier: u32) -> Vec<u32> {
        let tier = self.policy.tiers.names.get(tier as usize).map(String::as_str).unwrap_or("");
        self.policy
            .builders
            .iter()
            .zip(&self.builders)
            .enumerate()
            .filter(|(_, (d, f))| f.available && d.tier.as_deref() == Some(tier))
            .map(|(bi, _)| bi as u32)
            .collect()
    }

    fn set_classifies(&self, set: usize) -> bool {
        self.policy
            .classifications
            .iter()
            .any(|c| c.layers.iter().any(|l| matches!(l, crate::lang::compile::CLayer::InSet { set: s, .. } if *s == set)))
    }

    fn divergence_scanned(&self, d: &crate::lang::compile::Divergence) -> bool {
        self.scan.is_some_and(|s| {
            s.packages.iter().zip(&self.tree.packages).any(|(ps, p)| ps.status == "scanned" && glob::matches(&d.package, &p.name))
        })
    }
}

/// How strongly upstream asks for a dependency.
fn strength(d: &crate::scan::UpstreamDep) -> &'static str {
    match (d.found.required, d.found.conditional) {
        (true, false) => "required",
        (false, false) => "soft",
        (true, true) => "conditional",
        (false, true) => "soft, conditional",
    }
}

/// The recipe schema: the top-level keys of a package.yml that igos and the build know.
/// `p.has("...")` and `p.field("...")` name one of these (or an item of the rules'
/// `known_fields` set), so a misspelt key is a rule error, not a check that flags everything.
pub static RECIPE_KEYS: KeySet = KeySet {
    keys: &[
        "build_artifacts", "build_style", "bundled_deps", "configure_flags", "dependencies", "description",
        "direct_install", "homepage", "install_func", "iso_include", "license", "name", "pass_number", "patches",
        "payload_license", "pending_acquisition", "release", "skip_tracking", "source", "supersedes", "target_triple",
        "tests", "tier", "validation", "verify_paths", "version", "working_dir",
    ],
    extended_by: Some("known_fields"),
    what: "package.yml key",
    each: "every recipe",
    label: "unknown recipe key",
    help: "a recipe key is one of the recipe schema's (engine/distro/facts/tree.rs) or of the set `known_fields`",
};

igos_policy::closed! {
    /// How a builder reaches its packages.
    pub enum BuilderKind { Static = "static", Topological = "topological", Named = "named" }
}

/// The status of a recipe's source scan (Gate 6).
const SCAN_STATUS: Values = Values::Listed(&["scanned", "pending", "missing", "unsupported", "failed", "no-source"]);

igos_policy::domain! {
    pub static TREE = "tree", "the package tree and the rules' builders, read by `igos check` (the validate gates) and `igos test`";
    impl<'a> TreeFacts<'a>;
    kinds {
        PACKAGE "package" "a recipe: packages/<tier>/<name>/package.yml (and build.sh)" {
            @show |f, i| f.pkg(i).name.clone();
            @at |f, i| Some(f.pkg(i).file_span());
            name: Str = "the recipe's name (yml `name:`, else its directory name)", |f, i| f.pkg(i).name.as_str();
            dirname: Str = "the recipe's directory name", |f, i| f.pkg(i).dir_name.as_str();
            dir: Str [Values::Tiers] = "the tier directory it lives in", |f, i| f.pkg(i).dir_tier.as_str();
            tier: Str [Values::Tiers] = "the declared `tier:` (none when absent)", |f, i| f.pkg(i).tier.as_deref();
            version: Str = "the version as written", |f, i| f.pkg(i).version_text.as_deref();
            version_is_string: Bool = "true when the version is a YAML string, not a number", |f, i| f.pkg(i).version_is_string;
            build_style: Str = "the declared build_style", |f, i| f.pkg(i).build_style.as_deref();
            pending: Bool = "has a non-empty pending_acquisition reason", |f, i| f.pkg(i).pending.as_ref().is_some_and(|(r, _)| !r.trim().is_empty());
            pending_reason: Str = "the pending_acquisition text, none when absent", |f, i| f.pkg(i).pending.as_ref().map(|(r, _)| r.as_str());
            parsed: Bool = "the package.yml parsed as a YAML mapping", |f, i| f.pkg(i).parsed;
            deps: List(DEP) = "build, host and runtime dependencies in file order", |f, i| f.dep_range[i as usize].clone();
            sources: List(SOURCE) = "the source: entries", |f, i| f.source_range[i as usize].clone();
            source_is_empty: Bool = "declares `source: []`", |f, i| f.pkg(i).source_is_empty_list;
            verify_paths: List(VERIFY_PATH) = "the verify_paths: entries", |f, i| f.path_range[i as usize].clone();
            has_verify_paths: Bool = "declares verify_paths:", |f, i| f.pkg(i).verify_paths.is_some();
            keys: List(KEY) = "top-level keys in file order", |f, i| f.key_range[i as usize].clone();
            build_sh: Rec(BUILD_SCRIPT) = "its build.sh, none when absent", |f, i| (!matches!(f.pkg(i).build_sh, BuildSh::Absent)).then_some(i);
            same_name: List(PACKAGE) = "every recipe declaring this name (itself included)", |f, i| f.same_name_of(i);
            audit: Rec(AUDIT) = "its record in the audit database, none when absent", |f, i| f.audit_row(i).map(|_| i);
            audit_override: Rec(OVERRIDE) = "its .audit-override file, none when absent", |f, i| f.override_of(i).map(|_| i);
            file: Loc = "the package.yml", |f, i| f.pkg(i).file_span();
            first_of_name: Bool = "no recipe earlier in the tree declares this name (a duplicate is reported once, at its first copy)",
                |f, i| f.same_name.get(f.pkg(i).name.as_str()).is_none_or(|all| all.first() == Some(&i));
            same_name_dirs: Strs = "the directories (packages/<tier>/<dir>) of every recipe declaring this name",
                |f, i| f.same_name_of(i).into_iter().map(|q| f.pkg(q)).map(|q| format!("packages/{}/{}", q.dir_tier, q.dir_name));
        }
        DEP "dep" "a declared dependency" {
            @show |f, i| f.dep(i).name.clone();
            @at |f, i| Some(f.dep(i).span);
            name: Str = "the dependency as written", |f, i| f.dep(i).name.as_str();
            kind: Enum(DepKind) = "build, host or runtime", |f, i| f.dep(i).kind;
            consumer: Rec(PACKAGE) = "the package that declares it", |f, i| f.deps[i as usize].0;
            target: Rec(PACKAGE) = "the recipe it names, none when no recipe has that name", |f, i| f.deps[i as usize].2;
        }
        SOURCE "source" "a `source:` entry of a recipe" {
            @at |f, i| Some(f.source(i).span);
            url: Str = "the url, none when absent", |f, i| f.source(i).url.as_deref();
            sha256: Str = "the pinned sha256, none when absent", |f, i| f.source(i).sha256.as_deref();
            package: Rec(PACKAGE) = "the recipe", |f, i| f.sources[i as usize].0;
            url_at: Loc = "where the url is written", |f, i| { let s = f.source(i); s.url_span.unwrap_or(s.span) };
            sha256_at: Loc = "where the sha256 is written", |f, i| { let s = f.source(i); s.sha256_span.unwrap_or(s.span) };
        }
        VERIFY_PATH "verify_path" "a `verify_paths:` entry of a recipe" {
            @at |f, i| { let (p, vi) = f.paths[i as usize]; Some(f.pkg(p).verify_paths.as_ref()?.get(vi as usize)?.1) };
            path: Str = "the declared path", |f, i| {
                let (p, vi) = f.paths[i as usize];
                f.pkg(p).verify_paths.as_ref().and_then(|v| v.get(vi as usize)).map(|(s, _)| s.as_str())
            };
            package: Rec(PACKAGE) = "the recipe", |f, i| f.paths[i as usize].0;
        }
        KEY "key" "a top-level key of a package.yml" {
            @at |f, i| { let (p, ki) = f.keys[i as usize]; Some(f.pkg(p).keys[ki as usize].1) };
            name: Str = "the top-level key", |f, i| { let (p, ki) = f.keys[i as usize]; &*f.pkg(p).keys[ki as usize].0 };
            package: Rec(PACKAGE) = "the recipe", |f, i| f.keys[i as usize].0;
        }
        BUILD_SCRIPT "build_script" "a recipe's build.sh" {
            @show |f, i| format!("{}/build.sh", f.pkg(i).name);
            @at |f, i| Some(match &f.pkg(i).build_sh {
                BuildSh::Parsed(b) => Span::new(b.file, 0, 0),
                _ => f.pkg(i).file_span(),
            });
            known: Bool = "its text is available (the corpus lists build.sh files without their text)", |f, i| matches!(f.pkg(i).build_sh, BuildSh::Parsed(_));
            header: Str = "the leading comment block", |f, i| match &f.pkg(i).build_sh {
                BuildSh::Parsed(b) => Some(b.header_comment.as_str()),
                _ => None,
            };
            functions: List(SH_FUNCTION) = "the shell functions it defines", |f, i| f.function_range[i as usize].clone();
            package: Rec(PACKAGE) = "the recipe", |f, i| i;
        }
        SH_FUNCTION "sh_function" "a shell function a build.sh defines" {
            @at |f, i| Some(f.sh_function(i)?.span);
            name: Str = "the function name", |f, i| f.sh_function(i).map(|x| x.name.as_str());
            stub: Bool = "its body does nothing (`:`, `true`, empty)", |f, i| f.sh_function(i).is_some_and(|x| x.is_stub);
        }
        ENTRY "entry" "a line of a builder's static list" {
            @show |f, i| f.entries[i as usize].name.to_string();
            @at |f, i| Some(f.entries[i as usize].span);
            name: Str = "the package name listed", |f, i| f.entries[i as usize].name;
            index: Int = "its position in the list (0-based)", |f, i| f.entries[i as usize].index;
            builder: Rec(BUILDER) = "the builder whose list it is in", |f, i| f.entries[i as usize].builder;
            package: Rec(PACKAGE) = "the recipe it names, none when absent", |f, i| f.entries[i as usize].package;
            extra: Str = "what follows the name on its line (a line names one package), none when nothing does", |f, i| f.entries[i as usize].extra.map(|(t, _)| t);
            extra_at: Loc = "where that text is written, none when nothing follows", |f, i| f.entries[i as usize].extra.map(|(_, s)| s);
        }
        BUILDER "builder" "a builder the rules declare" {
            @show |f, i| f.policy.builders[i as usize].name.clone();
            @at |f, i| Some(f.policy.builders[i as usize].span);
            name: Str = "the builder's name in the rules", |f, i| f.policy.builders[i as usize].name.as_str();
            phase: Str = "the build phase that runs it", |f, i| f.policy.builders[i as usize].phase.as_deref();
            tier: Str [Values::Tiers] = "the tier it builds", |f, i| f.policy.builders[i as usize].tier.as_deref();
            kind: Enum(BuilderKind) = "static, topological or named", |f, i| f.builders[i as usize].kind;
            available: Bool = "its list file exists (and, for a topological builder, invokes its tier)", |f, i| f.builders[i as usize].available;
            entries: List(ENTRY) = "its static list, in order", |f, i| f.builders[i as usize].entries.clone();
        }
        TIER "tier" "a tier of the declared order" {
            @show |f, i| f.policy.tiers.names.get(i as usize).cloned().unwrap_or_default();
            @at |f, i| f.policy.tiers.spans.get(i as usize).copied();
            name: Str [Values::Tiers] = "the tier", |f, i| f.policy.tiers.names.get(i as usize).map(String::as_str).unwrap_or("");
            package_count: Int = "recipes declaring this tier", |f, i| f.tier_counts.get(i as usize).copied().unwrap_or(0);
            builders: List(BUILDER) = "available builders that build this tier", |f, i| f.tier_builders(i);
        }
        PROBLEM "problem" "a file of the tree that could not be read as facts" {
            @show |f, i| f.tree.problems[i as usize].kind.name().to_string();
            @at |f, i| Some(f.tree.problems[i as usize].span);
            kind: Enum(ProblemKind) = "what went wrong reading the file: unreadable, too-large, skipped-entry (igos will not read it) or not-utf8, yaml-syntax, not-a-mapping, wrong-type, missing-package-yml (its text is wrong)", |f, i| f.tree.problems[i as usize].kind;
            message: Str = "the reader's message", |f, i| f.tree.problems[i as usize].message.as_str();
        }
        AUDIT "audit" "a recipe's record in the audit database" {
            @show |f, i| f.pkg(i).name.clone();
            @at |f, i| Some(f.pkg(i).key_span("version").unwrap_or_else(|| f.pkg(i).file_span()));
            version: Str = "the audited version", |f, i| f.audit_row(i).map(|r| r.version.as_str());
            tier: Str [Values::Tiers] = "the audited tier", |f, i| f.audit_row(i).map(|r| r.tier.as_str());
            build_deps: Strs = "the audited build dependencies, sorted", |f, i| f.audit_row(i).map_or(&[][..], |r| &r.build_deps[..]);
            added: Strs = "build dependencies the recipe declares that the audit does not have", |f, i| match f.audit_row(i) {
                Some(row) => f.declared_build_deps(i).into_iter().filter(|d| !row.build_deps.iter().any(|x| x == d)).collect(),
                None => vec![],
            };
            removed: Strs = "build dependencies the audit has that the recipe no longer declares", |f, i| match f.audit_row(i) {
                Some(row) => {
                    let declared = f.declared_build_deps(i);
                    row.build_deps.iter().filter(|x| !declared.contains(&x.as_str())).map(String::as_str).collect()
                }
                None => vec![],
            };
        }
        AUDIT_DB "audit_database" "the audit database" {
            @show |f, i| f.audit.map(|a| a.db_path.clone()).unwrap_or_default();
            present: Bool = "the audit database exists", |f, i| f.audit.is_some_and(|a| a.db.is_some());
            path: Str = "where the database is", |f, i| f.audit.map(|a| a.db_path.as_str());
            store: Str = "where the audit store is", |f, i| f.audit.map(|a| a.store_path.as_str());
            pending: Strs = "store records not in the database (audited but not aggregated)", |f, i| f.audit.map_or(&[][..], |a| &a.pending[..]);
        }
        OVERRIDE "audit_override" "a recipe's .audit-override file" {
            @show |f, i| f.pkg(i).name.clone();
            @at |f, i| Some(Span::new(f.pkg(i).audit_override?, 0, 0));
            reason: Str = "why the package's audit checks are skipped", |f, i| f.override_of(i).map(|o| o.reason.as_str());
            approved_by: Str = "who approved it", |f, i| f.override_of(i).map(|o| o.approved_by.as_str());
            expires_at: Str = "YYYY-MM-DD after which it no longer applies", |f, i| f.override_of(i).map(|o| o.expires_at.as_str());
            valid: Bool = "the file is a JSON object with a reason, an approver and a valid date", |f, i| f.override_of(i).is_some_and(|o| o.problem.is_none());
            problem: Str = "why it is not valid", |f, i| f.override_of(i).and_then(|o| o.problem.as_deref());
        }
        UPSTREAM_DEP "upstream_dep" "a dependency an upstream build file checks for (Scan A.2)" {
            @show |f, i| f.upstream(i).map(|(d, _)| d.found.name.clone()).unwrap_or_default();
            @at |f, i| Some(f.upstream(i)?.0.span);
            name: Str = "the upstream name as written (pkg-config module, library, header, program, cmake package)", |f, i| f.upstream(i).map(|(d, _)| d.found.name.as_str());
            kind: Str = "pkg-config, lib, header, meson-dep, program or cmake-package", |f, i| f.upstream(i).map(|(d, _)| d.found.kind.as_str());
            required: Bool = "upstream fails without it (no soft fallback)", |f, i| f.upstream(i).is_some_and(|(d, _)| d.found.required);
            conditional: Bool = "the check is inside if/fi, AS_IF, AS_CASE, AC_ARG_WITH/ENABLE, meson if/endif or cmake if()/endif()",
                |f, i| f.upstream(i).is_some_and(|(d, _)| d.found.conditional);
            strength: Str = "required, soft, conditional or soft, conditional", |f, i| f.upstream(i).map(|(d, _)| strength(d));
            file: Str = "the build file inside the tarball, e.g. configure.ac", |f, i| f.upstream(i).map(|(d, _)| d.file.as_str());
            line: Int = "the line in that file", |f, i| f.upstream(i).map(|(d, _)| d.found.line);
            package: Rec(PACKAGE) = "the recipe whose tarball it was found in", |f, i| f.upstream(i).map(|(_, r)| r.package);
            recipe: Rec(PACKAGE) = "the first recipe that provides the name (equal name, an `alias <recipe>` declaration, a normalised name), none when unresolved",
                |f, i| f.upstream(i).and_then(|(_, r)| r.recipes.first().copied());
            recipes: List(PACKAGE) = "every recipe that provides the name", |f, i| f.upstream(i).map(|(_, r)| r.recipes.clone()).unwrap_or_default();
            provided_by: Loc = "why the recipe provides it: the alias item that admits the name, else the recipe's package.yml",
                |f, i| f.upstream(i).and_then(|(_, r)| match (r.because, r.recipes.first()) {
                    (Some(span), _) => Some(span),
                    (None, Some(&p)) => Some(f.pkg(p).file_span()),
                    _ => None,
                });
            declared: Bool = "one of those recipes is the package itself or in its build or host dependencies", |f, i| f.upstream(i).is_some_and(|(_, r)| r.declared);
            divergence: Rec(DIVERGENCE) = "the divergence record for this package and dependency, none when absent", |f, i| f.upstream(i).and_then(|(_, r)| r.divergence);
            ignored: Bool = "the name is in the rules' `scan ignore`: never a recipe (the toolchain, the C library, build-system builtins)", |f, i| f.upstream(i).is_some_and(|(_, r)| r.ignored);
        }
        SCAN "scan" "what the source scan made of a recipe's tarball" {
            @show |f, i| f.pkg(i).name.clone();
            @at |f, i| Some(f.pkg(i).key_span("source").unwrap_or_else(|| f.pkg(i).file_span()));
            package: Rec(PACKAGE) = "the recipe", |f, i| i;
            tarball: Str = "its first source's tarball name, none without a source url", |f, i| f.scan_of(i).and_then(|s| s.tarball.as_deref());
            status: Str [SCAN_STATUS] = "scanned, missing, unsupported, failed or no-source", |f, i| f.scan_of(i).map(|s| s.status);
            problem: Str = "why it was not scanned", |f, i| f.scan_of(i).and_then(|s| s.problem.as_deref());
        }
        SCAN_SOURCES "scan_sources" "the sources directory of the scan" {
            @show |f, i| f.scan.map(|s| s.dir.clone()).unwrap_or_default();
            dir: Str = "the sources directory", |f, i| f.scan.map(|s| s.dir.as_str());
            present: Bool = "at least one recipe's tarball is there", |f, i| f.scan.is_some_and(|s| s.present);
            missing: Strs = "recipes whose tarball is not there", |f, i| f.scan.map_or(&[][..], |s| &s.missing[..]);
            missing_first: Strs = "the first ten of them (for a short message)", |f, i| f.scan.map_or(&[][..], |s| &s.missing[..]).iter().take(10);
            scanned: Int = "tarballs scanned", |f, i| f.scan.map(|s| s.scanned);
            cached: Int = "of those, read from the scan cache", |f, i| f.scan.map(|s| s.cache_hits);
        }
        DIVERGENCE "divergence" "a divergence record of the rules: a package that drops a dependency on purpose" {
            @show |f, i| f.policy.divergences.get(i as usize).map(|d| format!("{} drops {}", d.package, d.dependency)).unwrap_or_default();
            @at |f, i| Some(f.policy.divergences.get(i as usize)?.span);
            package: Str = "the package (a name or glob)", |f, i| f.policy.divergences[i as usize].package.as_str();
            dependency: Str = "the dependency it drops (a recipe or upstream name, or a glob)", |f, i| f.policy.divergences[i as usize].dependency.as_str();
            reason: Str = "the inline justification", |f, i| f.policy.divergences[i as usize].reason.as_str();
            approver: Str = "who approved it, none when not given", |f, i| f.policy.divergences[i as usize].approver.as_deref();
            scanned: Bool = "a package it names had its tarball scanned", |f, i| f.divergence_scanned(&f.policy.divergences[i as usize]);
            used: Bool = "it matched an upstream dependency the package does not declare", |f, i| f.resolved.iter().any(|r| r.divergence == Some(i) && !r.declared);
        }
        BUILD_LOG "build_log" "a package of the reference build and its log (Scan B)" {
            @show |f, i| f.build_log(i).map(|l| l.package.clone()).unwrap_or_default();
            @at |f, i| Some(f.build_log(i)?.span);
            package: Str = "the package of the reference (the last good build)", |f, i| f.build_log(i).map(|l| l.package.as_str());
            version: Str = "its version in the reference", |f, i| f.build_log(i).map(|l| l.version.as_str());
            log: Str = "its build log, as recorded", |f, i| f.build_log(i).map(|l| l.log.as_str());
            present: Bool = "the log file can be read", |f, i| f.build_log(i).is_some_and(|l| l.present);
            recipe: Rec(PACKAGE) = "the recipe of that name in the tree, none when gone", |f, i| f.build_log(i).and_then(|l| l.recipe);
        }
        LOG_HIT "log_hit" "a build log line a `patterns` template matched (Scan B)" {
            @show |f, i| f.log_hit(i).map(|(h, _, _)| h.name.clone()).unwrap_or_default();
            @at |f, i| Some(f.log_hit(i)?.0.span);
            package: Str = "the package whose build log it is", |f, i| f.log_hit(i).map(|(h, s, _)| s.logs[h.log as usize].package.as_str());
            log: Rec(BUILD_LOG) = "the build log", |f, i| f.log_hit(i).map(|(h, _, _)| h.log);
            group: Str = "the `patterns` block of the matching pattern (autotools, meson, ...)", |f, i| f.log_hit(i).map(|(_, _, p)| p.group.as_str());
            kind: Str = "the matching pattern's kind", |f, i| f.log_hit(i).map(|(_, _, p)| p.kind.as_str());
            class: Enum(Capture) = "detection (`{name}`: something not found) or summary (`{feature}`: a feature off)", |f, i| f.log_hit(i).map(|(_, _, p)| p.template.capture);
            name: Str = "the captured name or feature, as written in the log", |f, i| f.log_hit(i).map(|(h, _, _)| h.name.as_str());
            normalized: Str = "the capture lowercased without `-`, `_`, `.` and blanks (for noise sets)", |f, i| f.log_hit(i).map(|(h, _, _)| crate::scanb::normalize(&h.name));
            line: Int = "the line in the log", |f, i| f.log_hit(i).map(|(h, _, _)| h.line);
            text: Str = "the log line, trimmed (at most 200 characters)", |f, i| f.log_hit(i).map(|(h, _, _)| h.text.as_str());
            pattern: Loc = "the pattern in the rules that matched", |f, i| f.log_hit(i).map(|(_, _, p)| p.span);
            dep: Str = "the declared build/host dependency the name is, none when not declared (detection lines)", |f, i| f.log_hit(i).and_then(|(h, _, _)| h.dep.as_deref());
            recipe: Rec(PACKAGE) = "the recipe of the tree the name is (equal name, `alias <recipe>`, normalised), none when not ours", |f, i| f.log_hit(i).and_then(|(h, _, _)| h.recipe);
            declared: Bool = "the name is a declared dependency or the package itself", |f, i| f.log_hit(i).is_some_and(|(h, _, _)| h.declared);
            divergence: Rec(DIVERGENCE) = "the divergence record for this package and name, none when absent", |f, i| f.log_hit(i).and_then(|(h, _, _)| h.divergence);
        }
        SET_ENTRY "set_entry" "an exact name listed in a set of the rules" {
            @at |f, i| Some(f.set_entry(i)?.1 .1);
            name: Str = "the name as written (exact names only: globs and exclusions are not entries)", |f, i| f.set_entry(i).map(|(_, (n, _))| n.as_str());
            set: Str = "the set it is listed in", |f, i| f.set_entry(i).map(|(set, _)| f.policy.sets[set].name.as_str());
            classifies: Bool = "the set is a layer of a classification (a tier list), so its entries name recipes", |f, i| f.set_entry(i).is_some_and(|(set, _)| f.set_classifies(set));
            package: Rec(PACKAGE) = "the recipe of that name, none when the tree has none", |f, i| f.set_entry(i).and_then(|(_, (n, _))| f.package_index(n));
        }
    }
    relations {
        packages: PACKAGE = "every recipe in the tree", |f| f.tree.packages.len();
        deps: DEP = "every declared dependency", |f| f.deps.len();
        entries: ENTRY = "every static builder list entry", |f| f.entries.len();
        builders: BUILDER = "the builders declared in the rules", |f| f.builders.len();
        tiers: TIER = "the declared tiers", |f| f.policy.tiers.names.len();
        problems: PROBLEM = "files that could not be read as facts", |f| f.tree.problems.len();
        audit_database: AUDIT_DB = "the audit database (one record)", |f| usize::from(f.audit.is_some());
        upstream_deps: UPSTREAM_DEP = "dependencies upstream build files check for (Scan A.2; empty unless sources are scanned)", |f| f.resolved.len();
        scans: SCAN = "per recipe, what the source scan made of its tarball", |f| f.scan.map_or(0, |s| s.packages.len());
        scan_sources: SCAN_SOURCES = "the sources directory of the scan (one record when scanning)", |f| usize::from(f.scan.is_some());
        build_logs: BUILD_LOG = "the packages of the reference build and their logs (Scan B; empty without a reference)", |f| f.scan_b.map_or(0, |s| s.logs.len());
        log_hits: LOG_HIT = "build log lines a `patterns` template matched (Scan B; empty without a reference)", |f| f.scan_b.map_or(0, |s| s.hits.len());
        divergences: DIVERGENCE = "the divergence records of the rules", |f| f.policy.divergences.len();
        set_entries: SET_ENTRY = "every exact name listed in a set of the rules", |f| f.policy.sets.iter().map(|s| s.exact.len()).sum();
    }
    functions {
        function package(name: Str) -> Rec(PACKAGE) = "the recipe with this name, none when absent", |f| f.package_index(name);
        function builders_of(p: Rec(PACKAGE)) -> List(BUILDER) = "the available builders that reach the package", |f| f.reach[p as usize].clone();
        function entry_in(b: Rec(BUILDER), name: Str) -> Rec(ENTRY) = "the first entry with this name in the builder's list, none when absent",
            |f| f.builders[b as usize].first_entry.get(name).copied();
        function build_phase(p: Rec(PACKAGE)) -> Str = "the phase of the earliest builder that reaches the package", |f| f.build_phase(p);
        function phase_index(phase: Str) -> Int = "the position of a phase in the declared phase order", |f| f.policy.phase_index(phase);
        method field(p: Rec(PACKAGE), key: Str [RECIPE_KEYS]) -> Loc = "where a top-level key is written (the file when absent)",
            |f| { let p = f.pkg(p); p.key_span(key).unwrap_or_else(|| p.file_span()) };
        method has(p: Rec(PACKAGE), key: Str [RECIPE_KEYS]) -> Bool = "the package.yml has this top-level key", |f| f.pkg(p).keys.iter().any(|(k, _)| k == key);
        method empty(p: Rec(PACKAGE), key: Str [RECIPE_KEYS]) -> Bool = "the package.yml writes this top-level key with no value (`key:` alone, `null`, `~`, `\"\"`)",
            |f| f.pkg(p).empty_keys.iter().any(|k| k == key);
        method has_function(b: Rec(BUILD_SCRIPT), name: Str) -> Bool = "the build.sh defines this function", |f| match &f.pkg(b).build_sh {
            BuildSh::Parsed(s) => s.functions.iter().any(|x| x.name == name),
            _ => false,
        };
    }
    classifies PACKAGE ["build", "host", "runtime"];
}

// relation, field, call, display and location: the registration's dispatch (domain!).
impl<'a> Domain for TreeFacts<'a> {
    fn builder_list(&self, builder: usize) -> Option<Vec<(&str, Span)>> {
        let f = self.builders.get(builder)?;
        Some(self.entries[f.entries.start as usize..f.entries.end as usize].iter().map(|e| (e.name, e.span)).collect())
    }

    fn classify_input(&self) -> Option<ClassifyInput<'_>> {
        let packages = self.tree.packages.iter().map(|p| (p.name.as_str(), p.dir_tier.as_str())).collect();
        let edges = self
            .deps
            .iter()
            .filter_map(|&(p, di, target)| {
                let d = &self.pkg(p).deps[di as usize];
                target.map(|t| (p, t, d.kind.name(), d.span))
            })
            .collect();
        Some(ClassifyInput { packages, edges })
    }
}
