//! One rendered diagnostic per Gate 2 finding kind (and the rule files' shadowed-entry
//! advisory), each from the valid test tree with one thing changed: the data position and
//! the deciding rule, as `igos check` draws them.

mod support;

use igos::check;
use igos::report::diagnostic::{self, Style};
use igos::source::SourceMap;
use support::{audit_record, valid_tree, TempDir};

/// Evaluate the project's rules with the tree's audit database and store; render the
/// findings of `check_id`, with the temp dir replaced by `[TREE]`.
fn rendered(t: &TempDir, check_id: &str) -> String {
    rendered_at(t, check_id, Style::PLAIN)
}

/// As [`rendered`] at a given width: a message naming the temp dir must not wrap, or the
/// snapshot would depend on the length of the process id.
fn rendered_at(t: &TempDir, check_id: &str, style: Style) -> String {
    let texts: Vec<(String, Result<String, String>)> =
        igos::rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), Ok(t.to_string()))).collect();
    let mut sources = SourceMap::new();
    let rules = igos::rules::compile_texts(texts, &mut sources);
    assert!(rules.errors.is_empty(), "{:?}", rules.errors);
    let tree = igos::tree::load_tree(t.path(), &mut sources).expect("tree loads");
    let audit = igos::audit::load_facts(&t.path().join("build/audit.db"), &t.path().join("audits")).expect("audit facts");
    let outcome = check::evaluate_full(&rules.policy, &tree, Some((&audit, &sources)), None, None, "2026-11-22");
    let mine: Vec<String> = outcome
        .findings()
        .filter(|f| f.check == check_id)
        .map(|f| diagnostic::render(&diagnostic::finding(&sources, f), style))
        .collect();
    assert_eq!(mine.len(), 1, "{check_id}: {mine:#?}");
    mine.join("\n").replace(&t.path().display().to_string(), "[TREE]")
}

fn snap(name: &str, text: String) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn audit_database_missing() {
    let t = valid_tree("g2-nodb");
    std::fs::remove_dir_all(t.path().join("build")).unwrap();
    let wide = Style { color: false, width: 400 };
    snap("finding-audit-database-missing", rendered_at(&t, "audit-database-missing", wide));
}

#[test]
fn audit_not_aggregated() {
    let t = valid_tree("g2-notagg");
    t.write("audits/bat.json", &audit_record("bat", "base", &["zlib", "xz"], &[]));
    snap("finding-audit-not-aggregated", rendered(&t, "audit-not-aggregated"));
}

#[test]
fn audit_missing() {
    let t = valid_tree("g2-missing");
    std::fs::remove_file(t.path().join("audits/bat.json")).unwrap();
    igos::audit::db::aggregate(&t.path().join("audits"), &t.path().join("build/audit.db")).expect("aggregate");
    snap("finding-audit-missing", rendered(&t, "audit-missing"));
}

#[test]
fn audit_stale() {
    let t = valid_tree("g2-stale");
    let text = t.read("packages/base/bat/package.yml").replace("version: \"1.2.3\"", "version: \"1.3.0\"");
    t.write("packages/base/bat/package.yml", &text);
    snap("finding-audit-stale", rendered(&t, "audit-stale"));
}

#[test]
fn audit_drift() {
    let t = valid_tree("g2-drift");
    let text = t.read("packages/base/bat/package.yml").replace("    - zlib\n", "    - xz\n");
    t.write("packages/base/bat/package.yml", &text);
    snap("finding-audit-drift", rendered(&t, "audit-drift"));
}

#[test]
fn audit_override_invalid() {
    let t = valid_tree("g2-ovinvalid");
    t.write("packages/base/bat/.audit-override", "{\"reason\": \"\", \"approved_by\": \"release lead\", \"expires_at\": \"2027-01-31\"}\n");
    snap("finding-audit-override-invalid", rendered(&t, "audit-override-invalid"));
}

#[test]
fn audit_override_expired() {
    let t = valid_tree("g2-ovexpired");
    t.write("packages/base/bat/.audit-override", "{\"reason\": \"upstream tarball moved\", \"approved_by\": \"release lead\", \"expires_at\": \"2026-01-31\"}\n");
    snap("finding-audit-override-expired", rendered(&t, "audit-override-expired"));
}

#[test]
fn shadowed_entry() {
    // bat is base (base_cli, an earlier layer); a later layer also lists it for extra.
    let t = valid_tree("shadowed");
    let tiers = igos::rules::BUILT_IN.iter().find(|(n, _)| n.ends_with("tiers.pol")).map(|(_, t)| *t).expect("tiers.pol");
    assert!(tiers.contains("set user_facing_apps {"), "the fixture edits user_facing_apps");
    snap("finding-shadowed-entry", rendered_with_tiers(&t, &tiers.replace("set user_facing_apps {\n", "set user_facing_apps {\n  bat\n")));
}

/// As [`rendered`], with tiers.pol replaced.
fn rendered_with_tiers(t: &TempDir, tiers: &str) -> String {
    let texts: Vec<(String, Result<String, String>)> = igos::rules::BUILT_IN
        .iter()
        .map(|(n, text)| (n.to_string(), Ok(if n.ends_with("tiers.pol") { tiers.to_string() } else { text.to_string() })))
        .collect();
    let mut sources = SourceMap::new();
    let rules = igos::rules::compile_texts(texts, &mut sources);
    assert!(rules.errors.is_empty(), "{:?}", rules.errors);
    let tree = igos::tree::load_tree(t.path(), &mut sources).expect("tree loads");
    let outcome = check::evaluate(&rules.policy, &tree, "2026-11-22");
    let mine: Vec<String> = outcome
        .findings()
        .filter(|f| f.check == "shadowed-entry" && f.subject == "bat")
        .map(|f| diagnostic::render(&diagnostic::finding(&sources, f), Style::PLAIN))
        .collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    mine.join("\n")
}
