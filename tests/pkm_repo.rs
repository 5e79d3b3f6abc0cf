//! pkm repositories, scenario by scenario in the style of pacman's pactest: a real publisher
//! (`igos repo`), real signed indexes, real archives, real HTTP over loopback, the real pkm
//! binary against a real root. Every scenario checks the root's files and the database.

mod pkm_support;
use pkm_support::*;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------------------------------------
// The world: a publisher's key and repositories, a client root.

fn igos(args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_igos")).args(args).env("NO_COLOR", "1").output().unwrap();
    Out { code: o.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&o.stdout).into(), stderr: String::from_utf8_lossy(&o.stderr).into() }
}

/// A package with a binary and a version file, depending on and superseding what it says.
fn p(name: &str, version: &str, depends: &[&str], supersedes: &[&str]) -> Pkg {
    let mut k = pkg(name, version, &[(&format!("usr/bin/{name}"), exe(&format!("{name} {version}"))), (&format!("usr/share/{name}/VERSION"), file(version))]);
    k.depends = depends.iter().map(|s| s.to_string()).collect();
    k.supersedes = supersedes.iter().map(|s| s.to_string()).collect();
    k
}

struct World {
    tmp: TempDir,
    root: TempDir,
    key: PathBuf,
    key_id: String,
}

impl World {
    fn new() -> World {
        let tmp = TempDir::new("repo-world");
        let keys = tmp.path().join("keys");
        let o = igos(&["repo", "keygen", "--dir", keys.to_str().unwrap(), "release"]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let key_id = o.stdout.lines().next().unwrap().trim_start_matches("key id ").to_string();
        let root = fresh_root();
        fs::create_dir_all(root.path().join("etc/igos/keys")).unwrap();
        fs::copy(keys.join("release.pub"), root.path().join("etc/igos/keys/release.pub")).unwrap();
        World { key: keys.join("release.key"), key_id, tmp, root }
    }
    fn root(&self) -> &Path {
        self.root.path()
    }
    fn repo_dir(&self, name: &str) -> PathBuf {
        self.tmp.path().join("repos").join(name)
    }
    /// Build the packages and publish them into repository `name` with `igos repo add`.
    fn publish(&self, name: &str, pkgs: &[Pkg]) {
        self.publish_with(name, pkgs, &[]);
    }
    fn publish_with(&self, name: &str, pkgs: &[Pkg], extra: &[&str]) {
        let build = self.tmp.path().join("build");
        fs::create_dir_all(&build).unwrap();
        let archives: Vec<String> = pkgs.iter().map(|k| k.build(&build).to_string_lossy().into_owned()).collect();
        let dir = self.repo_dir(name);
        let mut args = vec!["repo", "add", dir.to_str().unwrap(), "--key", self.key.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend(archives.iter().map(String::as_str));
        let o = igos(&args);
        assert_eq!(o.code, 0, "repo add: {}", o.stderr);
    }
    /// Write repos.conf: (name, url) in order, all with the world's key.
    fn configure(&self, repos: &[(&str, String)]) {
        let mut s = String::from("# name url key-id\n");
        for (n, u) in repos {
            s.push_str(&format!("{n} {u} {}\n", self.key_id));
        }
        fs::write(self.root().join("etc/igos/repos.conf"), s).unwrap();
    }
    fn file_url(&self, name: &str) -> String {
        format!("file://{}", self.repo_dir(name).display())
    }
    /// One file:// repository `core` with these packages, synced.
    fn synced(pkgs: &[Pkg]) -> World {
        let w = World::new();
        w.publish("core", pkgs);
        w.configure(&[("core", w.file_url("core"))]);
        let o = w.pkm(&["sync"]);
        assert_eq!(o.code, 0, "sync: {}", o.stderr);
        w
    }
    fn pkm(&self, args: &[&str]) -> Out {
        pkm(self.root(), args, &[])
    }
    fn version(&self, name: &str) -> Option<String> {
        query_strings(self.root(), &format!("SELECT version FROM installed WHERE name = '{name}'")).into_iter().next()
    }
    fn installed(&self) -> Vec<String> {
        query_strings(self.root(), "SELECT name || ' ' || version FROM installed ORDER BY name")
    }
    fn history(&self, op: &str) -> Vec<String> {
        query_strings(self.root(), &format!("SELECT package_name FROM history WHERE operation = '{op}' ORDER BY id"))
    }
    fn available(&self) -> Vec<String> {
        query_strings(self.root(), "SELECT repo || '/' || name || ' ' || version FROM available ORDER BY position, name, version")
    }
    fn read(&self, rel: &str) -> Option<String> {
        fs::read_to_string(self.root().join(rel)).ok()
    }
    fn cached(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.root().join("var/cache/igos/pkm")).map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
        v.sort();
        v
    }
}

fn ok(o: &Out) {
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
}
/// The exit code, and `needle` in stderr once miette's line wrapping is undone.
fn fails(o: &Out, code: i32, needle: &str) {
    assert_eq!(o.code, code, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    let flat = o.stderr.replace('│', " ").split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(needle), "stderr lacks `{needle}`:\n{}", o.stderr);
}

// ---------------------------------------------------------------------------------------------
// A real HTTP server on 127.0.0.1, serving a directory (GET only, one request a connection).

#[derive(Clone, Copy, PartialEq)]
enum Serve {
    Honest,
    /// Announce the full Content-Length, send half the body, close.
    Truncate,
}

fn http_server(dir: PathBuf, mode: Serve) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).map(|n| n == 0).unwrap_or(true) || h == "\r\n" {
                    break;
                }
            }
            let path = line.split(' ').nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            match fs::read(dir.join(&path)) {
                Ok(body) if !path.contains("..") => {
                    let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let n = if mode == Serve::Truncate { body.len() / 2 } else { body.len() };
                    let _ = s.write_all(&body[..n]);
                }
                _ => {
                    let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// A URL where nothing listens: a port bound and released.
fn offline_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/repo")
}

// ---------------------------------------------------------------------------------------------
// Publishing

#[test]
fn publish_keygen_writes_private_key_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let t = TempDir::new("keygen");
    let d = t.path().to_str().unwrap();
    let o = igos(&["repo", "keygen", "--dir", d, "k"]);
    ok(&o);
    let id = o.stdout.lines().next().unwrap().trim_start_matches("key id ");
    assert_eq!(id.len(), 16);
    assert_eq!(fs::metadata(t.path().join("k.key")).unwrap().permissions().mode() & 0o777, 0o600);
    let public = fs::read_to_string(t.path().join("k.pub")).unwrap();
    assert!(public.starts_with("igos-public-key 1\n") && public.contains(&format!("id {id}\n")));
    let before = fs::read(t.path().join("k.key")).unwrap();
    let again = igos(&["repo", "keygen", "--dir", d, "k"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("never overwritten"));
    assert_eq!(fs::read(t.path().join("k.key")).unwrap(), before, "the secret key is untouched");
}

#[test]
fn publish_index_carries_every_field_from_the_manifest() {
    let w = World::new();
    let mut tmux = p("tmux", "3.4", &["libevent", "ncurses"], &["tmux-old"]);
    tmux.tree.push(("etc/tmux.conf".into(), file("set -g mouse on\n")));
    w.publish("core", &[tmux.clone()]);
    let repo = w.repo_dir("core");
    let idx: serde_json::Value = serde_json::from_slice(&fs::read(repo.join("index.json")).unwrap()).unwrap();
    assert_eq!(idx["format"], "igos-index");
    assert_eq!(idx["version"], 2);
    let e = &idx["packages"][0];
    let archive = repo.join("tmux-3.4-1.igos.tar.gz");
    assert_eq!(e["name"], "tmux");
    assert_eq!(e["version"], "3.4");
    assert_eq!(e["release"], 1);
    assert_eq!(e["file"], "tmux-3.4-1.igos.tar.gz");
    assert_eq!(e["size"], fs::metadata(&archive).unwrap().len());
    assert_eq!(e["sha256"], igos::archive::hash_file(&archive).unwrap());
    assert_eq!(e["depends"], serde_json::json!(["libevent", "ncurses"]));
    assert_eq!(e["supersedes"], serde_json::json!(["tmux-old"]));
    assert_eq!(e["tier"], "core");
    assert_eq!(e["description"], "tmux test package");
    let sig = fs::read_to_string(repo.join("index.json.sig")).unwrap();
    assert!(sig.starts_with("igos-signature 1\n") && sig.contains(&format!("key {}\n", w.key_id)));
    // No temporary files left behind by the atomic writes.
    assert!(fs::read_dir(&repo).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().starts_with('.')));
}

#[test]
fn publish_same_version_replaces_and_new_version_is_added() {
    let w = World::new();
    w.publish("core", &[p("a", "1.0", &[], &[])]);
    w.publish("core", &[p("a", "1.0", &[], &[]), p("a", "2.0", &[], &[])]);
    let idx: serde_json::Value = serde_json::from_slice(&fs::read(w.repo_dir("core").join("index.json")).unwrap()).unwrap();
    let versions: Vec<&str> = idx["packages"].as_array().unwrap().iter().map(|e| e["version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["1.0", "2.0"]);
}

#[test]
fn publish_remove_unpublishes_and_deletes_the_archive() {
    let w = World::new();
    w.publish_with("core", &[p("a", "1.0", &[], &[]), p("b", "1.0", &[], &[])], &["--sign-archives"]);
    let repo = w.repo_dir("core");
    let o = igos(&["repo", "remove", repo.to_str().unwrap(), "--key", w.key.to_str().unwrap(), "a"]);
    ok(&o);
    assert!(!repo.join("a-1.0-1.igos.tar.gz").exists() && !repo.join("a-1.0-1.igos.tar.gz.sig").exists());
    assert!(repo.join("b-1.0-1.igos.tar.gz").exists());
    w.configure(&[("core", w.file_url("core"))]);
    ok(&w.pkm(&["sync"]));
    assert_eq!(w.available(), ["core/b 1.0"], "the re-signed index verifies and lists only b");
    // Unknown name: exit 2, index untouched.
    let before = fs::read(repo.join("index.json")).unwrap();
    let o = igos(&["repo", "remove", repo.to_str().unwrap(), "--key", w.key.to_str().unwrap(), "nope"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("`nope` is not published"));
    assert_eq!(fs::read(repo.join("index.json")).unwrap(), before);
}

#[test]
fn publish_refuses_a_corrupt_archive_and_keeps_the_index() {
    let w = World::new();
    w.publish("core", &[p("a", "1.0", &[], &[])]);
    let repo = w.repo_dir("core");
    let before = fs::read(repo.join("index.json")).unwrap();
    let bad = w.tmp.path().join("junk-1.0-1.igos.tar.gz");
    fs::write(&bad, b"not gzip at all").unwrap();
    let o = igos(&["repo", "add", repo.to_str().unwrap(), "--key", w.key.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("junk-1.0-1.igos.tar.gz"), "{}", o.stderr);
    assert_eq!(fs::read(repo.join("index.json")).unwrap(), before);
}

// ---------------------------------------------------------------------------------------------
// Sync

#[test]
fn sync_file_repository_fills_available_with_its_origin() {
    let w = World::synced(&[p("a", "1.0", &["b"], &[]), p("b", "1.0", &[], &[])]);
    assert_eq!(w.available(), ["core/a 1.0", "core/b 1.0"]);
    assert_eq!(query_strings(w.root(), "SELECT depends FROM available WHERE name = 'a'"), ["b"]);
    assert_eq!(w.history("sync"), ["-"]);
    assert!(w.installed().is_empty(), "sync installs nothing");
}

#[test]
fn sync_http_repository_over_loopback() {
    let w = World::new();
    w.publish("core", &[p("a", "1.0", &[], &[])]);
    let url = http_server(w.repo_dir("core"), Serve::Honest);
    w.configure(&[("core", url)]);
    let o = w.pkm(&["sync"]);
    ok(&o);
    assert!(o.stdout.contains(&format!("core: 1 package, signature good (key {})", w.key_id)), "{}", o.stdout);
    assert_eq!(w.available(), ["core/a 1.0"]);
}

/// Sync once, break the repository with `f`, sync again: exit 2 naming the repository and the
/// reason, the first sync's rows still there.
fn sync_failure_keeps_previous(break_it: impl FnOnce(&World), reason: &str) {
    let w = World::synced(&[p("a", "1.0", &[], &[])]);
    break_it(&w);
    let o = w.pkm(&["sync"]);
    fails(&o, 2, "repository `core`");
    assert!(o.stderr.contains(reason), "stderr lacks `{reason}`:\n{}", o.stderr);
    assert_eq!(w.available(), ["core/a 1.0"], "the previous index stays");
    assert_eq!(w.history("sync").len(), 1, "no second sync recorded");
}

#[test]
fn sync_bad_signature_keeps_previous_index() {
    sync_failure_keeps_previous(
        |w| {
            let idx = w.repo_dir("core").join("index.json");
            let t = fs::read_to_string(&idx).unwrap().replace("\"1.0\"", "\"9.9\"");
            fs::write(idx, t).unwrap();
        },
        "bad signature",
    );
}

/// The rows of every index are written into the sync's transaction while its signature is
/// checked: a later repository's bad signature, found after the first repository's rows and
/// its own were written, still leaves the previous index whole.
#[test]
fn sync_bad_signature_of_a_later_repository_keeps_previous_index() {
    let w = World::new();
    w.publish("first", &[p("a", "1.0", &[], &[])]);
    w.publish("second", &[p("b", "1.0", &[], &[])]);
    w.configure(&[("first", w.file_url("first")), ("second", w.file_url("second"))]);
    ok(&w.pkm(&["sync"]));
    w.publish("first", &[p("a", "2.0", &[], &[])]);
    let idx = w.repo_dir("second").join("index.json");
    let t = fs::read_to_string(&idx).unwrap().replace("\"1.0\"", "\"9.9\"");
    fs::write(idx, t).unwrap();
    let o = w.pkm(&["sync"]);
    fails(&o, 2, "repository `second`");
    assert!(o.stderr.contains("bad signature"), "{}", o.stderr);
    assert_eq!(w.available(), ["first/a 1.0", "second/b 1.0"], "the previous index stays, the first repository's new rows dropped too");
    assert_eq!(w.history("sync").len(), 1, "no second sync recorded");
}

#[test]
fn sync_missing_signature_keeps_previous_index() {
    sync_failure_keeps_previous(|w| fs::remove_file(w.repo_dir("core").join("index.json.sig")).unwrap(), "missing signature");
}

#[test]
fn sync_unknown_key_keeps_previous_index() {
    sync_failure_keeps_previous(|w| fs::remove_file(w.root().join("etc/igos/keys/release.pub")).unwrap(), "unknown key");
}

#[test]
fn sync_index_signed_by_another_key_is_refused() {
    sync_failure_keeps_previous(
        |w| {
            let other = w.tmp.path().join("other");
            ok(&igos(&["repo", "keygen", "--dir", other.to_str().unwrap(), "mallory"]));
            let repo = w.repo_dir("core");
            // Mallory re-signs the index with her key.
            let o = igos(&["repo", "add", repo.to_str().unwrap(), "--key", other.join("mallory.key").to_str().unwrap(), repo.join("a-1.0-1.igos.tar.gz").to_str().unwrap()]);
            ok(&o);
        },
        "the trusted key is",
    );
}

#[test]
fn sync_offline_repository_keeps_previous_index() {
    sync_failure_keeps_previous(|w| w.configure(&[("core", offline_url())]), "cannot connect");
}

#[test]
fn sync_truncated_http_index_keeps_previous_index() {
    sync_failure_keeps_previous(
        |w| {
            let url = http_server(w.repo_dir("core"), Serve::Truncate);
            w.configure(&[("core", url)]);
        },
        "index.json",
    );
}

#[test]
fn sync_http_404_keeps_previous_index() {
    sync_failure_keeps_previous(
        |w| {
            let url = http_server(w.tmp.path().join("empty"), Serve::Honest);
            w.configure(&[("core", url)]);
        },
        "HTTP status 404",
    );
}

#[test]
fn sync_is_all_or_nothing_across_repositories() {
    let w = World::synced(&[p("a", "1.0", &[], &[])]);
    w.publish("extra", &[p("z", "1.0", &[], &[])]);
    w.configure(&[("core", w.file_url("core")), ("extra", w.file_url("extra")), ("broken", offline_url())]);
    let o = w.pkm(&["sync"]);
    fails(&o, 2, "repository `broken`");
    assert_eq!(w.available(), ["core/a 1.0"], "extra's rows are not committed when broken fails");
}

#[test]
fn sync_without_repos_conf_names_the_file() {
    let w = World::new();
    let o = w.pkm(&["sync"]);
    fails(&o, 2, "etc/igos/repos.conf");
    let bad = w.root().join("etc/igos/repos.conf");
    fs::write(&bad, "core file:///x\n").unwrap();
    fails(&w.pkm(&["sync"]), 2, "repos.conf:1: expected 3 fields");
}

#[test]
fn sync_v1_index_file_still_works() {
    let w = World::new();
    let build = w.tmp.path().join("b");
    fs::create_dir_all(&build).unwrap();
    let a = p("a", "1.0", &[], &[]);
    let path = a.build(&build);
    let idx = index_for(&build, &[(&a, &path)]);
    ok(&w.pkm(&["sync", idx.to_str().unwrap()]));
    ok(&w.pkm(&["install", path.to_str().unwrap()]));
    assert_eq!(w.version("a").as_deref(), Some("1.0"));
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 1.0"));
}

/// A publisher whose key signs a hostile index: the signature is good, the content is not.
fn sync_signed_hostile_index(mutate: impl FnOnce(&mut serde_json::Value), reason: &str) {
    let w = World::synced(&[p("a", "1.0", &[], &[])]);
    let repo = w.repo_dir("core");
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(repo.join("index.json")).unwrap()).unwrap();
    mutate(&mut v);
    let bytes = serde_json::to_vec(&v).unwrap();
    let key = igos::repo::sign::SecretKey::parse(&fs::read_to_string(&w.key).unwrap()).unwrap();
    fs::write(repo.join("index.json.sig"), key.sign(igos::repo::sign::INDEX_CONTEXT, &bytes).render()).unwrap();
    fs::write(repo.join("index.json"), bytes).unwrap();
    let o = w.pkm(&["sync"]);
    fails(&o, 2, "repository `core`");
    fails(&o, 2, reason);
    assert_eq!(w.available(), ["core/a 1.0"]);
}

#[test]
fn sync_signed_index_with_a_path_as_file_name_is_refused() {
    sync_signed_hostile_index(|v| v["packages"][0]["file"] = "../../../etc/passwd".into(), "invalid archive file name `../../../etc/passwd`");
}

#[test]
fn sync_signed_index_with_unknown_fields_or_version_is_refused() {
    sync_signed_hostile_index(|v| v["packages"][0]["postinstall"] = "rm -rf /".into(), "unknown field `postinstall`");
    sync_signed_hostile_index(|v| v["version"] = 3.into(), "index format version 3 is not supported");
    sync_signed_hostile_index(|v| v["packages"][0]["sha256"] = "XYZ".into(), "not a lowercase SHA-256");
}

// ---------------------------------------------------------------------------------------------
// Install by name

#[test]
fn install_name_downloads_into_the_cache_and_installs() {
    let w = World::synced(&[p("hello", "1.0", &[], &[])]);
    let o = w.pkm(&["install", "hello"]);
    ok(&o);
    assert!(o.stdout.contains("installed hello 1.0-1"), "{}", o.stdout);
    assert_eq!(w.read("usr/bin/hello").as_deref(), Some("hello 1.0"));
    assert_eq!(w.installed(), ["hello 1.0"]);
    assert_eq!(w.cached(), ["hello-1.0-1.igos.tar.gz"]);
    assert_consistent(w.root());
}

#[test]
fn install_dependency_chain_in_order() {
    let w = World::synced(&[p("a", "1", &["b"], &[]), p("b", "1", &["c"], &[]), p("c", "1", &[], &[])]);
    ok(&w.pkm(&["install", "a"]));
    assert_eq!(w.history("install"), ["c", "b", "a"], "dependencies first");
    for n in ["a", "b", "c"] {
        assert_eq!(w.read(&format!("usr/bin/{n}")).as_deref(), Some(format!("{n} 1").as_str()));
    }
    assert_eq!(query_strings(w.root(), "SELECT dep_name FROM depends ORDER BY dep_name"), ["b", "c"]);
    assert_consistent(w.root());
}

/// `--print` shows the queue a name resolves to, in install order with versions,
/// repositories and sizes, and changes nothing: no download, no file, no database row.
#[test]
fn install_print_shows_the_resolved_queue_and_changes_nothing() {
    let w = World::synced(&[p("a", "1", &["b"], &[]), p("b", "1", &["c"], &[]), p("c", "1", &[], &[])]);
    let before = snapshot(w.root());
    let o = w.pkm(&["install", "--print", "a"]);
    ok(&o);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(lines[0].starts_with("would install 3 package(s), ") && lines[0].contains("nothing was downloaded or changed"), "{}", o.stdout);
    let queue: Vec<&str> = lines[1..].iter().map(|l| l.split_whitespace().next().unwrap_or("")).collect();
    assert_eq!(queue, ["c", "b", "a"], "dependencies first: {}", o.stdout);
    assert!(lines[1].contains("c 1-1  core  "), "version, repository and size: {}", o.stdout);
    assert_eq!(snapshot(w.root()), before, "the root, its database and the cache are unchanged");
    assert!(w.installed().is_empty() && w.cached().is_empty());
    // Archive files are installed as given: --print has nothing to resolve there.
    fails(&w.pkm(&["install", "--print", "./a-1-1.igos.tar.gz"]), 2, "--print shows what package names resolve to");
    // After the install, an upgrade has nothing to print.
    ok(&w.pkm(&["install", "a"]));
    let o = w.pkm(&["upgrade", "--print"]);
    ok(&o);
    assert!(o.stdout.contains("nothing to upgrade"), "{}", o.stdout);
}

#[test]
fn install_diamond_installs_the_shared_dependency_once() {
    let w = World::synced(&[p("top", "1", &["left", "right"], &[]), p("left", "1", &["base"], &[]), p("right", "1", &["base"], &[]), p("base", "1", &[], &[])]);
    ok(&w.pkm(&["install", "top"]));
    let h = w.history("install");
    assert_eq!(h.len(), 4);
    assert_eq!(h.first().map(String::as_str), Some("base"));
    assert_eq!(h.last().map(String::as_str), Some("top"));
    assert_consistent(w.root());
}

#[test]
fn install_skips_dependencies_already_installed() {
    let w = World::synced(&[p("app", "1", &["lib"], &[]), p("lib", "1", &[], &[])]);
    ok(&w.pkm(&["install", "lib"]));
    ok(&w.pkm(&["install", "app"]));
    assert_eq!(w.history("install"), ["lib", "app"], "lib installed once");
}

#[test]
fn install_cycle_is_refused_naming_it() {
    let w = World::synced(&[p("x", "1", &["y"], &[]), p("y", "1", &["x"], &[])]);
    let o = w.pkm(&["install", "x"]);
    fails(&o, 1, "dependency cycle: x -> y -> x");
    assert!(w.installed().is_empty());
    assert!(w.read("usr/bin/x").is_none() && w.read("usr/bin/y").is_none());
    assert!(w.cached().is_empty(), "nothing downloaded");
}

#[test]
fn install_missing_dependency_names_the_chain() {
    let w = World::synced(&[p("a", "1", &["b"], &[]), p("b", "1", &["ghost"], &[])]);
    let o = w.pkm(&["install", "a"]);
    fails(&o, 1, "ghost is not installed and not in any synced repository (needed by a -> b -> ghost)");
    assert!(w.installed().is_empty());
    assert!(w.read("usr/bin/a").is_none());
}

#[test]
fn install_unknown_name_is_refused() {
    let w = World::synced(&[p("a", "1", &[], &[])]);
    fails(&w.pkm(&["install", "nosuch"]), 1, "nosuch is not in any synced repository");
    assert!(w.installed().is_empty());
}

#[test]
fn install_tampered_archive_is_refused_and_discarded() {
    let w = World::synced(&[p("a", "1", &[], &[])]);
    let f = w.repo_dir("core").join("a-1-1.igos.tar.gz");
    let mut b = fs::read(&f).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0xff;
    fs::write(&f, b).unwrap();
    let o = w.pkm(&["install", "a"]);
    fails(&o, 1, "pkm::fetch::hash-mismatch");
    assert!(w.installed().is_empty());
    assert!(w.read("usr/bin/a").is_none());
    assert!(w.cached().is_empty(), "the bad download is not kept: {:?}", w.cached());
}

#[test]
fn install_damaged_cache_entry_is_downloaded_again() {
    let w = World::synced(&[p("a", "1", &[], &[])]);
    let cache = w.root().join("var/cache/igos/pkm");
    fs::create_dir_all(&cache).unwrap();
    let published = fs::read(w.repo_dir("core").join("a-1-1.igos.tar.gz")).unwrap();
    let mut bad = published.clone();
    bad[10] ^= 1;
    fs::write(cache.join("a-1-1.igos.tar.gz"), bad).unwrap();
    ok(&w.pkm(&["install", "a"]));
    assert_eq!(fs::read(cache.join("a-1-1.igos.tar.gz")).unwrap(), published);
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 1"));
}

/// The download cache is pkm's state (issue 14 meets issue 18): a cache directory, or a
/// download's temporary name, planted as a symlink to a directory outside the root is refused
/// (exit 2) before anything is downloaded, and nothing is written outside.
#[test]
fn a_symlinked_cache_never_sends_a_download_outside_the_root() {
    for planted in ["var/cache/igos/pkm", "var/cache/igos/pkm/a-1-1.igos.tar.gz.part"] {
        let w = World::synced(&[p("a", "1", &[], &[])]);
        let outside = TempDir::new("cache-outside");
        let at = w.root().join(planted);
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        let target = if planted.ends_with(".part") { outside.path().join("part") } else { outside.path().to_path_buf() };
        std::os::unix::fs::symlink(&target, &at).unwrap();
        fails(&w.pkm(&["install", "a"]), 2, "pkm::state::unsafe");
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0, "{planted}: something was written outside the root");
        assert!(w.installed().is_empty(), "{planted}");
        assert!(w.read("usr/bin/a").is_none(), "{planted}");
    }
}

#[test]
fn install_truncated_archive_is_refused() {
    let w = World::synced(&[p("a", "1", &[], &[])]);
    let f = w.repo_dir("core").join("a-1-1.igos.tar.gz");
    let b = fs::read(&f).unwrap();
    fs::write(&f, &b[..b.len() / 2]).unwrap();
    fails(&w.pkm(&["install", "a"]), 1, "pkm::fetch::size-mismatch");
    assert!(w.installed().is_empty());
    assert!(w.cached().is_empty());
}

#[test]
fn install_over_http_and_a_truncating_server() {
    let w = World::new();
    w.publish("core", &[p("a", "1", &[], &[])]);
    let good = http_server(w.repo_dir("core"), Serve::Honest);
    w.configure(&[("core", good)]);
    ok(&w.pkm(&["sync"]));
    ok(&w.pkm(&["install", "a"]));
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 1"));

    let w2 = World::new();
    w2.publish("core", &[p("b", "1", &[], &[])]);
    w2.configure(&[("core", w2.file_url("core"))]);
    ok(&w2.pkm(&["sync"])); // the index is intact; the archive download is cut short
    w2.configure(&[("core", http_server(w2.repo_dir("core"), Serve::Truncate))]);
    // The available rows keep the file:// origin until the next sync; repoint them.
    let c = db(w2.root());
    let url = fs::read_to_string(w2.root().join("etc/igos/repos.conf")).unwrap().lines().nth(1).unwrap().split(' ').nth(1).unwrap().to_string();
    c.execute("UPDATE available SET repo_url = ?1", [url]).unwrap();
    let o = w2.pkm(&["install", "b"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("b-1-1.igos.tar.gz"), "{}", o.stderr);
    assert!(w2.installed().is_empty());
    assert!(w2.cached().is_empty(), "{:?}", w2.cached());
}

#[test]
fn install_offline_repository_says_which() {
    let w = World::synced(&[p("a", "1", &[], &[])]);
    db(w.root()).execute("UPDATE available SET repo_url = ?1", [offline_url()]).unwrap();
    let o = w.pkm(&["install", "a"]);
    fails(&o, 2, "repository `core`");
    assert!(o.stderr.contains("cannot connect"), "{}", o.stderr);
    assert!(w.installed().is_empty());
}

#[test]
fn two_repositories_same_package_first_wins() {
    let w = World::new();
    w.publish("first", &[p("tool", "1.0", &[], &[])]);
    w.publish("second", &[p("tool", "2.0", &[], &[])]);
    w.configure(&[("first", w.file_url("first")), ("second", w.file_url("second"))]);
    ok(&w.pkm(&["sync"]));
    assert_eq!(w.available(), ["first/tool 1.0", "second/tool 2.0"]);
    ok(&w.pkm(&["install", "tool"]));
    assert_eq!(w.version("tool").as_deref(), Some("1.0"), "the first repository wins, even with an older version");
    assert_eq!(w.read("usr/bin/tool").as_deref(), Some("tool 1.0"));
    let o = w.pkm(&["upgrade"]);
    ok(&o);
    assert_eq!(w.version("tool").as_deref(), Some("1.0"), "upgrade follows the same priority");
}

#[test]
fn two_repositories_identical_version_keeps_the_first_origin() {
    let w = World::new();
    w.publish("first", &[p("tool", "1.0", &[], &[])]);
    w.publish("second", &[p("tool", "1.0", &[], &[])]);
    w.configure(&[("first", w.file_url("first")), ("second", w.file_url("second"))]);
    ok(&w.pkm(&["sync"]));
    assert_eq!(w.available(), ["first/tool 1.0"]);
}

#[test]
fn install_name_already_installed_is_a_no_op() {
    let w = World::synced(&[p("a", "1", &[], &[])]);
    ok(&w.pkm(&["install", "a"]));
    let o = w.pkm(&["install", "a"]);
    ok(&o);
    assert!(o.stdout.contains("already installed and up to date"), "{}", o.stdout);
    assert_eq!(w.history("install"), ["a"]);
}

#[test]
fn install_name_of_an_older_installed_package_upgrades_it() {
    let w = World::synced(&[p("a", "1", &[], &[])]);
    ok(&w.pkm(&["install", "a"]));
    w.publish("core", &[p("a", "2", &[], &[])]);
    ok(&w.pkm(&["sync"]));
    ok(&w.pkm(&["install", "a"]));
    assert_eq!(w.version("a").as_deref(), Some("2"));
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 2"));
}

#[test]
fn install_dependency_met_by_a_superseded_predecessor() {
    // util is installed, then split into util-core; the repository no longer publishes util.
    let w = World::synced(&[p("util", "1", &[], &[])]);
    ok(&w.pkm(&["install", "util"]));
    ok(&igos(&["repo", "remove", w.repo_dir("core").to_str().unwrap(), "--key", w.key.to_str().unwrap(), "util"]));
    w.publish("core", &[p("util-core", "2", &[], &["util"]), p("app", "1", &["util"], &[])]);
    ok(&w.pkm(&["sync"]));
    ok(&w.pkm(&["upgrade"]));
    assert_eq!(query_strings(w.root(), "SELECT superseded_by FROM installed WHERE name = 'util'"), ["util-core"]);
    ok(&w.pkm(&["install", "app"]));
    assert_eq!(w.installed(), ["app 1", "util 1", "util-core 2"]);
    // A successor alone never stands in for a predecessor that was never installed.
    let fresh = World::synced(&[p("util-core", "2", &[], &["util"]), p("app", "1", &["util"], &[])]);
    fails(&fresh.pkm(&["install", "app"]), 1, "util is not installed and not in any synced repository (needed by app -> util)");
    assert!(fresh.installed().is_empty());
}

#[test]
fn install_signed_archives_verified_and_a_forged_signature_refused() {
    let w = World::new();
    w.publish_with("core", &[p("a", "1", &[], &[]), p("b", "1", &[], &[])], &["--sign-archives"]);
    w.configure(&[("core", w.file_url("core"))]);
    ok(&w.pkm(&["sync"]));
    assert_eq!(query_strings(w.root(), "SELECT name FROM available WHERE signed = 1 ORDER BY name"), ["a", "b"]);
    ok(&w.pkm(&["install", "a"]));
    // b's signature replaced by a's: valid signature, wrong archive.
    let repo = w.repo_dir("core");
    fs::copy(repo.join("a-1-1.igos.tar.gz.sig"), repo.join("b-1-1.igos.tar.gz.sig")).unwrap();
    fails(&w.pkm(&["install", "b"]), 1, "pkm::fetch::bad-signature");
    assert_eq!(w.installed(), ["a 1"]);
    assert!(w.read("usr/bin/b").is_none());
}

// ---------------------------------------------------------------------------------------------
// Install FILE: dependencies enforced, strict trust means "published in a signed index"

fn built(w: &World, k: &Pkg) -> String {
    w.repo_dir("core").join(k.file_name()).to_string_lossy().into_owned()
}

#[test]
fn install_file_with_missing_dependency_is_refused() {
    let tmux = p("tmux", "3.4", &["libevent"], &[]);
    let w = World::synced(&[tmux.clone(), p("libevent", "2.1", &[], &[])]);
    let o = w.pkm(&["install", &built(&w, &tmux)]);
    fails(&o, 1, "tmux needs libevent, which is neither installed nor in the install queue");
    assert!(w.installed().is_empty());
    assert!(w.read("usr/bin/tmux").is_none());
    // --nodeps: bootstrapping a root, the check is skipped and the rules still run.
    ok(&w.pkm(&["install", "--nodeps", &built(&w, &tmux)]));
    assert_eq!(w.installed(), ["tmux 3.4"]);
}

#[test]
fn install_file_with_dependency_in_the_same_queue() {
    let tmux = p("tmux", "3.4", &["libevent"], &[]);
    let lib = p("libevent", "2.1", &[], &[]);
    let w = World::synced(&[tmux.clone(), lib.clone()]);
    ok(&w.pkm(&["install", &built(&w, &lib), &built(&w, &tmux)]));
    assert_eq!(w.installed(), ["libevent 2.1", "tmux 3.4"]);
    assert_consistent(w.root());
}

#[test]
fn install_file_strict_trust_needs_a_signed_index_entry() {
    let w = World::synced(&[p("a", "1", &[], &[])]);
    let stray = p("stray", "1", &[], &[]);
    let path = stray.build(w.tmp.path());
    fails(&w.pkm(&["install", path.to_str().unwrap()]), 1, "is not in the synced index");
    assert!(w.installed().is_empty());
    ok(&w.pkm(&["install", &w.repo_dir("core").join("a-1-1.igos.tar.gz").to_string_lossy()]));
    assert_eq!(w.installed(), ["a 1"]);
}

// ---------------------------------------------------------------------------------------------
// Remove with dependents

fn tmux_world() -> World {
    let w = World::synced(&[p("tmux", "3.4", &["libevent"], &[]), p("libevent", "2.1", &["glibc"], &[]), p("glibc", "2.40", &[], &[])]);
    ok(&w.pkm(&["install", "tmux"]));
    w
}

#[test]
fn remove_refuses_when_others_depend_and_names_them() {
    let w = tmux_world();
    let o = w.pkm(&["remove", "libevent"]);
    fails(&o, 1, "tmux depends on libevent");
    assert!(o.stderr.contains("--cascade"));
    assert_eq!(w.installed(), ["glibc 2.40", "libevent 2.1", "tmux 3.4"]);
    assert_eq!(w.read("usr/bin/libevent").as_deref(), Some("libevent 2.1"));
}

#[test]
fn remove_cascade_removes_dependents_first() {
    let w = tmux_world();
    let o = w.pkm(&["remove", "--cascade", "libevent"]);
    ok(&o);
    assert_eq!(w.history("remove"), ["tmux", "libevent"]);
    assert_eq!(w.installed(), ["glibc 2.40"]);
    assert!(w.read("usr/bin/tmux").is_none() && w.read("usr/bin/libevent").is_none());
    assert_eq!(w.read("usr/bin/glibc").as_deref(), Some("glibc 2.40"));
    assert_consistent(w.root());
}

#[test]
fn remove_cascade_through_a_chain() {
    let w = tmux_world();
    ok(&w.pkm(&["remove", "--cascade", "glibc"]));
    assert_eq!(w.history("remove"), ["tmux", "libevent", "glibc"]);
    assert!(w.installed().is_empty());
    assert!(w.read("usr/share/glibc/VERSION").is_none());
}

#[test]
fn remove_a_leaf_keeps_its_dependencies() {
    let w = tmux_world();
    ok(&w.pkm(&["remove", "tmux"]));
    assert_eq!(w.installed(), ["glibc 2.40", "libevent 2.1"]);
}

#[test]
fn remove_dependent_and_dependency_together() {
    let w = tmux_world();
    ok(&w.pkm(&["remove", "tmux", "libevent"]));
    assert_eq!(w.installed(), ["glibc 2.40"]);
}

// ---------------------------------------------------------------------------------------------
// Upgrade

#[test]
fn upgrade_to_newer_removes_obsolete_files() {
    let w = World::synced(&[p("a", "1.0", &[], &[])]);
    ok(&w.pkm(&["install", "a"]));
    let mut a2 = p("a", "1.10", &[], &[]);
    a2.tree.retain(|(path, _)| !path.ends_with("VERSION"));
    w.publish("core", &[a2]);
    ok(&w.pkm(&["sync"]));
    let o = w.pkm(&["upgrade"]);
    ok(&o);
    assert!(o.stdout.contains("upgraded a 1.10-1"), "{}", o.stdout);
    assert_eq!(w.version("a").as_deref(), Some("1.10"), "1.10 is newer than 1.0 (numeric segments)");
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 1.10"));
    assert!(w.read("usr/share/a/VERSION").is_none(), "a file the new version dropped is removed");
    assert_consistent(w.root());
}

#[test]
fn upgrade_never_downgrades() {
    let w = World::synced(&[p("a", "2.0", &[], &[])]);
    ok(&w.pkm(&["install", "a"]));
    ok(&igos(&["repo", "remove", w.repo_dir("core").to_str().unwrap(), "--key", w.key.to_str().unwrap(), "a"]));
    w.publish("core", &[p("a", "1.5", &[], &[])]);
    ok(&w.pkm(&["sync"]));
    let o = w.pkm(&["upgrade"]);
    ok(&o);
    assert!(o.stdout.contains("a 2.0-1 kept: the repository has the older 1.5-1 (no downgrade without --allow-downgrade)"), "{}", o.stdout);
    assert_eq!(w.version("a").as_deref(), Some("2.0"));
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 2.0"));
    assert_eq!(w.history("upgrade").len(), 0);
    // Asked for, the downgrade happens, as one upgrade, and is called one.
    let o = w.pkm(&["upgrade", "--allow-downgrade"]);
    ok(&o);
    assert!(o.stdout.contains("downgraded a 1.5-1"), "{}", o.stdout);
    assert_eq!(w.version("a").as_deref(), Some("1.5"));
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 1.5"));
    assert_eq!(w.history("upgrade"), ["a"]);
    assert_consistent(w.root());
}

/// `--allow-downgrade` is one flag for archives, names and upgrades, with one version order
/// (pacman's vercmp): installing a name whose published version is older keeps the installed
/// one unless asked, and the archive pipeline's downgrade check agrees with the resolver.
#[test]
fn install_by_name_downgrades_only_when_allowed() {
    let w = World::synced(&[p("a", "2.0", &[], &[])]);
    ok(&w.pkm(&["install", "a"]));
    ok(&igos(&["repo", "remove", w.repo_dir("core").to_str().unwrap(), "--key", w.key.to_str().unwrap(), "a"]));
    // 2.0rc1 is older than 2.0 for vercmp (a trailing letter run is older than nothing).
    w.publish("core", &[p("a", "2.0rc1", &[], &[])]);
    ok(&w.pkm(&["sync"]));
    let o = w.pkm(&["install", "a"]);
    ok(&o);
    assert!(o.stdout.contains("a 2.0-1 kept: the repository has the older 2.0rc1-1 (no downgrade without --allow-downgrade)"), "{}", o.stdout);
    assert_eq!(w.version("a").as_deref(), Some("2.0"));
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 2.0"));
    let o = w.pkm(&["install", "--allow-downgrade", "a"]);
    ok(&o);
    assert!(o.stdout.contains("downgraded a 2.0rc1-1"), "{}", o.stdout);
    assert_eq!(w.version("a").as_deref(), Some("2.0rc1"));
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 2.0rc1"));
    assert_consistent(w.root());
}

#[test]
fn upgrade_nothing_to_do() {
    let w = World::synced(&[p("a", "1", &[], &[])]);
    ok(&w.pkm(&["install", "a"]));
    let o = w.pkm(&["upgrade"]);
    ok(&o);
    assert!(o.stdout.contains("nothing to upgrade"));
}

#[test]
fn upgrade_split_package_through_supersedes() {
    let ul = pkg("util-linux", "2.39", &[("usr/bin/mount", exe("mount 2.39")), ("usr/bin/cal", exe("cal 2.39")), ("usr/bin/rename", exe("rename 2.39"))]);
    let w = World::synced(&[ul]);
    ok(&w.pkm(&["install", "util-linux"]));
    let core = pkg("util-linux-core", "2.40", &[("usr/bin/mount", exe("mount 2.40"))]).supersedes(&["util-linux"]);
    let extra = pkg("util-linux-extra", "2.40", &[("usr/bin/cal", exe("cal 2.40"))]).supersedes(&["util-linux"]);
    ok(&igos(&["repo", "remove", w.repo_dir("core").to_str().unwrap(), "--key", w.key.to_str().unwrap(), "util-linux"]));
    w.publish("core", &[core, extra]);
    ok(&w.pkm(&["sync"]));
    let o = w.pkm(&["upgrade"]);
    ok(&o);
    assert_eq!(w.read("usr/bin/mount").as_deref(), Some("mount 2.40"));
    assert_eq!(w.read("usr/bin/cal").as_deref(), Some("cal 2.40"));
    assert_eq!(w.read("usr/bin/rename").as_deref(), Some("rename 2.39"), "left in place, still the old package's");
    assert_eq!(query_strings(w.root(), "SELECT superseded_by FROM installed WHERE name = 'util-linux'"), ["util-linux-core,util-linux-extra"]);
    assert_eq!(query_strings(w.root(), "SELECT i.name FROM files f JOIN installed i ON i.id = f.package_id WHERE f.path = 'usr/bin/mount'"), ["util-linux-core"]);
    assert_eq!(query_strings(w.root(), "SELECT i.name FROM files f JOIN installed i ON i.id = f.package_id WHERE f.path = 'usr/bin/rename'"), ["util-linux"]);
    // A second upgrade finds nothing: the superseded package is not brought back.
    let again = w.pkm(&["upgrade"]);
    ok(&again);
    assert!(again.stdout.contains("nothing to upgrade"), "{}", again.stdout);
    assert_consistent(w.root());
}

#[test]
fn upgrade_pulls_a_new_dependency_first() {
    let w = World::synced(&[p("app", "1", &[], &[])]);
    ok(&w.pkm(&["install", "app"]));
    w.publish("core", &[p("app", "2", &["newlib"], &[]), p("newlib", "1", &[], &[])]);
    ok(&w.pkm(&["sync"]));
    ok(&w.pkm(&["upgrade"]));
    assert_eq!(w.installed(), ["app 2", "newlib 1"]);
    assert_eq!(w.history("install"), ["app", "newlib"]);
    let order = query_strings(w.root(), "SELECT package_name FROM history WHERE operation IN ('install', 'upgrade') ORDER BY id");
    assert_eq!(order, ["app", "newlib", "app"], "newlib before app's upgrade");
}

#[test]
fn upgrade_in_dependency_order() {
    let w = World::synced(&[p("app", "1", &["lib"], &[]), p("lib", "1", &[], &[])]);
    ok(&w.pkm(&["install", "app"]));
    w.publish("core", &[p("app", "2", &["lib"], &[]), p("lib", "2", &[], &[])]);
    ok(&w.pkm(&["sync"]));
    ok(&w.pkm(&["upgrade"]));
    assert_eq!(w.history("upgrade"), ["lib", "app"]);
    assert_eq!(w.installed(), ["app 2", "lib 2"]);
}

#[test]
fn upgrade_refused_whole_when_a_new_dependency_is_missing() {
    let w = World::synced(&[p("app", "1", &[], &[]), p("other", "1", &[], &[])]);
    ok(&w.pkm(&["install", "app", "other"]));
    w.publish("core", &[p("app", "2", &["ghost"], &[]), p("other", "2", &[], &[])]);
    ok(&w.pkm(&["sync"]));
    fails(&w.pkm(&["upgrade"]), 1, "needed by app -> ghost");
    assert_eq!(w.installed(), ["app 1", "other 1"], "one queue: nothing upgraded");
}

// ---------------------------------------------------------------------------------------------
// Reinstall

#[test]
fn reinstall_restores_a_damaged_file_and_keeps_edited_config() {
    let mut a = p("a", "1", &[], &[]);
    a.tree.push(("etc/a.conf".into(), file("x=1\n")));
    let w = World::synced(&[a]);
    ok(&w.pkm(&["install", "a"]));
    fs::write(w.root().join("usr/bin/a"), "damaged").unwrap();
    fs::write(w.root().join("etc/a.conf"), "x=2\n").unwrap();
    ok(&w.pkm(&["reinstall", "a"]));
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 1"));
    assert_eq!(w.read("etc/a.conf").as_deref(), Some("x=2\n"), "the edited configuration is kept");
    assert_eq!(w.installed(), ["a 1"]);
    assert_eq!(w.history("install"), ["a"]);
    assert_eq!(w.history("reinstall"), ["a"], "one transaction, logged as a reinstall (no remove)");
    assert!(w.history("remove").is_empty());
}

/// The all-or-nothing of a reinstall: the publisher re-published a 1-1 with a file another
/// installed package owns, so installing it again breaks a rule. The refusal comes before
/// anything is written: a is still installed, with its files as they were.
#[test]
fn reinstall_whose_install_breaks_a_rule_leaves_the_package_installed() {
    let w = World::synced(&[p("a", "1", &[], &[]), p("b", "1", &[], &[])]);
    ok(&w.pkm(&["install", "a", "b"]));
    let before = snapshot(w.root());
    let mut a = p("a", "1", &[], &[]);
    a.tree.push(("usr/bin/b".into(), exe("a's b")));
    w.publish("core", &[a]);
    ok(&w.pkm(&["sync"]));
    let o = w.pkm(&["reinstall", "a"]);
    fails(&o, 1, "usr/bin/b");
    assert_eq!(w.installed(), ["a 1", "b 1"]);
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 1"));
    assert_eq!(w.read("usr/bin/b").as_deref(), Some("b 1"));
    let after = snapshot(w.root());
    let changed: Vec<&String> = after.keys().chain(before.keys()).filter(|k| !k.starts_with("var/cache/") && before.get(*k) != after.get(*k)).collect();
    assert!(changed.is_empty(), "the root changed outside the cache: {changed:?}");
    assert!(w.history("remove").is_empty() && w.history("reinstall").is_empty());
    assert_consistent(w.root());
}

/// A reinstall that fails half way through placing its files (an injected I/O error, as a
/// full disk would give) is rolled back: the files it had already replaced are put back,
/// including a damaged one, exactly as they were.
#[test]
fn reinstall_failing_mid_deploy_is_rolled_back() {
    let mut a = p("a", "1", &[], &[]);
    for i in 0..6 {
        a.tree.push((format!("usr/share/a/f{i}"), file(&format!("f{i}"))));
    }
    let w = World::synced(&[a]);
    ok(&w.pkm(&["install", "a"]));
    fs::write(w.root().join("usr/bin/a"), "damaged").unwrap();
    let before = snapshot(w.root());
    let o = pkm(w.root(), &["reinstall", "a"], &[("PKM_FAIL_AT", "deploy-mid:a")]);
    fails(&o, 2, "injected failure");
    assert_eq!(snapshot(w.root()), before, "the root is as it was, the damaged file included");
    assert_eq!(w.installed(), ["a 1"]);
    assert!(w.history("remove").is_empty() && w.history("reinstall").is_empty());
    ok(&w.pkm(&["reinstall", "a"]));
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 1"), "a second reinstall repairs it");
    assert_consistent(w.root());
}

#[test]
fn reinstall_several_names_is_one_queue() {
    let w = World::synced(&[p("a", "1", &[], &[]), p("b", "1", &["a"], &[])]);
    ok(&w.pkm(&["install", "b"]));
    fs::remove_file(w.root().join("usr/bin/a")).unwrap();
    fs::remove_file(w.root().join("usr/bin/b")).unwrap();
    let o = w.pkm(&["reinstall", "b", "a", "b"]);
    ok(&o);
    assert_eq!(o.stdout, "reinstalled b 1-1 (2 files)\nreinstalled a 1-1 (2 files)\n", "each once, in one queue");
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 1"));
    assert_eq!(w.read("usr/bin/b").as_deref(), Some("b 1"));
    assert_consistent(w.root());
}

#[test]
fn reinstall_unpublished_version_changes_nothing() {
    let w = World::synced(&[p("a", "1", &[], &[])]);
    ok(&w.pkm(&["install", "a"]));
    ok(&igos(&["repo", "remove", w.repo_dir("core").to_str().unwrap(), "--key", w.key.to_str().unwrap(), "a"]));
    w.publish("core", &[p("a", "2", &[], &[])]);
    ok(&w.pkm(&["sync"]));
    fails(&w.pkm(&["reinstall", "a"]), 1, "not in any synced repository");
    assert_eq!(w.read("usr/bin/a").as_deref(), Some("a 1"));
    assert_eq!(w.installed(), ["a 1"]);
}

// ---------------------------------------------------------------------------------------------
// Queries

#[test]
fn search_names_and_descriptions_with_installed_marks() {
    let w = World::synced(&[p("tmux", "3.4", &[], &[]), p("screen", "4.9", &[], &[]), p("libevent", "2.1", &[], &[])]);
    ok(&w.pkm(&["install", "libevent"]));
    let o = w.pkm(&["search", "LIBEV"]);
    ok(&o);
    assert_eq!(o.stdout, "core/libevent 2.1-1 [installed 2.1-1]\n    libevent test package\n");
    let j = w.pkm(&["search", "--json", "test package"]);
    ok(&j);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    let names: Vec<&str> = v.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["libevent", "screen", "tmux"]);
    assert_eq!(v[0]["installed"], "2.1-1");
    assert_eq!(v[1]["installed"], serde_json::Value::Null);
    assert_eq!(v[2]["repository"], "core");
    fails(&w.pkm(&["search", "zzz"]), 1, "no synced package matches");
}

#[test]
fn info_for_available_and_installed_packages() {
    let w = World::synced(&[p("tmux", "3.4", &["libevent"], &[]), p("libevent", "2.1", &[], &[])]);
    let o = w.pkm(&["info", "tmux"]);
    ok(&o);
    assert!(o.stdout.contains("repository: core\ninstalled: no\ndepends: libevent\n"), "{}", o.stdout);
    let j: serde_json::Value = serde_json::from_str(&w.pkm(&["info", "--json", "tmux"]).stdout).unwrap();
    assert_eq!(j["depends"], serde_json::json!(["libevent"]));
    assert_eq!(j["installed"], serde_json::Value::Null);
    ok(&w.pkm(&["install", "tmux"]));
    let j: serde_json::Value = serde_json::from_str(&w.pkm(&["info", "--json", "tmux"]).stdout).unwrap();
    assert_eq!(j["version"], "3.4");
    assert_eq!(j["available"], "3.4-1");
    assert_eq!(j["files"], 6, "entries, directories included");
    fails(&w.pkm(&["info", "nosuch"]), 1, "not installed and not in any synced repository");
}

#[test]
fn json_list_files_owns() {
    let w = World::synced(&[p("a", "1", &[], &[])]);
    ok(&w.pkm(&["install", "a"]));
    let l: serde_json::Value = serde_json::from_str(&w.pkm(&["list", "--json"]).stdout).unwrap();
    assert_eq!(l[0]["name"], "a");
    assert_eq!(l[0]["superseded_by"], serde_json::Value::Null);
    let f: serde_json::Value = serde_json::from_str(&w.pkm(&["files", "--json", "a"]).stdout).unwrap();
    let bin = f.as_array().unwrap().iter().find(|e| e["path"] == "/usr/bin/a").unwrap();
    assert_eq!(bin["kind"], "file");
    assert_eq!(bin["mode"], "0755");
    assert_eq!(bin["sha256"], igos::archive::hash_file(&w.root().join("usr/bin/a")).unwrap());
    let o: serde_json::Value = serde_json::from_str(&w.pkm(&["owns", "--json", "/usr/bin/a"]).stdout).unwrap();
    assert_eq!(o, serde_json::json!([{"path": "/usr/bin/a", "package": "a", "kind": "file"}]));
    let none = w.pkm(&["owns", "--json", "/usr/bin/nothing"]);
    assert_eq!(none.code, 1);
    assert_eq!(none.stdout.trim(), "[]");
}

// ---------------------------------------------------------------------------------------------
// Rendered diagnostics (no colour, width 100), snapshotted into snapshots/

fn snap(name: &str, w: &World, o: &Out) {
    let text = format!("exit: {}\n{}", o.code, o.stderr.replace(w.tmp.path().to_str().unwrap(), "[TMP]").replace(&w.key_id, "[KEY]"));
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn diagnostics_snapshots() {
    let w = World::synced(&[p("x", "1", &["y"], &[]), p("y", "1", &["x"], &[]), p("a", "1", &["b"], &[]), p("b", "1", &["ghost"], &[])]);
    snap("pkm_repo_cycle", &w, &w.pkm(&["install", "x"]));
    snap("pkm_repo_missing_dependency", &w, &w.pkm(&["install", "a"]));
    let t = tmux_world();
    snap("pkm_repo_remove_required", &t, &t.pkm(&["remove", "glibc"]));
}

// ---------------------------------------------------------------------------------------------
// Scale (run by hand: `cargo test --release --test pkm_repo -- --ignored --nocapture scale`)

#[test]
#[ignore]
fn scale_sync_10000_and_install_a_1000_package_closure() {
    use std::time::Instant;
    let w = World::new();
    let repo = w.repo_dir("core");
    fs::create_dir_all(&repo).unwrap();
    // 1,000 real archives, each depending on up to three earlier ones; the last needs them all.
    let n_real = 1000;
    let mut entries = Vec::new();
    let t = Instant::now();
    for i in 0..n_real {
        let mut deps: Vec<String> = [1usize, 7, 31].iter().filter(|d| **d <= i).map(|d| format!("pkg{}", i - d)).collect();
        if i == n_real - 1 {
            deps = (0..i).map(|j| format!("pkg{j}")).collect();
        }
        let mut k = p(&format!("pkg{i}"), "1.0", &[], &[]);
        k.depends = deps.clone();
        let a = k.build(&repo);
        entries.push(serde_json::json!({
            "name": k.name, "version": "1.0", "release": 1, "file": k.file_name(),
            "size": fs::metadata(&a).unwrap().len(), "sha256": igos::archive::hash_file(&a).unwrap(),
            "depends": deps, "supersedes": [], "tier": "core", "description": "scale test",
        }));
    }
    // 9,000 more published (not downloaded) so the index has 10,000 packages.
    for i in n_real..10_000 {
        entries.push(serde_json::json!({
            "name": format!("pkg{i}"), "version": "1.0", "release": 1, "file": format!("pkg{i}-1.0-1.igos.tar.gz"),
            "size": 1000, "sha256": "0".repeat(64), "depends": [format!("pkg{}", i % n_real)], "supersedes": [], "tier": "extra", "description": "scale test",
        }));
    }
    let index = serde_json::to_vec_pretty(&serde_json::json!({"format": "igos-index", "version": 2, "packages": entries})).unwrap();
    let key = igos::repo::sign::SecretKey::parse(&fs::read_to_string(&w.key).unwrap()).unwrap();
    fs::write(repo.join("index.json.sig"), key.sign(igos::repo::sign::INDEX_CONTEXT, &index).render()).unwrap();
    fs::write(repo.join("index.json"), &index).unwrap();
    eprintln!("built 1,000 archives and a 10,000-package index ({} bytes) in {:?}", index.len(), t.elapsed());
    w.configure(&[("core", w.file_url("core"))]);
    let t = Instant::now();
    ok(&w.pkm(&["sync"]));
    eprintln!("pkm sync, 10,000 packages: {:?}", t.elapsed());
    let t = Instant::now();
    ok(&w.pkm(&["install", &format!("pkg{}", n_real - 1)]));
    eprintln!("pkm install of a 1,000-package closure (resolve, copy from file://, verify, install): {:?}", t.elapsed());
    assert_eq!(w.installed().len(), n_real);
    let t = Instant::now();
    ok(&w.pkm(&["upgrade"]));
    eprintln!("pkm upgrade with nothing to do, 1,000 installed, 10,000 published: {:?}", t.elapsed());
}

/// Writes the pkm side of `benches/pkm_vs_pacman.sh`'s packages into `$PKM_BENCH_DIR/igos/`:
/// pkg0..pkg9999 (one file each; pkgN depends on pkgN-1, pkgN-7 and pkgN-31 below 1,000, so
/// pkg999 needs all of pkg0..pkg998), and `payload`, 10,000 files of 64 bytes.
#[test]
#[ignore]
fn bench_generate_archives() {
    let Some(dir) = std::env::var_os("PKM_BENCH_DIR") else { return };
    let out = PathBuf::from(dir).join("igos");
    fs::create_dir_all(&out).unwrap();
    for i in 0..10_000usize {
        let mut k = pkg(&format!("pkg{i}"), "1.0", &[(&format!("usr/share/pkg{i}/file"), file(&format!("pkg{i}\n")))]);
        if i < 1000 {
            k.depends = [1usize, 7, 31].iter().filter(|d| **d <= i).map(|d| format!("pkg{}", i - d)).collect();
        }
        k.build(&out);
    }
    let tree: Vec<(String, Node)> = (0..10_000).map(|i| (format!("usr/share/payload/d{}/f{i}", i / 100), file(&format!("{i:064}")))).collect();
    let payload = Pkg { name: "payload".into(), version: "1.0".into(), supersedes: vec![], depends: vec![], tree };
    payload.build(&out);
}
