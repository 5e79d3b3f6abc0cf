//! The `.MANIFEST` member: parse and render (format documented in `archive/mod.rs`).

use std::fmt::Write as _;

/// Format line every manifest starts with.
pub const FORMAT_LINE: &str = "format: igos-archive 1";

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EntryKind {
    /// A regular file with its SHA-256 (lowercase hex).
    File { sha256: String },
    /// A directory.
    Dir,
    /// A symbolic link, stored never followed.
    Symlink { target: String },
}

impl EntryKind {
    pub fn word(&self) -> &'static str {
        match self {
            EntryKind::File { .. } => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink { .. } => "symlink",
        }
    }
}

/// One file, directory or symlink of a package. `path` is relative, no leading `/` or `./`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManifestEntry {
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (`0o7777` mask). Symlinks: 0o777.
    pub mode: u32,
    /// A configuration file (kept on removal, `.new` on upgrade when edited).
    pub config: bool,
    /// A file's size in bytes, as declared: the reader never inflates more than the manifest
    /// declares. `None` for directories and symlinks, and in text manifests written before
    /// sizes were recorded.
    #[serde(default)]
    pub size: Option<u64>,
}

/// The package metadata and its complete file list.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub release: u32,
    pub tier: String,
    pub description: String,
    pub depends: Vec<String>,
    pub supersedes: Vec<String>,
    /// Sorted by path (byte order), unique.
    pub entries: Vec<ManifestEntry>,
}

/// Escape a path for one manifest token: `%`, whitespace and control characters become `%XX`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '%' || c.is_whitespace() || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Inverse of [`escape`].
pub fn unescape(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes.get(i).copied().unwrap_or(0);
        if b == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| format!("truncated escape in `{s}`"))?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| format!("bad escape `%{hex}` in `{s}`"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("escape in `{s}` is not UTF-8"))
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_+.@".contains(&b))
        && !s.starts_with('-')
        && !s.starts_with('.')
}

/// Is `p` a canonical relative path: non-empty, no leading `/`, no `.`/`..`/empty components.
pub fn canonical_path(p: &str) -> bool {
    !p.is_empty() && !p.starts_with('/') && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

impl Manifest {
    /// Render as the `.MANIFEST` text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{FORMAT_LINE}");
        let _ = writeln!(s, "name: {}", self.name);
        let _ = writeln!(s, "version: {}", self.version);
        let _ = writeln!(s, "release: {}", self.release);
        let _ = writeln!(s, "tier: {}", self.tier);
        let _ = writeln!(s, "description: {}", self.description.replace(['\n', '\r'], " "));
        for d in &self.depends {
            let _ = writeln!(s, "depends: {d}");
        }
        for d in &self.supersedes {
            let _ = writeln!(s, "supersedes: {d}");
        }
        let _ = writeln!(s, "files:");
        for e in &self.entries {
            let path = escape(&e.path);
            match &e.kind {
                EntryKind::Dir => {
                    let _ = writeln!(s, "dir {:04o} {path}", e.mode);
                }
                EntryKind::File { sha256 } => {
                    let cfg = if e.config { " config" } else { "" };
                    let size = e.size.map(|n| format!(" {n}")).unwrap_or_default();
                    let _ = writeln!(s, "file {:04o} {sha256}{size}{cfg} {path}", e.mode);
                }
                EntryKind::Symlink { target } => {
                    let _ = writeln!(s, "symlink {path} {}", escape(target));
                }
            }
        }
        s
    }

    /// Parse `.MANIFEST` text. Errors carry the 1-based line number.
    pub fn parse(text: &str) -> Result<Manifest, (usize, String)> {
        let mut m = Manifest { release: 1, ..Default::default() };
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, l)) if l == FORMAT_LINE => {}
            _ => return Err((1, format!("the first line must be `{FORMAT_LINE}`"))),
        }
        let mut in_files = false;
        let mut seen = std::collections::BTreeSet::new();
        let (mut has_name, mut has_version) = (false, false);
        for (i, line) in lines {
            let n = i + 1;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            if !in_files {
                if line == "files:" {
                    in_files = true;
                    continue;
                }
                let (k, v) = line.split_once(": ").ok_or((n, format!("expected `key: value`, found `{line}`")))?;
                let v = v.trim().to_string();
                match k {
                    "name" => {
                        if !valid_name(&v) {
                            return Err((n, format!("invalid package name `{v}`")));
                        }
                        m.name = v;
                        has_name = true;
                    }
                    "version" => {
                        if !valid_name(&v) {
                            return Err((n, format!("invalid version `{v}`")));
                        }
                        m.version = v;
                        has_version = true;
                    }
                    "release" => m.release = v.parse().map_err(|_| (n, format!("invalid release `{v}`")))?,
                    "tier" => m.tier = v,
                    "description" => m.description = v,
                    "depends" | "supersedes" => {
                        if !valid_name(&v) {
                            return Err((n, format!("invalid package name `{v}` in {k}")));
                        }
                        if k == "depends" { m.depends.push(v) } else { m.supersedes.push(v) }
                    }
                    _ => return Err((n, format!("unknown key `{k}`"))),
                }
                continue;
            }
            let toks: Vec<&str> = line.split(' ').collect();
            let entry = match toks.as_slice() {
                ["dir", mode, path] => ManifestEntry { path: unescape(path).map_err(|e| (n, e))?, kind: EntryKind::Dir, mode: parse_mode(mode, n)?, config: false, size: None },
                ["file", mode, sha, rest @ ..] => {
                    // `[SIZE] [config] PATH`: a size is all digits, never the word `config`.
                    let (size, rest) = match rest {
                        [sz, _, ..] if !sz.is_empty() && sz.bytes().all(|b| b.is_ascii_digit()) => {
                            (Some(sz.parse::<u64>().map_err(|_| (n, format!("invalid size `{sz}`")))?), rest.get(1..).unwrap_or_default())
                        }
                        _ => (None, rest),
                    };
                    let (config, path) = match rest {
                        [p] => (false, p),
                        ["config", p] => (true, p),
                        _ => return Err((n, format!("malformed file line `{line}`"))),
                    };
                    if !is_hex64(sha) {
                        return Err((n, format!("`{sha}` is not a lowercase SHA-256")));
                    }
                    ManifestEntry { path: unescape(path).map_err(|e| (n, e))?, kind: EntryKind::File { sha256: sha.to_string() }, mode: parse_mode(mode, n)?, config, size }
                }
                ["symlink", path, target] => {
                    let target = unescape(target).map_err(|e| (n, e))?;
                    if target.is_empty() {
                        return Err((n, "empty symlink target".into()));
                    }
                    ManifestEntry { path: unescape(path).map_err(|e| (n, e))?, kind: EntryKind::Symlink { target }, mode: 0o777, config: false, size: None }
                }
                _ => return Err((n, format!("malformed entry line `{line}`"))),
            };
            if !canonical_path(&entry.path) {
                return Err((n, format!("path `{}` is not a canonical relative path", entry.path)));
            }
            if !seen.insert(entry.path.clone()) {
                return Err((n, format!("path `{}` listed twice", entry.path)));
            }
            m.entries.push(entry);
        }
        if !has_name || !has_version {
            return Err((1, "the manifest must declare `name:` and `version:`".into()));
        }
        if !in_files {
            return Err((1, "the manifest has no `files:` section".into()));
        }
        m.entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(m)
    }

    pub fn entry(&self, path: &str) -> Option<&ManifestEntry> {
        self.entries.binary_search_by(|e| e.path.as_str().cmp(path)).ok().and_then(|i| self.entries.get(i))
    }
}

fn parse_mode(s: &str, n: usize) -> Result<u32, (usize, String)> {
    match u32::from_str_radix(s, 8) {
        Ok(m) if m <= 0o7777 => Ok(m),
        _ => Err((n, format!("invalid mode `{s}`"))),
    }
}
