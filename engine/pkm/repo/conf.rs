//! `/etc/igos/repos.conf` and the trusted keys in `/etc/igos/keys/`, under a root.

use super::sign::PublicKey;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One configured repository, in the order of the file (the first that has a package wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub name: String,
    pub url: String,
    pub key_id: String,
}

pub fn conf_path(root: &Path) -> PathBuf {
    root.join("etc/igos/repos.conf")
}
pub fn keys_dir(root: &Path) -> PathBuf {
    root.join("etc/igos/keys")
}
/// The download cache; opened only through `crate::state` (no symlink followed).
pub fn cache_dir(root: &Path) -> PathBuf {
    root.join(crate::state::CACHE_DIR)
}

/// Parse repos.conf: `NAME URL KEY-ID` per line, `#` comments. Errors are `line: message`.
pub fn parse(text: &str) -> Result<Vec<Repo>, (usize, String)> {
    let mut out: Vec<Repo> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let [name, url, key] = f.as_slice() else {
            return Err((n, format!("expected 3 fields (name url key-id), found {}", f.len())));
        };
        if !super::index::valid_name(name) {
            return Err((n, format!("invalid repository name `{}`", crate::visible::visible(name))));
        }
        if !(url.starts_with("file://") || url.starts_with("http://") || url.starts_with("https://")) {
            return Err((n, format!("unsupported URL `{}` (file://, http:// or https://)", crate::visible::visible(url))));
        }
        if key.len() != 16 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err((n, format!("`{}` is not a key id (16 hex digits, `igos repo keygen` prints it)", crate::visible::visible(key))));
        }
        if out.iter().any(|r| r.name == *name) {
            return Err((n, format!("repository `{name}` is listed twice")));
        }
        out.push(Repo { name: name.to_string(), url: url.trim_end_matches('/').to_string(), key_id: key.to_ascii_lowercase() });
    }
    Ok(out)
}

/// Read repos.conf; a missing file is an error that says how to write one.
pub fn load(root: &Path) -> Result<Vec<Repo>, String> {
    let p = conf_path(root);
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e} (list repositories there: `NAME URL KEY-ID` per line)", p.display()))?;
    parse(&text).map_err(|(n, m)| format!("{}:{n}: {m}", p.display()))
}

/// The trusted public keys (`*.pub` in the keys directory), by key id. A malformed key file is
/// an error naming it: a key the admin meant to trust must not be skipped silently.
pub fn load_keys(root: &Path) -> Result<BTreeMap<String, PublicKey>, String> {
    let dir = keys_dir(root);
    let mut out = BTreeMap::new();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "pub")).collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let k = PublicKey::parse(&text).map_err(|m| format!("{}: {m}", p.display()))?;
        out.insert(k.id.clone(), k);
    }
    Ok(out)
}
