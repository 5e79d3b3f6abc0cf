//! Rendered diagnostics (no colour, width 100) snapshotted with insta into top-level snapshots/.

mod pkm_support;
use pkm_support::*;

fn render(o: &Out, tmp: &[&std::path::Path]) -> String {
    let mut s = format!("exit: {}\n{}", o.code, o.stderr);
    for t in tmp {
        s = s.replace(t.to_str().unwrap(), "[TMP]");
    }
    s
}

fn snap(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

struct Setup {
    root: TempDir,
    arch: TempDir,
}

fn setup(pkgs: &[&Pkg]) -> (Setup, Vec<std::path::PathBuf>) {
    let root = fresh_root();
    let arch = TempDir::new("diag");
    let built: Vec<_> = pkgs.iter().map(|p| p.build(arch.path())).collect();
    let pairs: Vec<(&Pkg, &std::path::Path)> = pkgs.iter().copied().zip(built.iter().map(|b| b.as_path())).collect();
    let idx = index_for(arch.path(), &pairs);
    assert_eq!(pkm(root.path(), &["sync", idx.to_str().unwrap()], &[]).code, 0);
    (Setup { root, arch }, built)
}

#[test]
fn diagnostic_directory_collision() {
    let bad = pkg("badlib", "1.0", &[("lib/libbad.so", file("x"))]);
    let (s, a) = setup(&[&bad]);
    let o = pkm(s.root.path(), &["install", a[0].to_str().unwrap()], &[]);
    snap("pkm_directory_collision", &render(&o, &[s.arch.path(), s.root.path()]));
}

#[test]
fn diagnostic_file_conflict() {
    let a1 = pkg("hello", "1.0", &[("usr/bin/hello", exe("1"))]);
    let a2 = pkg("rival", "1.0", &[("usr/bin/hello", exe("2"))]);
    let (s, a) = setup(&[&a1, &a2]);
    assert_eq!(pkm(s.root.path(), &["install", a[0].to_str().unwrap()], &[]).code, 0);
    let o = pkm(s.root.path(), &["install", a[1].to_str().unwrap()], &[]);
    snap("pkm_file_conflict", &render(&o, &[s.arch.path(), s.root.path()]));
}

#[test]
fn diagnostic_supersede_order() {
    let ul = pkg("util-linux", "2.39", &[("usr/bin/mount", exe("1"))]);
    let core = pkg("util-linux-core", "2.40", &[("usr/bin/mount", exe("2"))]).supersedes(&["util-linux"]);
    let (s, a) = setup(&[&ul, &core]);
    let o = pkm(s.root.path(), &["install", a[1].to_str().unwrap(), a[0].to_str().unwrap()], &[]);
    snap("pkm_supersede_order", &render(&o, &[s.arch.path(), s.root.path()]));
}

#[test]
fn diagnostic_trust_mismatch() {
    let h = pkg("hello", "1.0", &[("usr/bin/hello", exe("1"))]);
    let (s, a) = setup(&[&h]);
    std::fs::write(s.arch.path().join("index.txt"), format!("igos-index 1\nhello 1.0 1 {} hello-1.0-1.igos.tar.gz\n", "ab".repeat(32))).unwrap();
    assert_eq!(pkm(s.root.path(), &["sync", s.arch.path().join("index.txt").to_str().unwrap()], &[]).code, 0);
    let o = pkm_in(Some(s.arch.path()), s.root.path(), &["install", a[0].file_name().unwrap().to_str().unwrap()], &[]);
    let text = render(&o, &[s.arch.path(), s.root.path()]);
    let sha = igos::archive::hash_file(&a[0]).unwrap();
    snap("pkm_trust_mismatch", &text.replace(&sha, "[SHA256]"));
}

#[test]
fn diagnostic_hostile_member() {
    let root = fresh_root();
    let arch = TempDir::new("diag-hostile");
    let mut tb = tar::Builder::new(Vec::new());
    let m = "format: igos-archive 1\nname: evil\nversion: 1.0\nfiles:\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(m.len() as u64);
    h.set_mode(0o644);
    h.set_path(".MANIFEST").unwrap();
    h.set_cksum();
    tb.append(&h, m.as_bytes()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    h.set_mode(0o644);
    h.set_path("usr").unwrap();
    h.set_link_name("etc/shadow").unwrap();
    h.set_cksum();
    tb.append(&h, std::io::empty()).unwrap();
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut g, &tb.into_inner().unwrap()).unwrap();
    let p = arch.path().join("evil-1.0-1.igos.tar.gz");
    std::fs::write(&p, g.finish().unwrap()).unwrap();
    let o = pkm_in(Some(arch.path()), root.path(), &["install", "--archive-trust", "loose", "evil-1.0-1.igos.tar.gz"], &[]);
    snap("pkm_hostile_hardlink", &render(&o, &[arch.path(), root.path()]));
}
