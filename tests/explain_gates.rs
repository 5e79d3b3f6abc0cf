//! `igos explain <check> <subject>` sees every gate's facts, as igos check does: a Gate 2
//! finding (read from the audit database) is explained, and a check that finds nothing for
//! the subject says so with exit 1.

mod support;

use std::process::Command;

fn igos(root: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .args(args)
        .arg("--root")
        .arg(root)
        .args(["--color", "never"])
        .env("IGOS_TODAY", "2026-11-22")
        .output()
        .expect("igos runs");
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn a_gate_2_finding_is_explained_from_the_database() {
    let t = support::valid_tree("explain-gate2");
    // gtk4's recipe gains a build dependency its (aggregated) audit does not have: drift.
    let text = t.read("packages/desktop/gtk4/package.yml").replace("    - glib2\n", "    - glib2\n    - zlib\n");
    t.write("packages/desktop/gtk4/package.yml", &text);
    let (code, out) = igos(t.path(), &["check"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("audit-drift"), "{out}");

    let (code, out) = igos(t.path(), &["explain", "audit-drift", "gtk4"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("+[zlib]") && out.contains("rules/audit.pol"), "the finding and its rule:\n{out}");

    let (code, out) = igos(t.path(), &["explain", "audit-drift", "bat"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("`audit-drift` finds nothing for bat"), "{out}");
}

/// What igos check refuses to read, explain refuses too: a reference of the last good
/// build that exists but is not one is an unusable input (exit 2), never a silent
/// explanation without Gate 5.
#[test]
fn explain_refuses_the_inputs_check_refuses() {
    let t = support::valid_tree("explain-unusable");
    t.write("build/reference.json", "{ not a reference");
    let (check, check_out) = igos(t.path(), &["check"]);
    let (explain, explain_out) = igos(t.path(), &["explain", "audit-drift", "gtk4"]);
    assert_eq!((check, explain), (2, 2), "check:\n{check_out}\nexplain:\n{explain_out}");
    assert!(check_out.contains("reference::unusable") && explain_out.contains("reference::unusable"), "{explain_out}");
}
