//! Named predicates (`pred`): a call is the predicate's body with the arguments in its
//! parameters' places, so a check that calls one is the check with the body written out;
//! one that nothing calls is the `unused-pred` advisory.

mod support;

use std::process::Command;

use igos::rules;
use igos::source::SourceMap;

const PREDS: &str = r#"policy 1

set fixture_tiers {
  base
  core
  desktop
}

pred in_fixture_scope(p: package) = p.tier in fixture_tiers and p.name not in lfs_ch8
pred core_or_base(p: package) = in_fixture_scope(p) and (p.tier == core or p.tier == base)
pred never_called(p: package) = p.parsed

check pred-scope advisory {
  about "a check that calls a predicate that calls a predicate"
  for p in packages
  where core_or_base(p)
  message "{p.name} is in scope"
}

check pred-written-out advisory {
  about "the same check, the predicates written out"
  for p in packages
  where p.tier in fixture_tiers and p.name not in lfs_ch8 and (p.tier == core or p.tier == base)
  message "{p.name} is in scope"
}

gate preds "Predicates" {
  pred-scope
  pred-written-out
}
"#;

fn texts() -> Vec<(String, Result<String, String>)> {
    let mut t: Vec<(String, Result<String, String>)> =
        rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), Ok(t.to_string()))).collect();
    t.push(("rules/zz-preds.pol".into(), Ok(PREDS.into())));
    t
}

#[test]
fn a_call_compiles_to_the_body_written_out() {
    let mut sources = SourceMap::new();
    let loaded = rules::compile_texts(texts(), &mut sources);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let p = &loaded.policy;
    let steps = |id: &str| format!("{:?}", p.checks[p.check(id).expect(id)].steps);
    // The same filters, in the same order: nothing of the predicate is left to run.
    assert_eq!(steps("pred-scope"), steps("pred-written-out"));
    let uses = |name: &str| p.preds.iter().find(|d| d.name == name).map(|d| d.uses.len());
    assert_eq!((uses("in_fixture_scope"), uses("core_or_base"), uses("never_called")), (Some(1), Some(1), Some(0)));
    // The shipped rules call every predicate they declare.
    let mut shipped = SourceMap::new();
    let builtin = rules::compile_texts(rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), Ok(t.to_string()))).collect(), &mut shipped);
    assert!(builtin.policy.preds.iter().any(|d| d.name == "in_audit_scope"));
    assert!(builtin.policy.preds.iter().all(|d| !d.uses.is_empty()), "{:?}", builtin.policy.preds);
}

#[test]
fn findings_of_a_predicate_and_the_unused_advisory() {
    let t = support::TempDir::new("preds");
    for (name, text) in rules::BUILT_IN {
        t.write(name, text);
    }
    t.write("rules/zz-preds.pol", PREDS);
    let tree = support::valid_tree("preds-tree");
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .current_dir(t.path())
        .args(["check", "--format", "concise", "--rules", "rules", "--root"])
        .arg(tree.path())
        .output()
        .expect("igos runs");
    assert_ne!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let subjects = |check: &str| -> Vec<String> {
        let mut v: Vec<String> = stdout
            .lines()
            .filter(|l| l.contains(&format!(" {check}: ")))
            .filter_map(|l| l.split(": ").last().and_then(|m| m.split(' ').next()).map(str::to_string))
            .collect();
        v.sort();
        v
    };
    // core and base, minus LFS chapter 8 (zlib, xz): glib2 and bat; gtk4 is desktop.
    assert_eq!(subjects("pred-scope"), ["bat", "glib2"], "{stdout}");
    assert_eq!(subjects("pred-scope"), subjects("pred-written-out"));
    let unused: Vec<&str> = stdout.lines().filter(|l| l.contains(" unused-pred: ")).collect();
    assert_eq!(unused.len(), 1, "{stdout}");
    assert!(unused[0].starts_with("rules/zz-preds.pol:11:6: advisory unused-pred: predicate `never_called`"), "{}", unused[0]);
}

/// Hostile rule files: predicates that double at every level (2^20 nodes once inlined) and
/// a chain of 2,000 predicates are rule errors (exit 2), never a hang or a stack overflow.
#[test]
fn inlining_stays_bounded() {
    let t = support::TempDir::new("preds-hostile");
    let mut doubling = vec!["policy 1".to_string(), "pred p0(x: package) = x.parsed".to_string()];
    for i in 1..20 {
        doubling.push(format!("pred p{i}(x: package) = p{}(x) and p{}(x)", i - 1, i - 1));
    }
    doubling.extend(["check boom advisory {", "  for p in packages", "  where p19(p)", "  message \"{p.name}\"", "}"].map(String::from));
    t.write("rules/a.pol", &(doubling.join("\n") + "\n"));
    let mut chain = vec!["policy 1".to_string()];
    chain.extend((0..2000).map(|i| format!("pred q{i}(x: package) = q{}(x)", i + 1)));
    chain.push("pred q2000(x: package) = x.parsed".into());
    t.write("rules/b.pol", &(chain.join("\n") + "\n"));
    let tree = support::valid_tree("preds-hostile-tree");
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .args(["check", "--color", "never", "--rules"])
        .arg(t.path().join("rules"))
        .arg("--root")
        .arg(tree.path())
        .output()
        .expect("igos runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("expands to more than the language allows"), "{stderr}");
    assert_eq!(stderr.matches("predicates call predicates more than 32 deep").count(), 1, "{stderr}");
}
