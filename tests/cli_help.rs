//! Every igos command's --help teaches with an example; completions and the man page are
//! generated from the same definition.

use std::process::Command;

fn igos(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_igos")).args(args).output().expect("igos runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn every_command_help_shows_an_example() {
    for cmd in ["check", "explain", "checks", "fmt", "audit", "test", "build", "pack", "reference", "lsp", "completions", "man"] {
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

/// pkm has its completions and man pages too, generated the same way, with no root needed.
#[test]
fn pkm_completions_and_man_page() {
    let pkm = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pkm")).args(args).output().expect("pkm runs");
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, out, _) = pkm(&["--root", "/nonexistent", "completions", "bash"]);
    assert_eq!(code, 0);
    assert!(out.contains("pkm") && out.contains("install") && out.contains("--archive-trust"), "{out}");
    let (code, out, _) = pkm(&["man"]);
    assert_eq!(code, 0);
    assert!(out.contains(".TH pkm 1") && out.contains("verify"), "{out}");
    let (code, out, _) = pkm(&["man", "install"]);
    assert_eq!(code, 0);
    assert!(out.contains(".TH pkm-install 1") && out.contains("archive"), "{out}");
    let (code, _, err) = pkm(&["man", "instal"]);
    assert_eq!(code, 2);
    assert!(err.contains("no command `instal`") && err.contains("install"), "{err}");
    for cmd in ["completions", "man"] {
        let (code, out, _) = pkm(&[cmd, "--help"]);
        assert_eq!(code, 0);
        assert!(out.contains("Example"), "`pkm {cmd} --help` has no example:\n{out}");
    }
}
