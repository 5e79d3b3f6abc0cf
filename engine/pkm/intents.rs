//! The intent log: what a crashed run left (an install or removal recorded as begun and not
//! committed) rolled forward, or given up. `install`, `remove` and `doctor` run this first;
//! a plan is completed through `queue` (install) or `removal`, which never call back here.
//! An intent is data a crash may have left half-written or an attacker crafted: a plan is
//! checked before it is followed (its staging in this root, its paths canonical).

use super::db::{self, Layout};
use super::deploy::Plan;
use super::error::{PkmError, Result};
use super::queue;
use super::removal::{self, RemovePlan};
use super::rootfs;
use crate::archive::{canonical_path, hash_file, EntryKind};
use crate::visible::visible;
use rusqlite::types::Value;
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A pending intent that could not be completed (or not even read).
pub(crate) struct Stuck {
    id: i64,
    op: String,
    name: String,
    plan_text: String,
    pub(crate) why: String,
}

impl Stuck {
    pub(crate) fn what(&self) -> String {
        match self.op.as_str() {
            "install" | "remove" => format!("the interrupted {} of {} (intent {})", if self.op == "install" { "install" } else { "removal" }, visible(&self.name), self.id),
            _ => format!("intent {} ({} of {})", self.id, visible(&self.op), visible(&self.name)),
        }
    }
}

/// Roll forward every intent left by a crashed run (install, remove and doctor run this first).
/// An intent that cannot be completed is an error naming it and the way out.
pub fn repair_intents(layout: &Layout, conn: &mut Connection) -> Result<Vec<String>> {
    let (out, stuck) = run_intents(layout, conn, false)?;
    match stuck {
        None => Ok(out),
        Some(s) => Err(PkmError::unusable("pkm::intent::stuck", format!("{} cannot be completed: {}", s.what(), visible(&s.why))).help(
            "nothing else was done; fix the cause and run the command again, or give it up with `pkm doctor --abandon` (an install is rolled back, a removal leaves the package installed)",
        )),
    }
}

/// Text of a column whatever its type (a damaged row must not stop the reading).
fn text(v: Value) -> String {
    match v {
        Value::Text(s) => s,
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::Null => String::new(),
    }
}

/// An install plan read back from the database, made safe to follow: it is data, and a crafted
/// one must not reach outside. Its staging directory is taken by name in this root's staging
/// directory (whatever directory the plan names, and however the root was spelled when it was
/// written), and its paths must be canonical relative paths.
fn check_plan(layout: &Layout, mut plan: Plan) -> std::result::Result<Plan, String> {
    let Some(name) = plan.staging.file_name().map(|n| n.to_os_string()) else {
        return Err(format!("its staging directory `{}` has no name", plan.staging.display()));
    };
    plan.staging = layout.staging_dir().join(name);
    let paths = plan.manifest.entries.iter().map(|e| e.path.as_str()).chain(plan.obsolete.iter().map(|o| o.path.as_str())).chain(plan.new_names.values().map(String::as_str));
    for p in paths {
        if !canonical_path(p) {
            return Err(format!("its path `{p}` is not a canonical relative path"));
        }
    }
    Ok(plan)
}

/// Complete one intent.
fn attempt(layout: &Layout, conn: &mut Connection, id: i64, op: &str, name: &str, plan: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    match op {
        "install" => {
            let plan: Plan = serde_json::from_str(plan).map_err(|e| format!("its plan cannot be read: {e}"))?;
            let plan = check_plan(layout, plan)?;
            if let Some(missing) = lost_entry(layout, &plan) {
                abandon_install(layout, conn, &plan, id, "interrupted install could not be completed").map_err(|e| e.message)?;
                out.push(format!(
                    "repaired: abandoned the interrupted install of {} {}: /{} is neither staged nor deployed, so it cannot be completed; the previous state is kept, install it again",
                    visible(name),
                    visible(&plan.manifest.version),
                    visible(&missing)
                ));
                return Ok(out);
            }
            let w = queue::resume_plan(layout, conn, &plan, id).map_err(|e| e.message)?;
            out.push(format!("repaired: completed the interrupted install of {} {}", visible(name), visible(&plan.manifest.version)));
            out.extend(w);
        }
        "remove" => {
            let plan: RemovePlan = serde_json::from_str(plan).map_err(|e| format!("its plan cannot be read: {e}"))?;
            let w = removal::resume_remove(layout, conn, &plan, id).map_err(|e| e.message)?;
            out.extend(w.into_iter().filter(|l| !l.starts_with("removed ")));
            out.push(format!("repaired: completed the interrupted removal of {}", visible(name)));
        }
        other => return Err(format!("unknown operation `{other}`")),
    }
    Ok(out)
}

/// Run the pending intents in order. Stops at the first that cannot be completed and returns
/// it, unless `abandon`, which gives it up and goes on.
pub(crate) fn run_intents(layout: &Layout, conn: &mut Connection, abandon: bool) -> Result<(Vec<String>, Option<Stuck>)> {
    let mut out = Vec::new();
    let pending: Vec<(i64, String, String, String)> = {
        let mut st = conn.prepare("SELECT id, operation, package_name, plan FROM intents ORDER BY id")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, text(r.get(1)?), text(r.get(2)?), text(r.get(3)?))))?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows
    };
    let mut stuck = None;
    for (id, op, name, plan) in pending {
        match attempt(layout, conn, id, &op, &name, &plan) {
            Ok(lines) => out.extend(lines),
            Err(why) => {
                let s = Stuck { id, op, name, plan_text: plan, why };
                if abandon {
                    out.push(abandon_intent(layout, conn, &s)?);
                    continue;
                }
                stuck = Some(s);
                break;
            }
        }
    }
    // Staging directories that no pending intent refers to are leftovers of a crash before
    // the intent.
    let keep: BTreeSet<PathBuf> = pending_stagings(layout, conn)?;
    super::state::check(layout)?;
    if let Ok(rd) = std::fs::read_dir(layout.staging_dir()) {
        for e in rd.flatten() {
            if keep.contains(&e.path()) {
                continue;
            }
            let _ = std::fs::remove_dir_all(e.path());
            out.push(format!("repaired: removed stale staging {}", visible(&e.path().to_string_lossy())));
        }
    }
    Ok((out, stuck))
}

/// Staging directories that pending install intents still need.
fn pending_stagings(layout: &Layout, conn: &Connection) -> Result<BTreeSet<PathBuf>> {
    let mut st = conn.prepare("SELECT plan FROM intents WHERE operation = 'install'")?;
    let rows = st.query_map([], |r| r.get::<_, Value>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows.into_iter().filter_map(|p| serde_json::from_str::<Plan>(&text(p)).ok()).filter_map(|p| p.staging.file_name().map(|n| layout.staging_dir().join(n))).collect())
}

/// Give up an intent (`pkm doctor --abandon`). An install is rolled back; a removal stops
/// where it is, the package still recorded; an unreadable intent is dropped. Each time the
/// intent's text goes into the history, so no record is lost.
fn abandon_intent(layout: &Layout, conn: &mut Connection, s: &Stuck) -> Result<String> {
    let detail = format!("gave up intent {} ({}): {}; plan: {}", s.id, s.op, s.why, s.plan_text);
    if s.op == "install" {
        if let Ok(plan) = serde_json::from_str::<Plan>(&s.plan_text) {
            if let Ok(plan) = check_plan(layout, plan) {
                abandon_install(layout, conn, &plan, s.id, &detail)?;
                return Ok(format!(
                    "abandoned: {}: {}; what it had deployed and no package owns was removed, the database keeps the previous state",
                    s.what(),
                    visible(&s.why)
                ));
            }
        }
    }
    let tx = conn.transaction()?;
    db::log_history(&tx, "abandon", &s.name, None, None, &detail)?;
    tx.execute("DELETE FROM intents WHERE id=?1", [s.id])?;
    tx.commit()?;
    Ok(match s.op.as_str() {
        "remove" => format!(
            "abandoned: {}: {}; {} stays installed (`pkm verify {}` shows what is already gone; remove it again once the cause is fixed)",
            s.what(),
            visible(&s.why),
            visible(&s.name),
            visible(&s.name)
        ),
        _ => format!("abandoned: {}: {}; its text is kept in the history", s.what(), visible(&s.why)),
    })
}

/// The first file or symlink of an install intent that can no longer be deployed: not in
/// its staging directory (a failed run removed it) and not already in place. Rolling such an
/// intent forward would record a file that is not on disk.
fn lost_entry(layout: &Layout, plan: &Plan) -> Option<String> {
    for e in &plan.manifest.entries {
        if std::fs::symlink_metadata(plan.staging.join(&e.path)).is_ok() {
            continue;
        }
        let dest = rootfs::host_path(&layout.root, &e.path);
        let in_place = match &e.kind {
            EntryKind::Dir => true,
            EntryKind::File { sha256 } => {
                let target = match plan.config_new_path(&e.path) {
                    Some(n) => dest.with_file_name(n.rsplit('/').next().unwrap_or(&n)),
                    None => dest,
                };
                hash_file(&target).ok().as_ref() == Some(sha256)
            }
            EntryKind::Symlink { target } => std::fs::read_link(&dest).ok().is_some_and(|t| t.as_os_str() == target.as_str()),
        };
        if !in_place {
            return Some(e.path.clone());
        }
    }
    None
}

/// Give up an install intent that cannot be completed: remove what it deployed that no
/// package owns (exactly its content, nothing else), then drop the intent. The package
/// records were never changed (they are committed after the deploy), so the database keeps
/// the previous state.
fn abandon_install(layout: &Layout, conn: &mut Connection, plan: &Plan, id: i64, detail: &str) -> Result<()> {
    for e in plan.manifest.entries.iter().rev() {
        if !db::owners(conn, &e.path)?.is_empty() {
            continue;
        }
        let dest = rootfs::host_path(&layout.root, &e.path);
        let ours = match &e.kind {
            EntryKind::Dir => false, // directories may predate it; an empty one is harmless
            EntryKind::File { sha256 } => hash_file(&dest).ok().as_ref() == Some(sha256),
            EntryKind::Symlink { target } => std::fs::read_link(&dest).ok().is_some_and(|t| t.as_os_str() == target.as_str()),
        };
        if ours {
            let _ = std::fs::remove_file(&dest);
        }
    }
    let _ = std::fs::remove_dir_all(&plan.staging);
    let tx = conn.transaction()?;
    db::log_history(&tx, "abandon", &plan.manifest.name, None, Some(&plan.manifest.version), detail)?;
    tx.execute("DELETE FROM intents WHERE id=?1", [id])?;
    tx.commit()?;
    Ok(())
}
