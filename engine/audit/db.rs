//! The build database Gate 2 reads: the audit store aggregated into SQLite.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::record::{sha256_hex, Record};

/// Bump when the schema changes; older databases are re-created by `aggregate`.
pub const SCHEMA_VERSION: i64 = 1;

#[derive(Debug)]
pub struct DbError(pub String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone)]
pub struct AuditRow {
    pub version: String,
    pub tier: String,
    /// Sorted.
    pub build_deps: Vec<String>,
    pub record_sha256: String,
}

#[derive(Debug, Default)]
pub struct AuditDb {
    pub rows: BTreeMap<String, AuditRow>,
}

fn err(path: &Path, e: impl std::fmt::Display) -> DbError {
    DbError(format!("{}: {e}", path.display()))
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audits (
    name TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    tier TEXT NOT NULL,
    build_deps TEXT NOT NULL,
    host_deps TEXT NOT NULL,
    runtime_deps TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    build_system TEXT NOT NULL,
    audited_at TEXT NOT NULL,
    record_sha256 TEXT NOT NULL
);";

/// Ingest every `*.json` of the store into the database in one transaction: afterwards the
/// database holds exactly the store. Returns (ingested, skipped with their reasons).
pub fn aggregate(store: &Path, db_path: &Path) -> Result<(usize, Vec<String>), DbError> {
    let mut files: Vec<_> = std::fs::read_dir(store)
        .map_err(|e| err(store, format!("cannot read the audit store: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut rows = vec![];
    let mut skipped = vec![];
    for f in &files {
        let bytes = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                skipped.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        match Record::from_json(&bytes) {
            Ok(r) => rows.push((r, sha256_hex(&bytes))),
            Err(e) => skipped.push(format!("{}: not an audit record ({e})", f.display())),
        }
    }
    if let Some(parent) = db_path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| err(parent, e))?;
    }
    let mut conn = Connection::open(db_path).map_err(|e| err(db_path, e))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| err(db_path, format!("not a usable SQLite database ({e})")))?;
    if version > SCHEMA_VERSION {
        return Err(err(db_path, format!("schema version {version} is newer than this igos understands ({SCHEMA_VERSION})")));
    }
    // Only an audit database (or an empty file) is ever rewritten: a SQLite file holding
    // anything else is someone else's data, named as the wrong path and left untouched.
    let foreign: Option<String> = conn
        .query_row("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'audits' ORDER BY name LIMIT 1", [], |r| r.get(0))
        .optional()
        .map_err(|e| err(db_path, format!("not a usable SQLite database ({e})")))?;
    if let Some(table) = foreign {
        return Err(err(db_path, format!("not an audit database (it holds a table `{table}`); refusing to overwrite it")));
    }
    let tx = conn.transaction().map_err(|e| err(db_path, e))?;
    if version < SCHEMA_VERSION {
        tx.execute_batch("DROP TABLE IF EXISTS audits;").map_err(|e| err(db_path, e))?;
    }
    tx.execute_batch(SCHEMA).map_err(|e| err(db_path, e))?;
    tx.execute("DELETE FROM audits", []).map_err(|e| err(db_path, e))?;
    {
        let mut stmt = tx
            .prepare("INSERT OR REPLACE INTO audits VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
            .map_err(|e| err(db_path, e))?;
        for (r, hash) in &rows {
            let sorted = |v: &Vec<String>| {
                let mut v = v.clone();
                v.sort();
                v.join(",")
            };
            stmt.execute(params![
                r.name,
                r.version,
                r.tier,
                sorted(&r.our_deps_build),
                sorted(&r.our_deps_host),
                sorted(&r.our_deps_runtime),
                r.source_sha256,
                r.build_system,
                r.audited_at,
                hash
            ])
            .map_err(|e| err(db_path, e))?;
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(|e| err(db_path, e))?;
    tx.commit().map_err(|e| err(db_path, e))?;
    Ok((rows.len(), skipped))
}

/// Read the database (read-only). Corrupt or foreign files are errors.
pub fn read(db_path: &Path) -> Result<AuditDb, DbError> {
    let conn = Connection::open_with_flags(db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| err(db_path, format!("cannot open the audit database ({e})")))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| err(db_path, format!("not a usable SQLite database ({e})")))?;
    if version > SCHEMA_VERSION {
        return Err(err(
            db_path,
            format!("audit database schema version {version} is newer than this igos reads ({SCHEMA_VERSION}): it was written by a newer igos; use that igos, or remove the file and re-aggregate"),
        ));
    }
    if version != SCHEMA_VERSION {
        return Err(err(
            db_path,
            format!("audit database schema version {version}, this igos reads {SCHEMA_VERSION}: re-aggregate with `igos audit aggregate`"),
        ));
    }
    let mut stmt = conn
        .prepare("SELECT name, version, tier, build_deps, record_sha256 FROM audits")
        .map_err(|e| err(db_path, format!("not an audit database ({e})")))?;
    let mut rows = BTreeMap::new();
    let iter = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?))
        })
        .map_err(|e| err(db_path, e))?;
    for row in iter {
        let (name, version, tier, deps, hash) = row.map_err(|e| err(db_path, format!("corrupt row ({e})")))?;
        let build_deps = deps.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
        rows.insert(name, AuditRow { version, tier, build_deps, record_sha256: hash });
    }
    Ok(AuditDb { rows })
}
