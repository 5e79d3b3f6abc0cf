//! Recipe directories opened, listed and read relative to an open parent directory.
//!
//! At 100,000 recipes, looking every file up from the tree root (root/packages/tier/name/
//! package.yml, twice per recipe) and asking each opened file what it is (`statx`) were a
//! tenth of igos check's time. Relative to an open directory each open looks up one
//! name, and the listing's file types answer "is it a regular file?" without a stat.

use std::ffi::{CString, OsStr};
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
    fd: std::os::fd::OwnedFd,
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
        // SAFETY: `fd` is a newly opened descriptor owned by nobody else.
        Ok(Dir { fd: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) } })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Every entry but `.` and `..`, with its kind; `f` sees each name (bytes) in turn.
    pub fn for_each(&mut self, mut f: impl FnMut(&[u8], Kind)) {
        let mut each = |name: &[u8], d_type: u8| {
            if name == b"." || name == b".." {
                return;
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
        };
        list(self.fd(), &mut each);
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
        let fd = unsafe { libc::openat(self.fd(), c.as_ptr(), libc::O_RDONLY | crate::input::OPEN_FLAGS | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a newly opened descriptor owned by nobody else.
        Ok(unsafe { File::from_raw_fd(fd) })
    }
}

/// The entries of the directory open as `fd`: (name, d_type) in the order the
/// filesystem gives them. Linux: `getdents64` into a buffer on the stack, where
/// `fdopendir` + `readdir` also stat the directory and allocate 32 KiB per listing (a
/// tenth of reading a recipe at 100,000 recipes).
#[cfg(target_os = "linux")]
fn list(fd: RawFd, each: &mut dyn FnMut(&[u8], u8)) {
    const LEN: usize = 4096;
    #[repr(C, align(8))]
    struct Buffer([std::mem::MaybeUninit<u8>; LEN]);
    // Not zeroed first: only what the kernel wrote is read.
    let mut buf = Buffer([std::mem::MaybeUninit::uninit(); LEN]);
    loop {
        // SAFETY: the buffer is writable for its whole length; the kernel writes whole
        // records into it and returns how many bytes it wrote.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.0.as_mut_ptr(), LEN) };
        if n <= 0 || n as usize > LEN {
            return; // 0: the end; < 0: an error, which lists nothing more (as readdir)
        }
        // SAFETY: the kernel initialised the first `n` bytes.
        let records: &[u8] = unsafe { std::slice::from_raw_parts(buf.0.as_ptr().cast(), n as usize) };
        let mut at = 0;
        // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name (NUL-ended).
        while at + 19 <= records.len() {
            let reclen = u16::from_ne_bytes([records[at + 16], records[at + 17]]) as usize;
            if reclen < 20 || at + reclen > records.len() {
                return;
            }
            let d_type = records[at + 18];
            let raw = &records[at + 19..at + reclen];
            let name = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
            each(name, d_type);
            at += reclen;
        }
    }
}

/// The entries of the directory open as `fd` (elsewhere than Linux: `readdir` on a
/// duplicate of the descriptor, which the stream owns and closes).
#[cfg(not(target_os = "linux"))]
fn list(fd: RawFd, each: &mut dyn FnMut(&[u8], u8)) {
    // SAFETY: `dup` of an open descriptor; the stream takes the duplicate over and
    // `closedir` closes it; each entry is read before the next readdir call.
    unsafe {
        let dup = libc::dup(fd);
        if dup < 0 {
            return;
        }
        let stream = libc::fdopendir(dup);
        if stream.is_null() {
            libc::close(dup);
            return;
        }
        loop {
            let entry = libc::readdir(stream);
            if entry.is_null() {
                break;
            }
            each(std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()).to_bytes(), (*entry).d_type);
        }
        libc::closedir(stream);
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

    /// A listing longer than one `getdents64` buffer (4 KiB) is read to its end.
    #[test]
    fn long_listings_are_read_whole() {
        let tmp = std::env::temp_dir().join(format!("igos-dir-at-long-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("patches")).unwrap();
        let mut want: Vec<String> = (0..600).map(|i| format!("{i:04}-a-patch-with-a-long-descriptive-name.patch")).collect();
        for name in &want {
            std::fs::write(tmp.join("patches").join(name), "").unwrap();
        }
        let parent = open_dir(&tmp).unwrap();
        let mut dir = Dir::open_at(raw(&parent), OsStr::new("patches"), false).unwrap();
        let mut seen = vec![];
        dir.for_each(|name, kind| {
            assert_eq!(kind, Kind::File);
            seen.push(String::from_utf8(name.to_vec()).unwrap());
        });
        seen.sort();
        want.sort();
        assert_eq!(seen, want);
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
