//! The install pipeline, in the seeds' order: staging extraction, manifest, invariant checks,
//! deploy, one database transaction, text manifest. A queue is all or nothing (`queue::run_queue`):
//! every member is checked and planned before anything is written, the intents of all members
//! are committed together before the deploy (a crash after them is rolled forward by the next
//! run), a failure before the commit rolls every member's deploy back, and one transaction
//! records the whole queue.

use super::db::{self, Layout};
use super::deploy::{Obsolete, Plan};
use super::error::{PkmError, Result, EXIT_FINDING};
use super::invariants::{self, Rules};
use super::queue;
use super::rootfs;
use super::trust::{self, Trust};
use super::util::crash_point;
use crate::archive::{extract_archive, hash_file, EntryKind, Extracted, Limits};
use rusqlite::Connection;
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

/// Install the queue `archives` in order, checked by the rules `rules` compiles (called once,
/// when the queue reaches its checks). Returns informational lines for the user.
pub fn install(layout: &Layout, conn: &mut Connection, archives: &[PathBuf], opts: &InstallOptions, rules: &dyn Fn() -> Result<Rules>) -> Result<Vec<String>> {
    let mut out = super::intents::repair_intents(layout, conn)?;
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
        check_and_install(layout, conn, &staged, opts, rules, &mut out)
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

fn check_and_install(layout: &Layout, conn: &mut Connection, staged: &[Staged], opts: &InstallOptions, rules: &dyn Fn() -> Result<Rules>, out: &mut Vec<String>) -> Result<()> {
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
    let members: Vec<(String, &crate::archive::Manifest)> = staged.iter().map(|s| (s.archive.display().to_string(), &s.ex.manifest)).collect();
    let facts = invariants::gather(conn, &layout.root, &members, &opts.overwrite)?;
    let violations = invariants::evaluate(&rules()?, &facts);
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
            if queue::same_version(&i, &s.ex.manifest) {
                same.insert(s.ex.manifest.name.clone());
            }
        }
        let earlier: Vec<String> = plans.iter().map(|p: &Plan| p.manifest.name.clone()).collect();
        let plan = make_plan(layout, conn, s, &earlier)?;
        preflight(layout, &plan, &mut seen)?;
        plans.push(plan);
    }
    out.extend(queue::run_queue(layout, conn, &plans)?);
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
            if m.entry(&f.path).is_none() && (f.kind != "dir" || super::removal::dir_removable(conn, &f.path, &m.name)?) {
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

