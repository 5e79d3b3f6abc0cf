//! The reference of the last good build saved from a root pkm really installed into:
//! `pkm sync` + `pkm install` write the text manifests, `igos reference save` reads them.

mod pkm_support;
mod support;

use std::process::Command;

use pkm_support::{exe, fresh_root, pkg, pkm};

#[test]
fn reference_save_reads_a_pkm_installed_root() {
    let root = fresh_root();
    let arch = pkm_support::TempDir::new("scanb-archives");
    let xz = pkg("xz", "1.2.3", &[("usr/bin/xz", exe("#!/bin/sh\n"))]);
    let gtk4 = pkg("gtk4", "4.14.2", &[("usr/bin/gtk4-demo", exe("#!/bin/sh\n"))]);
    let (xa, ga) = (xz.build(arch.path()), gtk4.build(arch.path()));
    let mut index = String::from("igos-index 1\n");
    for (p, a) in [(&xz, &xa), (&gtk4, &ga)] {
        index.push_str(&format!("{} {} 1 {} {}\n", p.name, p.version, igos::archive::hash_file(a).unwrap(), p.file_name()));
    }
    std::fs::write(arch.path().join("index.txt"), index).unwrap();
    let o = pkm(root.path(), &["sync", arch.path().join("index.txt").to_str().unwrap()], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = pkm(root.path(), &["install", xa.to_str().unwrap(), ga.to_str().unwrap()], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(root.path().join("var/lib/igos/packages/gtk4-4.14.2").is_file());

    let tree = support::valid_tree("scanb-pkm");
    tree.write("build/logs/xz.log", "checking for zlib.h... no\n");
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .args(["reference", "save", "--root"])
        .arg(tree.path())
        .arg("--installed")
        .arg(root.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r = igos::scanb::Reference::parse(&tree.read("build/reference.json")).unwrap();
    let got: Vec<(&str, &str, Vec<String>, &str)> = r.packages.iter().map(|(n, p)| (n.as_str(), p.version.as_str(), p.deps.clone(), p.log.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("gtk4", "4.14.2", vec!["glib2".to_string()], "build/logs/gtk4.log"),
            ("xz", "1.2.3", vec!["zlib".to_string()], "build/logs/xz.log"),
        ]
    );
    // And Gate 5 reads it: xz's declared zlib was not found; gtk4 has no log.
    let out = Command::new(env!("CARGO_BIN_EXE_igos")).args(["check", "--color", "never", "--root"]).arg(tree.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("xz declares zlib, but its last build did not find it"), "{text}");
    assert!(text.contains("gtk4 4.14.2: its build log build/logs/gtk4.log is missing"), "{text}");
}
