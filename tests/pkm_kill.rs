//! kill -9 at arbitrary moments, and crash injection through a same-name upgrade.
//!
//! tests/pkm_crash.rs aborts pkm at its named steps (PKM_CRASH_AT). This adds:
//! * the upgrade (hello 1.0 -> 1.1: a file changed, one dropped, one added, a config
//!   edited by the user) aborted at every named install step;
//! * SIGKILL from outside at moments spread over a whole run of install, upgrade and
//!   removal of a 120-file package, so the kill also lands between single file writes,
//!   inside SQLite transactions and between rename and fsync.
//!
//! After each: the next pkm run (doctor) restores a consistent state, the database holds
//! the old or the new state, every file the database lists is on disk with its hash, and
//! nothing half-written is left (no staging, no `.pkm-tmp`).

mod pkm_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pkm_support::*;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

struct World {
    root: TempDir,
    _arch: TempDir,
    v1: PathBuf,
    v2: PathBuf,
}

fn tree(version: &str, n: usize) -> Vec<(String, Node)> {
    let mut t: Vec<(String, Node)> = (0..n).map(|i| (format!("usr/share/hello/f{i:03}"), file(&format!("{version} {i}\n").repeat(50)))).collect();
    t.push(("usr/bin/hello".into(), exe(&format!("hello {version}"))));
    t.push(("etc/hello.conf".into(), file(&format!("greeting = {version}\n"))));
    t.push(("usr/lib/libhello.so".into(), link(&format!("libhello.so.{version}"))));
    t.push((format!("usr/lib/libhello.so.{version}"), exe("ELF")));
    t
}

fn world(n: usize) -> World {
    let root = fresh_root();
    let arch = TempDir::new("kill-arch");
    let mut v1 = pkg("hello", "1.0", &[]);
    v1.tree = tree("1.0", n);
    v1.tree.push(("usr/share/hello/only-in-1.0".into(), file("dropped")));
    let mut v2 = pkg("hello", "1.1", &[]);
    v2.tree = tree("1.1", n);
    v2.tree.push(("usr/share/hello/only-in-1.1".into(), file("added")));
    let (a1, a2) = (v1.build(arch.path()), v2.build(arch.path()));
    let idx = index_for(arch.path(), &[(&v1, &a1)]);
    let mut text = std::fs::read_to_string(&idx).expect("index");
    text.push_str(&format!("hello 1.1 1 {} {}\n", igos::archive::hash_file(&a2).expect("hash"), v2.file_name()));
    std::fs::write(&idx, text).expect("index");
    assert_eq!(pkm(root.path(), &["sync", s(&idx)], &[]).code, 0);
    World { root, _arch: arch, v1: a1, v2: a2 }
}

fn installed(root: &Path) -> Vec<String> {
    query_strings(root, "SELECT name || ' ' || version FROM installed ORDER BY name")
}

fn no_leftovers(root: &Path, what: &str) {
    let staging = root.join("var/lib/igos/staging");
    let n = std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "{what}: staging left behind");
    for (p, _) in snapshot(root) {
        assert!(!p.ends_with(".pkm-tmp"), "{what}: half-written {p}");
    }
}

/// The files of a state, as the database lists them, are exactly on disk: for the new
/// version its own files; for the old one its own. (assert_consistent checks hashes.)
fn version_files_present(root: &Path, version: &str, what: &str) {
    let other = if version == "1.0" { "1.1" } else { "1.0" };
    assert!(root.join(format!("usr/lib/libhello.so.{version}")).exists(), "{what}: {version} lib missing");
    assert!(root.join(format!("usr/share/hello/only-in-{version}")).exists(), "{what}: {version} file missing");
    assert!(!root.join(format!("usr/share/hello/only-in-{other}")).exists(), "{what}: {other} file left");
    assert_eq!(std::fs::read_link(root.join("usr/lib/libhello.so")).ok(), Some(PathBuf::from(format!("libhello.so.{version}"))), "{what}");
}

const INSTALL_STEPS: &[&str] = &["staged", "intent", "deploy-mid", "deployed", "committed", "manifest"];

#[test]
fn crash_during_upgrade_then_doctor() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: crash injection needs a debug build (run `cargo test`)");
        return;
    }
    for step in INSTALL_STEPS {
        let w = world(10);
        let r = w.root.path();
        assert_eq!(pkm(r, &["install", s(&w.v1)], &[]).code, 0);
        // The user edited the config: the upgrade keeps it and writes hello.conf.new.
        std::fs::write(r.join("etc/hello.conf"), "greeting = mine\n").expect("edit");
        let o = pkm(r, &["install", s(&w.v2)], &[("PKM_CRASH_AT", step)]);
        assert_ne!(o.code, 0, "{step}: did not crash");
        assert!(o.stderr.contains(&format!("PKM_CRASH_AT={step}")), "{step}: crash point not reached\n{}", o.stderr);
        let d = pkm(r, &["doctor"], &[]);
        assert!(d.code == 0 || d.code == 1, "{step}: doctor\n{}\n{}", d.stdout, d.stderr);
        assert_consistent(r);
        no_leftovers(r, step);
        let want = if *step == "staged" { "1.0" } else { "1.1" };
        assert_eq!(installed(r), vec![format!("hello {want}")], "{step}");
        version_files_present(r, want, step);
        assert_eq!(std::fs::read_to_string(r.join("etc/hello.conf")).expect("conf"), "greeting = mine\n", "{step}: the user's config was overwritten");
        if want == "1.1" {
            assert!(r.join("etc/hello.conf.new").exists(), "{step}: hello.conf.new");
        }
    }
}

/// Run pkm and SIGKILL it after `delay`; returns whether it finished on its own first.
fn pkm_killed_after(root: &Path, args: &[&str], delay: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pkm"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("NO_COLOR", "1")
        .env("PKM_NOW", "1767225600")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pkm");
    let start = Instant::now();
    while start.elapsed() < delay {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = child.kill(); // SIGKILL
    let status = child.wait().expect("wait");
    status.success()
}

fn timed(root: &Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let o = pkm(root, args, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    t.elapsed()
}

#[test]
fn kill_9_at_moments_spread_over_install_upgrade_remove() {
    let n = 120;
    let per_op = 12;
    let mut killed = 0;
    let mut finished = 0;
    for op in ["install", "upgrade", "remove"] {
        // How long an uninterrupted run takes here; the kills are spread over it. The fastest
        // of three: one slow run (a cold page cache, a busy machine) would otherwise place most
        // kills after the end and leave too few runs interrupted.
        let w = world(n);
        let r = w.root.path();
        let full = (0..3)
            .map(|_| {
                let _ = pkm(r, &["remove", "hello"], &[]);
                match op {
                    "install" => timed(r, &["install", s(&w.v1)]),
                    "upgrade" => {
                        assert_eq!(pkm(r, &["install", s(&w.v1)], &[]).code, 0);
                        timed(r, &["install", s(&w.v2)])
                    }
                    _ => {
                        assert_eq!(pkm(r, &["install", s(&w.v1)], &[]).code, 0);
                        timed(r, &["remove", "hello"])
                    }
                }
            })
            .min()
            .expect("three runs");
        drop(w);
        let w = world(n);
        let r = w.root.path();
        for k in 0..per_op {
            // Start state.
            let _ = pkm(r, &["remove", "hello"], &[]);
            if op != "install" {
                assert_eq!(pkm(r, &["install", s(&w.v1)], &[]).code, 0);
            }
            let args: Vec<&str> = match op {
                "install" => vec!["install", s(&w.v1)],
                "upgrade" => vec!["install", s(&w.v2)],
                _ => vec!["remove", "hello"],
            };
            let delay = full.mul_f64((k as f64 + 0.5) / per_op as f64);
            let what = format!("{op} killed after {:?} of {:?}", delay, full);
            if pkm_killed_after(r, &args, delay) {
                finished += 1;
            } else {
                killed += 1;
            }
            let d = pkm(r, &["doctor"], &[]);
            assert!(d.code == 0 || d.code == 1, "{what}: doctor\n{}\n{}", d.stdout, d.stderr);
            assert_consistent(r);
            no_leftovers(r, &what);
            let now = installed(r);
            let (old, new): (Vec<String>, Vec<String>) = match op {
                "install" => (vec![], vec!["hello 1.0".into()]),
                "upgrade" => (vec!["hello 1.0".into()], vec!["hello 1.1".into()]),
                _ => (vec!["hello 1.0".into()], vec![]),
            };
            assert!(now == old || now == new, "{what}: {now:?}");
            if let Some(v) = now.first().and_then(|l| l.split(' ').nth(1)) {
                version_files_present(r, v, &what);
            } else {
                assert!(!r.join("usr/bin/hello").exists(), "{what}: removed but the binary remains");
            }
        }
    }
    eprintln!("kill -9: {} runs, {killed} killed mid-run, {finished} finished before the kill", killed + finished);
    // The kill moments are spread over each operation's measured length; on a loaded machine
    // more runs finish first, so the floor is a share of the runs, not a count.
    assert!(killed * 3 >= killed + finished, "too few runs were actually interrupted: {killed} of {}", killed + finished);
}
