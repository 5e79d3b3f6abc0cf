//! Deterministic writer: same staged tree + manifest + epoch → byte-identical archive.

use super::manifest::{EntryKind, Manifest, ManifestEntry};
use super::MANIFEST_MEMBER;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Writer knobs. `mtime` is the epoch every member carries (SOURCE_DATE_EPOCH).
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    pub mtime: u64,
    /// gzip level 0..=9 (fixed so the bytes are reproducible).
    pub level: u32,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions { mtime: 0, level: 6 }
    }
}

/// Package identity used by [`manifest_from_tree`].
#[derive(Debug, Clone, Default)]
pub struct PackageMeta {
    pub name: String,
    pub version: String,
    pub release: u32,
    pub tier: String,
    pub description: String,
    pub depends: Vec<String>,
    pub supersedes: Vec<String>,
}

fn io_err(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Walk a staged tree (a DESTDIR) and build its manifest: every directory, file and symlink,
/// files hashed, `etc/` files flagged as config. Symlinks are never followed.
pub fn manifest_from_tree(meta: &PackageMeta, staged: &Path) -> io::Result<Manifest> {
    let mut entries = Vec::new();
    walk(staged, "", &mut entries)?;
    entries.sort_by(|a: &ManifestEntry, b| a.path.cmp(&b.path));
    Ok(Manifest {
        name: meta.name.clone(),
        version: meta.version.clone(),
        release: meta.release.max(1),
        tier: meta.tier.clone(),
        description: meta.description.clone(),
        depends: meta.depends.clone(),
        supersedes: meta.supersedes.clone(),
        entries,
    })
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<ManifestEntry>) -> io::Result<()> {
    for ent in fs::read_dir(dir)? {
        let ent = ent?;
        let name = ent.file_name().into_string().map_err(|n| io_err(format!("non-UTF-8 file name {n:?}")))?;
        let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let meta = fs::symlink_metadata(ent.path())?;
        let ft = meta.file_type();
        let mode = meta.permissions().mode() & 0o7777;
        if ft.is_symlink() {
            let t = fs::read_link(ent.path())?;
            let target = t.into_os_string().into_string().map_err(|_| io_err(format!("{rel}: non-UTF-8 link target")))?;
            out.push(ManifestEntry { path: rel, kind: EntryKind::Symlink { target }, mode: 0o777, config: false, size: None });
        } else if ft.is_dir() {
            out.push(ManifestEntry { path: rel.clone(), kind: EntryKind::Dir, mode, config: false, size: None });
            walk(&ent.path(), &rel, out)?;
        } else if ft.is_file() {
            let sha256 = hash_file(&ent.path())?;
            let config = rel.starts_with("etc/");
            out.push(ManifestEntry { path: rel, kind: EntryKind::File { sha256 }, mode, config, size: Some(meta.len()) });
        } else {
            return Err(io_err(format!("{rel}: unsupported file type (device, fifo or socket)")));
        }
    }
    Ok(())
}

/// SHA-256 of a file, lowercase hex.
pub fn hash_file(p: &Path) -> io::Result<String> {
    let mut f = fs::File::open(p)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or(&[]));
    }
    Ok(hex(&h.finalize()))
}

pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

struct HashingReader<R> {
    inner: R,
    h: Sha256,
}
impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.h.update(buf.get(..n).unwrap_or(&[]));
        Ok(n)
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64, opts: &WriteOptions) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_username("root")?;
    h.set_groupname("root")?;
    h.set_mtime(opts.mtime);
    Ok(h)
}

/// Write `manifest` and the content of `staged` as a deterministic `.igos.tar.gz`.
///
/// Members: `.MANIFEST` first, then the entries in manifest (sorted) order; uid/gid 0, owner and
/// group `root`, mtime `opts.mtime`; gzip header mtime 0, OS byte 255, level `opts.level`.
/// File content is re-hashed while written and must match the manifest.
pub fn write_archive<W: Write>(out: &mut W, manifest: &Manifest, staged: &Path, opts: &WriteOptions) -> io::Result<()> {
    let mut sorted = manifest.clone();
    sorted.entries.sort_by(|a, b| a.path.cmp(&b.path));
    let gz = flate2::GzBuilder::new().mtime(0).operating_system(255).write(out, flate2::Compression::new(opts.level.min(9)));
    let mut tb = tar::Builder::new(gz);
    tb.follow_symlinks(false);
    let text = sorted.render();
    let mut h = header(tar::EntryType::Regular, 0o644, text.len() as u64, opts)?;
    tb.append_data(&mut h, MANIFEST_MEMBER, text.as_bytes())?;
    for e in &sorted.entries {
        let src = staged.join(&e.path);
        match &e.kind {
            EntryKind::Dir => {
                let mut h = header(tar::EntryType::Directory, e.mode, 0, opts)?;
                tb.append_data(&mut h, format!("{}/", e.path), io::empty())?;
            }
            EntryKind::Symlink { target } => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0, opts)?;
                tb.append_link(&mut h, &e.path, target)?;
            }
            EntryKind::File { sha256 } => {
                let f = fs::File::open(&src)?;
                let size = f.metadata()?.len();
                let mut h = header(tar::EntryType::Regular, e.mode, size, opts)?;
                let mut hr = HashingReader { inner: f.take(size), h: Sha256::new() };
                tb.append_data(&mut h, &e.path, &mut hr)?;
                let got = hex(&hr.h.finalize());
                if &got != sha256 {
                    return Err(io_err(format!("{}: content hash {got} differs from the manifest {sha256}", e.path)));
                }
            }
        }
    }
    let gz = tb.into_inner()?;
    gz.finish()?;
    Ok(())
}
