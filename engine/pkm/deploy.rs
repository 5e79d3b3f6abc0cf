//! Moving staged, checked packages into the root, reversibly until the database commit.
//!
//! Every write is made in a parent directory opened beneath the root with no symlink followed
//! (`beneath`): the parent is resolved through the root's symlinks inside the root, then opened
//! with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, so the kernel refuses anything that would land
//! outside it. A file is placed with `renameat2(RENAME_NOREPLACE)`, or, over an existing file,
//! with `RENAME_EXCHANGE`, which leaves the old file at the staged name: until the commit every
//! placement can be undone exactly ([`Deployer::rollback`]), which is how a queue whose later
//! member fails leaves the root as it was. A deploy is also idempotent when resumed from its
//! intent record after a crash (an entry already in place is left alone).

use super::beneath;
use super::error::{PkmError, Result};
use super::util::{crash_point_in, sync_dir};
use crate::archive::{hash_file, EntryKind, Manifest};
use rustix::fs::{AtFlags, Mode, RenameFlags};
use rustix::io::Errno;
use std::collections::BTreeSet;
use std::fs;
use std::io::IsTerminal;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A file of an earlier version of the same package that the new version no longer ships.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Obsolete {
    pub path: String,
    pub kind: String,
    pub is_config: bool,
    pub sha256: Option<String>,
}

/// Everything needed to (re)do a deploy and its commit; stored as JSON in the intent record.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    pub manifest: Manifest,
    pub staging: PathBuf,
    pub archive: String,
    pub archive_sha256: String,
    /// Config paths whose live copy was edited: kept, new one written as `<path>.new`.
    pub keep_configs: BTreeSet<String>,
    /// The free name each kept config's new version is written to (`confignew`).
    #[serde(default)]
    pub new_names: std::collections::BTreeMap<String, String>,
    /// SUPERSEDES predecessors that are installed (ownership transfers from them).
    pub predecessors: Vec<String>,
    /// Same-name upgrade: the version being replaced.
    pub upgrade_from: Option<String>,
    pub obsolete: Vec<Obsolete>,
}

impl Plan {
    /// Where this plan writes the new version of the config `rel` (root-relative), if the live
    /// copy is kept. Intents written before names were chosen say `<rel>.new`.
    pub fn config_new_path(&self, rel: &str) -> Option<String> {
        if !self.keep_configs.contains(rel) {
            return None;
        }
        Some(self.new_names.get(rel).cloned().unwrap_or_else(|| format!("{rel}.new")))
    }
}

fn err(path: &str, what: &str, e: impl Into<std::io::Error>) -> PkmError {
    PkmError::unusable("pkm::deploy", format!("/{}: {what}: {}", crate::visible::visible(path), e.into()))
        .help("the queue was rolled back: the root and the database are as they were before this install")
}

/// One reversible step of a deploy.
enum Step {
    /// A directory created: removed on rollback.
    MadeDir { parent: String, name: String },
    /// A file or symlink put where nothing was: removed on rollback.
    Placed { parent: String, name: String },
    /// A file or symlink exchanged with what was there, which now sits at `backup` (the staged
    /// name, or a temporary name beside the target): exchanged back on rollback.
    Exchanged { parent: String, name: String, backup_dir: BackupAt, backup: String },
}

/// Where an exchanged-out old file waits until the commit.
enum BackupAt {
    /// At its staged name, inside the staging directory given.
    Staging(PathBuf),
    /// At a temporary name in the target's own directory (the staging was on another filesystem).
    Beside,
}

/// Places the entries of a queue's plans, remembering each step so the whole queue can be
/// undone until the database commit.
pub struct Deployer {
    root: PathBuf,
    root_fd: OwnedFd,
    /// The last parent directory opened (entries come sorted, so siblings share it).
    parent: Option<(String, String, OwnedFd)>,
    steps: Vec<Step>,
    touched: BTreeSet<String>,
}

impl Deployer {
    pub fn new(root: &Path) -> Result<Deployer> {
        let root_fd = beneath::open_base(root).map_err(|e| PkmError::io(root.display(), e))?;
        Ok(Deployer { root: root.to_path_buf(), root_fd, parent: None, steps: Vec::new(), touched: BTreeSet::new() })
    }

    /// The parent of `rel` opened beneath the root (resolved inside it, no symlink followed),
    /// and the resolved parent path. Cached for the next sibling.
    fn parent_of(&mut self, rel: &str) -> Result<(String, String)> {
        let (parent, name) = beneath::split(rel);
        if let Some((p, resolved, _)) = &self.parent {
            if p == parent {
                return Ok((resolved.clone(), name.to_string()));
            }
        }
        let resolved = if parent.is_empty() { String::new() } else { super::rootfs::resolve(&self.root, parent, true).unwrap_or_else(|| parent.to_string()) };
        let fd = beneath::open_dir(self.root_fd.as_fd(), &resolved).map_err(|e| err(rel, "cannot open its directory beneath the root", e.to_io()))?;
        self.parent = Some((parent.to_string(), resolved.clone(), fd));
        Ok((resolved, name.to_string()))
    }

    fn dir_fd(&self) -> Result<&OwnedFd> {
        self.parent.as_ref().map(|(_, _, fd)| fd).ok_or_else(|| PkmError::unusable("pkm::deploy", "no parent directory open"))
    }

    /// Deploy one plan. `resume`: rolled forward from an intent after a crash, so an entry
    /// already in place is left as it is.
    pub fn place(&mut self, plan: &Plan, resume: bool) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        let total = plan.manifest.entries.len();
        let progress = std::io::stderr().is_terminal() && total >= 2000;
        let staging = beneath::open_base(&plan.staging).map_err(|e| PkmError::io(plan.staging.display(), e))?;
        for (i, e) in plan.manifest.entries.iter().enumerate() {
            if i == total / 2 {
                crash_point_in("deploy-mid", &plan.manifest.name);
                super::util::fail_point("deploy-mid", &plan.manifest.name).map_err(|x| err(&e.path, "injected failure", x))?;
            }
            if progress && i % 1000 == 0 {
                eprint!("\rpkm: {} {}/{} entries", plan.manifest.name, i, total);
            }
            let (parent, name) = self.parent_of(&e.path)?;
            match &e.kind {
                EntryKind::Dir => {
                    let there = beneath::kind_at(self.dir_fd()?.as_fd(), &name).map_err(|x| err(&e.path, "cannot inspect", x))?;
                    match there {
                        None => {
                            rustix::fs::mkdirat(self.dir_fd()?, name.as_str(), Mode::from_raw_mode(0o700)).map_err(|x| err(&e.path, "cannot create directory", x))?;
                            self.steps.push(Step::MadeDir { parent: parent.clone(), name: name.clone() });
                            rustix::fs::chmodat(self.dir_fd()?, name.as_str(), Mode::from_raw_mode(e.mode), AtFlags::empty()).map_err(|x| err(&e.path, "chmod", x))?;
                            self.touched.insert(parent);
                        }
                        Some(rustix::fs::FileType::Directory) => {} // an existing directory is never overwritten
                        // A directory symlink (`lib -> usr/lib`) is kept; its children are placed
                        // beneath the root where it leads (the rules refuse this unless waived).
                        Some(rustix::fs::FileType::Symlink) if super::rootfs::kind(&self.root, &e.path) == super::rootfs::RootKind::SymlinkToDir => {}
                        Some(_) => return Err(PkmError::finding("pkm::deploy::not-a-directory", format!("/{}: exists and is not a directory", e.path))),
                    }
                }
                EntryKind::File { .. } | EntryKind::Symlink { .. } => {
                    // An edited config keeps its place; the new version goes to the free name
                    // chosen before the intent (`confignew`), never over an existing file.
                    let new_path = plan.config_new_path(&e.path);
                    let target = match &new_path {
                        Some(n) => n.rsplit('/').next().unwrap_or(n).to_string(),
                        None => name.clone(),
                    };
                    if resume && in_place(&self.root, &parent, &target, &e.kind) {
                        continue;
                    }
                    if let EntryKind::File { .. } = e.kind {
                        // chmod doubles as the "is the staged copy still there" test (no separate lstat).
                        match rustix::fs::chmodat(&staging, e.path.as_str(), Mode::from_raw_mode(e.mode), AtFlags::empty()) {
                            Ok(()) => {}
                            Err(Errno::NOENT) => return Err(err(&e.path, "the staged copy is gone", Errno::NOENT)),
                            Err(x) => return Err(err(&e.path, "chmod", x)),
                        }
                    }
                    self.put(&staging, &plan.staging, &e.path, &parent, &target)?;
                    self.touched.insert(parent);
                    if let Some(n) = &new_path {
                        warnings.push(super::confignew::notice(&e.path, n));
                    }
                }
            }
        }
        if progress {
            eprintln!("\rpkm: {} {total}/{total} entries", plan.manifest.name);
        }
        Ok(warnings)
    }

    /// Move the staged `rel` to `name` in the open parent: no-replace when nothing is there,
    /// else an exchange (the old entry goes to the staged name).
    fn put(&mut self, staging: &OwnedFd, staging_path: &Path, rel: &str, parent: &str, name: &str) -> Result<()> {
        let dir = self.dir_fd()?;
        match rustix::fs::renameat_with(staging, rel, dir, name, RenameFlags::NOREPLACE) {
            Ok(()) => {
                self.steps.push(Step::Placed { parent: parent.to_string(), name: name.to_string() });
                return Ok(());
            }
            Err(Errno::EXIST) => {}
            Err(Errno::XDEV) => return self.put_across(staging, rel, parent, name),
            Err(x) => return Err(err(rel, "cannot install", x)),
        }
        match rustix::fs::renameat_with(staging, rel, dir, name, RenameFlags::EXCHANGE) {
            Ok(()) => {
                self.steps.push(Step::Exchanged { parent: parent.to_string(), name: name.to_string(), backup_dir: BackupAt::Staging(staging_path.to_path_buf()), backup: rel.to_string() });
                Ok(())
            }
            Err(x) => Err(err(rel, "cannot install", x)),
        }
    }

    /// The staging is on another filesystem: copy to a temporary name beside the target, then
    /// exchange (or place) within the target's directory; the old entry waits at the temporary
    /// name until the commit.
    fn put_across(&mut self, staging: &OwnedFd, rel: &str, parent: &str, name: &str) -> Result<()> {
        let dir = self.dir_fd()?;
        let tmp = format!(".{name}.pkm-tmp");
        let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
        let st = rustix::fs::statat(staging, rel, AtFlags::SYMLINK_NOFOLLOW).map_err(|x| err(rel, "cannot read the staged copy", x))?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink {
            let t = rustix::fs::readlinkat(staging, rel, Vec::new()).map_err(|x| err(rel, "readlink", x))?;
            rustix::fs::symlinkat(t.as_c_str(), dir, tmp.as_str()).map_err(|x| err(rel, "cannot install symlink", x))?;
        } else {
            let src = beneath::open(staging.as_fd(), rel, rustix::fs::OFlags::RDONLY, 0).map_err(|x| err(rel, "cannot read the staged copy", x.to_io()))?;
            let dst = beneath::open(dir.as_fd(), &tmp, rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CREATE | rustix::fs::OFlags::EXCL, st.st_mode & 0o7777)
                .map_err(|x| err(rel, "cannot install", x.to_io()))?;
            let (mut src, mut dst) = (fs::File::from(src), fs::File::from(dst));
            std::io::copy(&mut src, &mut dst).and_then(|_| dst.sync_all()).map_err(|x| err(rel, "cannot install", x))?;
            rustix::fs::fchmod(&dst, Mode::from_raw_mode(st.st_mode & 0o7777)).map_err(|x| err(rel, "chmod", x))?;
        }
        match rustix::fs::renameat_with(dir, tmp.as_str(), dir, name, RenameFlags::NOREPLACE) {
            Ok(()) => self.steps.push(Step::Placed { parent: parent.to_string(), name: name.to_string() }),
            Err(Errno::EXIST) => {
                rustix::fs::renameat_with(dir, tmp.as_str(), dir, name, RenameFlags::EXCHANGE).map_err(|x| err(rel, "cannot install", x))?;
                self.steps.push(Step::Exchanged { parent: parent.to_string(), name: name.to_string(), backup_dir: BackupAt::Beside, backup: tmp });
            }
            Err(x) => return Err(err(rel, "cannot install", x)),
        }
        let _ = rustix::fs::unlinkat(staging, rel, AtFlags::empty());
        Ok(())
    }

    /// Undo every step, last first: the root is left exactly as it was before the deploy.
    /// Returns what could not be undone (an empty list is the normal case).
    pub fn rollback(mut self) -> Vec<String> {
        let mut left = Vec::new();
        while let Some(step) = self.steps.pop() {
            let r = match &step {
                Step::MadeDir { parent, name } => self.open(parent).and_then(|d| rustix::fs::unlinkat(&d, name.as_str(), AtFlags::REMOVEDIR).map_err(Into::into)),
                Step::Placed { parent, name } => self.open(parent).and_then(|d| rustix::fs::unlinkat(&d, name.as_str(), AtFlags::empty()).map_err(Into::into)),
                Step::Exchanged { parent, name, backup_dir, backup } => self.open(parent).and_then(|d| {
                    let from = match backup_dir {
                        BackupAt::Staging(p) => beneath::open_base(p)?,
                        BackupAt::Beside => d.try_clone()?,
                    };
                    rustix::fs::renameat_with(&from, backup.as_str(), &d, name.as_str(), RenameFlags::EXCHANGE)?;
                    if let BackupAt::Beside = backup_dir {
                        let _ = rustix::fs::unlinkat(&d, backup.as_str(), AtFlags::empty());
                    }
                    Ok(())
                }),
            };
            if let Err(e) = r {
                let (Step::MadeDir { parent, name } | Step::Placed { parent, name } | Step::Exchanged { parent, name, .. }) = &step;
                left.push(format!("/{}: could not be rolled back: {e}", crate::visible::visible(&format!("{parent}/{name}"))));
            }
        }
        left
    }

    fn open(&self, parent: &str) -> std::io::Result<OwnedFd> {
        beneath::open_dir(self.root_fd.as_fd(), parent).map_err(|e| e.to_io())
    }

    /// After every plan is placed: remove what upgrades no longer ship (except paths another
    /// plan of the queue ships), drop the temporary backups, and make it all durable before the
    /// database records it. Past this point the queue is rolled forward, never back.
    pub fn finish(self, plans: &[&Plan]) -> Vec<String> {
        let mut warnings = Vec::new();
        for s in &self.steps {
            if let Step::Exchanged { parent, backup_dir: BackupAt::Beside, backup, .. } = s {
                if let Ok(d) = self.open(parent) {
                    let _ = rustix::fs::unlinkat(&d, backup.as_str(), AtFlags::empty());
                }
            }
        }
        let shipped = |p: &str| plans.iter().any(|pl| pl.manifest.entry(p).is_some());
        let mut obsolete_dirs = Vec::new();
        for plan in plans {
            for o in plan.obsolete.iter().rev().filter(|o| !shipped(&o.path)) {
                match o.kind.as_str() {
                    "dir" => obsolete_dirs.push(o.path.clone()),
                    _ if o.is_config => warnings.push(format!("/{}: config file no longer shipped, kept", o.path)),
                    _ => {
                        let dest = super::rootfs::host_path(&self.root, &o.path);
                        if o.kind == "file" && o.sha256.is_some() && dest.exists() && hash_file(&dest).ok() != o.sha256 {
                            warnings.push(format!("/{}: modified since install; removed anyway", o.path));
                        }
                        let _ = beneath::remove_file(&self.root, &o.path);
                    }
                }
            }
        }
        for d in obsolete_dirs {
            let _ = beneath::remove_dir(&self.root, &d);
        }
        // Durability before the database records the packages: one syncfs(2) per filesystem
        // the deploy touched (file data and the renames), instead of an fsync per file.
        let mut devices = BTreeSet::new();
        for d in &self.touched {
            if let Ok(fd) = self.open(d) {
                if let Ok(st) = rustix::fs::fstat(&fd) {
                    if devices.insert(st.st_dev) {
                        sync_filesystem(&self.root.join(d));
                    }
                }
            }
        }
        warnings
    }
}

/// syncfs(2) on the filesystem holding `dir`; falls back to fsync of the directory.
fn sync_filesystem(dir: &Path) {
    match fs::File::open(dir) {
        Ok(f) if rustix::fs::syncfs(&f).is_ok() => {}
        _ => sync_dir(dir),
    }
}

/// Is the entry already in place (a resumed deploy): the file with its hash, the symlink with
/// its target. Read through the resolved parent, never following the last component.
fn in_place(root: &Path, parent: &str, name: &str, kind: &EntryKind) -> bool {
    let p = root.join(parent).join(name);
    match kind {
        EntryKind::File { sha256 } => fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) && hash_file(&p).ok().as_ref() == Some(sha256),
        EntryKind::Symlink { target } => fs::read_link(&p).ok().is_some_and(|t| t.as_os_str() == target.as_str()),
        EntryKind::Dir => true,
    }
}

/// Deploy one plan on its own (an intent rolled forward by `pkm doctor`).
pub fn deploy(root: &Path, plan: &Plan) -> Result<Vec<String>> {
    let mut d = Deployer::new(root)?;
    let mut warnings = d.place(plan, true)?;
    warnings.extend(d.finish(&[plan]));
    Ok(warnings)
}
