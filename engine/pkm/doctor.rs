//! `pkm doctor`: database integrity, interrupted transactions (intent records) rolled forward,
//! stale staging removed, database versus text manifests (the database is authoritative: every
//! divergence is reported and the text manifest rewritten from it).

use super::db::{self, Layout};
use super::deploy::Plan;
use super::error::{PkmError, Result};
use super::install;
use super::remove::{self, RemovePlan};
use super::textmanifest;
use super::rootfs;
use crate::archive::{hash_file, EntryKind, Manifest};
use rusqlite::Connection;
use std::collections::BTreeSet;

/// Roll forward every intent left by a crashed run. Returns what was repaired.
pub fn repair_intents(layout: &Layout, conn: &mut Connection) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let pending: Vec<(i64, String, String, String)> = {
        let mut st = conn.prepare("SELECT id, operation, package_name, plan FROM intents ORDER BY id")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows
    };
    for (id, op, name, plan) in pending {
        match op.as_str() {
            "install" => {
                let plan: Plan = serde_json::from_str(&plan).map_err(|e| PkmError::unusable("pkm::intent", format!("intent {id}: {e}")))?;
                super::state::check_staging(layout, &plan.staging)?;
                if let Some(missing) = lost_entry(layout, &plan) {
                    abandon_install(layout, conn, &plan, id)?;
                    out.push(format!(
                        "repaired: abandoned the interrupted install of {name} {}: /{missing} is neither staged nor deployed, so it cannot be completed; the previous state is kept, install it again",
                        plan.manifest.version
                    ));
                    continue;
                }
                let w = install::resume_plan(layout, conn, &plan, id)?;
                out.push(format!("repaired: completed the interrupted install of {name} {}", plan.manifest.version));
                out.extend(w);
            }
            "remove" => {
                let plan: RemovePlan = serde_json::from_str(&plan).map_err(|e| PkmError::unusable("pkm::intent", format!("intent {id}: {e}")))?;
                remove::resume_remove(layout, conn, &plan, id)?;
                out.push(format!("repaired: completed the interrupted removal of {name}"));
            }
            other => return Err(PkmError::unusable("pkm::intent", format!("intent {id}: unknown operation `{other}`"))),
        }
    }
    // Staging directories that no intent refers to are leftovers of a crash before the intent.
    if let Ok(rd) = std::fs::read_dir(layout.staging_dir()) {
        for e in rd.flatten() {
            let _ = std::fs::remove_dir_all(e.path());
            out.push(format!("repaired: removed stale staging {}", e.path().display()));
        }
    }
    Ok(out)
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
                let target = if plan.keep_configs.contains(&e.path) { std::path::PathBuf::from(format!("{}.new", dest.display())) } else { dest };
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
fn abandon_install(layout: &Layout, conn: &mut Connection, plan: &Plan, id: i64) -> Result<()> {
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
    db::log_history(&tx, "abandon", &plan.manifest.name, None, Some(&plan.manifest.version), "interrupted install could not be completed")?;
    tx.execute("DELETE FROM intents WHERE id=?1", [id])?;
    tx.commit()?;
    Ok(())
}

/// Returns (report lines, problems found).
pub fn doctor(layout: &Layout, conn: &mut Connection) -> Result<(Vec<String>, usize)> {
    let mut out = Vec::new();
    let mut problems = 0;
    let ic: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if ic != "ok" {
        problems += 1;
        out.push(format!("database integrity: {ic}"));
    }
    let fk: i64 = conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?;
    if fk != 0 {
        problems += 1;
        out.push(format!("database integrity: {fk} foreign key violations"));
    }
    let repaired = repair_intents(layout, conn)?;
    problems += repaired.iter().filter(|l| l.starts_with("repaired")).count();
    out.extend(repaired);
    let mut expected = BTreeSet::new();
    for pkg in db::list_installed(conn)? {
        let file = format!("{}-{}", pkg.name, pkg.version);
        expected.insert(file.clone());
        let want = textmanifest::render(conn, &pkg)?;
        let path = layout.text_manifest(&pkg.name, &pkg.version);
        let reason = match std::fs::read_to_string(&path) {
            Err(_) => Some("missing".to_string()),
            Ok(have) if have == want => None,
            Ok(have) => Some(match (Manifest::parse(&have), Manifest::parse(&want)) {
                (Ok(h), Ok(w)) if h.entries != w.entries => {
                    let hs: BTreeSet<_> = h.entries.iter().map(|e| &e.path).collect();
                    let ws: BTreeSet<_> = w.entries.iter().map(|e| &e.path).collect();
                    format!("file lists differ ({} only in the database, {} only in the text)", ws.difference(&hs).count(), hs.difference(&ws).count())
                }
                (Err((n, m)), _) => format!("unreadable at line {n}: {m}"),
                _ => "header differs".to_string(),
            }),
        };
        if let Some(r) = reason {
            problems += 1;
            out.push(format!("divergence: {}: {r}; rewritten from the database", path.display()));
            textmanifest::write(layout, conn, &pkg.name)?;
        }
    }
    if let Ok(rd) = std::fs::read_dir(layout.manifests_dir()) {
        let mut extra: Vec<_> = rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.') && !expected.contains(n)).collect();
        extra.sort();
        for n in extra {
            problems += 1;
            out.push(format!("divergence: {}: no such package in the database; removed", layout.manifests_dir().join(&n).display()));
            let _ = std::fs::remove_file(layout.manifests_dir().join(&n));
        }
    }
    if problems == 0 {
        out.push("ok: database and text manifests agree".into());
    }
    Ok((out, problems))
}
