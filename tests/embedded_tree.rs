//! The embedded default tree (packages/) passes every gate, as the README promises:
//! aggregate its audit store, then check.

mod support;

use std::process::Command;

#[test]
fn the_embedded_tree_passes_igos_check() {
    let tmp = support::TempDir::new("embedded");
    let db = tmp.path().join("audit.db");
    let exe = env!("CARGO_BIN_EXE_igos");
    let root = support::project_dir();
    let agg = Command::new(exe).current_dir(&root).args(["audit", "aggregate", "--db"]).arg(&db).output().unwrap();
    assert_eq!(agg.status.code(), Some(0), "{}", String::from_utf8_lossy(&agg.stderr));
    let out = Command::new(exe).current_dir(&root).args(["check", "--color", "never", "--audit-db"]).arg(&db).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("PASS:"), "{stdout}");

    let tree = igos::tree::load_tree(&root, &mut igos::source::SourceMap::new()).unwrap();
    assert!(tree.packages.len() >= 60, "at least 60 recipes");
    for tier in ["toolchain", "core", "base", "desktop", "extra", "ai"] {
        assert!(tree.packages.iter().any(|p| p.dir_tier == tier), "a recipe in every tier: {tier}");
    }
    assert!(tree.packages.iter().filter(|p| matches!(p.build_sh, igos::tree::BuildSh::Parsed(_))).count() >= 10);
}
