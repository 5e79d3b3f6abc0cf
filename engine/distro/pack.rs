//! `igos pack`: a staged install tree (DESTDIR) and its recipe → one reproducible
//! `<name>-<version>-<release>.igos.tar.gz` (format and normalisation: `archive/mod.rs`).
//!
//! Reproducible by construction: the archive writer sorts members, zeroes ownership, stamps every
//! member with `SOURCE_DATE_EPOCH` and writes a gzip header without a timestamp at a fixed level;
//! this module only decides *what* goes in (exactly what the DESTDIR holds, nothing else) and
//! refuses what cannot be packed faithfully (device nodes, sockets, FIFOs, unreadable files,
//! non-UTF-8 names, symlinks climbing out of the root) with the path at fault.
//!
//! [`check_reproducible`] packs the tree a second time from a copy made under different
//! conditions (another staging path, creation in reverse order, another umask, other mtimes and,
//! as root, another owner) and compares the two archives byte for byte; [`compare_archives`]
//! names the first differing member and what differs (a header field or the content).

use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::archive::{self, link_escapes, manifest_from_tree, write_archive, EntryKind, Manifest, PackageMeta, WriteOptions};
use crate::report::diagnostic::{self, Rendered};

/// The environment variable every member's mtime comes from.
pub const EPOCH_VAR: &str = "SOURCE_DATE_EPOCH";

/// Why a pack could not be made. `code` is stable (kebab-case); `path` is the file at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackError {
    pub code: &'static str,
    pub path: Option<PathBuf>,
    pub message: String,
    pub help: Option<String>,
}

impl PackError {
    fn new(code: &'static str, path: Option<&Path>, message: String, help: Option<&str>) -> PackError {
        PackError { code, path: path.map(Path::to_path_buf), message, help: help.map(str::to_string) }
    }
    /// The error as a miette diagnostic (`pack::<code>`).
    pub fn diagnostic(&self) -> Rendered {
        diagnostic::plain(&format!("pack::{}", self.code), self.message.clone(), self.help.clone())
    }
}

impl std::fmt::Display for PackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PackError {}

/// `SOURCE_DATE_EPOCH` as seconds: required, decimal digits only.
pub fn source_date_epoch(value: Option<&OsStr>) -> Result<u64, PackError> {
    let help = Some(
        "set it to a fixed time in seconds since 1970, usually the last commit of the recipe tree:\n  \
         export SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)",
    );
    let Some(v) = value else {
        return Err(PackError::new(
            "source-date-epoch",
            None,
            format!("{EPOCH_VAR} is not set; igos pack stamps every archive member with it, so it is required"),
            help,
        ));
    };
    let text = v.to_string_lossy();
    match text.parse::<u64>() {
        Ok(n) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(PackError::new(
            "source-date-epoch",
            None,
            format!("{EPOCH_VAR}=`{text}` is not a number of seconds since 1970"),
            help,
        )),
    }
}

fn scalar(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Read a recipe (`packages/<tier>/<name>/` or its `package.yml`) with the tree's reader,
/// as `igos check` reads it: name, version as written, release (default 1), tier (default:
/// the tier directory), description, runtime dependencies, supersedes. What `igos check`
/// reports as a load problem (YAML syntax, a field of the wrong type) is refused here with
/// the same message and its position.
pub fn read_recipe(recipe: &Path) -> Result<PackageMeta, PackError> {
    let file = if recipe.is_dir() { recipe.join("package.yml") } else { recipe.to_path_buf() };
    let shown = file.display().to_string();
    let bad = |message: String| PackError::new("recipe", Some(&file), message, None);
    let mut sources = crate::source::SourceMap::new();
    let read = crate::tree::read_recipe_file(&file, ["release", "description"], &mut sources).map_err(|e| bad(format!("cannot read the recipe {e}")))?;
    let (p, problems, [release, description]) = (read.package, read.problems, read.extra);
    if let Some(first) = problems.first() {
        return Err(bad(format!("{}: {}", diagnostic::position(&sources, first.span), first.message)));
    }
    let written = |key: &str| p.key_span(key).is_some() && !p.empty_keys.iter().any(|k| k == key);
    // The tree falls back to the directory's name; an archive's name is the recipe's own.
    if !written("name") {
        return Err(bad(format!("{shown}: `name:` is missing or not a string")));
    }
    let Some(version) = p.version_text.clone().filter(|_| written("version")) else {
        return Err(bad(format!("{shown}: `version:` is missing or not a scalar")));
    };
    let release = match &release {
        None => 1,
        Some(serde_yaml::Value::Number(n)) => match n.as_u64() {
            Some(v) if (1..=u64::from(u32::MAX)).contains(&v) => v as u32,
            _ => return Err(bad(format!("{shown}: `release: {n}` is not a positive integer"))),
        },
        Some(serde_yaml::Value::String(t)) if t.parse::<u32>().is_ok_and(|v| v >= 1) => t.parse().unwrap_or(1),
        Some(other) => return Err(bad(format!("{shown}: `release: {}` is not a positive integer", scalar(other).unwrap_or_default()))),
    };
    let description = match &description {
        None => String::new(),
        // One line in the manifest: a folded or multi-line description is joined with spaces.
        Some(v) => scalar(v)
            .ok_or_else(|| bad(format!("{shown}: `description:` is not a string")))?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    };
    let depends = p.deps.iter().filter(|d| d.kind == crate::tree::DepKind::Runtime).map(|d| d.name.clone()).collect();
    let supersedes = p.supersedes.iter().map(|(n, _)| n.clone()).collect();
    Ok(PackageMeta { name: p.name, version, release, tier: p.tier.unwrap_or(p.dir_tier), description, depends, supersedes })
}

/// `<name>-<version>-<release>.igos.tar.gz`
pub fn archive_file_name(meta: &PackageMeta) -> String {
    format!("{}-{}-{}.igos.tar.gz", meta.name, meta.version, meta.release.max(1))
}

/// At most this many DESTDIR problems are reported in one run.
pub const MAX_PROBLEMS: usize = 20;

/// Everything in `destdir` that cannot be packed faithfully, in path order: device nodes,
/// sockets, FIFOs, unreadable files or directories, non-UTF-8 names, symlinks that climb out
/// of the root. Symlinks are never followed.
pub fn scan_destdir(destdir: &Path) -> Vec<PackError> {
    let mut problems = vec![];
    scan_dir(destdir, "", &mut problems);
    problems
}

fn scan_dir(dir: &Path, prefix: &str, problems: &mut Vec<PackError>) {
    let shown = |rel: &str| if rel.is_empty() { dir.display().to_string() } else { rel.to_string() };
    let mut ents: Vec<fs::DirEntry> = match fs::read_dir(dir).and_then(|it| it.collect::<io::Result<Vec<_>>>()) {
        Ok(v) => v,
        Err(e) => {
            problems.push(PackError::new("unreadable", Some(dir), format!("{}: cannot list the directory: {e}", shown(prefix)), None));
            return;
        }
    };
    ents.sort_by_key(|e| e.file_name());
    for ent in ents {
        if problems.len() >= MAX_PROBLEMS {
            return;
        }
        let path = ent.path();
        let raw = ent.file_name();
        let Some(name) = raw.to_str() else {
            let rel = format!("{prefix}{}{}", if prefix.is_empty() { "" } else { "/" }, raw.to_string_lossy());
            problems.push(PackError::new(
                "non-utf8-name",
                Some(&path),
                format!("{rel}: the file name is not UTF-8; the package manifest cannot record it"),
                Some("rename it in the recipe's install step"),
            ));
            continue;
        };
        let rel = if prefix.is_empty() { name.to_string() } else { format!("{prefix}/{name}") };
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                problems.push(PackError::new("unreadable", Some(&path), format!("{rel}: cannot stat: {e}"), None));
                continue;
            }
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            match fs::read_link(&path).map(|t| t.into_os_string().into_string()) {
                Ok(Ok(target)) => {
                    if link_escapes(&rel, &target) {
                        problems.push(PackError::new(
                            "link-escape",
                            Some(&path),
                            format!("{rel}: the symlink target `{target}` climbs out of the package root; pkm refuses such links"),
                            Some("point it at an absolute path (/usr/lib/...) or a relative path inside the tree"),
                        ));
                    }
                }
                Ok(Err(_)) => problems.push(PackError::new("non-utf8-name", Some(&path), format!("{rel}: the symlink target is not UTF-8"), None)),
                Err(e) => problems.push(PackError::new("unreadable", Some(&path), format!("{rel}: cannot read the link: {e}"), None)),
            }
        } else if ft.is_dir() {
            scan_dir(&path, &rel, problems);
        } else if ft.is_file() {
            if let Err(e) = fs::File::open(&path) {
                problems.push(PackError::new("unreadable", Some(&path), format!("{rel}: cannot read: {e}"), None));
            }
        } else {
            let what = if ft.is_fifo() {
                "a FIFO"
            } else if ft.is_socket() {
                "a socket"
            } else if ft.is_char_device() {
                "a character device"
            } else if ft.is_block_device() {
                "a block device"
            } else {
                "of an unsupported type"
            };
            problems.push(PackError::new(
                "special-file",
                Some(&path),
                format!("{rel} is {what}; a package holds only files, directories and symlinks"),
                Some("device nodes, sockets and FIFOs are created at run time (udev, tmpfiles.d, the service), never shipped"),
            ));
        }
    }
}

/// A written archive.
#[derive(Debug, Clone)]
pub struct Packed {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    pub manifest: Manifest,
}

struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(buf.get(..n).unwrap_or(&[]));
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `p` made absolute with symlinks resolved, for as much of it as exists.
fn resolve(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(p) };
    let mut existing = abs.as_path();
    let mut rest = vec![];
    while fs::symlink_metadata(existing).is_err() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut out = fs::canonicalize(existing).unwrap_or_else(|_| existing.to_path_buf());
    out.extend(rest.iter().rev());
    out
}

/// Is `inner` (an existing or future directory) `outer` or below it?
fn is_within(inner: &Path, outer: &Path) -> bool {
    resolve(inner).starts_with(resolve(outer))
}

/// The manifest of `destdir`, checked: packable, and readable back exactly by pkm.
pub fn manifest_for(meta: &PackageMeta, destdir: &Path) -> Result<Manifest, Vec<PackError>> {
    if !destdir.is_dir() {
        return Err(vec![PackError::new(
            "destdir",
            Some(destdir),
            format!("the DESTDIR {} does not exist or is not a directory", destdir.display()),
            Some("pass the directory the recipe's install step staged into (make DESTDIR=... install)"),
        )]);
    }
    let problems = scan_destdir(destdir);
    if !problems.is_empty() {
        return Err(problems);
    }
    let manifest = manifest_from_tree(meta, destdir)
        .map_err(|e| vec![PackError::new("unreadable", Some(destdir), format!("{}: {e}", destdir.display()), None)])?;
    // What pkm will parse must be exactly what was meant: names, versions and paths survive.
    match Manifest::parse(&manifest.render()) {
        Ok(back) if back == manifest => Ok(manifest),
        Ok(back) => {
            let field = [
                ("name", back.name != manifest.name),
                ("version", back.version != manifest.version),
                ("release", back.release != manifest.release),
                ("tier", back.tier != manifest.tier),
                ("description", back.description != manifest.description),
                ("depends", back.depends != manifest.depends),
                ("supersedes", back.supersedes != manifest.supersedes),
            ]
            .into_iter()
            .find_map(|(f, differs)| differs.then_some(f))
            .unwrap_or("files");
            Err(vec![PackError::new(
                "metadata",
                None,
                format!("the manifest does not read back as written: `{field}` changes (surrounding whitespace?)"),
                None,
            )])
        }
        Err((_, msg)) => Err(vec![PackError::new(
            "metadata",
            None,
            format!("the package metadata cannot be recorded: {msg}"),
            Some("names, versions, dependencies and supersedes use letters, digits and - _ + . @"),
        )]),
    }
}

/// Pack `destdir` into `out_dir/<name>-<version>-<release>.igos.tar.gz`, every member stamped
/// with `epoch`. The archive is written to a temporary name in `out_dir` and renamed, so a
/// failure leaves no partial archive behind.
pub fn pack(meta: &PackageMeta, destdir: &Path, out_dir: &Path, epoch: u64) -> Result<Packed, Vec<PackError>> {
    out_dir_outside(out_dir, destdir)?;
    let manifest = manifest_for(meta, destdir)?;
    create_out_dir(out_dir)?;
    write_to(&manifest, destdir, &out_dir.join(archive_file_name(meta)), epoch).map_err(|e| vec![e])
}

/// The output directory must not be the DESTDIR or below it: the next pack would sweep the
/// archive (or a scratch copy) into the package.
fn out_dir_outside(out_dir: &Path, destdir: &Path) -> Result<(), Vec<PackError>> {
    if destdir.is_dir() && is_within(out_dir, destdir) {
        return Err(vec![PackError::new(
            "out-in-destdir",
            Some(out_dir),
            format!("the output directory {} is inside the DESTDIR {}; the archive would pack itself", out_dir.display(), destdir.display()),
            Some("write the archive outside the staged tree (--out DIR)"),
        )]);
    }
    Ok(())
}

fn create_out_dir(out_dir: &Path) -> Result<(), Vec<PackError>> {
    fs::create_dir_all(out_dir).map_err(|e| {
        vec![PackError::new("write", Some(out_dir), format!("cannot create the output directory {}: {e}", out_dir.display()), None)]
    })
}

fn write_to(manifest: &Manifest, destdir: &Path, dest: &Path, epoch: u64) -> Result<Packed, PackError> {
    let file_name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dest.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let fail = |e: io::Error| PackError::new("write", Some(dest), format!("cannot write {}: {e}", dest.display()), None);
    let result = (|| -> io::Result<(String, u64)> {
        let f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let mut w = HashingWriter { inner: BufWriter::new(f), hash: Sha256::new(), bytes: 0 };
        write_archive(&mut w, manifest, destdir, &WriteOptions { mtime: epoch, ..WriteOptions::default() })?;
        w.flush()?;
        let f = w.inner.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        fs::rename(&tmp, dest)?;
        Ok((archive::hex(&w.hash.finalize()), w.bytes))
    })();
    match result {
        Ok((sha256, bytes)) => Ok(Packed { path: dest.to_path_buf(), sha256, bytes, manifest: manifest.clone() }),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(fail(e))
        }
    }
}

/// Where two archives first differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The member (tar path), or None for the gzip layer or the stream around the members.
    pub entry: Option<String>,
    /// What differs: `header field mode: 0000755 vs 0000700`, `content: ...`, ...
    pub what: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.entry {
            Some(e) => write!(f, "entry `{e}`: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

fn first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y).or(if a.len() != b.len() { Some(a.len().min(b.len())) } else { None })
}

/// Are two readers byte-identical? Returns the first differing offset.
fn stream_diff(mut a: impl Read, mut b: impl Read) -> io::Result<Option<u64>> {
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    let mut off = 0u64;
    loop {
        let na = read_full(&mut a, &mut ba)?;
        let nb = read_full(&mut b, &mut bb)?;
        let (ca, cb) = (ba.get(..na).unwrap_or(&[]), bb.get(..nb).unwrap_or(&[]));
        if let Some(i) = first_diff(ca, cb) {
            return Ok(Some(off + i as u64));
        }
        if na == 0 {
            return Ok(None);
        }
        off += na as u64;
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or(&mut [])) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// ustar/GNU header fields, in header order: (name, byte range).
const HEADER_FIELDS: &[(&str, usize, usize)] = &[
    ("name", 0, 100),
    ("mode", 100, 108),
    ("uid", 108, 116),
    ("gid", 116, 124),
    ("size", 124, 136),
    ("mtime", 136, 148),
    ("checksum", 148, 156),
    ("type", 156, 157),
    ("linkname", 157, 257),
    ("magic", 257, 263),
    ("version", 263, 265),
    ("uname", 265, 297),
    ("gname", 297, 329),
    ("devmajor", 329, 337),
    ("devminor", 337, 345),
    ("prefix/extra", 345, 512),
];

fn field_text(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let t = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if t.is_empty() { "(empty)".into() } else { t.to_string() }
}

/// Compare two `.igos.tar.gz` files. `None` when byte-identical; otherwise the first difference:
/// the gzip header, then member by member (path, each header field, content), then the tar
/// stream around the members, then the compressed bytes.
pub fn compare_archives(a: &Path, b: &Path) -> io::Result<Option<Difference>> {
    let open = |p: &Path| fs::File::open(p).map(BufReader::new);
    let Some(raw_at) = stream_diff(open(a)?, open(b)?)? else {
        return Ok(None);
    };
    let mut ha = [0u8; 10];
    let mut hb = [0u8; 10];
    let na = read_full(&mut open(a)?, &mut ha)?;
    let nb = read_full(&mut open(b)?, &mut hb)?;
    for (field, lo, hi) in [("magic/method/flags", 0, 4), ("mtime", 4, 8), ("extra flags", 8, 9), ("OS", 9, 10)] {
        let (fa, fb) = (ha.get(lo..hi.min(na)).unwrap_or(&[]), hb.get(lo..hi.min(nb)).unwrap_or(&[]));
        if fa != fb {
            return Ok(Some(Difference { entry: None, what: format!("gzip header field {field}: {fa:02x?} vs {fb:02x?}") }));
        }
    }
    if let Some(d) = compare_members(a, b)? {
        return Ok(Some(d));
    }
    let tar_of = |p: &Path| -> io::Result<flate2::read::GzDecoder<BufReader<fs::File>>> { Ok(flate2::read::GzDecoder::new(open(p)?)) };
    match stream_diff(tar_of(a)?, tar_of(b)?) {
        Ok(Some(off)) => Ok(Some(Difference {
            entry: None,
            what: format!("the tar stream differs at byte {off}, outside any member (padding or end-of-archive blocks)"),
        })),
        Ok(None) => Ok(Some(Difference {
            entry: None,
            what: format!(
                "identical tar streams, but the compressed bytes differ at byte {raw_at}: another gzip level or deflate implementation"
            ),
        })),
        Err(e) => Ok(Some(Difference { entry: None, what: format!("the gzip streams differ at byte {raw_at} and do not both inflate: {e}") })),
    }
}

fn compare_members(a: &Path, b: &Path) -> io::Result<Option<Difference>> {
    let open = |p: &Path| -> io::Result<tar::Archive<flate2::read::GzDecoder<BufReader<fs::File>>>> {
        Ok(tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(fs::File::open(p)?))))
    };
    let (mut ta, mut tb) = (open(a)?, open(b)?);
    let unreadable = |which: &str, e: io::Error| Difference { entry: None, what: format!("archive {which} is not a readable tar.gz: {e}") };
    let mut ea = match ta.entries() {
        Ok(it) => it,
        Err(e) => return Ok(Some(unreadable("A", e))),
    };
    let mut eb = match tb.entries() {
        Ok(it) => it,
        Err(e) => return Ok(Some(unreadable("B", e))),
    };
    loop {
        let (xa, xb) = (ea.next(), eb.next());
        let (mut ma, mut mb) = match (xa, xb) {
            (None, None) => return Ok(None),
            (Some(Err(e)), _) => return Ok(Some(unreadable("A", e))),
            (_, Some(Err(e))) => return Ok(Some(unreadable("B", e))),
            (Some(Ok(m)), None) => {
                let p = String::from_utf8_lossy(&m.path_bytes()).into_owned();
                return Ok(Some(Difference { entry: Some(p), what: "present only in archive A".into() }));
            }
            (None, Some(Ok(m))) => {
                let p = String::from_utf8_lossy(&m.path_bytes()).into_owned();
                return Ok(Some(Difference { entry: Some(p), what: "present only in archive B".into() }));
            }
            (Some(Ok(ma)), Some(Ok(mb))) => (ma, mb),
        };
        let pa = String::from_utf8_lossy(&ma.path_bytes()).into_owned();
        let pb = String::from_utf8_lossy(&mb.path_bytes()).into_owned();
        if pa != pb {
            return Ok(Some(Difference { entry: Some(pa), what: format!("archive B has `{pb}` at this position (member names or order differ)") }));
        }
        let (la, lb) = (ma.link_name_bytes().map(|l| l.into_owned()), mb.link_name_bytes().map(|l| l.into_owned()));
        if la != lb {
            let show = |l: &Option<Vec<u8>>| l.as_deref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_else(|| "(none)".into());
            return Ok(Some(Difference { entry: Some(pa), what: format!("header field linkname: {} vs {}", show(&la), show(&lb)) }));
        }
        let (hba, hbb) = (ma.header().as_bytes().to_vec(), mb.header().as_bytes().to_vec());
        for (field, lo, hi) in HEADER_FIELDS {
            let (fa, fb) = (hba.get(*lo..*hi).unwrap_or(&[]), hbb.get(*lo..*hi).unwrap_or(&[]));
            if fa != fb {
                return Ok(Some(Difference {
                    entry: Some(pa),
                    what: format!("header field {field}: {} vs {}", field_text(fa), field_text(fb)),
                }));
            }
        }
        let (mut ca, mut cb) = (Vec::new(), Vec::new());
        if pa == archive::MANIFEST_MEMBER {
            ma.read_to_end(&mut ca)?;
            mb.read_to_end(&mut cb)?;
            if ca != cb {
                let (ta, tb) = (String::from_utf8_lossy(&ca), String::from_utf8_lossy(&cb));
                let (la, lb): (Vec<&str>, Vec<&str>) = (ta.lines().collect(), tb.lines().collect());
                let i = la.iter().zip(&lb).position(|(x, y)| x != y).unwrap_or(la.len().min(lb.len()));
                let line = |l: &Vec<&str>| l.get(i).map(|s| format!("`{s}`")).unwrap_or_else(|| "(end)".into());
                return Ok(Some(Difference {
                    entry: Some(pa),
                    what: format!("content: manifest line {}: {} vs {}", i + 1, line(&la), line(&lb)),
                }));
            }
        } else if let Some(off) = stream_diff(&mut ma, &mut mb)? {
            return Ok(Some(Difference { entry: Some(pa), what: format!("content differs from byte {off}") }));
        }
    }
}

/// What `--check-reproducible` did and found.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// Packed from the DESTDIR as given.
    pub a: Packed,
    /// Packed from the varied copy.
    pub b: Packed,
    /// The copy's staging path.
    pub copy_path: PathBuf,
    /// The conditions that differed between the two packs, for the report.
    pub varied: Vec<String>,
    /// None: byte-identical.
    pub difference: Option<Difference>,
    /// Where the archive was kept (only when identical and `keep` was asked).
    pub kept: Option<PathBuf>,
}

/// A hook run on the copy before the second pack. Only tests use it: to prove the checker
/// catches a difference, they change the copy.
pub type Perturb<'a> = &'a dyn Fn(&Path) -> io::Result<()>;

/// Set atime and mtime without following a symlink.
fn set_times(p: &Path, secs: i64) -> io::Result<()> {
    let t = rustix::fs::Timespec { tv_sec: secs, tv_nsec: 0 };
    let times = rustix::fs::Timestamps { last_access: t, last_modification: t };
    rustix::fs::utimensat(rustix::fs::CWD, p, &times, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).map_err(io::Error::from)
}

fn lchown(p: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid))
}

/// Copy the tree described by `manifest` from `src` to `dst` under different conditions:
/// entries created in reverse path order (another directory listing order), under another
/// umask (modes then set explicitly from the original), with other mtimes and, as root, another
/// owner. Returns the conditions varied.
fn varied_copy(manifest: &Manifest, src: &Path, dst: &Path) -> io::Result<Vec<String>> {
    let mut varied = vec![
        format!("staging path {} instead of {}", dst.display(), src.display()),
        "entries created in reverse order (another directory listing order)".to_string(),
    ];
    fs::create_dir_all(dst)?;
    // Entries are created with the modes a umask of 0077 gives (0700, 0600), whatever the
    // process's umask: the copy differs from the original in its creation modes without
    // changing the umask, which is per process and would reach other threads' files.
    let dirs = || {
        let mut b = fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        b
    };
    for e in manifest.entries.iter().rev() {
        let to = dst.join(&e.path);
        if let Some(parent) = to.parent() {
            dirs().create(parent)?;
        }
        match &e.kind {
            EntryKind::Dir => dirs().create(&to)?,
            EntryKind::Symlink { target } => std::os::unix::fs::symlink(target, &to)?,
            EntryKind::File { .. } => {
                let mut from = fs::File::open(src.join(&e.path))?;
                let mut out = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&to)?;
                io::copy(&mut from, &mut out)?;
            }
        }
    }
    varied.push("entries created with modes 0700/0600, as under umask 0077 (modes then set from the original)".to_string());
    if rustix::process::geteuid().is_root() {
        for e in &manifest.entries {
            lchown(&dst.join(&e.path), 65534, 65534)?;
        }
        varied.push("owner uid/gid 65534 on the copy".to_string());
    }
    // Modes after ownership (chown clears setuid), taken from the original.
    for e in &manifest.entries {
        if !matches!(e.kind, EntryKind::Symlink { .. }) {
            fs::set_permissions(dst.join(&e.path), fs::Permissions::from_mode(e.mode))?;
        }
    }
    // Children before parents, so creating a child does not move its directory's mtime again.
    let base = 1_234_567_891i64;
    for (i, e) in manifest.entries.iter().enumerate().rev() {
        set_times(&dst.join(&e.path), base + 7919 * i as i64)?;
    }
    varied.push("other mtimes on every entry of the copy".to_string());
    Ok(varied)
}

/// Remove a scratch tree even where a copied directory has no write permission.
fn remove_scratch(dir: &Path) {
    fn open_up(p: &Path) {
        if let Ok(m) = fs::symlink_metadata(p) {
            if m.is_dir() {
                let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
                if let Ok(it) = fs::read_dir(p) {
                    for e in it.flatten() {
                        open_up(&e.path());
                    }
                }
            }
        }
    }
    open_up(dir);
    let _ = fs::remove_dir_all(dir);
}

/// Pack `destdir` twice, once as given and once from a copy made under different conditions,
/// and compare the archives. Scratch files live in `out_dir/.igos-pack-check-<pid>/` and are
/// removed. With `keep`, an identical archive is moved to `out_dir`. `perturb` (tests only)
/// changes the copy before it is packed.
pub fn check_reproducible(
    meta: &PackageMeta,
    destdir: &Path,
    out_dir: &Path,
    epoch: u64,
    keep: bool,
    perturb: Option<Perturb<'_>>,
) -> Result<CheckReport, Vec<PackError>> {
    out_dir_outside(out_dir, destdir)?;
    manifest_for(meta, destdir)?;
    create_out_dir(out_dir)?;
    let scratch = out_dir.join(format!(".igos-pack-check-{}", std::process::id()));
    remove_scratch(&scratch);
    let result = check_in(meta, destdir, out_dir, &scratch, epoch, keep, perturb);
    remove_scratch(&scratch);
    result
}

fn check_in(
    meta: &PackageMeta,
    destdir: &Path,
    out_dir: &Path,
    scratch: &Path,
    epoch: u64,
    keep: bool,
    perturb: Option<Perturb<'_>>,
) -> Result<CheckReport, Vec<PackError>> {
    let a = pack(meta, destdir, &scratch.join("a"), epoch)?;
    let copy_path = scratch.join("b").join("another").join("staging-root");
    let io_fail = |what: &str, e: io::Error| vec![PackError::new("check", Some(scratch), format!("{what}: {e}"), None)];
    let varied = varied_copy(&a.manifest, destdir, &copy_path).map_err(|e| io_fail("cannot make the varied copy of the DESTDIR", e))?;
    if let Some(f) = perturb {
        f(&copy_path).map_err(|e| io_fail("the test hook failed", e))?;
    }
    let b = pack(meta, &copy_path, &scratch.join("b-out"), epoch)?;
    let difference = compare_archives(&a.path, &b.path).map_err(|e| io_fail("cannot compare the two archives", e))?;
    let mut kept = None;
    if difference.is_none() && keep {
        let dest = out_dir.join(archive_file_name(meta));
        fs::rename(&a.path, &dest)
            .map_err(|e| vec![PackError::new("write", Some(&dest), format!("cannot write {}: {e}", dest.display()), None)])?;
        kept = Some(dest);
    }
    Ok(CheckReport { a, b, copy_path, varied, difference, kept })
}
