//! The repository index, format version 2 (documented in `crate::repo`), and reading the
//! metadata it publishes from an archive's `.MANIFEST`.

use crate::archive::{Manifest, MANIFEST_MEMBER};
use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

pub const INDEX_FORMAT: &str = "igos-index";
pub const INDEX_VERSION: u32 = 2;

/// One published archive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub name: String,
    pub version: String,
    pub release: u32,
    /// The archive's file name in the repository directory (no `/`).
    pub file: String,
    /// The archive's size in bytes.
    pub size: u64,
    /// The SHA-256 of the archive file, lowercase hex.
    pub sha256: String,
    /// Runtime dependencies (package names).
    #[serde(default)]
    pub depends: Vec<String>,
    /// Packages this one supersedes (the split-package model).
    #[serde(default)]
    pub supersedes: Vec<String>,
    #[serde(default)]
    pub tier: String,
    #[serde(default)]
    pub description: String,
    /// Whether `<file>.sig` (a detached archive signature) is published beside the archive.
    #[serde(default)]
    pub signed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub format: String,
    pub version: u32,
    pub packages: Vec<Entry>,
}

/// An index as read, its strings borrowed from the downloaded bytes where they have no
/// escapes: `pkm sync` parses 10,001 entries and copies none (owned strings made the parse
/// half again as long as the signature check beside it). The same fields and rules as
/// [`Index`], which is this made owned.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexRef<'a> {
    #[serde(borrow)]
    pub format: Cow<'a, str>,
    pub version: u32,
    #[serde(borrow)]
    pub packages: Vec<EntryRef<'a>>,
}

/// One published archive as read (see [`Entry`]).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryRef<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow)]
    pub version: Cow<'a, str>,
    pub release: u32,
    #[serde(borrow)]
    pub file: Cow<'a, str>,
    pub size: u64,
    #[serde(borrow)]
    pub sha256: Cow<'a, str>,
    #[serde(default)]
    pub depends: Vec<String>,
    #[serde(default)]
    pub supersedes: Vec<String>,
    #[serde(default, borrow)]
    pub tier: Cow<'a, str>,
    #[serde(default, borrow)]
    pub description: Cow<'a, str>,
    #[serde(default)]
    pub signed: bool,
}

impl EntryRef<'_> {
    fn to_owned(&self) -> Entry {
        Entry {
            name: self.name.to_string(),
            version: self.version.to_string(),
            release: self.release,
            file: self.file.to_string(),
            size: self.size,
            sha256: self.sha256.to_string(),
            depends: self.depends.clone(),
            supersedes: self.supersedes.clone(),
            tier: self.tier.to_string(),
            description: self.description.to_string(),
            signed: self.signed,
        }
    }
}

impl<'a> IndexRef<'a> {
    /// Parse and validate. Errors are `line:column: message` or `package N (name): message`.
    pub fn parse(bytes: &'a [u8]) -> Result<IndexRef<'a>, String> {
        let idx: IndexRef = serde_json::from_slice(bytes).map_err(|e| format!("{}:{}: {e}", e.line(), e.column()))?;
        if idx.format != INDEX_FORMAT {
            return Err(format!("`format` is `{}`, expected `{INDEX_FORMAT}`", idx.format));
        }
        if idx.version != INDEX_VERSION {
            return Err(format!("index format version {} is not supported (this pkm reads version {INDEX_VERSION})", idx.version));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, e) in idx.packages.iter().enumerate() {
            let at = |m: String| format!("package {} ({}): {m}", i + 1, crate::visible::visible(&e.name));
            if !valid_name(&e.name) || !valid_name(&e.version) {
                return Err(at("invalid name or version".into()));
            }
            if !valid_file_name(&e.file) {
                return Err(at(format!("invalid archive file name `{}`", crate::visible::visible(&e.file))));
            }
            if e.sha256.len() != 64 || !e.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(at("`sha256` is not a lowercase SHA-256".into()));
            }
            if let Some(d) = e.depends.iter().chain(&e.supersedes).find(|d| !valid_name(d)) {
                return Err(at(format!("invalid package name `{}` in depends/supersedes", crate::visible::visible(d))));
            }
            if !seen.insert((&e.name, &e.version, e.release)) {
                return Err(at(format!("{} {}-{} is listed twice", e.name, e.version, e.release)));
            }
        }
        Ok(idx)
    }
}

impl Default for Index {
    fn default() -> Self {
        Index { format: INDEX_FORMAT.into(), version: INDEX_VERSION, packages: Vec::new() }
    }
}

/// A package name or version as the archive format allows them.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_+.@".contains(&b))
        && !s.starts_with('-')
        && !s.starts_with('.')
}

/// A file name safe to join to a URL and to the cache directory.
pub fn valid_file_name(s: &str) -> bool {
    valid_name(s) && s.ends_with(".igos.tar.gz")
}

impl Index {
    /// Parse and validate ([`IndexRef::parse`]), owned.
    pub fn parse(bytes: &[u8]) -> Result<Index, String> {
        let r = IndexRef::parse(bytes)?;
        Ok(Index { format: r.format.into_owned(), version: r.version, packages: r.packages.iter().map(EntryRef::to_owned).collect() })
    }

    /// The canonical bytes: entries sorted by name, version, release; pretty JSON, final newline.
    pub fn render(&mut self) -> Vec<u8> {
        self.packages.sort_by(|a, b| (&a.name, &a.version, a.release).cmp(&(&b.name, &b.version, b.release)));
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// The most a `.MANIFEST` may be (a package of 100,000 files is about 12 MB of manifest).
const MANIFEST_CAP: u64 = 64 << 20;

/// Read an archive's `.MANIFEST` (its first member) without extracting anything else.
pub fn read_manifest(archive: &Path) -> Result<Manifest, String> {
    let f = std::fs::File::open(archive).map_err(|e| format!("cannot open: {e}"))?;
    let gz = flate2::read::GzDecoder::new(std::io::BufReader::new(f));
    let mut tar = tar::Archive::new(gz);
    let mut entries = tar.entries().map_err(|e| format!("not a tar archive: {e}"))?;
    let mut first = match entries.next() {
        Some(Ok(e)) => e,
        Some(Err(e)) => return Err(format!("not an .igos.tar.gz archive: {e}")),
        None => return Err("empty archive".into()),
    };
    let name = first.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    if name != MANIFEST_MEMBER {
        return Err(format!("the first member is `{}`, not `{MANIFEST_MEMBER}`", crate::visible::visible(&name)));
    }
    let mut text = String::new();
    (&mut first).take(MANIFEST_CAP).read_to_string(&mut text).map_err(|e| format!("cannot read {MANIFEST_MEMBER}: {e}"))?;
    Manifest::parse(&text).map_err(|(n, m)| format!("{MANIFEST_MEMBER}:{n}: {m}"))
}
