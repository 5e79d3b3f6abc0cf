//! `PKM_DEMO_DIR=/tmp/x cargo test --test pkm_demo -- --ignored` writes demo archives and an
//! index there (util-linux, its split, a tampered copy) for trying pkm by hand.

mod pkm_support;
use pkm_support::*;

#[test]
#[ignore]
fn build_demo_archives() {
    let Ok(dir) = std::env::var("PKM_DEMO_DIR") else { return };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ul = pkg("util-linux", "2.39", &[
        ("usr/bin/mount", Node::File(b"mount 2.39".to_vec(), 0o4755)),
        ("usr/bin/fdisk", exe("fdisk 2.39")),
        ("usr/bin/rename", exe("rename 2.39")),
        ("etc/fstab", file("# fstab\n")),
    ]);
    let core = pkg("util-linux-core", "2.40", &[("usr/bin/mount", Node::File(b"mount 2.40".to_vec(), 0o4755)), ("etc/fstab", file("# fstab 2.40\n"))]).supersedes(&["util-linux"]);
    let extra = pkg("util-linux-extra", "2.40", &[("usr/bin/fdisk", exe("fdisk 2.40"))]).supersedes(&["util-linux"]);
    let bad = pkg("badlib", "1.0", &[("lib/libbad.so", file("x"))]);
    let a: Vec<_> = [&ul, &core, &extra, &bad].iter().map(|p| p.build(&dir)).collect();
    let idx = index_for(&dir, &[(&ul, &a[0]), (&core, &a[1]), (&extra, &a[2]), (&bad, &a[3])]);
    println!("{}", idx.display());
}

/// `PKM_PACK_SRC=DIR PKM_PACK_OUT=FILE cargo test --release --test pkm_demo -- --ignored` packs a
/// staged tree with the deterministic writer (a stand-in for `igos pack`, used for benchmarks).
#[test]
#[ignore]
fn pack_tree() {
    let (Ok(src), Ok(out)) = (std::env::var("PKM_PACK_SRC"), std::env::var("PKM_PACK_OUT")) else { return };
    let meta = igos::archive::PackageMeta { name: "bigpkg".into(), version: "1.0".into(), release: 1, tier: "extra".into(), ..Default::default() };
    let m = igos::archive::manifest_from_tree(&meta, std::path::Path::new(&src)).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&out).unwrap());
    igos::archive::write_archive(&mut f, &m, std::path::Path::new(&src), &igos::archive::WriteOptions { mtime: 1_700_000_000, level: 6 }).unwrap();
}
