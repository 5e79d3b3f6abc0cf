//! A planned install queue placed and recorded, all or nothing (see ARCHITECTURE.md, "A
//! queue is all or nothing"), and one member of an interrupted queue rolled forward. Below
//! `install` (which stages, checks and plans) and `intents` (which finds what a crashed run
//! left): neither is called from here.

use super::db::{self, Layout};
use super::deploy::{self, Plan};
use super::error::{PkmError, Result};
use super::textmanifest;
use super::util::{crash_point, now_utc};
use crate::archive::EntryKind;
use rusqlite::{params, Connection, TransactionBehavior};
use std::fs;

/// Install a planned queue, all or nothing (see ARCHITECTURE.md, "A queue is all or nothing"):
/// one transaction records an intent per member; every member is deployed reversibly; a failure
/// before the commit rolls every member's deploy back and drops the intents; one transaction
/// then records every member. A crash after the intents is rolled forward, member by member,
/// by the next run: the queue completes.
pub fn run_queue(layout: &Layout, conn: &mut Connection, plans: &[Plan]) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(plans.len());
    {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for plan in plans {
            let json = serde_json::to_string(plan).map_err(|e| PkmError::unusable("pkm::intent", e.to_string()))?;
            tx.execute(
                "INSERT INTO intents(operation, package_name, plan, created) VALUES ('install', ?1, ?2, ?3)",
                params![plan.manifest.name, json, now_utc()],
            )?;
            ids.push(tx.last_insert_rowid());
        }
        tx.commit()?;
    }
    crash_point("intent");
    let mut deployer = deploy::Deployer::new(&layout.root)?;
    let mut warnings = Vec::new();
    for plan in plans {
        match deployer.place(plan, false) {
            Ok(w) => warnings.extend(w),
            Err(e) => return Err(roll_back(conn, deployer, &ids, e)),
        }
    }
    crash_point("deployed");
    let refs: Vec<&Plan> = plans.iter().collect();
    warnings.extend(deployer.finish(&refs));
    {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (plan, id) in plans.iter().zip(&ids) {
            commit_in(&tx, plan, *id)?;
        }
        tx.commit()?;
    }
    crash_point("committed");
    write_manifests(layout, conn, plans)?;
    crash_point("manifest");
    for plan in plans {
        remove_staging(plan);
    }
    Ok(warnings)
}

/// Remove a staging directory after its deploy. What is left in it is the archive's
/// directories (its files and links were moved into the root), plus, where a file replaced
/// one, the old file: the directories go deepest first with one rmdir each (never following a
/// link), and a directory that is not empty makes it fall back to a full removal. For a queue
/// of 1,000 small packages, listing each directory before removing it was a sixth of the CPU.
fn remove_staging(plan: &Plan) {
    let mut dirs: Vec<&str> = plan.manifest.entries.iter().filter(|e| matches!(e.kind, EntryKind::Dir)).map(|e| e.path.as_str()).collect();
    dirs.sort_unstable_by(|a, b| b.cmp(a)); // a directory sorts after its parent: children first
    for d in dirs {
        let _ = fs::remove_dir(plan.staging.join(d));
    }
    if fs::remove_dir(&plan.staging).is_err() {
        let _ = fs::remove_dir_all(&plan.staging);
    }
}

/// A member failed before the commit: undo every deploy of the queue and drop its intents, so
/// the root and the database are as they were. The staged copies are then removed by `install`.
fn roll_back(conn: &mut Connection, deployer: deploy::Deployer, ids: &[i64], cause: PkmError) -> PkmError {
    let left = deployer.rollback();
    let dropped = conn.transaction_with_behavior(TransactionBehavior::Immediate).and_then(|tx| {
        for id in ids {
            tx.execute("DELETE FROM intents WHERE id=?1", [id])?;
        }
        tx.commit()
    });
    if left.is_empty() && dropped.is_ok() {
        return cause;
    }
    // Could not undo everything: the intents stay (when they could not be dropped) and the
    // next run rolls the queue forward from its staged copies.
    let mut msg = cause.message.clone();
    for l in &left {
        msg.push_str(&format!("\n{l}"));
    }
    PkmError::new(cause.exit, cause.code, msg).help("the queue could not be rolled back entirely; run `pkm doctor`")
}

/// The text manifests of the queue's members and of the packages they supersede, written
/// together (`textmanifest::write_many`: two flushes for the queue, not two per package).
fn write_manifests(layout: &Layout, conn: &Connection, plans: &[Plan]) -> Result<()> {
    let mut names = Vec::new();
    for plan in plans {
        if let Some(old) = &plan.upgrade_from {
            if old != &plan.manifest.version {
                let _ = fs::remove_file(layout.text_manifest(&plan.manifest.name, old));
            }
        }
        names.push(plan.manifest.name.clone());
        names.extend(plan.predecessors.iter().cloned());
    }
    textmanifest::write_many(layout, conn, &names)
}

/// Roll one member's intent forward (after a crash): deploy what is not yet in place, commit.
/// `plan` comes from `intents::check_plan`: its staging is this root's, its paths canonical.
pub fn resume_plan(layout: &Layout, conn: &mut Connection, plan: &Plan, intent_id: i64) -> Result<Vec<String>> {
    let warnings = deploy::deploy(&layout.root, plan)?;
    crash_point("deployed");
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    commit_in(&tx, plan, intent_id)?;
    tx.commit()?;
    crash_point("committed");
    write_manifests(layout, conn, std::slice::from_ref(plan))?;
    crash_point("manifest");
    let _ = fs::remove_dir_all(&plan.staging);
    Ok(warnings)
}

/// Record one member in the queue's commit transaction and drop its intent.
fn commit_in(tx: &rusqlite::Transaction<'_>, plan: &Plan, intent_id: i64) -> Result<()> {
    let m = &plan.manifest;
    let now = now_utc();
    let pkg_id: i64 = match db::get_installed(tx, &m.name)? {
        Some(old) => {
            tx.execute(
                "UPDATE installed SET version=?2, release=?3, tier=?4, description=?5, install_date=?6, archive_sha256=?7, superseded_by=NULL, superseded_at=NULL WHERE id=?1",
                params![old.id, m.version, m.release, m.tier, m.description, now, plan.archive_sha256],
            )?;
            tx.execute("DELETE FROM files WHERE package_id=?1", [old.id])?;
            tx.execute("DELETE FROM depends WHERE package_id=?1", [old.id])?;
            let op = if same_version(&old, m) { "reinstall" } else { "upgrade" };
            db::log_history(tx, op, &m.name, Some(&old.version), Some(&m.version), &plan.archive)?;
            old.id
        }
        None => {
            tx.execute(
                "INSERT INTO installed(name, version, release, tier, description, install_date, archive_sha256) VALUES (?1,?2,?3,?4,?5,?6,?7)",
                params![m.name, m.version, m.release, m.tier, m.description, now, plan.archive_sha256],
            )?;
            let id = tx.last_insert_rowid();
            db::log_history(tx, "install", &m.name, None, Some(&m.version), &plan.archive)?;
            id
        }
    };
    for p in &plan.predecessors {
        let Some(pred) = db::get_installed(tx, p)? else { continue };
        let mut moved = 0usize;
        {
            let mut del = tx.prepare_cached("DELETE FROM files WHERE package_id=?1 AND path=?2 AND is_dir=0")?;
            for e in m.entries.iter().filter(|e| !matches!(e.kind, EntryKind::Dir)) {
                moved += del.execute(params![pred.id, e.path])?;
            }
        }
        let by = match &pred.superseded_by {
            Some(b) if b.split(',').any(|x| x == m.name) => b.clone(),
            Some(b) => format!("{b},{}", m.name),
            None => m.name.clone(),
        };
        tx.execute("UPDATE installed SET superseded_by=?2, superseded_at=?3 WHERE id=?1", params![pred.id, by, now])?;
        db::log_history(tx, "supersede", p, Some(&pred.version), None, &format!("superseded by {} {}; {moved} files transferred", m.name, m.version))?;
    }
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO files(package_id, path, kind, is_dir, is_config, mode, sha256, target, size, uid, gid) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
        )?;
        let (uid, gid) = super::verify::installing_owner();
        let mut cfg = tx.prepare_cached(
            "INSERT INTO config_files(path, package_id, original_sha256) VALUES (?1,?2,?3)
             ON CONFLICT(path) DO UPDATE SET package_id=excluded.package_id, original_sha256=excluded.original_sha256",
        )?;
        let mut cfg_keep = tx.prepare_cached(
            "INSERT INTO config_files(path, package_id, original_sha256) VALUES (?1,?2,NULL)
             ON CONFLICT(path) DO UPDATE SET package_id=excluded.package_id",
        )?;
        for e in &m.entries {
            let (kind, sha, target) = match &e.kind {
                EntryKind::Dir => ("dir", None, None),
                EntryKind::File { sha256 } => ("file", Some(sha256.as_str()), None),
                EntryKind::Symlink { target } => ("symlink", None, Some(target.as_str())),
            };
            ins.execute(params![pkg_id, e.path, kind, kind == "dir", e.config, e.mode, sha, target, e.size, uid, gid])?;
            if e.config {
                if plan.keep_configs.contains(&e.path) {
                    cfg_keep.execute(params![e.path, pkg_id])?;
                } else {
                    cfg.execute(params![e.path, pkg_id, sha])?;
                }
            }
        }
        let mut dep = tx.prepare_cached("INSERT OR IGNORE INTO depends(package_id, dep_name, dep_type) VALUES (?1, ?2, 'runtime')")?;
        for d in &m.depends {
            dep.execute(params![pkg_id, d])?;
        }
    }
    tx.execute("DELETE FROM intents WHERE id=?1", [intent_id])?;
    Ok(())
}

/// The archive is the installed version itself (a reinstall).
pub fn same_version(i: &db::Installed, m: &crate::archive::Manifest) -> bool {
    i.version == m.version && i.release == i64::from(m.release)
}
