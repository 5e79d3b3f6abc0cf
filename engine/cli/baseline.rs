//! `igos check --baseline <git-rev>`: the review of a rule diff. The rules and the tree at
//! that revision and in the working tree are both evaluated; only what changed is printed:
//! findings added, findings gone, packages whose natural tier moved.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::check::{self, Outcome};
use crate::eval::run::Engine;
use crate::facts::tree::TreeFacts;
use crate::finding::Finding;
use crate::lang::ast::Severity;
use crate::source::SourceMap;

/// Extract `rev` of the git repository holding `dir` into a temporary directory; returns
/// (temp dir, the repository's top directory).
fn checkout(rev: &str, dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let abs = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    let top = Command::new("git")
        .arg("-C")
        .arg(&abs)
        .args(["rev-parse", "--show-toplevel"])
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !top.status.success() {
        return Err(format!("{} is not inside a git repository", dir.display()));
    }
    let top = PathBuf::from(String::from_utf8_lossy(&top.stdout).trim());
    let rel = abs.strip_prefix(&top).map(Path::to_path_buf).unwrap_or_default();
    let archive = Command::new("git")
        .arg("-C")
        .arg(&top)
        .args(["archive", "--format=tar", rev])
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !archive.status.success() {
        return Err(format!("git cannot read revision `{rev}`: {}", String::from_utf8_lossy(&archive.stderr).trim()));
    }
    let tmp = std::env::temp_dir().join(format!("igos-baseline-{}-{}", std::process::id(), rev.replace(['/', '~', '^'], "_")));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    tar::Archive::new(archive.stdout.as_slice()).unpack(&tmp).map_err(|e| format!("unpacking `{rev}`: {e}"))?;
    let _ = rel;
    Ok((tmp, top))
}

/// Where `path` of the working tree is inside the checkout of the revision.
fn at_revision(path: &Path, top: &Path, tmp: &Path) -> Option<PathBuf> {
    let abs = path.canonicalize().ok()?;
    abs.strip_prefix(top).ok().map(|rel| tmp.join(rel))
}

struct Side {
    sources: SourceMap,
    outcome: Outcome,
    tiers: BTreeMap<String, String>,
}

/// The build state both sides are judged against: Gate 2's database and store, Gate 6's
/// sources and scan cache, Gate 5's reference. They are the working tree's (build products,
/// not versioned code), so what differs between the sides is what the diff changed.
struct BuildState {
    audit: crate::audit::AuditFacts,
    sources_dir: PathBuf,
    cache: PathBuf,
    reference: PathBuf,
}

impl BuildState {
    fn of(root: &Path) -> Result<BuildState, String> {
        let audit = crate::audit::load_facts(&crate::audit::default_db(root), &super::audit::store_of(root)).map_err(|e| e.to_string())?;
        Ok(BuildState {
            audit,
            sources_dir: crate::scan::default_sources(root),
            cache: crate::scan::default_cache(root),
            reference: crate::scanb::reference::default_path(root),
        })
    }
}

fn evaluate(root: &Path, rules: Option<&Path>, state: &BuildState) -> Result<Side, String> {
    let mut sources = SourceMap::new();
    let loaded = crate::rules::load(rules, &mut sources)?;
    if let Some(e) = loaded.errors.first() {
        return Err(format!("the rules do not compile: {}", e.message));
    }
    let tree = crate::tree::load_tree(root, &mut sources).map_err(|e| e.to_string())?;
    let scan = crate::scan::load(&tree, &state.sources_dir, &state.cache, &mut sources);
    let scan_b = crate::scanb::load(&tree, &loaded.policy, &state.reference, &mut sources)?;
    let outcome =
        check::evaluate_full(&loaded.policy, &tree, Some((&state.audit, &sources)), Some(&scan), Some(&scan_b), &check::today());
    let facts = TreeFacts::new(&tree, &loaded.policy);
    let engine = Engine::new(&loaded.policy, &facts);
    let mut tiers = BTreeMap::new();
    if let Some(classes) = engine.classes.first() {
        for (i, p) in tree.packages.iter().enumerate() {
            tiers.insert(p.name.clone(), loaded.policy.tiers.name(classes.tier[i]).to_string());
        }
    }
    Ok(Side { sources, outcome, tiers })
}

fn key(f: &Finding) -> (String, String, String) {
    (f.check.clone(), f.subject.clone(), f.message.clone())
}

/// Compare the working tree with `rev`. Exit: with `new_only`, 1 when a halting finding is
/// new; otherwise the working tree's own verdict. 2 when either side cannot be evaluated.
pub fn run(rev: &str, root: &Path, rules: Option<&Path>, new_only: bool) -> i32 {
    let rules_dir = rules.map(Path::to_path_buf).or_else(super::check::default_rules_dir);
    let (tmp, top) = match checkout(rev, root) {
        Ok(x) => x,
        Err(e) => {
            super::err(&format!("igos check --baseline: {e}\n"));
            return 2;
        }
    };
    let old_root = at_revision(root, &top, &tmp).unwrap_or_else(|| tmp.clone());
    // The rules at that revision when they live in the repository, else the same rules.
    let old_rules = rules_dir.as_deref().map(|d| at_revision(d, &top, &tmp).filter(|p| p.is_dir()).unwrap_or_else(|| d.to_path_buf()));
    let state = match BuildState::of(root) {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            super::err(&format!("igos check --baseline: {e}\n"));
            return 2;
        }
    };
    let old = evaluate(&old_root, old_rules.as_deref(), &state);
    let new = evaluate(root, rules_dir.as_deref(), &state);
    let _ = std::fs::remove_dir_all(&tmp);
    let (old, new) = match (old, new) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) => {
            super::err(&format!("igos check --baseline: at {rev}: {e}\n"));
            return 2;
        }
        (_, Err(e)) => {
            super::err(&format!("igos check --baseline: in the working tree: {e}\n"));
            return 2;
        }
    };
    let before: BTreeSet<_> = old.outcome.findings().map(key).collect();
    let after: BTreeSet<_> = new.outcome.findings().map(key).collect();
    let added: Vec<&Finding> = new.outcome.findings().filter(|f| !before.contains(&key(f))).collect();
    let gone: Vec<&Finding> = old.outcome.findings().filter(|f| !after.contains(&key(f))).collect();
    let mut out = format!("igos check --baseline {rev}: what changed between {rev} and the working tree\n");
    let line = |sources: &SourceMap, f: &Finding| {
        let at = f.at.map(|s| format!(" ({})", crate::report::diagnostic::position(sources, s))).unwrap_or_default();
        format!("{} {} {}: {}{at}\n", f.severity.as_str(), f.check, f.subject, f.message)
    };
    out += &format!("\nfindings added: {}\n", added.len());
    for f in &added {
        out += &format!("  + {}", line(&new.sources, f));
    }
    out += &format!("\nfindings gone: {}\n", gone.len());
    for f in &gone {
        out += &format!("  - {}", line(&old.sources, f));
    }
    let moved: Vec<String> = new
        .tiers
        .iter()
        .filter_map(|(name, t)| match old.tiers.get(name) {
            Some(o) if o != t => Some(format!("  {name}: {o} → {t}\n")),
            None => Some(format!("  {name}: (new) → {t}\n")),
            _ => None,
        })
        .collect();
    out += &format!("\nnatural tier moved: {}\n", moved.len());
    out += &moved.concat();
    super::out(&out);
    if new_only {
        i32::from(added.iter().any(|f| f.severity == Severity::Halt && !f.is_waived()))
    } else {
        new.outcome.exit_code()
    }
}
