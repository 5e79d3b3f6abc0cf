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
    // 1 -> 2: what `pkm verify` compares besides content (as pacman -Qkk does): each file's
    // size, and the owner and group pkm gave it. NULL where unknown (rows of schema 1, a
    // database rebuilt from text manifests): not compared.
    r#"
ALTER TABLE files ADD COLUMN size INTEGER;
ALTER TABLE files ADD COLUMN uid INTEGER;
ALTER TABLE files ADD COLUMN gid INTEGER;
"#,
    // 2 -> 3 (pkm repositories, engine/pkm/repo): where each available archive comes from, its
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
    // 3 -> 4: no query looks an available archive up by its SHA-256 (trust finds a row by
    // name, version and release, the resolver reads the table whole), and keeping that index
    // was a quarter of what `pkm sync` writes: 10,001 random 64-character keys.
    r#"
DROP INDEX IF EXISTS available_sha;
"#,
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Bring the schema to [`SCHEMA_VERSION`], every pending migration in one transaction.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    migrate_to(conn, SCHEMA_VERSION)
}

/// Bring the schema from its version up to `version` (not past it): what an older pkm left
/// is exactly a database migrated to its version. The pending migrations and the new
/// version number commit together, so a crash leaves the old version or the new one; and a
/// new database (the first `pkm sync` or install on a root) is one commit, not one per
/// migration (each a WAL sync).
pub fn migrate_to(conn: &mut Connection, version: i64) -> rusqlite::Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let upto = version.clamp(0, SCHEMA_VERSION) as usize;
    let from = current.max(0) as usize;
    if from >= upto {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for sql in &MIGRATIONS[from..upto] {
        tx.execute_batch(sql)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {upto}"))?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table's columns (name, type, not null, default), in order, and every index and
    /// trigger: the schema as a reader sees it, whatever path it took to get there.
    fn columns(c: &Connection) -> Vec<String> {
        let mut st = c.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").unwrap();
        let tables: Vec<String> = st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
        let mut out = Vec::new();
        for t in tables {
            let mut st = c.prepare(&format!("PRAGMA table_info({t})")).unwrap();
            let cols = st
                .query_map([], |r| Ok(format!("{t}.{} {} {} {:?}", r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?, r.get::<_, Option<String>>(4)?)))
                .unwrap();
            out.extend(cols.map(|r| r.unwrap()));
        }
        let mut st = c.prepare("SELECT type, name, tbl_name FROM sqlite_master WHERE type IN ('index', 'trigger') ORDER BY name").unwrap();
        out.extend(st.query_map([], |r| Ok(format!("{} {} on {}", r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))).unwrap().map(|r| r.unwrap()));
        out
    }

    /// A database left by any older pkm (each schema version in turn, with a package recorded
    /// the way that version could) migrates forward to the latest schema, the same as a new
    /// database, and keeps its rows.
    #[test]
    fn every_older_version_migrates_to_the_latest() {
        let mut fresh = Connection::open_in_memory().unwrap();
        migrate(&mut fresh).unwrap();
        let want = columns(&fresh);
        for v in 0..=SCHEMA_VERSION {
            let mut c = Connection::open_in_memory().unwrap();
            migrate_to(&mut c, v).unwrap();
            assert_eq!(c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), v);
            if v >= 1 {
                c.execute_batch(
                    "INSERT INTO installed(name, version, install_date) VALUES ('hello', '1.0', '2026-01-01T00:00:00Z');
                     INSERT INTO files(package_id, path, kind, sha256) VALUES (1, 'usr/bin/hello', 'file', 'ab');
                     INSERT INTO available(name, version, archive, sha256) VALUES ('hello', '1.1', 'hello-1.1-1.igos.tar.gz', 'cd');",
                )
                .unwrap();
            }
            migrate(&mut c).unwrap();
            assert_eq!(c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), SCHEMA_VERSION, "from version {v}");
            assert_eq!(columns(&c), want, "from version {v}");
            if v >= 1 {
                let row: (String, Option<i64>) = c.query_row("SELECT path, size FROM files", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
                assert_eq!(row, ("usr/bin/hello".to_string(), None), "from version {v}: a file recorded before sizes keeps its row, size unknown");
                let avail: (String, String, i64) = c.query_row("SELECT name, repo, signed FROM available", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
                assert_eq!(avail, ("hello".to_string(), String::new(), 0), "from version {v}: a version-1 index row stays, from no repository");
            }
        }
    }
}
