//! The verdict of one evaluation: findings grouped by gate, in gate order, each gate's
//! findings in its checks' order; the exit code (0 pass, 1 halt, 2 a check stopped by its
//! step budget). The checker ([`crate::checker`]) produces the findings; this module only
//! arranges them, so the reports and the checker both stand on it.

use crate::finding::Finding;
use crate::lang::ast::Severity;
use crate::lang::compile::Policy;
use crate::scanb::ScanBFacts;

/// The findings of one gate (or of the rules themselves, `id` = "rules").
#[derive(Debug)]
pub struct GateResult {
    pub id: String,
    pub title: String,
    pub findings: Vec<Finding>,
    /// Why the gate did not run (Scan B without a previous build), shown as one line.
    pub skipped: Option<String>,
}

impl GateResult {
    pub fn halting(&self) -> usize {
        self.findings.iter().filter(|f| f.halts()).count()
    }
    pub fn advisories(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Advisory && !f.is_waived()).count()
    }
    pub fn waived(&self) -> usize {
        self.findings.iter().filter(|f| f.is_waived()).count()
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub packages: usize,
    pub gates: Vec<GateResult>,
}

impl Outcome {
    pub fn halting(&self) -> usize {
        self.gates.iter().map(GateResult::halting).sum()
    }
    /// 2 when a check was stopped by its step budget (the rules are unusable as written),
    /// else 1 when a finding halts.
    pub fn exit_code(&self) -> i32 {
        if self.findings().any(|f| f.check == crate::eval::run::BUDGET_CHECK) {
            return 2;
        }
        i32::from(self.halting() > 0)
    }
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.gates.iter().flat_map(|g| g.findings.iter())
    }
}

/// `all` (every finding of a tree evaluation, waivers applied) by gate: the validate gates
/// in the rules' order, then "Rule files" for findings of no gate. A gate whose checks read
/// the build logs says it was skipped when `scan_b` has no reference build.
pub fn by_gate(policy: &Policy, packages: usize, scan_b: Option<&ScanBFacts>, all: Vec<Finding>) -> Outcome {
    let mut gates: Vec<GateResult> = policy
        .gates
        .iter()
        // A gate of another domain's checks (the image audit) is not a validate gate.
        .filter(|g| g.checks.is_empty() || g.checks.iter().any(|&c| policy.checks[c].domain == crate::facts::tree::TREE.id))
        .map(|g| GateResult {
            id: g.id.clone(),
            title: g.title.clone(),
            findings: vec![],
            skipped: scan_b.and_then(|s| s.skipped()).filter(|_| g.checks.iter().any(|&c| reads_build_logs(&policy.checks[c]))),
        })
        .collect();
    let mut rest = GateResult { id: "rules".into(), title: "Rule files".into(), findings: vec![], skipped: None };
    // Each finding's gate found once; every gate's list sized once before it is filled.
    let slot = |f: &Finding| f.gate.as_ref().and_then(|id| gates.iter().position(|g| &g.id == id)).unwrap_or(gates.len());
    let slots: Vec<usize> = all.iter().map(slot).collect();
    let mut counts = vec![0; gates.len() + 1];
    for &s in &slots {
        counts[s] += 1;
    }
    for (g, &n) in gates.iter_mut().chain(std::iter::once(&mut rest)).zip(&counts) {
        g.findings.reserve_exact(n);
    }
    for (f, s) in all.into_iter().zip(slots) {
        match gates.get_mut(s) {
            Some(g) => g.findings.push(f),
            None => rest.findings.push(f),
        }
    }
    let rank: std::collections::HashMap<&str, usize> = policy.checks.iter().enumerate().map(|(i, c)| (c.id.as_str(), i)).collect();
    for g in gates.iter_mut().chain(std::iter::once(&mut rest)) {
        // Within a gate: in the gate's check order, then by subject and position.
        // Keys compared by reference, check ranks looked up once: tens of thousands of
        // findings on a large tree.
        let order = |f: &Finding| rank.get(f.check.as_str()).copied().unwrap_or(usize::MAX);
        g.findings.sort_by(|a, b| {
            (order(a), a.check.as_str(), a.subject.as_str(), a.at).cmp(&(order(b), b.check.as_str(), b.subject.as_str(), b.at))
        });
    }
    gates.push(rest);
    Outcome { packages, gates }
}

/// The check ranges over Scan B's facts (`build_logs`, `log_hits`).
fn reads_build_logs(check: &crate::lang::compile::CheckDef) -> bool {
    use crate::lang::compile::{CExpr, Step};
    check.steps.iter().any(|s| match s {
        Step::For(_, CExpr::Relation(r)) | Step::Join { source: CExpr::Relation(r), .. } => {
            r.domain == crate::facts::tree::TREE.id
                && matches!(crate::facts::tree::TREE.relations.get(r.index).map(|d| d.name), Some("build_logs" | "log_hits"))
        }
        _ => false,
    })
}
