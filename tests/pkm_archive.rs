//! The public archive API the lead's `igos pack` builds on: manifest round trip, determinism,
//! writer + reader round trip.

use igos::archive::{extract_archive, manifest_from_tree, write_archive, EntryKind, Limits, Manifest, PackageMeta, WriteOptions};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};

static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A fresh directory under the temp dir, removed when dropped (also when a test fails).
struct Tmp(std::path::PathBuf);

impl std::ops::Deref for Tmp {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn tmp(tag: &str) -> Tmp {
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let p = std::env::temp_dir().join(format!("pkm-archive-{tag}-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&p);
    fs::create_dir_all(&p).unwrap();
    Tmp(p)
}

fn tree() -> (Tmp, Manifest) {
    let src = tmp("src");
    fs::create_dir_all(src.join("usr/bin")).unwrap();
    fs::create_dir_all(src.join("etc")).unwrap();
    fs::write(src.join("usr/bin/tool"), "tool").unwrap();
    fs::set_permissions(src.join("usr/bin/tool"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::write(src.join("etc/tool.conf"), "x=1\n").unwrap();
    symlink("tool", src.join("usr/bin/t")).unwrap();
    for d in ["usr", "usr/bin", "etc"] {
        fs::set_permissions(src.join(d), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let meta = PackageMeta { name: "tool".into(), version: "1.2".into(), release: 3, tier: "extra".into(), description: "a tool".into(), depends: vec!["glibc".into()], supersedes: vec!["old-tool".into()] };
    let m = manifest_from_tree(&meta, &src).unwrap();
    (src, m)
}

#[test]
fn manifest_render_parse_round_trip() {
    let (_src, m) = tree();
    let text = m.render();
    assert!(text.starts_with("format: igos-archive 1\nname: tool\n"));
    assert!(text.contains("supersedes: old-tool\n"));
    assert!(text.contains(" config etc/tool.conf\n"));
    assert!(text.contains("symlink usr/bin/t tool\n"));
    assert!(text.contains("file 4755 "));
    assert_eq!(Manifest::parse(&text).unwrap(), m);
}

#[test]
fn write_then_extract_round_trip_and_determinism() {
    let (src, m) = tree();
    let mut a = Vec::new();
    write_archive(&mut a, &m, &src, &WriteOptions { mtime: 42, level: 9 }).unwrap();
    let mut b = Vec::new();
    write_archive(&mut b, &m, &src, &WriteOptions { mtime: 42, level: 9 }).unwrap();
    assert_eq!(a, b, "same inputs, same bytes");
    let mut c = Vec::new();
    write_archive(&mut c, &m, &src, &WriteOptions { mtime: 43, level: 9 }).unwrap();
    assert_ne!(a, c, "the epoch is part of the output");
    assert_eq!(&a[4..8], &[0, 0, 0, 0], "gzip header mtime is zero");
    let stage = tmp("stage");
    let ex = extract_archive(a.as_slice(), &stage, &Limits::default()).unwrap();
    assert_eq!(ex.manifest, m);
    assert_eq!(ex.archive_sha256, igos::archive::sha256_reader(a.as_slice()).unwrap());
    assert_eq!(fs::read_to_string(stage.join("usr/bin/tool")).unwrap(), "tool");
    assert_eq!(fs::read_link(stage.join("usr/bin/t")).unwrap().to_str(), Some("tool"));
    assert!(matches!(ex.manifest.entry("usr/bin/tool").unwrap().kind, EntryKind::File { .. }));
    // Tar headers carry root ownership and the epoch.
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(a.as_slice()));
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert_eq!((h.uid().unwrap(), h.gid().unwrap(), h.mtime().unwrap()), (0, 0, 42));
        assert_eq!(h.username().unwrap(), Some("root"));
    }
}

#[test]
fn writer_refuses_content_that_changed_since_the_manifest() {
    let (src, m) = tree();
    fs::write(src.join("usr/bin/tool"), "changed").unwrap();
    let mut out = Vec::new();
    assert!(write_archive(&mut out, &m, &src, &WriteOptions::default()).is_err());
}
