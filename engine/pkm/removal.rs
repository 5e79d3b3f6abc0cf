//! One package's removal carried out, fresh or rolled forward after a crash: /etc configs kept
//! unless forced, modified files removed with a warning, directories removed only when empty
//! and owned by no other package, records deleted, history appended. A path the admin has
//! since turned into a directory is left alone (not the file pkm installed), so a removal
//! always completes instead of failing on it at every later run. Below `remove` and
//! `intents`; calls neither.

use super::db::{self, Layout};
use super::error::{PkmError, Result};
use super::rootfs;
use super::util::crash_point;
use crate::archive::hash_file;
use crate::visible::visible;
use rusqlite::{params, Connection, TransactionBehavior};
use std::fs;

/// What a removal intent records.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct RemovePlan {
    pub name: String,
    pub force: bool,
}

/// May `name` remove the directory `path` (when it is empty)? Only when no other package
/// owns it. Used by removals and by upgrades for the directories a new version drops.
pub fn dir_removable(conn: &Connection, path: &str, name: &str) -> Result<bool> {
    Ok(db::owners(conn, path)?.iter().all(|(o, _)| o == name))
}

/// Remove `plan.name` under its intent `intent_id` (already committed), then drop the intent.
pub fn resume_remove(layout: &Layout, conn: &mut Connection, plan: &RemovePlan, intent_id: i64) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let Some(pkg) = db::get_installed(conn, &plan.name)? else {
        conn.execute("DELETE FROM intents WHERE id=?1", [intent_id])?;
        return Ok(out);
    };
    let files = db::files_of(conn, pkg.id)?;
    let (mut removed, mut kept) = (0usize, 0usize);
    for (i, f) in files.iter().enumerate().rev() {
        if i == files.len() / 2 {
            crash_point("remove-mid");
        }
        if f.kind == "dir" {
            continue;
        }
        let p = rootfs::host_path(&layout.root, &f.path);
        let Ok(meta) = fs::symlink_metadata(&p) else { continue };
        let shown = visible(&f.path);
        if meta.is_dir() {
            // The admin replaced the file with a directory: it is no longer what pkm installed.
            out.push(format!("warning: /{shown} is now a directory, not the {} pkm installed; left alone", f.kind));
            continue;
        }
        if f.is_config && !plan.force {
            kept += 1;
            out.push(format!("kept config /{shown} (use --force to remove it)"));
            continue;
        }
        if f.kind == "file" && hash_file(&p).ok() != f.sha256 {
            out.push(format!("warning: /{shown} was modified since install; removed anyway"));
        }
        match super::beneath::remove_file(&layout.root, &f.path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // The records stay (with the intent, retried by the next run or given up with
            // `pkm doctor --abandon`): the database never says a file is gone while it is
            // still on disk.
            Err(e) => {
                return Err(PkmError::unusable("pkm::remove", format!("/{shown}: cannot remove: {e}"))
                    .help("the removal is recorded as interrupted: fix the cause and run any pkm command again, or give it up with `pkm doctor --abandon`"))
            }
        }
    }
    for f in files.iter().rev().filter(|f| f.kind == "dir") {
        if dir_removable(conn, &f.path, &pkg.name)? {
            let p = rootfs::host_path(&layout.root, &f.path);
            if fs::symlink_metadata(&p).map(|m| m.is_dir()).unwrap_or(false) {
                let _ = super::beneath::remove_dir(&layout.root, &f.path); // only succeeds when empty
            }
        }
    }
    crash_point("remove-deleted");
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM installed WHERE id=?1", [pkg.id])?;
    // A removed successor no longer supersedes anything: no dangling superseded_by.
    let preds: Vec<(i64, String, String)> = {
        let mut st = tx.prepare("SELECT id, superseded_by, name FROM installed WHERE superseded_by IS NOT NULL")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows
    };
    let mut touched = Vec::new();
    for (id, by, pred_name) in preds {
        let rest: Vec<&str> = by.split(',').filter(|s| *s != pkg.name).collect();
        if rest.len() != by.split(',').count() {
            touched.push(pred_name);
            if rest.is_empty() {
                tx.execute("UPDATE installed SET superseded_by=NULL, superseded_at=NULL WHERE id=?1", [id])?;
            } else {
                tx.execute("UPDATE installed SET superseded_by=?2 WHERE id=?1", params![id, rest.join(",")])?;
            }
        }
    }
    db::log_history(&tx, "remove", &pkg.name, Some(&pkg.version), None, &format!("{removed} removed, {kept} configs kept"))?;
    tx.execute("DELETE FROM intents WHERE id=?1", [intent_id])?;
    tx.commit()?;
    let _ = fs::remove_file(layout.text_manifest(&pkg.name, &pkg.version));
    for t in &touched {
        super::textmanifest::write(layout, conn, t)?;
    }
    out.push(format!("removed {} {} ({removed} files{})", pkg.name, pkg.version, if kept > 0 { format!(", {kept} configs kept") } else { String::new() }));
    Ok(out)
}
