//! pkm's modules form layers (ARCHITECTURE.md): the entry points (`install`, `remove`,
//! `doctor`) run `intents`, which completes plans through `queue` and `removal`; nothing
//! lower names a module above it, so there is no import loop to grow back. Below them all,
//! `layout` (where the state is), then `state` (its checks and opens), then `db`.

use std::path::Path;

/// Each module and the modules it must not name (as `super::m` or `crate::m`).
const BELOW: &[(&str, &[&str])] = &[
    ("intents.rs", &["install", "remove", "doctor"]),
    ("queue.rs", &["install", "remove", "removal", "doctor", "intents"]),
    ("removal.rs", &["install", "remove", "queue", "doctor", "intents"]),
    ("deploy.rs", &["install", "remove", "removal", "queue", "doctor", "intents"]),
    ("install.rs", &["remove", "doctor"]),
    ("remove.rs", &["install", "queue", "doctor"]),
    // Where the state is lies below everything that reads or writes it.
    ("layout.rs", &["state", "db", "textmanifest", "install", "remove", "doctor"]),
    ("state.rs", &["db", "textmanifest"]),
    ("db.rs", &["textmanifest"]),
    // The `.new` names are chosen for a plan; the plan's deploy says where they went.
    ("confignew.rs", &["deploy", "install", "queue"]),
];

/// Does `code` name module `m` through `super::` or `crate::`?
fn names(code: &str, m: &str) -> bool {
    ["super::", "crate::"].iter().any(|p| {
        let needle = format!("{p}{m}");
        code.match_indices(&needle).any(|(i, _)| !code[i + needle.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    })
}

#[test]
fn lower_modules_never_name_the_ones_above() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut crossings = Vec::new();
    for (file, above) in BELOW {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        // Code only: a doc comment may say who calls the module.
        let code: String = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
        for m in *above {
            if names(&code, m) {
                crossings.push(format!("{file} names {m}"));
            }
        }
    }
    assert!(crossings.is_empty(), "{crossings:?}");
}

#[test]
fn the_check_sees_a_crossing() {
    assert!(names("use super::install;", "install"));
    assert!(names("x = crate::remove::remove(a)", "remove"));
    assert!(!names("use super::removal::RemovePlan;", "remove"));
}
