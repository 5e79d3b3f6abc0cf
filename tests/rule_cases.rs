//! The project's rules pass their own cases (rules/tests/), and `igos test` reports a
//! failing expectation clearly.

mod support;

use std::process::Command;

#[test]
fn the_project_rules_pass_their_cases() {
    let out = Command::new(env!("CARGO_BIN_EXE_igos")).current_dir(support::project_dir()).arg("test").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("9 passed, 0 failed"), "{text}");
    // Beyond tiers: build order, a dependency with no recipe, the recipe contract.
    for case in ["build-order", "dep-without-recipe", "stub-function"] {
        assert!(text.contains(&format!("ok     rules/tests/{case}")), "{case}: {text}");
    }
}

#[test]
fn a_wrong_expectation_fails_with_its_line() {
    let t = support::valid_tree("ruletest");
    t.write("expect", "# wrong on purpose\nfinds orphan zlib\nnot tier-move bat\n");
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .current_dir(support::project_dir())
        .arg("test")
        .arg(t.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAILED") && text.contains("expect:2: expected `orphan` for zlib, not produced"), "{text}");
}

#[test]
fn an_expectation_naming_no_check_is_an_error_with_a_suggestion() {
    let t = support::valid_tree("ruletest-typo");
    t.write("expect", "finds tier-mvoe bat\n");
    let out = Command::new(env!("CARGO_BIN_EXE_igos")).current_dir(support::project_dir()).arg("test").arg(t.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("expect:1: no check `tier-mvoe`; did you mean `tier-move`?"), "{err}");
}
