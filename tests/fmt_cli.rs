//! `igos fmt -` (standard input to standard output, an editor's format-on-save) and
//! directories as arguments; hostile standard input is a diagnostic, exit 2.

mod support;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

const MESSY: &str = "policy 1\nset   a  {\n  zlib\n    bat   # a comment\n}\n";
const TIDY: &str = "policy 1\nset a {\n  bat  # a comment\n  zlib\n}\n";

fn igos_with_stdin(args: &[&str], dir: &std::path::Path, input: Vec<u8>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_igos"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("igos runs");
    let mut stdin = child.stdin.take().expect("stdin");
    // igos may stop reading early (a huge input): a broken pipe here is expected.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("igos ends");
    writer.join().expect("writer thread");
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn stdin_is_formatted_to_stdout() {
    let dir = support::TempDir::new("fmt-stdin");
    let out = igos_with_stdin(&["fmt", "-"], dir.path(), MESSY.into());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), TIDY);
    // Formatted input comes back byte for byte.
    let again = igos_with_stdin(&["fmt", "-"], dir.path(), TIDY.into());
    assert_eq!(text(&again.stdout), TIDY);
    // CRLF stays CRLF.
    let crlf = igos_with_stdin(&["fmt", "-"], dir.path(), MESSY.replace('\n', "\r\n").into_bytes());
    assert_eq!(text(&crlf.stdout), TIDY.replace('\n', "\r\n"));
}

#[test]
fn stdin_check_exits_1_with_the_diff_and_0_when_formatted() {
    let dir = support::TempDir::new("fmt-stdin-check");
    let out = igos_with_stdin(&["fmt", "--check", "-"], dir.path(), MESSY.into());
    assert_eq!(out.status.code(), Some(1));
    let diff = text(&out.stdout);
    assert!(diff.starts_with("--- <stdin>\n+++ <stdin>\n"), "{diff}");
    assert!(diff.contains("-set   a  {\n+set a {\n"), "{diff}");
    let tidy = igos_with_stdin(&["fmt", "--check", "-"], dir.path(), TIDY.into());
    assert_eq!(tidy.status.code(), Some(0));
    assert!(tidy.stdout.is_empty());
}

#[test]
fn a_syntax_error_on_stdin_is_positioned_and_leaves_stdout_empty() {
    let dir = support::TempDir::new("fmt-stdin-syntax");
    let out = igos_with_stdin(&["fmt", "--color", "never", "-"], dir.path(), b"policy 1\nset {\n".to_vec());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "an editor must not replace its buffer with nothing");
    assert!(text(&out.stderr).contains("[<stdin>:2:5]"), "{}", text(&out.stderr));
}

#[test]
fn invalid_utf8_on_stdin_is_a_positioned_diagnostic() {
    let dir = support::TempDir::new("fmt-stdin-utf8");
    let out = igos_with_stdin(&["fmt", "--color", "never", "-"], dir.path(), b"policy 1\nset a {\n  z\xff\x1b[31m\n}\n".to_vec());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("fmt-stdin-not-utf8", err);
    });
}

#[test]
fn a_hundred_megabytes_on_stdin_are_refused_at_the_cap() {
    let dir = support::TempDir::new("fmt-stdin-huge");
    let mut huge = b"policy 1\nset a {\n".to_vec();
    huge.resize(100 << 20, b'a');
    let out = igos_with_stdin(&["fmt", "-"], dir.path(), huge);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("standard input is larger than 33554432 bytes, the cap for rule files"), "{}", text(&out.stderr));
}

#[test]
fn dash_with_other_files_is_refused() {
    let dir = support::TempDir::new("fmt-stdin-mixed");
    let out = igos_with_stdin(&["fmt", "-", "rules"], dir.path(), MESSY.into());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot be combined"));
}

#[test]
fn a_directory_stands_for_every_rule_file_under_it() {
    let dir = support::TempDir::new("fmt-dir");
    dir.write("rules/a.pol", MESSY);
    dir.write("rules/tidy.pol", TIDY);
    dir.write("rules/tests/case/waivers.pol", MESSY);
    dir.write("rules/README.md", "not a rule file, left alone\n");
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_igos")).args(args).current_dir(dir.path()).output().expect("igos runs");
    let check = run(&["fmt", "--check", "rules"]);
    assert_eq!(check.status.code(), Some(1));
    let diff = text(&check.stdout);
    assert!(diff.contains("--- rules/a.pol") && diff.contains("--- rules/tests/case/waivers.pol"), "{diff}");
    assert!(!diff.contains("tidy.pol"), "{diff}");
    let write = run(&["fmt", "rules"]);
    assert_eq!(write.status.code(), Some(0), "{}", text(&write.stderr));
    assert_eq!(text(&write.stdout), "formatted rules/a.pol\nformatted rules/tests/case/waivers.pol\n");
    assert_eq!(dir.read("rules/a.pol"), TIDY);
    assert_eq!(dir.read("rules/tests/case/waivers.pol"), TIDY);
    assert_eq!(dir.read("rules/README.md"), "not a rule file, left alone\n");
    // With no argument, ./rules is the directory.
    dir.write("rules/a.pol", MESSY);
    assert_eq!(run(&["fmt", "--check"]).status.code(), Some(1));
}

#[test]
fn a_path_that_is_not_a_rule_file_is_a_clear_error() {
    let dir = support::TempDir::new("fmt-not-pol");
    dir.write("notes.md", "# notes\n");
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_igos")).args(args).current_dir(dir.path()).output().expect("igos runs");
    let out = run(&["fmt", "notes.md"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "igos fmt: notes.md is not a rule file: igos fmt formats *.pol files and directories of them\n");
    let missing = run(&["fmt", "absent.pol"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).starts_with("igos fmt: absent.pol: "), "{}", text(&missing.stderr));
    let empty = run(&["fmt", "."]);
    assert_eq!(empty.status.code(), Some(2));
    assert_eq!(text(&empty.stderr), "igos fmt: no rule files (*.pol) in .\n");
    let none = run(&["fmt"]);
    assert_eq!(none.status.code(), Some(2));
    assert_eq!(text(&none.stderr), "igos fmt: no rule files given and no ./rules directory\n");
}
