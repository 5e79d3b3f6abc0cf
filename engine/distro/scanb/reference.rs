//! The reference of the last good build: per installed package its version, its declared
//! build and host dependencies and where its build log is. `igos reference save` writes it
//! (`<root>/build/reference.json` by default, keys sorted, byte-identical for the same
//! inputs); Gate 5 (Scan B) reads it.
//!
//! Inputs: the installed root's pkm text manifests (`<installed>/var/lib/igos/packages/
//! <name>-<version>`), the tree's recipes (declared deps) and the build logs directory
//! (`<root>/build/logs/<name>.log`, else `<name>-<version>.log`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::tree::{DepKind, Tree};

pub const FORMAT: &str = "igos-reference/1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// The tree's git commit when the reference was saved (`igos check --since` takes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub format: String,
    pub packages: BTreeMap<String, RefPackage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefPackage {
    /// Build and host dependencies the recipe declared, sorted.
    pub deps: Vec<String>,
    /// The build log: relative to the tree root when inside it, else absolute.
    pub log: String,
    pub version: String,
}

pub fn default_path(root: &Path) -> PathBuf {
    root.join("build/reference.json")
}

pub fn default_logs(root: &Path) -> PathBuf {
    root.join("build/logs")
}

/// Where pkm keeps its text manifests under an installed root.
pub fn manifests_dir(installed: &Path) -> PathBuf {
    installed.join("var/lib/igos/packages")
}

impl Reference {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn parse(text: &str) -> Result<Reference, String> {
        let r: Reference = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if r.format != FORMAT {
            return Err(format!("format `{}` is not `{FORMAT}`", r.format));
        }
        Ok(r)
    }
}

/// `name-version` → (name, version): split at the first `-` followed by a digit.
pub fn split_name_version(file: &str) -> Option<(&str, &str)> {
    let b = file.as_bytes();
    (1..b.len()).find(|&i| b[i - 1] == b'-' && b[i].is_ascii_digit()).map(|i| (&file[..i - 1], &file[i..]))
}

fn display_rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// The tree's git commit, when the root is the top of a git work tree.
pub fn git_head(root: &Path) -> Option<String> {
    let out = std::process::Command::new("git").arg("-C").arg(root).args(["rev-parse", "--show-toplevel", "HEAD"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines();
    let top = std::fs::canonicalize(lines.next()?).ok()?;
    let head = lines.next()?.trim().to_string();
    (std::fs::canonicalize(root).ok()? == top && !head.is_empty()).then_some(head)
}

/// Build the reference from an installed root's text manifests. Err: a message (exit 2).
pub fn build(tree: &Tree, root: &Path, installed: &Path, logs: &Path) -> Result<Reference, String> {
    let dir = manifests_dir(installed);
    let rd = std::fs::read_dir(&dir).map_err(|e| format!("cannot read the installed manifests at {}: {e}", dir.display()))?;
    let mut names: Vec<String> = rd.filter_map(|e| e.ok()).filter(|e| e.path().is_file()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut packages = BTreeMap::new();
    for file in names {
        if file.starts_with('.') || file.ends_with(".bak") || file.ends_with(".tmp") {
            continue;
        }
        let text = crate::input::read_text(&dir.join(&file), crate::input::Kind::Manifest).map_err(|e| format!("cannot read an installed manifest: {e}"))?;
        if text.lines().any(|l| l.starts_with("# superseded-by:")) {
            continue;
        }
        let (name, version) = match crate::archive::Manifest::parse(&text) {
            Ok(m) => (m.name, m.version),
            Err(_) => match split_name_version(&file) {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => continue,
            },
        };
        let mut deps: Vec<String> = tree
            .packages
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.deps.iter().filter(|d| d.kind != DepKind::Runtime).map(|d| d.name.clone()).collect())
            .unwrap_or_default();
        deps.sort();
        deps.dedup();
        let plain = logs.join(format!("{name}.log"));
        let versioned = logs.join(format!("{name}-{version}.log"));
        let log = if !plain.is_file() && versioned.is_file() { versioned } else { plain };
        packages.insert(name, RefPackage { deps, log: display_rel(root, &log), version });
    }
    if packages.is_empty() {
        return Err(format!("no installed package manifests at {}", dir.display()));
    }
    Ok(Reference { commit: git_head(root), format: FORMAT.into(), packages })
}
