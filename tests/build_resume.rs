//! Resuming a build from its checkpoints: a tree whose `core` phase fails on purpose, then
//! succeeds. The second run skips exactly the phases the checkpoints cover; a change to the
//! rules, to a phase, to a recipe or to a phase's script runs again from the first phase
//! it affects, saying why; `--from-scratch` ignores the checkpoints; validate runs first
//! also with `--start-at`; `--skip-validate` warns in the output and in the run's log.
//! Every phase appends its name to `<state>/ran.txt`, so the tests count real runs.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::TempDir;

const RULES: &str = r#"policy 1

tiers toolchain < core

builder tc {
  phase toolchain
  tier toolchain
  names {
    *
  }
}

builder ch8 {
  phase core
  tier core
  names {
    *
  }
}

check tier-declared halt {
  about "every recipe declares its tier"
  for p in packages
  where not exists(p.tier)
  message "{p.name} declares no tier"
  at p.file
  help "add `tier: <tier>`"
}

gate recipes "Recipes" {
  tier-declared
}

phase validate {
  title "Validate gates"
  builtin check
}

phase setup {
  title "Create the build root"
  run "echo setup >> \"$IGOS_STATE/ran.txt\""
  checkpoint
}

phase toolchain {
  title "The toolchain"
  run "sh scripts/toolchain.sh"
  checkpoint
}

phase prep {
  title "Prepare"
  run "echo prep >> \"$IGOS_STATE/ran.txt\""
}

phase core {
  title "Core, failing until ok-core exists"
  run "sh scripts/core.sh"
  checkpoint
}

phase finish {
  title "Finish"
  run "echo finish >> \"$IGOS_STATE/ran.txt\""
}
"#;

/// The tree, its rules and its scripts; `core` fails (exit 4) until `ok-core` exists.
fn fixture(tag: &str) -> TempDir {
    let t = TempDir::new(tag);
    t.write("rules/build.pol", RULES);
    t.write("tree/packages/toolchain/gcc/package.yml", "name: gcc\nversion: \"14.2\"\ntier: toolchain\n");
    t.write("tree/packages/core/zlib/package.yml", "name: zlib\nversion: \"1.3\"\ntier: core\n");
    t.write("tree/scripts/toolchain.sh", "echo toolchain >> \"$IGOS_STATE/ran.txt\"\n");
    t.write(
        "tree/scripts/core.sh",
        "[ -e ok-core ] || { echo 'core fails on purpose'; exit 4; }\necho core >> \"$IGOS_STATE/ran.txt\"\n",
    );
    t
}

fn build(t: &TempDir, extra: &[&str]) -> Output {
    let p = t.path();
    Command::new(env!("CARGO_BIN_EXE_igos"))
        .arg("build")
        .args(["--root", &s(&p.join("tree")), "--rules", &s(&p.join("rules")), "--state", &s(&p.join("state"))])
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .expect("the igos binary runs")
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The phases that ran, in order, over every run so far.
fn ran(t: &TempDir) -> Vec<String> {
    std::fs::read_to_string(t.path().join("state/ran.txt")).unwrap_or_default().lines().map(str::to_string).collect()
}

/// Output with the temp dir and the durations made stable.
fn stable(t: &TempDir, text: &str) -> String {
    let text = text.replace(&s(t.path()), "<tmp>");
    let mut outl = String::new();
    for line in text.lines() {
        let line = match (line.rfind(" ("), line.ends_with("s)")) {
            (Some(i), true) if line[i + 2..line.len() - 2].chars().all(|c| c.is_ascii_digit() || c == '.') => {
                format!("{} (<time>)", &line[..i])
            }
            _ => line.to_string(),
        };
        let line = match line.find(" in ") {
            Some(i) if line.starts_with("igos build: ") && line.contains("; state in ") => {
                let j = line.find("; state in ").unwrap_or(i);
                format!("{} in <time>{}", &line[..i], &line[j..])
            }
            _ => line,
        };
        outl.push_str(&line);
        outl.push('\n');
    }
    outl
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

/// A first run that fails at `core`, then `ok-core`: the state every resume test starts from.
fn failed_at_core(tag: &str) -> TempDir {
    let t = fixture(tag);
    let o = build(&t, &[]);
    assert_eq!(o.status.code(), Some(4), "{}\n{}", out(&o), err(&o));
    assert_eq!(ran(&t), ["setup", "toolchain", "prep"]);
    assert!(t.path().join("state/checkpoints/toolchain").exists());
    assert!(!t.path().join("state/checkpoints/core").exists(), "no checkpoint for the failed phase");
    assert!(err(&o).contains("resume with: igos build --root"), "the hint is the same command: {}", err(&o));
    t.write("tree/ok-core", "");
    t
}

#[test]
fn the_second_run_skips_exactly_the_checkpointed_phases() {
    let t = failed_at_core("resume-skip");
    let o = build(&t, &[]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", out(&o), err(&o));
    let text = out(&o);
    assert!(text.contains("[1/6] validate ok"), "validate always runs:\n{text}");
    assert!(text.contains("[2/6] setup skipped: the checkpoint of toolchain holds"), "{text}");
    assert!(text.contains("[3/6] toolchain skipped: the checkpoint of toolchain holds"), "{text}");
    // prep has no checkpoint of its own and runs after toolchain's: it runs again.
    assert_eq!(ran(&t), ["setup", "toolchain", "prep", "prep", "core", "finish"]);
    assert!(text.contains("4 phase(s) ok, 2 skipped (checkpoints)"), "{text}");
    snapshot("build-resume-second-run", &stable(&t, &text));

    // A third run: everything up to core's checkpoint is skipped, finish runs.
    let o = build(&t, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(&ran(&t)[6..], ["finish"]);
    assert!(out(&o).contains("[5/6] core skipped: the checkpoint of core holds"), "{}", out(&o));
}

#[test]
fn the_checkpoint_records_what_the_phase_ran_with() {
    let t = failed_at_core("resume-record");
    let record = std::fs::read_to_string(t.path().join("state/checkpoints/toolchain")).unwrap();
    let lines: Vec<&str> = record.lines().collect();
    assert_eq!(lines[0], "igos-checkpoint 1");
    assert_eq!(lines[1], "phase toolchain");
    assert_eq!(lines[2], format!("igos {}", env!("CARGO_PKG_VERSION")));
    assert!(lines[3].starts_with("completed "));
    // setup and toolchain (validate always runs: it is not recorded), each with three hashes
    assert_eq!(lines.len(), 6, "{record}");
    assert!(lines[4].starts_with("ran setup declaration="), "{record}");
    assert!(lines[5].starts_with("ran toolchain declaration="), "{record}");
    for l in &lines[4..] {
        let hashes: Vec<&str> = l.split(' ').skip(2).map(|kv| kv.split_once('=').unwrap().1).collect();
        assert_eq!(hashes.len(), 3);
        assert!(hashes.iter().all(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit())), "{l}");
    }
}

#[test]
fn a_rules_change_runs_again_from_the_first_phase_it_affects() {
    let t = failed_at_core("resume-rules");
    assert_eq!(build(&t, &[]).status.code(), Some(0));
    // The core builder reaches only zlib now: the rules of `core` changed.
    let rules = RULES.replace("  phase core\n  tier core\n  names {\n    *\n", "  phase core\n  tier core\n  names {\n    zlib\n");
    assert_ne!(rules, RULES);
    t.write("rules/build.pol", &rules);
    let o = build(&t, &[]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", out(&o), err(&o));
    let text = out(&o);
    assert!(text.contains("igos build: rules changed since the checkpoint of core: running again from prep"), "{text}");
    assert!(text.contains("[3/6] toolchain skipped"), "toolchain's checkpoint does not depend on core's builders:\n{text}");
    assert_eq!(&ran(&t)[6..], ["prep", "core", "finish"]);
}

#[test]
fn a_changed_phase_runs_again_from_that_phase() {
    let t = failed_at_core("resume-phase");
    assert_eq!(build(&t, &[]).status.code(), Some(0));
    t.write("rules/build.pol", &RULES.replace("echo prep >>", "echo prep  >>"));
    let o = build(&t, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).contains("the declaration of prep changed since the checkpoint of core: running again from prep"), "{}", out(&o));
    assert_eq!(&ran(&t)[6..], ["prep", "core", "finish"]);

    // A title is only words: nothing runs again for it.
    t.write("rules/build.pol", &RULES.replace("echo prep >>", "echo prep  >>").replace("\"Prepare\"", "\"Prepare the chroot\""));
    let o = build(&t, &[]);
    assert!(out(&o).contains("[5/6] core skipped"), "{}", out(&o));
    assert_eq!(&ran(&t)[9..], ["finish"]);
}

#[test]
fn a_changed_recipe_or_script_runs_again_from_the_phase_that_builds_it() {
    let t = failed_at_core("resume-tree");
    assert_eq!(build(&t, &[]).status.code(), Some(0));
    // A recipe of the toolchain tier: everything from toolchain runs again.
    t.write("tree/packages/toolchain/gcc/package.yml", "name: gcc\nversion: \"14.3\"\ntier: toolchain\n");
    let o = build(&t, &[]);
    assert!(out(&o).contains("the tree changed since the checkpoint of toolchain: running again from toolchain"), "{}", out(&o));
    assert!(out(&o).contains("[2/6] setup skipped"), "{}", out(&o));
    assert_eq!(&ran(&t)[6..], ["toolchain", "prep", "core", "finish"]);

    // core's script: the phases before it stay skipped.
    t.write("tree/scripts/core.sh", "echo core >> \"$IGOS_STATE/ran.txt\"\n");
    let o = build(&t, &[]);
    assert!(out(&o).contains("the tree of core changed") || out(&o).contains("the tree changed since the checkpoint of core"), "{}", out(&o));
    assert_eq!(&ran(&t)[10..], ["prep", "core", "finish"]);
}

#[test]
fn an_older_igos_record_is_not_trusted() {
    let t = failed_at_core("resume-version");
    let cp = t.path().join("state/checkpoints/toolchain");
    let record = std::fs::read_to_string(&cp).unwrap();
    let version_line = format!("igos {}", env!("CARGO_PKG_VERSION"));
    std::fs::write(&cp, record.replace(&version_line, "igos 0.0.1")).unwrap();
    let o = build(&t, &[]);
    assert!(out(&o).contains("igos changed (0.0.1 → "), "{}", out(&o));
    assert!(out(&o).contains("since the checkpoint of toolchain: running again from toolchain"), "{}", out(&o));
    // setup's own checkpoint still holds.
    assert_eq!(&ran(&t)[3..], ["toolchain", "prep", "core", "finish"]);
    // A record of the old format (a line of text) is not trusted either.
    std::fs::write(&cp, "toolchain completed at unix time 1\n").unwrap();
    std::fs::remove_file(t.path().join("state/checkpoints/core")).unwrap();
    let o = build(&t, &[]);
    assert!(out(&o).contains("the checkpoint of toolchain is not a record this igos reads"), "{}", out(&o));
}

#[test]
fn from_scratch_ignores_the_checkpoints_and_rewrites_them() {
    let t = failed_at_core("resume-scratch");
    let o = build(&t, &["--from-scratch"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("--from-scratch: the checkpoints in"), "{}", out(&o));
    assert_eq!(&ran(&t)[3..], ["setup", "toolchain", "prep", "core", "finish"]);
    assert!(t.path().join("state/checkpoints/core").exists());
}

#[test]
fn a_rerun_phase_forgets_the_checkpoints_after_it() {
    // Complete, then start over at toolchain and fail in core: core's old checkpoint must
    // not let the next run skip past the half-rebuilt root.
    let t = failed_at_core("resume-forget");
    assert_eq!(build(&t, &[]).status.code(), Some(0));
    std::fs::remove_file(t.path().join("tree/ok-core")).unwrap();
    let o = build(&t, &["--start-at", "toolchain"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(t.path().join("state/checkpoints/setup").exists(), "before the run's first phase: kept");
    assert!(!t.path().join("state/checkpoints/core").exists(), "core's old checkpoint is gone");
    t.write("tree/ok-core", "");
    let o = build(&t, &[]);
    assert!(out(&o).contains("[3/6] toolchain skipped") && !out(&o).contains("core skipped"), "{}", out(&o));
}

#[test]
fn start_at_still_validates() {
    let t = failed_at_core("resume-start-at");
    t.write("tree/packages/core/notier/package.yml", "name: notier\nversion: \"1\"\n");
    let o = build(&t, &["--start-at", "core"]);
    assert_eq!(o.status.code(), Some(1), "validate halts:\n{}\n{}", out(&o), err(&o));
    let text = out(&o);
    assert!(text.contains("[1/6] validate — Validate gates"), "{text}");
    assert!(text.contains("notier declares no tier"), "{text}");
    assert!(!text.contains("[5/6] core"), "nothing runs after a failed validate:\n{text}");
    assert_eq!(ran(&t).len(), 3, "no phase ran");
}

#[test]
fn skip_validate_warns_in_the_output_and_the_log() {
    let t = failed_at_core("resume-skip-validate");
    t.write("tree/packages/core/notier/package.yml", "name: notier\nversion: \"1\"\n");
    let o = build(&t, &["--start-at", "core", "--skip-validate"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", out(&o), err(&o));
    let warning = "warning: --skip-validate: phase `validate` did not run; this build is not validated";
    assert!(out(&o).contains("[1/6] validate SKIPPED (--skip-validate)"), "{}", out(&o));
    assert!(out(&o).contains(warning) && err(&o).contains(warning), "{}\n{}", out(&o), err(&o));
    assert_eq!(t.read("state/logs/validate.log"), format!("{warning}\n"));
    assert_eq!(&ran(&t)[3..], ["core", "finish"]);
}

#[test]
fn plan_shows_what_a_run_would_skip_and_why() {
    let t = failed_at_core("resume-plan");
    assert_eq!(build(&t, &[]).status.code(), Some(0));
    t.write("rules/build.pol", &RULES.replace("echo prep >>", "echo prep  >>"));
    let o = build(&t, &["--plan"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert!(text.contains("resume: the checkpoint of toolchain holds"), "{text}");
    assert!(text.contains("skipped: setup, toolchain"), "{text}");
    assert!(text.contains("resume: runs from prep (the declaration of prep changed since the checkpoint of core)"), "{text}");
    snapshot("build-resume-plan", &stable(&t, &text));
    let before = ran(&t);
    let o = build(&t, &["--plan", "--from-scratch", "--skip-validate"]);
    assert!(out(&o).contains("warning: --skip-validate: validate will not run"), "{}", out(&o));
    assert!(out(&o).contains("ignored (--from-scratch)"), "{}", out(&o));
    assert_eq!(ran(&t), before, "--plan runs nothing");
}
