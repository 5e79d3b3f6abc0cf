//! The audit data flow of the seeds: `igos audit <pkg>` reads a recipe and its source
//! tarball and writes one JSON record per package into the audit store; `igos audit
//! aggregate` ingests the whole store into the build database (SQLite, one transaction, a
//! schema version); Gate 2 reads the database, never the store, and says so when the store
//! holds records the database does not.

pub mod db;
pub mod record;

pub use db::{aggregate, AuditDb, AuditRow, DbError};
pub use record::{audit_package, AuditError, Record};

use std::path::{Path, PathBuf};

/// Default places, relative to the tree root.
pub fn default_store(root: &Path) -> PathBuf {
    root.join("audits")
}

pub fn default_db(root: &Path) -> PathBuf {
    root.join("build/audit.db")
}

/// The audit facts Gate 2 sees.
#[derive(Debug, Default)]
pub struct AuditFacts {
    pub db_path: String,
    pub store_path: String,
    /// None: there is no database.
    pub db: Option<AuditDb>,
    /// Store records that are not in the database, or changed since it was aggregated.
    pub pending: Vec<String>,
}

/// Read the database and compare it with the store. A database that cannot be read is an
/// error (exit 2), not an empty gate.
pub fn load_facts(db_path: &Path, store: &Path) -> Result<AuditFacts, DbError> {
    let db = if db_path.exists() { Some(db::read(db_path)?) } else { None };
    let mut pending = vec![];
    if let Ok(entries) = std::fs::read_dir(store) {
        let mut files: Vec<std::fs::DirEntry> =
            entries.filter_map(|e| e.ok()).filter(|e| Path::new(&e.file_name()).extension().is_some_and(|x| x == "json")).collect();
        // One directory: the file names order the entries.
        files.sort_by_cached_key(|e| e.file_name());
        let db = db.as_ref();
        let stale = |e: &std::fs::DirEntry| -> Option<String> {
            let path = e.path();
            let name = path.file_stem().and_then(|s| s.to_str())?.to_string();
            let Some(row) = db.and_then(|d| d.rows.get(&name)) else { return Some(name) };
            // A file still as it was aggregated is that record: one stat, no read. Anything
            // else (changed, racy, a version-1 database) is read and its hash compared.
            // The stat is relative to the listed directory (no path walk per record); it
            // does not follow a link, whose fingerprint then differs: read and hashed.
            if let (Some(print), Ok(meta)) = (row.fingerprint, e.metadata()) {
                if db::Fingerprint::of(&meta) == print {
                    return None;
                }
            }
            let bytes = std::fs::read(&path).ok()?;
            (record::sha256_hex(&bytes) != row.record_sha256).then_some(name)
        };
        // Shared over the cores, keeping the sorted order.
        pending = crate::parallel::map(&mut files, crate::parallel::cores(), |e| stale(e)).into_iter().flatten().collect();
    }
    Ok(AuditFacts {
        db_path: db_path.display().to_string(),
        store_path: store.display().to_string(),
        db,
        pending,
    })
}
