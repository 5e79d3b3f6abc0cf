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
use super::deploy::Plan;
use super::error::{PkmError, Result};
use super::install;
use super::remove::{self, RemovePlan};
use super::rootfs;
use super::textmanifest;
use crate::archive::{canonical_path, hash_file, EntryKind, Manifest};
use crate::visible::visible;
use rusqlite::types::Value;
use rusqlite::{params, Connection};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A pending intent that could not be completed (or not even read).
struct Stuck {
    id: i64,
    op: String,
    name: String,
    plan_text: String,
    why: String,
}

impl Stuck {
    fn what(&self) -> String {
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
            let w = install::resume_plan(layout, conn, &plan, id).map_err(|e| e.message)?;
            out.push(format!("repaired: completed the interrupted install of {} {}", visible(name), visible(&plan.manifest.version)));
            out.extend(w);
        }
        "remove" => {
            let plan: RemovePlan = serde_json::from_str(plan).map_err(|e| format!("its plan cannot be read: {e}"))?;
            let w = remove::resume_remove(layout, conn, &plan, id).map_err(|e| e.message)?;
            out.extend(w.into_iter().filter(|l| !l.starts_with("removed ")));
            out.push(format!("repaired: completed the interrupted removal of {}", visible(name)));
        }
        other => return Err(format!("unknown operation `{other}`")),
    }
    Ok(out)
}

/// Run the pending intents in order. Stops at the first that cannot be completed and returns
/// it, unless `abandon`, which gives it up and goes on.
fn run_intents(layout: &Layout, conn: &mut Connection, abandon: bool) -> Result<(Vec<String>, Option<Stuck>)> {
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
        expected.insert(textmanifest::file_name(&pkg.name, &pkg.version));
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
    let extra = textmanifest::names(layout).into_iter().filter(|n| !expected.contains(n));
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
                    textmanifest::file_name(&now.name, &now.version)
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
    let files = textmanifest::names(layout);
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
    for sfx in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{sfx}", building.display()));
    }
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
