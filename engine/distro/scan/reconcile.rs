//! Upstream names → recipes, and the reconciliation report.
//!
//! The map is rule data (`rules/scan.pol`): an upstream name is provided by the recipe of
//! the same name, or by every recipe `r` whose `alias r { ... }` admits it (names and globs,
//! `!` excludes); failing both, by a recipe named like a normalised form of it (lowercase,
//! version suffix `-2.0` removed, `+` removed, `lib` prefix removed; for a library `x`,
//! the recipe `libx`).

use std::collections::HashMap;

use crate::eval::classify::BoundSet;
use crate::lang::compile::Policy;
use crate::lang::glob;
use crate::scan::ScanFacts;
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

fn strip_version(n: &str) -> &str {
    // `-2.0`, `-1`, `3.0` at the end after a dash.
    match n.rfind('-') {
        Some(i) if i > 0 && n[i + 1..].chars().next().is_some_and(|c| c.is_ascii_digit()) && n[i + 1..].chars().all(|c| c.is_ascii_digit() || c == '.') => &n[..i],
        _ => n,
    }
}

fn fallbacks(name: &str, kind: &str) -> Vec<String> {
    if kind == "header" {
        return vec![];
    }
    let lower = name.to_ascii_lowercase();
    let base = strip_version(&lower).to_string();
    let mut out = vec![lower.clone(), base.clone(), base.replace('+', "")];
    if let Some(x) = base.strip_prefix("lib") {
        out.push(x.to_string());
    }
    if kind == "lib" {
        out.push(format!("lib{lower}"));
    }
    out
}

/// Resolve every scanned dependency, in scan order (package, then file order).
pub fn resolve(tree: &Tree, policy: &Policy, scan: &ScanFacts) -> Vec<Resolved> {
    let mut by_name: HashMap<&str, u32> = HashMap::new();
    for (i, p) in tree.packages.iter().enumerate() {
        by_name.entry(p.name.as_str()).or_insert(i as u32);
    }
    let aliases: Vec<(u32, BoundSet)> =
        policy.aliases.iter().filter_map(|a| Some((*by_name.get(a.recipe.as_str())?, BoundSet::bind(&a.names, None)))).collect();
    let ignore = policy.scan_ignore.as_ref().map(|s| BoundSet::bind(s, None));
    let mut out = vec![];
    for (pi, ps) in scan.packages.iter().enumerate() {
        let Some(pkg) = tree.packages.get(pi) else { continue };
        for (di, d) in ps.deps.iter().enumerate() {
            let name = d.found.name.as_str();
            let mut recipes: Vec<u32> = by_name.get(name).copied().into_iter().collect();
            let mut because = None;
            for (r, set) in &aliases {
                if let Some(item) = set.find(name) {
                    because.get_or_insert(item);
                    recipes.push(*r);
                }
            }
            if recipes.is_empty() {
                recipes.extend(fallbacks(name, &d.found.kind).iter().filter_map(|n| by_name.get(n.as_str()).copied()).take(1));
            }
            let mut seen = vec![];
            recipes.retain(|r| if seen.contains(r) { false } else { seen.push(*r); true });
            let declared = recipes.iter().any(|&r| {
                let rn = &tree.packages[r as usize].name;
                r as usize == pi || pkg.deps.iter().any(|x| x.kind != DepKind::Runtime && &x.name == rn)
            });
            let divergence = policy
                .divergences
                .iter()
                .position(|dv| {
                    glob::matches(&dv.package, &pkg.name)
                        && (glob::matches(&dv.dependency, name)
                            || recipes.iter().any(|&r| glob::matches(&dv.dependency, &tree.packages[r as usize].name)))
                })
                .map(|i| i as u32);
            let ignored = ignore.as_ref().is_some_and(|s| s.find(name).is_some());
            out.push(Resolved { package: pi as u32, dep: di as u32, recipes, because, declared, divergence, ignored });
        }
    }
    out
}

/// The reconciliation report: per package, every upstream-required dependency that a
/// recipe exists for but the package does not declare, split into real gaps and
/// recorded divergences (with their justification). Names of `scan ignore` are skipped.
pub fn report(tree: &Tree, policy: &Policy, scan: &ScanFacts, sources: &SourceMap) -> String {
    let mut rows: Vec<(u32, bool, String)> = vec![];
    for r in resolve(tree, policy, scan) {
        let d = &scan.packages[r.package as usize].deps[r.dep as usize];
        if !d.found.required || r.declared || r.recipes.is_empty() || r.ignored {
            continue;
        }
        let recipe = &tree.packages[r.recipes[0] as usize].name;
        let tarball = scan.packages[r.package as usize].tarball.as_deref().unwrap_or("");
        let cond = if d.found.conditional { ", conditional" } else { "" };
        let what = format!("{recipe} ({} `{}`, {tarball}!{}:{}{cond})", d.found.kind, d.found.name, d.file, d.found.line);
        match r.divergence.and_then(|i| policy.divergences.get(i as usize)) {
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
