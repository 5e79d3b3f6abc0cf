//! Lints on rule files, advisories under "Rule files": a condition that is constant, a glob
//! that matches no recipe. No lint fires on the shipped rules over the real tree.

mod support;

use std::process::{Command, Output};

use support::TempDir;

/// A rule file with every kind of constant condition, and conditions that look constant
/// but are not (a tier constant on one side, a relation, `today()`).
const LINTED: &str = r#"policy 1

check never halt {
  about "a condition that is always false"
  for p in packages
  where 1 == 2
  message "{p.name}"
}

check always advisory {
  about "always true, and a self-comparison inside an `or`"
  for p in packages
  where true
  where p.parsed or p.name != p.name
  where not (len("abc") > 2)
  message "{p.name}"
}

check fine advisory {
  about "none of these is constant"
  for p in packages, b in builders
  where p.tier == core and b.tier != base
  where count(builders) > 0 and today() > "2000-01-01"
  where exists(p.build_sh) or p.name in lint_list
  where p.name == b.name
  message "{p.name}"
}

gate lints "Lints" {
  never
  always
  fine
}

set lint_list {
  bat
  exa-*
  !zz-*
}

classify lint_tier {
  base if name in lint_list
  else unclear
}
"#;

fn rules_with(extra: &str) -> TempDir {
    let t = TempDir::new("lints");
    for (name, text) in igos::rules::BUILT_IN {
        t.write(name, text);
    }
    t.write("rules/zz-lints.pol", extra);
    t
}

fn concise(dir: &std::path::Path, root: &std::path::Path, rules: &str) -> (Output, Vec<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .current_dir(dir)
        .args(["check", "--format", "concise", "--rules", rules, "--root"])
        .arg(root)
        .output()
        .expect("igos runs");
    let lines = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    (out, lines)
}

fn lints(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.contains(" constant-condition: ") || l.contains(" glob-matches-nothing: ")).collect()
}

#[test]
fn constant_conditions_and_unmatched_globs_are_advisories_with_positions() {
    let t = rules_with(LINTED);
    let tree = support::valid_tree("lints-tree");
    let (out, lines) = concise(t.path(), tree.path(), "rules");
    assert_ne!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let found: Vec<String> = lints(&lines).into_iter().filter(|l| l.starts_with("rules/zz-lints.pol")).cloned().collect();
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("rule-lints", found.join("\n"));
    });
    // Nothing of the `fine` check.
    assert!(!found.iter().any(|l| l.contains("check `fine`")), "{found:#?}");
}

#[test]
fn the_human_report_puts_them_under_rule_files() {
    let t = rules_with(LINTED);
    let tree = support::valid_tree("lints-human");
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .current_dir(t.path())
        .args(["check", "--color", "never", "--all", "--rules", "rules", "--root"])
        .arg(tree.path())
        .output()
        .expect("igos runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let rules_gate = text.split("── Rule files ──").nth(1).expect("a Rule files section");
    assert!(rules_gate.contains("constant-condition") && rules_gate.contains("in check `never`, `1 == 2` is always false"), "{rules_gate}");
    assert!(rules_gate.contains("glob-matches-nothing") && rules_gate.contains("`exa-*` in set `lint_list`"), "{rules_gate}");
}

/// The shipped rules: no constant condition anywhere, and on the real tree no glob that
/// matches nothing (no false positive to wave through). On the embedded tree, which holds
/// 81 of the recipes the rules describe, the globs it has no recipe for are reported.
#[test]
fn no_lint_fires_on_the_shipped_rules_over_the_corpus() {
    let project = support::project_dir();
    let (_, embedded) = concise(&project, &project, "rules");
    let embedded_lints = lints(&embedded);
    assert!(!embedded_lints.iter().any(|l| l.contains("constant-condition")), "{embedded_lints:#?}");
    for l in &embedded_lints {
        assert!(l.starts_with("rules/tiers.pol:") && l.contains("glob-matches-nothing"), "{l}");
    }
    let Some(corpus) = support::corpus() else { return };
    let (_, lines) = concise(&project, &corpus, "rules");
    assert!(lines.len() > 500, "the corpus check ran: {} lines", lines.len());
    assert_eq!(lints(&lines), Vec::<&String>::new());
}

/// `alias-without-recipe`: an alias whose recipe the tree lacks while a recipe of a near
/// name exists (a misspelling) is an advisory at the alias; one for a recipe the tree
/// simply does not have (`no-such-thing`), or another version's (`gtk3`: the tree has
/// gtk4), is not.
#[test]
fn a_misspelt_alias_recipe_is_an_advisory() {
    let t = rules_with("policy 1\n\nalias glb2 {\n  glib-2.0-typo\n}\n\nalias no-such-thing {\n  nothing-1\n}\n");
    let tree = support::valid_tree("lints-alias");
    let (out, lines) = concise(t.path(), tree.path(), "rules");
    assert_ne!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let found: Vec<&String> = lines.iter().filter(|l| l.contains(" alias-without-recipe: ")).collect();
    assert_eq!(
        found,
        ["rules/zz-lints.pol:3:7: advisory alias-without-recipe: `alias glb2` names no recipe of this tree; did you mean `glib2`?"],
        "{lines:#?}"
    );
}
