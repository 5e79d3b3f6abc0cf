//! Scan A.2 (Gate 6): the dependencies upstream build files check for, read from each
//! recipe's source tarball. Only configure.ac, meson.build and CMakeLists.txt (top level
//! and at most two directories deep) are read, streaming, from .tar.gz or plain .tar;
//! nothing is extracted. The only thing written is a JSON cache keyed by the tarball's
//! sha256 (`<root>/build/scan-cache/<sha256>.json`), so a second run reads no tarball.
//!
//! Which upstream name is which recipe, and which findings halt, is decided by the rules
//! (`rules/scan.pol`); this module only loads facts.

pub mod parse;
pub mod reconcile;

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::input::InputError;
use crate::source::{SourceFile, SourceMap, Span};
use crate::tree::Tree;

pub use parse::Found;

/// The build files read from a tarball.
pub const BUILD_FILES: &[&str] = &["configure.ac", "meson.build", "CMakeLists.txt"];
/// Directories never read (vendored code, tests and examples are not the package's deps).
const PRUNED: &[&str] = &["vendor", "third_party", "thirdparty", "subprojects", ".git", "tests", "test", "examples", "docs", "doc"];
/// A build file larger than this is not read.
const MAX_FILE: u64 = 4 << 20;
/// Bump when the parser changes: cached results are parser output, not file contents only.
const CACHE_VERSION: u32 = 1;

/// One dependency found upstream, with where it is written.
#[derive(Debug, Clone)]
pub struct UpstreamDep {
    pub found: Found,
    /// The file inside the tarball (top directory stripped), e.g. `configure.ac`.
    pub file: String,
    pub span: Span,
}

/// What the scan made of one recipe.
#[derive(Debug, Clone, Default)]
pub struct PackageScan {
    pub tarball: Option<String>,
    /// no-source, missing, unsupported, failed or scanned.
    pub status: &'static str,
    pub problem: Option<String>,
    pub deps: Vec<UpstreamDep>,
}

/// The scan facts Gate 6 sees.
#[derive(Debug, Default)]
pub struct ScanFacts {
    pub dir: String,
    /// At least one recipe's tarball is in the sources dir.
    pub present: bool,
    /// Recipes whose tarball is not there (only meaningful when `present`).
    pub missing: Vec<String>,
    /// One per tree package, in tree order.
    pub packages: Vec<PackageScan>,
    pub cache_hits: usize,
    pub scanned: usize,
}

#[derive(Serialize, Deserialize)]
struct Cached {
    version: u32,
    files: Vec<CachedFile>,
}

#[derive(Serialize, Deserialize)]
struct CachedFile {
    path: String,
    text: String,
    deps: Vec<Found>,
}

pub fn default_sources(root: &Path) -> PathBuf {
    root.join("sources")
}

pub fn default_cache(root: &Path) -> PathBuf {
    root.join("build/scan-cache")
}

/// The sources directory listed once: a stat per recipe on the main thread was a tenth of
/// a second at 100,000 recipes (most of them with no tarball there, or no directory at all).
enum Listing {
    /// File name -> listed as a regular file (else a link or an unknown type: stat it).
    Names(std::collections::HashMap<String, bool>),
    /// No such directory: no tarball is present.
    Absent,
}

impl Listing {
    /// A sources directory that exists but cannot be listed (no permission, not a
    /// directory) is an input error: scanning nothing would pass Gate 6 silently.
    fn of(dir: &Path) -> Result<Listing, InputError> {
        let unlisted = |e| crate::input::dir_error(dir, e);
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Listing::Absent),
            Err(e) => return Err(unlisted(e)),
        };
        let mut names = std::collections::HashMap::new();
        for e in entries {
            let e = e.map_err(unlisted)?;
            let (Ok(kind), Ok(name)) = (e.file_type(), e.file_name().into_string()) else { continue };
            if !kind.is_dir() {
                names.insert(name, kind.is_file());
            }
        }
        Ok(Listing::Names(names))
    }

    /// `dir/name` is a regular file (a link is followed), as `Path::is_file` says.
    fn has_file(&self, dir: &Path, name: &str) -> bool {
        match self {
            Listing::Names(names) if !name.contains('/') => match names.get(name) {
                Some(true) => true,
                Some(false) => dir.join(name).is_file(),
                None => false,
            },
            Listing::Names(_) => dir.join(name).is_file(),
            Listing::Absent => false,
        }
    }
}

/// Scan every recipe's first source tarball in `sources`. A tarball that cannot be read
/// is a fact (`failed`), reported by the rules; a sources directory that exists and cannot
/// be listed is an error naming it.
pub fn load(tree: &Tree, sources: &Path, cache: &Path, map: &mut SourceMap) -> Result<ScanFacts, InputError> {
    // File names as diagnostics show them: relative to the tree root when the sources are inside it.
    let prefix = {
        let s = sources.strip_prefix(&tree.root).unwrap_or(sources).display().to_string();
        if s.ends_with('/') { s } else { s + "/" }
    };
    let mut facts = ScanFacts { dir: sources.display().to_string(), ..ScanFacts::default() };
    let tarballs = Listing::of(sources)?;
    let mut todo = vec![];
    for (i, p) in tree.packages.iter().enumerate() {
        let url = p.sources.first().and_then(|s| s.url.as_deref());
        let mut ps = PackageScan { status: "no-source", ..PackageScan::default() };
        if let Some(url) = url {
            let name = crate::audit::record::tarball_name(p, url.split('?').next().unwrap_or(url));
            if tarballs.has_file(sources, &name) {
                facts.present = true;
                todo.push(i);
                ps.status = "pending";
            } else {
                ps.status = "missing";
                facts.missing.push(p.name.clone());
            }
            ps.tarball = Some(name);
        }
        facts.packages.push(ps);
    }
    let progress = todo.len() > 1 && std::io::stderr().is_terminal();
    for (n, &i) in todo.iter().enumerate() {
        let name = facts.packages[i].tarball.clone().unwrap_or_default();
        if progress {
            eprint!("\rscanning {}/{} {name}\x1b[K", n + 1, todo.len());
        }
        let path = sources.join(&name);
        let ps = &mut facts.packages[i];
        match scan_tarball(&path, &name, cache) {
            Ok((files, hit)) => {
                facts.cache_hits += usize::from(hit);
                facts.scanned += 1;
                ps.status = "scanned";
                for f in files {
                    let id = map.add(SourceFile::new(format!("{prefix}{name}!{}", f.path), f.text));
                    for d in f.deps {
                        let span = Span::new(id, d.start, d.end);
                        ps.deps.push(UpstreamDep { found: d, file: f.path.clone(), span });
                    }
                }
            }
            Err((status, problem)) => {
                ps.status = status;
                ps.problem = Some(problem);
            }
        }
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    Ok(facts)
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = crate::input::open(path).map_err(|e| match e.problem {
        crate::input::Problem::Io(io) => io,
        other => std::io::Error::other(other.to_string()),
    })?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The build files of one tarball, from the cache or read and parsed. Err: (status, why).
fn scan_tarball(path: &Path, name: &str, cache: &Path) -> Result<(Vec<CachedFile>, bool), (&'static str, String)> {
    let sha = sha256_file(path).map_err(|e| ("failed", format!("cannot read {}: {e}", path.display())))?;
    let cache_file = cache.join(format!("{sha}.json"));
    if let Some(c) = std::fs::read_to_string(&cache_file).ok().and_then(|t| serde_json::from_str::<Cached>(&t).ok()) {
        if c.version == CACHE_VERSION {
            return Ok((c.files, true));
        }
    }
    // gzip, xz, bzip2 or plain tar, by content; anything else is named, not guessed at.
    let reader = crate::tarball::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => ("unsupported", format!("not scanned: {e}")),
        _ => ("failed", format!("cannot read {}: {e}", path.display())),
    })?;
    let files = read_build_files(reader).map_err(|e| ("failed", format!("cannot read {name}: {e}")))?;
    let c = Cached { version: CACHE_VERSION, files };
    if std::fs::create_dir_all(cache).is_ok() {
        let tmp = cache.join(format!(".{sha}.json.tmp"));
        if std::fs::write(&tmp, serde_json::to_string(&c).unwrap_or_default()).is_ok() {
            let _ = std::fs::rename(&tmp, &cache_file);
        }
    }
    Ok((c.files, false))
}

/// Stream a tar archive; read only the wanted build files, parse them. Sorted by path.
fn read_build_files(reader: impl Read) -> std::io::Result<Vec<CachedFile>> {
    let mut archive = tar::Archive::new(reader);
    let mut out = vec![];
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() || entry.size() > MAX_FILE {
            continue;
        }
        let Ok(p) = entry.path() else { continue };
        let parts: Vec<String> = p.components().map(|c| c.as_os_str().to_string_lossy().to_string()).collect();
        // Strip the tarball's top directory.
        let rel: &[String] = if parts.len() > 1 { &parts[1..] } else { &parts };
        let Some(base) = rel.last() else { continue };
        if rel.len() > 3 || !BUILD_FILES.contains(&base.as_str()) || rel.iter().any(|c| PRUNED.contains(&c.as_str()) || c == "..") {
            continue;
        }
        let mut bytes = vec![];
        entry.read_to_end(&mut bytes)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let deps = parse::parse_file(base, &text);
        out.push(CachedFile { path: rel.join("/"), text, deps });
    }
    out.sort_by(|a, b| (a.path.matches('/').count(), &a.path).cmp(&(b.path.matches('/').count(), &b.path)));
    Ok(out)
}
