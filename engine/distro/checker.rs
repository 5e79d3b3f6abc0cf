//! One entry point for checking a tree: where its inputs are ([`Inputs`]), the facts the
//! gates read beside the tree ([`Inputs::audit`], [`Inputs::scans`]), and the evaluation
//! itself ([`Checker`]: the tree domain, the classification computed once, every check,
//! the engine's own advisories, the waivers, the gates). `igos check`, its `--baseline`
//! review, `igos explain`, `igos test` and `igos build` all check through it, so they read
//! the same facts from the same places and report the same findings.

use std::path::{Path, PathBuf};

use crate::audit::AuditFacts;
use crate::check::Outcome;
use crate::eval::run::Engine;
use crate::facts::tree::TreeFacts;
use crate::lang::compile::Policy;
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

/// A tree and the rules' tree checks, with whatever facts the gates have.
pub struct Checker<'a> {
    policy: &'a Policy,
    facts: TreeFacts<'a>,
    today: String,
}

/// One evaluation: the gates' findings, and the engine that produced them (its
/// classification, for what a caller shows beside the findings).
pub struct Checked<'c> {
    pub outcome: Outcome,
    pub engine: Engine<'c, 'c>,
}

impl<'a> Checker<'a> {
    /// The tree checks of `policy` over `tree`, as of today (`IGOS_TODAY` pins it).
    pub fn new(policy: &'a Policy, tree: &'a Tree) -> Checker<'a> {
        Checker { policy, facts: TreeFacts::new(tree, policy), today: crate::date::today() }
    }

    /// Gate 2: the audit facts (and the packages' `.audit-override` files, from `sources`).
    pub fn audit(mut self, audit: &'a AuditFacts, sources: &SourceMap) -> Checker<'a> {
        self.facts = self.facts.with_audit(audit, sources);
        self
    }

    /// Gate 6: the source scan.
    pub fn scan(mut self, scan: &'a ScanFacts) -> Checker<'a> {
        self.facts = self.facts.with_scan(scan);
        self
    }

    /// Gate 5: the build logs.
    pub fn scan_b(mut self, scan_b: &'a ScanBFacts) -> Checker<'a> {
        self.facts = self.facts.with_scan_b(scan_b);
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
        &self.facts
    }

    /// Classify once and evaluate every tree check: findings by gate, waivers applied.
    pub fn run(&self) -> Checked<'_> {
        let mut engine = Engine::new(self.policy, &self.facts);
        engine.today = self.today.as_str().into();
        let outcome = crate::check::outcome(&engine, self.policy, self.facts.tree, self.facts.scan_b(), &self.today);
        Checked { outcome, engine }
    }

    /// The classification alone (no check runs): for `igos explain` of a package.
    pub fn engine(&self) -> Engine<'_, '_> {
        let mut engine = Engine::new(self.policy, &self.facts);
        engine.today = self.today.as_str().into();
        engine
    }
}
