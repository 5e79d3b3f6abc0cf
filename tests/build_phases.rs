//! The phase graph and `igos build`: the plan and its order, --start-at/--stop-after,
//! unknown phase names, graph errors (a cycle, builders, optional phases), a failing phase
//! and its resume hint, the stop file, the phase file, and a validate failure that creates
//! nothing. The real binary runs from the project root with its state in a fresh temp dir.
//! Fixture rule directories are under tests/fixtures/phases/.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use igos::phases::graph::PhaseGraph;
use igos::phases::select::{self, SelectError};
use igos::report::diagnostic::{self, Style};
use igos::rules;
use igos::source::SourceMap;

/// The seeds' twenty phases, and the pre-squashfs image audit before squashfs.
const SEED_ORDER: [&str; 21] = [
    "validate",
    "verify-sources",
    "setup",
    "toolchain",
    "chroot-prep",
    "chroot-tools",
    "core",
    "config",
    "core-extra",
    "base",
    "kernel",
    "desktop",
    "ai",
    "extra",
    "bootloader",
    "image",
    "manifest",
    "image-audit",
    "squashfs",
    "ukis-verity",
    "iso",
];

/// A fresh, empty directory under the system temp dir, unique per test and process.
fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("igos-build-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn igos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_igos"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("the igos binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn fixture(name: &str) -> String {
    format!("tests/fixtures/phases/{name}")
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

/// The phase names of `--plan` output, in order.
fn planned(plan: &str) -> Vec<String> {
    plan.lines()
        .filter(|l| l.split_whitespace().next().is_some_and(|w| w.contains('/') && w.starts_with(char::is_numeric)))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect()
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

// ---- the plan ------------------------------------------------------------------------

#[test]
fn plan_lists_the_phases_of_the_seeds_in_order() {
    let o = igos(&["build", "--plan"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(planned(&out), SEED_ORDER, "{out}");
    assert!(out.contains("builtin: igos check"), "validate is the built-in check:\n{out}");
    assert!(out.contains("[checkpoint]"), "{out}");
    assert!(out.contains("optional, not in the plan (add --publish): publish"), "{out}");
    snapshot("build-plan", &out);
}

#[test]
fn publish_appends_the_optional_phase() {
    let o = igos(&["build", "--plan", "--publish"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let names = planned(&stdout(&o));
    assert_eq!(names.len(), 22);
    assert_eq!(names.last().map(String::as_str), Some("publish"));
    assert_eq!(&names[..21], SEED_ORDER);
}

#[test]
fn graph_order_is_the_declaration_order_of_the_project_rules() {
    let mut sources = SourceMap::new();
    let loaded = rules::load(None, &mut sources).unwrap();
    let (graph, errors) = PhaseGraph::build(&loaded.policy);
    assert!(errors.is_empty(), "{errors:?}");
    let names: Vec<&str> = graph.order().iter().map(|&i| loaded.policy.phases[i].name.as_str()).collect();
    assert_eq!(&names[..21], SEED_ORDER);
    assert_eq!(names[21], "publish");
}

#[test]
fn explicit_after_reorders_and_ties_follow_declaration_order() {
    // d runs after a only; b and c follow their predecessors. Ready after a: b (decl 1) and
    // d (decl 3): b first by declaration order, then c, then d.
    let text = "policy 1\nphase a {\n  run \"true\"\n}\nphase b {\n  run \"true\"\n}\nphase c {\n  run \"true\"\n}\nphase d {\n  run \"true\"\n  after a\n}\nphase e {\n  run \"true\"\n  after a\n}\n";
    let mut sources = SourceMap::new();
    let loaded = rules::compile_texts(vec![("t.pol".into(), Ok(text.into()))], &mut sources);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let (graph, errors) = PhaseGraph::build(&loaded.policy);
    assert!(errors.is_empty(), "{errors:?}");
    let names: Vec<&str> = graph.order().iter().map(|&i| loaded.policy.phases[i].name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    let text2 = text.replace("phase b {\n  run \"true\"\n}", "phase b {\n  run \"true\"\n  after d\n}");
    let mut sources = SourceMap::new();
    let loaded = rules::compile_texts(vec![("t.pol".into(), Ok(text2))], &mut sources);
    let (graph, errors) = PhaseGraph::build(&loaded.policy);
    assert!(errors.is_empty(), "{errors:?}");
    let names: Vec<&str> = graph.order().iter().map(|&i| loaded.policy.phases[i].name.as_str()).collect();
    assert_eq!(names, ["a", "d", "b", "c", "e"]);
}

// ---- start-at / stop-after -----------------------------------------------------------

#[test]
fn start_at_and_stop_after_cut_the_plan() {
    let o = igos(&["build", "--plan", "--start-at", "setup", "--stop-after", "core"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(planned(&out), ["setup", "toolchain", "chroot-prep", "chroot-tools", "core"]);
    assert!(out.contains("   3/21 setup"), "positions are in the whole plan:\n{out}");
    assert!(out.contains("skipped before --start-at: validate, verify-sources"), "{out}");
}

#[test]
fn start_at_after_stop_after_is_refused() {
    let o = igos(&["build", "--plan", "--start-at", "core", "--stop-after", "setup"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--stop-after `setup` runs before --start-at `core`"), "{}", stderr(&o));
}

#[test]
fn the_default_rules_run_harmlessly_past_validate() {
    let root = temp_dir("default");
    let state = root.join("state");
    let root_s = root.to_str().unwrap();
    let o = igos(&[
        "build",
        "--root",
        root_s,
        "--state",
        state.to_str().unwrap(),
        "--start-at",
        "verify-sources",
        "--stop-after",
        "toolchain",
        "--skip-validate",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("[3/21] setup — Create the build root"), "{out}");
    assert!(out.contains("would run scripts/setup.sh"), "{out}");
    assert!(!out.contains("chroot-prep"), "stops after toolchain:\n{out}");
    for p in ["verify-sources", "setup", "toolchain"] {
        assert!(read(state.join("logs").join(format!("{p}.log"))).contains("would run scripts/"));
    }
    assert!(!state.join("logs/chroot-prep.log").exists());
    assert!(read(state.join("logs/validate.log")).contains("warning: --skip-validate"), "the skip is in the run's log");
    // checkpoints only for checkpoint phases
    assert!(state.join("checkpoints/setup").exists());
    assert!(state.join("checkpoints/toolchain").exists());
    assert!(!state.join("checkpoints/verify-sources").exists());
    assert_eq!(read(state.join("current-phase")), "toolchain\n");
    // nothing but the state dir was created in the tree
    let created: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(created, ["state"]);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn default_state_dir_is_under_the_root() {
    let root = temp_dir("default-state");
    let o = igos(&["build", "--root", root.to_str().unwrap(), "--start-at", "setup", "--stop-after", "setup", "--skip-validate"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(read(root.join("build/state/current-phase")), "setup\n");
    assert!(root.join("build/state/logs/setup.log").exists());
    let _ = std::fs::remove_dir_all(&root);
}

// ---- unknown phase names --------------------------------------------------------------

#[test]
fn unknown_phase_is_answered_with_a_suggestion() {
    let o = igos(&["build", "--plan", "--start-at", "toolchian"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("unknown phase `toolchian` for --start-at"), "{err}");
    assert!(err.contains("did you mean `toolchain`?"), "{err}");
    let o = igos(&["build", "--stop-after", "kernal"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean `kernel`?"), "{}", stderr(&o));
}

#[test]
fn optional_phase_needs_publish() {
    let o = igos(&["build", "--plan", "--start-at", "publish"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("add --publish"), "{}", stderr(&o));
    let o = igos(&["build", "--plan", "--start-at", "publish", "--publish"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(planned(&stdout(&o)), ["publish"]);
}

#[test]
fn select_reports_unknown_names_without_running_anything() {
    let mut sources = SourceMap::new();
    let loaded = rules::load(None, &mut sources).unwrap();
    let (graph, _) = PhaseGraph::build(&loaded.policy);
    let e = select::select(&loaded.policy, graph.order(), false, Some("ukis-verty"), None).unwrap_err();
    assert_eq!(
        e,
        SelectError::Unknown { flag: "--start-at", name: "ukis-verty".into(), suggestion: Some("ukis-verity".into()) }
    );
    let e = select::select(&loaded.policy, graph.order(), false, None, Some("zzzzzzzzzz")).unwrap_err();
    assert!(matches!(e, SelectError::Unknown { suggestion: None, .. }));
}

// ---- graph errors ---------------------------------------------------------------------

#[test]
fn a_cycle_names_its_phases_and_runs_nothing() {
    let state = temp_dir("cycle").join("state");
    let o = igos(&["build", "--rules", &fixture("cycle"), "--state", state.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("the phases form a cycle: b → c → b"), "{err}");
    assert!(err.contains("tests/fixtures/phases/cycle/phases.pol:11:9"), "points at `after c`: {err}");
    assert!(!state.exists(), "nothing runs");
    let o = igos(&["build", "--plan", "--rules", &fixture("cycle")]);
    assert_eq!(o.status.code(), Some(2), "--plan refuses a cycle too");
    let _ = std::fs::remove_dir_all(state.parent().expect("the temp dir"));
    snapshot("build-phase-cycle", &err);
}

#[test]
fn builders_tiers_and_optional_phases_are_checked() {
    let o = igos(&["build", "--plan", "--rules", &fixture("graph-errors")]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("no build phase builds tier `extra`"), "{err}");
    assert!(err.contains("builder `extra-builder` names no phase"), "{err}");
    assert!(err.contains("required phase `iso` runs after optional phase `publish`"), "{err}");
    assert!(err.contains("3 error(s)"), "{err}");
    snapshot("build-graph-errors", &err);
}

#[test]
fn phase_names_are_unique() {
    let text = "policy 1\nphase a {\n  run \"true\"\n}\nphase a {\n  run \"true\"\n}\n";
    let mut sources = SourceMap::new();
    let loaded = rules::compile_texts(vec![("t.pol".into(), Ok(text.into()))], &mut sources);
    assert_eq!(loaded.errors.len(), 1);
    assert_eq!(loaded.errors[0].kind, "duplicate");
}

#[test]
fn an_optional_phase_in_the_middle_is_fine_when_the_next_names_its_after() {
    let text = "policy 1\nphase a {\n  run \"true\"\n}\nphase extra-report {\n  run \"true\"\n  optional\n}\nphase b {\n  run \"true\"\n  after a\n}\n";
    let mut sources = SourceMap::new();
    let loaded = rules::compile_texts(vec![("t.pol".into(), Ok(text.into()))], &mut sources);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let (graph, errors) = PhaseGraph::build(&loaded.policy);
    assert!(errors.is_empty(), "{errors:?}");
    let s = select::select(&loaded.policy, graph.order(), false, None, None).unwrap();
    let names: Vec<&str> = s.to_run().map(|(_, i)| loaded.policy.phases[i].name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let s = select::select(&loaded.policy, graph.order(), true, None, None).unwrap();
    let names: Vec<&str> = s.to_run().map(|(_, i)| loaded.policy.phases[i].name.as_str()).collect();
    assert_eq!(names, ["a", "extra-report", "b"], "ties follow declaration order");
}

#[test]
fn a_self_cycle_is_a_cycle() {
    let text = "policy 1\nphase a {\n  run \"true\"\n  after a\n}\n";
    let mut sources = SourceMap::new();
    let loaded = rules::compile_texts(vec![("t.pol".into(), Ok(text.into()))], &mut sources);
    let (_, errors) = PhaseGraph::build(&loaded.policy);
    assert_eq!(errors.len(), 1);
    let shown = diagnostic::render(&diagnostic::rule_error(&sources, &errors[0]), Style::PLAIN);
    assert!(shown.contains("cycle: a → a"), "{shown}");
}

// ---- running: failure, stop file, phase file ------------------------------------------

#[test]
fn a_failing_phase_gives_its_exit_code_and_a_resume_hint() {
    let dir = temp_dir("failing");
    let state = dir.join("state");
    let state_s = state.to_str().unwrap();
    let o = igos(&["build", "--rules", &fixture("failing"), "--state", state_s]);
    assert_eq!(o.status.code(), Some(3), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    let err = stderr(&o);
    assert!(out.contains("first ran"), "{out}");
    assert!(out.contains("[2/3] breaks FAILED with exit code 3"), "{out}");
    assert!(!out.contains("never ran"), "the run stops at the failure:\n{out}");
    let hint = format!("resume with: igos build --rules tests/fixtures/phases/failing --state {state_s}");
    assert!(err.contains(&hint), "{err}");
    // stdout and stderr of the phase, in order, in its log
    assert_eq!(read(state.join("logs/breaks.log")), "to stdout\nto stderr\n");
    assert!(!state.join("logs/never.log").exists());
    assert!(!state.join("checkpoints/breaks").exists(), "no checkpoint for a failed phase");
    assert_eq!(read(state.join("current-phase")), "breaks\n", "the phase file names the failed phase");
    snapshot("build-failure-resume-hint", &err.replace(state_s, "<state>"));

    // Resuming at the named phase runs it again (and fails again): the hint is usable.
    let o = igos(&["build", "--rules", &fixture("failing"), "--state", state_s, "--start-at", "breaks"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(!stdout(&o).contains("first ran"), "resume skips the phases before");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stop_file_stops_cleanly_between_phases() {
    let dir = temp_dir("stop");
    let state = dir.join("state");
    let state_s = state.to_str().unwrap();
    let o = igos(&["build", "--rules", &fixture("stop"), "--state", state_s]);
    assert_eq!(o.status.code(), Some(75), "{}\n{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("found before phase `second`: stopped cleanly"), "{err}");
    assert!(err.contains("resume with: igos build --rules tests/fixtures/phases/stop --state"), "{err}");
    assert!(!stdout(&o).contains("second ran"));
    assert!(!state.join("STOP").exists(), "the honoured stop file is removed");
    assert!(state.join("checkpoints/first").exists(), "the phase before the stop completed");
    assert_eq!(read(state.join("current-phase")), "first\n");

    // The hint as printed: the checkpoint of `first` holds, so the run starts at `second`.
    let o = igos(&["build", "--rules", &fixture("stop"), "--state", state_s]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("[1/2] first skipped: the checkpoint of first holds"), "{}", stdout(&o));
    assert!(stdout(&o).contains("second ran"));
    assert_eq!(read(state.join("current-phase")), "second\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stop_file_present_at_the_start_runs_nothing() {
    let dir = temp_dir("stop-early");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("STOP"), "").unwrap();
    let o = igos(&["build", "--rules", &fixture("failing"), "--state", state.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(75));
    assert!(stderr(&o).contains("before phase `first`"), "{}", stderr(&o));
    assert!(!state.join("logs").exists(), "nothing ran");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- validate ---------------------------------------------------------------------------

/// A tree whose only package.yml is not YAML: validate cannot pass on it.
fn broken_tree(name: &str) -> PathBuf {
    let root = temp_dir(name);
    let pkg = root.join("packages/core/broken");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("package.yml"), "name: broken\ntier: [core\n").unwrap();
    root
}

#[test]
fn a_validate_failure_creates_nothing() {
    let root = broken_tree("validate-fails");
    let o = igos(&["build", "--root", root.to_str().unwrap()]);
    let code = o.status.code().unwrap();
    assert!(code == 1 || code == 2, "validate fails with its own exit code: {code}\n{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("phase `validate` failed"), "{err}");
    assert!(err.contains("nothing was created"), "{err}");
    assert!(err.contains("resume with: igos build --root"), "{err}");
    assert!(!stdout(&o).contains("verify-sources"), "no phase after validate starts");
    assert!(!root.join("build").exists(), "not even the state directory");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]

fn a_validate_failure_on_a_bad_package_yml_exits_1_or_2_and_shows_the_line() {
    let root = broken_tree("validate-bad-yaml");
    let o = igos(&["build", "--root", root.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(all.contains("packages/core/broken/package.yml"), "the finding points at the file:\n{all}");
    assert!(!root.join("build").exists());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]

fn the_whole_default_plan_runs_on_the_embedded_tree() {
    // A copy of the embedded tree, aggregated the way a maintainer does before a build
    // (Gate 2 reads build/audit.db, which a fresh clone does not have): validate checks
    // packages/, every other phase only prints.
    let root = temp_dir("whole-plan");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("packages"), &root.join("packages"));
    let aggregate = igos(&["audit", "aggregate", "--root", root.to_str().unwrap()]);
    assert_eq!(aggregate.status.code(), Some(0), "{}", stderr(&aggregate));
    let state = root.join("state");
    let o = igos(&["build", "--root", root.to_str().unwrap(), "--state", state.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("[1/21] validate ok"), "{out}");
    assert!(out.contains("warning: skipped: no image at"), "the embedded tree builds no image:\n{out}");
    assert!(out.contains("[21/21] iso ok"), "{out}");
    assert!(out.contains("igos build: 21 phase(s) ok"), "{out}");
    assert_eq!(read(state.join("current-phase")), "iso\n");
    let _ = std::fs::remove_dir_all(&root);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_cycle_is_a_rule_error_in_every_command() {
    // Not only `igos build`: checking, listing and explaining with these rules is refused too.
    for args in [
        vec!["check", "--rules", "tests/fixtures/phases/cycle"],
        vec!["checks", "--rules", "tests/fixtures/phases/cycle"],
        vec!["explain", "--rules", "tests/fixtures/phases/cycle", "bat"],
        vec!["build", "--plan", "--rules", "tests/fixtures/phases/cycle"],
    ] {
        let o = igos(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}{}", stdout(&o), stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("the phases form a cycle: b → c → b"), "{args:?}: {err}");
        assert!(err.contains("tests/fixtures/phases/cycle/phases.pol:11:9"), "{args:?}: {err}");
    }
}
