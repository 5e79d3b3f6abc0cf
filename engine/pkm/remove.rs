//! `pkm remove`: what a crashed run left is completed first, every named package must be
//! installed and its files' directories writable, then each is removed under its own intent
//! (`removal` carries it out; see there what is kept).

use super::db::{self, Layout};
use super::error::{PkmError, Result};
use super::removal::{resume_remove, RemovePlan};
use super::rootfs;
use super::util::{crash_point, now_utc};
use crate::visible::visible;
use rusqlite::{params, Connection, TransactionBehavior};
use std::fs;

pub fn remove(layout: &Layout, conn: &mut Connection, names: &[String], force: bool) -> Result<Vec<String>> {
    let mut out = super::intents::repair_intents(layout, conn)?;
    for n in names {
        if db::get_installed(conn, n)?.is_none() {
            return Err(PkmError::finding("pkm::not-installed", format!("{} is not installed", visible(n))));
        }
    }
    for n in names {
        preflight(layout, conn, n, force)?;
    }
    for n in names {
        let plan = RemovePlan { name: n.clone(), force };
        let json = serde_json::to_string(&plan).map_err(|e| PkmError::unusable("pkm::intent", e.to_string()))?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("INSERT INTO intents(operation, package_name, plan, created) VALUES ('remove', ?1, ?2, ?3)", params![n, json, now_utc()])?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        crash_point("remove-intent");
        out.extend(resume_remove(layout, conn, &plan, id)?);
    }
    Ok(out)
}

/// Before the intent: every file the removal deletes must sit in a directory this process
/// can write (access(2) reports EROFS for a read-only filesystem even to root), so a
/// read-only tree refuses the removal with nothing changed instead of half-removing it.
fn preflight(layout: &Layout, conn: &Connection, name: &str, force: bool) -> Result<()> {
    let Some(pkg) = db::get_installed(conn, name)? else { return Ok(()) };
    let mut checked = std::collections::BTreeSet::new();
    for f in db::files_of(conn, pkg.id)? {
        if f.kind == "dir" || (f.is_config && !force) {
            continue;
        }
        let p = rootfs::host_path(&layout.root, &f.path);
        if fs::symlink_metadata(&p).is_err() {
            continue;
        }
        let Some(dir) = p.parent().map(|d| d.to_path_buf()) else { continue };
        if !checked.insert(dir.clone()) {
            continue;
        }
        if let Err(e) = rootfs::writable(&dir) {
            return Err(PkmError::unusable("pkm::remove::not-writable", format!("/{}: cannot remove it: {}: {e}", visible(&f.path), visible(&dir.to_string_lossy())))
                .help("nothing was removed; make the filesystem writable (remount it read-write) and run the removal again"));
        }
    }
    Ok(())
}

