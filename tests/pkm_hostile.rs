//! Hostile-archive corpus: every archive is built raw with `tar::Builder` and must be rejected
//! (exit 2, a diagnostic naming the archive and member) before anything is written to the root.

mod pkm_support;
use igos::archive::{EntryKind, Manifest, ManifestEntry};
use pkm_support::*;
use std::fs;
use std::io::Write;
use std::path::Path;

#[derive(Clone)]
enum K {
    File(Vec<u8>),
    Dir,
    Sym(String),
    Hard(String),
    Char,
    Block,
    Fifo,
    Raw(u8, Vec<u8>),
}

#[derive(Clone)]
struct E {
    name: String,
    mode: u32,
    kind: K,
    pax: Vec<(String, String)>,
}

fn e(name: &str, mode: u32, kind: K) -> E {
    E { name: name.into(), mode, kind, pax: vec![] }
}

fn sha(b: &[u8]) -> String {
    igos::archive::sha256_reader(b).unwrap()
}

/// Manifest text listing the given entries as declared (path, kind, mode).
fn manifest(entries: &[(&str, EntryKind, u32)]) -> String {
    let mut m = Manifest { name: "evil".into(), version: "1.0".into(), release: 1, tier: "core".into(), description: "x".into(), ..Default::default() };
    for (p, k, mode) in entries {
        m.entries.push(ManifestEntry { path: p.to_string(), kind: k.clone(), mode: *mode, config: false, size: None });
    }
    m.entries.sort_by(|a, b| a.path.cmp(&b.path));
    m.render()
}

fn fk(c: &[u8]) -> EntryKind {
    EntryKind::File { sha256: sha(c) }
}

fn header_for(en: &E) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    let (t, size) = match &en.kind {
        K::File(c) => (tar::EntryType::Regular, c.len() as u64),
        K::Dir => (tar::EntryType::Directory, 0),
        K::Sym(_) => (tar::EntryType::Symlink, 0),
        K::Hard(_) => (tar::EntryType::Link, 0),
        K::Char => (tar::EntryType::Char, 0),
        K::Block => (tar::EntryType::Block, 0),
        K::Fifo => (tar::EntryType::Fifo, 0),
        K::Raw(b, c) => (tar::EntryType::new(*b), c.len() as u64),
    };
    h.set_entry_type(t);
    h.set_size(size);
    h.set_mode(en.mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    // Raw name bytes: bypass the builder's own path validation.
    let name = en.name.as_bytes();
    let gnu = h.as_gnu_mut().unwrap();
    gnu.name = [0; 100];
    gnu.name[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    if let K::Sym(t) | K::Hard(t) = &en.kind {
        gnu.linkname = [0; 100];
        gnu.linkname[..t.len().min(100)].copy_from_slice(&t.as_bytes()[..t.len().min(100)]);
    }
    h.set_cksum();
    h
}

/// A tar.gz with `.MANIFEST` (if given) first, then the entries, as raw as asked.
fn build(manifest: Option<&str>, entries: &[E]) -> Vec<u8> {
    let mut tb = tar::Builder::new(Vec::new());
    let sized = manifest.map(|m| with_sizes(m, entries));
    if let Some(m) = sized.as_deref() {
        tb.append(&header_for(&e(".MANIFEST", 0o644, K::File(m.as_bytes().to_vec()))), m.as_bytes()).unwrap();
    }
    for en in entries {
        if !en.pax.is_empty() {
            tb.append_pax_extensions(en.pax.iter().map(|(k, v)| (k.as_str(), v.as_bytes()))).unwrap();
        }
        let data: Vec<u8> = match &en.kind {
            K::File(c) | K::Raw(_, c) => c.clone(),
            _ => vec![],
        };
        tb.append(&header_for(en), data.as_slice()).unwrap();
    }
    gz(&tb.into_inner().unwrap())
}

/// The manifest declaring each file's size (the reader requires sizes): the size of the member
/// of that name, else of a member with the declared content, else 0. A manifest that does not
/// parse is left as it is.
fn with_sizes(text: &str, entries: &[E]) -> String {
    let Ok(mut m) = Manifest::parse(text) else { return text.to_string() };
    let content = |en: &E| match &en.kind {
        K::File(c) => Some(c.len() as u64),
        _ => None,
    };
    for me in &mut m.entries {
        let EntryKind::File { sha256 } = &me.kind else { continue };
        let by_name = entries.iter().find(|en| en.name.trim_matches('/') == me.path).and_then(content);
        let by_sha = entries.iter().find(|en| matches!(&en.kind, K::File(c) if &sha(c) == sha256)).and_then(content);
        me.size = Some(by_name.or(by_sha).unwrap_or(0));
    }
    m.render()
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(b).unwrap();
    g.finish().unwrap()
}

fn usr_bin() -> Vec<E> {
    vec![e("usr/", 0o755, K::Dir), e("usr/bin/", 0o755, K::Dir)]
}

fn base_manifest(extra: &[(&str, EntryKind, u32)]) -> String {
    let mut v = vec![("usr", EntryKind::Dir, 0o755), ("usr/bin", EntryKind::Dir, 0o755)];
    v.extend(extra.iter().cloned());
    manifest(&v)
}

fn corpus() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let x = b"#!/bin/sh\necho evil\n".to_vec();
    let good_m = base_manifest(&[("usr/bin/x", fk(&x), 0o755)]);
    let with = |extra: Vec<E>| -> Vec<E> { [usr_bin(), extra].concat() };
    let mut v: Vec<(&'static str, &'static str, Vec<u8>)> = vec![
        ("absolute-path", "absolute-path", build(Some(&manifest(&[("etc/passwd", fk(&x), 0o644)])), &[e("/etc/passwd", 0o644, K::File(x.clone()))])),
        ("dot-dot", "dot-dot", build(Some(&good_m), &with(vec![e("usr/bin/../../../etc/x", 0o755, K::File(x.clone()))]))),
        ("dot-dot-leading", "dot-dot", build(Some(&good_m), &[e("../evil", 0o644, K::File(x.clone()))])),
        ("dot-slash-prefix", "bad-path", build(Some(&good_m), &[e("./usr/", 0o755, K::Dir)])),
        ("double-slash", "bad-path", build(Some(&good_m), &[e("usr//bin/", 0o755, K::Dir)])),
        ("hardlink", "hardlink", build(Some(&good_m), &with(vec![e("usr/bin/x", 0o755, K::Hard("/etc/shadow".into()))]))),
        ("char-device", "device-node", build(Some(&good_m), &with(vec![e("usr/bin/x", 0o644, K::Char)]))),
        ("block-device", "device-node", build(Some(&good_m), &with(vec![e("usr/bin/x", 0o644, K::Block)]))),
        ("fifo", "fifo", build(Some(&good_m), &with(vec![e("usr/bin/x", 0o644, K::Fifo)]))),
        ("symlink-escape", "link-escape", build(Some(&base_manifest(&[("usr/bin/x", EntryKind::Symlink { target: "../../../etc/shadow".into() }, 0o777)])), &with(vec![e("usr/bin/x", 0o777, K::Sym("../../../etc/shadow".into()))]))),
        ("duplicate-entry", "duplicate-entry", build(Some(&good_m), &with(vec![e("usr/bin/x", 0o755, K::File(x.clone())), e("usr/bin/x", 0o755, K::File(x.clone()))]))),
        ("unsorted", "unsorted", build(Some(&base_manifest(&[("usr/bin/x", fk(&x), 0o755), ("usr/bin/w", fk(&x), 0o755)])), &with(vec![e("usr/bin/x", 0o755, K::File(x.clone())), e("usr/bin/w", 0o755, K::File(x.clone()))]))),
        ("undeclared-setuid", "undeclared-setuid", build(Some(&good_m), &with(vec![e("usr/bin/x", 0o4755, K::File(x.clone()))]))),
        ("undeclared-setgid", "undeclared-setuid", build(Some(&good_m), &with(vec![e("usr/bin/x", 0o2755, K::File(x.clone()))]))),
        ("hash-mismatch", "hash-mismatch", build(Some(&good_m), &with(vec![e("usr/bin/x", 0o755, K::File(b"other content".to_vec()))]))),
        ("not-in-manifest", "not-in-manifest", build(Some(&good_m), &with(vec![e("usr/bin/x", 0o755, K::File(x.clone())), e("usr/bin/y", 0o755, K::File(x.clone()))]))),
        ("missing-from-archive", "manifest-mismatch", build(Some(&good_m), &usr_bin())),
        ("type-mismatch", "manifest-mismatch", build(Some(&good_m), &with(vec![e("usr/bin/x", 0o777, K::Sym("y".into()))]))),
        ("mode-mismatch", "manifest-mismatch", build(Some(&good_m), &with(vec![e("usr/bin/x", 0o777, K::File(x.clone()))]))),
        ("link-target-mismatch", "manifest-mismatch", build(Some(&base_manifest(&[("usr/bin/x", EntryKind::Symlink { target: "y".into() }, 0o777)])), &with(vec![e("usr/bin/x", 0o777, K::Sym("z".into()))]))),
        ("no-manifest", "no-manifest", build(None, &with(vec![e("usr/bin/x", 0o755, K::File(x.clone()))]))),
        ("manifest-not-first", "no-manifest", build(None, &[e("usr/", 0o755, K::Dir), e(".MANIFEST", 0o644, K::File(good_m.as_bytes().to_vec()))])),
        ("second-manifest", "duplicate-entry", build(Some(&good_m), &[e(".MANIFEST", 0o644, K::File(good_m.as_bytes().to_vec()))])),
        ("bad-manifest-mode", "bad-manifest", build(Some("format: igos-archive 1\nname: evil\nversion: 1\nfiles:\ndir 9999 usr\n"), &[])),
        ("manifest-dot-dot", "bad-manifest", build(Some("format: igos-archive 1\nname: evil\nversion: 1\nfiles:\ndir 0755 ../usr\n"), &[])),
        ("manifest-bad-name", "bad-manifest", build(Some("format: igos-archive 1\nname: ../evil\nversion: 1\nfiles:\n"), &[])),
        ("beneath-symlink", "undeclared-parent", build(Some(&manifest(&[("usr", EntryKind::Dir, 0o755), ("usr/lib", EntryKind::Symlink { target: "/etc".into() }, 0o777), ("usr/lib/evil", fk(&x), 0o644)])), &[e("usr/", 0o755, K::Dir), e("usr/lib", 0o777, K::Sym("/etc".into())), e("usr/lib/evil", 0o644, K::File(x.clone()))])),
        ("undeclared-parent", "undeclared-parent", build(Some(&manifest(&[("usr/bin/x", fk(&x), 0o755)])), &[e("usr/bin/x", 0o755, K::File(x.clone()))])),
        ("pax-global-header", "pax-trick", build(Some(&good_m), &[e("pax_global_header", 0o644, K::Raw(b'g', b"19 path=etc/shadow\n".to_vec()))])),
        ("pax-unknown-key", "pax-trick", build(Some(&good_m), &with(vec![E { pax: vec![("SCHILY.xattr.security.capability".into(), "x".into())], ..e("usr/bin/x", 0o755, K::File(x.clone())) }]))),
        ("pax-path-override", "dot-dot", build(Some(&good_m), &with(vec![E { pax: vec![("path".into(), "../../etc/shadow".into())], ..e("usr/bin/x", 0o755, K::File(x.clone())) }]))),
        ("gnu-sparse", "corrupt", build(Some(&good_m), &with(vec![e("usr/bin/x", 0o755, K::Raw(b'S', vec![]))]))),
        ("contiguous-type", "bad-type", build(Some(&good_m), &with(vec![e("usr/bin/x", 0o755, K::Raw(b'7', x.clone()))]))),
        ("not-gzip", "corrupt", b"this is not a gzip stream at all".to_vec()),
        ("empty-file", "corrupt", vec![]),
    ];
    // Truncated: a valid archive cut in half.
    let full = build(Some(&good_m), &with(vec![e("usr/bin/x", 0o755, K::File(vec![7u8; 200_000]))]));
    v.push(("truncated", "corrupt", full[..full.len() / 2].to_vec()));
    // Gzip bomb: 64 MiB of zeros, ~64 KiB compressed.
    let zeros = vec![0u8; 64 << 20];
    let bm = base_manifest(&[("usr/bin/x", fk(&zeros), 0o644)]);
    let bomb = build(Some(&bm), &with(vec![e("usr/bin/x", 0o644, K::File(zeros))]));
    // Re-compress at the best level: ~1000:1.
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bomb.as_slice()), &mut raw).unwrap();
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    g.write_all(&raw).unwrap();
    v.push(("gzip-bomb", "gzip-bomb", g.finish().unwrap()));
    v
}

fn check_rejected(root: &Path, archive: &Path, name: &str, code: &str) {
    let before = snapshot(root);
    let o = pkm(root, &["install", "--archive-trust", "loose", archive.to_str().unwrap()], &[]);
    assert_eq!(o.code, 2, "{name}: expected exit 2\nstdout: {}\nstderr: {}", o.stdout, o.stderr);
    assert!(o.stderr.contains(&format!("pkm::archive::{code}")), "{name}: expected code {code}\n{}", o.stderr);
    assert!(o.stderr.contains(archive.file_name().unwrap().to_str().unwrap()), "{name}: diagnostic must name the archive\n{}", o.stderr);
    assert_eq!(before, snapshot(root), "{name}: the root changed");
    let installed = query_strings(root, "SELECT name FROM installed");
    assert!(installed.is_empty(), "{name}: installed {installed:?}");
}

#[test]
fn hostile_corpus_is_rejected_before_any_write() {
    let root = fresh_root();
    assert_eq!(pkm(root.path(), &["doctor"], &[]).code, 0);
    let dir = TempDir::new("hostile");
    let corpus = corpus();
    assert!(corpus.len() >= 30, "only {} hostile archives", corpus.len());
    for (name, code, bytes) in &corpus {
        let p = dir.path().join(format!("{name}.igos.tar.gz"));
        fs::write(&p, bytes).unwrap();
        check_rejected(root.path(), &p, name, code);
    }
}

#[test]
fn a_valid_raw_archive_is_accepted() {
    // The corpus builder itself produces acceptable archives when nothing is wrong.
    let x = b"#!/bin/sh\necho ok\n".to_vec();
    let m = base_manifest(&[("usr/bin/x", fk(&x), 0o755)]);
    let bytes = build(Some(&m), &[usr_bin(), vec![e("usr/bin/x", 0o755, K::File(x))]].concat());
    let root = fresh_root();
    let dir = TempDir::new("raw-ok");
    let p = dir.path().join("evil-1.0-1.igos.tar.gz");
    fs::write(&p, bytes).unwrap();
    let o = pkm(root.path(), &["install", "--archive-trust", "loose", p.to_str().unwrap()], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(root.path().join("usr/bin/x").is_file());
}

#[test]
fn reader_never_panics_on_mutated_bytes() {
    // Flip bytes throughout a valid archive; every outcome must be Ok or a clean error.
    let x = vec![b'a'; 5000];
    let m = base_manifest(&[("usr/bin/x", fk(&x), 0o755)]);
    let tar_bytes = {
        let mut tb = tar::Builder::new(Vec::new());
        tb.append(&header_for(&e(".MANIFEST", 0o644, K::File(m.as_bytes().to_vec()))), m.as_bytes()).unwrap();
        for en in [usr_bin(), vec![e("usr/bin/x", 0o755, K::File(x))]].concat() {
            let data = if let K::File(c) = &en.kind { c.clone() } else { vec![] };
            tb.append(&header_for(&en), data.as_slice()).unwrap();
        }
        tb.into_inner().unwrap()
    };
    let dir = TempDir::new("fuzz");
    for i in (0..tar_bytes.len()).step_by(37) {
        let mut t = tar_bytes.clone();
        t[i] ^= 0x5a;
        let staging = dir.path().join(format!("s{i}"));
        fs::create_dir(&staging).unwrap();
        let _ = igos::archive::extract_archive(gz(&t).as_slice(), &staging, &igos::archive::Limits::default());
    }
}

#[test]
fn a_hostile_archive_later_in_the_queue_stops_the_whole_queue() {
    let root = fresh_root();
    assert_eq!(pkm(root.path(), &["doctor"], &[]).code, 0);
    let dir = TempDir::new("hostile-queue");
    let good = pkg("good", "1.0", &[("usr/bin/good", exe("good"))]).build(dir.path());
    let (_, _, bytes) = corpus().into_iter().find(|c| c.0 == "symlink-escape").unwrap();
    let bad = dir.path().join("bad.igos.tar.gz");
    fs::write(&bad, bytes).unwrap();
    let before = snapshot(root.path());
    let o = pkm(root.path(), &["install", "--archive-trust", "loose", good.to_str().unwrap(), bad.to_str().unwrap()], &[]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("bad.igos.tar.gz"), "{}", o.stderr);
    assert_eq!(before, snapshot(root.path()), "the first archive must not be deployed either");
}
