//! The install pipeline, in the seeds' order: staging extraction, manifest, invariant checks,
//! deploy, one database transaction, text manifest. A queue is all or nothing (`run_queue`):
//! every member is checked and planned before anything is written, the intents of all members
//! are committed together before the deploy (a crash after them is rolled forward by the next
//! run), a failure before the commit rolls every member's deploy back, and one transaction
//! records the whole queue.

use super::db::{self, Layout};
use super::deploy::{self, Obsolete, Plan};

use super::error::{PkmError, Result, EXIT_FINDING};
use super::invariants;
use super::rootfs;
use super::textmanifest;
use super::trust::{self, Trust};
use super::util::{crash_point, now_utc};
use crate::archive::{extract_archive, hash_file, EntryKind, Extracted, Limits};
use rusqlite::{params, Connection, TransactionBehavior};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    pub trust: Trust,
    pub limits: Limits,
    /// `--overwrite` globs: unowned files already in the root that may be replaced.
    pub overwrite: Vec<String>,
    /// Install an older version over a newer one (`--allow-downgrade`).
    pub allow_downgrade: bool,
    /// Install a package's installed version over itself (`pkm reinstall`): an upgrade to the
    /// same version, so the queue's all-or-nothing holds (a failure leaves the old files).
    pub reinstall: bool,
}

struct Staged {
    archive: PathBuf,
    staging: PathBuf,
    ex: Extracted,
}

fn new_staging(layout: &Layout, idx: usize) -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    super::state::new_staging(layout, &format!("{}-{idx}-{nanos}", std::process::id()))
}

/// Remove the staging directories, except those a committed install intent still needs:
/// the next run (or `pkm doctor`) completes that install from them.
fn cleanup(staged: &[Staged], keep: &BTreeSet<PathBuf>) {
    for s in staged.iter().filter(|s| !keep.contains(&s.staging)) {
        let _ = fs::remove_dir_all(&s.staging);
        if let Some(base) = s.staging.parent() {
            let _ = fs::remove_dir(base); // only when empty
        }
    }
}

/// Stage one archive: open, stream-extract with the hardened reader.
fn stage(layout: &Layout, archive: &Path, idx: usize, limits: &Limits) -> Result<Staged> {
    let f = fs::File::open(archive).map_err(|e| {
        PkmError::unusable("pkm::archive::missing", format!("{}: cannot open archive: {e}", archive.display()))
    })?;
    let staging = new_staging(layout, idx)?;
    match extract_archive(std::io::BufReader::with_capacity(1 << 18, f), &staging, limits) {
        Ok(ex) => Ok(Staged { archive: archive.to_path_buf(), staging, ex }),
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            let _ = fs::remove_dir(layout.staging_dir());
            Err(PkmError::unusable(format!("pkm::archive::{}", e.code), format!("{}: {e}", archive.display()))
                .help("the archive is malformed or hostile; nothing was written to the root"))
        }
    }
}

/// syncfs(2) on the filesystem holding `dir`, result ignored (a head start, see `install`).
fn start_flush(dir: &Path) {
    #[cfg(target_os = "linux")]
    if let Ok(f) = fs::File::open(dir) {
        let _ = rustix::fs::syncfs(&f);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = dir;
}

/// Install the queue `archives` in order. Returns informational lines for the user.
pub fn install(layout: &Layout, conn: &mut Connection, archives: &[PathBuf], opts: &InstallOptions) -> Result<Vec<String>> {
    let mut out = super::doctor::repair_intents(layout, conn)?;
    let mut staged: Vec<Staged> = Vec::new();
    for (i, a) in archives.iter().enumerate() {
        match stage(layout, a, i, &opts.limits) {
            Ok(s) => staged.push(s),
            Err(e) => {
                cleanup(&staged, &BTreeSet::new());
                return Err(e);
            }
        }
    }
    crash_point("staged");
    // While the checks, the intent record and the deploy's renames run, a helper thread already
    // asks the kernel to write the staged data back (syncfs of the staging filesystem). This is
    // only a head start: durability still comes from deploy's syncfs after the renames, before
    // the database commit, exactly as before; the helper changes what that call has left to do,
    // not what it guarantees. The thread is joined before install returns.
    let res = std::thread::scope(|s| {
        if let Some(first) = staged.first() {
            let dir = first.staging.clone();
            s.spawn(move || start_flush(&dir));
        }
        check_and_install(layout, conn, &staged, opts, &mut out)
    });
    let keep = if res.is_err() { pending_stagings(conn) } else { BTreeSet::new() };
    cleanup(&staged, &keep);
    res.map(|_| out)
}

/// Staging directories that pending install intents still need.
fn pending_stagings(conn: &Connection) -> BTreeSet<PathBuf> {
    let Ok(mut st) = conn.prepare("SELECT plan FROM intents WHERE operation = 'install'") else { return BTreeSet::new() };
    let Ok(rows) = st.query_map([], |r| r.get::<_, String>(0)) else { return BTreeSet::new() };
    rows.flatten().filter_map(|p| serde_json::from_str::<Plan>(&p).ok()).map(|p| p.staging).collect()
}

fn check_and_install(layout: &Layout, conn: &mut Connection, staged: &[Staged], opts: &InstallOptions, out: &mut Vec<String>) -> Result<()> {
    // Trust, then "already installed" (the install is a no-op, not a violation), then the
    // queue's invariants: the rules of rules/pkm.pol.
    for s in staged {
        let m = &s.ex.manifest;
        if let Some(w) = trust::check(conn, opts.trust, m, &s.ex.archive_sha256, &s.archive)? {
            out.push(w);
        }
        if let Some(i) = db::get_installed(conn, &m.name)? {
            if i.superseded_by.is_none() && i.version == m.version && i.release == m.release as i64 && !opts.reinstall {
                return Err(PkmError::finding("pkm::already-installed", format!("{} {}-{} is already installed", m.name, m.version, m.release))
                    .help("remove it first to reinstall it"));
            }
            super::vercmp::check_downgrade(&i, m, opts.allow_downgrade)?;
        }
    }
    let queue: Vec<(String, &crate::archive::Manifest)> = staged.iter().map(|s| (s.archive.display().to_string(), &s.ex.manifest)).collect();
    let facts = invariants::gather(conn, &layout.root, &queue, &opts.overwrite)?;
    let violations = invariants::evaluate(&facts);
    if !violations.is_empty() {
        return Err(violation_error(&violations));
    }
    // Every member is planned and preflighted before anything is written: a member that
    // cannot install stops the whole queue here, with nothing written.
    let mut plans = Vec::with_capacity(staged.len());
    let mut seen = Preflight::default();
    let mut same = BTreeSet::new();
    for s in staged {
        if let Some(i) = db::get_installed(conn, &s.ex.manifest.name)? {
            if same_version(&i, &s.ex.manifest) {
                same.insert(s.ex.manifest.name.clone());
            }
        }
        let earlier: Vec<String> = plans.iter().map(|p: &Plan| p.manifest.name.clone()).collect();
        let plan = make_plan(layout, conn, s, &earlier)?;
        preflight(layout, &plan, &mut seen)?;
        plans.push(plan);
    }
    out.extend(run_queue(layout, conn, &plans)?);
    for plan in &plans {
        let verb = if same.contains(&plan.manifest.name) { "reinstalled" } else { super::vercmp::verb(plan.upgrade_from.as_deref(), &plan.manifest.version) };
        let files = plan.manifest.entries.iter().filter(|e| !matches!(e.kind, EntryKind::Dir)).count();
        let noun = if files == 1 { "file" } else { "files" };
        let mut line = format!("{verb} {} {}-{} ({files} {noun})", plan.manifest.name, plan.manifest.version, plan.manifest.release);
        if !plan.predecessors.is_empty() {
            line.push_str(&format!(", supersedes {}", plan.predecessors.join(", ")));
        }
        out.push(line);
    }
    Ok(())
}

/// The archive is the installed version itself (a reinstall).
fn same_version(i: &db::Installed, m: &crate::archive::Manifest) -> bool {
    i.version == m.version && i.release == i64::from(m.release)
}

/// One diagnostic for all violations; the code names the first rule.
pub fn violation_error(vs: &[invariants::Violation]) -> PkmError {
    let first = vs.first().map(|v| v.rule_id.as_str()).unwrap_or("invariant");
    let msg = vs
        .iter()
        .map(|v| match &v.decided_by {
            // One line per violation: a path from the archive cannot add lines.
            Some(at) => format!("[{}] {}\n  decided by {at}", v.rule_id, crate::visible::visible(&v.message)),
            None => format!("[{}] {}", v.rule_id, crate::visible::visible(&v.message)),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let help = vs.iter().map(|v| v.help.clone()).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join("; ");
    PkmError::new(EXIT_FINDING, format!("pkm::rule::{first}"), format!("invariant violated, nothing was written:\n{msg}")).help(help).multiline()
}

fn make_plan(layout: &Layout, conn: &Connection, s: &Staged, earlier: &[String]) -> Result<Plan> {
    let m = &s.ex.manifest;
    let mut keep_configs = BTreeSet::new();
    for e in &m.entries {
        let EntryKind::File { sha256 } = &e.kind else { continue };
        if !e.config {
            continue;
        }
        let live = rootfs::host_path(&layout.root, &e.path);
        let Ok(meta) = fs::symlink_metadata(&live) else { continue };
        if !meta.is_file() {
            keep_configs.insert(e.path.clone());
            continue;
        }
        let live_hash = hash_file(&live).map_err(|x| PkmError::io(live.display(), x))?;
        if &live_hash == sha256 {
            continue;
        }
        match db::config_baseline(conn, &e.path)? {
            Some(b) if b == live_hash => {}
            _ => {
                keep_configs.insert(e.path.clone());
            }
        }
    }
    let mut new_names = std::collections::BTreeMap::new();
    for rel in &keep_configs {
        let taken = new_names.values().cloned().collect();
        new_names.insert(rel.clone(), super::confignew::free_new_name(&layout.root, conn, rel, &taken)?);
    }
    let mut upgrade_from = None;
    let mut obsolete = Vec::new();
    if let Some(old) = db::get_installed(conn, &m.name)? {
        upgrade_from = Some(old.version.clone());
        for f in db::files_of(conn, old.id)? {
            if m.entry(&f.path).is_none() && (f.kind != "dir" || super::remove::dir_removable(conn, &f.path, &m.name)?) {
                obsolete.push(Obsolete { path: f.path, kind: f.kind, is_config: f.is_config, sha256: f.sha256 });
            }
        }
    }
    let mut predecessors = Vec::new();
    for p in &m.supersedes {
        // Installed, or an earlier member of the queue (committed in the same transaction first).
        if db::get_installed(conn, p)?.is_some() || earlier.iter().any(|e| e == p) {
            predecessors.push(p.clone());
        }
    }
    Ok(Plan {
        manifest: m.clone(),
        staging: s.staging.clone(),
        archive: s.archive.display().to_string(),
        archive_sha256: s.ex.archive_sha256.clone(),
        keep_configs,
        new_names,
        predecessors,
        upgrade_from,
        obsolete,
    })
}

/// Before the intent: every directory the deploy writes into (or the nearest existing
/// ancestor of one it creates) must be writable, so a read-only tree refuses the install
/// with no intent and nothing written, rather than failing half way through the deploy.
fn preflight(layout: &Layout, plan: &Plan, seen: &mut Preflight) -> Result<()> {
    for e in &plan.manifest.entries {
        // Entries of one directory share the answer, across the queue (nothing is written
        // before every member passed): look once per parent. A 10,000-file package made
        // 90,000 lstats here, resolving and climbing the same few directories.
        if !seen.parents.insert(e.path.rsplit_once('/').map_or("", |(p, _)| p).to_string()) {
            continue;
        }
        let mut dir = rootfs::host_path(&layout.root, &e.path);
        // The nearest ancestor that exists is where the first new entry is made.
        while let Some(parent) = dir.parent().map(Path::to_path_buf) {
            dir = parent;
            if seen.checked.contains(&dir) || fs::symlink_metadata(&dir).is_ok() {
                break;
            }
        }
        if !seen.checked.insert(dir.clone()) {
            continue;
        }
        if let Err(err) = rootfs::writable(&dir) {
            return Err(PkmError::unusable("pkm::install::not-writable", format!("/{}: cannot install it: {}: {err}", e.path, dir.display()))
                .help("nothing was written; make the filesystem writable (remount it read-write) and install again"));
        }
    }
    Ok(())
}

/// What `preflight` already knows while it checks a queue: the parents looked at, and the
/// existing directories found writable.
#[derive(Default)]
struct Preflight {
    parents: BTreeSet<String>,
    checked: BTreeSet<PathBuf>,
}

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
/// `plan` comes from `doctor::check_plan`: its staging is this root's, its paths canonical.
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
