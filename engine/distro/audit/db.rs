//! The build database Gate 2 reads: the audit store aggregated into SQLite.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::record::{sha256_hex, Record};

/// Bump when the schema changes; older databases are re-created by `aggregate`, and read
/// as far as they go (version 1 has no record fingerprints).
pub const SCHEMA_VERSION: i64 = 2;

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
    /// The record file as it was aggregated, when that can be trusted: a store file that
    /// still matches it is the aggregated record, without reading it again.
    pub fingerprint: Option<Fingerprint>,
}

/// A store file's size, inode and change times (nanoseconds): what git's index keeps to
/// know a file unchanged without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub size: i64,
    pub ino: i64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

impl Fingerprint {
    pub fn of(m: &std::fs::Metadata) -> Fingerprint {
        let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
        Fingerprint {
            size: i64::try_from(m.len()).unwrap_or(i64::MAX),
            ino: m.ino() as i64,
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        }
    }
}

/// A file changed less than this before aggregation started may change again within the
/// filesystem's timestamp granularity without its times moving: its fingerprint is not
/// kept, so the check reads and hashes it (git's "racily clean" entries).
const RACY_NS: i64 = 2_000_000_000;

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
    record_sha256 TEXT NOT NULL,
    record_size INTEGER,
    record_ino INTEGER,
    record_mtime_ns INTEGER,
    record_ctime_ns INTEGER
);";

/// Ingest every `*.json` of the store into the database in one transaction: afterwards the
/// database holds exactly the store. Returns (ingested, skipped with their reasons).
pub fn aggregate(store: &Path, db_path: &Path) -> Result<(usize, Vec<String>), DbError> {
    let mut files: Vec<_> = crate::input::list_dir(store)
        .map_err(|e| DbError(format!("cannot read the audit store: {e}")))?
        .into_iter()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let started_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let mut rows = vec![];
    let mut skipped = vec![];
    for f in &files {
        // The fingerprint is taken from the open file, before its bytes are read.
        // Through the one reader: a FIFO or a device is skipped with its reason, never
        // waited on or read forever; what the system refuses (permission, I/O) stops the
        // aggregation, since the database must hold exactly the store.
        let read = crate::input::open(f).and_then(|file| {
            let meta = file.metadata().map_err(|e| crate::input::InputError { path: f.clone(), problem: crate::input::Problem::Io(e) })?;
            let bytes = crate::input::read_opened(file, crate::input::Kind::AuditRecord, true)
                .map_err(|problem| crate::input::InputError { path: f.clone(), problem })?;
            Ok((Fingerprint::of(&meta), bytes))
        });
        let (print, bytes) = match read {
            Ok(x) => x,
            Err(e) if e.is_io() && !e.is_missing() => return Err(DbError(format!("cannot read the audit store: {e}"))),
            Err(e) => {
                skipped.push(e.to_string());
                continue;
            }
        };
        let trusted = print.mtime_ns.max(print.ctime_ns) < started_ns.saturating_sub(RACY_NS);
        match Record::from_json(&bytes) {
            // A record is stored as `<name>.json`: one named otherwise would silently
            // replace the record of the package it names (and the check would keep
            // asking to aggregate the file), so the whole run is refused, nothing written.
            Ok(r) if f.file_stem().and_then(|s| s.to_str()) != Some(r.name.as_str()) => {
                let file = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                return Err(err(
                    f,
                    format!(
                        "the record is named `{}` but its file is `{}`; nothing was aggregated (rename the file to `{}.json`, or fix its `name`)",
                        crate::visible::visible(&r.name),
                        crate::visible::visible(&file),
                        crate::visible::visible(&r.name)
                    ),
                ));
            }
            Ok(r) => rows.push((r, sha256_hex(&bytes), trusted.then_some(print))),
            Err(e) => skipped.push(format!("{}: not an audit record ({e})", f.display())),
        }
    }
    if let Some(parent) = db_path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| err(parent, e))?;
    }
    crate::input::database(db_path).map_err(|e| DbError(e.to_string()))?;
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
            .prepare("INSERT OR REPLACE INTO audits VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")
            .map_err(|e| err(db_path, e))?;
        for (r, hash, print) in &rows {
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
                hash,
                print.map(|p| p.size),
                print.map(|p| p.ino),
                print.map(|p| p.mtime_ns),
                print.map(|p| p.ctime_ns)
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
    crate::input::database(db_path).map_err(|e| DbError(e.to_string()))?;
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
    if version < 1 {
        return Err(err(
            db_path,
            format!("audit database schema version {version}, this igos reads {SCHEMA_VERSION}: re-aggregate with `igos audit aggregate`"),
        ));
    }
    // Version 1 has no fingerprints: every store record is then read and hashed.
    let sql = if version >= 2 {
        "SELECT name, version, tier, build_deps, record_sha256, record_size, record_ino, record_mtime_ns, record_ctime_ns FROM audits"
    } else {
        "SELECT name, version, tier, build_deps, record_sha256, NULL, NULL, NULL, NULL FROM audits"
    };
    let mut stmt = conn.prepare(sql).map_err(|e| err(db_path, format!("not an audit database ({e})")))?;
    let mut rows = BTreeMap::new();
    let iter = stmt
        .query_map([], |r| {
            let print = match (r.get::<_, Option<i64>>(5)?, r.get::<_, Option<i64>>(6)?, r.get::<_, Option<i64>>(7)?, r.get::<_, Option<i64>>(8)?) {
                (Some(size), Some(ino), Some(mtime_ns), Some(ctime_ns)) => Some(Fingerprint { size, ino, mtime_ns, ctime_ns }),
                _ => None,
            };
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?, print))
        })
        .map_err(|e| err(db_path, e))?;
    for row in iter {
        let (name, version, tier, deps, hash, fingerprint) = row.map_err(|e| err(db_path, format!("corrupt row ({e})")))?;
        let build_deps = deps.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
        rows.insert(name, AuditRow { version, tier, build_deps, record_sha256: hash, fingerprint });
    }
    Ok(AuditDb { rows })
}
