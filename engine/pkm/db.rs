//! Opening the database under a root, and the queries every command shares.

use super::error::{PkmError, Result};
use super::schema;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::Path;

pub use super::layout::Layout;

/// The tables of the current schema (a database at the current version lacking one is not
/// a pkm database).
const TABLES: &[&str] = &["available", "config_files", "depends", "files", "history", "installed", "intents"];

/// Open (creating if needed) and migrate the database: WAL, synchronous FULL, foreign keys.
///
/// A database that is missing, empty (0 bytes) or unusable while text manifests record
/// installed packages is refused (exit 2): it is not an empty system, and `pkm doctor
/// --rebuild-db` rebuilds it from the text manifests.
pub fn open(layout: &Layout, create: bool) -> Result<Connection> {
    let p = layout.db_path();
    // No symlink or wrong file type anywhere on a state path (`state`): refused, untouched.
    super::state::check(layout)?;
    let size = std::fs::metadata(&p).map(|m| m.len()).ok();
    if size.unwrap_or(0) == 0 {
        let n = text_manifest_count(layout);
        if n > 0 {
            let what = if size.is_none() { "is missing" } else { "is empty (0 bytes)" };
            return Err(PkmError::unusable(
                "pkm::db::lost",
                format!("{}: the database {what}, but {} holds {} of installed packages", p.display(), layout.manifests_dir().display(), text_manifests(n)),
            )
            .help("nothing was done; run `pkm doctor --rebuild-db` to rebuild the database from the text manifests"));
        }
    }
    open_checked_state(layout, create).map_err(|e| match text_manifest_count(layout) {
        n if n > 0 && e.code == "pkm::db::unusable" => e.help(format!(
            "nothing was done; the state directory still holds {} of the installed packages: `pkm doctor --rebuild-db` sets this file aside (it is kept) and rebuilds the database from them",
            text_manifests(n)
        )),
        _ => e,
    })
}

/// "1 text manifest", "2 text manifests".
pub fn text_manifests(n: usize) -> String {
    if n == 1 { "1 text manifest".into() } else { format!("{n} text manifests") }
}

/// How many text manifests the state directory holds (temporary files excluded).
pub fn text_manifest_count(layout: &Layout) -> usize {
    super::layout::manifest_names(layout).len()
}

/// [`open`] without the lost-database check: for `pkm doctor --rebuild-db`, which makes a
/// new database beside the text manifests.
pub fn open_unchecked(layout: &Layout, create: bool) -> Result<Connection> {
    super::state::check(layout)?;
    open_checked_state(layout, create)
}

/// The open itself, once [`state::check`](super::state::check) has passed.
fn open_checked_state(layout: &Layout, create: bool) -> Result<Connection> {
    let p = layout.db_path();
    if !create && !p.exists() {
        return open_in_memory_empty();
    }
    if !create && on_read_only_fs(&layout.state_dir()) {
        return open_read_only_fs(&p);
    }
    super::state::ensure_dir(layout, "")?;
    if std::fs::symlink_metadata(&p).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        create_whole(layout, &p)?;
    }
    let mut conn = Connection::open_with_flags(&p, OpenFlags::default() | OpenFlags::SQLITE_OPEN_NOFOLLOW).map_err(|e| corrupt(&p, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(|e| corrupt(&p, e))?;
    let v = check_version_and_tables(&conn, &p)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(|e| corrupt(&p, e))?;
    if v < schema::SCHEMA_VERSION {
        schema::migrate(&mut conn).map_err(|e| corrupt(&p, e))?;
    }
    Ok(conn)
}

/// A new database, made whole beside its place and renamed in: the current schema, 16 KiB
/// pages (a sync writes the 10,000-row `available` table in a quarter of the page writes),
/// WAL mode. One fsync of the file and one of the directory, where making it in place took
/// a rollback journal and two commits (seven fsyncs, most of a first `pkm sync`'s lead over
/// pacman's). A crash leaves no database or the whole one, never a half-made schema; the
/// caller holds pkm's lock, so the temporary name is this process's.
fn create_whole(layout: &Layout, p: &Path) -> Result<()> {
    const NEW: &str = "pkm.db.new";
    let tmp = layout.state_dir().join(NEW);
    let fail = |e: &dyn std::fmt::Display| PkmError::unusable("pkm::db::create", format!("{}: cannot create the database: {e}", p.display()));
    remove_with_journals(&tmp);
    {
        let mut conn = Connection::open_with_flags(&tmp, OpenFlags::default() | OpenFlags::SQLITE_OPEN_NOFOLLOW).map_err(|e| fail(&e))?;
        conn.execute_batch("PRAGMA page_size = 16384; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;").map_err(|e| fail(&e))?;
        schema::migrate(&mut conn).map_err(|e| fail(&e))?;
        conn.execute_batch("PRAGMA journal_mode = WAL;").map_err(|e| fail(&e))?;
    }
    // Synced through the state's own open: no symlink followed, the file's type checked.
    super::state::open_file(layout, "", NEW, false)?.sync_all().map_err(|e| fail(&e))?;
    match rustix::fs::renameat_with(rustix::fs::CWD, &tmp, rustix::fs::CWD, p, rustix::fs::RenameFlags::NOREPLACE) {
        Ok(()) => {}
        // Made meanwhile (not under this lock): that one is used, this one dropped.
        Err(rustix::io::Errno::EXIST) => {
            remove_with_journals(&tmp);
            return Ok(());
        }
        Err(e) => return Err(fail(&e)),
    }
    // The state directory, checked by `state::check` before any open.
    std::fs::File::open(layout.state_dir()).and_then(|d| d.sync_all()).map_err(|e| fail(&e))
}

/// Remove a database file and its journals: what a crash left of a database being built
/// beside its place (`pkm.db.new`, `pkm.db.rebuilding`).
pub fn remove_with_journals(p: &Path) {
    for sfx in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{sfx}", p.display()));
    }
}

/// Is `dir` on a read-only filesystem? (access(2) says EROFS even to root.)
fn on_read_only_fs(dir: &Path) -> bool {
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK) == Err(rustix::io::Errno::ROFS)
}

/// Reading commands on a read-only filesystem: SQLite cannot create the `-shm` a WAL database
/// needs, so the file is opened immutable (nothing can change it while the filesystem is
/// read-only). A database that would need migrating cannot be, and says so.
fn open_read_only_fs(p: &Path) -> Result<Connection> {
    let mut uri = String::from("file:");
    for b in p.as_os_str().as_encoded_bytes() {
        match b {
            b'%' | b'?' | b'#' => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(*b as char),
        }
    }
    uri.push_str("?immutable=1");
    let uri = String::from_utf8_lossy(p.as_os_str().as_encoded_bytes()).is_ascii().then_some(uri);
    let conn = match uri {
        Some(u) => Connection::open_with_flags(u, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW),
        None => Connection::open_with_flags(p, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW),
    }
    .map_err(|e| corrupt(p, e))?;
    let v = check_version_and_tables(&conn, p)?;
    if v < schema::SCHEMA_VERSION {
        return Err(PkmError::unusable(
            "pkm::db::read-only",
            format!("{}: schema version {v} needs migrating to {} and the filesystem is read-only", p.display(), schema::SCHEMA_VERSION),
        ));
    }
    Ok(conn)
}

/// The schema version, after refusing a newer one or someone else's SQLite file. Reads only:
/// switching to WAL rewrites the header, so this runs first and a refused database is left
/// byte for byte untouched.
fn check_version_and_tables(conn: &Connection, p: &Path) -> Result<i64> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| corrupt(p, e))?;
    if v > schema::SCHEMA_VERSION {
        return Err(PkmError::unusable(
            "pkm::db::newer-schema",
            format!("{}: schema version {v} is newer than this pkm understands ({})", p.display(), schema::SCHEMA_VERSION),
        ));
    }
    // Someone else's SQLite file at this path is refused, not migrated into.
    let tables: Vec<String> = {
        let mut st = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map_err(|e| corrupt(p, e))?;
        let rows = st.query_map([], |r| r.get::<_, String>(0)).map_err(|e| corrupt(p, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| corrupt(p, e))?
    };
    let foreign = match v {
        0 => tables.first().map(|t| format!("schema version 0 but it holds a table `{t}`")),
        v if v == schema::SCHEMA_VERSION => {
            TABLES.iter().find(|t| !tables.iter().any(|x| x == *t)).map(|t| format!("the table `{t}` is missing"))
        }
        _ => None,
    };
    if let Some(why) = foreign {
        return Err(PkmError::unusable("pkm::db::unusable", format!("{}: not a pkm database ({why})", p.display()))
            .help("the database is damaged or not a pkm database; move it aside and restore it from a backup"));
    }
    Ok(v)
}

/// A new, empty database at `p` (rollback journal, synchronous FULL): the one `pkm doctor
/// --rebuild-db` fills before renaming it into place.
pub fn create_at(p: &Path) -> Result<Connection> {
    let mut conn = Connection::open(p).map_err(|e| corrupt(p, e))?;
    conn.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;").map_err(|e| corrupt(p, e))?;
    schema::migrate(&mut conn).map_err(|e| corrupt(p, e))?;
    Ok(conn)
}

fn open_in_memory_empty() -> Result<Connection> {
    let mut c = Connection::open_in_memory()?;
    schema::migrate(&mut c)?;
    Ok(c)
}

fn corrupt(p: &Path, e: rusqlite::Error) -> PkmError {
    PkmError::unusable("pkm::db::unusable", format!("{}: cannot use the database: {e}", p.display()))
        .help("the database is damaged or not a pkm database; `pkm doctor` reports what it can")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub release: i64,
    pub tier: String,
    pub description: String,
    pub install_date: String,
    pub superseded_by: Option<String>,
    pub superseded_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub path: String,
    pub kind: String,
    pub is_config: bool,
    pub mode: u32,
    pub sha256: Option<String>,
    pub target: Option<String>,
    /// Size in bytes, owner and group as installed; `None` where not recorded.
    pub size: Option<i64>,
    pub uid: Option<i64>,
    pub gid: Option<i64>,
}

fn row_installed(r: &rusqlite::Row<'_>) -> rusqlite::Result<Installed> {
    Ok(Installed {
        id: r.get(0)?,
        name: r.get(1)?,
        version: r.get(2)?,
        release: r.get(3)?,
        tier: r.get(4)?,
        description: r.get(5)?,
        install_date: r.get(6)?,
        superseded_by: r.get(7)?,
        superseded_at: r.get(8)?,
    })
}

const INSTALLED_COLS: &str = "id, name, version, release, tier, description, install_date, superseded_by, superseded_at";

pub fn get_installed(c: &Connection, name: &str) -> Result<Option<Installed>> {
    // Cached statements: a queue of 1,000 packages asks for each several times.
    let mut st = c.prepare_cached(&format!("SELECT {INSTALLED_COLS} FROM installed WHERE name = ?1"))?;
    Ok(st.query_row([name], row_installed).optional()?)
}

pub fn list_installed(c: &Connection) -> Result<Vec<Installed>> {
    let mut st = c.prepare(&format!("SELECT {INSTALLED_COLS} FROM installed ORDER BY name"))?;
    let rows = st.query_map([], row_installed)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn files_of(c: &Connection, package_id: i64) -> Result<Vec<FileRow>> {
    let mut st = c.prepare_cached("SELECT path, kind, is_config, mode, sha256, target, size, uid, gid FROM files WHERE package_id = ?1 ORDER BY path")?;
    let rows = st
        .query_map([package_id], |r| {
            Ok(FileRow {
                path: r.get(0)?,
                kind: r.get(1)?,
                is_config: r.get(2)?,
                mode: r.get(3)?,
                sha256: r.get(4)?,
                target: r.get(5)?,
                size: r.get(6)?,
                uid: r.get(7)?,
                gid: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn depends_of(c: &Connection, package_id: i64) -> Result<Vec<String>> {
    let mut st = c.prepare_cached("SELECT dep_name FROM depends WHERE package_id = ?1 ORDER BY dep_name")?;
    let rows = st.query_map([package_id], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// Owners of a path (several for a shared directory), by package name.
pub fn owners(c: &Connection, path: &str) -> Result<Vec<(String, String)>> {
    let mut st = c.prepare_cached("SELECT i.name, f.kind FROM files f JOIN installed i ON i.id = f.package_id WHERE f.path = ?1 ORDER BY i.name")?;
    let rows = st.query_map([path], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn config_baseline(c: &Connection, path: &str) -> Result<Option<String>> {
    let mut st = c.prepare_cached("SELECT original_sha256 FROM config_files WHERE path = ?1")?;
    Ok(st.query_row([path], |r| r.get::<_, Option<String>>(0)).optional()?.flatten())
}

pub fn log_history(c: &Connection, op: &str, name: &str, old: Option<&str>, new: Option<&str>, detail: &str) -> Result<()> {
    c.execute(
        "INSERT INTO history(timestamp, operation, package_name, old_version, new_version, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![super::util::now_utc(), op, name, old, new, detail],
    )?;
    Ok(())
}

/// One row of the append-only transaction log (`pkm history`; `--json` schema in the README).
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryRow {
    pub id: i64,
    pub timestamp: String,
    pub operation: String,
    pub package: String,
    pub old_version: Option<String>,
    pub new_version: Option<String>,
    pub detail: String,
}

/// The whole log, oldest first.
pub fn history(c: &Connection) -> Result<Vec<HistoryRow>> {
    let mut st = c.prepare("SELECT id, timestamp, operation, package_name, old_version, new_version, detail FROM history ORDER BY id")?;
    let rows = st
        .query_map([], |r| Ok(HistoryRow { id: r.get(0)?, timestamp: r.get(1)?, operation: r.get(2)?, package: r.get(3)?, old_version: r.get(4)?, new_version: r.get(5)?, detail: r.get(6)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Normalise a user-supplied path to the stored form: relative, no leading `/` or `./`.
pub fn normalise_path(p: &str) -> String {
    let mut parts = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_is_made_whole_with_16_kib_pages_in_wal_mode() {
        let root = std::env::temp_dir().join(format!("pkm-db-pages-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("var/lib/igos")).unwrap();
        let layout = Layout::new(&root);
        // What a crash while creating left behind: replaced, never opened as the database.
        std::fs::write(layout.state_dir().join("pkm.db.new"), b"half a database").unwrap();
        let conn = open(&layout, true).unwrap();
        let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        drop(conn);
        let left: Vec<String> = std::fs::read_dir(layout.state_dir()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with("pkm.db.new")).collect();
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!((size, version, mode.as_str()), (16384, schema::SCHEMA_VERSION, "wal"));
        assert!(left.is_empty(), "{left:?}");
    }
}
