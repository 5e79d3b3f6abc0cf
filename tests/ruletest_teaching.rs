//! `igos test` that teaches: a failing case shows the findings it got against the ones it
//! expected; a case sees only the waivers it carries; `--coverage` says what the cases
//! exercise.

mod support;

use std::process::{Command, Output};

use support::TempDir;

/// Small rules: two tiers, a tier list, one check per gate and one no case exercises.
const RULES: &str = r#"policy 1

tiers core < base

set base_cli {
  bat
  fd
  ripgrep
  exa-*
}

builder core {
  phase core
  tier core
  names {
    bat
    zlib
  }
}

builder base {
  phase base
  tier base
  names {
    *
  }
}

classify natural_tier {
  base if name in base_cli
  infer earliest consumer via build, host
  else unclear
}

check tier-move halt {
  about "the declared tier differs from the natural tier"
  for p in packages
  where natural_tier(p) != unclear and natural_tier(p) != p.tier
  message "{p.name} is declared {p.tier} but its natural tier is {natural_tier(p)}"
  at p.field("tier")
  because natural_tier(p)
  help "move it"
}

check orphan halt {
  about "no builder reaches the package"
  for p in packages
  where count(builders_of(p)) == 0
  message "{p.name} is reached by no builder"
  at p.field("tier")
  help "list it"
}

check no-license advisory {
  about "a recipe without a license"
  for p in packages
  where not p.has("license")
  message "{p.name} has no license"
  at p.file
  help "add one"
}

gate tiers "Tiers" {
  tier-move
  orphan
  no-license
}

phase validate {
  builtin check
}

phase core {
  run "true"
  after validate
}

phase base {
  run "true"
  after core
}

waive tier-move for bat {
  reason "the rules' own waiver, for the real tree"
  approver "a maintainer"
  expires 2099-12-31
}
"#;

fn setup(tag: &str) -> TempDir {
    let t = TempDir::new(tag);
    t.write("rules/rules.pol", RULES);
    t
}

/// A case tree: (name, declared tier).
fn case(t: &TempDir, name: &str, recipes: &[(&str, &str)], expect: &str) {
    for (pkg, tier) in recipes {
        t.write(&format!("rules/tests/{name}/packages/{tier}/{pkg}/package.yml"), &support::recipe(pkg, tier, &[], &[]));
    }
    t.write(&format!("rules/tests/{name}/builders/.keep"), "");
    t.write(&format!("rules/tests/{name}/expect"), expect);
}

fn igos_test(t: &TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_igos"))
        .arg("test")
        .args(["--rules", "rules", "--color", "never"])
        .args(args)
        .current_dir(t.path())
        .env("IGOS_TODAY", "2026-12-01")
        .output()
        .expect("igos runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn a_failing_case_shows_the_findings_against_the_expected_ones() {
    let t = setup("teach-diff");
    case(
        &t,
        "wrong",
        &[("zlib", "core"), ("bat", "core"), ("fd", "base"), ("exa-ng", "base")],
        "finds orphan zlib       # wrong: zlib is reached\nnot tier-move bat       # wrong: bat is listed in base_cli\nfinds tier-move fd\nexit 0\n",
    );
    // An advisory no line names is counted, not listed.
    let fd = support::recipe("fd", "base", &[], &[]).replace("license: MIT\n", "");
    t.write("rules/tests/wrong/packages/base/fd/package.yml", &fd);
    let out = igos_test(&t, &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("expect:1: expected `orphan` for zlib, not produced"), "{text}");
    assert!(text.contains("+ 1 × no-license (advisory or waived; no expect line names the check)"), "{text}");
    snapshot("ruletest-failing-diff", &text);
}

#[test]
fn the_rules_own_waivers_do_not_apply_in_a_case() {
    let t = setup("teach-waivers");
    // The rules waive tier-move for bat; the case must still see it, and halt.
    case(&t, "bat-moves", &[("bat", "core"), ("zlib", "core")], "finds tier-move bat\nexit 1\n");
    let out = igos_test(&t, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("ok     rules/tests/bat-moves"));
    // No `waiver-unused` either: the rules' waivers are not there at all.
    assert!(!stdout(&out).contains("waiver"), "{}", stdout(&out));
}

#[test]
fn a_case_tests_the_waivers_it_carries() {
    let t = setup("teach-case-waivers");
    case(&t, "waived", &[("bat", "core"), ("zlib", "core")], "waived tier-move bat\nnot tier-move bat\nexit 0\n");
    t.write(
        "rules/tests/waived/waivers.pol",
        "policy 1\n\nwaive tier-move for bat {\n  reason \"tested\"\n  approver \"a maintainer\"\n  expires 2099-01-01\n}\n",
    );
    let out = igos_test(&t, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // Expired: the finding applies again, and the case says how.
    t.write(
        "rules/tests/waived/waivers.pol",
        "policy 1\n\nwaive tier-move for bat {\n  reason \"tested\"\n  approver \"a maintainer\"\n  expires 2026-01-01\n}\n",
    );
    let out = igos_test(&t, &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("expect:1: expected `tier-move` for bat waived, produced but not waived"), "{text}");
    assert!(text.contains("+ finds tier-move bat") && text.contains("expect:2 says not"), "{text}");
}

#[test]
fn a_case_waivers_file_holding_a_check_is_refused_with_its_position() {
    let t = setup("teach-case-not-waivers");
    case(&t, "sneaky", &[("zlib", "core")], "exit 0\n");
    t.write("rules/tests/sneaky/waivers.pol", "policy 1\n\nset base_cli_more {\n  zlib\n}\n");
    let out = igos_test(&t, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a test case's waivers.pol holds only `waive` declarations"), "{err}");
    assert!(err.contains("rules/tests/sneaky/waivers.pol:3:5"), "{err}");
}

#[test]
fn coverage_lists_what_the_cases_exercise_and_what_they_do_not() {
    let t = setup("teach-coverage");
    case(&t, "moves", &[("bat", "core"), ("zlib", "core")], "finds tier-move bat\nnot orphan bat\nexit 1\n");
    case(&t, "orphan", &[("zlib", "core"), ("libffi", "core")], "finds orphan libffi\nnot tier-move zlib\nexit 1\n");
    let out = igos_test(&t, &["--coverage"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("checks no case exercises (1):\n  no-license"), "{text}");
    snapshot("ruletest-coverage", &text);
}

#[test]
fn the_project_cases_cover_their_checks() {
    let out = Command::new(env!("CARGO_BIN_EXE_igos")).current_dir(support::project_dir()).args(["test", "--coverage"]).output().expect("igos runs");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for check in ["orphan", "tier-move", "tier-unclear", "cross-tier-dep", "listed-after-consumer", "dep-without-recipe", "stub-function"] {
        assert!(text.contains(&format!("\n{check}  (")), "{check} fires in a case: {text}");
    }
    assert!(text.contains("checks no case exercises ("), "{text}");
    assert!(text.contains("set entries no case reaches: "), "{text}");
}
