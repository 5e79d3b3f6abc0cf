//! Gate 6's upstream dependencies resolved to recipes (by the rule of
//! [`crate::upstream`], shared with Gate 5), and the reconciliation report.

use std::collections::HashSet;

use crate::finding::Finding;
use crate::lang::compile::Policy;
use crate::scan::ScanFacts;
use crate::upstream::{self, Resolution, Resolver};
use crate::source::{SourceMap, Span};
use crate::tree::{DepKind, Tree};

/// One upstream dependency with its recipes decided.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub package: u32,
    pub dep: u32,
    pub recipes: Vec<u32>,
    /// The alias set item that matched, when one did.
    pub because: Option<Span>,
    pub declared: bool,
    pub divergence: Option<u32>,
    /// The name is in the rules' `scan ignore`: never a recipe, whatever resolves.
    pub ignored: bool,
}

/// Resolve every scanned dependency, in scan order (package, then file order), by the
/// one rule of [`crate::upstream`].
pub fn resolve(tree: &Tree, policy: &Policy, scan: &ScanFacts) -> Vec<Resolved> {
    let resolver = Resolver::new(tree, policy);
    let mut out = vec![];
    for (pi, ps) in scan.packages.iter().enumerate() {
        let Some(pkg) = tree.packages.get(pi) else { continue };
        for (di, d) in ps.deps.iter().enumerate() {
            let name = d.found.name.as_str();
            let Resolution { recipes, because } = resolver.resolve(name, d.found.kind == "header");
            let declared = recipes.iter().any(|&r| {
                let rn = &tree.packages[r as usize].name;
                r as usize == pi || pkg.deps.iter().any(|x| x.kind != DepKind::Runtime && &x.name == rn)
            });
            let recipe_names = recipes.iter().map(|&r| tree.packages[r as usize].name.as_str());
            let divergence = upstream::divergence(policy, &pkg.name, std::iter::once(name).chain(recipe_names));
            let ignored = resolver.ignored(name);
            out.push(Resolved { package: pi as u32, dep: di as u32, recipes, because, declared, divergence, ignored });
        }
    }
    out
}

/// The checks whose findings are the report's gaps: an upstream dependency a recipe
/// provides that the package does not declare (`rules/scan.pol`).
pub const GAP_CHECKS: [&str; 2] = ["undeclared-dep", "undeclared-dep-soft"];

/// The reconciliation report: per package, every upstream-required dependency that a
/// recipe exists for but the package does not declare, split into real gaps and
/// recorded divergences (with their justification). What a gap is, the checks decide:
/// the gaps are the `findings` of [`GAP_CHECKS`] (each points at its upstream line),
/// those of required dependencies; a divergence row is a required dependency whose
/// finding a divergence record took away (undeclared, provided, not ignored).
pub fn report<'f>(tree: &Tree, policy: &Policy, scan: &ScanFacts, sources: &SourceMap, findings: impl IntoIterator<Item = &'f Finding>) -> String {
    let found: HashSet<Span> = findings.into_iter().filter(|f| GAP_CHECKS.contains(&f.check.as_str())).filter_map(|f| f.at).collect();
    let mut rows: Vec<(u32, bool, String)> = vec![];
    for r in resolve(tree, policy, scan) {
        let d = &scan.packages[r.package as usize].deps[r.dep as usize];
        if !d.found.required || r.recipes.is_empty() {
            continue;
        }
        let gap = found.contains(&d.span);
        if !gap && (r.divergence.is_none() || r.declared || r.ignored) {
            continue;
        }
        let recipe = &tree.packages[r.recipes[0] as usize].name;
        let tarball = scan.packages[r.package as usize].tarball.as_deref().unwrap_or("");
        let cond = if d.found.conditional { ", conditional" } else { "" };
        let what = format!("{recipe} ({} `{}`, {tarball}!{}:{}{cond})", d.found.kind, d.found.name, d.file, d.found.line);
        match r.divergence.and_then(|i| policy.divergences.get(i as usize)).filter(|_| !gap) {
            Some(dv) => {
                let file = sources.get(dv.span.source);
                let (line, _) = file.line_col(dv.span.start);
                let approver = dv.approver.as_deref().map(|a| format!(", approved by {a}")).unwrap_or_default();
                rows.push((r.package, true, format!("  divergence  {what}\n              reason: {}{approver} ({}:{line})", dv.reason, file.name)));
            }
            None => rows.push((r.package, false, format!("  gap         {what}"))),
        }
    }
    rows.sort_by(|a, b| (&tree.packages[a.0 as usize].name, a.1, &a.2).cmp(&(&tree.packages[b.0 as usize].name, b.1, &b.2)));
    let mut out = format!("reconciliation: upstream-required dependencies missing from build deps (sources {})\n", scan.dir);
    if !scan.present {
        out.push_str(&format!("not scanned: no source tarballs at {}\n", scan.dir));
        return out;
    }
    let mut last = None;
    for (p, _, line) in &rows {
        if last != Some(*p) {
            out.push_str(&tree.packages[*p as usize].name);
            out.push('\n');
            last = Some(*p);
        }
        out.push_str(line);
        out.push('\n');
    }
    let gaps = rows.iter().filter(|r| !r.1).count();
    let mut pkgs: Vec<u32> = rows.iter().map(|r| r.0).collect();
    pkgs.dedup();
    out.push_str(&format!(
        "{gaps} gap(s), {} recorded divergence(s) in {} package(s); {} tarball(s) scanned\n",
        rows.len() - gaps,
        pkgs.len(),
        scan.scanned
    ));
    out
}
