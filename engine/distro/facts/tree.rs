//! The tree domain: a loaded package tree plus the builders the rules declare, indexed
//! once so every rule lookup is a hash probe or a slice, never a scan.

use std::collections::HashMap;

use crate::fasthash::FastMap;

use crate::eval::domain::{ClassifyInput, Domain};
use crate::eval::schema::{self, DomainId, Kind};
use crate::eval::value::{Rec, Value};
use crate::lang::compile::{Policy, Reach};
use crate::lang::glob;
use crate::source::Span;
use crate::tree::{BuildSh, DepKind, Package, Tree};

struct BuilderFacts<'a> {
    available: bool,
    kind: &'static str,
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
            let mut kind = "named";
            let mut names = vec![];
            let mut topological = false;
            for r in &b.reach {
                match r {
                    Reach::List(file, _) => {
                        kind = "static";
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
                        kind = "topological";
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

    fn audit_row(&self, package: u32) -> Option<&'a crate::audit::AuditRow> {
        self.audit_rows.get(package as usize).copied().flatten()
    }

    fn log_hit(&self, i: usize) -> Option<&'a crate::scanb::LogHit> {
        self.scan_b?.hits.get(i)
    }

    fn upstream(&self, i: usize) -> Option<(&'a crate::scan::UpstreamDep, &crate::scan::reconcile::Resolved)> {
        let r = self.resolved.get(i)?;
        let d = self.scan?.packages.get(r.package as usize)?.deps.get(r.dep as usize)?;
        Some((d, r))
    }

    fn pkg(&self, i: u32) -> &'a Package {
        &self.tree.packages[i as usize]
    }

    fn recs(kind: Kind, range: std::ops::Range<u32>) -> Value<'static> {
        Value::list(range.map(|idx| Value::Rec(Rec { kind, idx })).collect())
    }

    fn package_rec(i: Option<u32>) -> Value<'static> {
        i.map(|idx| Value::Rec(Rec { kind: schema::PACKAGE, idx })).unwrap_or(Value::None)
    }

    fn package_index(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    fn build_phase(&self, p: u32) -> Option<&'a str> {
        self.reach[p as usize]
            .iter()
            .filter_map(|&b| self.policy.builders[b as usize].phase.as_deref())
            .min_by_key(|ph| self.policy.phase_index(ph).unwrap_or(usize::MAX))
    }

    /// The `i`th exact name over every set of the rules, in declaration order: (set, item).
    fn set_entry(&self, mut i: usize) -> Option<(usize, &'a (String, Span))> {
        for (k, set) in self.policy.sets.iter().enumerate() {
            match set.exact.get(i) {
                Some(item) => return Some((k, item)),
                None => i -= set.exact.len(),
            }
        }
        None
    }

    fn package_field(&self, idx: u32, field: &str) -> Value<'a> {
        let p = self.pkg(idx);
        match field {
            "name" => Value::Str(&p.name),
            "dirname" => Value::Str(&p.dir_name),
            "dir" => Value::Str(&p.dir_tier),
            "tier" => Value::opt_str(p.tier.as_deref()),
            "version" => Value::opt_str(p.version_text.as_deref()),
            "version_is_string" => Value::Bool(p.version_is_string),
            "build_style" => Value::opt_str(p.build_style.as_deref()),
            "pending" => Value::Bool(p.pending.as_ref().is_some_and(|(r, _)| !r.trim().is_empty())),
            "pending_reason" => Value::opt_str(p.pending.as_ref().map(|(r, _)| r.as_str())),
            "parsed" => Value::Bool(p.parsed),
            "deps" => Self::recs(schema::DEP, self.dep_range[idx as usize].clone()),
            "sources" => Self::recs(schema::SOURCE, self.source_range[idx as usize].clone()),
            "source_is_empty" => Value::Bool(p.source_is_empty_list),
            "verify_paths" => Self::recs(schema::VERIFY_PATH, self.path_range[idx as usize].clone()),
            "has_verify_paths" => Value::Bool(p.verify_paths.is_some()),
            "keys" => Self::recs(schema::KEY, self.key_range[idx as usize].clone()),
            "build_sh" => match p.build_sh {
                BuildSh::Absent => Value::None,
                _ => Value::Rec(Rec { kind: schema::BUILD_SCRIPT, idx }),
            },
            "same_name" => Value::list(match self.same_name.get(p.name.as_str()) {
                Some(all) => all.iter().map(|&i| Value::Rec(Rec { kind: schema::PACKAGE, idx: i })).collect(),
                None => vec![Value::Rec(Rec { kind: schema::PACKAGE, idx })],
            }),
            "file" => Value::Loc(p.file_span()),
            "first_of_name" => Value::Bool(self.same_name.get(p.name.as_str()).is_none_or(|all| all.first() == Some(&idx))),
            "same_name_dirs" => Value::list(match self.same_name.get(p.name.as_str()) {
                Some(all) => all.iter().map(|&i| self.pkg(i)).map(|q| Value::Owned(format!("packages/{}/{}", q.dir_tier, q.dir_name).into())).collect(),
                None => vec![Value::Owned(format!("packages/{}/{}", p.dir_tier, p.dir_name).into())],
            }),
            "audit" => match self.audit_row(idx) {
                Some(_) => Value::Rec(Rec { kind: schema::AUDIT, idx }),
                None => Value::None,
            },
            "audit_override" => match self.overrides.get(idx as usize) {
                Some(Some(_)) => Value::Rec(Rec { kind: schema::OVERRIDE, idx }),
                _ => Value::None,
            },
            _ => Value::None,
        }
    }
}

impl<'a> Domain for TreeFacts<'a> {
    fn id(&self) -> DomainId {
        DomainId::Tree
    }

    fn relation(&self, rel: usize) -> Vec<Value<'_>> {
        let rec = |kind, n: usize| (0..n as u32).map(|idx| Value::Rec(Rec { kind, idx })).collect();
        match schema::RELATIONS[rel].name {
            "packages" => rec(schema::PACKAGE, self.tree.packages.len()),
            "deps" => rec(schema::DEP, self.deps.len()),
            "entries" => rec(schema::ENTRY, self.entries.len()),
            "builders" => rec(schema::BUILDER, self.builders.len()),
            "tiers" => rec(schema::TIER, self.policy.tiers.names.len()),
            "problems" => rec(schema::PROBLEM, self.tree.problems.len()),
            "audit_database" => rec(schema::AUDIT_DB, usize::from(self.audit.is_some())),
            "upstream_deps" => rec(schema::UPSTREAM_DEP, self.resolved.len()),
            "scans" => rec(schema::SCAN, self.scan.map(|s| s.packages.len()).unwrap_or(0)),
            "scan_sources" => rec(schema::SCAN_SOURCES, usize::from(self.scan.is_some())),
            "divergences" => rec(schema::DIVERGENCE, self.policy.divergences.len()),
            "build_logs" => rec(schema::BUILD_LOG, self.scan_b.map(|s| s.logs.len()).unwrap_or(0)),
            "log_hits" => rec(schema::LOG_HIT, self.scan_b.map(|s| s.hits.len()).unwrap_or(0)),
            "set_entries" => rec(schema::SET_ENTRY, self.policy.sets.iter().map(|s| s.exact.len()).sum()),
            _ => vec![],
        }
    }

    fn field(&self, r: Rec, field: usize) -> Value<'_> {
        let name = r.kind.def().fields.get(field).map(|f| f.name).unwrap_or("");
        let i = r.idx as usize;
        match r.kind {
            schema::SET_ENTRY => match self.set_entry(i) {
                Some((set, (item, _))) => match name {
                    "name" => Value::Str(item),
                    "set" => Value::Str(&self.policy.sets[set].name),
                    "classifies" => Value::Bool(self.policy.classifications.iter().any(|c| {
                        c.layers.iter().any(|l| matches!(l, crate::lang::compile::CLayer::InSet { set: s, .. } if *s == set))
                    })),
                    "package" => Self::package_rec(self.package_index(item)),
                    _ => Value::None,
                },
                None => Value::None,
            },
            schema::PACKAGE => self.package_field(r.idx, name),
            schema::DEP => {
                let (p, di, target) = self.deps[i];
                let d = &self.pkg(p).deps[di as usize];
                match name {
                    "name" => Value::Str(&d.name),
                    "kind" => Value::Str(match d.kind {
                        DepKind::Build => "build",
                        DepKind::Host => "host",
                        DepKind::Runtime => "runtime",
                    }),
                    "consumer" => Self::package_rec(Some(p)),
                    "target" => Self::package_rec(target),
                    _ => Value::None,
                }
            }
            schema::SOURCE => {
                let (p, si) = self.sources[i];
                let s = &self.pkg(p).sources[si as usize];
                match name {
                    "url" => Value::opt_str(s.url.as_deref()),
                    "sha256" => Value::opt_str(s.sha256.as_deref()),
                    "package" => Self::package_rec(Some(p)),
                    "url_at" => Value::Loc(s.url_span.unwrap_or(s.span)),
                    "sha256_at" => Value::Loc(s.sha256_span.unwrap_or(s.span)),
                    _ => Value::None,
                }
            }
            schema::VERIFY_PATH => {
                let (p, vi) = self.paths[i];
                match name {
                    "path" => self
                        .pkg(p)
                        .verify_paths
                        .as_ref()
                        .and_then(|v| v.get(vi as usize))
                        .map(|(s, _)| Value::Str(s.as_str()))
                        .unwrap_or(Value::None),
                    "package" => Self::package_rec(Some(p)),
                    _ => Value::None,
                }
            }
            schema::KEY => {
                let (p, ki) = self.keys[i];
                match name {
                    "name" => Value::Str(&self.pkg(p).keys[ki as usize].0),
                    "package" => Self::package_rec(Some(p)),
                    _ => Value::None,
                }
            }
            schema::BUILD_SCRIPT => {
                let p = self.pkg(r.idx);
                match (name, &p.build_sh) {
                    ("known", b) => Value::Bool(matches!(b, BuildSh::Parsed(_))),
                    ("header", BuildSh::Parsed(b)) => Value::Str(&b.header_comment),
                    ("functions", _) => Self::recs(schema::SH_FUNCTION, self.function_range[i].clone()),
                    ("package", _) => Self::package_rec(Some(r.idx)),
                    _ => Value::None,
                }
            }
            schema::SH_FUNCTION => {
                let (p, fi) = self.functions[i];
                match &self.pkg(p).build_sh {
                    BuildSh::Parsed(b) => match (name, b.functions.get(fi as usize)) {
                        ("name", Some(f)) => Value::Str(&f.name),
                        ("stub", Some(f)) => Value::Bool(f.is_stub),
                        _ => Value::None,
                    },
                    _ => Value::None,
                }
            }
            schema::ENTRY => {
                let e = &self.entries[i];
                match name {
                    "name" => Value::Str(e.name),
                    "index" => Value::Int(e.index as i64),
                    "builder" => Value::Rec(Rec { kind: schema::BUILDER, idx: e.builder }),
                    "package" => Self::package_rec(e.package),
                    "extra" => Value::opt_str(e.extra.map(|(t, _)| t)),
                    "extra_at" => e.extra.map(|(_, s)| Value::Loc(s)).unwrap_or(Value::None),
                    _ => Value::None,
                }
            }
            schema::BUILDER => {
                let def = &self.policy.builders[i];
                let f = &self.builders[i];
                match name {
                    "name" => Value::Str(&def.name),
                    "phase" => Value::opt_str(def.phase.as_deref()),
                    "tier" => Value::opt_str(def.tier.as_deref()),
                    "kind" => Value::Str(f.kind),
                    "available" => Value::Bool(f.available),
                    "entries" => Self::recs(schema::ENTRY, f.entries.clone()),
                    _ => Value::None,
                }
            }
            schema::TIER => {
                let tier = self.policy.tiers.names.get(i).map(String::as_str).unwrap_or("");
                match name {
                    "name" => Value::Str(tier),
                    "package_count" => Value::Int(self.tier_counts.get(i).copied().unwrap_or(0)),
                    "builders" => Value::list(
                        self.policy
                            .builders
                            .iter()
                            .zip(&self.builders)
                            .enumerate()
                            .filter(|(_, (d, f))| f.available && d.tier.as_deref() == Some(tier))
                            .map(|(bi, _)| Value::Rec(Rec { kind: schema::BUILDER, idx: bi as u32 }))
                            .collect(),
                    ),
                    _ => Value::None,
                }
            }
            schema::AUDIT => {
                let p = self.pkg(r.idx);
                let Some(row) = self.audit_row(r.idx) else {
                    return Value::None;
                };
                let declared = || {
                    let mut v: Vec<&str> = p.deps.iter().filter(|d| d.kind == DepKind::Build).map(|d| d.name.as_str()).collect();
                    v.sort();
                    v.dedup();
                    v
                };
                match name {
                    "version" => Value::Str(&row.version),
                    "tier" => Value::Str(&row.tier),
                    "build_deps" => Value::list(row.build_deps.iter().map(|d| Value::Str(d)).collect()),
                    "added" => Value::list(
                        declared().into_iter().filter(|d| !row.build_deps.iter().any(|x| x == d)).map(Value::Str).collect(),
                    ),
                    "removed" => {
                        let declared = declared();
                        Value::list(row.build_deps.iter().filter(|x| !declared.contains(&x.as_str())).map(|d| Value::Str(d)).collect())
                    }
                    _ => Value::None,
                }
            }
            schema::AUDIT_DB => match (self.audit, name) {
                (Some(a), "present") => Value::Bool(a.db.is_some()),
                (Some(a), "path") => Value::Str(&a.db_path),
                (Some(a), "store") => Value::Str(&a.store_path),
                (Some(a), "pending") => Value::list(a.pending.iter().map(|n| Value::Str(n)).collect()),
                _ => Value::None,
            },
            schema::OVERRIDE => match self.overrides.get(i).and_then(|o| o.as_ref()) {
                Some(o) => match name {
                    "reason" => Value::Str(&o.reason),
                    "approved_by" => Value::Str(&o.approved_by),
                    "expires_at" => Value::Str(&o.expires_at),
                    "valid" => Value::Bool(o.problem.is_none()),
                    "problem" => Value::opt_str(o.problem.as_deref()),
                    _ => Value::None,
                },
                None => Value::None,
            },
            schema::UPSTREAM_DEP => {
                let Some((d, r)) = self.upstream(i) else { return Value::None };
                match name {
                    "name" => Value::Str(&d.found.name),
                    "kind" => Value::Str(&d.found.kind),
                    "required" => Value::Bool(d.found.required),
                    "conditional" => Value::Bool(d.found.conditional),
                    "strength" => Value::Str(match (d.found.required, d.found.conditional) {
                        (true, false) => "required",
                        (false, false) => "soft",
                        (true, true) => "conditional",
                        (false, true) => "soft, conditional",
                    }),
                    "file" => Value::Str(&d.file),
                    "line" => Value::Int(d.found.line as i64),
                    "package" => Self::package_rec(Some(r.package)),
                    "recipe" => Self::package_rec(r.recipes.first().copied()),
                    "recipes" => Value::list(r.recipes.iter().map(|&p| Value::Rec(Rec { kind: schema::PACKAGE, idx: p })).collect()),
                    "provided_by" => match (r.because, r.recipes.first()) {
                        (Some(span), _) => Value::Loc(span),
                        (None, Some(&p)) => Value::Loc(self.pkg(p).file_span()),
                        _ => Value::None,
                    },
                    "declared" => Value::Bool(r.declared),
                    "divergence" => r.divergence.map(|idx| Value::Rec(Rec { kind: schema::DIVERGENCE, idx })).unwrap_or(Value::None),
                    _ => Value::None,
                }
            }
            schema::SCAN => match self.scan.and_then(|s| s.packages.get(i)) {
                Some(ps) => match name {
                    "package" => Self::package_rec(Some(r.idx)),
                    "tarball" => Value::opt_str(ps.tarball.as_deref()),
                    "status" => Value::Str(ps.status),
                    "problem" => Value::opt_str(ps.problem.as_deref()),
                    _ => Value::None,
                },
                None => Value::None,
            },
            schema::SCAN_SOURCES => match (self.scan, name) {
                (Some(s), "dir") => Value::Str(&s.dir),
                (Some(s), "present") => Value::Bool(s.present),
                (Some(s), "missing") => Value::list(s.missing.iter().map(|n| Value::Str(n)).collect()),
                (Some(s), "missing_first") => Value::list(s.missing.iter().take(10).map(|n| Value::Str(n)).collect()),
                (Some(s), "scanned") => Value::Int(s.scanned as i64),
                (Some(s), "cached") => Value::Int(s.cache_hits as i64),
                _ => Value::None,
            },
            schema::DIVERGENCE => match self.policy.divergences.get(i) {
                Some(d) => match name {
                    "package" => Value::Str(&d.package),
                    "dependency" => Value::Str(&d.dependency),
                    "reason" => Value::Str(&d.reason),
                    "approver" => Value::opt_str(d.approver.as_deref()),
                    "scanned" => Value::Bool(self.scan.is_some_and(|s| {
                        s.packages.iter().zip(&self.tree.packages).any(|(ps, p)| ps.status == "scanned" && glob::matches(&d.package, &p.name))
                    })),
                    "used" => Value::Bool(self.resolved.iter().any(|r| r.divergence == Some(i as u32) && !r.declared)),
                    _ => Value::None,
                },
                None => Value::None,
            },
            schema::BUILD_LOG => match self.scan_b.and_then(|s| s.logs.get(i)) {
                Some(l) => match name {
                    "package" => Value::Str(&l.package),
                    "version" => Value::Str(&l.version),
                    "log" => Value::Str(&l.log),
                    "present" => Value::Bool(l.present),
                    "recipe" => Self::package_rec(l.recipe),
                    _ => Value::None,
                },
                None => Value::None,
            },
            schema::LOG_HIT => {
                let (Some(h), Some(s)) = (self.log_hit(i), self.scan_b) else { return Value::None };
                let p = &self.policy.log_patterns[h.pattern as usize];
                match name {
                    "package" => Value::Str(&s.logs[h.log as usize].package),
                    "log" => Value::Rec(Rec { kind: schema::BUILD_LOG, idx: h.log }),
                    "group" => Value::Str(&p.group),
                    "kind" => Value::Str(&p.kind),
                    "class" => Value::Str(p.template.capture.class()),
                    "name" => Value::Str(&h.name),
                    "normalized" => Value::Owned(crate::scanb::normalize(&h.name).into()),
                    "line" => Value::Int(h.line as i64),
                    "text" => Value::Str(&h.text),
                    "pattern" => Value::Loc(p.span),
                    "dep" => Value::opt_str(h.dep.as_deref()),
                    "recipe" => Self::package_rec(h.recipe),
                    "declared" => Value::Bool(h.declared),
                    "divergence" => h.divergence.map(|idx| Value::Rec(Rec { kind: schema::DIVERGENCE, idx })).unwrap_or(Value::None),
                    _ => Value::None,
                }
            }
            schema::PROBLEM => {
                let pr = &self.tree.problems[i];
                match name {
                    "kind" => Value::Str(pr.kind.id()),
                    "message" => Value::Str(&pr.message),
                    _ => Value::None,
                }
            }
            _ => Value::None,
        }
    }

    fn call<'s>(&'s self, name: &str, args: &[Value<'s>]) -> Value<'s> {
        let rec = |i: usize| match args.get(i) {
            Some(Value::Rec(r)) => Some(*r),
            _ => None,
        };
        let s = |i: usize| args.get(i).and_then(|v| v.str());
        match name {
            "package" => Self::package_rec(s(0).and_then(|n| self.package_index(n))),
            "builders_of" => match rec(0) {
                Some(r) if r.kind == schema::PACKAGE => Value::list(
                    self.reach[r.idx as usize]
                        .iter()
                        .map(|&b| Value::Rec(Rec { kind: schema::BUILDER, idx: b }))
                        .collect(),
                ),
                _ => Value::None,
            },
            "entry_in" => match (rec(0), s(1)) {
                (Some(b), Some(n)) if b.kind == schema::BUILDER => self.builders[b.idx as usize]
                    .first_entry
                    .get(n)
                    .map(|&e| Value::Rec(Rec { kind: schema::ENTRY, idx: e }))
                    .unwrap_or(Value::None),
                _ => Value::None,
            },
            "build_phase" => match rec(0) {
                Some(r) if r.kind == schema::PACKAGE => Value::opt_str(self.build_phase(r.idx)),
                _ => Value::None,
            },
            "field" => match (rec(0), s(1)) {
                (Some(r), Some(key)) if r.kind == schema::PACKAGE => {
                    let p = self.pkg(r.idx);
                    Value::Loc(p.key_span(key).unwrap_or_else(|| p.file_span()))
                }
                _ => Value::None,
            },
            "has" => match (rec(0), s(1)) {
                (Some(r), Some(key)) if r.kind == schema::PACKAGE => {
                    Value::Bool(self.pkg(r.idx).keys.iter().any(|(k, _)| k == key))
                }
                _ => Value::Bool(false),
            },
            "empty" => match (rec(0), s(1)) {
                (Some(r), Some(key)) if r.kind == schema::PACKAGE => Value::Bool(self.pkg(r.idx).empty_keys.iter().any(|k| k == key)),
                _ => Value::Bool(false),
            },
            "has_function" => match (rec(0), s(1)) {
                (Some(r), Some(f)) if r.kind == schema::BUILD_SCRIPT => Value::Bool(match &self.pkg(r.idx).build_sh {
                    BuildSh::Parsed(b) => b.functions.iter().any(|x| x.name == f),
                    _ => false,
                }),
                _ => Value::Bool(false),
            },
            _ => Value::None,
        }
    }

    fn display(&self, r: Rec) -> String {
        let i = r.idx as usize;
        match r.kind {
            schema::PACKAGE => self.pkg(r.idx).name.clone(),
            schema::DEP => {
                let (p, di, _) = self.deps[i];
                self.pkg(p).deps[di as usize].name.clone()
            }
            schema::ENTRY => self.entries[i].name.to_string(),
            schema::BUILDER => self.policy.builders[i].name.clone(),
            schema::TIER => self.policy.tiers.names.get(i).cloned().unwrap_or_default(),
            schema::PROBLEM => self.tree.problems[i].kind.id().to_string(),
            schema::BUILD_SCRIPT => format!("{}/build.sh", self.pkg(r.idx).name),
            schema::AUDIT | schema::OVERRIDE => self.pkg(r.idx).name.clone(),
            schema::AUDIT_DB => self.audit.map(|a| a.db_path.clone()).unwrap_or_default(),
            schema::UPSTREAM_DEP => self.upstream(i).map(|(d, _)| d.found.name.clone()).unwrap_or_default(),
            schema::SCAN => self.pkg(r.idx).name.clone(),
            schema::SCAN_SOURCES => self.scan.map(|s| s.dir.clone()).unwrap_or_default(),
            schema::DIVERGENCE => self.policy.divergences.get(i).map(|d| format!("{} drops {}", d.package, d.dependency)).unwrap_or_default(),
            schema::BUILD_LOG => self.scan_b.and_then(|s| s.logs.get(i)).map(|l| l.package.clone()).unwrap_or_default(),
            schema::LOG_HIT => self.log_hit(i).map(|h| h.name.clone()).unwrap_or_default(),
            _ => match self.field(r, 0) {
                Value::Str(s) => s.to_string(),
                _ => String::new(),
            },
        }
    }

    fn location(&self, r: Rec) -> Option<Span> {
        let i = r.idx as usize;
        Some(match r.kind {
            schema::PACKAGE => self.pkg(r.idx).file_span(),
            schema::DEP => {
                let (p, di, _) = self.deps[i];
                self.pkg(p).deps[di as usize].span
            }
            schema::SOURCE => {
                let (p, si) = self.sources[i];
                self.pkg(p).sources[si as usize].span
            }
            schema::VERIFY_PATH => {
                let (p, vi) = self.paths[i];
                self.pkg(p).verify_paths.as_ref()?.get(vi as usize)?.1
            }
            schema::KEY => {
                let (p, ki) = self.keys[i];
                self.pkg(p).keys[ki as usize].1
            }
            schema::BUILD_SCRIPT => match &self.pkg(r.idx).build_sh {
                BuildSh::Parsed(b) => Span::new(b.file, 0, 0),
                _ => self.pkg(r.idx).file_span(),
            },
            schema::SH_FUNCTION => {
                let (p, fi) = self.functions[i];
                match &self.pkg(p).build_sh {
                    BuildSh::Parsed(b) => b.functions.get(fi as usize)?.span,
                    _ => return None,
                }
            }
            schema::ENTRY => self.entries[i].span,
            schema::BUILDER => self.policy.builders[i].span,
            schema::TIER => *self.policy.tiers.spans.get(i)?,
            schema::PROBLEM => self.tree.problems[i].span,
            schema::AUDIT => self.pkg(r.idx).key_span("version").unwrap_or_else(|| self.pkg(r.idx).file_span()),
            schema::OVERRIDE => Span::new(self.pkg(r.idx).audit_override?, 0, 0),
            schema::UPSTREAM_DEP => self.upstream(i)?.0.span,
            schema::SCAN => self.pkg(r.idx).key_span("source").unwrap_or_else(|| self.pkg(r.idx).file_span()),
            schema::DIVERGENCE => self.policy.divergences.get(i)?.span,
            schema::BUILD_LOG => self.scan_b?.logs.get(i)?.span,
            schema::LOG_HIT => self.log_hit(i)?.span,
            schema::SET_ENTRY => self.set_entry(i)?.1 .1,
            _ => return None,
        })
    }

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
                let kind = match d.kind {
                    DepKind::Build => "build",
                    DepKind::Host => "host",
                    DepKind::Runtime => "runtime",
                };
                target.map(|t| (p, t, kind, d.span))
            })
            .collect();
        Some(ClassifyInput { packages, edges })
    }
}
