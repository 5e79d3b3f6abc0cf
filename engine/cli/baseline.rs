//! `igos check --baseline <git-rev>`: the review of a diff. The rules and the tree at the
//! baseline and in the working tree are both evaluated; only what changed is reported:
//! findings added, findings gone (matched by fingerprint, never by message), packages
//! whose natural tier moved.
//!
//! The rules and the tree may live in different repositories (the project's rules, a
//! distribution's tree): each side's revision is read from the repository that holds it
//! (`--baseline-rules`, `--baseline-tree` name them apart). A side that is not in git is
//! the same files on both sides, and the output says so ("working copy").

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::json;

use super::check::CheckArgs;
use super::git;
use super::Format;
use crate::outcome::Outcome;
use crate::checker::{Checker, Inputs};
use crate::finding::{self, Finding};
use crate::report::review::{Changed, Review, SideName};
use crate::report::{ci_formats, concise, json as json_report, markdown};
use crate::source::SourceMap;

/// A directory made for one run and removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, String> {
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        for attempt in 0..100u32 {
            let dir = base.join(format!("igos-baseline-{}-{nanos:x}-{attempt}", std::process::id()));
            // create_dir, not create_dir_all: a directory someone else made is never used.
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(TempDir(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("cannot create a temporary directory in {}: {e}", base.display())),
            }
        }
        Err(format!("cannot create a temporary directory in {}", base.display()))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One side (rules or tree) at the baseline: where its files are, and how it is named.
struct Snapshot {
    /// The directory to read at the baseline (inside `_tmp`, or the working copy itself).
    dir: Option<PathBuf>,
    name: SideName,
    _tmp: Option<TempDir>,
}

/// `dir` as it was at `rev` in the git repository that holds it. `dir` None: the rules
/// built into igos, the same on both sides.
fn snapshot(what: &'static str, dir: Option<&Path>, rev: Option<&str>) -> Result<Snapshot, String> {
    let Some(dir) = dir else {
        return Ok(Snapshot {
            dir: None,
            name: SideName { what, dir: "built in".into(), at: "working copy (the rules built into igos)".into() },
            _tmp: None,
        });
    };
    let shown = dir.display().to_string();
    let same = |why: &str| Snapshot { dir: Some(dir.to_path_buf()), name: SideName { what, dir: shown.clone(), at: format!("working copy ({why})") }, _tmp: None };
    let Some(rev) = rev else { return Ok(same("no baseline revision given for it")) };
    let abs = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    let Some(top) = git::work_tree_top(&abs) else { return Ok(same("not in a git repository")) };
    let top = top.canonicalize().map_err(|e| format!("{}: {e}", top.display()))?;
    let commit = git::verify_commit(&top, rev).map_err(|e| format!("the {what} at {}: {e}", dir.display()))?;
    let rel = abs.strip_prefix(&top).map(Path::to_path_buf).unwrap_or_default();
    let rel_text = rel.to_string_lossy().to_string();
    let tmp = TempDir::new()?;
    // Only the verified commit id and a path after `--` reach git.
    let mut args = vec!["archive", "--format=tar", commit.as_str()];
    if !rel_text.is_empty() {
        args.extend(["--", rel_text.as_str()]);
    }
    let archive = git::git(&top, &args)?;
    if !archive.status.success() {
        return Err(format!(
            "the {what} at {}: {} does not exist at `{rev}` ({})",
            dir.display(),
            if rel_text.is_empty() { "the repository" } else { rel_text.as_str() },
            String::from_utf8_lossy(&archive.stderr).trim()
        ));
    }
    tar::Archive::new(archive.stdout.as_slice()).unpack(&tmp.0).map_err(|e| format!("unpacking `{rev}`: {e}"))?;
    let at_rev = tmp.0.join(&rel);
    std::fs::create_dir_all(&at_rev).map_err(|e| format!("{}: {e}", at_rev.display()))?;
    let short: String = commit.chars().take(12).collect();
    Ok(Snapshot {
        dir: Some(at_rev),
        name: SideName { what, dir: shown, at: format!("{} ({short})", crate::visible::visible(rev)) },
        _tmp: Some(tmp),
    })
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
    inputs: Inputs,
    audit: crate::audit::AuditFacts,
}

impl BuildState {
    fn of(args: &CheckArgs) -> Result<BuildState, String> {
        let inputs = args.inputs();
        let audit = inputs.audit().map_err(|u| u.message)?;
        Ok(BuildState { inputs, audit })
    }
}

fn evaluate(root: &Path, rules: Option<&Path>, state: &BuildState) -> Result<(Side, crate::lang::compile::Policy), String> {
    let mut sources = SourceMap::new();
    let loaded = crate::rules::load(rules, &mut sources)?;
    if let Some(e) = loaded.errors.first() {
        return Err(format!("the rules do not compile: {}", e.message));
    }
    let tree = crate::tree::load_tree(root, &mut sources).map_err(|e| e.to_string())?;
    let scans = state.inputs.scans(&tree, &loaded.policy, &mut sources).map_err(|u| u.message)?;
    // One classification for the findings and the tiers the review compares.
    let checker = Checker::new(&loaded.policy, &tree).audit(&state.audit, &sources).scans(&scans);
    let checked = checker.run();
    let mut tiers = BTreeMap::new();
    if let Some(classes) = checked.engine.classes.first() {
        for (i, p) in tree.packages.iter().enumerate() {
            tiers.insert(p.name.clone(), loaded.policy.tiers.name(classes.tier[i]).to_string());
        }
    }
    let outcome = checked.outcome;
    drop(checker);
    Ok((Side { sources, outcome, tiers }, loaded.policy))
}

fn fail(args: &CheckArgs, message: String) -> i32 {
    super::check::fail(args.color.style(), "check::baseline", message, Some("name a commit of each side's repository: --baseline REV, or --baseline-rules REV / --baseline-tree REV".into()))
}

/// Compare the working tree with the baseline. Exit: with `--new-only`, 1 when a halting
/// finding is new; otherwise the working tree's own verdict. 2 when either side cannot be
/// evaluated.
pub fn run(args: &CheckArgs) -> i32 {
    let rules_dir = args.rules.clone().or_else(super::check::default_rules_dir);
    let rules_rev = args.review.baseline_rules.as_deref().or(args.baseline.as_deref());
    let tree_rev = args.review.baseline_tree.as_deref().or(args.baseline.as_deref());
    let rules_then = match snapshot("rules", rules_dir.as_deref(), rules_rev) {
        Ok(s) => s,
        Err(e) => return fail(args, e),
    };
    let tree_then = match snapshot("tree", Some(&args.root), tree_rev) {
        Ok(s) => s,
        Err(e) => return fail(args, e),
    };
    let state = match BuildState::of(args) {
        Ok(s) => s,
        Err(e) => return fail(args, e),
    };
    let old_root = tree_then.dir.clone().unwrap_or_else(|| args.root.clone());
    let old = evaluate(&old_root, rules_then.dir.as_deref(), &state);
    let new = evaluate(&args.root, rules_dir.as_deref(), &state);
    let (old, (new, policy)) = match (old, new) {
        (Ok((o, _)), Ok(n)) => (o, n),
        (Err(e), _) => return fail(args, format!("at the baseline: {e}")),
        (_, Err(e)) => return fail(args, format!("in the working tree: {e}")),
    };
    let old_fps = finding::fingerprints(old.outcome.findings());
    let new_fps = finding::fingerprints(new.outcome.findings());
    // Waived findings take no part: a waiver added by the diff makes its finding "gone".
    let live = |o: &Outcome, fps: &[String]| -> HashSet<String> {
        o.findings().zip(fps).filter(|(f, _)| !f.is_waived()).map(|(_, fp)| fp.clone()).collect()
    };
    let before = live(&old.outcome, &old_fps);
    let after = live(&new.outcome, &new_fps);
    let changed = |side: &'_ Side, fps: &'_ [String], other: &HashSet<String>| -> Vec<(usize, String)> {
        side.outcome
            .findings()
            .zip(fps)
            .enumerate()
            .filter(|(_, (f, fp))| !f.is_waived() && !other.contains(*fp))
            .map(|(i, (_, fp))| (i, fp.clone()))
            .collect()
    };
    let added_at = changed(&new, &new_fps, &before);
    let gone_at = changed(&old, &old_fps, &after);
    let new_all: Vec<&Finding> = new.outcome.findings().collect();
    let old_all: Vec<&Finding> = old.outcome.findings().collect();
    let moved: Vec<(String, String, String)> = new
        .tiers
        .iter()
        .filter_map(|(name, t)| match old.tiers.get(name) {
            Some(o) if o != t => Some((name.clone(), o.clone(), t.clone())),
            None => Some((name.clone(), "(new)".into(), t.clone())),
            _ => None,
        })
        .collect();
    let review = Review {
        sides: vec![rules_then.name.clone(), tree_then.name.clone()],
        added: added_at.iter().map(|(i, fp)| Changed { finding: new_all[*i], sources: &new.sources, fingerprint: fp }).collect(),
        gone: gone_at.iter().map(|(i, fp)| Changed { finding: old_all[*i], sources: &old.sources, fingerprint: fp }).collect(),
        moved,
    };
    let code = if args.new_only {
        i32::from(review.added.iter().any(|c| c.finding.halts()))
    } else {
        new.outcome.exit_code()
    };
    match args.format {
        Format::Human => super::out(&human(&review, args)),
        Format::Json => super::out_with(|w| {
            fn view<'a>(c: &Changed<'a>) -> json_report::FindingView<'a> {
                json_report::view(c.sources, c.finding, c.fingerprint)
            }
            let doc = json!({
                "schema": "igos-review/1",
                "sides": review.sides.iter().map(|s| json!({ "what": s.what, "dir": s.dir, "at": s.at })).collect::<Vec<_>>(),
                "added": review.added.iter().map(view).collect::<Vec<_>>(),
                "gone": review.gone.iter().map(view).collect::<Vec<_>>(),
                "moved": review.moved.iter().map(|(n, f, t)| json!({ "name": n, "from": f, "to": t })).collect::<Vec<_>>(),
                "halting": new.outcome.halting(),
                "exit_code": code,
            });
            serde_json::to_writer_pretty(&mut *w, &doc).map_err(std::io::Error::from)?;
            w.write_all(b"\n")
        }),
        Format::Sarif => {
            let states: HashMap<&str, &'static str> =
                new_fps.iter().map(|fp| (fp.as_str(), if before.contains(fp) { "unchanged" } else { "new" })).collect();
            super::out_with(|w| ci_formats::write_sarif(w, &new.outcome, &policy, &new.sources, Some(&states)));
        }
        Format::Github => {
            super::out(&ci_formats::github_annotations(review.added.iter().map(|c| (c.finding, c.sources))));
            let summary = markdown::render(&new.outcome, &new.sources, Some(&review), &args.review.link_base);
            if let Err(e) = super::check::step_summary(&summary) {
                return fail(args, e);
            }
        }
        Format::Markdown => super::out(&markdown::render(&new.outcome, &new.sources, Some(&review), &args.review.link_base)),
        Format::Concise => super::out_with(|w| {
            for c in &review.added {
                writeln!(w, "{}", concise::line(c.sources, c.finding))?;
            }
            Ok(())
        }),
    }
    code
}

fn human(review: &Review, args: &CheckArgs) -> String {
    let mut out = match args.baseline.as_deref() {
        Some(rev) => format!("igos check --baseline {}: what changed between the baseline and the working tree\n", crate::visible::visible(rev)),
        None => "igos check: what changed between the baseline and the working tree\n".to_string(),
    };
    for s in &review.sides {
        out += &format!("  {}: {} at {}\n", s.what, s.dir, s.at);
    }
    let line = |c: &Changed| {
        let f = c.finding;
        let at = f.at.map(|s| format!(" ({})", crate::report::diagnostic::position(c.sources, s))).unwrap_or_default();
        format!(
            "{} {} {}: {}{}\n",
            f.severity.as_str(),
            f.check,
            crate::visible::visible(&f.subject),
            crate::visible::visible(&f.message),
            crate::visible::visible(&at)
        )
    };
    out += &format!("\nfindings added: {}\n", review.added.len());
    for c in &review.added {
        out += &format!("  + {}", line(c));
    }
    out += &format!("\nfindings gone: {}\n", review.gone.len());
    for c in &review.gone {
        out += &format!("  - {}", line(c));
    }
    out += &format!("\nnatural tier moved: {}\n", review.moved.len());
    for (name, from, to) in &review.moved {
        out += &format!("  {}: {from} → {to}\n", crate::visible::visible(name));
    }
    out
}
