//! `pkm sync` from the configured repositories: every index downloaded and its signature
//! verified before anything changes; then the `available` table is replaced in one
//! transaction. Any failure leaves the previous rows as they were.

use super::conf::{self, Repo};
use super::fetch;
use super::index::Index;
use super::publish::{INDEX_FILE, INDEX_SIG_FILE};
use super::sign::{SignatureFile, INDEX_CONTEXT};
use crate::error::{PkmError, Result};
use rusqlite::{params, Connection, TransactionBehavior};
use std::path::Path;

/// The largest index accepted (a 10,000-package index is about 4 MB).
pub const INDEX_CAP: u64 = 256 << 20;
const SIG_CAP: u64 = 4096;

fn repo_err(r: &Repo, why: impl std::fmt::Display) -> PkmError {
    PkmError::unusable("pkm::sync::repository", format!("repository `{}` ({}): {why}", r.name, crate::visible::visible(&r.url)))
        .help("nothing was changed: the previously synced index is still in use")
}

/// Download and verify one repository's index.
pub fn fetch_index(r: &Repo, keys: &std::collections::BTreeMap<String, super::sign::PublicKey>) -> Result<Index> {
    let key = keys.get(&r.key_id).ok_or_else(|| repo_err(r, format!("unknown key {}: no trusted key with that id in /etc/igos/keys/", r.key_id)))?;
    let bytes = fetch::fetch_bytes(&fetch::join(&r.url, INDEX_FILE), INDEX_CAP).map_err(|e| repo_err(r, format!("cannot download {INDEX_FILE}: {e}")))?;
    let sig_bytes = fetch::fetch_bytes(&fetch::join(&r.url, INDEX_SIG_FILE), SIG_CAP).map_err(|e| repo_err(r, format!("missing signature: cannot download {INDEX_SIG_FILE}: {e}")))?;
    let sig_text = String::from_utf8(sig_bytes).map_err(|_| repo_err(r, format!("{INDEX_SIG_FILE} is not text")))?;
    let sig = SignatureFile::parse(&sig_text).map_err(|m| repo_err(r, format!("{INDEX_SIG_FILE}: {m}")))?;
    // The signature (SHA-512 over the whole index) is checked on another core while this one
    // parses; the parsed index is used only once the signature is good, and a bad signature
    // is the error reported even when the tampered index does not parse either.
    let (verified, parsed) = std::thread::scope(|s| {
        let v = s.spawn(|| key.verify(INDEX_CONTEXT, &bytes, &sig));
        let parsed = Index::parse(&bytes);
        (v.join().unwrap_or_else(|_| Err("the signature check failed".into())), parsed)
    });
    verified.map_err(|m| repo_err(r, format!("bad signature on {INDEX_FILE}: {m}")))?;
    parsed.map_err(|m| repo_err(r, format!("{INDEX_FILE}: {m}")))
}

/// Sync every repository of repos.conf. Returns lines for the user.
pub fn sync_all(root: &Path, conn: &mut Connection) -> Result<Vec<String>> {
    let repos = conf::load(root).map_err(|m| PkmError::unusable("pkm::sync::config", m))?;
    if repos.is_empty() {
        return Err(PkmError::unusable("pkm::sync::config", format!("{}: no repositories listed", conf::conf_path(root).display())));
    }
    let keys = conf::load_keys(root).map_err(|m| PkmError::unusable("pkm::sync::keys", m))?;
    let mut fetched = Vec::new();
    let bar = fetch::queue_bar(repos.len(), 1, "syncing");
    for r in &repos {
        fetched.push((r, fetch_index(r, &keys)?));
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM available", [])?;
    let mut lines = Vec::new();
    let mut total = 0usize;
    {
        // First repository wins an identical name, version and release.
        let mut st = tx.prepare(
            "INSERT OR IGNORE INTO available(name, version, release, tier, description, archive, sha256, repo, repo_url, position, key_id, size, depends, supersedes, signed)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
        )?;
        for (pos, (r, idx)) in fetched.iter().enumerate() {
            for e in &idx.packages {
                st.execute(params![
                    e.name, e.version, e.release, e.tier, e.description, e.file, e.sha256, r.name, r.url, pos as i64, r.key_id,
                    e.size as i64, e.depends.join(" "), e.supersedes.join(" "), e.signed
                ])?;
            }
            total += idx.packages.len();
            let noun = if idx.packages.len() == 1 { "package" } else { "packages" };
            lines.push(format!("{}: {} {noun}, signature good (key {})", r.name, idx.packages.len(), r.key_id));
        }
    }
    crate::db::log_history(&tx, "sync", "-", None, None, &format!("{total} entries from {} repositories", repos.len()))?;
    tx.commit()?;
    lines.push(format!("synced {total} packages from {} {}", repos.len(), if repos.len() == 1 { "repository" } else { "repositories" }));
    Ok(lines)
}
