//! pkm's queries for scripts and people: every `--json` output against its documented schema
//! (docs/pkm-json.schema.json), `verify --json` and `history --json` as snapshots, and the
//! progress bar of a long verify, drawn on a terminal (a real pseudo-terminal) and never
//! otherwise.

mod pkm_support;
use pkm_support::*;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A root with `lib` and `hello` installed from a synced version-1 index that also publishes
/// `extra` (not installed). Archive paths are relative to the build directory, so the
/// history's details are stable.
struct World {
    build: TempDir,
    root: TempDir,
}

impl World {
    fn new() -> World {
        let build = TempDir::new("queries-build");
        let root = fresh_root();
        let mut hello = pkg(
            "hello",
            "1.0",
            &[("usr/bin/hello", exe("hello 1")), ("usr/bin/hi", link("hello")), ("usr/share/hello/README", file("readme 1")), ("etc/hello.conf", file("greeting=hi\n"))],
        );
        hello.depends = vec!["lib".into()];
        let lib = pkg("lib", "2.1", &[("usr/lib/libx.so.1", file("libx 2.1"))]);
        let extra = pkg("extra", "0.9", &[("usr/bin/extra", exe("extra"))]);
        let built: Vec<_> = [&lib, &hello, &extra].iter().map(|p| (*p, p.build(build.path()))).collect();
        let refs: Vec<_> = built.iter().map(|(p, a)| (*p, a.as_path())).collect();
        index_for(build.path(), &refs);
        let w = World { build, root };
        w.ok(&["sync", "index.txt"]);
        w.ok(&["install", "lib-2.1-1.igos.tar.gz", "hello-1.0-1.igos.tar.gz"]);
        w
    }
    fn run(&self, args: &[&str]) -> Out {
        pkm_in(Some(self.build.path()), self.root.path(), args, &[])
    }
    fn ok(&self, args: &[&str]) -> Out {
        let o = self.run(args);
        assert_eq!(o.code, 0, "pkm {args:?}\nstdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
        o
    }
    /// `args` with exit `code`, its stdout parsed as JSON.
    fn json(&self, args: &[&str], code: i32) -> Value {
        let o = self.run(args);
        assert_eq!(o.code, code, "pkm {args:?}\nstdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("pkm {args:?}: not JSON ({e}):\n{}", o.stdout))
    }
    fn root(&self) -> &Path {
        self.root.path()
    }
    /// One of each kind of problem `verify` reports (all but owner and group, which need root).
    fn damage(&self) {
        let r = self.root();
        fs::write(r.join("usr/bin/hello"), "HELLO 1").unwrap(); // same size: the hash differs
        fs::set_permissions(r.join("usr/bin/hello"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(r.join("etc/hello.conf"), "greeting=hey\n").unwrap(); // config drift
        fs::remove_file(r.join("usr/bin/hi")).unwrap();
        std::os::unix::fs::symlink("elsewhere", r.join("usr/bin/hi")).unwrap();
        fs::remove_file(r.join("usr/lib/libx.so.1")).unwrap();
        fs::remove_dir_all(r.join("usr/share/hello")).unwrap();
        fs::write(r.join("usr/share/hello"), "now a file").unwrap();
    }
}

fn schema() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/pkm-json.schema.json");
    serde_json::from_str(&fs::read_to_string(&p).expect("the schema file")).expect("the schema is JSON")
}

/// A validator for one command's definition of the schema document.
fn validator(doc: &Value, command: &str) -> jsonschema::Validator {
    let mut s = doc.clone();
    s["$ref"] = Value::String(format!("#/definitions/{command}"));
    jsonschema::validator_for(&s).unwrap_or_else(|e| panic!("the schema for {command} compiles: {e}"))
}

fn assert_valid(doc: &Value, command: &str, v: &Value) {
    let errors: Vec<String> = validator(doc, command).iter_errors(v).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{command} --json does not match its schema:\n{}\n{v:#}", errors.join("\n"));
}

/// Every command the issue lists takes `--json`, prints one JSON value its schema definition
/// accepts, and keeps its exit code; the README documents each and points at the schema.
#[test]
fn every_json_output_matches_the_documented_schema() {
    let doc = schema();
    let w = World::new();
    let cases: Vec<(&str, Vec<&str>, i32)> = vec![
        ("list", vec!["list", "--json"], 0),
        ("info", vec!["info", "--json", "hello"], 0),
        ("info", vec!["info", "--json", "extra"], 0),
        ("files", vec!["files", "--json", "hello"], 0),
        ("owns", vec!["owns", "--json", "/usr/bin/hello"], 0),
        ("owns", vec!["owns", "--json", "/usr/bin/nothing"], 1),
        ("verify", vec!["verify", "--json"], 0),
        ("history", vec!["history", "--json"], 0),
        ("search", vec!["search", "--json", "L"], 0),
        ("search", vec!["search", "--json", "zzz"], 1),
    ];
    for (command, args, code) in &cases {
        assert_valid(&doc, command, &w.json(args, *code));
    }
    w.damage();
    let v = w.json(&["verify", "--json"], 1);
    assert_valid(&doc, "verify", &v);
    let checks: Vec<&str> = v["problems"].as_array().unwrap().iter().map(|p| p["check"].as_str().unwrap()).collect();
    for c in ["missing", "type", "mode", "target", "sha256", "size"] {
        assert!(checks.contains(&c), "verify reports a `{c}` problem: {checks:?}");
    }
    // Every definition is exercised above, and each can fail: a required field removed.
    let mut list = w.json(&["list", "--json"], 0);
    list[0].as_object_mut().unwrap().remove("release");
    assert!(!validator(&doc, "list").is_valid(&list), "the list schema refuses an entry with no release");
    let mut info = w.json(&["info", "--json", "hello"], 0);
    info["files"] = Value::String("many".into());
    assert!(!validator(&doc, "info").is_valid(&info), "the info schema refuses a files count that is not a number");
    let mut verify = v.clone();
    verify["problems"][0]["check"] = Value::String("vibes".into());
    assert!(!validator(&doc, "verify").is_valid(&verify), "the verify schema refuses an unknown check");
    let mut history = w.json(&["history", "--json"], 0);
    history[0].as_object_mut().unwrap().remove("timestamp");
    assert!(!validator(&doc, "history").is_valid(&history), "the history schema refuses a row with no timestamp");

    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("### `--json`").nth(1).expect("the README's --json section");
    let section = section.split("\n## ").next().unwrap_or(section);
    assert!(section.contains("docs/pkm-json.schema.json"), "the README points at the schema");
    for command in ["list", "info", "files", "owns", "verify", "history", "search"] {
        assert!(doc["definitions"][command].is_object(), "the schema defines {command}");
        assert!(section.contains(&format!("- `{command}")), "the README's --json section documents {command}");
    }
}

/// `verify --json`: the counts, and each problem with what was expected and what was found;
/// the exit code is that of the text report (1 for a finding, 0 for config drift alone).
#[test]
fn verify_json_reports_expected_and_found() {
    let w = World::new();
    let clean = w.json(&["verify", "--json"], 0);
    assert_eq!(clean, serde_json::json!({"entries": 12, "findings": 0, "config_drift": 0, "problems": []}));
    fs::write(w.root().join("etc/hello.conf"), "greeting=hey\n").unwrap();
    let drift = w.json(&["verify", "--json", "hello"], 0);
    assert_eq!(drift["findings"], 0);
    assert_eq!(drift["config_drift"], 1);
    assert_eq!(drift["problems"][0]["config_drift"], true);
    assert_eq!(drift["problems"][0]["check"], "size");
    assert_eq!(drift["problems"][0]["expected"], 12);
    assert_eq!(drift["problems"][0]["found"], 13);
    w.damage();
    let o = w.run(&["verify", "--json"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.is_empty(), "nothing on stderr when it is not a terminal: {}", o.stderr);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("pkm_verify_json", o.stdout);
    });
    let text = w.run(&["verify"]);
    assert_eq!(text.code, 1);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(text.stdout.lines().count() - 1, v["problems"].as_array().unwrap().len(), "one line per problem, as in the text report:\n{}", text.stdout);
    assert!(text.stdout.ends_with(&format!("verified {} entries: {} findings, {} config drift\n", v["entries"], v["findings"], v["config_drift"])), "{}", text.stdout);
}

/// `history --json`: every row of the log with its id, operation and versions (null where the
/// text report prints nothing), oldest first.
#[test]
fn history_json_is_the_log() {
    let w = World::new();
    w.ok(&["remove", "hello"]);
    let o = w.ok(&["history", "--json"]);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("pkm_history_json", o.stdout);
    });
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let ops: Vec<&str> = v.as_array().unwrap().iter().map(|r| r["operation"].as_str().unwrap()).collect();
    assert_eq!(ops, ["sync", "install", "install", "remove"]);
    let ids: Vec<i64> = v.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|p| p[0] < p[1]), "oldest first: {ids:?}");
    assert_eq!(w.ok(&["history"]).stdout.lines().count(), ops.len(), "the same rows as the text report");
}

// ---------------------------------------------------------------------------------------------
// Progress

/// Run pkm with stderr on a new pseudo-terminal (stdout piped): returns (exit code, stdout,
/// everything written to the terminal).
fn pkm_on_a_terminal(root: &Path, args: &[&str]) -> (i32, String, String) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    use std::io::Read;
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("a pseudo-terminal");
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = fs::OpenOptions::new().read(true).write(true).open(name.to_str().unwrap()).unwrap();
    let child = {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_pkm"));
        c.arg("--root").arg(root).args(args).env("TERM", "xterm").env("NO_COLOR", "1").stdout(std::process::Stdio::piped()).stderr(slave);
        c.spawn().unwrap()
        // The command, holding the parent's copy of the terminal's end, is dropped here: the
        // reader below sees the end when pkm exits.
    };
    let reader = std::thread::spawn(move || {
        let mut f = fs::File::from(master);
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // Linux answers EIO once the last descriptor of the terminal's other end is closed.
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        seen
    });
    let out = child.wait_with_output().unwrap();
    let seen = reader.join().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&seen).into())
}

/// A verify of many entries draws a bar on stderr when it is a terminal, and prints nothing
/// there otherwise (a pipe, a file, a test); the report on stdout is the same either way.
#[test]
fn verify_progress_only_on_a_terminal() {
    let build = TempDir::new("queries-big");
    let root = fresh_root();
    let tree: Vec<(String, Node)> = (0..3000).map(|i| (format!("usr/share/big/d{}/f{i}", i / 100), file(&format!("{i}")))).collect();
    let big = Pkg { name: "big".into(), version: "1".into(), supersedes: vec![], depends: vec![], tree };
    let a = big.build(build.path());
    let o = pkm(root.path(), &["install", "--archive-trust", "loose", a.to_str().unwrap()], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let piped = pkm(root.path(), &["verify"], &[]);
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert_eq!(piped.stderr, "", "no progress when stderr is not a terminal");
    let (code, stdout, terminal) = pkm_on_a_terminal(root.path(), &["verify"]);
    assert_eq!(code, 0, "{terminal}");
    assert_eq!(stdout, piped.stdout, "the report does not depend on the terminal");
    assert!(terminal.contains("verifying [") && terminal.contains("entries"), "a progress bar on the terminal:\n{terminal:?}");
    // A small verify stays quiet even on a terminal.
    let small = TempDir::new("queries-small");
    let root2 = fresh_root();
    let a = pkg("tiny", "1", &[("usr/bin/tiny", exe("tiny"))]).build(small.path());
    assert_eq!(pkm(root2.path(), &["install", "--archive-trust", "loose", a.to_str().unwrap()], &[]).code, 0);
    let (code, _, terminal) = pkm_on_a_terminal(root2.path(), &["verify"]);
    assert_eq!(code, 0);
    assert_eq!(terminal, "", "no bar for a handful of entries");
}
