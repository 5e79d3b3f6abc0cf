//! `pkm sync` from the configured repositories: every index downloaded and its signature
//! verified before anything changes, the `available` table replaced in one transaction.
//! Any failure leaves the previous rows as they were.

use super::conf::{self, Repo};
use super::fetch;
use super::index::IndexRef;
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

/// One repository's index and its signature, downloaded (not yet checked).
struct Fetched {
    bytes: Vec<u8>,
    sig: SignatureFile,
}

fn fetch(r: &Repo) -> Result<Fetched> {
    let bytes = fetch::fetch_bytes(&fetch::join(&r.url, INDEX_FILE), INDEX_CAP).map_err(|e| repo_err(r, format!("cannot download {INDEX_FILE}: {e}")))?;
    let sig_bytes = fetch::fetch_bytes(&fetch::join(&r.url, INDEX_SIG_FILE), SIG_CAP).map_err(|e| repo_err(r, format!("missing signature: cannot download {INDEX_SIG_FILE}: {e}")))?;
    let sig_text = String::from_utf8(sig_bytes).map_err(|_| repo_err(r, format!("{INDEX_SIG_FILE} is not text")))?;
    let sig = SignatureFile::parse(&sig_text).map_err(|m| repo_err(r, format!("{INDEX_SIG_FILE}: {m}")))?;
    Ok(Fetched { bytes, sig })
}

const INSERT: &str = "INSERT OR IGNORE INTO available(name, version, release, tier, description, archive, sha256, repo, repo_url, position, key_id, size, depends, supersedes, signed)
     VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)";

/// Sync every repository of repos.conf. Returns lines for the user.
///
/// The rows go into one transaction, repository by repository: each index's signature is
/// checked on another core while this one parses the index and writes its rows, and the
/// transaction commits only once every index has been verified and parsed whole. So nothing
/// replaces the table before every index is verified; any failure (a bad signature found
/// after the rows were written too) drops the transaction, and the previous rows stay.
pub fn sync_all(root: &Path, conn: &mut Connection) -> Result<Vec<String>> {
    let repos = conf::load(root).map_err(|m| PkmError::unusable("pkm::sync::config", m))?;
    if repos.is_empty() {
        return Err(PkmError::unusable("pkm::sync::config", format!("{}: no repositories listed", conf::conf_path(root).display())));
    }
    let keys = conf::load_keys(root).map_err(|m| PkmError::unusable("pkm::sync::keys", m))?;
    let bar = fetch::queue_bar(repos.len(), 1, "syncing");
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM available", [])?;
    let mut lines = Vec::new();
    let mut total = 0usize;
    {
        // First repository wins an identical name, version and release.
        let mut st = tx.prepare(INSERT)?;
        for (pos, r) in repos.iter().enumerate() {
            let key = keys.get(&r.key_id).ok_or_else(|| repo_err(r, format!("unknown key {}: no trusted key with that id in /etc/igos/keys/", r.key_id)))?;
            let f = fetch(r)?;
            let (verified, written) = std::thread::scope(|s| {
                let v = s.spawn(|| key.verify(INDEX_CONTEXT, &f.bytes, &f.sig));
                let written = IndexRef::parse(&f.bytes).map_err(|m| repo_err(r, format!("{INDEX_FILE}: {m}"))).and_then(|idx| {
                    for e in &idx.packages {
                        st.execute(params![
                            e.name, e.version, e.release, e.tier, e.description, e.file, e.sha256, r.name, r.url, pos as i64, r.key_id,
                            e.size as i64, e.depends.join(" "), e.supersedes.join(" "), e.signed
                        ])?;
                    }
                    Ok(idx.packages.len())
                });
                (v.join().unwrap_or_else(|_| Err("the signature check failed".into())), written)
            });
            // A bad signature is the error reported, even when the tampered index does not
            // parse either.
            verified.map_err(|m| repo_err(r, format!("bad signature on {INDEX_FILE}: {m}")))?;
            let n = written?;
            total += n;
            let noun = if n == 1 { "package" } else { "packages" };
            lines.push(format!("{}: {n} {noun}, signature good (key {})", r.name, r.key_id));
            if let Some(b) = &bar {
                b.inc(1);
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    crate::db::log_history(&tx, "sync", "-", None, None, &format!("{total} entries from {} repositories", repos.len()))?;
    tx.commit()?;
    lines.push(format!("synced {total} packages from {} {}", repos.len(), if repos.len() == 1 { "repository" } else { "repositories" }));
    Ok(lines)
}
