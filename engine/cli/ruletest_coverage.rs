//! `igos test --coverage`: what the rules' test cases exercise. Per tree check, the cases
//! that make it fire and the cases that assert it silent (`not <check> ...` lines that
//! held); the checks no case makes fire; the entries of the tier lists (the sets a
//! classification consults) that no case reaches, i.e. that name no recipe of any case tree.

use crate::lang::compile::{CLayer, Policy};
use crate::lang::glob;
use crate::visible::visible;

use super::ruletest_case::{CaseRun, Expect};

/// Lines are wrapped at this width.
const WIDTH: usize = 100;

/// A case by its directory's last component (`rules/tests/orphan` → `orphan`).
fn case_name(r: &CaseRun) -> String {
    let name = r.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| r.dir.to_string_lossy().into_owned());
    visible(&name).into_owned()
}

/// The checks in the order `igos check` reports them: gate by gate, then the ungated.
fn check_order(policy: &Policy) -> Vec<usize> {
    let mut order: Vec<usize> = policy.gates.iter().flat_map(|g| g.checks.iter().copied()).collect();
    let mut seen = std::collections::HashSet::new();
    order.retain(|i| seen.insert(*i));
    order.extend((0..policy.checks.len()).filter(|i| !seen.contains(i)));
    order.retain(|&i| policy.checks[i].domain == crate::facts::tree::TREE.id);
    order
}

/// `a, b, c` wrapped at [`WIDTH`], continuation lines indented by `indent`.
fn wrapped(items: &[String], first: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut col = first;
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() { format!("{item},") } else { item.clone() };
        if i > 0 {
            if col + 1 + piece.len() > WIDTH {
                out += &format!("\n{}", " ".repeat(indent));
                col = indent;
            } else {
                out.push(' ');
                col += 1;
            }
        }
        col += piece.chars().count();
        out += &piece;
    }
    out
}

/// The coverage report of the cases `runs` over `policy`.
pub fn report(policy: &Policy, runs: &[CaseRun]) -> String {
    let v = |s: &str| visible(s).into_owned();
    let order = check_order(policy);
    let others = policy.checks.iter().filter(|c| c.domain != crate::facts::tree::TREE.id).count();
    let mut out = format!("── Coverage of {} case(s) ──\n", runs.len());
    out += &format!(
        "{} tree checks ({} pkm and image checks are not run on test trees)\n\n",
        order.len(),
        others
    );
    let mut silent_only = vec![];
    let mut never = vec![];
    let mut fired = 0;
    for &i in &order {
        let id = policy.checks[i].id.as_str();
        let mut fires = vec![];
        let mut silent = vec![];
        for r in runs {
            let mut subjects: Vec<&str> = r.outcome.findings().filter(|f| f.check == id).map(|f| f.subject.as_str()).collect();
            subjects.dedup();
            if !subjects.is_empty() {
                let shown: Vec<String> = subjects.iter().take(3).map(|s| v(s)).collect();
                let more = if subjects.len() > 3 { format!(", +{}", subjects.len() - 3) } else { String::new() };
                fires.push(format!("{} ({}{more})", case_name(r), shown.join(", ")));
            }
            let held: Vec<String> = r
                .expect
                .iter()
                .filter_map(|(_, e)| match e {
                    Expect::Not(c, s) if c == id && !r.outcome.findings().any(|f| f.check == *c && f.subject == *s && !f.is_waived()) => Some(v(s)),
                    _ => None,
                })
                .collect();
            if !held.is_empty() {
                silent.push(format!("{} ({})", case_name(r), held.join(", ")));
            }
        }
        let gate = policy.gate_of(i).map(|g| v(&g.title)).unwrap_or_else(|| "no gate".into());
        if fires.is_empty() {
            if silent.is_empty() {
                never.push((v(id), gate));
            } else {
                silent_only.push((v(id), gate, silent));
            }
            continue;
        }
        fired += 1;
        out += &format!("{}  ({gate})\n", v(id));
        out += &format!("    fires in:         {}\n", wrapped(&fires, 22, 22));
        if !silent.is_empty() {
            out += &format!("    asserted silent:  {}\n", wrapped(&silent, 22, 22));
        }
    }
    out += &format!("\n{fired} of {} tree checks fire in a case\n", order.len());
    if !silent_only.is_empty() {
        out += &format!("\nchecks asserted silent but made to fire by no case ({}):\n", silent_only.len());
        for (id, gate, silent) in &silent_only {
            out += &format!("  {id:<30} {gate}; silent in {}\n", silent.join(", "));
        }
    }
    if !never.is_empty() {
        out += &format!("\nchecks no case exercises ({}):\n", never.len());
        for (id, gate) in &never {
            out += &format!("  {id:<30} {gate}\n");
        }
    }
    out += &unreached_entries(policy, runs);
    out
}

/// The entries of the sets a classification consults that no case tree has a recipe for
/// (a glob: that matches no case recipe), set by set in the order the layers use them.
fn unreached_entries(policy: &Policy, runs: &[CaseRun]) -> String {
    let names: std::collections::BTreeSet<&str> = runs.iter().flat_map(|r| r.packages.iter().map(String::as_str)).collect();
    let mut sets = vec![];
    for cl in &policy.classifications {
        for layer in &cl.layers {
            if let CLayer::InSet { set, .. } = layer {
                if !sets.contains(set) {
                    sets.push(*set);
                }
            }
        }
    }
    let (mut total, mut unreached_total) = (0, 0);
    let mut body = String::new();
    for &s in &sets {
        let set = &policy.sets[s];
        let entries: Vec<&str> = set.exact.iter().chain(&set.globs).map(|(n, _)| n.as_str()).collect();
        let unreached: Vec<String> = entries
            .iter()
            .filter(|e| if glob::is_glob(e) { !names.iter().any(|n| glob::matches(e, n)) } else { !names.contains(*e) })
            .map(|e| visible(e).into_owned())
            .collect();
        total += entries.len();
        unreached_total += unreached.len();
        if unreached.is_empty() {
            continue;
        }
        let head = format!("  {} ({} of {}): ", visible(&set.name), unreached.len(), entries.len());
        let width = head.chars().count();
        body += &format!("{head}{}\n", wrapped(&unreached, width, 4));
    }
    format!("\nset entries no case reaches: {unreached_total} of {total} (the sets a classification consults; reached: a case has a recipe the entry names)\n{body}")
}
