//! `igos check --since <git-rev>`: the recipes added or changed since a revision (the last
//! good build: `igos reference save` records its commit), listed first with their
//! findings, so decisions made after that build are reviewed before a gate is "fixed".

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::outcome::Outcome;
use crate::finding::Finding;
use crate::report::json::{view, ChangedView};
use crate::source::SourceMap;
use crate::tree::Tree;

/// One recipe directory that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// added, modified or removed
    pub status: &'static str,
    /// `packages/<tier>/<name>`
    pub dir: String,
    /// The recipe's name in today's tree (the directory name when removed).
    pub name: String,
}

use super::git::git;

/// The recipe directories under `packages/` that differ between `rev` and the working
/// tree (untracked recipes count as added). Err: a message for an exit-2 diagnostic.
pub fn changed(root: &Path, tree: &Tree, rev: &str) -> Result<Vec<Changed>, String> {
    let inside = git(root, &["rev-parse", "--is-inside-work-tree"])?;
    if !inside.status.success() {
        return Err(format!("--since needs a git work tree, and {} is not in one", root.display()));
    }
    // Verified first, and then only the commit id reaches git: never an option.
    let commit = super::git::verify_commit(root, rev).map_err(|e| format!("--since: {e}"))?;
    let diff = git(root, &["diff", "--relative", "--no-renames", "--name-status", &commit, "--", "packages/"])?;
    if !diff.status.success() {
        return Err(format!("git diff {rev} failed: {}", String::from_utf8_lossy(&diff.stderr).trim()));
    }
    let untracked = git(root, &["ls-files", "--others", "--exclude-standard", "--", "packages/"])?;
    let mut files: Vec<(char, String)> = String::from_utf8_lossy(&diff.stdout)
        .lines()
        .filter_map(|l| {
            let (st, path) = l.split_once('\t')?;
            Some((st.chars().next()?, path.to_string()))
        })
        .collect();
    files.extend(String::from_utf8_lossy(&untracked.stdout).lines().map(|p| ('A', p.to_string())));
    // Per recipe directory: was package.yml added, deleted, or something else changed?
    let mut dirs: BTreeMap<String, (Option<char>, bool)> = BTreeMap::new();
    for (st, path) in files {
        let parts: Vec<&str> = path.split('/').collect();
        if parts.len() < 4 || parts[0] != "packages" {
            continue;
        }
        let dir = parts[..3].join("/");
        let e = dirs.entry(dir).or_insert((None, false));
        if parts.len() == 4 && parts[3] == "package.yml" {
            e.0 = Some(st);
        } else {
            e.1 = true;
        }
    }
    let mut out = vec![];
    for (dir, (yml, _)) in dirs {
        let parts: Vec<&str> = dir.split('/').collect();
        let pkg = tree.packages.iter().find(|p| p.dir_tier == parts[1] && p.dir_name == parts[2]);
        let status = match (yml, pkg) {
            (Some('D'), None) => "removed",
            (_, None) => continue, // not a recipe directory (builder lists, audit records, ...)
            (Some('A'), Some(_)) => "added",
            _ => "modified",
        };
        let name = pkg.map(|p| p.name.clone()).unwrap_or_else(|| parts[2].to_string());
        out.push(Changed { status, dir, name });
    }
    Ok(out)
}

fn findings_of<'o>(outcome: &'o Outcome, name: &str) -> Vec<&'o Finding> {
    outcome.findings().filter(|f| f.subject == name && !f.is_waived()).collect()
}

/// The human section printed before the gates.
pub fn human(rev: &str, changed: &[Changed], outcome: &Outcome) -> String {
    let mut out = format!("── Changed since {rev} ──\n");
    if changed.is_empty() {
        out.push_str("  no recipe added or changed\n");
    }
    for c in changed {
        let fs = findings_of(outcome, &c.name);
        let what = if c.status == "removed" {
            String::new()
        } else if fs.is_empty() {
            ": no findings".to_string()
        } else {
            format!(": {} finding(s)", fs.len())
        };
        let _ = writeln!(out, "  {:<9} {} ({}){what}", c.status, c.name, c.dir);
        for f in fs {
            let _ = writeln!(out, "      {:<9} {}: {}", f.severity.as_str(), f.check, f.message);
        }
    }
    let _ = writeln!(out, "  review their history since {rev} before resolving a gate on them: a change made after\n  the last good build may be a deliberate, unrecorded decision\n");
    out
}

/// The `changed` section of the JSON report, each recipe with its findings.
pub fn json_changed<'a>(changed: &'a [Changed], outcome: &'a Outcome, sources: &'a SourceMap, fingerprints: &'a [String]) -> Vec<ChangedView<'a>> {
    let index: std::collections::HashMap<*const Finding, &str> =
        outcome.findings().zip(fingerprints).map(|(f, fp)| (f as *const Finding, fp.as_str())).collect();
    changed
        .iter()
        .map(|c| ChangedView {
            findings: findings_of(outcome, &c.name)
                .into_iter()
                .map(|f| view(sources, f, index.get(&(f as *const Finding)).copied().unwrap_or("")))
                .collect(),
            name: &c.name,
            path: &c.dir,
            status: c.status,
        })
        .collect()
}
