//! pkm's own state under a root (`var/lib/igos`: database, journal, lock, text manifests,
//! staging, orphaned manifests; `var/cache/igos/pkm`: archives downloaded from repositories):
//! which paths it is, the check that none of it is a symlink or of the wrong type, and every
//! open of it, through `beneath` (no symlink ever followed). Packages may not ship into it
//! (`rules/pkm.pol`, `state-dir`).

use super::beneath::{self, Refused};
use super::layout::Layout;
use super::error::{PkmError, Result};
use rustix::fs::{FileType, OFlags};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

/// The state directory, relative to the root.
pub const STATE_DIR: &str = "var/lib/igos";
/// Where archives downloaded from repositories are kept (`pkm install NAME`), each a regular
/// file, verified before use.
pub const CACHE_DIR: &str = "var/cache/igos/pkm";

/// Where `pkm doctor` moves text manifests the database does not account for (in the state).
pub const ORPHANED: &str = "orphaned";

/// Files directly in the state directory, each a regular file when present (the database, its
/// journals, the lock, the database `pkm doctor --rebuild-db` builds beside it, and a new
/// database while it is made).
const STATE_FILES: &[&str] = &[
    "pkm.db",
    "pkm.db-wal",
    "pkm.db-shm",
    "pkm.db-journal",
    "pkm.lock",
    "pkm.db.rebuilding",
    "pkm.db.rebuilding-journal",
    "pkm.db.new",
    "pkm.db.new-wal",
    "pkm.db.new-shm",
];
/// Directories in the state directory, and the file type each of their entries must have.
const STATE_DIRS: &[(&str, FileType)] =
    &[("packages", FileType::RegularFile), ("staging", FileType::Directory), (ORPHANED, FileType::RegularFile)];

fn under(rel: &str, dir: &str) -> bool {
    rel == dir || rel.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// Is `rel` (relative to the root) pkm's state or cache, or inside it?
pub fn is_state_path(rel: &str) -> bool {
    under(rel, STATE_DIR) || under(rel, CACHE_DIR)
}

/// Is `rel` a directory on the way to the state or cache (`var`, `var/lib`, `var/cache`)?
/// A package may ship those only as directories.
pub fn is_state_ancestor(rel: &str) -> bool {
    !rel.is_empty() && !is_state_path(rel) && (under(STATE_DIR, rel) || under(CACHE_DIR, rel))
}

fn refused(layout: &Layout, rel: &str, why: &str) -> PkmError {
    PkmError::unusable("pkm::state::unsafe", format!("{}: {why}; pkm never follows a symlink in its state, nothing was touched", layout.root.join(rel).display()))
        .help("move it aside (a package or another program put it there), check what it pointed at, and run pkm again")
}

fn from_refused(layout: &Layout, what: &str, e: Refused) -> PkmError {
    match e {
        Refused::Symlink(p) => refused(layout, &p, "is a symlink"),
        Refused::NotADirectory(p) => refused(layout, &p, "is not a directory"),
        Refused::Io(e) => PkmError::io(layout.root.join(what).display(), e),
    }
}

fn type_name(t: FileType) -> &'static str {
    match t {
        FileType::Symlink => "a symlink",
        FileType::Directory => "a directory",
        FileType::RegularFile => "a regular file",
        _ => "a special file",
    }
}

fn root_fd(layout: &Layout) -> Result<OwnedFd> {
    beneath::open_base(&layout.root).map_err(|e| PkmError::unusable("pkm::root", format!("{}: {e}", layout.root.display())))
}

/// The state directory, opened with no symlink followed; `None` when it does not exist yet.
fn state_fd(layout: &Layout) -> Result<Option<OwnedFd>> {
    let root = root_fd(layout)?;
    match beneath::open_dir(root.as_fd(), STATE_DIR) {
        Ok(fd) => Ok(Some(fd)),
        Err(Refused::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(from_refused(layout, STATE_DIR, e)),
    }
}

/// Check every state path: no symlink on the way to the state directory or in it, each file
/// and directory of the right type, every text manifest a regular file, every staging entry a
/// directory. Every command runs this before it reads or writes state.
pub fn check(layout: &Layout) -> Result<()> {
    let Some(dir) = state_fd(layout)? else { return Ok(()) };
    let at = |name: &str| format!("{STATE_DIR}/{name}");
    for name in STATE_FILES {
        match beneath::kind_at(dir.as_fd(), name).map_err(|e| PkmError::io(layout.root.join(at(name)).display(), e))? {
            None | Some(FileType::RegularFile) => {}
            Some(t) => return Err(refused(layout, &at(name), &format!("is {}, not a regular file", type_name(t)))),
        }
    }
    for (name, inside) in STATE_DIRS {
        match beneath::kind_at(dir.as_fd(), name).map_err(|e| PkmError::io(layout.root.join(at(name)).display(), e))? {
            None => continue,
            Some(FileType::Directory) => {}
            Some(t) => return Err(refused(layout, &at(name), &format!("is {}, not a directory", type_name(t)))),
        }
        let sub = beneath::open(dir.as_fd(), name, OFlags::RDONLY | OFlags::DIRECTORY, 0).map_err(|e| from_refused(layout, &at(name), e))?;
        check_entries(layout, &sub, &at(name), *inside)?;
    }
    // The download cache: reached with no symlink followed, every entry a regular file.
    let root = root_fd(layout)?;
    match beneath::open(root.as_fd(), CACHE_DIR, OFlags::RDONLY | OFlags::DIRECTORY, 0) {
        Ok(cache) => check_entries(layout, &cache, CACHE_DIR, FileType::RegularFile)?,
        Err(Refused::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(from_refused(layout, CACHE_DIR, e)),
    }
    Ok(())
}

/// Every entry of the open directory `dir` (at `rel` under the root) must be of type `inside`.
fn check_entries(layout: &Layout, dir: &OwnedFd, rel: &str, inside: FileType) -> Result<()> {
    let entries = rustix::fs::Dir::read_from(dir).map_err(|e| PkmError::io(layout.root.join(rel).display(), e.into()))?;
    for entry in entries {
        let entry = entry.map_err(|e| PkmError::io(layout.root.join(rel).display(), e.into()))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if file == "." || file == ".." {
            continue;
        }
        let t = match entry.file_type() {
            FileType::Unknown => beneath::kind_at(dir.as_fd(), &file).ok().flatten().unwrap_or(FileType::Unknown),
            t => t,
        };
        if t != inside {
            return Err(refused(layout, &format!("{rel}/{file}"), &format!("is {}, not {}", type_name(t), type_name(inside))));
        }
    }
    Ok(())
}

/// Create (as needed) and open a directory of the state (`""`: the state directory itself),
/// one component at a time beneath the root, none of them followed if a symlink.
pub fn ensure_dir(layout: &Layout, rel_in_state: &str) -> Result<OwnedFd> {
    let rel = if rel_in_state.is_empty() { STATE_DIR.to_string() } else { format!("{STATE_DIR}/{rel_in_state}") };
    ensure_under_root(layout, &rel)
}

/// Create (as needed) and open the download cache, as [`ensure_dir`] does the state.
pub fn ensure_cache(layout: &Layout) -> Result<OwnedFd> {
    ensure_under_root(layout, CACHE_DIR)
}

fn ensure_under_root(layout: &Layout, rel: &str) -> Result<OwnedFd> {
    let root = root_fd(layout)?;
    // Almost always the directories exist: one open of the whole path, no symlink followed on
    // the way, instead of a mkdir and an open per component (called for every staged archive,
    // download and text manifest of a queue). Anything else goes the careful way below, which
    // creates what is missing and says precisely what is refused.
    if let Ok(fd) = beneath::open_dir(root.as_fd(), rel) {
        return Ok(fd);
    }
    let mut cur = root;
    let mut done = String::new();
    for c in rel.split('/') {
        if !done.is_empty() {
            done.push('/');
        }
        done.push_str(c);
        match rustix::fs::mkdirat(&cur, c, rustix::fs::Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(PkmError::io(layout.root.join(&done).display(), e.into())),
        }
        cur = beneath::open_dir(cur.as_fd(), c).map_err(|e| match e {
            Refused::Symlink(_) => refused(layout, &done, "is a symlink"),
            Refused::NotADirectory(_) => refused(layout, &done, "is not a directory"),
            Refused::Io(e) => PkmError::io(layout.root.join(&done).display(), e),
        })?;
    }
    Ok(cur)
}

/// Open (creating) a regular file of the state for writing, never through a symlink.
/// `truncate`: start it empty (a temporary text manifest); otherwise keep it (the lock).
pub fn open_file(layout: &Layout, dir_in_state: &str, name: &str, truncate: bool) -> Result<File> {
    let dir = ensure_dir(layout, dir_in_state)?;
    let rel = if dir_in_state.is_empty() { format!("{STATE_DIR}/{name}") } else { format!("{STATE_DIR}/{dir_in_state}/{name}") };
    let mut flags = OFlags::WRONLY | OFlags::CREATE;
    if truncate {
        flags |= OFlags::TRUNC;
    }
    let fd = beneath::open(dir.as_fd(), name, flags, 0o644).map_err(|e| match e {
        Refused::Io(e) if e.raw_os_error() == Some(libc::ELOOP) => refused(layout, &rel, "is a symlink"),
        Refused::Symlink(_) => refused(layout, &rel, "is a symlink"),
        Refused::NotADirectory(_) => refused(layout, &rel, "is not a directory"),
        Refused::Io(e) => PkmError::io(layout.root.join(&rel).display(), e),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| PkmError::io(layout.root.join(&rel).display(), e.into()))?;
    let t = FileType::from_raw_mode(st.st_mode);
    if t != FileType::RegularFile {
        return Err(refused(layout, &rel, &format!("is {}, not a regular file", type_name(t))));
    }
    Ok(File::from(fd))
}

/// Make a new, private (0700) directory `name` under the state's `staging`, never through a
/// symlink. Returns its path (the archive reader writes into it).
pub fn new_staging(layout: &Layout, name: &str) -> Result<PathBuf> {
    let dir = ensure_dir(layout, "staging")?;
    let path = layout.staging_dir().join(name);
    rustix::fs::mkdirat(&dir, name, rustix::fs::Mode::from_raw_mode(0o700)).map_err(|e| PkmError::io(path.display(), e.into()))?;
    Ok(path)
}
