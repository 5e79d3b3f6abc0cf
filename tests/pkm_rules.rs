//! pkm's pre-deploy invariants are rules (rules/pkm.pol) evaluated by the engine over
//! facts pkm gathers. These tests give the engine facts directly.

use igos::facts::pkm::{evaluate, EntryFact, PkmFacts, QueuedPackage};
use igos::finding::Finding;
use igos::source::SourceMap;

fn policy() -> igos::lang::compile::Policy {
    let mut sources = SourceMap::new();
    let rules = igos::rules::load(None, &mut sources).expect("rules");
    assert!(rules.errors.is_empty());
    rules.policy
}

fn entry(path: &str, kind: &'static str, root_type: &'static str, owner: Option<&str>) -> EntryFact {
    EntryFact { path: path.into(), kind, root_type, owner: owner.map(str::to_string), span: None, ..Default::default() }
}

fn queued(name: &str, supersedes: &[&str], entries: Vec<EntryFact>) -> QueuedPackage {
    QueuedPackage {
        name: name.into(),
        archive: format!("{name}-1.0-1.igos.tar.gz"),
        supersedes: supersedes.iter().map(|s| s.to_string()).collect(),
        entries,
        installed: false,
        span: None,
        ..Default::default()
    }
}

/// (check, package, path or "")
fn ids(findings: &[Finding]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> =
        findings.iter().map(|f| (f.check.clone(), format!("{} {}", f.subject, f.object.as_deref().unwrap_or("")).trim().to_string())).collect();
    v.sort();
    v
}

#[test]
fn util_linux_split_passes() {
    let facts = PkmFacts {
        installed: vec!["util-linux".into(), "glibc".into()],
        queue: vec![
            queued("util-linux-core", &["util-linux"], vec![
                entry("usr", "dir", "dir", None),
                entry("usr/bin", "dir", "dir", None),
                entry("usr/bin/mount", "file", "file", Some("util-linux")),
            ]),
            queued("util-linux-extra", &["util-linux"], vec![
                entry("usr/bin/fdisk", "file", "file", Some("util-linux")),
                entry("usr/bin/cfdisk", "file", "absent", None),
            ]),
        ],
    };
    assert_eq!(ids(&evaluate(&policy(), &facts, "2026-11-22")), vec![]);
}

#[test]
fn turning_the_lib_symlink_into_a_directory_is_refused() {
    let facts = PkmFacts {
        installed: vec![],
        queue: vec![queued("badlib", &[], vec![
            entry("lib", "dir", "symlink-to-dir", None),
            entry("lib/libbad.so", "file", "absent", None),
            entry("usr/lib", "symlink", "dir", None),
        ])],
    };
    let f = evaluate(&policy(), &facts, "2026-11-22");
    // The package claims /lib as a directory where the root has the lib -> usr/lib
    // symlink, and ships a symlink where the root has a real directory: both collide.
    assert_eq!(
        ids(&f),
        vec![("directory-collision".into(), "badlib lib".into()), ("directory-collision".into(), "badlib usr/lib".into())]
    );
    assert!(f[0].halts());
}

#[test]
fn a_file_over_the_lib_symlink_is_refused() {
    let facts = PkmFacts { installed: vec![], queue: vec![queued("x", &[], vec![entry("lib", "file", "symlink-to-dir", None)])] };
    assert_eq!(ids(&evaluate(&policy(), &facts, "2026-11-22")), vec![("directory-collision".into(), "x lib".into())]);
}

#[test]
fn supersede_ordering() {
    // The predecessor is later in the queue: refused.
    let facts = PkmFacts {
        installed: vec![],
        queue: vec![queued("pinentry", &["pinentry-pass1"], vec![]), queued("pinentry-pass1", &[], vec![])],
    };
    let f = evaluate(&policy(), &facts, "2026-11-22");
    assert_eq!(ids(&f), vec![("supersede-order".into(), "pinentry".into())]);
    assert!(f[0].message.contains("later in the install queue"), "{}", f[0].message);
    // Earlier in the queue: fine.
    let facts = PkmFacts {
        installed: vec![],
        queue: vec![queued("pinentry-pass1", &[], vec![]), queued("pinentry", &["pinentry-pass1"], vec![])],
    };
    assert!(evaluate(&policy(), &facts, "2026-11-22").is_empty());
    // Neither installed nor queued: refused.
    let facts = PkmFacts { installed: vec![], queue: vec![queued("pinentry", &["pinentry-pass1"], vec![])] };
    assert_eq!(evaluate(&policy(), &facts, "2026-11-22").len(), 1);
}

#[test]
fn a_file_of_another_package_is_a_conflict_unless_superseded() {
    let facts = PkmFacts {
        installed: vec!["coreutils".into()],
        queue: vec![queued("busybox", &[], vec![entry("usr/bin/ls", "file", "file", Some("coreutils"))])],
    };
    let f = evaluate(&policy(), &facts, "2026-11-22");
    assert_eq!(ids(&f), vec![("file-conflict".into(), "busybox usr/bin/ls".into())]);
    assert!(f[0].message.contains("coreutils"));
}
