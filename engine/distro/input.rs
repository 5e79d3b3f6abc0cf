//! One way to open any input file: opened without blocking (a FIFO would wait for a
//! writer, a terminal could become the controlling one), refused unless it is a regular
//! file (a link to `/dev/zero` never ends), read up to a cap for its kind, and otherwise an
//! error naming the path and the reason. Rule files, recipes, builder lists, audit records,
//! the reference, logs and `igos fmt`'s files are all read here; SQLite databases are
//! checked here before SQLite opens them.

use std::fmt;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

/// What a file is read as: each kind has its cap, named in the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    RuleFile,
    /// package.yml, build.sh, .audit-override.
    Recipe,
    /// A builder list or another list of names.
    List,
    AuditRecord,
    /// `build/reference.json`.
    Reference,
    /// A build log (Gate 5).
    Log,
    /// A pkm text manifest read by `igos reference save`.
    Manifest,
    /// A rule test case (`igos test`).
    RuleTest,
    /// A source tarball `igos audit` hashes.
    Tarball,
}

impl Kind {
    /// The most bytes read of a file of this kind.
    pub const fn cap(self) -> u64 {
        match self {
            Kind::RuleFile | Kind::RuleTest => 32 << 20,
            Kind::Recipe | Kind::List => 1 << 20,
            Kind::AuditRecord => 4 << 20,
            Kind::Reference | Kind::Manifest => 256 << 20,
            Kind::Log => 64 << 20,
            Kind::Tarball => 4 << 30,
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Kind::RuleFile => "rule files",
            Kind::RuleTest => "rule test files",
            Kind::Recipe => "recipe files",
            Kind::List => "list files",
            Kind::AuditRecord => "audit records",
            Kind::Reference => "the build reference",
            Kind::Log => "build logs",
            Kind::Manifest => "package manifests",
            Kind::Tarball => "source tarballs",
        }
    }
}

/// Why a file could not be read.
#[derive(Debug)]
pub enum Problem {
    /// The system refused: permission, an I/O error, a missing file.
    Io(io::Error),
    /// Not a regular file: what it is instead ("a FIFO", "a directory", ...).
    NotRegular(&'static str),
    /// A directory was expected.
    NotADirectory,
    /// Larger than the cap of its kind (`len`: the size when the file says it).
    TooLarge { len: Option<u64>, kind: Kind },
    /// Not UTF-8; the offset of the first invalid byte.
    NotUtf8 { offset: usize },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Io(e) => write!(f, "cannot read: {e}"),
            Problem::NotRegular(what) => write!(f, "not a regular file ({what})"),
            Problem::NotADirectory => f.write_str("not a directory"),
            Problem::TooLarge { len: Some(len), kind } => write!(f, "the file is {len} bytes; {} are capped at {}", kind.noun(), kind.cap()),
            Problem::TooLarge { len: None, kind } => write!(f, "the file is larger than the cap of {} bytes for {}", kind.cap(), kind.noun()),
            Problem::NotUtf8 { offset } => write!(f, "the file is not UTF-8 text (invalid byte at offset {offset})"),
        }
    }
}

/// A file that could not be read, and why.
#[derive(Debug)]
pub struct InputError {
    pub path: PathBuf,
    pub problem: Problem,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", crate::visible::visible(&self.path.to_string_lossy()), self.problem)
    }
}

impl std::error::Error for InputError {}

impl InputError {
    fn new(path: &Path, problem: Problem) -> InputError {
        InputError { path: path.to_path_buf(), problem }
    }
    /// The system refused (permission, I/O): unlike a bad file, the input as a whole is
    /// unusable.
    pub fn is_io(&self) -> bool {
        matches!(self.problem, Problem::Io(_))
    }
    /// The file does not exist.
    pub fn is_missing(&self) -> bool {
        matches!(&self.problem, Problem::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// What a file that is not regular is, for the message.
fn what(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

/// Open `path` for reading without blocking or taking a terminal; the flags every input
/// open uses (also `openat` relative to a directory in the tree loader).
pub const OPEN_FLAGS: libc::c_int = libc::O_NONBLOCK | libc::O_NOCTTY;

/// Open a regular file for reading (following links: a link to a regular file is that file).
pub fn open(path: &Path) -> Result<File, InputError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new().read(true).custom_flags(OPEN_FLAGS).open(path).map_err(|e| InputError::new(path, Problem::Io(e)))?;
    let meta = file.metadata().map_err(|e| InputError::new(path, Problem::Io(e)))?;
    if !meta.is_file() {
        return Err(InputError::new(path, Problem::NotRegular(what(&meta))));
    }
    Ok(file)
}

/// The bytes of the regular file at `path`, at most the cap of `kind`.
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, InputError> {
    let file = open(path)?;
    read_opened(file, kind, true).map_err(|p| InputError::new(path, p))
}

/// The text of the regular file at `path` (UTF-8), at most the cap of `kind`.
pub fn read_text(path: &Path, kind: Kind) -> Result<String, InputError> {
    let bytes = read(path, kind)?;
    utf8(bytes).map_err(|p| InputError::new(path, p))
}

/// The first bytes of the regular file at `path`, up to the cap of `kind` (a log is read up
/// to its cap, not refused past it).
pub fn read_head(path: &Path, kind: Kind) -> Result<Vec<u8>, InputError> {
    let file = open(path)?;
    let mut bytes = vec![];
    file.take(kind.cap()).read_to_end(&mut bytes).map_err(|e| InputError::new(path, Problem::Io(e)))?;
    Ok(bytes)
}

/// Standard input, at most the cap of `kind`: reading stops one byte past the cap, so a
/// stream that never ends is refused, not read forever.
pub fn read_stdin(kind: Kind) -> Result<Vec<u8>, Problem> {
    let mut bytes = vec![];
    io::stdin().lock().take(kind.cap() + 1).read_to_end(&mut bytes).map_err(Problem::Io)?;
    if bytes.len() as u64 > kind.cap() {
        return Err(Problem::TooLarge { len: None, kind });
    }
    Ok(bytes)
}

/// The text of the file at `path`, or None when it does not exist (an optional input).
pub fn read_text_if_present(path: &Path, kind: Kind) -> Result<Option<String>, InputError> {
    match read_text(path, kind) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.is_missing() => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn utf8(bytes: Vec<u8>) -> Result<String, Problem> {
    String::from_utf8(bytes).map_err(|e| Problem::NotUtf8 { offset: e.utf8_error().valid_up_to() })
}

/// The bytes of an opened file, at most the cap of `kind`. `known_regular`: already known
/// to be a regular file (a stat, or a directory listing said so), so no stat is needed
/// (if it was swapped for something else since, the read is still bounded).
pub fn read_opened(file: File, kind: Kind, known_regular: bool) -> Result<Vec<u8>, Problem> {
    let cap = kind.cap();
    let mut capacity = 4096;
    if !known_regular {
        let meta = file.metadata().map_err(Problem::Io)?;
        if !meta.is_file() {
            return Err(Problem::NotRegular(what(&meta)));
        }
        if meta.len() > cap {
            return Err(Problem::TooLarge { len: Some(meta.len()), kind });
        }
        capacity = meta.len() as usize;
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(capacity.max(1));
    // A read of a regular file stops short only at its end: a first read that does not
    // fill the buffer is the whole file (a recipe is one read, not a read and a read of
    // nothing; 100,000 system calls on a large tree).
    let first = loop {
        // rustix reads into the vector's spare capacity and sets its length to what the
        // kernel wrote.
        match rustix::io::read(&file, rustix::buffer::spare_capacity(&mut bytes)) {
            Ok(n) => break n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Problem::Io(e.into())),
        }
    };
    if first == bytes.capacity() {
        // Bounded even if the file grows between the size check and the read.
        (&file).take(cap + 1 - (first as u64).min(cap)).read_to_end(&mut bytes).map_err(Problem::Io)?;
    }
    if bytes.len() as u64 > cap {
        return Err(match file.metadata() {
            Ok(meta) if meta.len() > cap => Problem::TooLarge { len: Some(meta.len()), kind },
            _ => Problem::TooLarge { len: None, kind },
        });
    }
    Ok(bytes)
}

/// A database file is a regular file or absent (`Ok(false)`), before SQLite opens it: a FIFO
/// would block SQLite's open, a device would be read as pages. Its journal, WAL and
/// shared-memory files, which SQLite opens beside it, are held to the same.
pub fn database(path: &Path) -> Result<bool, InputError> {
    let regular_or_absent = |p: &Path| match std::fs::metadata(p) {
        Ok(meta) if meta.is_file() => Ok(true),
        Ok(meta) => Err(InputError::new(p, Problem::NotRegular(what(&meta)))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(InputError::new(p, Problem::Io(e))),
    };
    let exists = regular_or_absent(path)?;
    for suffix in ["-journal", "-wal", "-shm"] {
        let mut beside = path.as_os_str().to_os_string();
        beside.push(suffix);
        regular_or_absent(Path::new(&beside))?;
    }
    Ok(exists)
}

/// The entries of a directory, sorted by name; any error (permission, I/O, not a
/// directory) names the directory: a listing is never silently shorter.
pub fn list_dir(path: &Path) -> Result<Vec<std::fs::DirEntry>, InputError> {
    let err = |e: io::Error| dir_error(path, e);
    let mut entries = std::fs::read_dir(path).map_err(err)?.collect::<Result<Vec<_>, _>>().map_err(err)?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

/// A directory that could not be listed, and why (`ENOTDIR`: a file where it belongs).
pub fn dir_error(path: &Path, e: io::Error) -> InputError {
    if e.raw_os_error() == Some(libc::ENOTDIR) {
        InputError::new(path, Problem::NotADirectory)
    } else {
        InputError::new(path, Problem::Io(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("igos-input-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    #[test]
    fn files_read_whole_around_the_first_buffer() {
        let d = temp("sizes");
        for len in [0usize, 1, 4095, 4096, 4097, 100_000] {
            let path = d.join(format!("f{len}"));
            let text = "a".repeat(len);
            std::fs::write(&path, &text).expect("write");
            for known in [false, true] {
                let f = File::open(&path).expect("open");
                assert_eq!(read_opened(f, Kind::Recipe, known).expect("read"), text.as_bytes(), "{len} bytes, known {known}");
            }
        }
        let big = d.join("big");
        std::fs::write(&big, vec![b'a'; (Kind::Recipe.cap() + 1) as usize]).expect("write");
        for known in [false, true] {
            let f = File::open(&big).expect("open");
            assert!(matches!(read_opened(f, Kind::Recipe, known), Err(Problem::TooLarge { .. })));
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_without_blocking() {
        let d = temp("kinds");
        let fifo = d.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
        let e = read(&fifo, Kind::RuleFile).unwrap_err();
        assert_eq!(e.to_string(), format!("{}: not a regular file (a FIFO)", fifo.display()));
        let e = read(Path::new("/dev/zero"), Kind::RuleFile).unwrap_err();
        assert!(e.to_string().ends_with("not a regular file (a character device)"), "{e}");
        let e = read(&d, Kind::RuleFile).unwrap_err();
        assert!(e.to_string().ends_with("not a regular file (a directory)"), "{e}");
        assert!(database(&fifo).is_err());
        std::fs::write(d.join("a.db"), b"").expect("write");
        assert!(database(&d.join("a.db")).expect("a regular file"));
        std::os::unix::fs::symlink("/dev/zero", d.join("a.db-wal")).expect("symlink");
        assert!(database(&d.join("a.db")).unwrap_err().to_string().ends_with("a.db-wal: not a regular file (a character device)"));
        assert!(!database(&d.join("absent.db")).expect("absent is fine"));
        assert!(read(&d.join("absent"), Kind::Log).unwrap_err().is_missing());
        let _ = std::fs::remove_dir_all(&d);
    }
}
