//! The validate phase in one call, for callers that have the facts at hand (tests, the
//! fuzz target): every gate of the rules over one tree, waivers, the verdict. Each is a
//! shorthand for [`Checker`]; the verdict's types live in [`crate::outcome`].

use crate::checker::Checker;
use crate::lang::compile::Policy;
use crate::tree::Tree;

pub use crate::outcome::{GateResult, Outcome};
// The date waivers expire against, under the path older callers use (engine/pkm).
pub use crate::date::{civil_date, today};

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
