//! Recovery and verification (issue 14): broken state (lost, empty, garbage and foreign
//! databases, unreadable and impossible intents, colliding text manifest names), output that
//! cannot be forged, archives bounded by what their manifest declares, verify as pacman -Qkk,
//! downgrades, shared directories and `.new` names. Every case runs the real pkm binary on a
//! real root and checks the disk (a sentinel directory outside the root byte for byte, the
//! root) and the database, never the exit code alone.

mod pkm_support;
use pkm_support::*;
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

// ---- the world --------------------------------------------------------------------------

/// A root, an archive directory and a sentinel directory outside the root that nothing may
/// touch.
struct World {
    root: TempDir,
    arch: TempDir,
    sentinel: TempDir,
    sentinel_before: BTreeMap<String, String>,
}

fn world() -> World {
    let root = fresh_root();
    let arch = TempDir::new("recovery-arch");
    let sentinel = TempDir::new("recovery-sentinel");
    fs::write(sentinel.path().join("keep.txt"), "sentinel: must never change\n").unwrap();
    fs::create_dir_all(sentinel.path().join("dir")).unwrap();
    fs::write(sentinel.path().join("dir/inner.conf"), "inner=1\n").unwrap();
    let sentinel_before = snapshot(sentinel.path());
    World { root, arch, sentinel, sentinel_before }
}

impl World {
    fn r(&self) -> &Path {
        self.root.path()
    }
    fn build(&self, p: &Pkg) -> String {
        p.build(self.arch.path()).to_str().unwrap().to_string()
    }
    fn run(&self, args: &[&str]) -> Out {
        pkm(self.r(), args, &[])
    }
    fn install(&self, archives: &[&str]) -> Out {
        let mut a = vec!["install", "--archive-trust", "loose"];
        a.extend_from_slice(archives);
        self.run(&a)
    }
    fn install_ok(&self, p: &Pkg) {
        let a = self.build(p);
        let o = self.install(&[&a]);
        assert_eq!(o.code, 0, "install {}: {}\n{}", p.name, o.stdout, o.stderr);
    }
    fn db_path(&self) -> PathBuf {
        self.r().join("var/lib/igos/pkm.db")
    }
    fn manifests(&self) -> PathBuf {
        self.r().join("var/lib/igos/packages")
    }
    fn installed(&self) -> Vec<String> {
        query_strings(self.r(), "SELECT name || ' ' || version FROM installed ORDER BY name")
    }
    fn intents(&self) -> usize {
        query_strings(self.r(), "SELECT operation FROM intents").len()
    }
    fn history_ops(&self) -> Vec<String> {
        query_strings(self.r(), "SELECT operation FROM history ORDER BY id")
    }
    fn sentinel_intact(&self) {
        assert_eq!(snapshot(self.sentinel.path()), self.sentinel_before, "the sentinel outside the root changed");
    }
    /// Lose the database's content: the main file replaced by `bytes`, its WAL and shared
    /// memory gone.
    fn replace_db(&self, bytes: Option<&[u8]>) {
        for sfx in ["-wal", "-shm"] {
            let _ = fs::remove_file(format!("{}{sfx}", self.db_path().display()));
        }
        match bytes {
            Some(b) => fs::write(self.db_path(), b).unwrap(),
            None => fs::remove_file(self.db_path()).unwrap(),
        }
    }
    fn insert_intent(&self, op: &str, name: &str, plan: rusqlite::types::Value) {
        db(self.r())
            .execute("INSERT INTO intents(operation, package_name, plan, created) VALUES (?1, ?2, ?3, '2026-01-01T00:00:00Z')", rusqlite::params![op, name, plan])
            .unwrap();
    }
}

fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().unwrap().is_file() {
                m.insert(e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap());
            }
        }
    }
    m
}

/// A diagnostic with miette's wrapping undone: one line, single spaces.
fn flat(stderr: &str) -> String {
    stderr.replace('│', " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hello(v: &str) -> Pkg {
    pkg("hello", v, &[
        ("usr/bin/hello", exe(&format!("hello {v}"))),
        ("usr/share/hello/README", file(&format!("readme {v}"))),
        ("etc/hello.conf", file("greeting=hi\n")),
    ])
}

fn other() -> Pkg {
    pkg("other", "1.0", &[("usr/bin/other", exe("other"))])
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---- lost, empty, garbage and foreign databases ------------------------------------------

#[test]
fn an_empty_database_with_text_manifests_is_refused_then_rebuilt() {
    let w = world();
    w.install_ok(&hello("1.0"));
    let manifests = files_in(&w.manifests());
    let root_before = snapshot(w.r());
    w.replace_db(Some(b""));
    for args in [vec!["list"], vec!["verify"], vec!["remove", "hello"], vec!["doctor"]] {
        let o = w.run(&args);
        assert_eq!(o.code, 2, "{args:?}: {}\n{}", o.stdout, o.stderr);
        assert!(o.stderr.contains("pkm::db::lost") && flat(&o.stderr).contains("empty (0") && flat(&o.stderr).contains("--rebuild-db"), "{args:?}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{args:?}: an empty database must not read as an empty system: {}", o.stdout);
    }
    let a = w.build(&other());
    assert_eq!(w.install(&[&a]).code, 2);
    assert_eq!(fs::metadata(w.db_path()).unwrap().len(), 0, "the refused database was written");
    assert_eq!(files_in(&w.manifests()), manifests, "the text manifests, the only record left, changed");
    assert_eq!(snapshot(w.r()), root_before, "the root changed");
    // Rebuilt from the text manifests; the empty file is kept aside.
    let o = w.run(&["doctor", "--rebuild-db"]);
    assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("rebuilt: hello 1.0"), "{}", o.stdout);
    assert_eq!(fs::metadata(w.r().join("var/lib/igos/pkm.db.broken-1")).unwrap().len(), 0);
    assert_eq!(w.installed(), vec!["hello 1.0"]);
    assert_eq!(query_strings(w.r(), "SELECT path FROM files WHERE kind = 'file' ORDER BY path"), vec!["etc/hello.conf", "usr/bin/hello", "usr/share/hello/README"]);
    assert_eq!(query_strings(w.r(), "SELECT path FROM config_files"), vec!["etc/hello.conf"]);
    assert_eq!(w.run(&["verify"]).code, 0);
    assert_eq!(w.run(&["doctor"]).code, 0, "doctor converges after the rebuild");
    assert_eq!(files_in(&w.manifests()), manifests, "the rebuilt database renders the same text manifests");
    // The rebuilt database is a working one: the package can be removed.
    assert_eq!(w.run(&["remove", "hello"]).code, 0);
    assert!(!w.r().join("usr/bin/hello").exists());
    w.sentinel_intact();
}

#[test]
fn a_missing_database_with_text_manifests_is_refused_then_rebuilt() {
    let w = world();
    w.install_ok(&hello("1.0"));
    w.install_ok(&other());
    let root_before = snapshot(w.r());
    w.replace_db(None);
    let o = w.run(&["list"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(flat(&o.stderr).contains("is missing, but") && flat(&o.stderr).contains("holds 2 text manifests of installed packages"), "{}", o.stderr);
    let o = w.run(&["remove", "hello"]);
    assert_eq!(o.code, 2);
    assert!(!w.db_path().exists(), "a refused command created a database");
    assert_eq!(snapshot(w.r()), root_before);
    let o = w.run(&["doctor", "--rebuild-db"]);
    assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("rebuilt the database from 2 text manifests"), "{}", o.stdout);
    assert!(!o.stdout.contains("kept as"), "there was no old database to keep: {}", o.stdout);
    assert_eq!(w.installed(), vec!["hello 1.0", "other 1.0"]);
    assert_eq!(w.history_ops(), vec!["rebuild", "rebuild"]);
    assert_eq!(w.run(&["doctor"]).code, 0);
    assert_consistent(w.r());
    w.sentinel_intact();
}

#[test]
fn a_rebuild_killed_midway_is_refused_then_completed_by_a_rerun() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: crash injection needs a debug build");
        return;
    }
    for step in ["rebuild-built", "rebuild-aside"] {
        let w = world();
        w.install_ok(&hello("1.0"));
        let manifests = files_in(&w.manifests());
        w.replace_db(Some(b""));
        let o = pkm(w.r(), &["doctor", "--rebuild-db"], &[("PKM_CRASH_AT", step)]);
        assert!(o.stderr.contains(&format!("PKM_CRASH_AT={step}")), "{step}: {}", o.stderr);
        // Never an empty system in between: still refused.
        let l = w.run(&["list"]);
        assert_eq!(l.code, 2, "{step}: {}\n{}", l.stdout, l.stderr);
        assert!(l.stdout.is_empty());
        let o = w.run(&["doctor", "--rebuild-db"]);
        assert_eq!(o.code, 1, "{step}: {}\n{}", o.stdout, o.stderr);
        assert_eq!(w.installed(), vec!["hello 1.0"], "{step}");
        assert_eq!(fs::metadata(w.r().join("var/lib/igos/pkm.db.broken-1")).unwrap().len(), 0, "{step}");
        assert!(!w.r().join("var/lib/igos/pkm.db.broken-2").exists(), "{step}");
        assert!(!w.r().join("var/lib/igos/pkm.db.rebuilding").exists(), "{step}");
        assert_eq!(files_in(&w.manifests()), manifests, "{step}");
        assert_eq!(w.run(&["doctor"]).code, 0, "{step}");
        w.sentinel_intact();
    }
}

#[test]
fn a_garbage_database_is_kept_aside_byte_for_byte_when_rebuilt() {
    let w = world();
    w.install_ok(&hello("1.0"));
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    w.replace_db(Some(&garbage));
    let o = w.run(&["files", "hello"]);
    assert_eq!(o.code, 2);
    assert!(flat(&o.stderr).contains("--rebuild-db") && flat(&o.stderr).contains("1 text manifest of"), "{}", o.stderr);
    assert_eq!(fs::read(w.db_path()).unwrap(), garbage);
    assert_eq!(w.run(&["doctor", "--rebuild-db"]).code, 1);
    assert_eq!(fs::read(w.r().join("var/lib/igos/pkm.db.broken-1")).unwrap(), garbage, "the damaged file is kept, not deleted");
    assert_eq!(w.installed(), vec!["hello 1.0"]);
    assert_eq!(w.run(&["doctor"]).code, 0);
    w.sentinel_intact();
}

#[test]
fn a_foreign_sqlite_database_is_refused_and_kept_when_rebuilt() {
    let w = world();
    w.install_ok(&hello("1.0"));
    w.replace_db(None);
    {
        let c = rusqlite::Connection::open(w.db_path()).unwrap();
        c.execute_batch("CREATE TABLE accounts (id INTEGER, owner TEXT); INSERT INTO accounts VALUES (1, 'alice');").unwrap();
    }
    let foreign = fs::read(w.db_path()).unwrap();
    let o = w.run(&["list"]);
    assert_eq!(o.code, 2);
    assert!(flat(&o.stderr).contains("not a pkm database") && flat(&o.stderr).contains("--rebuild-db"), "{}", o.stderr);
    assert_eq!(fs::read(w.db_path()).unwrap(), foreign);
    assert_eq!(w.run(&["doctor", "--rebuild-db"]).code, 1);
    assert_eq!(fs::read(w.r().join("var/lib/igos/pkm.db.broken-1")).unwrap(), foreign);
    let accounts = rusqlite::Connection::open(w.r().join("var/lib/igos/pkm.db.broken-1")).unwrap().query_row("SELECT owner FROM accounts", [], |r| r.get::<_, String>(0)).unwrap();
    assert_eq!(accounts, "alice");
    assert_eq!(w.installed(), vec!["hello 1.0"]);
    w.sentinel_intact();
}

#[test]
fn an_empty_database_without_text_manifests_is_a_fresh_system() {
    let w = world();
    fs::write(w.db_path(), b"").unwrap();
    let o = w.run(&["list"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.is_empty());
    w.install_ok(&other());
    assert_eq!(w.installed(), vec!["other 1.0"]);
    assert_consistent(w.r());
}

#[test]
fn rebuild_without_text_manifests_is_refused_and_changes_nothing() {
    let w = world();
    w.install_ok(&other());
    fs::remove_file(w.manifests().join("other-1.0")).unwrap();
    let db_before = fs::read(w.db_path()).unwrap();
    let o = w.run(&["doctor", "--rebuild-db"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(flat(&o.stderr).contains("no text manifests"), "{}", o.stderr);
    assert_eq!(fs::read(w.db_path()).unwrap(), db_before);
    assert!(!w.r().join("var/lib/igos/pkm.db.broken-1").exists());
    assert_eq!(w.installed(), vec!["other 1.0"]);
}

#[test]
fn rebuild_restores_supersede_state_and_ownership() {
    let w = world();
    let ul = pkg("util-linux", "2.39", &[("usr/bin/mount", exe("mount 2.39")), ("usr/bin/cal", exe("cal 2.39"))]);
    let core = pkg("util-linux-core", "2.40", &[("usr/bin/mount", exe("mount 2.40"))]).supersedes(&["util-linux"]);
    w.install_ok(&ul);
    w.install_ok(&core);
    let owners_before = query_strings(w.r(), "SELECT f.path || ' ' || i.name FROM files f JOIN installed i ON i.id = f.package_id ORDER BY f.path, i.name");
    w.replace_db(Some(b""));
    assert_eq!(w.run(&["doctor", "--rebuild-db"]).code, 1);
    assert_eq!(query_strings(w.r(), "SELECT name || ' ' || coalesce(superseded_by, '-') FROM installed ORDER BY name"), vec!["util-linux util-linux-core", "util-linux-core -"]);
    let owners_after = query_strings(w.r(), "SELECT f.path || ' ' || i.name FROM files f JOIN installed i ON i.id = f.package_id ORDER BY f.path, i.name");
    assert_eq!(owners_after, owners_before);
    assert_eq!(w.run(&["doctor"]).code, 0);
    w.sentinel_intact();
}

// ---- intents that cannot be completed ----------------------------------------------------

#[test]
fn an_unparsable_intent_stops_mutations_until_abandoned() {
    let w = world();
    w.install_ok(&hello("1.0"));
    w.insert_intent("install", "ghost", rusqlite::types::Value::Text("{not json".into()));
    let a = w.build(&other());
    let root_before = snapshot(w.r());
    for args in [vec!["install", "--archive-trust", "loose", a.as_str()], vec!["remove", "hello"]] {
        let o = w.run(&args);
        assert_eq!(o.code, 2, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains("pkm::intent::stuck") && flat(&o.stderr).contains("--abandon"), "{args:?}: {}", o.stderr);
        assert_eq!(snapshot(w.r()), root_before, "{args:?}: the root changed");
    }
    assert_eq!(w.installed(), vec!["hello 1.0"]);
    // doctor reports it (exit 1, not 2) and keeps it.
    let d = w.run(&["doctor"]);
    assert_eq!(d.code, 1, "{}\n{}", d.stdout, d.stderr);
    assert!(d.stdout.contains("stuck: the interrupted install of ghost"), "{}", d.stdout);
    assert_eq!(w.intents(), 1);
    // --abandon gives it up; its text stays in the history.
    let d = w.run(&["doctor", "--abandon"]);
    assert_eq!(d.code, 1, "{}\n{}", d.stdout, d.stderr);
    assert!(d.stdout.contains("abandoned:"), "{}", d.stdout);
    assert_eq!(w.intents(), 0);
    let detail = query_strings(w.r(), "SELECT detail FROM history WHERE operation = 'abandon'");
    assert!(detail.len() == 1 && detail[0].contains("{not json"), "{detail:?}");
    assert_eq!(w.run(&["doctor"]).code, 0, "doctor converges");
    assert_eq!(w.install(&[&a]).code, 0);
    assert_eq!(w.installed(), vec!["hello 1.0", "other 1.0"]);
    assert_consistent(w.r());
    w.sentinel_intact();
}

#[test]
fn an_intent_of_unknown_operation_or_binary_plan_is_abandoned_not_retried_forever() {
    let w = world();
    w.install_ok(&other());
    w.insert_intent("frobnicate", "x", rusqlite::types::Value::Text("{}".into()));
    w.insert_intent("remove", "other", rusqlite::types::Value::Blob(vec![0xff, 0x00, 0x1b]));
    let d = w.run(&["doctor"]);
    assert_eq!(d.code, 1);
    assert!(d.stdout.contains("unknown operation `frobnicate`"), "{}", d.stdout);
    let d = w.run(&["doctor", "--abandon"]);
    assert_eq!(d.code, 1, "{}", d.stderr);
    assert_eq!(d.stdout.matches("abandoned:").count(), 2, "{}", d.stdout);
    assert!(!d.stdout.contains('\u{1b}'), "a raw escape reached the output: {:?}", d.stdout);
    assert_eq!(w.intents(), 0);
    assert_eq!(w.installed(), vec!["other 1.0"], "an abandoned removal leaves the package installed");
    assert!(w.r().join("usr/bin/other").exists());
    assert_eq!(w.run(&["doctor"]).code, 0);
}

#[test]
fn a_removal_that_meets_a_directory_completes_and_keeps_it() {
    let w = world();
    w.install_ok(&hello("1.0"));
    // The admin replaced a packaged file with a directory of their own.
    fs::remove_file(w.r().join("usr/bin/hello")).unwrap();
    fs::create_dir(w.r().join("usr/bin/hello")).unwrap();
    fs::write(w.r().join("usr/bin/hello/admin.txt"), "the admin's\n").unwrap();
    let o = w.run(&["remove", "hello"]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("/usr/bin/hello is now a directory"), "{}", o.stdout);
    assert_eq!(fs::read_to_string(w.r().join("usr/bin/hello/admin.txt")).unwrap(), "the admin's\n");
    assert!(!w.r().join("usr/share/hello/README").exists());
    assert!(w.installed().is_empty());
    assert_eq!(w.intents(), 0);
    assert_eq!(w.run(&["doctor"]).code, 0);
    w.sentinel_intact();
}

#[test]
fn an_interrupted_removal_that_then_meets_a_directory_is_completed_by_doctor() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: crash injection needs a debug build");
        return;
    }
    for step in ["remove-intent", "remove-mid"] {
        let w = world();
        w.install_ok(&hello("1.0"));
        let o = pkm(w.r(), &["remove", "hello"], &[("PKM_CRASH_AT", step)]);
        assert!(o.stderr.contains(&format!("PKM_CRASH_AT={step}")), "{step}: {}", o.stderr);
        if w.r().join("usr/share/hello/README").exists() {
            fs::remove_file(w.r().join("usr/share/hello/README")).unwrap();
        }
        fs::create_dir_all(w.r().join("usr/share/hello/README")).unwrap();
        fs::write(w.r().join("usr/share/hello/README/mine"), "mine").unwrap();
        let d = w.run(&["doctor"]);
        assert_eq!(d.code, 1, "{step}: {}\n{}", d.stdout, d.stderr);
        assert!(d.stdout.contains("completed the interrupted removal of hello"), "{step}: {}", d.stdout);
        assert_eq!(fs::read_to_string(w.r().join("usr/share/hello/README/mine")).unwrap(), "mine");
        assert!(!w.r().join("usr/bin/hello").exists(), "{step}");
        assert!(w.installed().is_empty(), "{step}");
        assert_eq!(w.run(&["doctor"]).code, 0, "{step}");
        w.sentinel_intact();
    }
}

#[test]
fn an_install_intent_that_cannot_deploy_is_rolled_back_by_abandon() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: crash injection needs a debug build");
        return;
    }
    let w = world();
    w.install_ok(&other());
    let a = w.build(&hello("1.0"));
    let o = pkm(w.r(), &["install", "--archive-trust", "loose", &a], &[("PKM_CRASH_AT", "deploy-mid")]);
    assert!(o.stderr.contains("PKM_CRASH_AT=deploy-mid"), "{}", o.stderr);
    // Before the roll forward, the admin puts a file where the package needs a directory.
    let _ = fs::remove_dir_all(w.r().join("usr/share/hello"));
    fs::create_dir_all(w.r().join("usr/share")).unwrap();
    fs::write(w.r().join("usr/share/hello"), "admin file\n").unwrap();
    let b = w.build(&pkg("third", "1.0", &[("usr/bin/third", exe("third"))]));
    let o = w.install(&[&b]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("pkm::intent::stuck") && flat(&o.stderr).contains("not a directory"), "{}", o.stderr);
    assert!(!w.r().join("usr/bin/third").exists());
    let d = w.run(&["doctor", "--abandon"]);
    assert_eq!(d.code, 1, "{}\n{}", d.stdout, d.stderr);
    assert!(d.stdout.contains("abandoned: the interrupted install of hello"), "{}", d.stdout);
    assert_eq!(fs::read_to_string(w.r().join("usr/share/hello")).unwrap(), "admin file\n");
    assert!(!w.r().join("usr/bin/hello").exists(), "the half-deployed install is rolled back");
    assert_eq!(w.installed(), vec!["other 1.0"]);
    assert_eq!(w.intents(), 0);
    assert!(fs::read_dir(w.r().join("var/lib/igos/staging")).map(|d| d.count()).unwrap_or(0) == 0, "staging left behind");
    assert_eq!(w.run(&["doctor"]).code, 0);
    assert_eq!(w.install(&[&b]).code, 0);
    w.sentinel_intact();
}

/// A plan read back from the database is data: one whose staging or paths lead outside pkm's
/// state or the root is never followed, and giving it up touches nothing outside.
#[test]
fn a_crafted_install_intent_never_reaches_outside_the_root() {
    let w = world();
    w.install_ok(&other());
    let real_plan = |staging: &str, path: &str| {
        let sha = igos::archive::sha256_reader(&b"x"[..]).unwrap();
        format!(
            r#"{{"manifest":{{"name":"evil","version":"1","release":1,"tier":"","description":"","depends":[],"supersedes":[],"entries":[{{"path":"{path}","kind":{{"File":{{"sha256":"{sha}"}}}},"mode":420,"config":false}}]}},"staging":"{staging}","archive":"x","archive_sha256":"","keep_configs":[],"predecessors":[],"upgrade_from":null,"obsolete":[]}}"#
        )
    };
    // A staging directory elsewhere is read as pkm's own of that name: absent, so the install
    // cannot be completed and is given up; the sentinel it named is never read or removed.
    let sentinel = w.sentinel.path().to_str().unwrap().to_string();
    w.insert_intent("install", "evil", rusqlite::types::Value::Text(real_plan(&sentinel, "keep.txt")));
    let d = w.run(&["doctor"]);
    assert_eq!(d.code, 1, "{}\n{}", d.stdout, d.stderr);
    assert!(d.stdout.contains("repaired: abandoned the interrupted install of evil"), "{}", d.stdout);
    assert!(!w.r().join("keep.txt").exists());
    w.insert_intent("install", "evil", rusqlite::types::Value::Text(real_plan(&format!("{}/var/lib/igos/staging/x", s(w.r())), "../../keep.txt")));
    let d = w.run(&["doctor", "--abandon"]);
    assert_eq!(d.code, 1, "{}\n{}", d.stdout, d.stderr);
    assert!(d.stdout.contains("not a canonical relative path"), "{}", d.stdout);
    assert_eq!(w.intents(), 0);
    assert_eq!(w.installed(), vec!["other 1.0"]);
    assert_eq!(w.run(&["doctor"]).code, 0);
    w.sentinel_intact();
}

// ---- text manifest names -----------------------------------------------------------------

#[test]
fn text_manifest_names_are_unambiguous() {
    use igos::pkm::layout::manifest_file_name as file_name;
    assert_eq!(file_name("hello", "1.0"), "hello-1.0");
    assert_eq!(file_name("a-b", "1"), "a-b-1");
    assert_eq!(file_name("a", "b-1"), "a-b%2D1");
    assert_eq!(file_name(".hidden", "1"), "%2Ehidden-1");
    assert_eq!(file_name("x/y", "1\n"), "x%2Fy-1%0A");
    let pairs = [("a-b", "1"), ("a", "b-1"), ("a-b-1", ""), ("a", "b%2D1"), ("a%2Db", "1"), ("a-", "b-1"), ("a", "-b-1")];
    let names: std::collections::BTreeSet<String> = pairs.iter().map(|(n, v)| file_name(n, v)).collect();
    assert_eq!(names.len(), pairs.len(), "{names:?}");
}

#[test]
fn packages_whose_names_split_the_same_way_get_their_own_manifests() {
    let w = world();
    w.install_ok(&pkg("a-b", "1", &[("usr/bin/ab", exe("ab"))]));
    w.install_ok(&pkg("a", "b-1", &[("usr/bin/a", exe("a"))]));
    let files = files_in(&w.manifests());
    assert_eq!(files.keys().cloned().collect::<Vec<_>>(), vec!["a-b%2D1", "a-b-1"]);
    assert!(String::from_utf8_lossy(&files["a-b-1"]).contains("name: a-b\n"));
    assert!(String::from_utf8_lossy(&files["a-b%2D1"]).contains("version: b-1\n"));
    assert_eq!(w.run(&["doctor"]).code, 0, "doctor converges");
    assert_eq!(w.run(&["remove", "a"]).code, 0);
    assert_eq!(files_in(&w.manifests()).keys().cloned().collect::<Vec<_>>(), vec!["a-b-1"]);
    assert_consistent(w.r());
}

#[test]
fn doctor_migrates_an_old_shared_manifest_name() {
    let w = world();
    w.install_ok(&pkg("a-b", "1", &[("usr/bin/ab", exe("ab"))]));
    w.install_ok(&pkg("a", "b-1", &[("usr/bin/a", exe("a"))]));
    let want = files_in(&w.manifests());
    // The old naming: both packages wrote `a-b-1`, the last one won.
    fs::rename(w.manifests().join("a-b%2D1"), w.manifests().join("a-b-1")).unwrap();
    let d = w.run(&["doctor"]);
    assert_eq!(d.code, 1, "{}", d.stdout);
    assert_eq!(files_in(&w.manifests()), want, "both manifests rewritten under their own names");
    assert_eq!(w.run(&["doctor"]).code, 0, "and doctor converges");
    assert_eq!(w.installed(), vec!["a b-1", "a-b 1"]);
}

#[test]
fn a_legacy_manifest_name_is_replaced_by_the_new_one() {
    let w = world();
    w.install_ok(&pkg("a", "b-1", &[("usr/bin/a", exe("a"))]));
    let text = fs::read(w.manifests().join("a-b%2D1")).unwrap();
    fs::rename(w.manifests().join("a-b%2D1"), w.manifests().join("a-b-1")).unwrap();
    let d = w.run(&["doctor"]);
    assert_eq!(d.code, 1);
    assert!(d.stdout.contains("a stale record of a b-1"), "{}", d.stdout);
    assert_eq!(files_in(&w.manifests()), BTreeMap::from([("a-b%2D1".to_string(), text)]));
    assert_eq!(w.run(&["doctor"]).code, 0);
}

#[test]
fn a_manifest_the_database_does_not_know_is_moved_aside_never_deleted() {
    let w = world();
    w.install_ok(&other());
    let ghost = "format: igos-archive 1\n# installed: 2026-01-01T00:00:00Z\nname: ghost\nversion: 1.0\nrelease: 1\ntier: core\ndescription: x\nfiles:\ndir 0755 usr\n";
    fs::write(w.manifests().join("ghost-1.0"), ghost).unwrap();
    fs::write(w.manifests().join("junk"), "not a manifest\n").unwrap();
    let d = w.run(&["doctor"]);
    assert_eq!(d.code, 1, "{}", d.stdout);
    assert!(d.stdout.contains("ghost 1.0 is not in the database") && d.stdout.contains("moved to"), "{}", d.stdout);
    let orphaned = w.r().join("var/lib/igos/orphaned");
    assert_eq!(fs::read_to_string(orphaned.join("ghost-1.0")).unwrap(), ghost);
    assert_eq!(fs::read_to_string(orphaned.join("junk")).unwrap(), "not a manifest\n");
    assert_eq!(files_in(&w.manifests()).keys().cloned().collect::<Vec<_>>(), vec!["other-1.0"]);
    assert_eq!(w.run(&["doctor"]).code, 0, "doctor converges");
    w.sentinel_intact();
}

#[test]
fn a_manifest_of_a_recorded_removal_is_removed() {
    let w = world();
    w.install_ok(&hello("1.0"));
    let text = fs::read(w.manifests().join("hello-1.0")).unwrap();
    assert_eq!(w.run(&["remove", "hello"]).code, 0);
    // A crash between the removal's commit and the manifest's deletion leaves it behind.
    fs::write(w.manifests().join("hello-1.0"), &text).unwrap();
    let d = w.run(&["doctor"]);
    assert_eq!(d.code, 1);
    assert!(d.stdout.contains("hello 1.0 was removed at"), "{}", d.stdout);
    assert!(!w.manifests().join("hello-1.0").exists());
    assert!(!w.r().join("var/lib/igos/orphaned").exists());
    assert_eq!(w.run(&["doctor"]).code, 0);
}

// ---- output cannot be forged -------------------------------------------------------------

#[test]
fn a_newline_in_a_file_name_cannot_forge_a_line() {
    let w = world();
    let forged = "usr/share/x\nMODIFIED /usr/bin/sudo (sudo)";
    let p = pkg("tricky", "1.0", &[(forged, file("x")), ("usr/share/esc\u{1b}[31mred", file("e"))]);
    let a = p.build(w.arch.path());
    // The archive's own name carries one too (it goes into the history).
    let evil_name = w.arch.path().join("tricky\nFORGED.igos.tar.gz");
    fs::copy(&a, &evil_name).unwrap();
    let o = w.install(&[s(&evil_name)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    fs::write(w.r().join(forged), "changed").unwrap();
    let v = w.run(&["verify"]);
    assert_eq!(v.code, 1);
    let lines: Vec<&str> = v.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "one finding line and the summary: {:?}", v.stdout);
    assert!(lines[0].starts_with("MODIFIED /usr/share/x\\x0aMODIFIED /usr/bin/sudo (sudo) (tricky)"), "{}", lines[0]);
    assert!(!v.stdout.lines().any(|l| l.starts_with("MODIFIED /usr/bin/sudo")));
    let f = w.run(&["files", "tricky"]);
    let rows = query_strings(w.r(), "SELECT path FROM files").len();
    assert_eq!(f.stdout.lines().count(), rows, "one line per entry: {:?}", f.stdout);
    assert!(f.stdout.lines().all(|l| l.starts_with("/usr/")), "{:?}", f.stdout);
    assert!(!f.stdout.contains('\u{1b}') && f.stdout.contains("esc\\x1b[31mred"), "{:?}", f.stdout);
    let own = w.run(&["owns", &format!("/{forged}")]);
    assert_eq!(own.stdout.lines().count(), 1, "{:?}", own.stdout);
    let h = w.run(&["history"]);
    assert!(!h.stdout.lines().any(|l| l.starts_with("FORGED")), "{:?}", h.stdout);
    assert!(h.stdout.contains("tricky\\x0aFORGED"), "{:?}", h.stdout);
    let e = w.run(&["remove", "nope\nFORGED LINE"]);
    assert_eq!(e.code, 1);
    assert!(!e.stderr.contains("\nFORGED LINE") && flat(&e.stderr).contains("nope\\x0aFORGED LINE"), "{}", e.stderr);
    assert_eq!(query_strings(w.r(), "SELECT path FROM files WHERE kind = 'file' AND path LIKE 'usr/share/x%'"), vec![forged.to_string()]);
    w.sentinel_intact();
}

#[test]
fn archive_member_names_in_errors_are_escaped() {
    let w = world();
    // A member the manifest does not declare, named to forge a second diagnostic line.
    let m = "format: igos-archive 1\nname: evil\nversion: 1\nfiles:\ndir 0755 usr\n";
    let mut tb = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(m.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    tb.append_data(&mut h, ".MANIFEST", m.as_bytes()).unwrap();
    let mut d = tar::Header::new_gnu();
    d.set_entry_type(tar::EntryType::Directory);
    d.set_mode(0o755);
    d.set_size(0);
    tb.append_data(&mut d, "usr/", &[][..]).unwrap();
    let mut h2 = tar::Header::new_gnu();
    h2.set_size(1);
    h2.set_mode(0o644);
    h2.set_entry_type(tar::EntryType::Regular);
    tb.append_data(&mut h2, "usr/x\n  \u{1b}[2J× forged: all good", &b"x"[..]).unwrap();
    let tarb = tb.into_inner().unwrap();
    let path = w.arch.path().join("evil-1-1.igos.tar.gz");
    let mut g = flate2::write::GzEncoder::new(fs::File::create(&path).unwrap(), flate2::Compression::fast());
    g.write_all(&tarb).unwrap();
    g.finish().unwrap();
    let before = snapshot(w.r());
    let o = w.install(&[s(&path)]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(flat(&o.stderr).contains("not-in-manifest") && flat(&o.stderr).contains("x\\x0a \\x1b[2J"), "{}", o.stderr);
    assert!(!o.stderr.contains('\u{1b}'), "{:?}", o.stderr);
    // The archive's own file name (a download's, the repository's choice) is data too.
    let named = w.arch.path().join("evil\nFORGED: all good.igos.tar.gz");
    fs::copy(&path, &named).unwrap();
    let o = w.install(&[s(&named)]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(!o.stderr.contains("\nFORGED") && flat(&o.stderr).contains("evil\\x0aFORGED"), "{}", o.stderr);
    assert_eq!(snapshot(w.r()), before);
    w.sentinel_intact();
}

// ---- archives bounded by their manifest --------------------------------------------------

/// Counts the bytes a generator hands to the compressor (the inflated size it produced).
struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}
impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

const TEN_GIB: u64 = 10 << 30;

/// A gzip stream (level 1) of `prefix` followed by `zeros` zero bytes, compressed only as it is
/// read; `produced` counts the inflated bytes generated so far.
fn lazy_gzip(prefix: Vec<u8>, zeros: u64) -> (impl Read, Arc<AtomicU64>) {
    let n = Arc::new(AtomicU64::new(0));
    let src = Counting { inner: std::io::Cursor::new(prefix).chain(std::io::repeat(0).take(zeros)), n: n.clone() };
    (flate2::read::GzEncoder::new(src, flate2::Compression::fast()), n)
}

/// The tar stream of a small valid package (`usr/`, `usr/bin/`, `usr/bin/x` of 100 bytes), with
/// or without its end-of-archive blocks.
fn small_tar() -> Vec<u8> {
    let arch = TempDir::new("bomb");
    let p = pkg("bomb", "1.0", &[("usr/bin/x", Node::File(vec![b'x'; 100], 0o644))]);
    let a = p.build(arch.path());
    let mut t = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(a).unwrap()).read_to_end(&mut t).unwrap();
    t
}

fn staged_bytes(dir: &Path) -> u64 {
    let mut n = 0;
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let m = fs::symlink_metadata(e.path()).unwrap();
        n += if m.is_dir() { staged_bytes(&e.path()) } else { m.len() };
    }
    n
}

#[test]
fn ten_gib_of_zeros_after_the_archive_stop_near_the_declared_size() {
    let (input, produced) = lazy_gzip(small_tar(), TEN_GIB);
    let staging = TempDir::new("bomb-staging");
    let err = igos::archive::extract_archive(input, staging.path(), &igos::archive::Limits::default()).unwrap_err();
    assert_eq!(err.code, "exceeds-manifest", "{err}");
    let made = produced.load(Ordering::Relaxed);
    assert!(made < 4 << 20, "the reader went on inflating: {made} bytes generated");
    assert!(staged_bytes(staging.path()) <= 100, "staged more than the manifest declares");
}

#[test]
fn a_member_larger_than_its_declared_size_is_refused_at_its_header() {
    // The manifest says 100 bytes; the member's header says 10 GiB, all zeros at level 1.
    let manifest = format!(
        "format: igos-archive 1\nname: bomb\nversion: 1\nfiles:\ndir 0755 usr\nfile 0644 {} 100 usr/x\n",
        igos::archive::sha256_reader(&[0u8; 100][..]).unwrap()
    );
    let mut prefix = Vec::new();
    {
        let mut tb = tar::Builder::new(&mut prefix);
        let mut h = tar::Header::new_gnu();
        h.set_size(manifest.len() as u64);
        h.set_mode(0o644);
        tb.append_data(&mut h, ".MANIFEST", manifest.as_bytes()).unwrap();
        let mut d = tar::Header::new_gnu();
        d.set_entry_type(tar::EntryType::Directory);
        d.set_mode(0o755);
        d.set_size(0);
        tb.append_data(&mut d, "usr/", &[][..]).unwrap();
        let mut f = tar::Header::new_gnu();
        f.set_path("usr/x").unwrap();
        f.set_size(TEN_GIB);
        f.set_mode(0o644);
        f.set_entry_type(tar::EntryType::Regular);
        f.set_cksum();
        tb.get_mut().write_all(f.as_bytes()).unwrap();
    }
    let (input, produced) = lazy_gzip(prefix, TEN_GIB);
    let staging = TempDir::new("bomb-staging");
    let err = igos::archive::extract_archive(input, staging.path(), &igos::archive::Limits::default()).unwrap_err();
    assert_eq!(err.code, "size-mismatch", "{err}");
    assert_eq!(err.member.as_deref(), Some("usr/x"));
    assert!(produced.load(Ordering::Relaxed) < 4 << 20, "{}", produced.load(Ordering::Relaxed));
    assert_eq!(staged_bytes(staging.path()), 0);
}

#[test]
fn a_huge_pax_header_before_the_manifest_is_stopped() {
    let mut h = tar::Header::new_ustar();
    h.set_path("pax").unwrap();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(TEN_GIB);
    h.set_mode(0o644);
    h.set_cksum();
    let (input, produced) = lazy_gzip(h.as_bytes().to_vec(), TEN_GIB);
    let staging = TempDir::new("bomb-staging");
    let err = igos::archive::extract_archive(input, staging.path(), &igos::archive::Limits::default()).unwrap_err();
    assert_eq!(err.code, "exceeds-manifest", "{err}");
    // Before the manifest is read, the bound is the manifest's own cap (64 MiB).
    assert!(produced.load(Ordering::Relaxed) < 80 << 20, "{}", produced.load(Ordering::Relaxed));
}

#[test]
fn an_archive_without_declared_sizes_is_refused() {
    let manifest = format!("format: igos-archive 1\nname: nosize\nversion: 1\nfiles:\ndir 0755 usr\nfile 0644 {} usr/x\n", igos::archive::sha256_reader(&b"x"[..]).unwrap());
    let mut tb = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o644);
    tb.append_data(&mut h, ".MANIFEST", manifest.as_bytes()).unwrap();
    let t = tb.into_inner().unwrap();
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(&t).unwrap();
    let staging = TempDir::new("nosize-staging");
    let err = igos::archive::extract_archive(g.finish().unwrap().as_slice(), staging.path(), &igos::archive::Limits::default()).unwrap_err();
    assert_eq!(err.code, "undeclared-size", "{err}");
    assert!(err.to_string().contains("usr/x"), "{err}");
}

#[test]
fn pkm_install_refuses_a_stream_longer_than_its_manifest() {
    let w = world();
    let mut t = small_tar();
    t.extend(std::iter::repeat_n(0u8, 48 << 20));
    let path = w.arch.path().join("bomb-1.0-1.igos.tar.gz");
    let mut g = flate2::write::GzEncoder::new(fs::File::create(&path).unwrap(), flate2::Compression::best());
    g.write_all(&t).unwrap();
    g.finish().unwrap();
    assert!(fs::metadata(&path).unwrap().len() < 1 << 20);
    let before = snapshot(w.r());
    let o = w.install(&[s(&path)]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("pkm::archive::exceeds-manifest"), "{}", o.stderr);
    assert_eq!(snapshot(w.r()), before, "the root changed");
    assert!(w.installed().is_empty());
    w.sentinel_intact();
}

// ---- verify as pacman -Qkk ---------------------------------------------------------------

fn verify_lines(w: &World) -> (i32, Vec<String>) {
    let o = w.run(&["verify"]);
    (o.code, o.stdout.lines().filter(|l| !l.starts_with("verified ")).map(str::to_string).collect())
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn verify_reports_setuid_and_permission_changes() {
    let w = world();
    w.install_ok(&hello("1.0"));
    chmod(&w.r().join("usr/bin/hello"), 0o4755);
    chmod(&w.r().join("usr/share/hello/README"), 0o600);
    chmod(&w.r().join("usr/share/hello"), 0o1777);
    let (code, lines) = verify_lines(&w);
    assert_eq!(code, 1);
    assert_eq!(lines, vec![
        "MODE /usr/bin/hello (hello): expected 0755, found 4755",
        "MODE /usr/share/hello (hello): expected 0755, found 1777",
        "MODE /usr/share/hello/README (hello): expected 0644, found 0600",
    ]);
    assert_eq!(fs::read_to_string(w.r().join("usr/bin/hello")).unwrap(), "hello 1.0", "verify only reads");
}

#[test]
fn verify_reports_setgid_on_a_config_as_a_finding() {
    let w = world();
    w.install_ok(&hello("1.0"));
    fs::write(w.r().join("etc/hello.conf"), "greeting=edited\n").unwrap();
    let (code, lines) = verify_lines(&w);
    assert_eq!(code, 0, "content drift of a config is not a finding: {lines:?}");
    assert_eq!(lines, vec!["CONFIG-DRIFT /etc/hello.conf (hello): size expected 12 bytes, found 16"]);
    chmod(&w.r().join("etc/hello.conf"), 0o2644);
    let (code, lines) = verify_lines(&w);
    assert_eq!(code, 1);
    assert!(lines.contains(&"MODE /etc/hello.conf (hello): expected 0644, found 2644".to_string()), "{lines:?}");
}

#[test]
fn verify_reports_owner_and_group() {
    let w = world();
    w.install_ok(&hello("1.0"));
    let (uid, gid) = igos::pkm::verify::installing_owner();
    assert_eq!(query_strings(w.r(), "SELECT DISTINCT uid || ':' || gid FROM files"), vec![format!("{uid}:{gid}")]);
    if uid != 0 {
        eprintln!("skipped the chown half: not root");
        return;
    }
    std::os::unix::fs::lchown(w.r().join("usr/bin/hello"), Some(1234), Some(5678)).unwrap();
    std::os::unix::fs::lchown(w.r().join("usr/share/hello/README"), None, Some(42)).unwrap();
    let (code, lines) = verify_lines(&w);
    assert_eq!(code, 1);
    assert_eq!(lines, vec![
        "OWNER /usr/bin/hello (hello): expected uid 0, found uid 1234",
        "GROUP /usr/bin/hello (hello): expected gid 0, found gid 5678",
        "GROUP /usr/share/hello/README (hello): expected gid 0, found gid 42",
    ]);
}

#[test]
fn verify_reports_type_changes_and_symlink_targets() {
    let w = world();
    w.install_ok(&pkg("libfoo", "1.0", &[("usr/lib/libfoo.so.1", file("ELF foo")), ("usr/lib/libfoo.so", link("libfoo.so.1")), ("usr/share/foo/data", file("d"))]));
    let r = w.r();
    fs::remove_file(r.join("usr/lib/libfoo.so")).unwrap();
    symlink("/etc/shadow", r.join("usr/lib/libfoo.so")).unwrap();
    fs::remove_file(r.join("usr/lib/libfoo.so.1")).unwrap();
    symlink("libfoo.so", r.join("usr/lib/libfoo.so.1")).unwrap();
    fs::remove_dir_all(r.join("usr/share/foo")).unwrap();
    fs::write(r.join("usr/share/foo"), "now a file").unwrap();
    let (code, lines) = verify_lines(&w);
    assert_eq!(code, 1);
    assert_eq!(lines, vec![
        "LINK-CHANGED /usr/lib/libfoo.so (libfoo): expected -> libfoo.so.1, found -> /etc/shadow",
        "WRONG-TYPE /usr/lib/libfoo.so.1 (libfoo): expected a file, found a symlink",
        "WRONG-TYPE /usr/share/foo (libfoo): expected a directory, found a file",
        "MISSING /usr/share/foo/data (libfoo)",
    ]);
}

#[test]
fn verify_reports_size_and_sha256_with_both_values() {
    let w = world();
    w.install_ok(&hello("1.0"));
    let want = igos::archive::hash_file(&w.r().join("usr/bin/hello")).unwrap();
    fs::write(w.r().join("usr/bin/hello"), "HELLO 1.0").unwrap(); // same length
    fs::write(w.r().join("usr/share/hello/README"), "longer readme").unwrap();
    let got = igos::archive::hash_file(&w.r().join("usr/bin/hello")).unwrap();
    let (code, lines) = verify_lines(&w);
    assert_eq!(code, 1);
    assert_eq!(lines, vec![
        format!("MODIFIED /usr/bin/hello (hello): SHA-256 expected {want}, found {got}"),
        "MODIFIED /usr/share/hello/README (hello): size expected 10 bytes, found 13".to_string(),
    ]);
}

// ---- downgrades --------------------------------------------------------------------------

#[test]
fn a_downgrade_is_refused_without_allow_downgrade() {
    let w = world();
    w.install_ok(&hello("2.0"));
    let a = w.build(&hello("1.0"));
    let before = snapshot(w.r());
    let history = w.history_ops();
    let o = w.install(&[&a]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("pkm::downgrade") && flat(&o.stderr).contains("older than the installed 2.0-1") && flat(&o.stderr).contains("--allow-downgrade"), "{}", o.stderr);
    assert_eq!(snapshot(w.r()), before);
    assert_eq!(w.installed(), vec!["hello 2.0"]);
    assert_eq!(w.history_ops(), history);
    // Version order is pacman's, not the strings': 1.10 is newer than 1.9.
    w.install_ok(&pkg("v", "1.9", &[("usr/bin/v", exe("1.9"))]));
    w.install_ok(&pkg("v", "1.10", &[("usr/bin/v", exe("1.10"))]));
    assert_eq!(w.install(&[&w.build(&pkg("v", "1.9", &[("usr/bin/v", exe("1.9"))]))]).code, 1);
    w.sentinel_intact();
}

#[test]
fn a_downgrade_with_allow_downgrade_is_reported_as_one() {
    let w = world();
    w.install_ok(&hello("2.0"));
    let a = w.build(&hello("1.0"));
    let o = w.run(&["install", "--archive-trust", "loose", "--allow-downgrade", &a]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("downgraded hello 1.0-1"), "{}", o.stdout);
    assert_eq!(w.installed(), vec!["hello 1.0"]);
    assert_eq!(fs::read_to_string(w.r().join("usr/bin/hello")).unwrap(), "hello 1.0");
    assert_consistent(w.r());
}

// ---- shared directories and .new names ---------------------------------------------------

#[test]
fn an_upgrade_keeps_a_directory_another_package_owns() {
    let w = world();
    w.install_ok(&pkg("a", "1.0", &[("usr/share/common/a.txt", file("a")), ("usr/bin/a", exe("a"))]));
    w.install_ok(&pkg("b", "1.0", &[("usr/share/common", Node::Dir(0o755))]));
    w.install_ok(&pkg("a", "2.0", &[("usr/bin/a", exe("a2"))]));
    assert!(w.r().join("usr/share/common").is_dir(), "the upgrade removed a directory b owns");
    assert!(!w.r().join("usr/share/common/a.txt").exists());
    assert_eq!(query_strings(w.r(), "SELECT i.name FROM files f JOIN installed i ON i.id = f.package_id WHERE f.path = 'usr/share/common'"), vec!["b"]);
    assert_eq!(w.run(&["verify"]).code, 0);
    assert_consistent(w.r());
}

#[test]
fn a_removal_keeps_a_directory_another_package_owns_until_the_last_owner_goes() {
    let w = world();
    w.install_ok(&pkg("a", "1.0", &[("usr/share/common/a.txt", file("a"))]));
    w.install_ok(&pkg("b", "1.0", &[("usr/share/common", Node::Dir(0o755))]));
    assert_eq!(w.run(&["remove", "a"]).code, 0);
    assert!(w.r().join("usr/share/common").is_dir());
    assert_eq!(w.run(&["verify", "b"]).code, 0);
    assert_eq!(w.run(&["remove", "b"]).code, 0);
    assert!(!w.r().join("usr/share/common").exists(), "the last owner removes it");
    assert!(w.r().join("usr/bin/.keep").exists(), "what no package owns stays");
    assert_consistent(w.r());
}

#[test]
fn a_new_config_never_replaces_the_admins_dot_new() {
    let w = world();
    w.install_ok(&hello("1.0"));
    fs::write(w.r().join("etc/hello.conf"), "greeting=mine\n").unwrap();
    fs::write(w.r().join("etc/hello.conf.new"), "my own notes\n").unwrap();
    let a = w.build(&pkg("hello", "2.0", &[("usr/bin/hello", exe("hello 2.0")), ("etc/hello.conf", file("greeting=v2\n"))]));
    let o = w.install(&[&a]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("/etc/hello.conf.new already exists, so the new version is at /etc/hello.conf.new.1"), "{}", o.stdout);
    assert_eq!(fs::read_to_string(w.r().join("etc/hello.conf.new")).unwrap(), "my own notes\n");
    assert_eq!(fs::read_to_string(w.r().join("etc/hello.conf")).unwrap(), "greeting=mine\n");
    assert_eq!(fs::read_to_string(w.r().join("etc/hello.conf.new.1")).unwrap(), "greeting=v2\n");
    w.sentinel_intact();
}

#[test]
fn a_new_config_never_replaces_another_packages_file() {
    let w = world();
    w.install_ok(&hello("1.0"));
    w.install_ok(&pkg("squatter", "1.0", &[("etc/hello.conf.new", file("squatter's\n"))]));
    fs::write(w.r().join("etc/hello.conf"), "greeting=mine\n").unwrap();
    let a = w.build(&pkg("hello", "2.0", &[("usr/bin/hello", exe("hello 2.0")), ("etc/hello.conf", file("greeting=v2\n"))]));
    let o = w.install(&[&a]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(fs::read_to_string(w.r().join("etc/hello.conf.new")).unwrap(), "squatter's\n");
    assert_eq!(fs::read_to_string(w.r().join("etc/hello.conf.new.1")).unwrap(), "greeting=v2\n");
    assert_eq!(w.run(&["verify", "squatter"]).code, 0);
}

#[test]
fn a_resumed_upgrade_writes_the_dot_new_name_it_chose() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: crash injection needs a debug build");
        return;
    }
    for step in ["intent", "deploy-mid", "deployed"] {
        let w = world();
        w.install_ok(&hello("1.0"));
        fs::write(w.r().join("etc/hello.conf"), "greeting=mine\n").unwrap();
        fs::write(w.r().join("etc/hello.conf.new"), "admin\n").unwrap();
        let a = w.build(&pkg("hello", "2.0", &[("etc/hello.conf", file("greeting=v2\n")), ("usr/bin/hello", exe("hello 2.0"))]));
        let o = pkm(w.r(), &["install", "--archive-trust", "loose", &a], &[("PKM_CRASH_AT", step)]);
        assert!(o.stderr.contains(&format!("PKM_CRASH_AT={step}")), "{step}: {}", o.stderr);
        assert_eq!(w.run(&["doctor"]).code, 1, "{step}");
        assert_eq!(fs::read_to_string(w.r().join("etc/hello.conf.new")).unwrap(), "admin\n", "{step}");
        assert_eq!(fs::read_to_string(w.r().join("etc/hello.conf.new.1")).unwrap(), "greeting=v2\n", "{step}");
        assert!(!w.r().join("etc/hello.conf.new.2").exists(), "{step}: the resumed deploy chose another name");
        assert_eq!(w.installed(), vec!["hello 2.0"], "{step}");
        assert_consistent(w.r());
    }
}

// ---- state reached through symlinks; an older schema ---------------------------------------

/// pkm's own deletions and writes (stale staging, text manifests) never follow a symlink out of
/// the root: the sentinel is what such a link points at.
#[test]
fn doctor_never_cleans_or_reconciles_through_a_symlinked_state_directory() {
    for which in ["packages", "staging"] {
        let w = world();
        w.install_ok(&other());
        let state = w.r().join("var/lib/igos");
        let _ = fs::remove_dir_all(state.join(which));
        symlink(w.sentinel.path(), state.join(which)).unwrap();
        let db_before = query_strings(w.r(), "SELECT name FROM installed");
        let d = w.run(&["doctor"]);
        assert_eq!(d.code, 2, "{which}: {}\n{}", d.stdout, d.stderr);
        assert!(d.stderr.contains("pkm::state::unsafe") && flat(&d.stderr).contains("a symlink"), "{which}: {}", d.stderr);
        w.sentinel_intact();
        assert_eq!(query_strings(w.r(), "SELECT name FROM installed"), db_before, "{which}");
        // Once the admin puts a real directory back, doctor converges.
        fs::remove_file(state.join(which)).unwrap();
        assert!(w.run(&["doctor"]).code <= 1, "{which}");
        assert_eq!(w.run(&["doctor"]).code, 0, "{which}");
        w.sentinel_intact();
    }
}

#[test]
fn a_schema_1_database_is_migrated_and_verified_without_owner_or_size() {
    let w = world();
    w.install_ok(&hello("1.0"));
    {
        let c = db(w.r());
        // Schema 1 as the first pkm left it: no file sizes or owners (2), no repository
        // columns in `available` (3).
        c.execute_batch("ALTER TABLE files DROP COLUMN size; ALTER TABLE files DROP COLUMN uid; ALTER TABLE files DROP COLUMN gid;").unwrap();
        for col in ["repo", "repo_url", "position", "key_id", "size", "depends", "supersedes", "signed"] {
            c.execute_batch(&format!("ALTER TABLE available DROP COLUMN {col};")).unwrap();
        }
        c.execute_batch("PRAGMA user_version = 1;").unwrap();
    }
    // The text manifest as pkm wrote it then: file lines without a size.
    let tm = w.manifests().join("hello-1.0");
    let old: String = fs::read_to_string(&tm)
        .unwrap()
        .lines()
        .map(|l| match l.split(' ').collect::<Vec<_>>().as_slice() {
            ["file", mode, sha, _size, rest @ ..] => format!("file {mode} {sha} {}\n", rest.join(" ")),
            _ => format!("{l}\n"),
        })
        .collect();
    fs::write(&tm, &old).unwrap();
    let v = w.run(&["verify"]);
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);
    assert_eq!(query_strings(w.r(), "SELECT count(*) || '' FROM files WHERE size IS NULL AND uid IS NULL"), vec!["8"]);
    assert_eq!(db(w.r()).query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), igos::pkm::schema::SCHEMA_VERSION);
    assert_eq!(query_strings(w.r(), "SELECT count(*) || '' FROM pragma_table_info('available') WHERE name IN ('repo', 'signed')"), vec!["2"], "the repository columns were added");
    fs::write(w.r().join("usr/bin/hello"), "HELLO 1.0").unwrap();
    let v = w.run(&["verify"]);
    assert_eq!(v.code, 1);
    assert!(v.stdout.starts_with("MODIFIED /usr/bin/hello (hello): SHA-256 expected"), "{}", v.stdout);
    assert_eq!(w.run(&["doctor"]).code, 0, "the text manifests of a schema 1 database (no sizes) still agree");
    assert_eq!(fs::read_to_string(&tm).unwrap(), old);
}

#[test]
fn a_manifest_declaring_more_than_the_free_space_is_refused_before_any_content() {
    let staging = TempDir::new("nospace-staging");
    let free = {
        let s = rustix::fs::statvfs(staging.path()).unwrap();
        s.f_bavail * s.f_frsize
    };
    let size = free + (1 << 30);
    if size > igos::archive::Limits::default().max_total {
        eprintln!("skipped: {free} bytes free, more than the total cap allows declaring");
        return;
    }
    let manifest = format!("format: igos-archive 1\nname: big\nversion: 1\nfiles:\ndir 0755 usr\nfile 0644 {} {size} usr/x\n", "0".repeat(64));
    let mut prefix = Vec::new();
    {
        let mut tb = tar::Builder::new(&mut prefix);
        let mut h = tar::Header::new_gnu();
        h.set_size(manifest.len() as u64);
        h.set_mode(0o644);
        tb.append_data(&mut h, ".MANIFEST", manifest.as_bytes()).unwrap();
    }
    let (input, produced) = lazy_gzip(prefix, size);
    let err = igos::archive::extract_archive(input, staging.path(), &igos::archive::Limits::default()).unwrap_err();
    assert_eq!(err.code, "no-space", "{err}");
    assert!(produced.load(Ordering::Relaxed) < 4 << 20);
    assert_eq!(staged_bytes(staging.path()), 0);
}

// ---- the diagnostics as users see them ---------------------------------------------------

fn snap(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

/// A root at `<tmp>/root`, run from `<tmp>` as `--root root`: paths in diagnostics are short
/// and the same on every run, so the wrapping is too.
struct Short {
    tmp: TempDir,
}

impl Short {
    fn new() -> Short {
        let tmp = TempDir::new("recovery-diag");
        let r = tmp.path().join("root");
        for d in ["usr/bin", "etc", "var/lib/igos"] {
            fs::create_dir_all(r.join(d)).unwrap();
        }
        Short { tmp }
    }
    fn run(&self, args: &[&str]) -> Out {
        pkm_in(Some(self.tmp.path()), Path::new("root"), args, &[])
    }
    fn archive(&self, p: &Pkg) -> String {
        p.build(self.tmp.path());
        p.file_name()
    }
    fn render(&self, o: &Out) -> String {
        format!("exit: {}\nstdout:\n{}stderr:\n{}", o.code, o.stdout, o.stderr)
    }
}

#[test]
fn diagnostics_of_recovery() {
    let s = Short::new();
    let h2 = s.archive(&hello("2.0"));
    let h1 = s.archive(&hello("1.0"));
    assert_eq!(s.run(&["install", "--archive-trust", "loose", &h2]).code, 0);
    snap("pkm_recovery_downgrade", &s.render(&s.run(&["install", "--archive-trust", "loose", &h1])));
    db(&s.tmp.path().join("root"))
        .execute("INSERT INTO intents(operation, package_name, plan, created) VALUES ('remove', 'hello', 'not json', '2026-01-01T00:00:00Z')", [])
        .unwrap();
    snap("pkm_recovery_stuck_intent", &s.render(&s.run(&["remove", "hello"])));
    snap("pkm_recovery_doctor_stuck", &s.render(&s.run(&["doctor"])));
    snap("pkm_recovery_doctor_abandon", &s.render(&s.run(&["doctor", "--abandon"])));
    let dbp = s.tmp.path().join("root/var/lib/igos/pkm.db");
    for sfx in ["-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{sfx}", dbp.display()));
    }
    fs::write(&dbp, b"").unwrap();
    snap("pkm_recovery_lost_database", &s.render(&s.run(&["list"])));
    snap("pkm_recovery_rebuild", &s.render(&s.run(&["doctor", "--rebuild-db"])));
}

#[test]
fn an_intent_written_under_another_spelling_of_the_root_is_completed() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: crash injection needs a debug build");
        return;
    }
    let w = world();
    let parent = w.r().parent().unwrap();
    let rel = Path::new(w.r().file_name().unwrap());
    let a = w.build(&hello("1.0"));
    let o = pkm_in(Some(parent), rel, &["install", "--archive-trust", "loose", &a], &[("PKM_CRASH_AT", "intent")]);
    assert!(o.stderr.contains("PKM_CRASH_AT=intent"), "{}", o.stderr);
    let d = pkm(&PathBuf::from(format!("{}/", w.r().display())), &["doctor"], &[]);
    assert_eq!(d.code, 1, "{}\n{}", d.stdout, d.stderr);
    assert!(d.stdout.contains("completed the interrupted install of hello"), "{}", d.stdout);
    assert_eq!(fs::read_to_string(w.r().join("usr/bin/hello")).unwrap(), "hello 1.0");
    assert_consistent(w.r());
    w.sentinel_intact();
}
