//! Moving a staged, checked package into the root. Idempotent, so an interrupted deploy can be
//! rolled forward by running it again from its intent record.

use super::error::{PkmError, Result};
use super::rootfs;
use super::util::{crash_point, sync_dir};
use std::os::fd::AsRawFd;

/// syncfs(2) on the filesystem holding `dir`; falls back to fsync of the directory.
fn sync_filesystem(dir: &Path) {
    match fs::File::open(dir) {
        // SAFETY: the descriptor is valid for the lifetime of `f`; syncfs only reads it.
        Ok(f) => {
            if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
                sync_dir(dir);
            }
        }
        Err(_) => sync_dir(dir),
    }
}
use crate::archive::{hash_file, EntryKind, Manifest};
use std::collections::BTreeSet;
use std::fs;
use std::io::IsTerminal;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
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

fn err(path: &str, what: &str, e: std::io::Error) -> PkmError {
    PkmError::unusable("pkm::deploy", format!("/{path}: {what}: {e}"))
}

fn place(src: &Path, dest: &Path) -> std::io::Result<()> {
    match fs::rename(src, dest) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(18) => {
            // EXDEV: copy to a temporary name beside the destination, then rename.
            let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let tmp = dest.with_file_name(format!(".{name}.pkm-tmp"));
            let meta = fs::symlink_metadata(src)?;
            if meta.file_type().is_symlink() {
                let t = fs::read_link(src)?;
                let _ = fs::remove_file(&tmp);
                std::os::unix::fs::symlink(t, &tmp)?;
            } else {
                fs::copy(src, &tmp)?;
                fs::set_permissions(&tmp, meta.permissions())?;
                fs::File::open(&tmp)?.sync_all()?;
            }
            fs::rename(&tmp, dest)?;
            fs::remove_file(src)
        }
        Err(e) => Err(e),
    }
}

/// `rootfs::host_path` with the resolution of each parent directory done once per deploy
/// instead of once per entry (an lstat per path component per entry was a third of the deploy's
/// system calls on a 10,000-file package). Sound because entries come in sorted order with every
/// parent a directory entry of the package, deployed (created or found existing) before its
/// children, and the deploy never replaces a directory: a parent's resolution cannot change while
/// its children are placed.
#[derive(Default)]
struct ParentCache {
    parent: String,
    resolved: Option<PathBuf>,
}

impl ParentCache {
    fn host_path(&mut self, root: &Path, rel: &str) -> PathBuf {
        let Some((parent, name)) = rel.rsplit_once('/') else { return rootfs::host_path(root, rel) };
        if self.resolved.is_none() || self.parent != parent {
            let full = rootfs::host_path(root, rel);
            self.parent = parent.to_string();
            self.resolved = full.parent().map(Path::to_path_buf);
            return full;
        }
        match &self.resolved {
            Some(dir) => dir.join(name),
            None => rootfs::host_path(root, rel),
        }
    }
}

/// Deploy `plan` into `root`. Returns warnings (e.g. `.new` files written).
pub fn deploy(root: &Path, plan: &Plan) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    let total = plan.manifest.entries.len();
    let progress = std::io::stderr().is_terminal() && total >= 2000;
    let mut touched_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut parents = ParentCache::default();
    for (i, e) in plan.manifest.entries.iter().enumerate() {
        if i == total / 2 {
            crash_point("deploy-mid");
        }
        if progress && i % 1000 == 0 {
            eprint!("\rpkm: {} {}/{} entries", plan.manifest.name, i, total);
        }
        let dest = parents.host_path(root, &e.path);
        let staged = plan.staging.join(&e.path);
        match &e.kind {
            EntryKind::Dir => match fs::symlink_metadata(&dest) {
                Err(_) => {
                    fs::DirBuilder::new().mode(0o700).create(&dest).map_err(|x| err(&e.path, "cannot create directory", x))?;
                    fs::set_permissions(&dest, fs::Permissions::from_mode(e.mode)).map_err(|x| err(&e.path, "chmod", x))?;
                    if let Some(p) = dest.parent() {
                        touched_dirs.insert(p.to_path_buf());
                    }
                }
                Ok(m) if m.is_dir() => {} // an existing directory is never overwritten
                Ok(m) if m.file_type().is_symlink() && dest.is_dir() => {} // directory symlink kept
                Ok(_) => return Err(PkmError::finding("pkm::deploy::not-a-directory", format!("/{}: exists and is not a directory", e.path))),
            },
            EntryKind::File { sha256 } => {
                let new_path = plan.config_new_path(&e.path);
                let target = match &new_path {
                    Some(n) => dest.with_file_name(n.rsplit('/').next().unwrap_or(n)),
                    None => dest.clone(),
                };
                // chmod doubles as the "is the staged copy still there" test (no separate lstat).
                match fs::set_permissions(&staged, fs::Permissions::from_mode(e.mode)) {
                    Ok(()) => place(&staged, &target).map_err(|x| err(&e.path, "cannot install", x))?,
                    Err(x) if x.kind() == std::io::ErrorKind::NotFound => {
                        if hash_file(&target).ok().as_ref() != Some(sha256) {
                            warnings.push(format!("/{}: staged copy gone and the deployed file differs (run `pkm verify`)", e.path));
                        }
                    }
                    Err(x) => return Err(err(&e.path, "chmod", x)),
                }
                if let Some(p) = target.parent() {
                    touched_dirs.insert(p.to_path_buf());
                }
                if let Some(n) = &new_path {
                    warnings.push(super::confignew::notice(&e.path, n));
                }
            }
            EntryKind::Symlink { .. } => {
                if fs::symlink_metadata(&staged).is_ok() {
                    place(&staged, &dest).map_err(|x| err(&e.path, "cannot install symlink", x))?;
                }
                if let Some(p) = dest.parent() {
                    touched_dirs.insert(p.to_path_buf());
                }
            }
        }
    }
    if progress {
        eprintln!("\rpkm: {} {total}/{total} entries", plan.manifest.name);
    }
    // Files no longer shipped by the new version of the same package.
    let mut obsolete_dirs = Vec::new();
    for o in plan.obsolete.iter().rev() {
        let dest = rootfs::host_path(root, &o.path);
        match o.kind.as_str() {
            "dir" => obsolete_dirs.push(dest),
            _ if o.is_config => warnings.push(format!("/{}: config file no longer shipped, kept", o.path)),
            _ => {
                if o.kind == "file" && o.sha256.is_some() && hash_file(&dest).ok() != o.sha256 && dest.exists() {
                    warnings.push(format!("/{}: modified since install; removed anyway", o.path));
                }
                let _ = fs::remove_file(&dest);
            }
        }
    }
    for d in obsolete_dirs {
        let _ = fs::remove_dir(d);
    }
    // Durability before the database records the package: one syncfs(2) per filesystem the
    // deploy touched (file data and the renames), instead of an fsync per file.
    let mut devices = BTreeSet::new();
    for d in &touched_dirs {
        if let Ok(m) = fs::metadata(d) {
            if devices.insert(std::os::unix::fs::MetadataExt::dev(&m)) {
                sync_filesystem(d);
            }
        }
    }
    Ok(warnings)
}
