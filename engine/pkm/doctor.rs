//! `pkm doctor`: database integrity, interrupted transactions (intent records) rolled forward,
//! stale staging removed, database versus text manifests (the database is authoritative: every
//! divergence is reported and the text manifest rewritten from it).
//!
//! Recovery always converges. An intent that cannot be completed stops the mutating commands
//! with a diagnostic (exit 2) and is reported by doctor, which gives it up with `--abandon`
//! (an install is rolled back, a removal leaves the package installed; the intent's text is
//! kept in the history). A lost database is rebuilt from the text manifests with
//! `--rebuild-db`, the old file kept beside it. Doctor never deletes a record the database does
//! not replace: a text manifest of a package the database does not know is moved aside to
//! `orphaned/`, never removed.

use super::db::{self, Layout};
use super::layout::{manifest_file_name, manifest_names};
use super::error::{PkmError, Result};
use super::intents::run_intents;
use super::textmanifest;
use crate::archive::{EntryKind, Manifest};
use crate::visible::visible;
use rusqlite::{params, Connection};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Returns (report lines, problems found). `abandon`: give up the intents that cannot be
/// completed instead of reporting them.
pub fn doctor(layout: &Layout, conn: &mut Connection, abandon: bool) -> Result<(Vec<String>, usize)> {
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
    let (repaired, stuck) = run_intents(layout, conn, abandon)?;
    problems += repaired.iter().filter(|l| l.starts_with("repaired") || l.starts_with("abandoned")).count();
    out.extend(repaired);
    if let Some(s) = &stuck {
        problems += 1;
        out.push(format!(
            "stuck: {} cannot be completed: {}; fix the cause and run pkm again, or give it up with `pkm doctor --abandon`",
            s.what(),
            visible(&s.why)
        ));
    }
    let (lines, n) = reconcile_text_manifests(layout, conn)?;
    out.extend(lines);
    problems += n;
    if problems == 0 {
        out.push("ok: database and text manifests agree".into());
    }
    Ok((out, problems))
}

/// Every package's text manifest rewritten from the database where it differs; text manifests
/// of no installed package removed when the database replaces them (a newer version, a
/// recorded removal), moved to `orphaned/` otherwise.
fn reconcile_text_manifests(layout: &Layout, conn: &Connection) -> Result<(Vec<String>, usize)> {
    let mut out = Vec::new();
    let mut problems = 0;
    let mut expected = BTreeSet::new();
    for pkg in db::list_installed(conn)? {
        let path = layout.text_manifest(&pkg.name, &pkg.version);
        expected.insert(manifest_file_name(&pkg.name, &pkg.version));
        let want = textmanifest::render(conn, &pkg)?;
        let reason = match std::fs::read_to_string(&path) {
            Err(_) => Some("missing".to_string()),
            Ok(have) if have == want => None,
            Ok(have) => Some(match (Manifest::parse(&have), Manifest::parse(&want)) {
                (Ok(h), Ok(w)) if h.entries != w.entries => {
                    let hs: BTreeSet<_> = h.entries.iter().map(|e| &e.path).collect();
                    let ws: BTreeSet<_> = w.entries.iter().map(|e| &e.path).collect();
                    format!("file lists differ ({} only in the database, {} only in the text)", ws.difference(&hs).count(), hs.difference(&ws).count())
                }
                (Ok(h), Ok(_)) if (h.name.as_str(), h.version.as_str()) != (pkg.name.as_str(), pkg.version.as_str()) => {
                    format!("it records {} {}", visible(&h.name), visible(&h.version))
                }
                (Err((n, m)), _) => format!("unreadable at line {n}: {}", visible(&m)),
                _ => "header differs".to_string(),
            }),
        };
        if let Some(r) = reason {
            problems += 1;
            out.push(format!("divergence: {}: {r}; rewritten from the database", visible(&path.to_string_lossy())));
            textmanifest::write(layout, conn, &pkg.name)?;
        }
    }
    let dir = layout.manifests_dir();
    super::state::check(layout)?;
    let extra = manifest_names(layout).into_iter().filter(|n| !expected.contains(n));
    for n in extra {
        problems += 1;
        let path = dir.join(&n);
        let shown = visible(&path.to_string_lossy()).into_owned();
        let parsed = std::fs::read_to_string(&path).map_err(|e| e.to_string()).and_then(|t| textmanifest::parse(&t).map_err(|(l, m)| format!("unreadable at line {l}: {m}")));
        let verdict = match parsed {
            Err(why) => Err(why),
            Ok((m, _)) => match db::get_installed(conn, &m.name)? {
                Some(now) => Ok(format!(
                    "a stale record of {} {}, replaced by the database's {} {} ({})",
                    visible(&m.name),
                    visible(&m.version),
                    visible(&now.name),
                    visible(&now.version),
                    manifest_file_name(&now.name, &now.version)
                )),
                None => match last_operation(conn, &m.name)? {
                    Some((op, at)) if op == "remove" => Ok(format!("{} {} was removed at {at}", visible(&m.name), visible(&m.version))),
                    _ => Err(format!("{} {} is not in the database", m.name, m.version)),
                },
            },
        };
        match verdict {
            Ok(why) => {
                std::fs::remove_file(&path).map_err(|e| PkmError::io(&shown, e))?;
                out.push(format!("divergence: {shown}: {why}; removed"));
            }
            Err(why) => {
                let dest = orphan(layout, &path, &n)?;
                out.push(format!(
                    "divergence: {shown}: {}; moved to {} (kept: `pkm doctor --rebuild-db` rebuilds a lost database from text manifests)",
                    visible(&why),
                    visible(&dest.to_string_lossy())
                ));
            }
        }
    }
    Ok((out, problems))
}

/// The last recorded operation on `name` and when.
fn last_operation(conn: &Connection, name: &str) -> Result<Option<(String, String)>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row("SELECT operation, timestamp FROM history WHERE package_name = ?1 ORDER BY id DESC LIMIT 1", [name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Move a text manifest the database does not account for to `orphaned/` (a free name there).
fn orphan(layout: &Layout, path: &Path, name: &str) -> Result<PathBuf> {
    let dir = layout.state_dir().join(super::state::ORPHANED);
    super::state::ensure_dir(layout, super::state::ORPHANED)?;
    let mut dest = dir.join(name);
    let mut i = 1;
    while std::fs::symlink_metadata(&dest).is_ok() {
        dest = dir.join(format!("{name}.{i}"));
        i += 1;
    }
    std::fs::rename(path, &dest).map_err(|e| PkmError::io(path.display(), e))?;
    Ok(dest)
}

/// `pkm doctor --rebuild-db`: set the database aside (renamed, never deleted) and build a new one
/// from the text manifests. Returns (report lines, problems).
pub fn rebuild_db(layout: &Layout) -> Result<(Vec<String>, usize)> {
    let dir = layout.manifests_dir();
    super::state::check(layout)?;
    let files = manifest_names(layout);
    if files.is_empty() {
        return Err(PkmError::unusable("pkm::doctor::no-manifests", format!("{}: no text manifests to rebuild the database from", visible(&dir.to_string_lossy())))
            .help("nothing was done"));
    }
    let mut out = Vec::new();
    // The newest record of each package (by version, then install date).
    let mut chosen: BTreeMap<String, (String, Manifest, textmanifest::TextState)> = BTreeMap::new();
    for f in &files {
        let shown = visible(&dir.join(f).to_string_lossy()).into_owned();
        let parsed = std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string()).and_then(|t| textmanifest::parse(&t).map_err(|(l, m)| format!("line {l}: {m}")));
        let (m, st) = match parsed {
            Ok(x) => x,
            Err(why) => {
                out.push(format!("skipped {shown}: unreadable ({}); left in place", visible(&why)));
                continue;
            }
        };
        let newer = match chosen.get(&m.name) {
            None => true,
            Some((_, o, ost)) => super::vercmp::compare(&m.version, i64::from(m.release), &o.version, i64::from(o.release)).then(st.installed.cmp(&ost.installed)).is_gt(),
        };
        if newer {
            if let Some((old, o, _)) = chosen.insert(m.name.clone(), (f.clone(), m, st)) {
                out.push(format!("skipped {}: an older record of {} ({})", visible(&dir.join(old).to_string_lossy()), visible(&o.name), visible(&o.version)));
            }
        } else {
            out.push(format!("skipped {shown}: an older record of {} ({})", visible(&m.name), visible(&m.version)));
        }
    }
    // Built beside the database and renamed into place once complete: a crash before the
    // rename leaves the old database (or none, which is refused) and a rerun starts over.
    let building = layout.state_dir().join("pkm.db.rebuilding");
    db::remove_with_journals(&building);
    let mut conn = db::create_at(&building)?;
    let now = super::util::now_utc();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for (file, m, st) in chosen.values() {
        tx.execute(
            "INSERT INTO installed(name, version, release, tier, description, install_date, superseded_by, superseded_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
            params![m.name, m.version, m.release, m.tier, m.description, st.installed.clone().unwrap_or_else(|| now.clone()), st.superseded_by, st.superseded_at],
        )?;
        let id = tx.last_insert_rowid();
        let mut dropped = Vec::new();
        for e in &m.entries {
            let (kind, sha, target) = match &e.kind {
                EntryKind::Dir => ("dir", None, None),
                EntryKind::File { sha256 } => ("file", Some(sha256.as_str()), None),
                EntryKind::Symlink { target } => ("symlink", None, Some(target.as_str())),
            };
            let n = tx.execute(
                "INSERT OR IGNORE INTO files(package_id, path, kind, is_dir, is_config, mode, sha256, target, size) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                params![id, e.path, kind, kind == "dir", e.config, e.mode, sha, target, e.size],
            )?;
            if n == 0 {
                dropped.push(e.path.clone());
            }
            if e.config {
                tx.execute("INSERT OR IGNORE INTO config_files(path, package_id, original_sha256) VALUES (?1,?2,?3)", params![e.path, id, sha])?;
            }
        }
        for d in &m.depends {
            tx.execute("INSERT OR IGNORE INTO depends(package_id, dep_name, dep_type) VALUES (?1, ?2, 'runtime')", params![id, d])?;
        }
        db::log_history(&tx, "rebuild", &m.name, None, Some(&m.version), &format!("rebuilt from the text manifest {file}"))?;
        out.push(format!("rebuilt: {} {} from {} ({} entries)", visible(&m.name), visible(&m.version), visible(file), m.entries.len() - dropped.len()));
        for d in dropped {
            out.push(format!("conflict: /{} is listed by {} and by a package rebuilt before it; the first keeps it", visible(&d), visible(&m.name)));
        }
    }
    tx.commit()?;
    drop(conn);
    super::util::crash_point("rebuild-built");
    let aside = set_aside(layout)?;
    super::util::crash_point("rebuild-aside");
    std::fs::rename(&building, layout.db_path()).map_err(|e| PkmError::io(building.display(), e))?;
    super::util::sync_dir(&layout.state_dir());
    let kept = match &aside {
        Some(p) => format!("; the old database is kept as {}", visible(&p.to_string_lossy())),
        None => String::new(),
    };
    out.push(format!("repaired: rebuilt the database from {}{kept}", db::text_manifests(chosen.len())));
    Ok((out, 1))
}

/// Rename the database (and its WAL, shared-memory and journal files) to the first free
/// `pkm.db.broken-N`. `None` when there was no database.
fn set_aside(layout: &Layout) -> Result<Option<PathBuf>> {
    let p = layout.db_path();
    if std::fs::symlink_metadata(&p).is_err() {
        return Ok(None);
    }
    let dir = layout.state_dir();
    let mut n = 1;
    let aside = loop {
        let cand = dir.join(format!("pkm.db.broken-{n}"));
        if std::fs::symlink_metadata(&cand).is_err() {
            break cand;
        }
        n += 1;
    };
    std::fs::rename(&p, &aside).map_err(|e| PkmError::io(p.display(), e))?;
    for sfx in ["-wal", "-shm", "-journal"] {
        let side = PathBuf::from(format!("{}{sfx}", p.display()));
        if std::fs::symlink_metadata(&side).is_ok() {
            std::fs::rename(&side, format!("{}{sfx}", aside.display())).map_err(|e| PkmError::io(side.display(), e))?;
        }
    }
    Ok(Some(aside))
}
