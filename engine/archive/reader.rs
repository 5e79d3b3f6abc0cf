//! Hardened reader: one streaming pass (SHA-256 of the archive, inflate, per-file SHA-256 while
//! extracting into a staging directory) that rejects hostile content. The pass is split over two
//! threads (reading/inflating/checking, and creating/writing/hashing the staged files); errors
//! are reported exactly as a serial pass would report them.

use super::manifest::{canonical_path, EntryKind, Manifest};
use super::writer::hex;
use super::MANIFEST_MEMBER;
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{symlink, DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc;

/// Caps against decompression bombs and absurd archives. The first bound is the manifest's own:
/// once it is read, the stream may hold what it declares and no more; these caps stand behind it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum inflated bytes (tar stream) in total.
    pub max_total: u64,
    /// Maximum inflated/compressed ratio, enforced once more than `ratio_grace` bytes are inflated.
    pub max_ratio: u64,
    pub ratio_grace: u64,
    pub max_entries: usize,
    pub max_manifest: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_total: 64 << 30, max_ratio: 250, ratio_grace: 16 << 20, max_entries: 1_000_000, max_manifest: 64 << 20 }
    }
}

/// Why an archive was refused. `code` is stable (kebab-case), `member` names the tar member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveError {
    pub code: &'static str,
    pub member: Option<String>,
    pub message: String,
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Member names are the packager's: shown visibly, they cannot forge a line.
        let message = crate::visible::visible(&self.message);
        match &self.member {
            Some(m) => write!(f, "member `{}`: {message}", crate::visible::visible(m)),
            None => write!(f, "{message}"),
        }
    }
}
impl std::error::Error for ArchiveError {}

fn rej(code: &'static str, member: Option<&str>, message: impl Into<String>) -> ArchiveError {
    ArchiveError { code, member: member.map(str::to_string), message: message.into() }
}

/// What a successful extraction yields.
#[derive(Debug, Clone)]
pub struct Extracted {
    pub manifest: Manifest,
    /// SHA-256 of the archive file as read (for `--archive-trust`).
    pub archive_sha256: String,
    pub inflated_bytes: u64,
}

/// Counts the raw (compressed) bytes and hands a copy to the staging writer thread, which
/// computes the archive's SHA-256 there (the reading thread's inflate is the bottleneck).
struct RawCounter<R> {
    inner: R,
    hash_to: mpsc::SyncSender<Stage>,
    count: Rc<Cell<u64>>,
}
impl<R: Read> Read for RawCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            // A failed send means the writer stopped on an error, which is then reported.
            let _ = self.hash_to.send(Stage::Raw(buf.get(..n).unwrap_or(&[]).to_vec()));
        }
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Why the inflated stream was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tripped {
    No,
    /// Over [`Limits`]: total size or compression ratio.
    Caps,
    /// Longer than the manifest declares.
    Manifest,
}

struct BombGuard<R> {
    inner: R,
    raw: Rc<Cell<u64>>,
    /// Inflated bytes so far, shared with the extraction loop.
    out: Rc<Cell<u64>>,
    /// The most the stream may inflate to: before the manifest is read, the manifest cap;
    /// after it, what the manifest declares plus tar's headers and padding.
    budget: Rc<Cell<u64>>,
    limits: Limits,
    tripped: Rc<Cell<Tripped>>,
}
impl<R: Read> Read for BombGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Never inflate more than one byte past the budget: a stream that goes on is stopped
        // there, whatever it would have inflated to.
        let out = self.out.get();
        let allowed = self.budget.get().saturating_sub(out).saturating_add(1);
        let want = buf.len().min(usize::try_from(allowed).unwrap_or(usize::MAX));
        let n = self.inner.read(buf.get_mut(..want).unwrap_or_default())?;
        let out = out + n as u64;
        self.out.set(out);
        if out > self.budget.get() {
            self.tripped.set(Tripped::Manifest);
            return Err(io::Error::other("stream longer than the manifest declares"));
        }
        let raw = self.raw.get().max(1);
        if out > self.limits.max_total || (out > self.limits.ratio_grace && out / raw > self.limits.max_ratio) {
            self.tripped.set(Tripped::Caps);
            return Err(io::Error::other("decompression bomb"));
        }
        Ok(n)
    }
}

/// What the tar stream may hold beyond the manifest member, from the manifest alone: each
/// entry's header, a long-name or PAX header for its path and target, and its content padded
/// to 512-byte blocks; then the end-of-archive blocks and the writer's padding to a 10 KiB
/// record. Errs with the path of a file whose size is not declared (the archive is refused).
fn declared_budget(m: &Manifest) -> Result<u64, String> {
    let block = |n: u64| n.div_ceil(512) * 512;
    let mut total: u64 = 1024 + 2 * 10240;
    for e in &m.entries {
        let target = match &e.kind {
            EntryKind::Symlink { target } => target.len() as u64,
            _ => 0,
        };
        let content = match (&e.kind, e.size) {
            (EntryKind::File { .. }, Some(n)) => block(n),
            (EntryKind::File { .. }, None) => return Err(e.path.clone()),
            _ => 0,
        };
        let names = 1536 + 2 * block(e.path.len() as u64 + target + 512);
        total = total.saturating_add(names).saturating_add(content);
    }
    Ok(total)
}

/// Bytes an unprivileged writer may still use on the filesystem holding `dir`, if known.
fn free_space(dir: &Path) -> Option<u64> {
    rustix::fs::statvfs(dir).ok().map(|s| s.f_bavail.saturating_mul(s.f_frsize))
}

/// Largest piece of file content handed to the staging writer at once.
const CHUNK: usize = 256 * 1024;

/// What the reading thread tells the staging writer, in member order.
enum Stage {
    /// Create `dest` (new, mode 0600); its content must hash to `sha256`.
    Open { dest: PathBuf, member: String, sha256: String },
    Data(Vec<u8>),
    Close,
    /// Raw archive bytes, in order, for the archive's SHA-256.
    Raw(Vec<u8>),
}

/// The staging writer: create, write and hash each file; stop at the first error (dropping the
/// receiver, so the reading thread's next send fails and it stops too).
/// Returns the archive's SHA-256 (lowercase hex) when the channel closes.
fn stage_writer(rx: mpsc::Receiver<Stage>) -> Result<String, ArchiveError> {
    let mut cur: Option<(fs::File, Sha256, String, String)> = None;
    let mut archive = Sha256::new();
    for msg in rx {
        match msg {
            Stage::Raw(bytes) => archive.update(&bytes),
            Stage::Open { dest, member, sha256 } => {
                let f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&dest)
                    .map_err(|e| rej("staging", Some(&member), format!("cannot stage: {e}")))?;
                cur = Some((f, Sha256::new(), member, sha256));
            }
            Stage::Data(chunk) => {
                if let Some((f, h, member, _)) = cur.as_mut() {
                    h.update(&chunk);
                    f.write_all(&chunk).map_err(|e| rej("staging", Some(member), format!("cannot stage: {e}")))?;
                }
            }
            Stage::Close => {
                if let Some((f, h, member, sha256)) = cur.take() {
                    drop(f);
                    let got = hex(&h.finalize());
                    if got != sha256 {
                        return Err(rej("hash-mismatch", Some(&member), format!("content SHA-256 {got} differs from the manifest {sha256}")));
                    }
                }
            }
        }
    }
    Ok(hex(&archive.finalize()))
}

const PAX_ALLOWED: &[&str] = &["path", "linkpath", "size", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname"];

/// Does a symlink at `link` (relative path) with `target` point outside the root?
/// Absolute targets are interpreted inside the root (they never leave it); relative ones must not
/// climb above it.
pub fn link_escapes(link: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return false;
    }
    let mut depth: i64 = link.split('/').count() as i64 - 1;
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// Stream `input` once: hash it, inflate it, check every member against the manifest and the
/// rules in the module docs, and write content into `staging` (which must be an empty directory).
/// Files are staged with mode 0600, directories 0700; the real modes are applied at deploy.
/// On error the staging directory may hold partial content; the caller removes it.
pub fn extract_archive<R: Read>(input: R, staging: &Path, limits: &Limits) -> Result<Extracted, ArchiveError> {
    // Two threads: this one reads, inflates and checks every member; the staging writer hashes
    // the archive bytes and creates, writes and hashes file content in member order. Creating
    // 10,000 files is mostly kernel time, which then overlaps the inflate. The channel is
    // bounded (at most 64 messages of at most CHUNK bytes in flight). Everything that holds a
    // sender lives inside the closure, so the writer sees the channel close when it returns.
    let (tx, rx) = mpsc::sync_channel::<Stage>(64);
    std::thread::scope(|s| {
        let writer = s.spawn(move || stage_writer(rx));
        let res = (|| -> Result<Extracted, ArchiveError> {
            let raw_count = Rc::new(Cell::new(0u64));
            let tripped = Rc::new(Cell::new(Tripped::No));
            let inflated = Rc::new(Cell::new(0u64));
            // Until the manifest is read: the manifest itself and the headers before it.
            let budget = Rc::new(Cell::new(limits.max_manifest.saturating_add(64 << 10)));
            let raw = RawCounter { inner: input, hash_to: tx.clone(), count: raw_count.clone() };
            let gz = flate2::read::GzDecoder::new(raw);
            let guard = BombGuard { inner: gz, raw: raw_count, out: inflated.clone(), budget: budget.clone(), limits: *limits, tripped: tripped.clone() };
            let mut ar = tar::Archive::new(guard);
            let io_rej = |e: io::Error, member: Option<&str>| -> ArchiveError {
                match tripped.get() {
                    Tripped::Caps => rej("gzip-bomb", member, format!("inflated size exceeds the caps (total {} bytes, ratio {}:1)", limits.max_total, limits.max_ratio)),
                    Tripped::Manifest => rej(
                        "exceeds-manifest",
                        member,
                        format!("the stream is longer than the manifest declares: stopped after {} inflated bytes (the manifest allows {})", inflated.get(), budget.get()),
                    ),
                    Tripped::No => rej("corrupt", member, format!("unreadable archive: {e}")),
                }
            };
            let mut manifest: Option<Manifest> = None;
            let mut seen: BTreeSet<String> = BTreeSet::new();
            let mut dirs: BTreeSet<String> = BTreeSet::new();
            let mut prev: Option<String> = None;
            let mut count = 0usize;
            {
                let entries = ar.entries().map_err(|e| io_rej(e, None))?;
                for ent in entries {
                    let mut ent = ent.map_err(|e| io_rej(e, prev.as_deref()))?;
                    count += 1;
                    if count > limits.max_entries {
                        return Err(rej("too-many-entries", None, format!("more than {} members", limits.max_entries)));
                    }
                    let raw_path = ent.path_bytes().into_owned();
                    let name = String::from_utf8(raw_path).map_err(|_| rej("bad-path", None, "a member name is not UTF-8"))?;
                    let shown = name.clone();
                    let et = ent.header().entry_type();
                    match et {
                        tar::EntryType::Regular | tar::EntryType::Directory | tar::EntryType::Symlink => {}
                        tar::EntryType::Link => return Err(rej("hardlink", Some(&shown), "hard links are not allowed")),
                        tar::EntryType::Char | tar::EntryType::Block => return Err(rej("device-node", Some(&shown), "device nodes are not allowed")),
                        tar::EntryType::Fifo => return Err(rej("fifo", Some(&shown), "FIFOs are not allowed")),
                        tar::EntryType::XGlobalHeader => return Err(rej("pax-trick", Some(&shown), "PAX global headers are not allowed")),
                        other => return Err(rej("bad-type", Some(&shown), format!("member type {:?} is not allowed", other))),
                    }
                    // PAX: only plain attribute overrides; nothing else changes meaning.
                    if let Some(exts) = ent.pax_extensions().map_err(|e| io_rej(e, Some(&shown)))? {
                        for x in exts {
                            let x = x.map_err(|e| io_rej(e, Some(&shown)))?;
                            let k = x.key().unwrap_or("<non-UTF-8>");
                            if !PAX_ALLOWED.contains(&k) {
                                return Err(rej("pax-trick", Some(&shown), format!("PAX extended header `{k}` is not allowed")));
                            }
                        }
                    }
                    if name.starts_with('/') {
                        return Err(rej("absolute-path", Some(&shown), "absolute member path"));
                    }
                    let path = if et == tar::EntryType::Directory { name.strip_suffix('/').unwrap_or(&name).to_string() } else { name.clone() };
                    if path.split('/').any(|c| c == "..") {
                        return Err(rej("dot-dot", Some(&shown), "member path contains `..`"));
                    }
                    if !canonical_path(&path) {
                        return Err(rej("bad-path", Some(&shown), "member path is not canonical (`./`, `//`, `.` or empty)"));
                    }
                    // The manifest comes first.
                    let m = match &manifest {
                        None => {
                            if path != MANIFEST_MEMBER || et != tar::EntryType::Regular {
                                return Err(rej("no-manifest", Some(&shown), format!("the first member must be `{MANIFEST_MEMBER}`")));
                            }
                            if ent.size() > limits.max_manifest {
                                return Err(rej("manifest-too-large", Some(&shown), "manifest exceeds its size cap"));
                            }
                            let mut text = String::new();
                            (&mut ent).take(limits.max_manifest).read_to_string(&mut text).map_err(|e| io_rej(e, Some(&shown)))?;
                            let parsed = Manifest::parse(&text)
                                .map_err(|(line, msg)| rej("bad-manifest", Some(MANIFEST_MEMBER), format!("line {line}: {msg}")))?;
                            // From here the stream may hold what the manifest declares, no more.
                            let declared = declared_budget(&parsed)
                                .map_err(|p| rej("undeclared-size", Some(MANIFEST_MEMBER), format!("the manifest does not declare the size of `{p}`")))?;
                            if declared > limits.max_total {
                                return Err(rej("too-large", Some(MANIFEST_MEMBER), format!("the manifest declares {declared} bytes, over the cap of {}", limits.max_total)));
                            }
                            let content = parsed.entries.iter().filter_map(|e| e.size).fold(0u64, u64::saturating_add);
                            if let Some(free) = free_space(staging).filter(|free| content > *free) {
                                return Err(rej(
                                    "no-space",
                                    Some(MANIFEST_MEMBER),
                                    format!("the manifest declares {content} bytes of files; the filesystem of {} has {free} bytes free", staging.display()),
                                ));
                            }
                            budget.set(inflated.get().saturating_add(1024).saturating_add(declared));
                            manifest = Some(parsed);
                            continue;
                        }
                        Some(m) => m,
                    };
                    if path == MANIFEST_MEMBER {
                        return Err(rej("duplicate-entry", Some(&shown), "second manifest member"));
                    }
                    if seen.contains(&path) {
                        return Err(rej("duplicate-entry", Some(&shown), "member appears twice"));
                    }
                    if let Some(p) = &prev {
                        if path.as_str() < p.as_str() {
                            return Err(rej("unsorted", Some(&shown), format!("members must be sorted by name; `{path}` follows `{p}`")));
                        }
                    }
                    let Some(me) = m.entry(&path) else {
                        return Err(rej("not-in-manifest", Some(&shown), "member is not declared in the manifest"));
                    };
                    if let Some((parent, _)) = path.rsplit_once('/') {
                        if !dirs.contains(parent) {
                            return Err(rej("undeclared-parent", Some(&shown), format!("parent `{parent}` is not a directory member earlier in the archive")));
                        }
                    }
                    let mode = ent.header().mode().map_err(|e| io_rej(e, Some(&shown)))? & 0o7777;
                    let kind_ok = matches!(
                        (&me.kind, et),
                        (EntryKind::File { .. }, tar::EntryType::Regular) | (EntryKind::Dir, tar::EntryType::Directory) | (EntryKind::Symlink { .. }, tar::EntryType::Symlink)
                    );
                    if !kind_ok {
                        return Err(rej("manifest-mismatch", Some(&shown), format!("member type differs from the manifest (`{}`)", me.kind.word())));
                    }
                    if et != tar::EntryType::Symlink && mode != me.mode {
                        if mode & 0o6000 != 0 && me.mode & 0o6000 != mode & 0o6000 {
                            return Err(rej("undeclared-setuid", Some(&shown), format!("setuid/setgid mode {mode:04o} is not declared in the manifest ({:04o})", me.mode)));
                        }
                        return Err(rej("manifest-mismatch", Some(&shown), format!("mode {mode:04o} differs from the manifest ({:04o})", me.mode)));
                    }
                    let dest = staging.join(&path);
                    match &me.kind {
                        EntryKind::Dir => {
                            fs::DirBuilder::new().mode(0o700).create(&dest).map_err(|e| rej("staging", Some(&shown), format!("cannot stage: {e}")))?;
                            dirs.insert(path.clone());
                        }
                        EntryKind::Symlink { target } => {
                            let ln = ent.link_name_bytes().map(|b| b.into_owned()).unwrap_or_default();
                            let ln = String::from_utf8(ln).map_err(|_| rej("bad-path", Some(&shown), "link target is not UTF-8"))?;
                            if &ln != target {
                                return Err(rej("manifest-mismatch", Some(&shown), format!("link target `{ln}` differs from the manifest `{target}`")));
                            }
                            if link_escapes(&path, &ln) {
                                return Err(rej("link-escape", Some(&shown), format!("symlink target `{ln}` leaves the root")));
                            }
                            symlink(&ln, &dest).map_err(|e| rej("staging", Some(&shown), format!("cannot stage: {e}")))?;
                        }
                        EntryKind::File { sha256 } => {
                            if me.size != Some(ent.size()) {
                                return Err(rej(
                                    "size-mismatch",
                                    Some(&shown),
                                    format!("member size {} differs from the manifest ({})", ent.size(), me.size.map(|n| n.to_string()).unwrap_or_else(|| "none".into())),
                                ));
                            }
                            // Content goes to the staging writer thread in order; it creates, writes and
                            // hashes. A send fails only when that thread stopped on an error, which
                            // `finish` then reports (it concerns an earlier member than this one).
                            let gone = || rej("staging", Some(&shown), "the staging writer stopped");
                            tx.send(Stage::Open { dest, member: shown.clone(), sha256: sha256.clone() }).map_err(|_| gone())?;
                            loop {
                                let mut chunk = Vec::with_capacity((ent.size().min(CHUNK as u64) as usize).max(1));
                                (&mut ent).take(CHUNK as u64).read_to_end(&mut chunk).map_err(|e| io_rej(e, Some(&shown)))?;
                                if chunk.is_empty() {
                                    break;
                                }
                                tx.send(Stage::Data(chunk)).map_err(|_| gone())?;
                            }
                            tx.send(Stage::Close).map_err(|_| gone())?;
                        }
                    }
                    seen.insert(path.clone());
                    prev = Some(path);
                }
            }
            let Some(manifest) = manifest else {
                return Err(rej("no-manifest", None, format!("the archive has no `{MANIFEST_MEMBER}` member")));
            };
            if let Some(missing) = manifest.entries.iter().find(|e| !seen.contains(&e.path)) {
                return Err(rej("manifest-mismatch", Some(&missing.path), "declared in the manifest but absent from the archive"));
            }
            // Finish the stream so the archive hash covers every byte.
            let mut guard = ar.into_inner();
            io::copy(&mut guard, &mut io::sink()).map_err(|e| io_rej(e, None))?;
            let inflated = guard.out.get();
            let mut rawc = guard.inner.into_inner();
            io::copy(&mut rawc, &mut io::sink()).map_err(|e| io_rej(e, None))?;
            drop(rawc);
            // The archive hash is filled in from the writer below.
            Ok(Extracted { manifest, archive_sha256: String::new(), inflated_bytes: inflated })
        })();
        drop(tx);
        let written = writer.join().unwrap_or_else(|_| Err(rej("staging", None, "the staging writer panicked")));
        // The writer is behind this thread: its error concerns an earlier member, so it is the
        // one a serial extraction would have reported.
        match (res, written) {
            (_, Err(e)) => Err(e),
            (Err(e), Ok(_)) => Err(e),
            (Ok(mut ex), Ok(archive_sha256)) => {
                ex.archive_sha256 = archive_sha256;
                Ok(ex)
            }
        }
    })
}

/// SHA-256 of a whole file (used by trust checks and tests).
pub fn sha256_reader<R: Read>(mut r: R) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or(&[]));
    }
    Ok(hex(&h.finalize()))
}
