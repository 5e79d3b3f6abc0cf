//! The pure invariant evaluation over hand-built facts: the contract the rule engine
//! (`rules/pkm.pol`) must reproduce when it replaces `invariants::evaluate`.

use igos::pkm::invariants::{evaluate, EntryType, InstalledFact, InvariantFacts, QueueItem};
use igos::pkm::rootfs::RootKind;

fn item(name: &str, sup: &[&str], entries: &[(&str, EntryType)]) -> QueueItem {
    QueueItem {
        name: name.into(),
        version: "1".into(),
        archive: format!("{name}.igos.tar.gz"),
        supersedes: sup.iter().map(|s| s.to_string()).collect(),
        entries: entries.iter().map(|(p, t)| (p.to_string(), *t)).collect(),
    }
}

fn ids(f: &InvariantFacts) -> Vec<(&'static str, String, String)> {
    // The built-in rules, compiled as the pkm binary compiles them.
    let rules = igos::rules::for_pkm().expect("the built-in rules compile");
    evaluate(&rules, f).into_iter().map(|v| (leak(v.rule_id), v.subject, v.path)).collect()
}

#[test]
fn directory_over_root_symlink() {
    let mut f = InvariantFacts::default();
    f.queue.push(item("a", &[], &[("lib", EntryType::Dir), ("lib/x.so", EntryType::File)]));
    f.root_kinds.insert("lib".into(), RootKind::SymlinkToDir);
    assert_eq!(ids(&f), vec![("directory-collision", "a".into(), "lib".into())]);
}

#[test]
fn file_over_directory_and_directory_over_file() {
    let mut f = InvariantFacts::default();
    f.queue.push(item("a", &[], &[("usr/share/x", EntryType::File), ("usr/y", EntryType::Dir)]));
    f.root_kinds.insert("usr/share/x".into(), RootKind::Dir);
    f.root_kinds.insert("usr/y".into(), RootKind::File);
    assert_eq!(ids(&f).len(), 2);
}

#[test]
fn supersede_order_rules() {
    let mut f = InvariantFacts::default();
    f.queue.push(item("core", &["util-linux"], &[]));
    f.queue.push(item("util-linux", &[], &[]));
    assert_eq!(ids(&f), vec![("supersede-order", "core".into(), "".into())]);
    let mut g = InvariantFacts::default();
    g.queue.push(item("core", &["util-linux"], &[]));
    assert_eq!(ids(&g).len(), 1, "missing predecessor");
    g.installed.insert("util-linux".into(), InstalledFact { version: "2.39".into(), superseded_by: Some("x".into()) });
    assert!(ids(&g).is_empty(), "an installed (even already superseded) predecessor is fine: the split case");
}

#[test]
fn file_conflict_unless_superseded() {
    let mut f = InvariantFacts::default();
    f.owners.insert("usr/bin/mount".into(), "util-linux".into());
    f.installed.insert("util-linux".into(), InstalledFact { version: "2.39".into(), superseded_by: None });
    f.queue.push(item("rival", &[], &[("usr/bin/mount", EntryType::File)]));
    assert_eq!(ids(&f), vec![("file-conflict", "rival".into(), "usr/bin/mount".into())]);
    f.queue = vec![item("core", &["util-linux"], &[("usr/bin/mount", EntryType::File)])];
    assert!(ids(&f).is_empty());
    // Within one queue: the second shipper conflicts with the first.
    f.queue = vec![item("a", &[], &[("usr/bin/z", EntryType::File)]), item("b", &[], &[("usr/bin/z", EntryType::Symlink)])];
    assert_eq!(ids(&f), vec![("file-conflict", "b".into(), "usr/bin/z".into())]);
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}
