//! Database schema and migrations, versioned with `PRAGMA user_version`.

use rusqlite::Connection;

/// Each migration takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the tables of the seeds, plus the intent journal.
    r#"
CREATE TABLE installed (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    version TEXT NOT NULL,
    release INTEGER NOT NULL DEFAULT 1,
    tier TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    install_date TEXT NOT NULL,
    archive_sha256 TEXT,
    superseded_by TEXT,
    superseded_at TEXT
);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    package_id INTEGER NOT NULL REFERENCES installed(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('file', 'dir', 'symlink')),
    is_dir INTEGER NOT NULL DEFAULT 0,
    is_config INTEGER NOT NULL DEFAULT 0,
    mode INTEGER NOT NULL DEFAULT 420,
    sha256 TEXT,
    target TEXT,
    UNIQUE (package_id, path)
);
CREATE INDEX files_path ON files(path);
-- A file or symlink has exactly one owner; directories are shared.
CREATE UNIQUE INDEX files_one_owner ON files(path) WHERE is_dir = 0;
CREATE TABLE depends (
    id INTEGER PRIMARY KEY,
    package_id INTEGER NOT NULL REFERENCES installed(id) ON DELETE CASCADE,
    dep_name TEXT NOT NULL,
    dep_type TEXT NOT NULL DEFAULT 'runtime',
    UNIQUE (package_id, dep_name, dep_type)
);
CREATE TABLE available (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    release INTEGER NOT NULL DEFAULT 1,
    tier TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    archive TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    UNIQUE (name, version, release)
);
CREATE INDEX available_sha ON available(sha256);
CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,
    operation TEXT NOT NULL,
    package_name TEXT NOT NULL,
    old_version TEXT,
    new_version TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER history_no_update BEFORE UPDATE ON history BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TABLE config_files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    package_id INTEGER REFERENCES installed(id) ON DELETE SET NULL,
    original_sha256 TEXT
);
CREATE TABLE intents (
    id INTEGER PRIMARY KEY,
    operation TEXT NOT NULL,
    package_name TEXT NOT NULL,
    plan TEXT NOT NULL,
    created TEXT NOT NULL
);
"#,
    // 1 -> 2 (pkm repositories, engine/repo): where each available archive comes from, its
    // size, runtime dependencies and supersedes (space-separated names), whether a detached
    // archive signature is published, and the repository's position in repos.conf.
    r#"
ALTER TABLE available ADD COLUMN repo TEXT NOT NULL DEFAULT '';
ALTER TABLE available ADD COLUMN repo_url TEXT NOT NULL DEFAULT '';
ALTER TABLE available ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
ALTER TABLE available ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE available ADD COLUMN size INTEGER;
ALTER TABLE available ADD COLUMN depends TEXT NOT NULL DEFAULT '';
ALTER TABLE available ADD COLUMN supersedes TEXT NOT NULL DEFAULT '';
ALTER TABLE available ADD COLUMN signed INTEGER NOT NULL DEFAULT 0;
"#,
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Bring the schema to [`SCHEMA_VERSION`], one transaction per migration.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(())
}
