//! Shared test helpers: temp dirs and a small valid tree to mutate.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, empty directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "igos-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(p, text).expect("write file");
    }
    pub fn remove(&self, rel: &str) {
        let _ = std::fs::remove_file(self.0.join(rel));
    }
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.0.join(rel)).expect("read file")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The conformance corpus, or None with a plain "skipped" line. Under CI=true its absence fails.
pub fn corpus() -> Option<PathBuf> {
    let p = project_dir().join("../shared/corpus/intergenos-91d65db0");
    if p.join("packages").is_dir() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the conformance corpus is missing at {} (required under CI=true)", p.display());
    }
    eprintln!("skipped: corpus not found at {}", p.display());
    None
}

pub fn recipe(name: &str, tier: &str, build: &[&str], runtime: &[&str]) -> String {
    let list = |xs: &[&str]| {
        if xs.is_empty() {
            " []\n".to_string()
        } else {
            xs.iter().map(|x| format!("\n    - {x}")).collect::<String>() + "\n"
        }
    };
    format!(
        "name: {name}\nversion: \"1.2.3\"\nrelease: 1\ndescription: {name} for tests\nlicense: MIT\n\
         homepage: https://example.org/{name}\ntier: {tier}\nbuild_style: autotools\nsource:\n  \
         - url: file:///sources/{name}-1.2.3.tar.xz\n    sha256: {}\ndependencies:\n  build:{}  host: []\n  runtime:{}\
         verify_paths:\n  - /usr/bin/{name}\n  - /usr/share/{name}/data\n",
        "ab".repeat(32),
        list(build),
        list(runtime),
    )
}

/// A small tree that passes every gate of the project's rules.
pub fn valid_tree(tag: &str) -> TempDir {
    let t = TempDir::new(tag);
    let pkgs: &[(&str, &str, &[&str], &[&str])] = &[
        ("binutils-pass1", "toolchain", &[], &[]),
        ("zlib", "core", &[], &[]),
        ("xz", "core", &["zlib"], &[]),
        ("glib2", "core", &["zlib"], &["xz"]),
        ("bat", "base", &["zlib"], &[]),
        ("gtk4", "desktop", &["glib2"], &[]),
        ("audacity", "extra", &["gtk4"], &[]),
        ("llama-cpp", "ai", &["zlib"], &[]),
    ];
    for (name, tier, build, runtime) in pkgs {
        t.write(&format!("packages/{tier}/{name}/package.yml"), &recipe(name, tier, build, runtime));
    }
    t.write("builders/chroot-build-ch8.list", "# ch8\nzlib\nxz\n");
    t.write("builders/chroot-build-core-extra.list", "# core-extra\nglib2\n");
    t.write("builders/chroot-build-base.list", "# base\nbat\n");
    for tier in ["desktop", "extra", "ai"] {
        t.write(&format!("builders/chroot-build-{tier}.list"), &format!("# invokes: igos-build.py --tier {tier}\n"));
    }
    // Gate 2's scope (not toolchain, not LFS chapter 8): audited and aggregated, as a
    // maintainer leaves a tree before `igos check`.
    for (name, tier, build, runtime) in pkgs.iter().filter(|p| !matches!(p.0, "binutils-pass1" | "zlib" | "xz")) {
        t.write(&format!("audits/{name}.json"), &audit_record(name, tier, build, runtime));
    }
    igos::audit::db::aggregate(&t.path().join("audits"), &t.path().join("build/audit.db")).expect("aggregate");
    t
}

/// An audit record matching [`recipe`]'s version and dependencies.
pub fn audit_record(name: &str, tier: &str, build: &[&str], runtime: &[&str]) -> String {
    let list = |xs: &[&str]| format!("[{}]", xs.iter().map(|x| format!("\"{x}\"")).collect::<Vec<_>>().join(", "));
    format!(
        "{{\"audit_version\": 1, \"audited_at\": \"2026-11-20T12:00:00Z\", \"audited_by\": \"igos audit\", \
         \"build_system\": \"autotools\", \"name\": \"{name}\", \"our_deps_build\": {}, \"our_deps_host\": [], \
         \"our_deps_runtime\": {}, \"source_sha256\": \"{}\", \"source_tarball\": \"{name}-1.2.3.tar.xz\", \
         \"tier\": \"{tier}\", \"version\": \"1.2.3\"}}\n",
        list(build),
        list(runtime),
        "ab".repeat(32),
    )
}
