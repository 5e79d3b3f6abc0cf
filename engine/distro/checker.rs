//! One entry point for checking a tree: where its inputs are ([`Inputs`]), the facts the
//! gates read beside the tree ([`Inputs::audit`], [`Inputs::scans`]), and the evaluation
//! itself ([`Checker`]: the tree domain, the classification computed once, every check,
//! the engine's own advisories, the waivers, the gates). `igos check`, its `--baseline`
//! review, `igos explain`, `igos test` and `igos build` all check through it, so they read
//! the same facts from the same places and report the same findings.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::audit::AuditFacts;
use crate::eval::classify;
use crate::eval::run::{apply_waivers, Engine};
use crate::facts::tree::{TreeFacts, TREE};
use crate::finding::{Finding, WaiverState};
use crate::lang::ast::Severity;
use crate::lang::compile::Policy;
use crate::outcome::Outcome;
use crate::scan::ScanFacts;
use crate::scanb::ScanBFacts;
use crate::source::SourceMap;
use crate::tree::Tree;

/// Where a check reads: the tree's root, the rules, and the build state the gates read
/// (each `None` is the default `igos check` uses, under the root).
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub root: PathBuf,
    /// The rule files' directory; None: the rules built in.
    pub rules: Option<PathBuf>,
    /// Gate 2's audit database (default `<root>/build/audit.db`).
    pub audit_db: Option<PathBuf>,
    /// The audit store (default `<root>/audits`, else `<root>/packages/audits`).
    pub audit_store: Option<PathBuf>,
    /// Gate 6's source tarballs (default `<root>/sources`).
    pub sources: Option<PathBuf>,
    /// Gate 5's reference of the last good build (default `<root>/build/reference.json`).
    pub reference: Option<PathBuf>,
}

/// Why a check cannot run (exit 2): what the diagnostic says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
}

/// Gates 5 and 6's facts: the source scan and the build logs of the last good build.
pub struct Scans {
    pub scan: ScanFacts,
    pub scan_b: ScanBFacts,
}

impl Inputs {
    pub fn new(root: impl Into<PathBuf>) -> Inputs {
        Inputs { root: root.into(), ..Inputs::default() }
    }

    pub fn audit_db(&self) -> PathBuf {
        self.audit_db.clone().unwrap_or_else(|| crate::audit::default_db(&self.root))
    }

    pub fn audit_store(&self) -> PathBuf {
        self.audit_store.clone().unwrap_or_else(|| default_store(&self.root))
    }

    pub fn sources_dir(&self) -> PathBuf {
        self.sources.clone().unwrap_or_else(|| crate::scan::default_sources(&self.root))
    }

    pub fn scan_cache(&self) -> PathBuf {
        crate::scan::default_cache(&self.root)
    }

    pub fn reference(&self) -> PathBuf {
        self.reference.clone().unwrap_or_else(|| crate::scanb::reference::default_path(&self.root))
    }

    /// Gate 2's facts: the audit database and the store's records it does not hold yet.
    pub fn audit(&self) -> Result<AuditFacts, Unusable> {
        crate::audit::load_facts(&self.audit_db(), &self.audit_store()).map_err(|e| match e {
            crate::audit::FactsError::Database(e) => Unusable {
                code: "audit::database",
                message: e.to_string(),
                help: Some("rebuild it from the audit store: igos audit aggregate".into()),
            },
            crate::audit::FactsError::Store(e) => Unusable {
                code: "audit::store",
                message: e,
                help: Some("make the audit store and its records regular files this user can read (igos audit <package> writes a record again)".into()),
            },
        })
    }

    /// The source scan (Gate 6): a tarball that cannot be read is a fact, a sources
    /// directory that cannot be listed makes the check unusable, never a pass without it.
    pub fn scan(&self, tree: &Tree, sources: &mut SourceMap) -> Result<ScanFacts, Unusable> {
        crate::scan::load(tree, &self.sources_dir(), &self.scan_cache(), sources).map_err(|e| Unusable {
            code: "scan::sources",
            message: format!("the sources directory cannot be listed: {e}"),
            help: Some("make it readable by this user, or name another with --sources".into()),
        })
    }

    /// The build logs of the reference (Gate 5): a reference that exists but cannot be read
    /// makes the check unusable, never a check without its gate.
    pub fn scan_b(&self, tree: &Tree, policy: &Policy, sources: &mut SourceMap) -> Result<ScanBFacts, Unusable> {
        crate::scanb::load(tree, policy, &self.reference(), sources).map_err(|e| Unusable {
            code: "reference::unusable",
            message: e,
            help: Some("save it again after a good build: igos reference save".into()),
        })
    }

    /// Gates 5 and 6's facts of `tree`.
    pub fn scans(&self, tree: &Tree, policy: &Policy, sources: &mut SourceMap) -> Result<Scans, Unusable> {
        let scan = self.scan(tree, sources)?;
        let scan_b = self.scan_b(tree, policy, sources)?;
        Ok(Scans { scan, scan_b })
    }
}

/// The audit store of a tree: `<root>/audits`, or `<root>/packages/audits` in a tree whose
/// builder lists live under packages/ (the conformance corpus's layout).
pub fn default_store(root: &Path) -> PathBuf {
    let top = crate::audit::default_store(root);
    if !top.is_dir() && root.join("packages/builders").is_dir() {
        root.join("packages/audits")
    } else {
        top
    }
}

/// A tree and the rules' tree checks, with whatever facts the gates have. The domain's
/// facts are indexed the first time something needs them: a re-check that reuses every
/// check's findings ([`Checker::findings_keeping`]) never builds them.
pub struct Checker<'a> {
    policy: &'a Policy,
    tree: &'a Tree,
    audit: Option<(&'a AuditFacts, &'a SourceMap)>,
    scan: Option<&'a ScanFacts>,
    scan_b: Option<&'a ScanBFacts>,
    today: String,
    facts: OnceLock<TreeFacts<'a>>,
}

/// One evaluation: the gates' findings, and the engine that produced them (its
/// classification, for what a caller shows beside the findings).
pub struct Checked<'c> {
    pub outcome: Outcome,
    pub engine: Engine<'c, 'c>,
}

/// Findings of an earlier evaluation over the same facts that a re-check may reuse, and
/// that it fills with what it had to compute. Which of them still hold after the rules
/// changed is the caller's judgement (the editor server compares what each check reads).
#[derive(Default)]
pub struct Kept {
    /// Per check of the policy, by index (None: run it).
    pub checks: Vec<Option<Arc<Vec<Finding>>>>,
    /// Set entries an earlier layer already decides (they follow the classifications).
    pub shadowed: Option<Arc<Vec<Finding>>>,
    /// Globs of the rules that match no recipe (they follow the classifications and builders).
    pub tree_lints: Option<Arc<Vec<Finding>>>,
}

impl<'a> Checker<'a> {
    /// The tree checks of `policy` over `tree`, as of today (`IGOS_TODAY` pins it).
    pub fn new(policy: &'a Policy, tree: &'a Tree) -> Checker<'a> {
        Checker { policy, tree, audit: None, scan: None, scan_b: None, today: crate::date::today(), facts: OnceLock::new() }
    }

    /// Gate 2: the audit facts (and the packages' `.audit-override` files, from `sources`).
    pub fn audit(mut self, audit: &'a AuditFacts, sources: &'a SourceMap) -> Checker<'a> {
        self.audit = Some((audit, sources));
        self.facts = OnceLock::new();
        self
    }

    /// Gate 6: the source scan.
    pub fn scan(mut self, scan: &'a ScanFacts) -> Checker<'a> {
        self.scan = Some(scan);
        self.facts = OnceLock::new();
        self
    }

    /// Gate 5: the build logs.
    pub fn scan_b(mut self, scan_b: &'a ScanBFacts) -> Checker<'a> {
        self.scan_b = Some(scan_b);
        self.facts = OnceLock::new();
        self
    }

    /// Gates 5 and 6.
    pub fn scans(self, scans: &'a Scans) -> Checker<'a> {
        self.scan(&scans.scan).scan_b(&scans.scan_b)
    }

    /// The date waivers expire against (YYYY-MM-DD).
    pub fn today(mut self, today: &str) -> Checker<'a> {
        self.today = today.to_string();
        self
    }

    /// The domain's facts, for a caller that asks them more (the build's phase of a recipe).
    pub fn facts(&self) -> &TreeFacts<'a> {
        self.facts.get_or_init(|| {
            let mut facts = TreeFacts::new(self.tree, self.policy);
            if let Some((audit, sources)) = self.audit {
                facts = facts.with_audit(audit, sources);
            }
            if let Some(scan) = self.scan {
                facts = facts.with_scan(scan);
            }
            if let Some(scan_b) = self.scan_b {
                facts = facts.with_scan_b(scan_b);
            }
            facts
        })
    }

    /// Classify once and evaluate every tree check: findings by gate, waivers applied.
    pub fn run(&self) -> Checked<'_> {
        let engine = self.engine();
        let shadowed = shadowed_entries(&engine);
        // Room for what is added to the checks' findings, so the list is never copied to grow.
        let mut all: Vec<Finding> = engine.run_all(shadowed.len() + self.policy.waivers.len());
        all.extend(shadowed);
        self.finish(&mut all, self.tree_lints());
        let outcome = crate::outcome::by_gate(self.policy, self.tree.packages.len(), self.scan_b, all);
        Checked { outcome, engine }
    }

    /// Every finding of [`Checker::run`], waivers applied, in evaluation order (each tree
    /// check's in the rules' order, then the engine's advisories) rather than by gate;
    /// what `kept` holds is reused, what it lacks is computed (the checks on every core)
    /// and kept there for the next call.
    pub fn findings_keeping(&self, kept: &mut Kept) -> Vec<Finding> {
        let mine: Vec<usize> = (0..self.policy.checks.len()).filter(|&i| self.policy.checks[i].domain == TREE.id).collect();
        kept.checks.resize(self.policy.checks.len(), None);
        let todo: Vec<usize> = mine.iter().copied().filter(|&i| kept.checks[i].is_none()).collect();
        if !todo.is_empty() || kept.shadowed.is_none() {
            let engine = self.engine();
            let found = crate::parallel::map_each(&todo, |&i| engine.run_check(i));
            for (i, f) in todo.into_iter().zip(found) {
                kept.checks[i] = Some(Arc::new(f));
            }
            if kept.shadowed.is_none() {
                kept.shadowed = Some(Arc::new(shadowed_entries(&engine)));
            }
        }
        let lints = kept.tree_lints.get_or_insert_with(|| Arc::new(self.tree_lints())).clone();
        let shadowed = kept.shadowed.clone().unwrap_or_default();
        let checks = mine.iter().filter_map(|&i| kept.checks[i].as_deref());
        let mut all: Vec<Finding> = Vec::with_capacity(checks.clone().map(Vec::len).sum::<usize>() + shadowed.len() + self.policy.waivers.len());
        for found in checks {
            all.extend(found.iter().cloned());
        }
        all.extend(shadowed.iter().cloned());
        self.finish(&mut all, lints.iter().cloned());
        all
    }

    /// The classification alone (no check runs): for `igos explain` of a package.
    pub fn engine(&self) -> Engine<'_, '_> {
        let mut engine = Engine::new(self.policy, self.facts());
        engine.today = self.today.as_str().into();
        engine
    }

    /// The rule lints that need the tree: globs of the rules (classifications' sets,
    /// builders' names) that match no recipe, aliases named one edit away from a recipe.
    fn tree_lints(&self) -> Vec<Finding> {
        let names = || self.tree.packages.iter().map(|p| p.name.as_str());
        let mut lints = crate::lints::unmatched_globs(self.policy, names());
        lints.extend(crate::lints::misspelt_aliases(self.policy, names()));
        lints
    }

    /// After the checks' findings and the shadowed entries: checks in no gate, the rule
    /// lints, the lints over the tree; then the waivers.
    fn finish(&self, all: &mut Vec<Finding>, tree_lints: impl IntoIterator<Item = Finding>) {
        all.extend(ungated_checks(self.policy));
        all.extend(self.policy.lints.iter().cloned());
        all.extend(tree_lints);
        apply_waivers(self.policy, all, &self.today, TREE.id);
    }
}

/// A tree check that no gate lists still runs, but reports under "Rule files" rather than
/// in the gate its author meant: an advisory says so.
fn ungated_checks(policy: &Policy) -> Vec<Finding> {
    (0..policy.checks.len())
        .filter(|&i| policy.checks[i].domain == TREE.id && policy.gate_of(i).is_none())
        .map(|i| {
            let c = &policy.checks[i];
            Finding {
                check: "check-without-gate".into(),
                severity: Severity::Advisory,
                gate: None,
                subject: c.id.clone(),
                object: None,
                message: format!("check `{}` is in no gate: its findings are reported under \"Rule files\"", c.id),
                help: Some("list it in the gate it belongs to (rules/gates.pol)".into()),
                at: Some(c.span),
                rule: Some(c.span),
                because: None,
                waiver: WaiverState::None,
            }
        })
        .collect()
}

/// Set entries an earlier layer of their classification already decides.
fn shadowed_entries(engine: &Engine) -> Vec<Finding> {
    let policy = engine.policy;
    let mut out = vec![];
    for cl in &policy.classifications {
        for s in classify::shadowed(cl, &engine.sets) {
            let tier = |t: u16| policy.tiers.name(Some(t)).to_string();
            out.push(Finding {
                check: "shadowed-entry".into(),
                severity: Severity::Advisory,
                gate: None,
                subject: s.name.clone(),
                object: None,
                message: format!(
                    "`{}` is listed for {} here, but an earlier layer of `{}` already classifies it as {}: this entry is never reached",
                    s.name,
                    tier(s.tier),
                    cl.name,
                    tier(s.earlier_tier)
                ),
                help: Some(format!(
                    "first match wins: remove this line, or move the entry above the earlier layer if {} is right",
                    tier(s.tier)
                )),
                at: Some(s.item),
                rule: Some(cl.span),
                because: Some(s.earlier),
                waiver: WaiverState::None,
            });
        }
    }
    out
}
