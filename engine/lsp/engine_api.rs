//! The language server's one door into the engine: rules parsed and compiled, the tree's
//! facts loaded, classification, evaluation, `igos explain`, `igos fmt`, the schema.
//!
//! Everything the rest of the server sees is plain data defined here (byte ranges into the
//! rule texts, names, strings): no engine type crosses this file's boundary. The facts are
//! read, and the checks evaluated, through the library's one entry point
//! ([`crate::checker`]), as `igos check` reads and evaluates them.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::checker::{Checker, Inputs, Kept};
use crate::eval::schema::{self, Ty};
use crate::finding::Finding;
use crate::lang::ast::{self, Clause, Decl as AstDecl, Expr, ExprKind, Layer, SetBody, TemplatePart};
use crate::lang::compile::{self, CLayer, Policy};
use crate::lang::error::RuleError;
use crate::lang::syntax;
use crate::source::{SourceFile, SourceId, SourceMap, Span};
use crate::tree::Tree;

/// A rule file as the editor has it (open) or the disk does.
#[derive(Debug, Clone)]
pub struct RuleText {
    pub path: PathBuf,
    /// The name diagnostics and `igos explain` show (relative to the project root).
    pub shown: String,
    pub text: Arc<str>,
}

/// The most bytes of a rule file the server parses: the same cap `igos check` reads.
pub const MAX_RULE_BYTES: usize = crate::input::Kind::RuleFile.cap() as usize;

/// The extension of rule files.
pub const RULE_EXTENSION: &str = crate::rules::EXTENSION;

/// A rule file's text through the engine's one reader (a FIFO or a device is refused,
/// never waited on; the size cap of rule files), or None.
pub fn read_rule_file(path: &Path) -> Option<Arc<str>> {
    crate::input::read_text(path, crate::input::Kind::RuleFile).ok().map(Arc::from)
}

/// A builder list's text (for an edit appending to it), or None.
pub fn read_list_file(path: &Path) -> Option<String> {
    crate::input::read_text(path, crate::input::Kind::List).ok()
}

/// The rule files of a directory, sorted (none when it cannot be listed).
pub fn rule_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = crate::input::list_dir(dir) else { return vec![] };
    let mut paths: Vec<PathBuf> = entries.iter().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == RULE_EXTENSION)).collect();
    paths.sort();
    paths
}

// ---------------------------------------------------------------------------------------
// The tree's facts: loaded once, kept in memory.

pub struct Facts {
    pub root: PathBuf,
    sources: SourceMap,
    tree: Tree,
    audit: Option<crate::audit::AuditFacts>,
    scan: crate::scan::ScanFacts,
    scan_b: crate::scanb::ScanBFacts,
    /// Package name → index of its first recipe.
    by_name: HashMap<String, usize>,
    names: Vec<String>,
    /// Something the server should tell the user once (an unusable audit database...).
    pub notes: Vec<String>,
    /// Which loading of the facts this is: findings kept from an earlier one are not reused.
    generation: u64,
}

fn next_generation() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Facts {
    /// Load the tree at `root` as `igos check` does (recipes, builder lists, the audit
    /// database and store, the source scan, the reference of the last good build). Scan B
    /// depends on the rules (log patterns, aliases): `rules` are those it is read with.
    pub fn load(root: &Path, rules: &[RuleText]) -> Result<Facts, String> {
        let mut sources = SourceMap::new();
        let tree = crate::tree::load_tree(root, &mut sources).map_err(|e| format!("{e} ({})", e.help()))?;
        let mut notes = vec![];
        // Where igos check reads each gate's facts by default; what it refuses, the server
        // leaves out with a note and checks the rest.
        let inputs = Inputs::new(root);
        let audit = match inputs.audit() {
            Ok(a) => Some(a),
            Err(u) => {
                notes.push(format!("the audit facts cannot be used, Gate 2 is left out: {} ({})", u.message, u.help.unwrap_or_default()));
                None
            }
        };
        let scan = inputs.scan(&tree, &mut sources).unwrap_or_else(|u| {
            notes.push(format!("{}, Gate 6 sees no tarball ({})", u.message, u.code));
            crate::scan::ScanFacts::default()
        });
        let mut by_name = HashMap::with_capacity(tree.packages.len());
        for (i, p) in tree.packages.iter().enumerate() {
            by_name.entry(p.name.clone()).or_insert(i);
        }
        let names: BTreeSet<&str> = tree.packages.iter().map(|p| p.name.as_str()).collect();
        let names = names.into_iter().map(str::to_string).collect();
        let mut facts = Facts {
            root: root.to_path_buf(),
            sources,
            tree,
            audit,
            scan,
            scan_b: Default::default(),
            by_name,
            names,
            notes,
            generation: next_generation(),
        };
        facts.reload_scan_b(rules);
        Ok(facts)
    }

    /// Read Scan B's facts again (build logs against the rules' patterns). Only when a
    /// reference of a previous build exists; it reads logs, so it runs on load and on save.
    pub fn reload_scan_b(&mut self, rules: &[RuleText]) {
        let inputs = Inputs::new(&self.root);
        if !inputs.reference().exists() {
            return;
        }
        // Compiled with source ids no file has: the logs Scan B registers take the next ids
        // of the tree's map, and the analyses that follow number the rule files after them.
        let (policy, _) = compile_rules(self.sources.len() + 1_000_000, rules);
        self.generation = next_generation();
        match inputs.scan_b(&self.tree, &policy, &mut self.sources) {
            Ok(s) => self.scan_b = s,
            Err(u) => self.notes.push(format!("Gate 5 is left out: {}", u.message)),
        }
    }

    pub fn package_count(&self) -> usize {
        self.tree.packages.len()
    }

    /// Every package name, sorted, each once.
    pub fn package_names(&self) -> &[String] {
        &self.names
    }

    /// The package.yml of the package named `name`.
    pub fn package_file(&self, name: &str) -> Option<PathBuf> {
        let p = &self.tree.packages[*self.by_name.get(name)?];
        Some(self.root.join(&self.sources.get(p.file).name))
    }

    /// The `tier:` a package declares.
    pub fn declared_tier(&self, name: &str) -> Option<&str> {
        self.tree.packages[*self.by_name.get(name)?].tier.as_deref()
    }

    /// Where the tree's builder list files live.
    pub fn builders_dir(&self) -> PathBuf {
        if self.root.join("builders").is_dir() {
            self.root.join("builders")
        } else {
            self.root.join("packages/builders")
        }
    }

    /// A builder list file as loaded: its path and the names it lists.
    pub fn builder_list(&self, file_name: &str) -> Option<(PathBuf, Vec<String>)> {
        let l = self.tree.builder_lists.iter().find(|l| l.file_name == file_name)?;
        Some((self.root.join(&self.sources.get(l.source).name), l.entries.iter().map(|(n, _)| n.clone()).collect()))
    }

    /// Whether a file of the tree is one the facts were read from (a change to it needs a reload).
    pub fn is_fact_file(path: &Path) -> bool {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name == "package.yml" || name == "build.sh" || name == ".audit-override" || path.extension().is_some_and(|x| x == "list")
    }
}

// ---------------------------------------------------------------------------------------
// What one analysis of the rules says, as plain data.

/// What a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Tier,
    Set,
    Builder,
    Classification,
    Check,
    Gate,
    Waiver,
    Divergence,
    Phase,
    Patterns,
    Variable,
    Package,
    Glob,
    Relation,
    Function,
    Field,
    ListFile,
    Constant,
}

/// A declaration: its name, where the name is written and the whole declaration.
#[derive(Debug, Clone)]
pub struct Decl {
    pub kind: Kind,
    pub name: String,
    pub name_at: Range<usize>,
    pub full: Range<usize>,
    pub detail: String,
}

/// Where a name is used, and what surrounds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ctx {
    None,
    /// An exact name listed in a set.
    SetEntry { set: String },
    /// The subject of a waiver.
    WaiverSubject { check: String },
    /// A field or method of a record kind.
    Member { owner: &'static str },
    /// A variable of a check, with its type.
    Var { check: String, ty: String },
}

#[derive(Debug, Clone)]
pub struct Occ {
    pub kind: Kind,
    pub name: String,
    pub at: Range<usize>,
    pub ctx: Ctx,
}

#[derive(Debug, Default, Clone)]
pub struct FileIndex {
    pub decls: Vec<Decl>,
    pub occs: Vec<Occ>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Information,
    Hint,
}

/// A place: in one of the analysed rule files (by index), or in a file of the tree.
#[derive(Debug, Clone)]
pub enum Place {
    Rule { file: usize, at: Range<usize> },
    Data { path: PathBuf, text: Arc<str>, at: Range<usize> },
}

/// The finding behind a diagnostic (for code actions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRef {
    pub check: String,
    pub subject: String,
    pub halts: bool,
}

#[derive(Debug, Clone)]
pub struct Diag {
    pub file: usize,
    pub at: Range<usize>,
    pub severity: Severity,
    pub code: String,
    pub message: String,
    pub related: Vec<(Place, String)>,
    pub findings: Vec<FindingRef>,
}

/// What hover says about a check.
#[derive(Debug, Clone)]
pub struct CheckInfo {
    pub severity: &'static str,
    pub about: Option<String>,
    pub help: Option<String>,
    pub gate: Option<(String, String)>,
    pub stability: String,
}

/// One finding, as the server needs it.
#[derive(Debug, Clone)]
pub struct FindingView {
    pub check: String,
    pub subject: String,
    pub message: String,
    pub waived: bool,
    pub halts: bool,
}

/// How many relatedInformation entries a summary diagnostic lists.
const RELATED_CAP: usize = 20;

pub struct Analysis {
    /// The rule files, in compile order (sorted by path).
    pub rules: Vec<RuleText>,
    pub index: Vec<FileIndex>,
    pub diags: Vec<Diag>,
    /// The rules compiled without error (the tree was evaluated, when there is one).
    pub clean: bool,
    pub rule_errors: usize,
    pub findings: Vec<FindingView>,
    pub checks: HashMap<String, CheckInfo>,
    policy: Policy,
    base: usize,
    classified: OnceLock<Classified>,
}

/// The natural tiers, computed the first time hover, an inlay hint or a code action needs
/// them (the diagnostics do not).
struct Classified {
    /// Set name → (classification, the tier its layer gives).
    set_tier: HashMap<String, (String, String)>,
    /// Per classification (by name): package name → natural tier.
    natural: HashMap<String, HashMap<String, String>>,
    /// `igos explain` for the packages the rule files name.
    explain: HashMap<String, String>,
}

fn compile_rules(base: usize, rules: &[RuleText]) -> (Policy, (Vec<ast::RuleFile>, Vec<RuleError>)) {
    let mut errors = vec![];
    let mut parsed = vec![];
    for (i, r) in rules.iter().enumerate() {
        let id = SourceId((base + i) as u32);
        if r.text.len() > MAX_RULE_BYTES {
            errors.push(
                RuleError::new("too-large", format!("the file is {} bytes; rule files are capped at {MAX_RULE_BYTES}", r.text.len()), Span::new(id, 0, 0))
                    .with_label("this file"),
            );
            parsed.push(ast::RuleFile::default());
            continue;
        }
        let (f, mut broken) = syntax::parse_recovering(id, &r.text);
        errors.append(&mut broken);
        parsed.push(f);
    }
    let (policy, mut semantic) = compile::compile(&parsed, &crate::domains::schema());
    errors.append(&mut semantic);
    // As `igos check` does: the phase graph is judged only on rules that compiled clean.
    if errors.is_empty() {
        errors.extend(crate::phases::graph::PhaseGraph::build(&policy).1);
    }
    (policy, (parsed, errors))
}

/// Parse and compile `rules` (every rule file of the project, open ones with the editor's
/// text) and, when they compile and there is a tree, evaluate every check on it.
pub fn analyze(facts: Option<&Facts>, rules: Vec<RuleText>) -> Analysis {
    analyze_with(facts, rules, &mut Memo::default())
}

/// [`analyze`], reusing from `memo` the findings of every check whose inputs did not
/// change since the last analysis (and keeping this one's for the next).
pub fn analyze_with(facts: Option<&Facts>, mut rules: Vec<RuleText>, memo: &mut Memo) -> Analysis {
    rules.sort_by(|a, b| a.path.cmp(&b.path));
    let base = facts.map_or(0, |f| f.sources.len());
    let (policy, (parsed, errors)) = compile_rules(base, &rules);
    let globals = Globals::of(&parsed);
    let index: Vec<FileIndex> = parsed.iter().zip(&rules).map(|(f, r)| index_file(f, &r.text, &globals)).collect();
    let checks = check_infos(&parsed, &rules, &policy);
    let mut a = Analysis {
        rules,
        index,
        diags: vec![],
        clean: errors.is_empty(),
        rule_errors: errors.len(),
        findings: vec![],
        checks,
        policy,
        base,
        classified: OnceLock::new(),
    };
    for e in &errors {
        let Some((file, at)) = a.rule_place(e.span) else { continue };
        let mut message = e.message.clone();
        if let Some(h) = &e.help {
            message.push_str("\nhelp: ");
            message.push_str(h);
        }
        let related = e.related.iter().filter_map(|(s, note)| Some((a.place(facts, *s)?, note.clone()))).collect();
        a.diags.push(Diag { file, at, severity: Severity::Error, code: e.kind.to_string(), message, related, findings: vec![] });
    }
    if let (true, Some(facts)) = (a.clean, facts) {
        let findings = evaluate(&a.policy, facts, memo);
        a.place_findings(facts, &findings);
    }
    a.diags.sort_by_key(|d| (d.file, d.at.start, d.at.end));
    a
}

/// A rule file outside the project's rules: its syntax only (its names may live elsewhere).
pub fn syntax_only(text: &str) -> (FileIndex, Vec<Diag>) {
    if text.len() > MAX_RULE_BYTES {
        let d = Diag {
            file: 0,
            at: 0..0,
            severity: Severity::Error,
            code: "too-large".into(),
            message: format!("the file is {} bytes; rule files are capped at {MAX_RULE_BYTES}", text.len()),
            related: vec![],
            findings: vec![],
        };
        return (FileIndex::default(), vec![d]);
    }
    let (f, errors) = syntax::parse_recovering(SourceId(0), text);
    let globals = Globals::of(std::slice::from_ref(&f));
    let index = index_file(&f, text, &globals);
    let diags = errors
        .iter()
        .map(|e| Diag {
            file: 0,
            at: e.span.start as usize..e.span.end as usize,
            severity: Severity::Error,
            code: e.kind.to_string(),
            message: match &e.help {
                Some(h) => format!("{}\nhelp: {h}", e.message),
                None => e.message.clone(),
            },
            related: vec![],
            findings: vec![],
        })
        .collect();
    (index, diags)
}

impl Analysis {
    fn rule_place(&self, s: Span) -> Option<(usize, Range<usize>)> {
        let i = (s.source.0 as usize).checked_sub(self.base)?;
        let text = &self.rules.get(i)?.text;
        let start = (s.start as usize).min(text.len());
        Some((i, start..(s.end as usize).clamp(start, text.len())))
    }

    fn place(&self, facts: Option<&Facts>, s: Span) -> Option<Place> {
        if let Some((file, at)) = self.rule_place(s) {
            return Some(Place::Rule { file, at });
        }
        let facts = facts?;
        if s.source.0 as usize >= facts.sources.len() {
            return None;
        }
        let f = facts.sources.get(s.source);
        let start = (s.start as usize).min(f.text.len());
        Some(Place::Data { path: facts.root.join(&f.name), text: f.text.clone(), at: start..(s.end as usize).clamp(start, f.text.len()) })
    }

    /// Each finding becomes a diagnostic in the rule files: where it points into them
    /// (rule lints), else at the rule fact that decided (a set entry), else summed up on
    /// the check's id with the data places as related information.
    fn place_findings(&mut self, facts: &Facts, findings: &[Finding]) {
        let mut summaries: Vec<(String, Vec<&Finding>)> = vec![];
        for f in findings {
            self.findings.push(FindingView {
                check: f.check.clone(),
                subject: f.subject.clone(),
                message: f.message.clone(),
                waived: f.is_waived(),
                halts: f.halts(),
            });
            if f.is_waived() {
                continue;
            }
            let in_rules = f.at.and_then(|s| self.rule_place(s)).or_else(|| f.because.and_then(|s| self.rule_place(s)));
            match in_rules {
                Some((file, at)) => {
                    let mut related = vec![];
                    if let Some(p) = f.at.filter(|s| self.rule_place(*s).is_none()).and_then(|s| self.place(Some(facts), s)) {
                        related.push((p, "the data".to_string()));
                    }
                    if let Some(p) = f.rule.and_then(|s| self.place(Some(facts), s)) {
                        related.push((p, format!("check `{}`", f.check)));
                    }
                    let mut message = f.message.clone();
                    if let Some(h) = &f.help {
                        message.push_str("\nhelp: ");
                        message.push_str(h);
                    }
                    self.diags.push(Diag {
                        file,
                        at,
                        severity: severity(f),
                        code: f.check.clone(),
                        message,
                        related,
                        findings: vec![FindingRef { check: f.check.clone(), subject: f.subject.clone(), halts: f.halts() }],
                    });
                }
                None => match summaries.iter_mut().find(|(c, _)| c == &f.check) {
                    Some((_, list)) => list.push(f),
                    None => summaries.push((f.check.clone(), vec![f])),
                },
            }
        }
        for (check, list) in summaries {
            let Some((file, at)) = self.decl(Kind::Check, &check).map(|(file, d)| (file, d.name_at.clone())) else { continue };
            let subjects: BTreeSet<&str> = list.iter().map(|f| f.subject.as_str()).collect();
            let mut message = format!(
                "{} on the tree now ({} subject{}): {}",
                plural(list.len(), "finding"),
                subjects.len(),
                if subjects.len() == 1 { "" } else { "s" },
                list[0].message
            );
            if list.len() > 1 {
                message.push_str(&format!(" (and {} more)", list.len() - 1));
            }
            let related =
                list.iter().take(RELATED_CAP).filter_map(|f| Some((self.place(Some(facts), f.at?)?, f.message.clone()))).collect();
            let findings = list.iter().map(|f| FindingRef { check: f.check.clone(), subject: f.subject.clone(), halts: f.halts() }).collect();
            self.diags.push(Diag { file, at, severity: severity(list[0]), code: check, message, related, findings });
        }
    }

    /// The declaration of a name of this kind, in whichever file declares it.
    pub fn decl(&self, kind: Kind, name: &str) -> Option<(usize, &Decl)> {
        self.index.iter().enumerate().find_map(|(i, ix)| ix.decls.iter().find(|d| d.kind == kind && d.name == name).map(|d| (i, d)))
    }

    /// The file index of a rule file by path.
    pub fn file_of(&self, path: &Path) -> Option<usize> {
        self.rules.iter().position(|r| r.path == path)
    }

    /// Findings of a check on the tree now: (findings not waived, subjects, waived).
    pub fn counts(&self, check: &str) -> (usize, usize, usize) {
        let mine = self.findings.iter().filter(|f| f.check == check);
        let open: Vec<&FindingView> = mine.clone().filter(|f| !f.waived).collect();
        let subjects: BTreeSet<&str> = open.iter().map(|f| f.subject.as_str()).collect();
        (open.len(), subjects.len(), mine.filter(|f| f.waived).count())
    }

    /// The tiers in declared order, written as the rules write them (`a < b | c`).
    pub fn tier_order(&self) -> String {
        let t = &self.policy.tiers;
        let mut out = String::new();
        for (i, n) in t.names.iter().enumerate() {
            if i > 0 {
                out.push_str(if t.group[i] == t.group[i - 1] { " | " } else { " < " });
            }
            out.push_str(n);
        }
        out
    }

    /// The builders whose static list is a file: (builder, tier, list file name).
    pub fn static_builders(&self) -> Vec<(String, Option<String>, String)> {
        self.policy
            .builders
            .iter()
            .flat_map(|b| {
                b.reach.iter().filter_map(move |r| match r {
                    compile::Reach::List(f, _) => Some((b.name.clone(), b.tier.clone(), f.clone())),
                    _ => None,
                })
            })
            .collect()
    }

    /// A builder's description for hover: phase, tier and what it reaches.
    pub fn builder_info(&self, name: &str) -> Option<String> {
        let b = self.policy.builders.iter().find(|b| b.name == name)?;
        let reach: Vec<String> = b
            .reach
            .iter()
            .map(|r| match r {
                compile::Reach::List(f, _) => format!("the static list `{f}`"),
                compile::Reach::Topological(f, _) => format!("every package of its tier (topological, `{f}`)"),
                compile::Reach::Names(n) => format!("{} named in the rules", plural(n.len(), "name")),
            })
            .collect();
        Some(format!(
            "builder `{}`: phase {}, tier {}; reaches {}",
            b.name,
            b.phase.as_deref().unwrap_or("(none)"),
            b.tier.as_deref().unwrap_or("(none)"),
            reach.join(", ")
        ))
    }

    /// A phase's description for hover.
    pub fn phase_info(&self, name: &str) -> Option<String> {
        let p = self.policy.phases.iter().find(|p| p.name == name)?;
        let what = match (&p.run, &p.builtin) {
            (Some(r), _) => format!("runs `{r}`"),
            (None, Some(b)) => format!("builtin `{b}`"),
            _ => "does nothing".into(),
        };
        let mut s = format!("phase `{}`{}: {what}", p.name, p.title.as_ref().map(|t| format!(" ({t})")).unwrap_or_default());
        if !p.after.is_empty() {
            s.push_str(&format!("; after {}", p.after.join(", ")));
        }
        if p.checkpoint {
            s.push_str("; a checkpoint");
        }
        if p.optional {
            s.push_str("; optional");
        }
        let builders: Vec<&str> = self.policy.builders.iter().filter(|b| b.phase.as_deref() == Some(name)).map(|b| b.name.as_str()).collect();
        if !builders.is_empty() {
            s.push_str(&format!("; builders: {}", builders.join(", ")));
        }
        Some(s)
    }

    fn classified(&self, facts: &Facts) -> &Classified {
        self.classified.get_or_init(|| {
            let mut set_tier = HashMap::new();
            for cl in &self.policy.classifications {
                for l in &cl.layers {
                    if let CLayer::InSet { tier, set, .. } = l {
                        set_tier
                            .entry(self.policy.sets[*set].name.clone())
                            .or_insert_with(|| (cl.name.clone(), self.policy.tiers.name(Some(*tier)).to_string()));
                    }
                }
            }
            if !self.clean {
                return Classified { set_tier, natural: HashMap::new(), explain: HashMap::new() };
            }
            let checker = Checker::new(&self.policy, &facts.tree);
            let engine = checker.engine();
            let mut natural = HashMap::new();
            for (cl, classes) in self.policy.classifications.iter().zip(&engine.classes) {
                let per: HashMap<String, String> = facts
                    .by_name
                    .iter()
                    .filter_map(|(n, &i)| Some((n.clone(), self.policy.tiers.name(*classes.tier.get(i)?).to_string())))
                    .collect();
                natural.insert(cl.name.clone(), per);
            }
            // `igos explain` shows rule positions too: one map with the tree's files, then
            // the rule files at the ids they were compiled with.
            let mut map = SourceMap::new();
            for i in 0..facts.sources.len() {
                let f = facts.sources.get(SourceId(i as u32));
                map.add(SourceFile::new(f.name.clone(), f.text.clone()));
            }
            for r in &self.rules {
                map.add(SourceFile::new(r.shown.clone(), r.text.clone()));
            }
            let named: BTreeSet<&str> = self
                .index
                .iter()
                .flat_map(|ix| ix.occs.iter())
                .filter(|o| o.kind == Kind::Package && facts.by_name.contains_key(&o.name))
                .map(|o| o.name.as_str())
                .collect();
            let explain = named
                .into_iter()
                .filter_map(|n| Some((n.to_string(), crate::explain::package(&engine, &facts.tree, &map, n)?)))
                .collect();
            Classified { set_tier, natural, explain }
        })
    }

    /// `igos explain NAME`: why the package has its natural tier (None: no such package, or
    /// the rules do not compile).
    pub fn explain(&self, facts: &Facts, package: &str) -> Option<String> {
        self.classified(facts).explain.get(package).cloned()
    }

    /// The classification and tier a set's layer gives its names.
    pub fn set_tier(&self, facts: &Facts, set: &str) -> Option<(String, String)> {
        self.classified(facts).set_tier.get(set).cloned()
    }

    /// A package's natural tier under a classification.
    pub fn natural_tier(&self, facts: &Facts, classification: &str, package: &str) -> Option<String> {
        self.classified(facts).natural.get(classification)?.get(package).cloned()
    }

    /// The sets whose layer in `classification` gives `tier`.
    pub fn sets_for_tier(&self, facts: &Facts, classification: &str, tier: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .classified(facts)
            .set_tier
            .iter()
            .filter(|(_, (c, t))| c == classification && t == tier)
            .map(|(s, _)| s.clone())
            .collect();
        v.sort();
        v
    }
}

fn severity(f: &Finding) -> Severity {
    match f.severity {
        ast::Severity::Halt => Severity::Error,
        ast::Severity::Advisory => Severity::Warning,
    }
}

pub fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn check_infos(parsed: &[ast::RuleFile], rules: &[RuleText], policy: &Policy) -> HashMap<String, CheckInfo> {
    let mut out = HashMap::new();
    for (f, r) in parsed.iter().zip(rules) {
        for d in &f.decls {
            let AstDecl::Check(c) = d else { continue };
            let mut about = None;
            let mut help = None;
            let mut stability = "stable".to_string();
            for cl in &c.clauses {
                match cl {
                    Clause::About(s, _) => about = Some(s.clone()),
                    // As written, holes and all (`{p.name}`), without its quotes.
                    Clause::Help(t) => {
                        help = r.text.get(t.span.start as usize..t.span.end as usize).map(|s| s.trim_matches('"').to_string())
                    }
                    Clause::Stability(s) => stability = s.clone(),
                    _ => {}
                }
            }
            let gate = policy.check(&c.id.text).and_then(|i| policy.gate_of(i)).map(|g| (g.id.clone(), g.title.clone()));
            out.insert(c.id.text.clone(), CheckInfo { severity: c.severity.as_str(), about, help, gate, stability });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Evaluation, check by check, reusing what an edit did not touch.
//
// `igos check` evaluates every check (Checker::run). After an edit the server
// needs the same findings, but most checks read nothing the edit changed: a check's
// findings depend on its own definition (with its spans: the findings point at it), the
// gate it is in, the facts, and the parts of the rules it reads: each set it names, each
// classification it calls (with that classification's sets), the tiers, the builders and
// phases, or everything (today's date included) when it reads anything else. Each part
// has a hash of its compiled form, spans included, so a line moved in tiers.pol re-runs
// the checks whose findings can point below it, and an edit to the tier sets leaves the
// recipe contract's checks alone. What a check reads is found in its compiled
// expressions: the sets and classifications it names, the relations it ranges over, the
// functions it calls, the record kinds whose fields it reads. The tests below hold the
// result equal to `check::evaluate_full`'s after a series of edits.

/// Findings kept from one analysis to the next.
#[derive(Default)]
pub struct Memo {
    facts: u64,
    checks: HashMap<String, (u64, Arc<Vec<Finding>>)>,
    shadowed: Option<(u64, Arc<Vec<Finding>>)>,
    tree_lints: Option<(u64, Arc<Vec<Finding>>)>,
    /// The checks the last evaluation ran (the others' findings were reused): for tests and benchmarks.
    pub ran: Vec<String>,
}

/// Facets of the rules a check can read besides named sets and classifications.
const TIERS: u8 = 1;
const BUILD: u8 = 2;
/// Everything: every set, classification, builder, phase, divergence, log pattern.
const ALL: u8 = 0xff;

fn hash_of(parts: &[&str]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// The hash of each part of the rules (spans included).
struct Facets {
    /// Per set; a set filled from a builder's list includes the builders.
    sets: Vec<u64>,
    /// Per classification, with its sets and the tiers.
    classes: Vec<u64>,
    tiers: u64,
    build: u64,
    /// Every part, and today.
    all: u64,
}

impl Facets {
    fn of(p: &Policy, today: &str) -> Facets {
        let tiers = hash_of(&[&format!("{:?}", p.tiers)]);
        let build = hash_of(&[&format!("{:?}{:?}", p.builders, p.phases)]);
        let sets: Vec<u64> = p
            .sets
            .iter()
            .map(|s| {
                let from = if s.from_builder.is_some() { build.to_string() } else { String::new() };
                hash_of(&[&format!("{s:?}"), &from])
            })
            .collect();
        let classes = p
            .classifications
            .iter()
            .map(|cl| {
                let used: Vec<String> = cl
                    .layers
                    .iter()
                    .filter_map(|l| match l {
                        CLayer::InSet { set, .. } => sets.get(*set).map(u64::to_string),
                        _ => None,
                    })
                    .collect();
                hash_of(&[&format!("{cl:?}"), &tiers.to_string(), &used.join(",")])
            })
            .collect();
        let rest = format!("{:?}{:?}{:?}{:?}", p.sets, p.classifications, p.divergences, p.log_patterns);
        let all = hash_of(&[&rest, &tiers.to_string(), &build.to_string(), today]);
        Facets { sets, classes, tiers, build, all }
    }
}

/// What a check reads of the rules: facets, and the sets and classifications it names.
#[derive(Default)]
struct Deps {
    mask: u8,
    sets: BTreeSet<usize>,
    classes: BTreeSet<usize>,
}

impl Deps {
    /// Record what a compiled expression reads.
    fn expr(&mut self, e: &compile::CExpr) {
        use compile::{CExpr, Const};
        match e {
            CExpr::Const(Const::Tier(_)) => self.mask |= TIERS,
            CExpr::Const(_) | CExpr::Var(_) => {}
            CExpr::Set(i) => {
                self.sets.insert(*i);
            }
            CExpr::Relation(r) => {
                self.mask |= match relation_name(*r) {
                    Some("packages" | "deps" | "problems" | "audit_database" | "scan_sources") => 0,
                    Some("tiers") => TIERS,
                    Some("builders" | "entries") => BUILD,
                    _ => ALL,
                }
            }
            CExpr::List(items) => items.iter().for_each(|x| self.expr(x)),
            CExpr::Field(base, kind, _) => {
                self.mask |= match kind.def().name {
                    "package" | "dep" | "source" | "verify_path" | "key" | "build_script" | "sh_function" | "problem" | "audit" | "audit_database" | "override" | "scan_sources" => 0,
                    "tier" => TIERS,
                    "builder" | "entry" => BUILD,
                    _ => ALL,
                };
                self.expr(base);
            }
            CExpr::Call(f, args) => {
                self.mask |= match function_name(*f) {
                    Some("count" | "len" | "is_hex" | "starts_with" | "ends_with" | "contains" | "segments" | "exists") => 0,
                    Some("package" | "field" | "has" | "empty" | "has_function") => 0,
                    Some("builders_of" | "entry_in" | "build_phase" | "phase_index") => BUILD,
                    _ => ALL,
                };
                args.iter().for_each(|x| self.expr(x));
            }
            CExpr::Classify(ci, x) => {
                self.classes.insert(*ci);
                self.expr(x);
            }
            CExpr::Not(x) => self.expr(x),
            CExpr::Bin(_, l, r) => {
                self.expr(l);
                self.expr(r);
            }
        }
    }

    fn parts(&mut self, ps: &[compile::CPart]) {
        for p in ps {
            if let compile::CPart::Hole(e) = p {
                self.expr(e);
            }
        }
    }
}

/// What a check's findings depend on, as one hash.
fn check_signature(p: &Policy, i: usize, facets: &Facets) -> u64 {
    use compile::Step;
    let c = &p.checks[i];
    let mut d = Deps::default();
    d.parts(&c.message);
    if let Some(h) = &c.help {
        d.parts(h);
    }
    for e in [&c.at, &c.subject, &c.object, &c.because].into_iter().flatten() {
        d.expr(e);
    }
    for s in &c.steps {
        match s {
            Step::For(_, e) | Step::Where(e) | Step::Let(_, e) => d.expr(e),
            Step::Join { source, keys, probes, .. } => {
                d.expr(source);
                keys.iter().chain(probes).for_each(|x| d.expr(x));
            }
        }
    }
    let mut read: Vec<String> = vec![format!("{c:?}"), p.gate_of(i).map_or(String::new(), |g| g.id.clone())];
    if d.mask == ALL {
        read.push(facets.all.to_string());
    } else {
        if d.mask & TIERS != 0 {
            read.push(facets.tiers.to_string());
        }
        if d.mask & BUILD != 0 {
            read.push(facets.build.to_string());
        }
        read.extend(d.sets.iter().map(|&s| format!("s{}", facets.sets.get(s).copied().unwrap_or(0))));
        read.extend(d.classes.iter().map(|&c| format!("c{}", facets.classes.get(c).copied().unwrap_or(0))));
    }
    let read: Vec<&str> = read.iter().map(String::as_str).collect();
    hash_of(&read)
}

/// Every tree check's findings with the passes `igos check` adds (shadowed set entries,
/// checks in no gate, the rule lints) and the waivers applied, through the library's
/// [`Checker`]: what `memo` kept and still holds is handed to it, so only the rest runs.
fn evaluate(policy: &Policy, facts: &Facts, memo: &mut Memo) -> Vec<Finding> {
    let today = crate::date::today();
    if memo.facts != facts.generation {
        *memo = Memo { facts: facts.generation, ..Memo::default() };
    }
    let facets = Facets::of(policy, &today);
    let mine: Vec<usize> = (0..policy.checks.len()).filter(|&i| policy.checks[i].domain == crate::facts::tree::TREE.id).collect();
    let sigs: Vec<u64> = mine.iter().map(|&i| check_signature(policy, i, &facets)).collect();
    let mut kept = Kept { checks: vec![None; policy.checks.len()], ..Kept::default() };
    for (&i, sig) in mine.iter().zip(&sigs) {
        kept.checks[i] = memo.checks.get(&policy.checks[i].id).filter(|(s, _)| s == sig).map(|(_, f)| f.clone());
    }
    // Shadowed entries come from the classifications and their sets alone; the tree lints
    // (unmatched globs, misspelt aliases) from them, the builders and the aliases.
    let shadow_sig = hash_of(&[&format!("{:?}", facets.classes)]);
    kept.shadowed = memo.shadowed.as_ref().filter(|(s, _)| *s == shadow_sig).map(|(_, f)| f.clone());
    let lints_sig = hash_of(&[&format!("{:?}", facets.classes), &facets.build.to_string(), &format!("{:?}", policy.aliases)]);
    kept.tree_lints = memo.tree_lints.as_ref().filter(|(s, _)| *s == lints_sig).map(|(_, g)| g.clone());
    memo.ran = mine.iter().filter(|&&i| kept.checks[i].is_none()).map(|&i| policy.checks[i].id.clone()).collect();
    // A check renamed or removed: its old findings go.
    memo.checks.retain(|id, _| policy.check(id).is_some());

    let mut checker = Checker::new(policy, &facts.tree).today(&today).scan(&facts.scan).scan_b(&facts.scan_b);
    if let Some(a) = &facts.audit {
        checker = checker.audit(a, &facts.sources);
    }
    let all = checker.findings_keeping(&mut kept);

    for (&i, &sig) in mine.iter().zip(&sigs) {
        if let Some(found) = kept.checks[i].take() {
            memo.checks.insert(policy.checks[i].id.clone(), (sig, found));
        }
    }
    memo.shadowed = kept.shadowed.map(|f| (shadow_sig, f));
    memo.tree_lints = kept.tree_lints.map(|g| (lints_sig, g));
    all
}

// ---------------------------------------------------------------------------------------
// The index: every declaration and every use of a name, from the syntax trees.

#[derive(Default)]
struct Globals {
    sets: BTreeSet<String>,
    tiers: BTreeSet<String>,
    classifications: BTreeSet<String>,
}

impl Globals {
    fn of(files: &[ast::RuleFile]) -> Globals {
        let mut g = Globals::default();
        for f in files {
            for d in &f.decls {
                match d {
                    AstDecl::Set(s) => {
                        g.sets.insert(s.name.text.clone());
                    }
                    AstDecl::Tiers(t) => g.tiers.extend(t.groups.iter().flatten().map(|n| n.text.clone())),
                    AstDecl::Classify(c) => {
                        g.classifications.insert(c.name.text.clone());
                    }
                    _ => {}
                }
            }
        }
        g
    }
}

fn range(s: Span) -> Range<usize> {
    s.start as usize..s.end as usize
}

/// Where a declaration whose name is at `name` ends: after its block's closing brace, or
/// at the end of its line when it has no block. Strings and comments are skipped.
fn decl_extent(text: &str, name: Range<usize>) -> Range<usize> {
    let start = text.get(..name.start).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
    let bytes = text.as_bytes();
    let mut i = name.end.min(bytes.len());
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\n' if depth == 0 => return start..i,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return start..i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    start..bytes.len().max(start)
}

fn index_file(f: &ast::RuleFile, text: &str, g: &Globals) -> FileIndex {
    let mut ix = FileIndex::default();
    let decl = |ix: &mut FileIndex, kind: Kind, name: &ast::Name, detail: String| {
        let full = decl_extent(text, range(name.span));
        ix.decls.push(Decl { kind, name: name.text.clone(), name_at: range(name.span), full, detail });
    };
    let occ = |ix: &mut FileIndex, kind: Kind, name: &ast::Name, ctx: Ctx| {
        ix.occs.push(Occ { kind, name: name.text.clone(), at: range(name.span), ctx });
    };
    for d in &f.decls {
        match d {
            AstDecl::Tiers(t) => {
                for n in t.groups.iter().flatten() {
                    ix.decls.push(Decl { kind: Kind::Tier, name: n.text.clone(), name_at: range(n.span), full: range(n.span), detail: "tier".into() });
                }
            }
            AstDecl::Set(s) => {
                match &s.body {
                    SetBody::Items(items) => {
                        decl(&mut ix, Kind::Set, &s.name, format!("set, {}", plural(items.len(), "item")));
                        for it in items {
                            let glob = it.pattern.text.contains(['*', '?']);
                            let kind = if glob { Kind::Glob } else { Kind::Package };
                            occ(&mut ix, kind, &it.pattern, Ctx::SetEntry { set: s.name.text.clone() });
                        }
                    }
                    SetBody::FromBuilder(b) => {
                        decl(&mut ix, Kind::Set, &s.name, format!("set from builder {}", b.text));
                        occ(&mut ix, Kind::Builder, b, Ctx::None);
                    }
                }
            }
            AstDecl::Builder(b) => {
                decl(&mut ix, Kind::Builder, &b.name, "builder".into());
                if let Some(p) = &b.phase {
                    occ(&mut ix, Kind::Phase, p, Ctx::None);
                }
                if let Some(t) = &b.tier {
                    occ(&mut ix, Kind::Tier, t, Ctx::None);
                }
                for r in &b.reach {
                    match r {
                        ast::BuilderReach::List(file, span) | ast::BuilderReach::Topological(file, span) => {
                            ix.occs.push(Occ { kind: Kind::ListFile, name: file.clone(), at: range(*span), ctx: Ctx::None });
                        }
                        ast::BuilderReach::Names(names) => {
                            for n in names {
                                let kind = if n.text.contains(['*', '?']) { Kind::Glob } else { Kind::Package };
                                occ(&mut ix, kind, n, Ctx::None);
                            }
                        }
                    }
                }
            }
            AstDecl::Classify(c) => {
                decl(&mut ix, Kind::Classification, &c.name, "classification".into());
                for l in &c.layers {
                    match l {
                        Layer::Dir { tier, dir } => {
                            occ(&mut ix, Kind::Tier, tier, Ctx::None);
                            occ(&mut ix, Kind::Tier, dir, Ctx::None);
                        }
                        Layer::InSet { tier, set } => {
                            occ(&mut ix, Kind::Tier, tier, Ctx::None);
                            occ(&mut ix, Kind::Set, set, Ctx::None);
                        }
                        Layer::Infer { .. } => {}
                        Layer::Else { tier } => {
                            if tier.text != "unclear" {
                                occ(&mut ix, Kind::Tier, tier, Ctx::None);
                            }
                        }
                    }
                }
            }
            AstDecl::Check(c) => {
                decl(&mut ix, Kind::Check, &c.id, format!("check, {}", c.severity.as_str()));
                let mut env: Vec<(String, Ty)> = vec![];
                for cl in &c.clauses {
                    match cl {
                        Clause::For(gens) => {
                            for (n, e) in gens {
                                let t = walk(e, &env, g, &c.id.text, &mut ix.occs);
                                let item = match t {
                                    Some(Ty::ListRec(k)) => Ty::Rec(k),
                                    Some(_) => Ty::Str,
                                    None => Ty::None,
                                };
                                ix.occs.push(Occ {
                                    kind: Kind::Variable,
                                    name: n.text.clone(),
                                    at: range(n.span),
                                    ctx: Ctx::Var { check: c.id.text.clone(), ty: item.name() },
                                });
                                env.push((n.text.clone(), item));
                            }
                        }
                        Clause::Let(n, e) => {
                            let t = walk(e, &env, g, &c.id.text, &mut ix.occs).unwrap_or(Ty::None);
                            ix.occs.push(Occ {
                                kind: Kind::Variable,
                                name: n.text.clone(),
                                at: range(n.span),
                                ctx: Ctx::Var { check: c.id.text.clone(), ty: t.name() },
                            });
                            env.push((n.text.clone(), t));
                        }
                        Clause::Where(e) | Clause::At(e) | Clause::Subject(e) | Clause::Object(e) | Clause::Because(e) => {
                            walk(e, &env, g, &c.id.text, &mut ix.occs);
                        }
                        Clause::Message(t) | Clause::Help(t) => {
                            for p in &t.parts {
                                if let TemplatePart::Hole(e) = p {
                                    walk(e, &env, g, &c.id.text, &mut ix.occs);
                                }
                            }
                        }
                        Clause::About(..) | Clause::Stability(_) => {}
                    }
                }
            }
            AstDecl::Gate(gd) => {
                decl(&mut ix, Kind::Gate, &gd.id, format!("gate \"{}\"", gd.title));
                for c in &gd.checks {
                    occ(&mut ix, Kind::Check, c, Ctx::None);
                }
            }
            AstDecl::Waive(w) => {
                let name = ast::Name { text: format!("{} for {}", w.check.text, w.subject.text), span: w.check.span };
                decl(&mut ix, Kind::Waiver, &name, "waiver".into());
                occ(&mut ix, Kind::Check, &w.check, Ctx::None);
                occ(&mut ix, Kind::Package, &w.subject, Ctx::WaiverSubject { check: w.check.text.clone() });
            }
            AstDecl::Divergence(dv) => {
                let name = ast::Name { text: format!("{} drops {}", dv.package.text, dv.dependency.text), span: dv.package.span };
                decl(&mut ix, Kind::Divergence, &name, "divergence".into());
                occ(&mut ix, Kind::Package, &dv.package, Ctx::None);
                occ(&mut ix, Kind::Package, &dv.dependency, Ctx::None);
            }
            AstDecl::Phase(p) => {
                decl(&mut ix, Kind::Phase, &p.name, p.title.clone().map_or("phase".into(), |t| format!("phase \"{t}\"")));
                for a in &p.after {
                    occ(&mut ix, Kind::Phase, a, Ctx::None);
                }
            }
            AstDecl::Patterns(p) => {
                decl(&mut ix, Kind::Patterns, &p.name, plural(p.entries.len(), "pattern"));
            }
            AstDecl::Pred(p) => {
                decl(&mut ix, Kind::Function, &p.name, "predicate".into());
                let env: Vec<(String, Ty)> = p.params.iter().map(|(n, _)| (n.text.clone(), Ty::None)).collect();
                walk(&p.body, &env, g, &p.name.text, &mut ix.occs);
            }
            // Its items are upstream names, not recipes: only the recipe is a name of ours.
            AstDecl::Alias(a) => occ(&mut ix, Kind::Package, &a.target, Ctx::None),
            AstDecl::ScanIgnore(_) => {}
        }
    }
    // Names a broken declaration left undeclared are still names: nothing to add.
    ix
}

/// Record the names an expression uses, and return its type when it can be told.
fn walk(e: &Expr, env: &[(String, Ty)], g: &Globals, check: &str, out: &mut Vec<Occ>) -> Option<Ty> {
    let at = range(e.span);
    match &e.kind {
        ExprKind::Int(_) => Some(Ty::Int),
        ExprKind::Str(_) => Some(Ty::Str),
        ExprKind::List(items) => {
            for i in items {
                walk(i, env, g, check, out);
            }
            Some(Ty::ListStr)
        }
        ExprKind::Ident(n) => {
            if let Some((_, t)) = env.iter().rev().find(|(v, _)| v == n) {
                out.push(Occ { kind: Kind::Variable, name: n.clone(), at, ctx: Ctx::Var { check: check.into(), ty: t.name() } });
                Some(*t)
            } else if g.sets.contains(n) {
                out.push(Occ { kind: Kind::Set, name: n.clone(), at, ctx: Ctx::None });
                Some(Ty::Set)
            } else if g.tiers.contains(n) {
                out.push(Occ { kind: Kind::Tier, name: n.clone(), at, ctx: Ctx::None });
                Some(Ty::Tier)
            } else if let Some((_, r)) = crate::domains::schema().relation(n) {
                out.push(Occ { kind: Kind::Relation, name: n.clone(), at, ctx: Ctx::None });
                Some(Ty::ListRec(r.kind))
            } else {
                match n.as_str() {
                    "true" | "false" => Some(Ty::Bool),
                    "none" => Some(Ty::None),
                    "unclear" => Some(Ty::Tier),
                    _ => None,
                }
            }
        }
        ExprKind::Call(name, args) => {
            for a in args {
                walk(a, env, g, check, out);
            }
            if g.classifications.contains(&name.text) {
                out.push(Occ { kind: Kind::Classification, name: name.text.clone(), at: range(name.span), ctx: Ctx::None });
                Some(Ty::Tier)
            } else {
                let f = crate::domains::schema().function(&name.text).map(|(_, f)| f);
                if f.is_some() {
                    out.push(Occ { kind: Kind::Function, name: name.text.clone(), at: range(name.span), ctx: Ctx::None });
                }
                f.map(|f| f.ret)
            }
        }
        ExprKind::Access(base, name, args) => {
            let bt = walk(base, env, g, check, out);
            if let Some(args) = args {
                for a in args {
                    walk(a, env, g, check, out);
                }
            }
            let owner = match bt {
                Some(Ty::Rec(k)) => Some(k),
                _ => None,
            };
            match args {
                None => {
                    let field = owner.and_then(|k| k.field(&name.text));
                    if let (Some(k), Some(_)) = (owner, field) {
                        out.push(Occ { kind: Kind::Field, name: name.text.clone(), at: range(name.span), ctx: Ctx::Member { owner: k.def().name } });
                    }
                    field.map(|(_, f)| f.ty)
                }
                Some(_) => {
                    let f = crate::domains::schema().function(&name.text).map(|(_, f)| f);
                    if f.is_some() {
                        let owner = owner.map_or("", |k| k.def().name);
                        out.push(Occ { kind: Kind::Function, name: name.text.clone(), at: range(name.span), ctx: Ctx::Member { owner } });
                    }
                    f.map(|f| f.ret)
                }
            }
        }
        ExprKind::Not(x) => {
            walk(x, env, g, check, out);
            Some(Ty::Bool)
        }
        ExprKind::Binary(_, l, r) => {
            walk(l, env, g, check, out);
            walk(r, env, g, check, out);
            Some(Ty::Bool)
        }
    }
}

// ---------------------------------------------------------------------------------------
// The schema: what a rule may read (relations, record fields, functions).

/// A type as completion and hover need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VType {
    /// One record of this kind (its fields complete after `.`).
    Record(&'static str),
    /// A list of records of this kind (a generator over it binds records).
    Records(&'static str),
    /// Anything else, by its name.
    Other(String),
}

fn vtype(t: Ty) -> VType {
    match t {
        Ty::Rec(k) => VType::Record(k.def().name),
        Ty::ListRec(k) => VType::Records(k.def().name),
        t => VType::Other(t.name()),
    }
}

fn kind_named(name: &str) -> Option<schema::Kind> {
    crate::domains::schema().domains().iter().flat_map(|d| d.kinds.iter()).find(|k| k.def().name == name).copied()
}

/// The name of a compiled relation or function, as the rules write it.
fn relation_name(r: schema::RelRef) -> Option<&'static str> {
    crate::domains::schema().domains().iter().find(|d| d.id == r.domain)?.relations.get(r.index).map(|r| r.name)
}

fn function_name(f: schema::FnRef) -> Option<&'static str> {
    match f {
        schema::FnRef::Builtin(b) => schema::BUILTINS.iter().find(|(x, _)| *x == b).map(|(_, d)| d.name),
        schema::FnRef::Domain(id, i) => crate::domains::schema().domains().iter().find(|d| d.id == id)?.functions.get(i).map(|f| f.name),
    }
}

/// What a relation's generator yields.
pub fn relation_type(name: &str) -> Option<VType> {
    crate::domains::schema().relation(name).map(|(_, r)| VType::Records(r.kind.def().name))
}

/// The type of a field of a record kind.
pub fn field_type(kind: &str, field: &str) -> Option<VType> {
    kind_named(kind)?.field(field).map(|(_, f)| vtype(f.ty))
}

/// What a function returns.
pub fn function_type(name: &str) -> Option<VType> {
    crate::domains::schema().function(name).map(|(_, f)| vtype(f.ret))
}

/// (name, type, documentation) of every field of a record kind.
pub fn fields(kind: &str) -> Vec<(&'static str, String, &'static str)> {
    kind_named(kind).map_or(vec![], |k| k.def().fields.iter().map(|f| (f.name, f.ty.name(), f.doc)).collect())
}

/// (name, record kind, documentation) of every relation.
pub fn relations() -> Vec<(&'static str, &'static str, &'static str)> {
    crate::domains::schema().relations().map(|r| (r.name, r.kind.def().name, r.doc)).collect()
}

/// A function: name, signature as written, documentation, whether it is a method.
pub struct FunctionDoc {
    pub name: &'static str,
    pub signature: String,
    pub doc: &'static str,
    pub method: bool,
    /// For a method, the record kind it is called on.
    pub receiver: Option<&'static str>,
}

fn function_doc(f: &schema::FnDef) -> FunctionDoc {
    let params: Vec<String> = f.params.iter().map(|t| t.name()).collect();
    let signature = if f.method {
        format!("{}.{}({}) -> {}", params.first().map_or("", String::as_str), f.name, params.get(1..).unwrap_or(&[]).join(", "), f.ret.name())
    } else {
        format!("{}({}) -> {}", f.name, params.join(", "), f.ret.name())
    };
    let receiver = match (f.method, f.params.first()) {
        (true, Some(Ty::Rec(k))) => Some(k.def().name),
        _ => None,
    };
    FunctionDoc { name: f.name, signature, doc: f.doc, method: f.method, receiver }
}

pub fn functions() -> Vec<FunctionDoc> {
    crate::domains::schema().functions().map(function_doc).collect()
}

pub fn function(name: &str) -> Option<FunctionDoc> {
    crate::domains::schema().function(name).map(|(_, f)| function_doc(f))
}

/// A field's type and documentation.
pub fn field(kind: &str, name: &str) -> Option<(String, &'static str)> {
    kind_named(kind)?.field(name).map(|(_, f)| (f.ty.name(), f.doc))
}

pub fn relation(name: &str) -> Option<(&'static str, &'static str)> {
    crate::domains::schema().relation(name).map(|(_, r)| (r.kind.def().name, r.doc))
}

/// The closed values of a record field (`dep.kind`: build, host, runtime), when it has them.
pub fn enum_values(kind: &str, field: &str) -> Option<Vec<&'static str>> {
    let k = kind_named(kind)?;
    let (_, f) = k.field(field)?;
    match f.values.as_ref()? {
        schema::Values::Listed(v) => Some(v.to_vec()),
        schema::Values::Tiers => None,
    }
}

// ---------------------------------------------------------------------------------------
// igos fmt, and dates.

/// `igos fmt` of one file: the formatted text, or why it is left as is.
pub fn format(text: &str) -> Result<String, String> {
    if text.len() > MAX_RULE_BYTES {
        return Err("the file is larger than rule files may be".into());
    }
    if let Err(e) = syntax::parse(SourceId(0), text) {
        return Err(format!("the file does not parse ({}): fix it first", e.message));
    }
    let formatted = crate::fmt::format(text);
    if crate::fmt::meaning(&formatted) != crate::fmt::meaning(text) {
        return Err("formatting would change the file's meaning; left as is (please report)".into());
    }
    Ok(formatted)
}

/// Today plus `days`, YYYY-MM-DD (IGOS_TODAY pins today, as for waivers).
pub fn date_in(days: i64) -> String {
    date_after(&crate::date::today(), days)
}

fn date_after(today: &str, days: i64) -> String {
    let today = today.to_string();
    let parts: Vec<i64> = today.split('-').filter_map(|p| p.parse().ok()).collect();
    let [y, m, d] = parts[..] else { return today };
    // Days since the epoch of a civil date (Howard Hinnant's), the inverse of civil_date.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    crate::date::civil_date(era * 146_097 + doe - 719_468 + days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(files: &[(&str, &str)]) -> Vec<RuleText> {
        files.iter().map(|(p, t)| RuleText { path: PathBuf::from(p), shown: p.to_string(), text: Arc::from(*t) }).collect()
    }

    #[test]
    fn extent_of_a_block_and_of_a_line() {
        let text = "policy 1\nset a {\n  x # }\n  \"}\"\n}\nset b from builder c\n";
        let a = text.find("a {").unwrap();
        assert_eq!(&text[decl_extent(text, a..a + 1)], "set a {\n  x # }\n  \"}\"\n}");
        let b = text.find("b from").unwrap();
        assert_eq!(&text[decl_extent(text, b..b + 1)], "set b from builder c");
    }

    #[test]
    fn index_knows_declarations_uses_and_types() {
        let a = analyze(
            None,
            rules(&[(
                "r.pol",
                "policy 1\ntiers core < base\nset base_cli {\n  bat\n  fd-*\n}\nclassify natural_tier {\n  base if name in base_cli\n  else unclear\n}\ncheck c halt {\n  for p in packages, d in p.deps\n  where natural_tier(p) == base and d.kind == \"build\"\n  message \"{p.name}\"\n}\n",
            )]),
        );
        assert!(a.clean, "{:?}", a.diags);
        let ix = &a.index[0];
        let kinds: Vec<(Kind, &str)> = ix.decls.iter().map(|d| (d.kind, d.name.as_str())).collect();
        assert!(kinds.contains(&(Kind::Set, "base_cli")) && kinds.contains(&(Kind::Check, "c")) && kinds.contains(&(Kind::Tier, "base")));
        let occ = |name: &str, kind: Kind| ix.occs.iter().find(|o| o.name == name && o.kind == kind).cloned();
        assert_eq!(occ("bat", Kind::Package).unwrap().ctx, Ctx::SetEntry { set: "base_cli".into() });
        assert!(occ("fd-*", Kind::Glob).is_some());
        assert!(occ("base_cli", Kind::Set).is_some());
        assert_eq!(occ("kind", Kind::Field).unwrap().ctx, Ctx::Member { owner: "dep" });
        assert_eq!(occ("d", Kind::Variable).unwrap().ctx, Ctx::Var { check: "c".into(), ty: "dep".into() });
        assert!(occ("natural_tier", Kind::Classification).is_some());
        let set = ix.decls.iter().find(|d| d.name == "base_cli").unwrap();
        assert!(set.full.end > set.name_at.end);
    }

    #[test]
    fn rule_errors_are_diagnostics_in_their_file() {
        let a = analyze(None, rules(&[("a.pol", "policy 1\nset s {\n  x\n}\n"), ("b.pol", "policy 1\ncheck c halt {\n  for p in pakages\n  message \"x\"\n}\n")]));
        assert!(!a.clean);
        let d = a.diags.iter().find(|d| d.file == 1).expect("an error in b.pol");
        assert_eq!(&a.rules[1].text[d.at.clone()], "pakages");
        assert!(d.message.contains("packages"), "{}", d.message);
    }

    fn project_rules() -> Vec<RuleText> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        crate::rules::BUILT_IN
            .iter()
            .map(|(n, _)| {
                let path = dir.join(Path::new(n).file_name().unwrap());
                RuleText { text: Arc::from(std::fs::read_to_string(&path).unwrap()), shown: n.to_string(), path }
            })
            .collect()
    }

    fn edit(rules: &[RuleText], file: &str, from: &str, to: &str) -> Vec<RuleText> {
        rules
            .iter()
            .map(|r| {
                if !r.path.ends_with(file) {
                    return r.clone();
                }
                assert!(r.text.contains(from), "{from} not in {file}");
                RuleText { text: Arc::from(r.text.replacen(from, to, 1)), ..r.clone() }
            })
            .collect()
    }

    type Key = (String, String, Option<String>, String, Option<Span>, Option<Span>, Option<Span>, bool);

    fn keys<'a>(fs: impl Iterator<Item = &'a Finding>) -> Vec<Key> {
        let mut v: Vec<Key> = fs.map(|f| (f.check.clone(), f.subject.clone(), f.object.clone(), f.message.clone(), f.at, f.because, f.rule, f.is_waived())).collect();
        v.sort();
        v
    }

    /// The reuse of unchanged checks gives exactly what `igos check` evaluates, edit after edit.
    #[test]
    fn incremental_evaluation_equals_igos_check_after_edits() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut rules = project_rules();
        let facts = Facts::load(root, &rules).expect("the embedded tree loads");
        let mut memo = Memo::default();
        let total = (0..1).map(|_| analyze(Some(&facts), rules.clone())).next().unwrap().policy.checks.len();
        let steps: Vec<(&str, &str, &str)> = vec![
            ("", "", ""),
            // A package moved to another tier's set: classification changes, the recipe contract does not.
            ("tiers.pol", "\n  htop\n", "\n"),
            ("tiers.pol", "set user_facing_apps {\n", "set user_facing_apps {\n  htop\n"),
            // A comment above everything in gates.pol: every span below it moves.
            ("gates.pol", "policy 1\n", "policy 1\n# moved\n"),
            // A check's message changed.
            ("recipes.pol", "check ", "check "),
            // A waiver for a finding there is: nothing to evaluate again.
            ("waivers.pol", "policy 1\n", "policy 1\nwaive set-entry-without-recipe for at {\n  reason \"r\"\n  expires 2099-01-01\n}\n"),
            // A builder's list changed.
            ("builders.pol", "list \"chroot-build-base.list\"", "list \"chroot-build-extra.list\""),
        ];
        for (k, (file, from, to)) in steps.into_iter().enumerate() {
            if !file.is_empty() {
                rules = edit(&rules, file, from, to);
            }
            let a = analyze_with(Some(&facts), rules.clone(), &mut memo);
            assert!(a.clean, "step {k}: {:?}", a.diags.iter().filter(|d| d.severity == Severity::Error).map(|d| &d.message).collect::<Vec<_>>());
            let mine = evaluate(&a.policy, &facts, &mut Memo::default());
            let full = crate::check::evaluate_full(&a.policy, &facts.tree, facts.audit.as_ref().map(|x| (x, &facts.sources)), Some(&facts.scan), Some(&facts.scan_b), &crate::date::today());
            let reused = evaluate(&a.policy, &facts, &mut memo);
            assert_eq!(memo.ran, Vec::<String>::new(), "step {k}: evaluated again with nothing changed");
            assert_eq!(keys(mine.iter()), keys(full.findings()), "step {k}: a fresh evaluation differs from igos check");
            assert_eq!(keys(reused.iter()), keys(full.findings()), "step {k}: the reused findings differ from igos check");
            assert!(a.rule_errors == 0 && total > 0);
        }
    }

    #[test]
    fn an_edit_to_the_sets_leaves_the_recipe_contract_alone() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let rules = project_rules();
        let facts = Facts::load(root, &rules).expect("the embedded tree loads");
        let mut memo = Memo::default();
        analyze_with(Some(&facts), rules.clone(), &mut memo);
        let all = memo.ran.len();
        let moved = edit(&rules, "tiers.pol", "\n  htop\n", "\n");
        analyze_with(Some(&facts), moved.clone(), &mut memo);
        let ran = |id: &str| memo.ran.iter().any(|r| r == id);
        assert!(ran("tier-move") && ran("set-entry-without-recipe"), "{:?}", memo.ran);
        for untouched in ["unknown-key", "missing-field", "sha256-shape", "orphan", "listed-after-consumer"] {
            assert!(!ran(untouched), "{untouched} ran again after an edit to a tier set: {:?}", memo.ran);
        }
        assert!(memo.ran.len() < all, "{} of {all}", memo.ran.len());
        analyze_with(Some(&facts), edit(&moved, "waivers.pol", "policy 1\n", "policy 1\n# a comment\n"), &mut memo);
        assert_eq!(memo.ran, Vec::<String>::new(), "checks ran again after a comment in waivers.pol");
    }

    #[test]
    fn dates_ahead() {
        assert_eq!(date_after("2026-12-20", 90), "2027-03-20");
        assert_eq!(date_after("2026-12-20", 0), "2026-12-20");
        assert_eq!(date_after("2028-02-28", 1), "2028-02-29");
    }
}
