//! Recipe directories opened, listed and read relative to an open parent directory.
//!
//! At 100,000 recipes, looking every file up from the tree root (root/packages/tier/name/
//! package.yml, twice per recipe) and asking each opened file what it is (`statx`) were a
//! tenth of igos check's time. Relative to an open directory each open looks up one
//! name, and the listing's file types answer "is it a regular file?" without a stat.

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt as _;

/// What a directory entry is, as the listing tells it (a symbolic link is not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// An open directory, closed on drop.
pub struct Dir {
    stream: std::ptr::NonNull<libc::DIR>,
}

impl Dir {
    /// The directory `name` under the directory open as `parent`. `follow`: whether a
    /// symbolic link is followed (a recipe directory's is not: the tree listing left those
    /// out; a `patches` link is, as it always was).
    pub fn open_at(parent: RawFd, name: &OsStr, follow: bool) -> io::Result<Dir> {
        let c = CString::new(name.as_bytes())?;
        let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
        // SAFETY: a valid C string; the descriptor is checked before use.
        let fd = unsafe { libc::openat(parent, c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | nofollow) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is an open directory descriptor that the stream takes over.
        match std::ptr::NonNull::new(unsafe { libc::fdopendir(fd) }) {
            Some(stream) => Ok(Dir { stream }),
            None => {
                let e = io::Error::last_os_error();
                // SAFETY: fdopendir failed, so `fd` is still ours to close.
                unsafe { libc::close(fd) };
                Err(e)
            }
        }
    }

    pub fn fd(&self) -> RawFd {
        // SAFETY: the stream is open for as long as `self` lives.
        unsafe { libc::dirfd(self.stream.as_ptr()) }
    }

    /// Every entry but `.` and `..`, with its kind; `f` sees each name (bytes) in turn.
    pub fn for_each(&mut self, mut f: impl FnMut(&[u8], Kind)) {
        loop {
            // SAFETY: the stream is open and used by this thread only (`Dir` is not Sync);
            // the entry is read before the next readdir call.
            let entry = unsafe { libc::readdir(self.stream.as_ptr()) };
            if entry.is_null() {
                return;
            }
            let (name, d_type) = unsafe { (CStr::from_ptr((*entry).d_name.as_ptr()).to_bytes(), (*entry).d_type) };
            if name == b"." || name == b".." {
                continue;
            }
            let kind = match d_type {
                libc::DT_REG => Kind::File,
                libc::DT_DIR => Kind::Dir,
                libc::DT_LNK => Kind::Symlink,
                // Some filesystems do not say: ask for this one entry.
                libc::DT_UNKNOWN => self.lstat_kind(name),
                _ => Kind::Other,
            };
            f(name, kind);
        }
    }

    fn lstat_kind(&self, name: &[u8]) -> Kind {
        let Ok(c) = CString::new(name) else { return Kind::Other };
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: a valid C string and a buffer for one stat.
        if unsafe { libc::fstatat(self.fd(), c.as_ptr(), st.as_mut_ptr(), libc::AT_SYMLINK_NOFOLLOW) } != 0 {
            return Kind::Other;
        }
        // SAFETY: fstatat succeeded and filled the buffer.
        match unsafe { st.assume_init() }.st_mode & libc::S_IFMT {
            libc::S_IFREG => Kind::File,
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            _ => Kind::Other,
        }
    }

    /// The file `name` in this directory, opened for reading without blocking (a FIFO
    /// would wait for a writer). Symbolic links are followed.
    pub fn open_file(&self, name: &str) -> io::Result<File> {
        let c = CString::new(name)?;
        // SAFETY: a valid C string; the descriptor is checked before File takes it over.
        let fd = unsafe { libc::openat(self.fd(), c.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a newly opened descriptor owned by nobody else.
        Ok(unsafe { File::from_raw_fd(fd) })
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: the stream is open and closed exactly once, here.
        unsafe { libc::closedir(self.stream.as_ptr()) };
    }
}

/// A directory opened by path (a tier directory), whose descriptor workers share.
pub fn open_dir(path: &std::path::Path) -> io::Result<File> {
    let f = File::open(path)?;
    if !f.metadata()?.is_dir() {
        return Err(io::Error::other("not a directory"));
    }
    Ok(f)
}

/// The descriptor of an open directory file.
pub fn raw(f: &File) -> RawFd {
    f.as_raw_fd()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_opens_relative_to_the_parent() {
        let tmp = std::env::temp_dir().join(format!("igos-dir-at-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("xz/patches")).unwrap();
        std::fs::write(tmp.join("xz/package.yml"), "name: xz\n").unwrap();
        std::os::unix::fs::symlink("package.yml", tmp.join("xz/link.yml")).unwrap();
        std::os::unix::fs::symlink("xz", tmp.join("xz-link")).unwrap();
        let parent = open_dir(&tmp).unwrap();

        let mut dir = Dir::open_at(raw(&parent), OsStr::new("xz"), false).unwrap();
        let mut seen = vec![];
        dir.for_each(|name, kind| seen.push((String::from_utf8_lossy(name).into_owned(), kind)));
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            seen,
            [("link.yml".to_string(), Kind::Symlink), ("package.yml".to_string(), Kind::File), ("patches".to_string(), Kind::Dir)]
        );
        let mut text = String::new();
        std::io::Read::read_to_string(&mut dir.open_file("link.yml").unwrap(), &mut text).unwrap();
        assert_eq!(text, "name: xz\n");
        assert_eq!(dir.open_file("build.sh").unwrap_err().kind(), io::ErrorKind::NotFound);
        // A link to a directory is not a recipe directory; followed only when asked.
        assert!(Dir::open_at(raw(&parent), OsStr::new("xz-link"), false).is_err());
        assert!(Dir::open_at(raw(&parent), OsStr::new("xz-link"), true).is_ok());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
