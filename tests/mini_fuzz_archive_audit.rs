//! Always-on mini fuzz of the two loaders the cargo-fuzz targets `archive` and
//! `audit_record` cover (tests/fuzz/), bounded so it costs a few seconds in debug:
//!
//! * the hardened archive reader: real archives (built by the project's writer through the
//!   test helpers) are inflated, their tar stream mutated (xorshift, fixed seed) and gzipped
//!   again, or the gzip bytes mutated directly, then read by `extract_archive` into an empty
//!   staging directory. Nothing may panic, every refusal carries a code, and nothing is ever
//!   written outside the staging directory. Mutated `.MANIFEST` texts that parse must render
//!   and parse back to the same manifest.
//! * the audit record reader: the real records of packages/audits, mutated, through
//!   `Record::from_json`; a record that reads must round-trip through `to_json`. Every
//!   twentieth case aggregates a store of mutated records into a fresh SQLite database:
//!   unreadable records are skipped with a reason, never a panic.
//!
//! `cargo test --test mini_fuzz_archive_audit -- --ignored write_fuzz_seeds` rewrites the
//! checked-in seeds of tests/fuzz/seeds/{archive,audit_record}.

mod pkm_support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use igos::archive::{extract_archive, Limits, Manifest};
use igos::audit::Record;
use pkm_support::*;

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

const TOKENS: &[&[u8]] = &[
    b"\0", b"\n", b"/", b"../", b"..", b"./", b"//", b"%", b"%2F", b"%ff", b"\xff", b"\xc3", b"0755", b"4755", b"7777", b" ",
    b"file ", b"dir ", b"symlink ", b"config ", b"files:\n", b"name: ", b"version: ", b"format: igos-archive 1\n", b".MANIFEST",
    b"ustar\0", b"ustar  \0", b"00000000000", b"77777777777", b"\x80", b"{", b"}", b"\"", b"null", b"[]", b"1e999", b"-1",
    b"\"name\"", b"\"our_deps_build\"", b"\"audit_version\"", b"4294967296", b"\\u0000", b"\\ud800",
];

fn mutate(rng: &mut Rng, seed: &[u8], rounds: usize) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(rounds) {
        let at = rng.below(v.len() + 1);
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 if rng.below(4) == 0 => v.truncate(at),
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            3 => {
                let end = (at + rng.below(64)).min(v.len());
                v.drain(at..end);
            }
            4 if !v.is_empty() => {
                let a = rng.below(v.len());
                let b = (a + rng.below(512)).min(v.len());
                let piece = v[a..b].to_vec();
                let to = rng.below(v.len() + 1);
                v.splice(to..to, piece);
            }
            5 if !v.is_empty() => {
                // Overwrite in place (keeps tar block alignment).
                let t = TOKENS[rng.below(TOKENS.len())];
                for (k, b) in t.iter().enumerate() {
                    if let Some(x) = v.get_mut(at + k) {
                        *x = *b;
                    }
                }
            }
            _ => {
                let b = (rng.next() & 0xff) as u8;
                v.insert(at, b);
            }
        }
    }
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(bytes).expect("gzip");
    g.finish().expect("gzip")
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("gunzip");
    out
}

/// Small but real packages: files, config, setuid, nested dirs, symlinks (relative,
/// absolute), an empty package, escaped names.
fn seed_packages() -> Vec<Pkg> {
    vec![
        pkg("hello", "1.0", &[("usr/bin/hello", exe("hello 1.0\n"))]),
        pkg("util-linux", "2.39", &[
            ("usr/bin/mount", Node::File(b"mount 2.39".to_vec(), 0o4755)),
            ("usr/bin/umount", link("mount")),
            ("etc/fstab", file("# fstab\n")),
            ("usr/share/doc/ul/README", file("read me\n")),
        ]),
        pkg("links", "3", &[
            ("usr/lib/libz.so.1.3", exe("ELF")),
            ("usr/lib/libz.so.1", link("libz.so.1.3")),
            ("usr/lib/libz.so", link("/usr/lib/libz.so.1")),
            ("usr/share/x y%z/f\tg", file("odd names")),
            ("var/empty", Node::Dir(0o1777)),
        ]),
        pkg("empty", "0.1", &[]),
    ]
}

fn build_seed_archives(dir: &Path) -> Vec<(String, Vec<u8>)> {
    seed_packages()
        .iter()
        .map(|p| {
            let a = p.build(dir);
            (p.name.clone(), std::fs::read(&a).expect("archive"))
        })
        .collect()
}

/// Offsets of the tar header blocks, walking the (possibly mutated) size fields.
fn header_offsets(t: &[u8]) -> Vec<usize> {
    let mut v = vec![];
    let mut off = 0;
    while off + 512 <= t.len() && t[off..off + 512].iter().any(|b| *b != 0) && v.len() < 10_000 {
        v.push(off);
        let field = &t[off + 124..off + 136];
        let size = std::str::from_utf8(field).ok().and_then(|s| u64::from_str_radix(s.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok()).unwrap_or(0);
        off += 512 + (size.min(1 << 30) as usize).div_ceil(512) * 512;
    }
    v
}

/// Recompute each header's checksum, so mutations reach past the tar framing.
fn fix_checksums(t: &mut [u8]) {
    for off in header_offsets(t) {
        let h = &mut t[off..off + 512];
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|b| *b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    }
}

/// Same-length mutations (bit flips, tokens written over), checksums fixed.
fn in_place(rng: &mut Rng, tar: &[u8]) -> Vec<u8> {
    let mut v = tar.to_vec();
    let heads = header_offsets(&v);
    for _ in 0..1 + rng.below(3) {
        // Aim at a header field half the time (name, mode, size, type, link name, magic).
        let at = if rng.below(2) == 0 && !heads.is_empty() {
            let fields = [0, 100, 124, 156, 157, 257, 345];
            heads[rng.below(heads.len())] + fields[rng.below(fields.len())] + rng.below(8)
        } else {
            rng.below(v.len())
        };
        if rng.below(2) == 0 {
            if let Some(x) = v.get_mut(at) {
                *x ^= 1 << rng.below(8);
            }
        } else {
            let t = TOKENS[rng.below(TOKENS.len())];
            for (k, b) in t.iter().enumerate() {
                if let Some(x) = v.get_mut(at + k) {
                    *x = *b;
                }
            }
        }
    }
    fix_checksums(&mut v);
    v
}

/// One tar member, raw enough to be re-emitted with any name, type and mode.
#[derive(Clone)]
struct Member {
    name: Vec<u8>,
    kind: u8,
    mode: u32,
    data: Vec<u8>,
    link: Vec<u8>,
}

fn members(tar_bytes: &[u8]) -> Vec<Member> {
    let mut ar = tar::Archive::new(tar_bytes);
    let mut v = vec![];
    for e in ar.entries().expect("entries") {
        let mut e = e.expect("member");
        let mut data = vec![];
        e.read_to_end(&mut data).expect("data");
        v.push(Member {
            name: e.path_bytes().into_owned(),
            kind: e.header().entry_type().as_byte(),
            mode: e.header().mode().expect("mode"),
            data,
            link: e.link_name_bytes().map(|b| b.into_owned()).unwrap_or_default(),
        });
    }
    v
}

fn emit(ms: &[Member]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in ms {
        let mut h = tar::Header::new_gnu();
        {
            let old = h.as_old_mut();
            let n = m.name.len().min(100);
            old.name[..n].copy_from_slice(&m.name[..n]);
            let l = m.link.len().min(100);
            old.linkname[..l].copy_from_slice(&m.link[..l]);
        }
        h.set_entry_type(tar::EntryType::new(m.kind));
        h.set_mode(m.mode);
        h.set_size(m.data.len() as u64);
        h.set_cksum();
        b.append(&h, &m.data[..]).expect("append");
    }
    b.into_inner().expect("tar")
}

/// Structural mutations: the manifest text edited (any length), a member renamed, retyped,
/// re-moded, its content or link changed, members dropped, duplicated or swapped.
fn rebuilt(rng: &mut Rng, tar: &[u8]) -> Vec<u8> {
    let mut ms = members(tar);
    for _ in 0..1 + rng.below(2) {
        let i = rng.below(ms.len());
        match rng.below(9) {
            0 | 1 => ms[0].data = mutate(rng, &ms[0].data, 3),
            2 => ms[i].name = mutate(rng, &ms[i].name, 2),
            3 => ms[i].kind = [b'0', b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'g', b'x', b'L', b'S'][rng.below(12)],
            4 => ms[i].mode ^= [0o4000, 0o2000, 0o1000, 0o777, 0o100, 0o7777][rng.below(6)],
            5 => ms[i].data = mutate(rng, &ms[i].data, 2),
            6 => ms[i].link = mutate(rng, &ms[i].link, 2),
            7 if ms.len() > 1 => {
                let j = rng.below(ms.len());
                ms.swap(i, j);
            }
            _ => {
                if rng.below(2) == 0 {
                    ms.remove(i);
                } else {
                    let m = ms[i].clone();
                    ms.insert(rng.below(ms.len() + 1), m);
                }
            }
        }
        if ms.is_empty() {
            break;
        }
    }
    emit(&ms)
}

fn limits() -> Limits {
    Limits { max_total: 4 << 20, max_ratio: 250, ratio_grace: 1 << 20, max_entries: 2_000, max_manifest: 1 << 20 }
}

/// Read `bytes` into a fresh staging dir under `base`; assert the reader's contract.
fn read_one(base: &Path, bytes: &[u8], case: usize) -> Result<(), &'static str> {
    let staging = base.join("staging");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging).expect("staging");
    let outcome = std::panic::catch_unwind(|| extract_archive(bytes, &staging, &limits()));
    let path = std::env::temp_dir().join(format!("igos-mini-fuzz-archive-{case}.bin"));
    let save = || {
        let _ = std::fs::write(&path, bytes);
    };
    let result = match outcome {
        Err(_) => {
            save();
            panic!("case {case} panicked; input saved to {}", path.display());
        }
        Ok(Ok(x)) => {
            // Accepted: exactly what the manifest declares is staged, with its content.
            for e in &x.manifest.entries {
                let p = staging.join(&e.path);
                assert!(std::fs::symlink_metadata(&p).is_ok(), "case {case}: declared {} not staged", e.path);
                match &e.kind {
                    igos::archive::EntryKind::File { sha256 } => {
                        assert_eq!(igos::archive::hash_file(&p).ok().as_ref(), Some(sha256), "case {case}: {} staged with other content", e.path)
                    }
                    igos::archive::EntryKind::Symlink { target } => {
                        assert!(!igos::archive::link_escapes(&e.path, target), "case {case}: {} escapes", e.path)
                    }
                    igos::archive::EntryKind::Dir => {}
                }
            }
            Ok(())
        }
        Ok(Err(e)) => {
            assert!(!e.code.is_empty() && !e.to_string().is_empty(), "case {case}: refusal without a code");
            Err(e.code)
        }
    };
    let names: Vec<PathBuf> = std::fs::read_dir(base).expect("base").map(|e| e.expect("entry").path()).collect();
    if names != vec![staging.clone()] {
        save();
        panic!("case {case}: the reader wrote outside its staging directory: {names:?}");
    }
    result
}

#[test]
fn mini_fuzz_archives() {
    let arch = TempDir::new("mini-fuzz-arch");
    let seeds = build_seed_archives(arch.path());
    let tars: Vec<Vec<u8>> = seeds.iter().map(|(_, a)| gunzip(a)).collect();
    let base = TempDir::new("mini-fuzz-base");
    // The unmutated seeds are accepted.
    for (i, (name, a)) in seeds.iter().enumerate() {
        assert_eq!(read_one(base.path(), a, i), Ok(()), "seed {name} refused");
    }
    let mut rng = Rng(0x1605_2026_0000_00a1);
    let cases = 2000;
    let mut refused = std::collections::BTreeMap::<&str, usize>::new();
    let mut accepted = 0;
    for case in 0..cases {
        let k = case % seeds.len();
        // Two in three cases mutate the tar stream (regzipped), one in three the gzip bytes.
        let bytes = match case % 4 {
            0 => gzip(&in_place(&mut rng, &tars[k])),
            1 | 2 => gzip(&rebuilt(&mut rng, &tars[k])),
            _ if case % 8 == 3 => gzip(&mutate(&mut rng, &tars[k], 4)),
            _ => mutate(&mut rng, &seeds[k].1, 3),
        };
        match read_one(base.path(), &bytes, case) {
            Ok(()) => accepted += 1,
            Err(code) => *refused.entry(code).or_default() += 1,
        }
    }
    eprintln!("mini fuzz archives: {cases} cases, {accepted} accepted, refused by code: {refused:?}");
    // The mutations reach past the gzip and tar framing into the manifest checks.
    assert!(refused.len() >= 5, "too few distinct refusals: {refused:?}");
}

#[test]
fn mini_fuzz_manifests() {
    let arch = TempDir::new("mini-fuzz-man");
    let texts: Vec<Vec<u8>> = build_seed_archives(arch.path())
        .iter()
        .map(|(_, a)| {
            let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&a[..]));
            let mut first = ar.entries().expect("entries").next().expect("manifest").expect("member");
            let mut s = vec![];
            first.read_to_end(&mut s).expect("read");
            s
        })
        .collect();
    let mut rng = Rng(0x1605_2026_0000_00a2);
    let (mut ok, cases) = (0, 3000);
    for case in 0..cases {
        let bytes = mutate(&mut rng, &texts[case % texts.len()], 4);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let r = std::panic::catch_unwind(|| {
            if let Ok(m) = Manifest::parse(&text) {
                let again = Manifest::parse(&m.render()).map_err(|e| format!("rendered manifest does not parse: {e:?}"))?;
                if again != m {
                    return Err("render/parse round trip changed the manifest".to_string());
                }
                return Ok(true);
            }
            Ok(false)
        });
        match r {
            Ok(Ok(parsed)) => ok += parsed as usize,
            Ok(Err(why)) => panic!("case {case}: {why}\n{text}"),
            Err(_) => panic!("case {case} panicked:\n{text}"),
        }
    }
    eprintln!("mini fuzz manifests: {cases} cases, {ok} parsed");
}

fn audit_seeds() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("packages/audits");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir).expect("packages/audits").map(|e| e.expect("entry").path()).collect();
    v.sort();
    let seeds: Vec<Vec<u8>> = v.iter().filter(|p| p.extension().is_some_and(|x| x == "json")).map(|p| std::fs::read(p).expect("record")).collect();
    assert!(seeds.len() >= 20, "audit seeds: {}", seeds.len());
    seeds
}

#[test]
fn mini_fuzz_audit_records() {
    let seeds = audit_seeds();
    for s in &seeds {
        assert!(Record::from_json(s).is_ok(), "a real record does not read");
    }
    let store = TempDir::new("mini-fuzz-audit");
    let db = store.path().join("build/audit.db");
    let mut rng = Rng(0x1605_2026_0000_00a3);
    let (mut read, cases) = (0, 3000);
    for case in 0..cases {
        let bytes = mutate(&mut rng, &seeds[case % seeds.len()], 4);
        let r = std::panic::catch_unwind(|| match Record::from_json(&bytes) {
            Ok(rec) => {
                let back = Record::from_json(rec.to_json().as_bytes()).map_err(|e| format!("written record does not read: {e}"))?;
                if back != rec {
                    return Err("record round trip changed it".to_string());
                }
                Ok(true)
            }
            Err(e) => {
                assert!(!e.is_empty());
                Ok(false)
            }
        });
        match r {
            Ok(Ok(x)) => read += x as usize,
            Ok(Err(why)) => panic!("case {case}: {why}\n{}", String::from_utf8_lossy(&bytes)),
            Err(_) => panic!("case {case} panicked:\n{}", String::from_utf8_lossy(&bytes)),
        }
        // Every twentieth case: a store of a few mutated records, aggregated for real.
        if case % 20 == 0 {
            let recs = store.path().join("audits");
            let _ = std::fs::remove_dir_all(&recs);
            std::fs::create_dir_all(&recs).expect("store");
            for j in 0..4 {
                let bytes = mutate(&mut rng, &seeds[(case + j) % seeds.len()], 2);
                // A record is stored under its name (aggregate refuses one named otherwise);
                // a name that cannot be a file name keeps a made-up one.
                let name = Record::from_json(&bytes)
                    .ok()
                    .map(|r| r.name)
                    .filter(|n| !n.is_empty() && !n.starts_with('.') && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c)))
                    .filter(|n| !recs.join(format!("{n}.json")).exists())
                    .unwrap_or_else(|| format!("r{j}"));
                std::fs::write(recs.join(format!("{name}.json")), bytes).expect("write");
            }
            let out = std::panic::catch_unwind(|| igos::audit::aggregate(&recs, &db));
            let Ok(out) = out else { panic!("case {case}: aggregate panicked") };
            let (n, skipped) = match out {
                Ok(x) => x,
                // A record named otherwise than its file: refused whole, the database kept.
                Err(e) if e.to_string().contains("but its file is") => continue,
                Err(e) => panic!("case {case}: aggregate failed: {e}"),
            };
            assert_eq!(n + skipped.len(), 4, "case {case}: every record ingested or skipped with a reason");
            igos::audit::db::read(&db).unwrap_or_else(|e| panic!("case {case}: the aggregated database does not read: {e}"));
        }
    }
    eprintln!("mini fuzz audit records: {cases} cases, {read} read");
}

/// Rewrites tests/fuzz/seeds/{archive,audit_record}. The archive seeds are real archives:
/// `g-<name>` whole (mode byte 1: read as is) and `t-<name>` its tar stream (mode byte 0:
/// the target gzips it), see tests/fuzz/fuzz_targets/archive.rs.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/seeds");
    let arch = TempDir::new("seeds");
    let out = root.join("archive");
    std::fs::create_dir_all(&out).expect("dir");
    for (name, a) in build_seed_archives(arch.path()) {
        let mut g = vec![1u8];
        g.extend_from_slice(&a);
        std::fs::write(out.join(format!("g-{name}")), g).expect("write");
        let mut t = vec![0u8];
        t.extend_from_slice(&gunzip(&a));
        std::fs::write(out.join(format!("t-{name}")), t).expect("write");
    }
    let out = root.join("audit_record");
    std::fs::create_dir_all(&out).expect("dir");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("packages/audits");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir).expect("audits").map(|e| e.expect("entry").path()).collect();
    v.sort();
    for p in v.iter().step_by(4) {
        std::fs::copy(p, out.join(p.file_name().expect("name"))).expect("copy");
    }
    std::fs::write(out.join("zz-nulls.json"), "{\"name\":\"x\",\"version\":null,\"our_deps_build\":null,\"audit_version\":null,\"extra\":[1,{\"a\":2}]}\n").expect("write");
}
