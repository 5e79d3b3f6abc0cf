//! Semantic analysis: resolve every name, check every type, and build the compiled
//! [`Policy`]. All errors of all files are collected; nothing stops at the first one.

use std::collections::HashMap;

use super::ast::*;
use super::error::{did_you_mean, RuleError};
use super::glob;
use crate::eval::schema::{Builtin, DomainId, FnRef, KeySet, Kind, RelRef, Schema, Ty, Values};
use crate::source::Span;

pub const LANGUAGE_VERSION: u32 = 1;

/// The declared tier order. `rank` is the written order (peers in order of writing), used
/// to pick "the earliest" deterministically; `group` is the partial order.
#[derive(Debug, Default, Clone)]
pub struct TierOrder {
    pub names: Vec<String>,
    pub group: Vec<u16>,
    pub spans: Vec<Span>,
}

impl TierOrder {
    pub fn index(&self, name: &str) -> Option<u16> {
        self.names.iter().position(|n| n == name).map(|i| i as u16)
    }
    /// `a` may depend on `b`: the same tier, or `b` in a strictly earlier group.
    pub fn le(&self, b: u16, a: u16) -> bool {
        a == b || self.group[b as usize] < self.group[a as usize]
    }
    pub fn name(&self, t: Option<u16>) -> &str {
        match t {
            Some(i) => self.names.get(i as usize).map(String::as_str).unwrap_or("?"),
            None => "unclear",
        }
    }
}

/// A named set: exact names (with their spans) and glob patterns; `!` items exclude.
#[derive(Debug, Clone)]
pub struct NameSet {
    pub name: String,
    pub span: Span,
    pub exact: Vec<(String, Span)>,
    pub globs: Vec<(String, Span)>,
    pub excludes: Vec<(String, Span)>,
    /// `set x from builder y`: filled from the builder's list file when facts are bound.
    pub from_builder: Option<usize>,
}

#[derive(Debug, Clone)]
pub enum Reach {
    List(String, Span),
    Topological(String, Span),
    Names(Vec<(String, Span)>),
}

#[derive(Debug, Clone)]
pub struct BuilderDef {
    pub name: String,
    pub span: Span,
    pub phase: Option<String>,
    pub tier: Option<String>,
    pub reach: Vec<Reach>,
}

#[derive(Debug, Clone)]
pub enum CLayer {
    Dir { tier: u16, dir: String, span: Span },
    InSet { tier: u16, set: usize, span: Span },
    /// Earliest tier among consumers through these dependency kinds.
    Infer { kinds: Vec<String>, span: Span },
    Else { tier: Option<u16>, span: Span },
}

#[derive(Debug, Clone)]
pub struct Classification {
    pub name: String,
    pub span: Span,
    pub layers: Vec<CLayer>,
}

#[derive(Debug, Clone)]
pub enum Const {
    None,
    Bool(bool),
    Int(i64),
    /// Shared, so evaluating a literal never allocates.
    Str(std::sync::Arc<str>),
    /// A tier; `None` is `unclear`.
    Tier(Option<u16>),
}

#[derive(Debug, Clone)]
pub enum CExpr {
    Const(Const),
    Var(usize),
    Set(usize),
    Relation(RelRef),
    List(Vec<CExpr>),
    Field(Box<CExpr>, Kind, usize),
    Call(FnRef, Vec<CExpr>),
    Classify(usize, Box<CExpr>),
    Not(Box<CExpr>),
    Bin(BinOp, Box<CExpr>, Box<CExpr>),
}

#[derive(Debug, Clone)]
pub enum CPart {
    Text(String),
    Hole(CExpr),
}

#[derive(Debug, Clone)]
pub enum Step {
    /// Bind `slot` to each item of the expression's list.
    For(usize, CExpr),
    Where(CExpr),
    Let(usize, CExpr),
    /// Bind `slot` to each item of `source` (which depends on no variable) whose `keys`,
    /// evaluated on the item, hash like `probes`, evaluated on what is bound before: an
    /// equality between two generators' fields answered from an index built once per run
    /// (a hash join) instead of a scan per outer item. The equalities stay as filters
    /// after it, so the index only narrows and the findings are those of the plain loop.
    Join { slot: usize, source: CExpr, keys: Vec<CExpr>, probes: Vec<CExpr> },
}

#[derive(Debug, Clone)]
pub struct CheckDef {
    pub id: String,
    pub span: Span,
    pub severity: Severity,
    pub domain: DomainId,
    pub about: Option<String>,
    /// `stable`, `experimental` or `deprecated`.
    pub stability: String,
    pub steps: Vec<Step>,
    pub slots: usize,
    pub message: Vec<CPart>,
    pub help: Option<Vec<CPart>>,
    pub at: Option<CExpr>,
    pub subject: Option<CExpr>,
    pub object: Option<CExpr>,
    pub because: Option<CExpr>,
}

#[derive(Debug, Clone)]
pub struct GateDef {
    pub id: String,
    pub title: String,
    pub span: Span,
    pub checks: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Waiver {
    pub check: String,
    pub subject: String,
    pub reason: String,
    pub approver: Option<String>,
    /// `YYYY-MM-DD`, compared as text (the format sorts by date).
    pub expires: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Divergence {
    pub package: String,
    pub dependency: String,
    pub reason: String,
    pub approver: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct PhaseDef {
    pub name: String,
    /// Where the name is written (diagnostics about the phase point here).
    pub name_span: Span,
    pub title: Option<String>,
    pub run: Option<String>,
    pub builtin: Option<String>,
    pub after: Vec<String>,
    /// Where each `after` name is written, parallel to `after`.
    pub after_spans: Vec<Span>,
    pub checkpoint: bool,
    pub optional: bool,
    pub span: Span,
}

/// Everything the rule files declare, resolved and type-checked.
#[derive(Debug, Default, Clone)]
pub struct Policy {
    pub tiers: TierOrder,
    pub sets: Vec<NameSet>,
    pub builders: Vec<BuilderDef>,
    pub classifications: Vec<Classification>,
    pub checks: Vec<CheckDef>,
    pub gates: Vec<GateDef>,
    pub waivers: Vec<Waiver>,
    pub divergences: Vec<Divergence>,
    pub phases: Vec<PhaseDef>,
    /// Log line patterns (Scan B), in written order across files.
    pub log_patterns: Vec<LogPattern>,
    /// Advisories about the rule files that need no tree (`lints.rs`), filled when the
    /// rules are loaded; `igos check` reports them under "Rule files".
    pub lints: Vec<crate::finding::Finding>,
    /// The named predicates (`pred`), in declaration order. Their bodies are inlined where
    /// they are called, so nothing here is read while checks run.
    pub preds: Vec<PredDef>,
    /// `alias <name> { ... }`: the other names each name goes by, in declaration
    /// order (the first that admits a name decides `because`).
    pub aliases: Vec<Alias>,
    /// `scan ignore { ... }`: names a scan meets that are never one of ours.
    pub scan_ignore: Option<NameSet>,
}

/// The other names of one name. `names.name` is `alias <target>`.
#[derive(Debug, Clone)]
pub struct Alias {
    pub target: String,
    /// Where the target is written.
    pub span: Span,
    pub names: NameSet,
}

/// A named predicate as declared, and where it is called.
#[derive(Debug, Clone)]
pub struct PredDef {
    pub name: String,
    pub span: Span,
    /// Every call, in any check or predicate (the lint `unused-pred` reads it).
    pub uses: Vec<Span>,
}

/// How far predicates may call predicates (compile recursion, and the size of what a
/// call inlines, stay bounded on any input).
pub const MAX_PRED_NESTING: usize = 32;
/// Nodes one inlined call may expand to (a predicate calling another twice, nested, doubles).
const MAX_INLINED_NODES: usize = 100_000;
/// How deep an inlined expression may nest (evaluation recurses on it).
const MAX_INLINED_DEPTH: usize = 256;

/// One entry of a `patterns` block.
#[derive(Debug, Clone)]
pub struct LogPattern {
    /// The block's name (e.g. `meson`): rules can tell build systems apart by it.
    pub group: String,
    pub kind: String,
    pub text: String,
    pub template: super::pattern::Template,
    /// The template as written in the rule file.
    pub span: Span,
}

impl Policy {
    pub fn check(&self, id: &str) -> Option<usize> {
        self.checks.iter().position(|c| c.id == id)
    }
    pub fn phase_index(&self, name: &str) -> Option<usize> {
        self.phases.iter().position(|p| p.name == name)
    }
    /// The gate a check belongs to (the first that lists it).
    pub fn gate_of(&self, check: usize) -> Option<&GateDef> {
        self.gates.iter().find(|g| g.checks.contains(&check))
    }
}

/// Compile parsed files (in the order given) into one policy, against the facts of
/// `schema`'s domains.
pub fn compile(files: &[RuleFile], schema: &Schema) -> (Policy, Vec<RuleError>) {
    let mut c = Compiler {
        schema,
        policy: Policy::default(),
        errors: vec![],
        names: HashMap::new(),
        set_index: HashMap::new(),
        builder_index: HashMap::new(),
        classify_index: HashMap::new(),
        classify_names: HashMap::new(),
        broken: Default::default(),
        gated: HashMap::new(),
        preds: vec![],
        pred_index: HashMap::new(),
        pred_nesting: 0,
        pred_too_deep: false,
    };
    c.run(files);
    (c.policy, c.errors)
}

struct Compiler<'s> {
    /// The record kinds, relations and functions of the domains rules are compiled for.
    schema: &'s Schema,
    policy: Policy,
    errors: Vec<RuleError>,
    /// Every declared name, for duplicate detection: name -> first span.
    names: HashMap<String, Span>,
    set_index: HashMap<String, usize>,
    builder_index: HashMap<String, usize>,
    classify_index: HashMap<String, usize>,
    /// Classifications by name, known before the sets are declared (a set may not take one's name).
    classify_names: HashMap<String, Span>,
    /// Names whose declaration was refused or did not parse: their uses report nothing more.
    broken: std::collections::HashSet<String>,
    /// Per check, the gate that lists it first and where (a check belongs to one gate).
    gated: HashMap<usize, (String, Span)>,
    /// Named predicates, parallel to `policy.preds`: compiled on first use.
    preds: Vec<PredSlot>,
    pred_index: HashMap<String, usize>,
    /// Predicate bodies being compiled, one inside another.
    pred_nesting: usize,
    /// The nesting limit was reported.
    pred_too_deep: bool,
}

struct PredSlot {
    decl: PredDecl,
    /// The parameters' types; None when one is unknown (reported at the declaration).
    params: Option<Vec<Ty>>,
    state: PredState,
}

#[derive(Clone)]
enum PredState {
    Pending,
    /// Its body is being compiled: a call to it now is recursion.
    Compiling,
    /// Compiled; None when the body has an error (reported once, at the body).
    Done(Option<CExpr>),
}

impl Compiler<'_> {
    fn run(&mut self, files: &[RuleFile]) {
        for f in files {
            match f.version {
                Some((v, _)) if v == LANGUAGE_VERSION => {}
                Some((v, span)) => self.errors.push(
                    RuleError::new("version", format!("unsupported policy language version {v}"), span)
                        .with_label("this version")
                        .with_help(format!("this igos reads `policy {LANGUAGE_VERSION}`")),
                ),
                None => {}
            }
        }
        let decls: Vec<&Decl> = files.iter().flat_map(|f| f.decls.iter()).collect();
        self.broken.extend(files.iter().flat_map(|f| f.broken.iter().cloned()));
        for d in &decls {
            if let Decl::Classify(cl) = d {
                self.classify_names.entry(cl.name.text.clone()).or_insert(cl.name.span);
            }
        }
        // Pass 1: declarations that others refer to, in dependency order.
        for d in &decls {
            if let Decl::Tiers(t) = d {
                self.tiers(t);
            }
        }
        for d in &decls {
            if let Decl::Phase(p) = d {
                self.phase(p);
            }
        }
        for d in &decls {
            if let Decl::Builder(b) = d {
                self.builder(b);
            }
        }
        for d in &decls {
            if let Decl::Set(s) = d {
                self.set(s);
            }
        }
        self.check_phases();
        for d in &decls {
            if let Decl::Classify(cl) = d {
                self.classify(cl);
            }
        }
        for d in &decls {
            if let Decl::Pred(pd) = d {
                self.pred(pd);
            }
        }
        for d in &decls {
            if let Decl::Check(ch) = d {
                self.check(ch);
            }
        }
        // A predicate no check calls is still compiled: its mistakes are reported too.
        for i in 0..self.preds.len() {
            self.pred_body(i, None);
        }
        for d in &decls {
            match d {
                Decl::Gate(g) => self.gate(g),
                Decl::Waive(w) => self.waive(w),
                Decl::Divergence(dv) => self.divergence(dv),
                Decl::Patterns(pd) => self.patterns(pd),
                Decl::Alias(a) => self.alias(a),
                Decl::ScanIgnore(si) => self.scan_ignore(si),
                _ => {}
            }
        }
        self.errors.sort_by_key(|e| e.span);
    }

    /// Names are unique within a namespace: sets and classifications (both appear in
    /// expressions), builders, phases, checks, gates.
    fn declare(&mut self, what: &str, name: &Name) -> bool {
        let namespace = match what {
            "set" | "classification" | "predicate" => "expression",
            other => other,
        };
        let key = format!("{namespace}:{}", name.text);
        if let Some(first) = self.names.get(&key) {
            self.errors.push(
                RuleError::new("duplicate", format!("`{}` is declared twice", name.text), name.span)
                    .with_label(format!("this {what} reuses the name"))
                    .with_related(*first, "first declared here")
                    .with_help(match what {
                        "alias" => "a name has one alias declaration: list all its other names in one block".to_string(),
                        _ => format!("two {what}s cannot share a name"),
                    }),
            );
            return false;
        }
        self.names.insert(key, name.span);
        true
    }

    /// What a set or classification name would shadow in expressions: a relation, a
    /// function, a tier, a built-in constant, or (for a set) a classification. Such a name
    /// is refused at its declaration, once; otherwise every use of the shadowed name would
    /// be an error of its own far from the cause (`set packages { a }` gave 174 of them).
    /// `is_set`: the set's span (a set is refused for a classification declared before it).
    fn taken_name(&self, name: &str, is_set: Option<Span>) -> Option<(String, Option<Span>)> {
        if let Some((_, r)) = self.schema.relation(name) {
            return Some((format!("the relation `{name}` ({})", r.doc), None));
        }
        if let Some((_, f)) = self.schema.function(name) {
            return Some((format!("the function `{name}` ({})", f.doc), None));
        }
        if ["none", "true", "false", "unclear"].contains(&name) {
            return Some((format!("the constant `{name}`"), None));
        }
        if let Some(i) = self.policy.tiers.index(name) {
            return Some((format!("the tier `{name}`"), self.policy.tiers.spans.get(i as usize).copied()));
        }
        match (is_set, self.classify_names.get(name)) {
            (Some(set), Some(&class)) if class < set => Some((format!("the classification `{name}`"), Some(class))),
            _ => None,
        }
    }

    fn refuse_name(&mut self, what: &str, name: &Name, taken: &str, first: Option<Span>) {
        let mut e = RuleError::new("name-collision", format!("a {what} cannot be named `{}`: that is {taken}", name.text), name.span)
            .with_label("this name is taken")
            .with_help(format!("rename the {what}; every use of `{}` means {taken}", name.text));
        if let Some(first) = first {
            e = e.with_related(first, "declared here");
        }
        self.errors.push(e);
        // Its uses (meant for it or for what it shadows) say nothing more: one mistake,
        // one diagnostic.
        self.broken.insert(name.text.clone());
    }

    fn tiers(&mut self, t: &TiersDecl) {
        if !self.policy.tiers.names.is_empty() {
            let first = self.policy.tiers.spans.first().copied().unwrap_or(t.span);
            self.errors.push(
                RuleError::new("duplicate", "the tier order is declared twice", t.span)
                    .with_label("second declaration")
                    .with_related(first, "first declared here"),
            );
            return;
        }
        for (g, group) in t.groups.iter().enumerate() {
            for n in group {
                if self.policy.tiers.index(&n.text).is_some() {
                    self.errors.push(RuleError::new("duplicate", format!("tier `{}` appears twice", n.text), n.span));
                    continue;
                }
                self.policy.tiers.names.push(n.text.clone());
                self.policy.tiers.group.push(g as u16);
                self.policy.tiers.spans.push(n.span);
            }
        }
    }

    fn tier(&mut self, n: &Name) -> Option<u16> {
        if let Some(i) = self.policy.tiers.index(&n.text) {
            return Some(i);
        }
        if self.broken.contains(&n.text) || (self.policy.tiers.names.is_empty() && self.broken.contains("tiers")) {
            return None; // its declaration did not parse: reported there
        }
        let suggestion = did_you_mean(&n.text, self.policy.tiers.names.iter().map(String::as_str));
        self.errors.push(unknown(n, "tier", suggestion));
        None
    }

    fn phase(&mut self, p: &PhaseDecl) {
        if !self.declare("phase", &p.name) {
            return;
        }
        if p.run.is_none() && p.builtin.is_none() {
            self.errors.push(
                RuleError::new("missing", format!("phase `{}` has no action", p.name.text), p.name.span)
                    .with_label("no `run` or `builtin`")
                    .with_help("give the phase `run \"<command>\"` or `builtin check`"),
            );
        }
        if let Some(b) = &p.builtin {
            // The in-process actions of `igos build` (engine/cli/build.rs).
            const BUILTINS: [&str; 2] = ["check", "image-audit"];
            if !BUILTINS.contains(&b.text.as_str()) {
                self.errors.push(unknown(b, "builtin action", did_you_mean(&b.text, BUILTINS)));
            }
        }
        self.policy.phases.push(PhaseDef {
            name: p.name.text.clone(),
            name_span: p.name.span,
            title: p.title.clone(),
            run: p.run.as_ref().map(|r| r.0.clone()),
            builtin: p.builtin.as_ref().map(|b| b.text.clone()),
            after: p.after.iter().map(|a| a.text.clone()).collect(),
            after_spans: p.after.iter().map(|a| a.span).collect(),
            checkpoint: p.checkpoint,
            optional: p.optional,
            span: p.span,
        });
    }

    fn check_phases(&mut self) {
        let names: Vec<String> = self.policy.phases.iter().map(|p| p.name.clone()).collect();
        for p in &self.policy.phases {
            for (a, span) in p.after.iter().zip(&p.after_spans) {
                if !names.contains(a) {
                    let n = Name { text: a.clone(), span: *span };
                    self.errors.push(unknown(&n, "phase", did_you_mean(a, names.iter().map(String::as_str))));
                }
            }
        }
    }

    fn builder(&mut self, b: &BuilderDecl) {
        if !self.declare("builder", &b.name) {
            return;
        }
        let reach = b
            .reach
            .iter()
            .map(|r| match r {
                BuilderReach::List(s, sp) => Reach::List(s.clone(), *sp),
                BuilderReach::Topological(s, sp) => Reach::Topological(s.clone(), *sp),
                BuilderReach::Names(ns) => Reach::Names(ns.iter().map(|n| (n.text.clone(), n.span)).collect()),
            })
            .collect::<Vec<_>>();
        if reach.is_empty() {
            self.errors.push(
                RuleError::new("missing", format!("builder `{}` reaches nothing", b.name.text), b.name.span)
                    .with_label("no list, topological or names")
                    .with_help("a builder needs `list \"file.list\"`, `topological \"file.list\"` or `names { ... }`"),
            );
        }
        if b.tier.is_none() {
            self.errors.push(
                RuleError::new("missing", format!("builder `{}` declares no tier", b.name.text), b.name.span)
                    .with_label("add `tier <name>`"),
            );
        }
        if let Some(t) = &b.tier {
            self.tier(t);
        }
        self.builder_index.insert(b.name.text.clone(), self.policy.builders.len());
        self.policy.builders.push(BuilderDef {
            name: b.name.text.clone(),
            span: b.name.span,
            phase: b.phase.as_ref().map(|p| p.text.clone()),
            tier: b.tier.as_ref().map(|t| t.text.clone()),
            reach,
        });
        if let (Some(p), false) = (&b.phase, self.policy.phases.is_empty()) {
            if self.policy.phase_index(&p.text).is_none() {
                let names: Vec<&str> = self.policy.phases.iter().map(|p| p.name.as_str()).collect();
                self.errors.push(unknown(p, "phase", did_you_mean(&p.text, names)));
            }
        }
    }

    fn set(&mut self, s: &SetDecl) {
        if let Some((taken, first)) = self.taken_name(&s.name.text, Some(s.name.span)) {
            self.refuse_name("set", &s.name, &taken, first);
            return;
        }
        if !self.declare("set", &s.name) {
            return;
        }
        let mut set = NameSet {
            name: s.name.text.clone(),
            span: s.name.span,
            exact: vec![],
            globs: vec![],
            excludes: vec![],
            from_builder: None,
        };
        match &s.body {
            SetBody::FromBuilder(b) => match self.builder_index.get(&b.text) {
                Some(&i) => set.from_builder = Some(i),
                None if self.broken.contains(&b.text) => {}
                None => {
                    let names: Vec<&str> = self.builder_index.keys().map(String::as_str).collect();
                    self.errors.push(unknown(b, "builder", did_you_mean(&b.text, names)));
                }
            },
            SetBody::Items(items) => self.set_items(&mut set, items, &format!("set `{}`", s.name.text)),
        }
        self.set_index.insert(set.name.clone(), self.policy.sets.len());
        self.policy.sets.push(set);
    }

    /// A set body's items into `set`: names, globs, `!` exclusions; an item listed twice is
    /// reported (`whose`: "set `x`", "alias `y`").
    fn set_items(&mut self, set: &mut NameSet, items: &[SetItem], whose: &str) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for it in items {
            if let Some(first) = seen.get(it.pattern.text.as_str()) {
                self.errors.push(
                    RuleError::new("duplicate", format!("`{}` is listed twice in {whose}", it.pattern.text), it.pattern.span)
                        .with_label("listed again")
                        .with_related(*first, "first listed here"),
                );
                continue;
            }
            seen.insert(&it.pattern.text, it.pattern.span);
            let entry = (it.pattern.text.clone(), it.pattern.span);
            if it.exclude {
                set.excludes.push(entry);
            } else if glob::is_glob(&it.pattern.text) {
                set.globs.push(entry);
            } else {
                set.exact.push(entry);
            }
        }
    }

    /// `alias <name> { ... }`: one declaration per name, which is a name, not a glob.
    /// Whether it names something is the facts' to say (a domain's lint).
    fn alias(&mut self, a: &AliasDecl) {
        if glob::is_glob(&a.target.text) || a.target.text.starts_with('!') {
            self.errors.push(
                RuleError::new("type", format!("`{}` is a pattern: an alias is for one name", a.target.text), a.target.span)
                    .with_label("not a name")
                    .with_help("write one `alias <name> { ... }` per name; globs belong inside the braces"),
            );
            return;
        }
        if !self.declare("alias", &a.target) {
            return;
        }
        let mut names = NameSet {
            name: format!("alias {}", a.target.text),
            span: a.target.span,
            exact: vec![],
            globs: vec![],
            excludes: vec![],
            from_builder: None,
        };
        self.set_items(&mut names, &a.items, &format!("alias `{}`", a.target.text));
        self.policy.aliases.push(Alias { target: a.target.text.clone(), span: a.target.span, names });
    }

    /// `scan ignore { ... }`, once.
    fn scan_ignore(&mut self, d: &ScanIgnoreDecl) {
        // The keywords, not the whole block.
        let span = Span { end: d.span.start + "scan ignore".len() as u32, ..d.span };
        if let Some(first) = &self.policy.scan_ignore {
            self.errors.push(
                RuleError::new("duplicate", "`scan ignore` is declared twice", span)
                    .with_label("second declaration")
                    .with_related(first.span, "first declared here")
                    .with_help("list every ignored upstream name in one `scan ignore` block"),
            );
            return;
        }
        let mut names = NameSet {
            name: "scan ignore".into(),
            span,
            exact: vec![],
            globs: vec![],
            excludes: vec![],
            from_builder: None,
        };
        self.set_items(&mut names, &d.items, "`scan ignore`");
        self.policy.scan_ignore = Some(names);
    }

    fn classify(&mut self, cl: &ClassifyDecl) {
        if let Some((taken, first)) = self.taken_name(&cl.name.text, None) {
            self.refuse_name("classification", &cl.name, &taken, first);
            return;
        }
        if !self.declare("classification", &cl.name) {
            // Its uses say nothing more (a set of that name still resolves).
            self.broken.insert(cl.name.text.clone());
            return;
        }
        let mut layers = vec![];
        for l in &cl.layers {
            match l {
                Layer::Dir { tier, dir } => {
                    if let Some(t) = self.tier(tier) {
                        layers.push(CLayer::Dir { tier: t, dir: dir.text.clone(), span: tier.span });
                    }
                }
                Layer::InSet { tier, set } => {
                    let t = self.tier(tier);
                    match self.set_index.get(&set.text) {
                        Some(&s) => {
                            if let Some(t) = t {
                                layers.push(CLayer::InSet { tier: t, set: s, span: set.span })
                            }
                        }
                        None if self.broken.contains(&set.text) => {}
                        None => {
                            let names: Vec<&str> = self.set_index.keys().map(String::as_str).collect();
                            self.errors.push(unknown(set, "set", did_you_mean(&set.text, names)));
                        }
                    }
                }
                Layer::Infer { kinds, span } => {
                    let edges = self.schema.classified().map_or(&[][..], |c| c.edges);
                    for k in kinds {
                        if !edges.contains(&k.text.as_str()) {
                            self.errors.push(unknown(k, "dependency kind", did_you_mean(&k.text, edges.iter().copied())));
                        }
                    }
                    layers.push(CLayer::Infer { kinds: kinds.iter().map(|k| k.text.clone()).collect(), span: *span })
                }
                Layer::Else { tier } => {
                    let t = if tier.text == "unclear" { None } else { self.tier(tier) };
                    layers.push(CLayer::Else { tier: t, span: tier.span });
                }
            }
        }
        self.classify_index.insert(cl.name.text.clone(), self.policy.classifications.len());
        self.policy.classifications.push(Classification { name: cl.name.text.clone(), span: cl.name.span, layers });
    }

    fn check(&mut self, ch: &CheckDecl) {
        if !self.declare("check", &ch.id) {
            return;
        }
        let mut scope = Scope::default();
        let mut steps: Vec<(Step, usize)> = vec![]; // (step, the generator depth it needs)
        let mut message = None;
        let mut help = None;
        let mut at = None;
        let mut subject = None;
        let mut object = None;
        let mut because = None;
        let mut about = None;
        let mut stability = "stable".to_string();
        let mut domain: Option<DomainId> = None;
        for clause in &ch.clauses {
            match clause {
                Clause::For(gens) => {
                    for (var, e) in gens {
                        let Some((ce, ty, deps)) = self.expr(e, &scope) else {
                            scope.bind_poisoned(var, scope.depth + 1);
                            scope.depth += 1;
                            continue;
                        };
                        let item_ty = match ty {
                            Ty::ListRec(k) => Ty::Rec(k),
                            Ty::ListStr | Ty::Set => Ty::Str,
                            other => {
                                self.errors.push(
                                    RuleError::new("type", format!("`for` needs a list, this is a {}", other.name()), e.span)
                                        .with_label("not a list"),
                                );
                                scope.bind_poisoned(var, scope.depth + 1);
                                scope.depth += 1;
                                continue;
                            }
                        };
                        if let CExpr::Relation(r) = &ce {
                            domain.get_or_insert(r.domain);
                        }
                        let depth = scope.depth + 1;
                        let slot = scope.bind(var, item_ty, depth);
                        scope.depth = depth;
                        steps.push((Step::For(slot, ce), deps.max(depth - 1)));
                    }
                }
                Clause::Where(e) => {
                    // Each conjunct is its own filter, run as soon as its own variables
                    // are bound (and an equality between generators can become a join).
                    let mut parts = vec![];
                    conjuncts(e, &mut parts);
                    for e in parts {
                        if let Some((ce, ty, deps)) = self.expr(e, &scope) {
                            self.want_bool(ty, e.span);
                            // An inlined predicate's `and`s are filters of their own too,
                            // exactly as if its body were written here.
                            let mut filters = vec![];
                            and_parts(ce, &mut filters);
                            steps.extend(filters.into_iter().map(|f| (Step::Where(f), deps)));
                        }
                    }
                }
                Clause::Let(var, e) => match self.expr(e, &scope) {
                    Some((ce, ty, deps)) => {
                        let slot = scope.bind(var, ty, deps);
                        steps.push((Step::Let(slot, ce), deps));
                    }
                    None => scope.bind_poisoned(var, scope.depth),
                },
                Clause::Message(t) => message = self.template(t, &scope),
                Clause::Help(t) => help = self.template(t, &scope),
                Clause::At(e) => {
                    if let Some((ce, ty, _)) = self.expr(e, &scope) {
                        if !matches!(ty, Ty::Loc | Ty::Rec(_)) {
                            self.errors.push(
                                RuleError::new("type", format!("`at` needs a location or a record, this is a {}", ty.name()), e.span)
                                    .with_label("not a location"),
                            );
                        }
                        at = Some(ce);
                    }
                }
                Clause::Subject(e) => subject = self.expr(e, &scope).map(|x| x.0),
                Clause::Object(e) => object = self.expr(e, &scope).map(|x| x.0),
                Clause::Because(e) => because = self.expr(e, &scope).map(|x| x.0),
                Clause::About(s, _) => about = Some(s.clone()),
                Clause::Stability(s) => stability = s.clone(),
            }
        }
        // Conditions run as soon as the generators they use are bound: a stable sort by depth.
        let mut indexed: Vec<(usize, (Step, usize))> = steps.into_iter().enumerate().collect();
        indexed.sort_by_key(|(i, (step, depth))| {
            // At one depth, filters run before the next generator multiplies the work.
            let is_for = matches!(step, Step::For(..));
            (*depth, is_for, *i)
        });
        let mut steps = indexed.into_iter().map(|(_, (s, _))| s).collect::<Vec<_>>();
        plan_joins(&mut steps);
        // A clause that is there but failed to compile has its own diagnostic already.
        let written = |want: fn(&Clause) -> bool| ch.clauses.iter().any(want);
        if !written(|c| matches!(c, Clause::For(_))) {
            self.errors.push(
                RuleError::new("missing", format!("check `{}` ranges over nothing", ch.id.text), ch.id.span)
                    .with_label("no `for` clause")
                    .with_help("say what the check ranges over, e.g. `for p in packages`"),
            );
        }
        let Some(message) = message else {
            if written(|c| matches!(c, Clause::Message(_))) {
                return;
            }
            self.errors.push(
                RuleError::new("missing", format!("check `{}` has no message", ch.id.text), ch.id.span)
                    .with_label("no `message` clause")
                    .with_help("findings need a message: `message \"{p.name} ...\"`"),
            );
            return;
        };
        self.policy.checks.push(CheckDef {
            id: ch.id.text.clone(),
            span: ch.id.span,
            severity: ch.severity,
            // A check over no relation belongs to the first domain served.
            domain: domain.or_else(|| self.schema.domains().first().map(|d| d.id)).unwrap_or(DomainId("")),
            about,
            stability,
            steps,
            slots: scope.vars.len(),
            message,
            help,
            at,
            subject,
            object,
            because,
        });
    }

    /// Declare a named predicate; its body is compiled at its first call (or after the
    /// checks, when nothing calls it).
    fn pred(&mut self, d: &PredDecl) {
        if let Some((taken, first)) = self.taken_name(&d.name.text, None) {
            self.refuse_name("predicate", &d.name, &taken, first);
            return;
        }
        if !self.declare("predicate", &d.name) {
            self.broken.insert(d.name.text.clone());
            return;
        }
        let mut params = Some(vec![]);
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for (p, t) in &d.params {
            if let Some(first) = seen.insert(&p.text, p.span) {
                self.errors.push(
                    RuleError::new("duplicate", format!("parameter `{}` is declared twice", p.text), p.span)
                        .with_label("declared again")
                        .with_related(first, "first declared here"),
                );
                params = None;
                continue;
            }
            match self.param_type(t) {
                Some(ty) => {
                    if let Some(v) = params.as_mut() {
                        v.push(ty)
                    }
                }
                None => params = None,
            }
        }
        self.pred_index.insert(d.name.text.clone(), self.preds.len());
        self.preds.push(PredSlot { decl: d.clone(), params, state: PredState::Pending });
        self.policy.preds.push(PredDef { name: d.name.text.clone(), span: d.name.span, uses: vec![] });
    }

    /// A parameter's type: a record kind of the schema, or `string`, `number`, `bool`, `tier`.
    fn param_type(&mut self, t: &Name) -> Option<Ty> {
        let kinds = || self.schema.domains().iter().flat_map(|d| d.kinds.iter().copied());
        let ty = match t.text.as_str() {
            "string" => Some(Ty::Str),
            "number" => Some(Ty::Int),
            "bool" => Some(Ty::Bool),
            "tier" => Some(Ty::Tier),
            name => kinds().find(|k| k.def().name == name).map(Ty::Rec),
        };
        if ty.is_none() {
            let mut names: Vec<&str> = vec!["string", "number", "bool", "tier"];
            names.extend(kinds().map(|k| k.def().name));
            self.errors.push(unknown(t, "type", did_you_mean(&t.text, names.iter().copied())).with_help(match did_you_mean(&t.text, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("a parameter is a record kind or string, number, bool, tier: {}", names.join(", ")),
            }));
        }
        ty
    }

    /// The compiled body of predicate `pi` (parameters are the slots 0..n). `at`: the call
    /// that asks for it, where a recursion is reported.
    fn pred_body(&mut self, pi: usize, at: Option<Span>) -> Option<CExpr> {
        match &self.preds[pi].state {
            PredState::Done(body) => return body.clone(),
            PredState::Compiling => {
                let decl = &self.preds[pi].decl;
                if let Some(at) = at {
                    self.errors.push(
                        RuleError::new("recursion", format!("predicate `{}` calls itself", decl.name.text), at)
                            .with_label("recursive call")
                            .with_related(decl.name.span, "declared here")
                            .with_help("a predicate cannot call itself, directly or through another: write the condition out (the only recursion is `infer`)"),
                    );
                }
                return None;
            }
            PredState::Pending => {}
        }
        let decl = self.preds[pi].decl.clone();
        if self.pred_nesting >= MAX_PRED_NESTING {
            self.preds[pi].state = PredState::Done(None);
            // Once: a long chain is one mistake, however many predicates it passes through.
            if std::mem::replace(&mut self.pred_too_deep, true) {
                return None;
            }
            self.errors.push(
                RuleError::new("too-deep", format!("predicates call predicates more than {MAX_PRED_NESTING} deep here"), at.unwrap_or(decl.name.span))
                    .with_label("too deep")
                    .with_related(decl.name.span, "declared here"),
            );
            return None;
        }
        self.preds[pi].state = PredState::Compiling;
        self.pred_nesting += 1;
        let body = self.preds[pi].params.clone().and_then(|tys| {
            let mut scope = Scope::default();
            for ((name, _), ty) in decl.params.iter().zip(tys) {
                scope.bind(name, ty, 0);
            }
            let (c, ty, _) = self.expr(&decl.body, &scope)?;
            if ty != Ty::Bool {
                self.want_bool(ty, decl.body.span);
                return None;
            }
            Some(c)
        });
        self.pred_nesting -= 1;
        self.preds[pi].state = PredState::Done(body.clone());
        body
    }

    /// A call of a named predicate: arguments checked against the declaration, the body
    /// inlined with the arguments in place of the parameters (no call at run time).
    fn pred_call(&mut self, pi: usize, f: &Name, method: bool, args: &[Expr], span: Span, scope: &Scope) -> Option<(CExpr, Ty, usize)> {
        self.policy.preds[pi].uses.push(f.span);
        let decl_span = self.preds[pi].decl.name.span;
        if method {
            self.errors.push(
                RuleError::new("type", format!("`{}` is a predicate: call it as `{}(...)`", f.text, f.text), f.span)
                    .with_label("not a method")
                    .with_related(decl_span, "declared here"),
            );
            return None;
        }
        let compiled: Vec<_> = args.iter().map(|a| (self.expr(a, scope), a.span)).collect();
        let params: Vec<(Name, Name)> = self.preds[pi].decl.params.clone();
        if args.len() != params.len() {
            let shape = params.iter().map(|(p, t)| format!("{}: {}", p.text, t.text)).collect::<Vec<_>>().join(", ");
            self.errors.push(
                RuleError::new("type", format!("`{}` takes {} argument(s), {} given", f.text, params.len(), args.len()), span)
                    .with_label("wrong number of arguments")
                    .with_related(decl_span, "declared here")
                    .with_help(format!("`{}({shape})`", f.text)),
            );
            return None;
        }
        let tys = self.preds[pi].params.clone()?; // a parameter's type is unknown: reported there
        let mut out = vec![];
        let mut depth = 0;
        for (((a, aspan), want), (pname, ptype)) in compiled.into_iter().zip(tys).zip(&params) {
            let (c, ty, d) = a?;
            if ty != want && ty != Ty::None {
                self.errors.push(
                    RuleError::new(
                        "type",
                        format!("`{}` expects a {} for `{}`, this is a {}", f.text, want.name(), pname.text, ty.name()),
                        aspan,
                    )
                    .with_label("wrong type")
                    .with_related(ptype.span, "declared here"),
                );
                return None;
            }
            depth = depth.max(d);
            out.push(c);
        }
        let body = self.pred_body(pi, Some(f.span))?;
        let sizes: Vec<(usize, usize)> = out.iter().map(|a| inlined_size(a, &[])).collect();
        let (nodes, levels) = inlined_size(&body, &sizes);
        if nodes > MAX_INLINED_NODES || levels > MAX_INLINED_DEPTH {
            self.errors.push(
                RuleError::new("too-deep", format!("`{}` expands to more than the language allows here", f.text), span)
                    .with_label("too large once inlined")
                    .with_related(decl_span, "declared here")
                    .with_help("a predicate's body is copied into each call: split the condition into `where` clauses"),
            );
            return None;
        }
        Some((substitute(&body, &out), Ty::Bool, depth))
    }

    fn template(&mut self, t: &Template, scope: &Scope) -> Option<Vec<CPart>> {
        // Every hole is compiled, so each mistaken one is reported.
        let parts: Vec<Option<CPart>> = t
            .parts
            .iter()
            .map(|p| match p {
                TemplatePart::Text(s) => Some(CPart::Text(s.clone())),
                TemplatePart::Hole(e) => self.expr(e, scope).map(|x| CPart::Hole(x.0)),
            })
            .collect();
        parts.into_iter().collect()
    }

    fn want_bool(&mut self, ty: Ty, span: Span) {
        if ty != Ty::Bool {
            self.errors.push(
                RuleError::new("type", format!("a condition must be true or false, this is a {}", ty.name()), span)
                    .with_label("not a condition")
                    .with_help("compare it: `x == ...`, `x in set`, `exists(x)`"),
            );
        }
    }

    /// Compile an expression: its code, its type, and the generator depth it depends on.
    fn expr(&mut self, e: &Expr, scope: &Scope) -> Option<(CExpr, Ty, usize)> {
        match &e.kind {
            ExprKind::Int(n) => Some((CExpr::Const(Const::Int(*n)), Ty::Int, 0)),
            ExprKind::Str(s) => Some((CExpr::Const(Const::Str(s.as_str().into())), Ty::Str, 0)),
            ExprKind::List(items) => {
                let mut out = vec![];
                let mut depth = 0;
                let compiled: Vec<_> = items.iter().map(|it| self.expr(it, scope)).collect();
                for (it, c) in items.iter().zip(compiled) {
                    let (c, ty, d) = c?;
                    if ty != Ty::Str {
                        self.errors.push(
                            RuleError::new("type", format!("list literals hold strings, this is a {}", ty.name()), it.span)
                                .with_label("not a string"),
                        );
                    }
                    depth = depth.max(d);
                    out.push(c);
                }
                Some((CExpr::List(out), Ty::ListStr, depth))
            }
            ExprKind::Ident(name) => self.ident(name, e.span, scope),
            ExprKind::Call(f, args) => self.call(f, None, args, e.span, scope),
            ExprKind::Access(recv, field, args) => {
                let (rc, rty, rd) = self.expr(recv, scope)?;
                if let Some(args) = args {
                    return self.call(field, Some((rc, rty, rd)), args, e.span, scope);
                }
                let Ty::Rec(kind) = rty else {
                    self.errors.push(
                        RuleError::new("type", format!("`.{}` on a {}, which has no fields", field.text, rty.name()), field.span)
                            .with_label("no such field"),
                    );
                    return None;
                };
                match kind.field(&field.text) {
                    Some((i, f)) => Some((CExpr::Field(Box::new(rc), kind, i), f.ty, rd)),
                    None => {
                        let names = kind.def().fields.iter().map(|f| f.name);
                        let suggestion = did_you_mean(&field.text, names);
                        let mut err = RuleError::new(
                            "unknown-name",
                            format!("a {} has no field `{}`", kind.def().name, field.text),
                            field.span,
                        )
                        .with_label("unknown field");
                        err.help = Some(match suggestion {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!(
                                "its fields are: {}",
                                kind.def().fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                            ),
                        });
                        self.errors.push(err);
                        None
                    }
                }
            }
            ExprKind::Not(inner) => {
                let (c, ty, d) = self.expr(inner, scope)?;
                self.want_bool(ty, inner.span);
                Some((CExpr::Not(Box::new(c)), Ty::Bool, d))
            }
            ExprKind::Binary(op, l, r) => {
                // Both sides are compiled, so a mistake on each side is reported in one run.
                let (left, right) = (self.expr(l, scope), self.expr(r, scope));
                let ((lc, lt, ld), (rc, rt, rd)) = (left?, right?);
                let depth = ld.max(rd);
                let ok = match op {
                    BinOp::And | BinOp::Or => {
                        self.want_bool(lt, l.span);
                        self.want_bool(rt, r.span);
                        true
                    }
                    BinOp::Eq | BinOp::Ne => comparable(lt, rt),
                    BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                        // Strings order as text: ISO dates compare as dates.
                        matches!((lt, rt), (Ty::Int, Ty::Int) | (Ty::Str, Ty::Str) | (Ty::Tier | Ty::Str, Ty::Tier) | (Ty::Tier, Ty::Str))
                            || matches!((lt, rt), (Ty::None, _) | (_, Ty::None))
                    }
                    BinOp::In | BinOp::NotIn => match rt {
                        Ty::Set => matches!(lt, Ty::Str),
                        Ty::ListStr => matches!(lt, Ty::Str),
                        Ty::ListRec(k) => lt == Ty::Rec(k),
                        _ => false,
                    },
                    BinOp::Glob => lt == Ty::Str && matches!(rt, Ty::Str | Ty::ListStr),
                };
                if !ok {
                    self.errors.push(
                        RuleError::new(
                            "type",
                            format!("`{}` cannot combine a {} with a {}", op.symbol(), lt.name(), rt.name()),
                            e.span,
                        )
                        .with_label("mismatched types"),
                    );
                    return None;
                }
                if !self.closed_literals(*op, (l, &lc, lt), (r, &rc, rt)) {
                    return None;
                }
                Some((CExpr::Bin(*op, Box::new(lc), Box::new(rc)), Ty::Bool, depth))
            }
        }
    }

    fn ident(&mut self, name: &str, span: Span, scope: &Scope) -> Option<(CExpr, Ty, usize)> {
        if let Some((slot, ty, depth)) = scope.lookup(name) {
            if scope.is_poisoned(slot) {
                return None;
            }
            return Some((CExpr::Var(slot), ty, depth));
        }
        if let Some(&s) = self.set_index.get(name) {
            return Some((CExpr::Set(s), Ty::Set, 0));
        }
        if self.broken.contains(name) {
            return None; // reported where it was declared
        }
        if let Some(t) = self.policy.tiers.index(name) {
            return Some((CExpr::Const(Const::Tier(Some(t))), Ty::Tier, 0));
        }
        if let Some((r, def)) = self.schema.relation(name) {
            return Some((CExpr::Relation(r), Ty::ListRec(def.kind), 0));
        }
        match name {
            "none" => return Some((CExpr::Const(Const::None), Ty::None, 0)),
            "true" => return Some((CExpr::Const(Const::Bool(true)), Ty::Bool, 0)),
            "false" => return Some((CExpr::Const(Const::Bool(false)), Ty::Bool, 0)),
            "unclear" => return Some((CExpr::Const(Const::Tier(None)), Ty::Tier, 0)),
            _ => {}
        }
        let mut candidates: Vec<&str> = scope.vars.iter().map(|v| v.0.as_str()).collect();
        candidates.extend(self.set_index.keys().map(String::as_str));
        candidates.extend(self.policy.tiers.names.iter().map(String::as_str));
        candidates.extend(self.schema.relations().map(|r| r.name));
        let n = Name { text: name.to_string(), span };
        self.errors.push(unknown(&n, "name", did_you_mean(name, candidates)));
        None
    }

    fn call(
        &mut self,
        f: &Name,
        recv: Option<(CExpr, Ty, usize)>,
        args: &[Expr],
        span: Span,
        scope: &Scope,
    ) -> Option<(CExpr, Ty, usize)> {
        if self.broken.contains(&f.text) {
            return None; // reported where it was declared
        }
        if let Some(&pi) = self.pred_index.get(&f.text) {
            return self.pred_call(pi, f, recv.is_some(), args, span, scope);
        }
        // A key argument is checked against its function's key set once the function is known.
        let key_arg = match args.last().map(|a| (&a.kind, a.span)) {
            Some((ExprKind::Str(k), span)) if recv.is_some() => Some((k.clone(), span)),
            _ => None,
        };
        // The name first: an unknown function is reported even when an argument fails too.
        let known = self.classify_index.contains_key(&f.text) || self.schema.function(&f.text).is_some();
        if !known {
            let mut names: Vec<&str> = self.schema.functions().map(|f| f.name).collect();
            names.extend(self.classify_index.keys().map(String::as_str));
            names.extend(self.pred_index.keys().map(String::as_str));
            self.errors.push(unknown(f, "function", did_you_mean(&f.text, names)));
        }
        let mut compiled = vec![];
        let mut depth = 0;
        if let Some((c, t, d)) = recv {
            compiled.push((c, t, span));
            depth = d;
        }
        // Every argument is compiled, so each mistaken one is reported.
        let args: Vec<_> = args.iter().map(|a| (self.expr(a, scope), a.span)).collect();
        if !known {
            return None;
        }
        for (a, aspan) in args {
            let (c, t, d) = a?;
            depth = depth.max(d);
            compiled.push((c, t, aspan));
        }
        if let Some(&cl) = self.classify_index.get(&f.text) {
            let classified = self.schema.classified().map(|c| c.kind);
            if compiled.len() != 1 || !matches!(compiled[0].1, Ty::Rec(k) if Some(k) == classified) {
                self.errors.push(
                    RuleError::new("type", format!("`{}` classifies one package: `{}(p)`", f.text, f.text), span)
                        .with_label("wrong arguments"),
                );
                return None;
            }
            let (arg, _, _) = compiled.remove(0);
            return Some((CExpr::Classify(cl, Box::new(arg)), Ty::Tier, depth));
        }
        let (id, def) = self.schema.function(&f.text)?; // unknown: reported above
        if compiled.len() != def.params.len() {
            self.errors.push(
                RuleError::new(
                    "type",
                    format!("`{}` takes {} argument(s), {} given", f.text, def.params.len(), compiled.len()),
                    span,
                )
                .with_label("wrong number of arguments")
                .with_help(def.doc),
            );
            return None;
        }
        for ((_, ty, aspan), want) in compiled.iter().zip(def.params) {
            let ok = match (id, want) {
                (FnRef::Builtin(Builtin::Count), _) => matches!(ty, Ty::ListStr | Ty::ListRec(_)),
                (FnRef::Builtin(Builtin::Exists), _) => true,
                (_, want) => ty == want || *ty == Ty::None,
            };
            if !ok {
                self.errors.push(
                    RuleError::new(
                        "type",
                        format!("`{}` expects a {} here, this is a {}", f.text, want.name(), ty.name()),
                        *aspan,
                    )
                    .with_label("wrong type")
                    .with_help(def.doc),
                );
                return None;
            }
        }
        if let (Some((key, kspan)), Some(keys), true) = (key_arg, def.keys, def.method) {
            if !self.known_key(keys, &key, kspan, &f.text) {
                return None;
            }
        }
        Some((CExpr::Call(id, compiled.into_iter().map(|c| c.0).collect()), def.ret, depth))
    }

    /// A key argument (`p.has("...")`) names a key of its function's set, or of the rule
    /// set that extends it: a misspelt key would be absent from every record.
    fn known_key(&mut self, keys: &KeySet, key: &str, span: Span, method: &str) -> bool {
        let extra: Vec<&str> = match keys.extended_by.and_then(|set| self.set_index.get(set)) {
            Some(&i) => self.policy.sets[i].exact.iter().map(|(n, _)| n.as_str()).collect(),
            None => vec![],
        };
        if keys.keys.contains(&key) || extra.contains(&key) {
            return true;
        }
        let suggestion = did_you_mean(key, keys.keys.iter().copied().chain(extra.iter().copied()));
        let help = match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => keys.help.to_string(),
        };
        let e = RuleError::new("unknown-name", format!("`{key}` is not a {}, so `{method}` would ask {} for nothing", keys.what, keys.each), span)
            .with_label(keys.label)
            .with_help(help);
        self.errors.push(e);
        false
    }

    /// The values a closed expression can take (a tier, an enumerated field), described.
    fn closed_values(&self, c: &CExpr, ty: Ty) -> Option<(String, Vec<String>)> {
        let tiers = || self.policy.tiers.names.clone();
        if self.policy.tiers.names.is_empty() && ty == Ty::Tier {
            return None;
        }
        if ty == Ty::Tier {
            let mut v = tiers();
            v.push("unclear".into());
            return Some(("a tier".into(), v));
        }
        let CExpr::Field(_, kind, i) = c else { return None };
        let field = kind.def().fields.get(*i)?.name;
        let name = kind.def().name;
        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        let what = format!("{article} {name}'s `{field}`");
        match kind.def().fields.get(*i)?.values? {
            Values::Listed(v) => Some((what, v.iter().map(|s| s.to_string()).collect())),
            Values::Tiers if self.policy.tiers.names.is_empty() => None,
            Values::Tiers => Some((format!("{what} (a tier)"), tiers())),
        }
    }

    /// A closed value compared with a string literal outside its values: the comparison
    /// is constant (`natural_tier(p) == "coer"` never holds), so it is refused. False when
    /// an error was reported.
    fn closed_literals(&mut self, op: BinOp, l: (&Expr, &CExpr, Ty), r: (&Expr, &CExpr, Ty)) -> bool {
        if !matches!(op, BinOp::Eq | BinOp::Ne | BinOp::In | BinOp::NotIn) {
            return true;
        }
        let literals = |e: &Expr| -> Vec<(String, Span)> {
            match &e.kind {
                ExprKind::Str(s) => vec![(s.clone(), e.span)],
                ExprKind::List(items) if matches!(op, BinOp::In | BinOp::NotIn) => items
                    .iter()
                    .filter_map(|i| match &i.kind {
                        ExprKind::Str(s) => Some((s.clone(), i.span)),
                        _ => None,
                    })
                    .collect(),
                _ => vec![],
            }
        };
        let mut ok = true;
        for (closed, other) in [(l, r), (r, l)] {
            let Some((what, values)) = self.closed_values(closed.1, closed.2) else { continue };
            for (lit, span) in literals(other.0) {
                if values.contains(&lit) {
                    continue;
                }
                let help = match did_you_mean(&lit, values.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("its values are: {}", values.join(", ")),
                };
                self.errors.push(
                    RuleError::new("type", format!("{what} is never \"{lit}\", so this comparison is constant"), span)
                        .with_label("not one of its values")
                        .with_help(help),
                );
                ok = false;
            }
        }
        ok
    }

    /// A gate or waiver names a check that is not in the policy. A check that was declared
    /// but did not compile has its own errors already, so naming it adds none.
    fn unknown_check(&mut self, c: &Name) {
        if self.names.contains_key(&format!("check:{}", c.text)) || self.broken.contains(&c.text) {
            return;
        }
        let names: Vec<&str> = self.policy.checks.iter().map(|c| c.id.as_str()).collect();
        self.errors.push(unknown(c, "check", did_you_mean(&c.text, names)));
    }

    fn gate(&mut self, g: &GateDecl) {
        if !self.declare("gate", &g.id) {
            return;
        }
        let mut checks = vec![];
        for c in &g.checks {
            match self.policy.check(&c.text) {
                Some(i) => match self.gated.get(&i) {
                    // A check reports in one gate: listed in a second, that gate would
                    // print "pass" while the check fails.
                    Some((gate, first)) => {
                        let message = if *gate == g.id.text {
                            format!("check `{}` is listed twice in gate `{gate}`", c.text)
                        } else {
                            format!("check `{}` is listed in two gates, `{gate}` and `{}`", c.text, g.id.text)
                        };
                        self.errors.push(
                            RuleError::new("duplicate", message, c.span)
                                .with_label("listed again")
                                .with_related(*first, "first listed here")
                                .with_help("a check belongs to one gate: remove one of the two lines"),
                        )
                    }
                    None => {
                        self.gated.insert(i, (g.id.text.clone(), c.span));
                        checks.push(i);
                    }
                },
                None => self.unknown_check(c),
            }
        }
        self.policy.gates.push(GateDef { id: g.id.text.clone(), title: g.title.clone(), span: g.id.span, checks });
    }

    fn waive(&mut self, w: &WaiveDecl) {
        let Some(ci) = self.policy.check(&w.check.text) else {
            self.unknown_check(&w.check);
            return;
        };
        let Some(reason) = self.record_fields(&w.fields, w.check.span, "waiver") else { return };
        if self.policy.checks[ci].severity == Severity::Halt && w.fields.approver.is_none() {
            self.errors.push(
                RuleError::new("missing", format!("waiving the halting check `{}` needs an approver", w.check.text), w.check.span)
                    .with_label("no `approver`")
                    .with_help("add `approver \"<who authorized it>\"`; only advisories can be waived without one"),
            );
            return;
        }
        self.policy.waivers.push(Waiver {
            check: w.check.text.clone(),
            subject: w.subject.text.clone(),
            reason,
            approver: w.fields.approver.as_ref().map(|a| a.0.clone()),
            expires: w.fields.expires.as_ref().map(|e| e.0.clone()),
            span: w.span,
        });
    }

    fn record_fields(&mut self, f: &RecordFields, span: Span, what: &str) -> Option<String> {
        let reason = match &f.reason {
            Some((r, _)) if !r.trim().is_empty() => r.clone(),
            _ => {
                self.errors.push(
                    RuleError::new("missing", format!("a {what} needs a reason"), span)
                        .with_label("no `reason`")
                        .with_help("say why, in one line: `reason \"...\"`"),
                );
                return None;
            }
        };
        if let Some((d, dspan)) = &f.expires {
            if !valid_date(d) {
                self.errors.push(RuleError::new("type", format!("`{d}` is not a calendar date"), *dspan).with_label("invalid date"));
                return None;
            }
        }
        Some(reason)
    }

    fn patterns(&mut self, d: &PatternsDecl) {
        for (kind, text, span) in &d.entries {
            if !self.declare("log pattern", kind) {
                continue;
            }
            match super::pattern::Template::parse(text) {
                Ok(template) => self.policy.log_patterns.push(LogPattern {
                    group: d.name.text.clone(),
                    kind: kind.text.clone(),
                    text: text.clone(),
                    template,
                    span: *span,
                }),
                Err(why) => self.errors.push(
                    RuleError::new("pattern", format!("log pattern `{}`: {why}", kind.text), *span)
                        .with_label("this template")
                        .with_help("`{name}` captures a dependency name, `{feature}` a summary line's feature, `*` any text, a space one or more blanks"),
                ),
            }
        }
    }

    fn divergence(&mut self, d: &DivergenceDecl) {
        let Some(reason) = self.record_fields(&d.fields, d.package.span, "divergence record") else { return };
        self.policy.divergences.push(Divergence {
            package: d.package.text.clone(),
            dependency: d.dependency.text.clone(),
            reason,
            approver: d.fields.approver.as_ref().map(|a| a.0.clone()),
            span: d.span,
        });
    }
}

/// `a and b and c` as its parts.
fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Binary(BinOp::And, l, r) => {
            conjuncts(l, out);
            conjuncts(r, out);
        }
        _ => out.push(e),
    }
}

/// A condition's `and` operands, as separate filters.
fn and_parts(e: CExpr, out: &mut Vec<CExpr>) {
    match e {
        CExpr::Bin(BinOp::And, l, r) => {
            and_parts(*l, out);
            and_parts(*r, out);
        }
        other => out.push(other),
    }
}

/// The number of nodes and the depth of `e` with each parameter slot `i` counted as
/// `args[i]` (saturating: a hostile nest of predicates cannot overflow it).
fn inlined_size(e: &CExpr, args: &[(usize, usize)]) -> (usize, usize) {
    let many = |items: &[CExpr]| {
        items.iter().map(|i| inlined_size(i, args)).fold((1usize, 0usize), |(n, d), (a, b)| (n.saturating_add(a), d.max(b)))
    };
    let (n, d) = match e {
        CExpr::Var(s) => return args.get(*s).copied().unwrap_or((1, 1)),
        CExpr::Const(_) | CExpr::Set(_) | CExpr::Relation(_) => (1, 0),
        CExpr::List(items) | CExpr::Call(_, items) => many(items),
        CExpr::Field(r, _, _) | CExpr::Classify(_, r) | CExpr::Not(r) => {
            let (n, d) = inlined_size(r, args);
            (n.saturating_add(1), d)
        }
        CExpr::Bin(_, l, r) => {
            let ((a, b), (c, d)) = (inlined_size(l, args), inlined_size(r, args));
            (a.saturating_add(c).saturating_add(1), b.max(d))
        }
    };
    (n, d.saturating_add(1))
}

/// A predicate's body with its parameter slots replaced by the call's arguments.
fn substitute(e: &CExpr, args: &[CExpr]) -> CExpr {
    let sub = |x: &CExpr| Box::new(substitute(x, args));
    match e {
        CExpr::Var(s) => args.get(*s).cloned().unwrap_or(CExpr::Const(Const::None)),
        CExpr::Const(_) | CExpr::Set(_) | CExpr::Relation(_) => e.clone(),
        CExpr::List(items) => CExpr::List(items.iter().map(|i| substitute(i, args)).collect()),
        CExpr::Call(f, items) => CExpr::Call(*f, items.iter().map(|i| substitute(i, args)).collect()),
        CExpr::Field(r, k, i) => CExpr::Field(sub(r), *k, *i),
        CExpr::Classify(c, r) => CExpr::Classify(*c, sub(r)),
        CExpr::Not(r) => CExpr::Not(sub(r)),
        CExpr::Bin(op, l, r) => CExpr::Bin(*op, sub(l), sub(r)),
    }
}

/// The variable slots an expression reads.
fn vars_of(e: &CExpr, out: &mut Vec<usize>) {
    match e {
        CExpr::Var(s) => out.push(*s),
        CExpr::Const(_) | CExpr::Set(_) | CExpr::Relation(_) => {}
        CExpr::List(items) | CExpr::Call(_, items) => items.iter().for_each(|i| vars_of(i, out)),
        CExpr::Field(r, _, _) | CExpr::Classify(_, r) | CExpr::Not(r) => vars_of(r, out),
        CExpr::Bin(_, l, r) => {
            vars_of(l, out);
            vars_of(r, out);
        }
    }
}

/// Turn a generator that is filtered by equalities with what is bound before it into a
/// hash join: `for p in packages, d in deps where d.consumer.name == p.name` looks the
/// deps of `p` up in an index of `deps` by `consumer.name` instead of scanning them all
/// for every `p`. Only generators over fixed facts (no variable in the source) nested
/// inside another qualify; the equalities stay as filters.
fn plan_joins(steps: &mut [Step]) {
    let mut bound: Vec<usize> = vec![];
    for j in 0..steps.len() {
        let (slot, source) = match &steps[j] {
            Step::For(slot, source) => (*slot, source.clone()),
            Step::Let(slot, _) | Step::Join { slot, .. } => {
                bound.push(*slot);
                continue;
            }
            Step::Where(_) => continue,
        };
        let mut source_vars = vec![];
        vars_of(&source, &mut source_vars);
        let nested = !bound.is_empty();
        let (mut keys, mut probes) = (vec![], vec![]);
        if nested && source_vars.is_empty() {
            for step in &steps[j + 1..] {
                let Step::Where(CExpr::Bin(BinOp::Eq, a, b)) = step else {
                    if matches!(step, Step::Where(_)) {
                        continue;
                    }
                    break;
                };
                let (mut va, mut vb) = (vec![], vec![]);
                vars_of(a, &mut va);
                vars_of(b, &mut vb);
                let item_only = |v: &[usize]| !v.is_empty() && v.iter().all(|&x| x == slot);
                let outer_only = |v: &[usize]| v.iter().all(|x| bound.contains(x));
                if item_only(&va) && outer_only(&vb) {
                    keys.push((**a).clone());
                    probes.push((**b).clone());
                } else if item_only(&vb) && outer_only(&va) {
                    keys.push((**b).clone());
                    probes.push((**a).clone());
                }
            }
        }
        if !keys.is_empty() {
            steps[j] = Step::Join { slot, source, keys, probes };
        }
        bound.push(slot);
    }
}

fn valid_date(d: &str) -> bool {
    let parts: Vec<u32> = d.split('-').filter_map(|p| p.parse().ok()).collect();
    let [y, m, day] = parts.as_slice() else { return false };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    *y >= 1970 && (1..=days).contains(day)
}

fn comparable(a: Ty, b: Ty) -> bool {
    a == b
        || matches!((a, b), (Ty::None, _) | (_, Ty::None) | (Ty::Tier, Ty::Str) | (Ty::Str, Ty::Tier))
        || matches!((a, b), (Ty::Rec(x), Ty::Rec(y)) if x == y)
}

fn unknown(n: &Name, what: &str, suggestion: Option<&str>) -> RuleError {
    let mut e = RuleError::new("unknown-name", format!("unknown {what} `{}`", n.text), n.span).with_label(format!("no such {what}"));
    if let Some(s) = suggestion {
        e.help = Some(format!("did you mean `{s}`?"));
    }
    e
}

#[derive(Default)]
struct Scope {
    /// (name, type, the generator depth at which it is bound)
    vars: Vec<(String, Ty, usize)>,
    /// Per variable: its definition had an error (already reported). Its uses compile to
    /// nothing and report nothing more, so one mistake is one diagnostic.
    poisoned: Vec<bool>,
    depth: usize,
}

impl Scope {
    fn bind(&mut self, name: &Name, ty: Ty, depth: usize) -> usize {
        self.vars.push((name.text.clone(), ty, depth));
        self.poisoned.push(false);
        self.vars.len() - 1
    }
    /// Bind a variable whose definition failed to compile.
    fn bind_poisoned(&mut self, name: &Name, depth: usize) {
        let slot = self.bind(name, Ty::None, depth);
        self.poisoned[slot] = true;
    }
    fn lookup(&self, name: &str) -> Option<(usize, Ty, usize)> {
        self.vars.iter().enumerate().rev().find(|(_, v)| v.0 == name).map(|(i, v)| (i, v.1, v.2))
    }
    fn is_poisoned(&self, slot: usize) -> bool {
        self.poisoned.get(slot).copied().unwrap_or(false)
    }
}
