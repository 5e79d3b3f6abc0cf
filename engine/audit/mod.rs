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
        let mut files: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
        files.sort();
        for f in files {
            let Some(name) = f.file_stem().and_then(|s| s.to_str()).map(str::to_string) else { continue };
            let Ok(bytes) = std::fs::read(&f) else { continue };
            let hash = record::sha256_hex(&bytes);
            let known = db.as_ref().and_then(|d| d.rows.get(&name)).map(|r| r.record_sha256 == hash).unwrap_or(false);
            if !known {
                pending.push(name);
            }
        }
    }
    Ok(AuditFacts {
        db_path: db_path.display().to_string(),
        store_path: store.display().to_string(),
        db,
        pending,
    })
}
