//! Opening paths beneath a directory without ever following a symlink: `openat2(2)` with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` where the kernel has it (Linux 5.6+), otherwise a
//! walk that opens one component at a time with `O_NOFOLLOW`. Every write and delete pkm makes
//! under a root, and every open of its own state, goes through here, so a symlink planted on
//! the way (by a package, an earlier queue member or anyone else) is an error, never followed.

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags, ResolveFlags};
use rustix::io::Errno;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// Why a path beneath a directory could not be opened safely.
#[derive(Debug)]
pub enum Refused {
    /// A component (the named prefix) is a symlink.
    Symlink(String),
    /// A component (the named prefix) is not a directory.
    NotADirectory(String),
    /// Any other error, with the path as given.
    Io(io::Error),
}

impl Refused {
    pub fn to_io(&self) -> io::Error {
        match self {
            Refused::Symlink(p) => io::Error::other(format!("/{p} is a symlink (not followed)")),
            Refused::NotADirectory(p) => io::Error::other(format!("/{p} is not a directory")),
            Refused::Io(e) => io::Error::new(e.kind(), e.to_string()),
        }
    }
}

/// Is openat2 to be used? Debug builds can turn it off (`PKM_NO_OPENAT2=1`) so the tests
/// exercise the per-component walk that older kernels get.
fn openat2_wanted() -> bool {
    #[cfg(debug_assertions)]
    {
        if std::env::var_os("PKM_NO_OPENAT2").is_some() {
            return false;
        }
    }
    true
}

/// Open a directory (the root, or the state directory's base) to walk beneath. The path
/// itself is the administrator's and may be a symlink.
pub fn open_base(p: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(p, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// The components of a canonical relative path; `..`, `.` and empty components are refused.
fn components(rel: &str) -> io::Result<Vec<&str>> {
    let parts: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
    if rel.starts_with('/') || parts.iter().any(|c| *c == ".." || *c == ".") {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{rel}: not a canonical relative path")));
    }
    Ok(parts)
}

/// Open `rel` beneath `base` with `flags` (create with `mode`), following no symlink on the way
/// or at the end. An empty `rel` opens `base` itself again.
pub fn open(base: BorrowedFd<'_>, rel: &str, flags: OFlags, mode: u32) -> Result<OwnedFd, Refused> {
    let parts = components(rel).map_err(Refused::Io)?;
    let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mode = Mode::from_raw_mode(mode);
    let joined = if parts.is_empty() { ".".to_string() } else { parts.join("/") };
    if openat2_wanted() {
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(base, joined.as_str(), flags, mode, how) {
            Ok(fd) => return Ok(fd),
            // No openat2 here (old kernel, or a seccomp filter): walk instead.
            Err(Errno::NOSYS) => {}
            Err(e) => return Err(explain(base, &parts, e)),
        }
    }
    walk(base, &parts, flags, mode)
}

/// The per-component walk: each directory opened with `O_NOFOLLOW | O_DIRECTORY` relative to
/// the one before, the last component with the caller's flags plus `O_NOFOLLOW`.
fn walk(base: BorrowedFd<'_>, parts: &[&str], flags: OFlags, mode: Mode) -> Result<OwnedFd, Refused> {
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let Some((last, dirs)) = parts.split_last() else {
        return rustix::fs::openat(base, ".", flags, mode).map_err(|e| Refused::Io(e.into()));
    };
    let mut cur: Option<OwnedFd> = None;
    for c in dirs {
        let at = cur.as_ref().map(|f| f.as_fd()).unwrap_or(base);
        match rustix::fs::openat(at, *c, dir_flags, Mode::empty()) {
            Ok(fd) => cur = Some(fd),
            Err(e) => return Err(explain(base, parts, e)),
        }
    }
    let at = cur.as_ref().map(|f| f.as_fd()).unwrap_or(base);
    rustix::fs::openat(at, *last, flags, mode).map_err(|e| explain(base, parts, e))
}

/// Turn ELOOP/ENOTDIR into the component that is a symlink or not a directory (one lstat per
/// component, only on the error path).
fn explain(base: BorrowedFd<'_>, parts: &[&str], e: Errno) -> Refused {
    if e == Errno::LOOP || e == Errno::NOTDIR || e == Errno::XDEV {
        for i in 1..=parts.len() {
            let prefix = parts[..i].join("/");
            match rustix::fs::statat(base, prefix.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => {
                    let t = rustix::fs::FileType::from_raw_mode(st.st_mode);
                    if t == rustix::fs::FileType::Symlink {
                        return Refused::Symlink(prefix);
                    }
                    if i < parts.len() && t != rustix::fs::FileType::Directory {
                        return Refused::NotADirectory(prefix);
                    }
                }
                Err(_) => break,
            }
        }
    }
    Refused::Io(e.into())
}

/// Open the directory `rel` beneath `base` (no symlink followed), for `*at` calls in it.
pub fn open_dir(base: BorrowedFd<'_>, rel: &str) -> Result<OwnedFd, Refused> {
    open(base, rel, OFlags::PATH | OFlags::DIRECTORY, 0)
}

/// What `name` in `dir` is, without following it (`None`: nothing there).
pub fn kind_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<Option<rustix::fs::FileType>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(rustix::fs::FileType::from_raw_mode(st.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Split a relative path into its parent and its last component.
pub fn split(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

/// The parent of `rel` under `root`, resolved inside the root through the symlinks the tree
/// holds (`rootfs::resolve`, chroot semantics) and then opened with no symlink followed: the
/// kernel guarantees the result is a real directory beneath the root, even if the tree changed
/// since it was resolved.
pub fn open_parent(root: &Path, root_fd: BorrowedFd<'_>, rel: &str) -> Result<(OwnedFd, String), Refused> {
    let (parent, name) = split(rel);
    let resolved = if parent.is_empty() { String::new() } else { super::rootfs::resolve(root, parent, true).unwrap_or_else(|| parent.to_string()) };
    Ok((open_dir(root_fd, &resolved)?, name.to_string()))
}

/// Delete the file or symlink at `rel` under `root` (parents resolved beneath the root, the
/// last component never followed). Missing is not an error.
pub fn remove_file(root: &Path, rel: &str) -> io::Result<()> {
    let root_fd = open_base(root)?;
    let (dir, name) = open_parent(root, root_fd.as_fd(), rel).map_err(|e| e.to_io())?;
    match rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Delete the directory at `rel` under `root` if it is empty (as `remove_file`).
pub fn remove_dir(root: &Path, rel: &str) -> io::Result<()> {
    let root_fd = open_base(root)?;
    let (dir, name) = open_parent(root, root_fd.as_fd(), rel).map_err(|e| e.to_io())?;
    match rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// rename(2) with flags, between two directories held open.
pub fn rename(from_dir: BorrowedFd<'_>, from: &str, to_dir: BorrowedFd<'_>, to: &str, flags: RenameFlags) -> io::Result<()> {
    Ok(rustix::fs::renameat_with(from_dir, from, to_dir, to, flags)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("beneath-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("real/sub")).unwrap();
        std::fs::write(p.join("real/sub/f"), "x").unwrap();
        std::os::unix::fs::symlink("real", p.join("link")).unwrap();
        std::os::unix::fs::symlink("/", p.join("real/up")).unwrap();
        std::os::unix::fs::symlink("f", p.join("real/sub/lf")).unwrap();
        p
    }

    /// openat2 and the O_NOFOLLOW walk agree: real paths open, a symlink anywhere on the way
    /// or at the end is refused and named, `..` is refused.
    #[test]
    fn openat2_and_the_walk_refuse_every_symlink_and_name_it() {
        let p = tmp("both");
        let base = open_base(&p).unwrap();
        let flags = OFlags::RDONLY;
        type Opener = fn(BorrowedFd<'_>, &[&str], OFlags) -> Result<OwnedFd, Refused>;
        let via_openat2: Opener = |b, parts, f| match rustix::fs::openat2(b, parts.join("/").as_str(), f | OFlags::NOFOLLOW, Mode::empty(), ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS) {
            Ok(fd) => Ok(fd),
            Err(Errno::NOSYS) => walk(b, parts, f | OFlags::NOFOLLOW, Mode::empty()),
            Err(e) => Err(explain(b, parts, e)),
        };
        let via_walk: Opener = |b, parts, f| walk(b, parts, f | OFlags::NOFOLLOW, Mode::empty());
        for open in [via_openat2, via_walk] {
            assert!(open(base.as_fd(), &["real", "sub", "f"], flags).is_ok());
            assert!(matches!(open(base.as_fd(), &["link", "sub", "f"], flags), Err(Refused::Symlink(s)) if s == "link"));
            assert!(matches!(open(base.as_fd(), &["real", "up", "etc"], flags), Err(Refused::Symlink(s)) if s == "real/up"));
            assert!(matches!(open(base.as_fd(), &["real", "sub", "lf"], flags), Err(Refused::Symlink(s)) if s == "real/sub/lf"));
            assert!(matches!(open(base.as_fd(), &["real", "sub", "f", "x"], flags), Err(Refused::NotADirectory(s)) if s == "real/sub/f"));
        }
        assert!(components("../etc").is_err() && components("/etc").is_err() && components("a/./b").is_err());
        let _ = std::fs::remove_dir_all(&p);
    }
}
