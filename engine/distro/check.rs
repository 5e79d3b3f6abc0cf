//! The validate phase: every gate of the rules over one tree, in gate order, each
//! reporting; then waivers; then the verdict (exit 0 pass, 1 halt).

use crate::eval::classify;
use crate::eval::run::{apply_waivers, Engine};
use crate::checker::Checker;
use crate::finding::{Finding, WaiverState};
use crate::lang::ast::Severity;
use crate::lang::compile::Policy;
use crate::tree::Tree;

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

/// Run every tree check. `today` (YYYY-MM-DD) decides which waivers have expired.
pub fn evaluate(policy: &Policy, tree: &Tree, today: &str) -> Outcome {
    evaluate_with_audit(policy, tree, None, today)
}

/// Run every tree check, Gate 2 included when the audit facts are given.
pub fn evaluate_with_audit(
    policy: &Policy,
    tree: &Tree,
    audit: Option<(&crate::audit::AuditFacts, &crate::source::SourceMap)>,
    today: &str,
) -> Outcome {
    evaluate_all(policy, tree, audit, None, today)
}

/// Run every tree check, with Gate 2's audit facts and Gate 6's source scan when given.
pub fn evaluate_all(
    policy: &Policy,
    tree: &Tree,
    audit: Option<(&crate::audit::AuditFacts, &crate::source::SourceMap)>,
    scan: Option<&crate::scan::ScanFacts>,
    today: &str,
) -> Outcome {
    evaluate_full(policy, tree, audit, scan, None, today)
}

/// Every tree check with every fact source: Gate 2's audit, Gate 5's build logs (Scan B),
/// Gate 6's source scan. A gate whose checks read the build logs says it was skipped when
/// there is no reference build.
pub fn evaluate_full(
    policy: &Policy,
    tree: &Tree,
    audit: Option<(&crate::audit::AuditFacts, &crate::source::SourceMap)>,
    scan: Option<&crate::scan::ScanFacts>,
    scan_b: Option<&crate::scanb::ScanBFacts>,
    today: &str,
) -> Outcome {
    let mut checker = Checker::new(policy, tree).today(today);
    if let Some((a, sources)) = audit {
        checker = checker.audit(a, sources);
    }
    if let Some(s) = scan {
        checker = checker.scan(s);
    }
    if let Some(s) = scan_b {
        checker = checker.scan_b(s);
    }
    checker.run().outcome
}

/// The gates of one evaluation: every check the engine runs over the tree domain, the
/// engine's own advisories (shadowed entries, ungated checks, lints), waivers applied,
/// findings in gate order. [`Checker::run`] is the way in.
pub(crate) fn outcome<'d>(engine: &Engine<'d, 'd>, policy: &Policy, tree: &Tree, scan_b: Option<&crate::scanb::ScanBFacts>, today: &str) -> Outcome {
    let shadowed = shadowed_entries(engine);
    // Room for what is added to the checks' findings, so the list is never copied to grow.
    let mut all: Vec<Finding> = engine.run_all(shadowed.len() + policy.waivers.len());
    all.extend(shadowed);
    all.extend(ungated_checks(policy));
    all.extend(policy.lints.iter().cloned());
    all.extend(crate::lints::unmatched_globs(policy, tree.packages.iter().map(|p| p.name.as_str())));
    all.extend(crate::lints::misspelt_aliases(policy, tree.packages.iter().map(|p| p.name.as_str())));
    apply_waivers(policy, &mut all, today, crate::facts::tree::TREE.id);

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
    Outcome { packages: tree.packages.len(), gates }
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

/// A tree check that no gate lists still runs, but reports under "Rule files" rather than
/// in the gate its author meant: an advisory says so.
fn ungated_checks(policy: &Policy) -> Vec<Finding> {
    (0..policy.checks.len())
        .filter(|&i| policy.checks[i].domain == crate::facts::tree::TREE.id && policy.gate_of(i).is_none())
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

pub use crate::date::{civil_date, today};
