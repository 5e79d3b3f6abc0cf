//! The built root the image audit reads (a chroot or an image directory): every path under
//! it, and pkm's database inside it.
//!
//! The walk never follows a symlink and never leaves the root: each directory is opened
//! relative to its parent with `O_NOFOLLOW | O_DIRECTORY`, so a directory swapped for a
//! symlink while we read is refused, not followed. File contents are hashed only when a
//! check asks for a path's `sha256`, once per path (the same relative opens, then `fstat`
//! to be sure it is still a regular file). The database is read through engine/pkm/db.rs,
//! and only when `var/lib/igos/pkm.db` is a regular file reached through real directories
//! of the image (a symlinked `var/lib/igos` could point anywhere).

use std::collections::HashMap;
use std::ffi::CStr;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

/// pkm's database, relative to the image root.
pub const DATABASE: &str = "var/lib/igos/pkm.db";

/// Directories deeper than this are refused (each level holds one open descriptor).
const MAX_DEPTH: usize = 256;

/// One path of the image, as `lstat` sees it.
#[derive(Debug, Clone)]
pub struct ImageFile {
    /// Relative to the root, no leading `/` (lossy UTF-8 when the name is not).
    pub path: String,
    /// `file`, `dir`, `symlink` or `other` (devices, fifos, sockets).
    pub kind: &'static str,
    /// Permission bits with setuid, setgid and sticky (`mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// A symlink's target as written.
    pub target: Option<String>,
    /// The name's bytes when they are not UTF-8 (to open it again for hashing).
    raw: Option<Box<[u8]>>,
}

/// One row of pkm's `files` table.
#[derive(Debug, Clone)]
pub struct InstalledFile {
    pub package: String,
    pub path: String,
    /// `file`, `dir` or `symlink`.
    pub kind: String,
    pub mode: u32,
    pub config: bool,
    pub sha256: Option<String>,
    pub target: Option<String>,
}

/// What pkm's database in the image records.
#[derive(Debug, Clone, Default)]
pub struct Database {
    /// Installed package names (superseded ones included), sorted.
    pub packages: Vec<String>,
    /// Every recorded path, by package then path.
    pub files: Vec<InstalledFile>,
}

/// The loaded image.
pub struct Image {
    pub root: PathBuf,
    root_fd: OwnedFd,
    /// Every path under the root (the root itself excluded), sorted by path.
    pub files: Vec<ImageFile>,
    by_path: HashMap<String, u32>,
    hashes: Vec<OnceLock<Option<String>>>,
    /// None when the image has no pkm database.
    pub database: Option<Database>,
}

impl Image {
    /// The index of a path (relative, no leading `/`) in [`Image::files`].
    pub fn find(&self, path: &str) -> Option<usize> {
        self.by_path.get(path.trim_start_matches('/').trim_end_matches('/')).map(|&i| i as usize)
    }

    /// What `path` names inside the image, following the image's own symlinks on the way
    /// (`/lib -> usr/lib`; an absolute target is taken from the image root, `..` never goes
    /// above it), the last component too when `follow_last`. Lexical over the walk: nothing
    /// is read, so no link can lead outside. None when nothing is there (or over 40 links).
    pub fn resolve(&self, path: &str, follow_last: bool) -> Option<usize> {
        let split = |p: &str| p.split('/').filter(|c| !c.is_empty() && *c != ".").map(str::to_string).collect::<Vec<_>>();
        let mut rest: std::collections::VecDeque<String> = split(path).into();
        let mut at: Vec<String> = vec![];
        let mut links = 0;
        while let Some(c) = rest.pop_front() {
            if c == ".." {
                at.pop();
                continue;
            }
            at.push(c);
            let f = &self.files[self.find(&at.join("/"))?];
            if f.kind == "symlink" && (follow_last || !rest.is_empty()) {
                links += 1;
                if links > 40 {
                    return None;
                }
                let target = f.target.as_deref()?;
                at.pop();
                if target.starts_with('/') {
                    at.clear();
                }
                for (k, part) in split(target).into_iter().enumerate() {
                    rest.insert(k, part);
                }
            }
        }
        self.find(&at.join("/"))
    }

    /// The SHA-256 (lowercase hex) of a regular file, computed on first request; None when
    /// the path is not a regular file or cannot be read now.
    pub fn sha256(&self, i: usize) -> Option<&str> {
        let f = self.files.get(i)?;
        if f.kind != "file" {
            return None;
        }
        self.hashes[i].get_or_init(|| hash_at(self.root_fd.as_fd(), f).ok()).as_deref()
    }

    /// Hash every regular file of `paths` on every core (what a check is about to ask for,
    /// computed ahead of it: the engine evaluates one check on one thread).
    pub fn prefetch_hashes(&self, wanted: &[usize]) {
        let mut items = wanted.to_vec();
        let workers = crate::parallel::workers(items.len(), 64, crate::parallel::cores());
        crate::parallel::for_each(&mut items, workers, |_, i| {
            let _ = self.sha256(*i);
        });
    }
}

/// Why an image cannot be audited (exit 2).
#[derive(Debug)]
pub struct ImageError(pub String);

impl std::fmt::Display for ImageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Walk the image at `root` and read its pkm database.
pub fn load(root: &Path) -> Result<Image, ImageError> {
    let root_fd = rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| ImageError(format!("cannot open the image {}: {e}", root.display())))?;
    let mut files = vec![];
    walk(root_fd.as_fd(), "", 0, &mut files).map_err(|e| ImageError(format!("{}: {e}", root.display())))?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let by_path = files.iter().enumerate().map(|(i, f)| (f.path.clone(), i as u32)).collect::<HashMap<_, _>>();
    let hashes = (0..files.len()).map(|_| OnceLock::new()).collect();
    let mut image = Image { root: root.to_path_buf(), root_fd, files, by_path, hashes, database: None };
    image.database = read_database(&image)?;
    Ok(image)
}

fn walk(dir: BorrowedFd<'_>, prefix: &str, depth: usize, out: &mut Vec<ImageFile>) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("/{prefix}: directories nested deeper than {MAX_DEPTH} levels"));
    }
    let shown = |name: &str| format!("/{prefix}{name}");
    let entries = Dir::read_from(dir).map_err(|e| format!("{}: cannot list: {e}", shown("")))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: cannot list: {e}", shown("")))?;
        let name_c: &CStr = entry.file_name();
        let bytes = name_c.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        let lossy = String::from_utf8_lossy(bytes);
        let raw = matches!(lossy, std::borrow::Cow::Owned(_)).then(|| Box::<[u8]>::from(bytes));
        let st = rustix::fs::statat(dir, name_c, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| format!("{}: {e}", shown(&lossy)))?;
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => "file",
            FileType::Directory => "dir",
            FileType::Symlink => "symlink",
            _ => "other",
        };
        let target = if kind == "symlink" {
            let t = rustix::fs::readlinkat(dir, name_c, Vec::new()).map_err(|e| format!("{}: {e}", shown(&lossy)))?;
            Some(String::from_utf8_lossy(t.to_bytes()).into_owned())
        } else {
            None
        };
        let path = format!("{prefix}{lossy}");
        out.push(ImageFile { path: path.clone(), kind, mode: st.st_mode & 0o7777, uid: st.st_uid, gid: st.st_gid, target, raw });
        if kind == "dir" {
            let sub = rustix::fs::openat(dir, name_c, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| format!("{}: cannot open: {e}", shown(&lossy)))?;
            walk(sub.as_fd(), &format!("{path}/"), depth + 1, out)?;
        }
    }
    Ok(())
}

/// Open `f` again from the root, one component at a time without following symlinks, and
/// hash it if it is still a regular file.
fn hash_at(root: BorrowedFd<'_>, f: &ImageFile) -> Result<String, rustix::io::Errno> {
    use sha2::{Digest, Sha256};
    let fd = open_beneath(root, f.raw.as_deref().unwrap_or(f.path.as_bytes()))?;
    if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) != FileType::RegularFile {
        return Err(rustix::io::Errno::INVAL);
    }
    let mut file = std::fs::File::from(fd);
    let mut hasher = Sha256::new();
    thread_local! {
        // One read buffer per thread: a fresh zeroed one per file costs more than hashing
        // a small file.
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 1 << 16]);
    }
    BUF.with_borrow_mut(|buf| loop {
        match file.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(rustix::io::Errno::IO),
        }
    })?;
    Ok(crate::archive::hex(&hasher.finalize()))
}

/// Open a relative path under `root` without following any symlink (the last component
/// included) and without `..`.
fn open_beneath(root: BorrowedFd<'_>, rel: &[u8]) -> Result<OwnedFd, rustix::io::Errno> {
    let parts: Vec<&[u8]> = rel.split(|&b| b == b'/').filter(|p| !p.is_empty()).collect();
    let Some((last, dirs)) = parts.split_last() else { return Err(rustix::io::Errno::INVAL) };
    let mut cur: Option<OwnedFd> = None;
    for d in dirs {
        if *d == b".." || *d == b"." {
            return Err(rustix::io::Errno::INVAL);
        }
        let at = cur.as_ref().map_or(root, |c| c.as_fd());
        cur = Some(rustix::fs::openat(at, *d, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?);
    }
    let at = cur.as_ref().map_or(root, |c| c.as_fd());
    rustix::fs::openat(at, *last, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK, Mode::empty())
}

/// pkm's database, when the image has one at a real path; read-only queries only.
fn read_database(image: &Image) -> Result<Option<Database>, ImageError> {
    let mut prefix = String::new();
    for part in DATABASE.split('/') {
        prefix.push_str(part);
        let want = if prefix == DATABASE { "file" } else { "dir" };
        match image.find(&prefix).map(|i| &image.files[i]) {
            None => return Ok(None),
            Some(f) if f.kind == want => {}
            Some(f) => {
                return Err(ImageError(format!(
                    "/{prefix} in the image is a {}, not a {want}: pkm's database cannot be read safely",
                    f.kind
                )))
            }
        }
        prefix.push('/');
    }
    let layout = crate::pkm::db::Layout::new(&image.root);
    let unusable = |e: crate::pkm::error::PkmError| ImageError(format!("{}: {e}", layout.db_path().display()));
    let conn = crate::pkm::db::open(&layout, false).map_err(unusable)?;
    let installed = crate::pkm::db::list_installed(&conn).map_err(unusable)?;
    let mut db = Database { packages: installed.iter().map(|p| p.name.clone()).collect(), files: vec![] };
    for p in &installed {
        for row in crate::pkm::db::files_of(&conn, p.id).map_err(unusable)? {
            db.files.push(InstalledFile {
                package: p.name.clone(),
                path: row.path.trim_start_matches('/').to_string(),
                kind: row.kind,
                mode: row.mode & 0o7777,
                config: row.is_config,
                sha256: row.sha256,
                target: row.target,
            });
        }
    }
    Ok(Some(db))
}
