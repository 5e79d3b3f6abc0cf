//! pkm under faults other than a crash (tests/pkm_crash.rs has those): a read-only target
//! tree, a read-only root, a full disk, and several pkm processes at once on one root.
//!
//! * Read-only: the tree is bind-mounted read-only in a private mount namespace
//!   (`unshare -rm`), which binds root too (chmod 0555 does not stop root). Where no
//!   namespace can be made the test says `skipped:` and why.
//! * Full disk: `ulimit -f` (RLIMIT_FSIZE) with SIGXFSZ ignored, so a write past the limit
//!   fails with EFBIG the way a full disk fails it with ENOSPC: a short or failed write(2)
//!   in the middle of staging or of SQLite's journal. It is swept over limits from 4 KiB to
//!   2 MiB so the failure lands at every write that can fail.
//!
//! After each fault: the run failed with a diagnostic (or succeeded), no panic; the database
//! and the root are the old state or the new one, never in between; `pkm doctor` is clean
//! once the fault is gone; nothing half-written (no staging, no `.pkm-tmp`).

mod pkm_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use pkm_support::*;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

struct World {
    root: TempDir,
    _arch: TempDir,
    v1: PathBuf,
    v2: PathBuf,
    other: PathBuf,
    big: PathBuf,
}

/// hello 1.0 and 1.1 (an upgrade: a file changed, one dropped, one added, a config),
/// `other`, and `big` with a 3 MiB file.
fn world() -> World {
    let root = fresh_root();
    let arch = TempDir::new("faults-arch");
    let v1 = pkg("hello", "1.0", &[
        ("usr/bin/hello", exe("hello 1.0")),
        ("usr/share/hello/old", file("dropped in 1.1")),
        ("etc/hello.conf", file("greeting = hi\n")),
    ]);
    let v2 = pkg("hello", "1.1", &[
        ("usr/bin/hello", exe("hello 1.1")),
        ("usr/share/hello/new", file("added in 1.1")),
        ("etc/hello.conf", file("greeting = hello\n")),
    ]);
    let other = pkg("other", "1.0", &[("usr/bin/other", exe("other")), ("usr/share/other/data", file(&"x".repeat(100_000)))]);
    let big_content: Vec<u8> = (0..3u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let big = pkg("big", "1.0", &[("usr/share/big/blob", Node::File(big_content, 0o644)), ("usr/bin/big", exe("big"))]);
    let (a1, a2, ao, ab) = (v1.build(arch.path()), v2.build(arch.path()), other.build(arch.path()), big.build(arch.path()));
    // The index trusts v1, other and big; v2 is added on its own line (same name).
    let idx = index_for(arch.path(), &[(&v1, &a1), (&other, &ao), (&big, &ab)]);
    let mut text = std::fs::read_to_string(&idx).expect("index");
    text.push_str(&format!("hello 1.1 1 {} {}\n", igos::archive::hash_file(&a2).expect("hash"), v2.file_name()));
    std::fs::write(&idx, text).expect("index");
    let o = pkm(root.path(), &["sync", s(&idx)], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    World { root, _arch: arch, v1: a1, v2: a2, other: ao, big: ab }
}

/// What the database says: installed packages with versions, every file row, intents.
fn db_state(root: &Path) -> Vec<String> {
    let mut v = query_strings(root, "SELECT name || ' ' || version FROM installed ORDER BY name");
    v.extend(query_strings(root, "SELECT f.path || ' ' || i.name || ' ' || coalesce(f.sha256, '') FROM files f JOIN installed i ON i.id = f.package_id ORDER BY f.path"));
    v.extend(query_strings(root, "SELECT 'intent ' || operation || ' ' || package_name FROM intents ORDER BY id"));
    v
}

/// Database and files, pkm's own state files excluded (snapshot skips var/lib/igos/pkm.*).
fn state(root: &Path) -> (Vec<String>, Vec<(String, String)>) {
    let files = snapshot(root).into_iter().filter(|(k, _)| !k.starts_with("var/lib/igos/packages") && !k.starts_with("var/lib/igos/staging")).collect();
    (db_state(root), files)
}

fn no_leftovers(root: &Path, what: &str) {
    let staging = root.join("var/lib/igos/staging");
    if staging.exists() {
        let n = std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0);
        assert_eq!(n, 0, "{what}: staging left behind");
    }
    for (p, _) in snapshot(root) {
        assert!(!p.ends_with(".pkm-tmp"), "{what}: half-written {p}");
    }
}

fn no_panic(o: &Out, what: &str) {
    assert!(!o.stderr.contains("panicked") && !o.stderr.contains("RUST_BACKTRACE"), "{what}: panic\n{}", o.stderr);
    assert!(o.code >= 0, "{what}: killed by a signal\n{}", o.stderr);
}

/// Run pkm under a shell prefix (`ulimit`, `unshare`), arguments passed through "$@".
fn pkm_wrapped(script: &str, pre: &[&str], root: &Path, args: &[&str]) -> Out {
    let mut c = Command::new("sh");
    c.arg("-c").arg(script).arg("sh").args(pre).arg(env!("CARGO_BIN_EXE_pkm")).arg("--root").arg(root).args(args);
    c.env("NO_COLOR", "1").env("PKM_NOW", "1767225600").env("RUST_BACKTRACE", "1");
    let o = c.output().expect("sh runs");
    Out { code: o.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&o.stdout).into(), stderr: String::from_utf8_lossy(&o.stderr).into() }
}

// ---- read-only --------------------------------------------------------------------------

/// Bind-mount each of `ro` (absolute) read-only in a private mount namespace, then exec pkm.
const RO_SCRIPT: &str = r#"n=$1; shift; i=0; while [ $i -lt $n ]; do d=$1; shift; mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" || exit 97; i=$((i+1)); done; exec "$@""#;

fn pkm_read_only(ro: &[&Path], root: &Path, args: &[&str]) -> Option<Out> {
    let mut c = Command::new("unshare");
    c.arg("-rm").arg("sh").arg("-c").arg(RO_SCRIPT).arg("sh").arg(ro.len().to_string());
    for d in ro {
        c.arg(d);
    }
    c.arg(env!("CARGO_BIN_EXE_pkm")).arg("--root").arg(root).args(args);
    c.env("NO_COLOR", "1").env("PKM_NOW", "1767225600").env("RUST_BACKTRACE", "1");
    let o = c.output().ok()?;
    if o.status.code() == Some(97) || (o.status.code() == Some(1) && o.stdout.is_empty() && String::from_utf8_lossy(&o.stderr).contains("unshare")) {
        return None;
    }
    Some(Out { code: o.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&o.stdout).into(), stderr: String::from_utf8_lossy(&o.stderr).into() })
}

fn namespaces_available() -> bool {
    let t = TempDir::new("ns-probe");
    let ok = Command::new("unshare")
        .args(["-rm", "sh", "-c", r#"mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && ! touch "$0/x" 2>/dev/null"#])
        .arg(t.path())
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: cannot make a read-only bind mount (unshare -rm unavailable here)");
    }
    ok
}

/// The installed packages and their versions (the database's view, without intents).
fn installed(root: &Path) -> Vec<String> {
    query_strings(root, "SELECT name || ' ' || version FROM installed ORDER BY name")
}

fn pending_intents(root: &Path) -> usize {
    query_strings(root, "SELECT operation FROM intents").len()
}

/// /usr and /etc read-only, /var/lib/igos writable: install, upgrade and removal.
///
/// Each is refused before its intent (every directory it deletes from, or writes into, must
/// be writable): no intent, state unchanged, and it works once the tree is writable.
#[test]
fn read_only_target_tree_fails_cleanly() {
    if !namespaces_available() {
        return;
    }
    for what in ["install", "upgrade", "remove"] {
        let w = world();
        let r = w.root.path();
        assert_eq!(pkm(r, &["install", s(&w.v1)], &[]).code, 0);
        let args = match what {
            "install" => vec!["install", s(&w.other)],
            "upgrade" => vec!["install", s(&w.v2)],
            _ => vec!["remove", "hello"],
        };
        let before = state(r);
        let o = pkm_read_only(&[&r.join("usr"), &r.join("etc")], r, &args).expect("namespace");
        no_panic(&o, what);
        assert_ne!(o.code, 0, "{what} on a read-only tree succeeded\n{}", o.stderr);
        // The diagnostic is wrapped at 100 columns: join its continuation lines first.
        let flat = o.stderr.replace("\n  │ ", "");
        assert!(flat.contains("Read-only"), "{what}: the diagnostic does not say why\n{}", o.stderr);
        let after = state(r);
        assert_eq!(after, before, "{what}: state changed by a refused run\n{}", o.stderr);
        assert_eq!(pending_intents(r), 0, "{what}: refused before the intent");
        no_leftovers_but_intent_staging(r, what);
        let code = if what == "remove" { "pkm::remove::not-writable" } else { "pkm::install::not-writable" };
        assert!(o.stderr.contains(code) && o.stderr.contains("nothing was"), "{what}: {}", o.stderr);
        assert_consistent(r);
        assert_eq!(pkm(r, &args, &[]).code, 0, "{what} once writable");
        assert_consistent(r);
    }
}

fn installed_of(db_state: &[String]) -> Vec<String> {
    db_state.iter().filter(|l| !l.contains('/') && !l.starts_with("intent ") && l.split(' ').count() == 2).cloned().collect()
}

/// No `.pkm-tmp` anywhere; staging only as a pending intent's own directory.
fn no_leftovers_but_intent_staging(root: &Path, what: &str) {
    for (p, _) in snapshot(root) {
        assert!(!p.ends_with(".pkm-tmp"), "{what}: half-written {p}");
    }
    let staging = root.join("var/lib/igos/staging");
    let n = std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0);
    assert!(n <= pending_intents(root), "{what}: {n} staging directories for {} intents", pending_intents(root));
}

#[test]
fn read_only_root_fails_cleanly() {
    if !namespaces_available() {
        return;
    }
    let w = world();
    let r = w.root.path();
    assert_eq!(pkm(r, &["install", s(&w.v1)], &[]).code, 0);
    for args in [vec!["install", s(&w.other)], vec!["install", s(&w.v2)], vec!["remove", "hello"], vec!["doctor"]] {
        let what = args.join(" ");
        let before = state(r);
        let db_bytes = std::fs::read(r.join("var/lib/igos/pkm.db")).expect("db");
        let o = pkm_read_only(&[r], r, &args).expect("namespace");
        no_panic(&o, &what);
        assert_ne!(o.code, 0, "{what} on a read-only root succeeded");
        assert!(o.stderr.contains("Read-only") || o.stderr.contains("readonly") || o.stderr.contains("read-only"), "{what}\n{}", o.stderr);
        assert_eq!(state(r), before, "{what}: state changed");
        assert!(std::fs::read(r.join("var/lib/igos/pkm.db")).expect("db") == db_bytes, "{what}: database bytes changed");
    }
    assert_consistent(r);
    // Reads still work on a read-only root.
    let o = pkm_read_only(&[r], r, &["list"]).expect("namespace");
    assert_eq!(o.code, 0, "list on a read-only root\n{}", o.stderr);
    assert!(o.stdout.contains("hello"), "{}", o.stdout);
}

// ---- full disk --------------------------------------------------------------------------

const FSIZE_SCRIPT: &str = r#"ulimit -f "$1" || exit 98; shift; trap '' XFSZ; exec "$@""#;

/// Sweep RLIMIT_FSIZE (in 512-byte blocks) over install, upgrade, large install and removal.
#[test]
fn full_disk_fails_cleanly_or_completes() {
    let limits = [8u32, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
    let mut runs = 0;
    let mut failed = 0;
    let mut rolled = 0;
    for op in ["install", "upgrade", "big", "remove"] {
        let w = world();
        let r = w.root.path();
        if op != "install" && op != "big" {
            assert_eq!(pkm(r, &["install", s(&w.v1)], &[]).code, 0);
        }
        let args: Vec<&str> = match op {
            "install" => vec!["install", s(&w.v1)],
            "upgrade" => vec!["install", s(&w.v2)],
            "big" => vec!["install", s(&w.big)],
            _ => vec!["remove", "hello"],
        };
        for lim in limits {
            let what = format!("{op} with ulimit -f {lim}");
            let before = state(r);
            let o = pkm_wrapped(FSIZE_SCRIPT, &[&lim.to_string()], r, &args);
            assert_ne!(o.code, 98, "ulimit -f unsupported");
            no_panic(&o, &what);
            runs += 1;
            if o.code == 0 {
                // Completed: the next limit starts from the new state, after undoing it.
                assert_consistent(r);
                let undo = match op {
                    "install" => pkm(r, &["remove", "hello"], &[]),
                    "big" => pkm(r, &["remove", "big"], &[]),
                    "upgrade" => {
                        assert_eq!(pkm(r, &["remove", "hello"], &[]).code, 0);
                        pkm(r, &["install", s(&w.v1)], &[])
                    }
                    _ => pkm(r, &["install", s(&w.v1)], &[]),
                };
                assert_eq!(undo.code, 0, "{what}: undo\n{}", undo.stderr);
                continue;
            }
            failed += 1;
            assert!(o.stderr.contains("pkm::"), "{what}: no diagnostic\n{}", o.stderr);
            // Failed: the old state; or, when the write failed after the intent was
            // committed, the package records are the old ones and the next run without the
            // fault rolls the intent forward to the new state (as after a crash).
            let after = state(r);
            if pending_intents(r) > 0 {
                rolled += 1;
                assert_eq!(installed(r), installed_of(&before.0), "{what}: package records changed before the commit");
                no_leftovers_but_intent_staging(r, &what);
                let d = pkm(r, &["doctor"], &[]);
                assert!(d.code == 0 || d.code == 1, "{what}: doctor\n{}", d.stderr);
                assert_consistent(r);
                let want: Vec<String> = match op {
                    "install" => vec!["hello 1.0".into()],
                    "big" => vec!["big 1.0".into()],
                    "upgrade" => vec!["hello 1.1".into()],
                    _ => vec![],
                };
                assert_eq!(installed(r), want, "{what}: rolled forward to the new state");
                // Back to the start state for the next limit.
                let undo = match op {
                    "install" => pkm(r, &["remove", "hello"], &[]),
                    "big" => pkm(r, &["remove", "big"], &[]),
                    "upgrade" => {
                        assert_eq!(pkm(r, &["remove", "hello"], &[]).code, 0);
                        pkm(r, &["install", s(&w.v1)], &[])
                    }
                    _ => pkm(r, &["install", s(&w.v1)], &[]),
                };
                assert_eq!(undo.code, 0, "{what}: undo\n{}", undo.stderr);
                continue;
            }
            assert_eq!(after, before, "{what}: state changed by a failed run\n{}", o.stderr);
            no_leftovers(r, &what);
            assert_consistent(r);
        }
    }
    eprintln!("full disk: {runs} runs: {} completed, {} failed with the state unchanged, {rolled} failed after the intent and were rolled forward", runs - failed, failed - rolled);
    assert!(failed >= 8, "the limits never bit: {failed} failures");
}

// ---- several pkm at once -----------------------------------------------------------------

/// Six processes, each looping install/remove over overlapping packages on one root, for a
/// fixed number of rounds. Each run either succeeds or fails clearly (the lock, or a
/// finding such as already-installed / not-installed); afterwards the root is consistent.
#[test]
fn concurrent_pkm_processes_never_corrupt() {
    let root = fresh_root();
    let arch = TempDir::new("stress-arch");
    let pkgs: Vec<Pkg> = (0..4)
        .map(|i| {
            let mut tree: Vec<(String, Node)> = (0..30).map(|j| (format!("usr/share/p{i}/f{j:02}"), file(&format!("{i}/{j}")))).collect();
            tree.push((format!("usr/bin/p{i}"), exe(&format!("p{i}"))));
            Pkg { name: format!("p{i}"), version: "1.0".into(), supersedes: vec![], depends: vec![], tree }
        })
        .collect();
    let built: Vec<PathBuf> = pkgs.iter().map(|p| p.build(arch.path())).collect();
    let pairs: Vec<(&Pkg, &Path)> = pkgs.iter().zip(built.iter().map(|b| b.as_path())).collect();
    let idx = index_for(arch.path(), &pairs);
    assert_eq!(pkm(root.path(), &["sync", s(&idx)], &[]).code, 0);
    let procs = 6;
    let rounds = 8;
    let r = root.path().to_path_buf();
    let handles: Vec<_> = (0..procs)
        .map(|k| {
            let r = r.clone();
            let built = built.clone();
            std::thread::spawn(move || {
                let mut outcomes = vec![];
                for round in 0..rounds {
                    // Overlapping: process k works on p(k % 4) and p((k + round) % 4).
                    let a = k % 4;
                    let b = (k + round) % 4;
                    for (args, what) in [
                        (vec!["install".to_string(), built[a].display().to_string()], format!("install p{a}")),
                        (vec!["remove".to_string(), format!("p{b}")], format!("remove p{b}")),
                        (vec!["list".to_string()], "list".to_string()),
                    ] {
                        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
                        let o = pkm(&r, &argv, &[("RUST_BACKTRACE", "1")]);
                        outcomes.push((what, o));
                    }
                }
                outcomes
            })
        })
        .collect();
    let mut ok = 0;
    let mut locked = 0;
    let mut findings = 0;
    for h in handles {
        for (what, o) in h.join().expect("thread") {
            no_panic(&o, &what);
            match o.code {
                0 => ok += 1,
                1 if o.stderr.contains("pkm::locked") => {
                    assert!(o.stderr.contains("pkm.lock"), "{what}: the lock is not named\n{}", o.stderr);
                    locked += 1
                }
                1 if o.stderr.contains("pkm::already-installed") || o.stderr.contains("pkm::not-installed") => findings += 1,
                c => panic!("{what}: unexpected exit {c}\n{}", o.stderr),
            }
        }
    }
    eprintln!("stress: {procs} processes x {rounds} rounds x 3 commands: {ok} ok, {locked} refused on the lock, {findings} findings");
    assert!(ok > 0 && locked > 0, "no contention happened: ok {ok}, locked {locked}");
    assert_consistent(&r);
    // Every installed package has all its files, and nothing of a removed one remains.
    for (i, _) in pkgs.iter().enumerate() {
        let installed = !query_strings(&r, &format!("SELECT name FROM installed WHERE name = 'p{i}'")).is_empty();
        assert_eq!(r.join(format!("usr/bin/p{i}")).exists(), installed, "p{i}: disk and database disagree");
        assert_eq!(r.join(format!("usr/share/p{i}/f29")).exists(), installed, "p{i}");
    }
}

// ---- standard output ---------------------------------------------------------------------

/// stdout on a full disk (/dev/full) is a diagnostic and exit 2; a closed pipe
/// (`pkm list | head -0`) ends quietly with success. Neither is a panic.
#[test]
fn unwritable_stdout_is_not_a_panic() {
    let root = fresh_root();
    let r = root.path();
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        let o = Command::new(env!("CARGO_BIN_EXE_pkm")).arg("--root").arg(r).arg("doctor").env("RUST_BACKTRACE", "1").stdout(full).output().expect("pkm");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("pkm::output") && err.contains("standard output"), "{err}");
    } else {
        eprintln!("skipped: no /dev/full here");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_pkm"))
        .arg("--root")
        .arg(r)
        .arg("doctor")
        .env("RUST_BACKTRACE", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pkm");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}
