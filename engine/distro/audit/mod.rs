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

/// Why Gate 2's facts could not be read: the database (rebuilt by aggregating), or the
/// store's directory or one of its records (which aggregating would read too).
#[derive(Debug)]
pub enum FactsError {
    Database(DbError),
    Store(String),
}

impl std::fmt::Display for FactsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FactsError::Database(e) => e.fmt(f),
            FactsError::Store(e) => f.write_str(e),
        }
    }
}

/// Read the database and compare it with the store. A database that cannot be read is an
/// error (exit 2), not an empty gate.
pub fn load_facts(db_path: &Path, store: &Path) -> Result<AuditFacts, FactsError> {
    // A FIFO or a device is refused before SQLite would block on it or read it as pages.
    let exists = crate::input::database(db_path).map_err(|e| FactsError::Database(db::DbError(e.to_string())))?;
    let db = if exists { Some(db::read(db_path).map_err(FactsError::Database)?) } else { None };
    let mut pending = vec![];
    // No store is no records; a store the system will not list is an error, never an
    // empty one.
    let entries = match crate::input::list_dir(store) {
        Err(e) if e.is_missing() => vec![],
        entries => entries.map_err(|e| FactsError::Store(e.to_string()))?,
    };
    {
        let mut files: Vec<std::fs::DirEntry> = entries.into_iter().filter(|e| Path::new(&e.file_name()).extension().is_some_and(|x| x == "json")).collect();
        let db = db.as_ref();
        let stale = |e: &std::fs::DirEntry| -> Result<Option<String>, String> {
            let path = e.path();
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_string) else { return Ok(None) };
            let Some(row) = db.and_then(|d| d.rows.get(&name)) else { return Ok(Some(name)) };
            // A file still as it was aggregated is that record: one stat, no read. Anything
            // else (changed, racy, a version-1 database) is read and its hash compared.
            // The stat is relative to the listed directory (no path walk per record); it
            // does not follow a link, whose fingerprint then differs: read and hashed.
            if let (Some(print), Ok(meta)) = (row.fingerprint, e.metadata()) {
                if db::Fingerprint::of(&meta) == print {
                    return Ok(None);
                }
            }
            // Through the one reader: a FIFO blocks nothing, a link to a device is refused.
            let bytes = crate::input::read(&path, crate::input::Kind::AuditRecord).map_err(|e| e.to_string())?;
            Ok((record::sha256_hex(&bytes) != row.record_sha256).then_some(name))
        };
        // Shared over the cores, keeping the sorted order.
        let checked = crate::parallel::map(&mut files, crate::parallel::cores(), |e| stale(e));
        for c in checked {
            match c {
                Ok(name) => pending.extend(name),
                Err(e) => return Err(FactsError::Store(e)),
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
