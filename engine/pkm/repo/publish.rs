//! `igos repo keygen | add | remove`: the repository directory a publisher maintains.

use super::index::{read_manifest, valid_file_name, Entry, Index};
use super::sign::{archive_message, SecretKey, ARCHIVE_CONTEXT, INDEX_CONTEXT};
use crate::archive::hash_file;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const INDEX_FILE: &str = "index.json";
pub const INDEX_SIG_FILE: &str = "index.json.sig";

/// Write `bytes` to `dest` atomically: a temporary file beside it, fsync, rename, fsync of the
/// directory. A reader sees the old file or the new one, never a part.
pub fn write_atomic(dest: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = dest.parent().ok_or_else(|| format!("{}: no parent directory", dest.display()))?;
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dest)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", dest.display())
    })
}

/// Copy a file atomically (same steps as [`write_atomic`], streaming).
fn copy_atomic(src: &Path, dest: &Path) -> Result<(), String> {
    let dir = dest.parent().ok_or_else(|| format!("{}: no parent directory", dest.display()))?;
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let res = (|| {
        std::fs::copy(src, &tmp)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dest)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{} -> {}: {e}", src.display(), dest.display())
    })
}

/// `igos repo keygen`: NAME.key (mode 0600) and NAME.pub in `dir`; never overwrites a key.
pub fn keygen(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf, String), String> {
    use std::os::unix::fs::OpenOptionsExt;
    if !super::index::valid_name(name) {
        return Err(format!("invalid key name `{}`", crate::visible::visible(name)));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (secret, public) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")));
    for p in [&secret, &public] {
        if p.exists() {
            return Err(format!("{}: already exists; a key is never overwritten", p.display()));
        }
    }
    let key = SecretKey::generate()?;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&secret).map_err(|e| format!("{}: {e}", secret.display()))?;
    f.write_all(key.render().as_bytes()).and_then(|_| f.sync_all()).map_err(|e| format!("{}: {e}", secret.display()))?;
    write_atomic(&public, key.public().render().as_bytes(), 0o644)?;
    Ok((secret, public, key.id))
}

pub fn load_secret(path: &Path) -> Result<SecretKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    SecretKey::parse(&text).map_err(|m| format!("{}: {m}", path.display()))
}

/// The repository's current index (empty when there is none yet).
pub fn load_index(repo: &Path) -> Result<Index, String> {
    let p = repo.join(INDEX_FILE);
    match std::fs::read(&p) {
        Ok(b) => Index::parse(&b).map_err(|m| format!("{}: {m}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index::default()),
        Err(e) => Err(format!("{}: {e}", p.display())),
    }
}

/// Write the index, then its signature, each atomically.
pub fn write_index(repo: &Path, index: &mut Index, key: &SecretKey) -> Result<(), String> {
    let bytes = index.render();
    let sig = key.sign(INDEX_CONTEXT, &bytes);
    write_atomic(&repo.join(INDEX_FILE), &bytes, 0o644)?;
    write_atomic(&repo.join(INDEX_SIG_FILE), sig.render().as_bytes(), 0o644)
}

/// `igos repo add`: publish archives (copied in under their canonical file name), replacing an
/// entry of the same name, version and release. Returns one line per archive.
pub fn add(repo: &Path, key: &SecretKey, archives: &[PathBuf], sign_archives: bool) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(repo).map_err(|e| format!("{}: {e}", repo.display()))?;
    let mut index = load_index(repo)?;
    let mut out = Vec::new();
    for a in archives {
        let m = read_manifest(a).map_err(|e| format!("{}: {e}", a.display()))?;
        let file = format!("{}-{}-{}.igos.tar.gz", m.name, m.version, m.release);
        if !valid_file_name(&file) {
            return Err(format!("{}: cannot publish `{}`", a.display(), crate::visible::visible(&file)));
        }
        let dest = repo.join(&file);
        let same = std::fs::canonicalize(a).ok().zip(std::fs::canonicalize(&dest).ok()).is_some_and(|(x, y)| x == y);
        if !same {
            copy_atomic(a, &dest)?;
        }
        let sha256 = hash_file(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        let size = std::fs::metadata(&dest).map_err(|e| format!("{}: {e}", dest.display()))?.len();
        if sign_archives {
            let sig = key.sign(ARCHIVE_CONTEXT, &archive_message(&sha256));
            write_atomic(&repo.join(format!("{file}.sig")), sig.render().as_bytes(), 0o644)?;
        }
        index.packages.retain(|e| !(e.name == m.name && e.version == m.version && e.release == m.release));
        out.push(format!("added {} {}-{} ({file}, {size} bytes{})", m.name, m.version, m.release, if sign_archives { ", signed" } else { "" }));
        index.packages.push(Entry {
            name: m.name,
            version: m.version,
            release: m.release,
            file,
            size,
            sha256,
            depends: m.depends,
            supersedes: m.supersedes,
            tier: m.tier,
            description: m.description,
            signed: sign_archives,
        });
    }
    write_index(repo, &mut index, key)?;
    out.push(format!("index: {} packages, signed with key {}", index.packages.len(), key.id));
    Ok(out)
}

/// `igos repo remove`: unpublish every version of NAMES; the index is rewritten first, then
/// the archives and their signatures are deleted.
pub fn remove(repo: &Path, key: &SecretKey, names: &[String]) -> Result<Vec<String>, String> {
    let mut index = load_index(repo)?;
    if let Some(n) = names.iter().find(|n| !index.packages.iter().any(|e| &e.name == *n)) {
        return Err(format!("{}: `{}` is not published there", repo.display(), crate::visible::visible(n)));
    }
    let (gone, kept): (Vec<Entry>, Vec<Entry>) = index.packages.drain(..).partition(|e| names.contains(&e.name));
    index.packages = kept;
    write_index(repo, &mut index, key)?;
    let mut out = Vec::new();
    for e in gone {
        let _ = std::fs::remove_file(repo.join(&e.file));
        let _ = std::fs::remove_file(repo.join(format!("{}.sig", e.file)));
        out.push(format!("removed {} {}-{}", e.name, e.version, e.release));
    }
    out.push(format!("index: {} packages, signed with key {}", index.packages.len(), key.id));
    Ok(out)
}
