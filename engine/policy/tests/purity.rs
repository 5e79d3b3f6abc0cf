//! The policy crate is generic and pure: its sources open no file, socket or process, and
//! name no distribution. A distro word here means a concept leaked from a domain into the
//! engine; an I/O call means the engine reads what a loader should have handed it.

use std::path::{Path, PathBuf};

/// Terms of the I/O the engine must not do.
const IO: &[&str] = &["std::fs", "std::net", "std::process", "std::os::unix::fs", "File::open", "read_dir", "libc::"];

/// Words of InterGenOS and its package manager (case-insensitive).
const DISTRO: &[&str] = &["recipe", "pkm", "intergenos", "package.yml", "build.sh", "audit-override"];


fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("the crate's directory reads") {
        let p = e.expect("an entry").path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target") {
                sources(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_engine_does_no_io_and_knows_no_distribution() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    sources(&root, &mut files);
    files.sort();
    let this = root.join("tests/purity.rs");
    assert!(files.len() > 10, "the crate's sources are found ({} files)", files.len());
    let mut found = vec![];
    for f in files.iter().filter(|f| **f != this) {
        let rel = f.strip_prefix(&root).expect("under the crate").to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(f).expect("a source reads");
        for (n, line) in text.lines().enumerate() {
            for term in IO {
                if line.contains(term) {
                    found.push(format!("{rel}:{}: I/O `{term}`: {}", n + 1, line.trim()));
                }
            }
            let lower = line.to_lowercase();
            for term in DISTRO {
                if lower.contains(term) {
                    found.push(format!("{rel}:{}: distro word `{term}`: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "the policy crate must stay generic and pure:\n{}", found.join("\n"));
}

/// The test can fail: the scan finds the words it looks for where they are.
#[test]
fn the_purity_scan_finds_what_it_looks_for() {
    let lib = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("lib.rs")).expect("reads");
    assert!(lib.contains("does no I/O"), "the crate says what it promises");
    let planted = "use std::fs; // the recipe of a pkm package.yml";
    assert!(IO.iter().any(|t| planted.contains(t)));
    assert!(DISTRO.iter().any(|t| planted.to_lowercase().contains(t)));
}

/// The crate graph: the policy crate depends on no crate of igos.
#[test]
fn the_policy_crate_depends_on_no_other_igos_crate() {
    let manifest = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).expect("reads");
    let deps = manifest.split("[dependencies]").nth(1).expect("a dependencies table");
    assert!(!deps.contains("igos"), "igos-policy must not depend on another igos crate:\n{deps}");
}
