//! `pkm sync INDEX` and `--archive-trust`.
//!
//! # Index format (version 1)
//!
//! A UTF-8 text file; `#` comments and blank lines ignored; the first other line is
//! `igos-index 1`, then one archive per line, five space-separated fields:
//!
//! ```text
//! igos-index 1
//! # name       version release sha256-of-the-archive-file                                      archive-file-name
//! util-linux-core 2.40.1 1 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 util-linux-core-2.40.1-1.igos.tar.gz
//! ```
//!
//! `pkm sync` replaces the `available` table with the index in one transaction.
//!
//! # Trust modes
//!
//! * `strict` (default): the index must have an entry for the archive's name, version and release
//!   whose SHA-256 equals the archive file's.
//! * `repo-only`: as strict, and the archive file name must also be the one the index publishes
//!   (only repository artefacts, no renamed or locally built files).
//! * `loose`: the same comparison, but a missing entry or mismatch only warns.

use super::error::{PkmError, Result, EXIT_FINDING};
use crate::archive::Manifest;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Trust {
    #[default]
    Strict,
    Loose,
    RepoOnly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: String,
    pub version: String,
    pub release: u32,
    pub sha256: String,
    pub archive: String,
}

pub fn parse_index(text: &str) -> std::result::Result<Vec<IndexEntry>, (usize, String)> {
    let mut out = Vec::new();
    let mut header = false;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !header {
            if line != "igos-index 1" {
                return Err((n, "the first line must be `igos-index 1`".into()));
            }
            header = true;
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let [name, version, release, sha, archive] = f.as_slice() else {
            return Err((n, format!("expected 5 fields (name version release sha256 archive), found {}", f.len())));
        };
        let release = release.parse().map_err(|_| (n, format!("invalid release `{release}`")))?;
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err((n, format!("`{sha}` is not a SHA-256")));
        }
        out.push(IndexEntry { name: name.to_string(), version: version.to_string(), release, sha256: sha.to_ascii_lowercase(), archive: archive.to_string() });
    }
    if !header {
        return Err((1, "empty index: missing `igos-index 1`".into()));
    }
    Ok(out)
}

pub fn sync(conn: &mut Connection, index: &Path) -> Result<usize> {
    let text = std::fs::read_to_string(index).map_err(|e| PkmError::unusable("pkm::sync::missing", format!("{}: {e}", index.display())))?;
    let entries = parse_index(&text)
        .map_err(|(n, m)| PkmError::unusable("pkm::sync::bad-index", format!("{}:{n}: {m}", index.display())))?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM available", [])?;
    {
        let mut st = tx.prepare("INSERT OR REPLACE INTO available(name, version, release, archive, sha256) VALUES (?1,?2,?3,?4,?5)")?;
        for e in &entries {
            st.execute(params![e.name, e.version, e.release, e.archive, e.sha256])?;
        }
    }
    super::db::log_history(&tx, "sync", "-", None, None, &format!("{} entries from {}", entries.len(), index.display()))?;
    tx.commit()?;
    Ok(entries.len())
}

/// Check an archive against the synced index. `Ok(Some(warning))` in loose mode.
pub fn check(conn: &Connection, mode: Trust, m: &Manifest, sha: &str, archive: &Path) -> Result<Option<String>> {
    let entry: Option<(String, String)> = conn
        .prepare_cached("SELECT sha256, archive FROM available WHERE name=?1 AND version=?2 AND release=?3")?
        .query_row(params![m.name, m.version, m.release], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let file_name = archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let problem = match &entry {
        None => Some((
            "untrusted",
            format!("{}: {} {}-{} is not in the synced index", archive.display(), m.name, m.version, m.release),
            "run `pkm sync` to refresh the synced indexes, then retry; or install by name from a repository",
        )),
        Some((want, _)) if want != sha => Some((
            "hash-mismatch",
            format!("{}: archive SHA-256 {sha} does not match the index ({want})", archive.display()),
            "run `pkm sync INDEX` and retry; if it still does not match after a fresh sync, stop: the archive is not the one the repository published",
        )),
        Some((_, name)) if mode == Trust::RepoOnly && name != &file_name => Some((
            "not-repo",
            format!("{}: repo-only trust accepts only the published file `{name}`", archive.display()),
            "install the archive file the repository published, or use --archive-trust strict",
        )),
        _ => None,
    };
    match (problem, mode) {
        (None, _) => Ok(None),
        (Some((_, msg, _)), Trust::Loose) => Ok(Some(format!("warning: {msg} (accepted: --archive-trust loose)"))),
        (Some((code, msg, help)), _) => Err(PkmError::new(EXIT_FINDING, format!("pkm::trust::{code}"), msg).help(help)),
    }
}
