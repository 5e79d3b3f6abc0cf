//! Shared test helpers: temp dirs, building real archives with the writer, running the pkm binary,
//! snapshotting a root.
#![allow(dead_code)]

use igos::archive::{manifest_from_tree, write_archive, PackageMeta, WriteOptions};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let p = std::env::temp_dir().join(format!("pkm-test-{tag}-{}-{n}-{nanos}", std::process::id()));
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[derive(Clone, Debug)]
pub enum Node {
    File(Vec<u8>, u32),
    Dir(u32),
    Link(String),
}

pub fn file(content: &str) -> Node {
    Node::File(content.as_bytes().to_vec(), 0o644)
}
pub fn exe(content: &str) -> Node {
    Node::File(content.as_bytes().to_vec(), 0o755)
}
pub fn link(t: &str) -> Node {
    Node::Link(t.to_string())
}

/// A package to build: name, version, supersedes and its tree (parents created as 0755 dirs).
#[derive(Clone, Debug)]
pub struct Pkg {
    pub name: String,
    pub version: String,
    pub supersedes: Vec<String>,
    pub depends: Vec<String>,
    pub tree: Vec<(String, Node)>,
}

pub fn pkg(name: &str, version: &str, tree: &[(&str, Node)]) -> Pkg {
    Pkg { name: name.into(), version: version.into(), supersedes: vec![], depends: vec![], tree: tree.iter().map(|(p, n)| (p.to_string(), n.clone())).collect() }
}

impl Pkg {
    pub fn supersedes(mut self, s: &[&str]) -> Pkg {
        self.supersedes = s.iter().map(|x| x.to_string()).collect();
        self
    }
    pub fn file_name(&self) -> String {
        format!("{}-{}-1.igos.tar.gz", self.name, self.version)
    }
    /// Build the archive into `dir`, return its path.
    pub fn build(&self, dir: &Path) -> PathBuf {
        let stage = TempDir::new("stage");
        for (p, n) in &self.tree {
            let dest = stage.path().join(p);
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).unwrap();
            }
            match n {
                Node::File(c, mode) => {
                    fs::write(&dest, c).unwrap();
                    fs::set_permissions(&dest, fs::Permissions::from_mode(*mode)).unwrap();
                }
                Node::Dir(mode) => {
                    fs::create_dir_all(&dest).unwrap();
                    fs::set_permissions(&dest, fs::Permissions::from_mode(*mode)).unwrap();
                }
                Node::Link(t) => symlink(t, &dest).unwrap(),
            }
        }
        // Normalise implicit parent dirs to 0755 regardless of umask.
        normalise_dirs(stage.path());
        let meta = PackageMeta {
            name: self.name.clone(),
            version: self.version.clone(),
            release: 1,
            tier: "core".into(),
            description: format!("{} test package", self.name),
            depends: self.depends.clone(),
            supersedes: self.supersedes.clone(),
        };
        let m = manifest_from_tree(&meta, stage.path()).unwrap();
        let out = dir.join(self.file_name());
        let mut f = fs::File::create(&out).unwrap();
        write_archive(&mut f, &m, stage.path(), &WriteOptions { mtime: 1_700_000_000, level: 6 }).unwrap();
        out
    }
}

fn normalise_dirs(p: &Path) {
    for e in fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        let m = fs::symlink_metadata(e.path()).unwrap();
        if m.is_dir() {
            let mode = m.permissions().mode() & 0o7777;
            if mode == 0o775 || mode == 0o700 || mode == 0o777 {
                fs::set_permissions(e.path(), fs::Permissions::from_mode(0o755)).unwrap();
            }
            normalise_dirs(&e.path());
        }
    }
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn pkm(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    pkm_in(None, root, args, env)
}

/// Run pkm with a working directory (so archive paths in diagnostics are short and stable).
pub fn pkm_in(cwd: Option<&Path>, root: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pkm"));
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    c.arg("--root").arg(root).args(args).env("NO_COLOR", "1").env("PKM_NOW", "1767225600");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    Out { code: o.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&o.stdout).into(), stderr: String::from_utf8_lossy(&o.stderr).into() }
}

/// A fresh root with a usr-merged layout: /lib -> usr/lib, /bin -> usr/bin, /etc.
pub fn fresh_root() -> TempDir {
    let r = TempDir::new("root");
    for d in ["usr/lib", "usr/bin", "etc", "var/lib/igos"] {
        fs::create_dir_all(r.path().join(d)).unwrap();
    }
    // Other, unpackaged content, so the shared directories are never empty.
    for f in ["usr/lib/.keep", "usr/bin/.keep", "etc/.keep"] {
        fs::write(r.path().join(f), "").unwrap();
    }
    symlink("usr/lib", r.path().join("lib")).unwrap();
    symlink("usr/bin", r.path().join("bin")).unwrap();
    r
}

/// Every path under root with type, mode and content hash; pkm's own db/lock files excluded.
pub fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd {
        let e = e.unwrap();
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        if rel.starts_with("var/lib/igos/pkm.") {
            continue;
        }
        let m = fs::symlink_metadata(&p).unwrap();
        let mode = m.permissions().mode() & 0o7777;
        if m.file_type().is_symlink() {
            out.insert(rel, format!("link {}", fs::read_link(&p).unwrap().display()));
        } else if m.is_dir() {
            out.insert(rel.clone(), format!("dir {mode:o}"));
            walk(root, &p, out);
        } else {
            out.insert(rel, format!("file {mode:o} {}", igos::archive::hash_file(&p).unwrap()));
        }
    }
}

pub fn db(root: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(root.join("var/lib/igos/pkm.db")).unwrap()
}

pub fn query_strings(root: &Path, sql: &str) -> Vec<String> {
    let c = db(root);
    let mut st = c.prepare(sql).unwrap();
    st.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|r| r.unwrap()).collect()
}

/// Write an index trusting `archives`.
pub fn index_for(dir: &Path, archives: &[(&Pkg, &Path)]) -> PathBuf {
    let mut s = String::from("igos-index 1\n");
    for (p, a) in archives {
        let sha = igos::archive::hash_file(a).unwrap();
        s.push_str(&format!("{} {} 1 {sha} {}\n", p.name, p.version, p.file_name()));
    }
    let out = dir.join("index.txt");
    fs::write(&out, s).unwrap();
    out
}

/// Consistency between the db and the root: every owned file exists with its hash (unless the
/// config was kept), no intents pending, text manifests match the db (pkm doctor exits 0).
pub fn assert_consistent(root: &Path) {
    let c = db(root);
    let intents: i64 = c.query_row("SELECT count(*) FROM intents", [], |r| r.get(0)).unwrap();
    assert_eq!(intents, 0, "pending intents");
    let mut st = c.prepare("SELECT path, kind, sha256, is_config FROM files").unwrap();
    let rows: Vec<(String, String, Option<String>, bool)> = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(|r| r.unwrap()).collect();
    for (p, k, sha, cfg) in rows {
        let host = root.join(&p);
        assert!(fs::symlink_metadata(&host).is_ok() || host.exists(), "db lists /{p} but it is missing");
        if k == "file" && !cfg {
            assert_eq!(igos::archive::hash_file(&host).ok(), sha, "/{p} differs from the db");
        }
    }
    let staging = root.join("var/lib/igos/staging");
    if staging.exists() {
        assert_eq!(fs::read_dir(&staging).unwrap().count(), 0, "staging left behind");
    }
    let d = pkm(root, &["doctor"], &[]);
    assert_eq!(d.code, 0, "doctor not clean: {}\n{}", d.stdout, d.stderr);
}
