//! Recipe directories opened, listed and read relative to an open parent directory.
//!
//! At 100,000 recipes, looking every file up from the tree root (root/packages/tier/name/
//! package.yml, twice per recipe) and asking each opened file what it is (`statx`) were a
//! tenth of igos check's time. Relative to an open directory each open looks up one
//! name, and the listing's file types answer "is it a regular file?" without a stat.
//! The system calls are rustix's (`openat`, `getdents64` through `RawDir`, `fstatat`).

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use std::os::unix::ffi::OsStrExt as _;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir};

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
    fd: OwnedFd,
}

impl Dir {
    /// The directory `name` under the directory open as `parent`. `follow`: whether a
    /// symbolic link is followed (a recipe directory's is not: the tree listing left those
    /// out; a `patches` link is, as it always was).
    pub fn open_at(parent: BorrowedFd<'_>, name: &OsStr, follow: bool) -> io::Result<Dir> {
        let nofollow = if follow { OFlags::empty() } else { OFlags::NOFOLLOW };
        let fd = rustix::fs::openat(parent, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | nofollow, Mode::empty())?;
        Ok(Dir { fd })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Every entry but `.` and `..`, with its kind; `f` sees each name (bytes) in turn.
    /// The entries come in the order the filesystem gives them, read with `getdents64` into
    /// a buffer on the stack (`fdopendir` + `readdir` also stat the directory and allocate
    /// 32 KiB per listing: a tenth of reading a recipe at 100,000 recipes).
    pub fn for_each(&mut self, mut f: impl FnMut(&[u8], Kind)) {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut entries = RawDir::new(self.fd.as_fd(), &mut buf);
        // An error lists nothing more (as readdir).
        while let Some(Ok(entry)) = entries.next() {
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let kind = match entry.file_type() {
                FileType::RegularFile => Kind::File,
                FileType::Directory => Kind::Dir,
                FileType::Symlink => Kind::Symlink,
                // Some filesystems do not say: ask for this one entry.
                FileType::Unknown => lstat_kind(self.fd.as_fd(), name),
                _ => Kind::Other,
            };
            f(name, kind);
        }
    }

    /// The file `name` in this directory, opened for reading without blocking (a FIFO
    /// would wait for a writer). Symbolic links are followed.
    pub fn open_file(&self, name: &str) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        Ok(File::from(rustix::fs::openat(self.fd(), name, flags, Mode::empty())?))
    }
}

/// What `name` in the directory `dir` is, without following a link.
fn lstat_kind(dir: BorrowedFd<'_>, name: &[u8]) -> Kind {
    let Ok(st) = rustix::fs::statat(dir, OsStr::from_bytes(name), AtFlags::SYMLINK_NOFOLLOW) else { return Kind::Other };
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::Other,
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
pub fn raw(f: &File) -> BorrowedFd<'_> {
    f.as_fd()
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
