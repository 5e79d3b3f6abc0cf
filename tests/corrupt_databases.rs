//! Corrupt, truncated, foreign and newer-schema databases. Each bad database goes through
//! every command that opens it, through the real binaries: exit 2, a diagnostic naming the
//! file, never a panic, and the file byte for byte unchanged with nothing left beside it
//! (no `-wal`, `-shm` or `-journal`).
//!
//! * build/audit.db, read by `igos check` (Gate 2) and written by `igos audit aggregate`;
//! * var/lib/igos/pkm.db, opened by every pkm command.

mod pkm_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use pkm_support::*;

/// The bad databases: (case, bytes, expected words in the diagnostic). `real` is a good
/// database of the same kind, `future` it with `PRAGMA user_version = 99`, `foreign` a SQLite
/// file at the current version holding some other table (`tables` names its schema).
fn bad_databases(real: &[u8], dir: &Path, version: i64, foreign_sql: &str) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let sqlite = |name: &str, sql: &str| -> Vec<u8> {
        let p = dir.join(name);
        let c = rusqlite::Connection::open(&p).expect("sqlite");
        c.execute_batch(sql).expect("sql");
        drop(c);
        std::fs::read(&p).expect("read")
    };
    let future = {
        let p = dir.join("future.db");
        std::fs::write(&p, real).expect("copy");
        let c = rusqlite::Connection::open(&p).expect("sqlite");
        c.pragma_update(None, "user_version", 99).expect("pragma");
        drop(c);
        std::fs::read(&p).expect("read")
    };
    let future_delete = {
        let p = dir.join("future-delete.db");
        std::fs::write(&p, &future).expect("copy");
        let c = rusqlite::Connection::open(&p).expect("sqlite");
        c.execute_batch("PRAGMA journal_mode = DELETE;").expect("pragma");
        drop(c);
        std::fs::read(&p).expect("read")
    };
    let mut flipped = real.to_vec();
    // Damage the first b-tree page past the header (the schema table).
    for b in flipped.iter_mut().skip(100).take(64) {
        *b ^= 0x5a;
    }
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    vec![
        ("garbage", garbage, "not"),
        ("text", b"this is not sqlite, it is some text of a reasonable length..............................................".to_vec(), "not"),
        ("truncated-header", real[..50].to_vec(), ""),
        ("truncated-half", real[..real.len() / 2].to_vec(), "malformed"),
        ("damaged-schema-page", flipped, ""),
        ("newer-schema", future, "newer"),
        ("newer-schema-rollback-journal", future_delete, "newer"),
        ("foreign-tables", sqlite("foreign.db", &format!("PRAGMA user_version = {version}; {foreign_sql}")), ""),
    ]
}

fn sidecars(db: &Path) -> Vec<PathBuf> {
    ["-wal", "-shm", "-journal"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", db.display())))
        .filter(|p| p.exists())
        .collect()
}

fn assert_refused(what: &str, code: i32, stderr: &str, db: &Path, bytes: &[u8], word: &str) {
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{what}: panic\n{stderr}");
    assert_eq!(code, 2, "{what}: exit {code}\n{stderr}");
    let name = db.file_name().and_then(|n| n.to_str()).unwrap_or("");
    assert!(stderr.contains(name), "{what}: the diagnostic does not name {name}\n{stderr}");
    assert!(stderr.contains(word), "{what}: expected `{word}` in\n{stderr}");
    let now = std::fs::read(db).map(|b| igos::audit::record::sha256_hex(&b)).unwrap_or_default();
    assert!(now == igos::audit::record::sha256_hex(bytes), "{what}: the database was rewritten");
    assert_eq!(sidecars(db), Vec::<PathBuf>::new(), "{what}: files left beside the database");
}

// ---- audit.db ---------------------------------------------------------------------------

fn igos(root: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .args(args)
        .arg("--root")
        .arg(root)
        .args(["--color", "never"])
        .env("IGOS_TODAY", "2026-11-22")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("igos runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn bad_audit_databases_are_refused_and_left_alone() {
    let t = support::valid_tree("auditdb");
    let store = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("packages/audits");
    let real_db = t.path().join("real.db");
    igos::audit::aggregate(&store, &real_db).expect("aggregate");
    let real = std::fs::read(&real_db).expect("real db");
    let mut cases = bad_databases(&real, t.path(), igos::audit::db::SCHEMA_VERSION, "CREATE TABLE accounts (id INTEGER, owner TEXT);");
    // Readers only: a database at the right version with no `audits` table, and one whose
    // rows have the wrong types.
    cases.push(("no-audits-table", {
        let p = t.path().join("empty-v1.db");
        let c = rusqlite::Connection::open(&p).expect("sqlite");
        c.execute_batch("PRAGMA user_version = 1; CREATE TABLE audits_old (x);").expect("sql");
        drop(c);
        std::fs::read(&p).expect("read")
    }, "not an audit database"));
    cases.push(("wrong-row-types", {
        let p = t.path().join("rows.db");
        let c = rusqlite::Connection::open(&p).expect("sqlite");
        c.execute_batch("PRAGMA user_version = 1; CREATE TABLE audits (name TEXT, version TEXT, tier TEXT, build_deps TEXT, record_sha256 TEXT); INSERT INTO audits VALUES (NULL, 1, x'ff', NULL, 3);").expect("sql");
        drop(c);
        std::fs::read(&p).expect("read")
    }, "corrupt row"));
    let mut tried = 0;
    for (case, bytes, word) in &cases {
        let db = t.path().join(format!("{case}.db"));
        std::fs::write(&db, bytes).expect("write");
        let (code, err) = igos(t.path(), &["check", "--audit-db", db.to_str().expect("utf-8")]);
        assert_refused(&format!("check {case}"), code, &err, &db, bytes, word);
        tried += 1;
        // aggregate rewrites an older or empty audit database by design; anything it cannot
        // read, a newer one, or someone else's SQLite file it refuses.
        if !matches!(*case, "no-audits-table" | "wrong-row-types") {
            let (code, err) = igos(t.path(), &["audit", "aggregate", "--store", store.to_str().expect("utf-8"), "--db", db.to_str().expect("utf-8")]);
            let word = if *case == "foreign-tables" { "refusing to overwrite" } else { word };
            assert_refused(&format!("aggregate {case}"), code, &err, &db, bytes, word);
            tried += 1;
        }
    }
    eprintln!("bad audit databases: {} cases, {tried} runs", cases.len());
}

// ---- pkm.db -----------------------------------------------------------------------------

#[test]
fn bad_pkm_databases_are_refused_and_left_alone() {
    let arch = TempDir::new("pkmdb-arch");
    let hello = pkg("hello", "1.0", &[("usr/bin/hello", exe("hello"))]);
    let other = pkg("other", "1.0", &[("usr/bin/other", exe("other"))]);
    let a_hello = hello.build(arch.path());
    let a_other = other.build(arch.path());
    let idx = index_for(arch.path(), &[(&hello, &a_hello), (&other, &a_other)]);
    // A real database: synced, hello installed.
    let good = fresh_root();
    assert_eq!(pkm(good.path(), &["sync", idx.to_str().expect("utf-8")], &[]).code, 0);
    assert_eq!(pkm(good.path(), &["install", a_hello.to_str().expect("utf-8")], &[]).code, 0);
    let real_path = good.path().join("var/lib/igos/pkm.db");
    // Fold the WAL into the main file, so the copy is the whole database.
    rusqlite::Connection::open(&real_path).expect("open").execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").expect("checkpoint");
    let real = std::fs::read(&real_path).expect("db");
    let scratch = TempDir::new("pkmdb-scratch");
    let cases = bad_databases(&real, scratch.path(), igos::pkm::schema::SCHEMA_VERSION, "CREATE TABLE accounts (id INTEGER, owner TEXT);");
    let commands: Vec<Vec<&str>> = vec![
        vec!["list"],
        vec!["info", "hello"],
        vec!["files", "hello"],
        vec!["owns", "/usr/bin/hello"],
        vec!["history"],
        vec!["verify"],
        vec!["doctor"],
        vec!["sync", idx.to_str().expect("utf-8")],
        vec!["install", a_other.to_str().expect("utf-8")],
        vec!["remove", "hello"],
    ];
    let mut runs = 0;
    for (case, bytes, word) in &cases {
        let root = fresh_root();
        let db = root.path().join("var/lib/igos/pkm.db");
        std::fs::write(&db, bytes).expect("write");
        let before = snapshot(root.path());
        for cmd in &commands {
            let o = pkm(root.path(), cmd, &[("RUST_BACKTRACE", "1")]);
            let what = format!("pkm {} on {case}", cmd.join(" "));
            let word = if *case == "foreign-tables" { "pkm::db" } else { word };
            assert_refused(&what, o.code, &o.stderr, &db, bytes, word);
            assert_eq!(snapshot(root.path()), before, "{what}: the root changed");
            runs += 1;
        }
    }
    eprintln!("bad pkm databases: {} cases x {} commands = {runs} runs", cases.len(), commands.len());
}
