//! Every igos command's --help teaches with an example; completions and the man page are
//! generated from the same definition.

use std::process::Command;

fn igos(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_igos")).args(args).output().expect("igos runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn every_command_help_shows_an_example() {
    for cmd in ["check", "explain", "checks", "fmt", "audit", "test", "build", "pack", "reference", "completions", "man"] {
        let (code, out) = igos(&[cmd, "--help"]);
        assert_eq!(code, 0, "{cmd}");
        assert!(out.contains("Example"), "`igos {cmd} --help` has no example:\n{out}");
    }
}

#[test]
fn completions_and_man_page() {
    let (code, out) = igos(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(out.contains("igos") && out.contains("check") && out.contains("--baseline"));
    let (code, out) = igos(&["man"]);
    assert_eq!(code, 0);
    assert!(out.contains(".TH igos 1") && out.contains("check"));
    // The pages igos(1) refers to exist: one per command, with that command's options.
    let (code, out) = igos(&["man", "check"]);
    assert_eq!(code, 0);
    assert!(out.contains(".TH igos-check 1") && out.contains("baseline"), "{out}");
    let (code, _) = igos(&["man", "chek"]);
    assert_eq!(code, 2);
}
