//! Every kind of rule-file error is a diagnostic pointing into the rule file, and a run
//! reports all of them. Each fixture in tests/fixtures/rules/ is compiled together with
//! the project's rules; the rendered errors are snapshots under snapshots/.

use igos::report::diagnostic::{self, Style};
use igos::rules;
use igos::source::SourceMap;

fn compile_with(fixture: &str) -> (Vec<String>, usize) {
    let path = format!("{}/tests/fixtures/rules/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    let mut texts: Vec<(String, Result<String, String>)> =
        rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), Ok(t.to_string()))).collect();
    texts.push((format!("tests/fixtures/rules/{fixture}"), Ok(text)));
    let mut sources = SourceMap::new();
    let loaded = rules::compile_texts(texts, &mut sources);
    let rendered = loaded.errors.iter().map(|e| diagnostic::render(&diagnostic::rule_error(&sources, e), Style::PLAIN)).collect();
    (rendered, loaded.errors.len())
}

fn snapshot(name: &str, fixture: &str, expected_errors: usize) {
    let (rendered, n) = compile_with(fixture);
    assert_eq!(n, expected_errors, "errors for {fixture}:\n{}", rendered.join("\n"));
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, rendered.join("\n"));
    });
}

#[test]
fn syntax_error_points_at_the_token() {
    snapshot("rules-syntax-unclosed-set", "syntax-unclosed-set.pol", 1);
}

#[test]
fn missing_header_is_explained() {
    snapshot("rules-missing-header", "missing-header.pol", 1);
}

#[test]
fn unsupported_version() {
    snapshot("rules-unsupported-version", "unsupported-version.pol", 1);
}

#[test]
fn unknown_set_suggests_the_nearest() {
    let (rendered, _) = compile_with("unknown-set.pol");
    assert!(rendered[0].contains("did you mean `base_cli`?"), "{}", rendered[0]);
    snapshot("rules-unknown-set", "unknown-set.pol", 1);
}

#[test]
fn unknown_field_suggests_the_nearest() {
    let (rendered, _) = compile_with("unknown-field.pol");
    assert!(rendered[0].contains("did you mean `name`?"), "{}", rendered[0]);
    snapshot("rules-unknown-field", "unknown-field.pol", 1);
}

#[test]
fn duplicate_check_id_shows_both_places() {
    let (rendered, _) = compile_with("duplicate-check.pol");
    assert!(rendered[0].contains("rules/gates.pol"), "the first declaration is shown: {}", rendered[0]);
    snapshot("rules-duplicate-check", "duplicate-check.pol", 1);
}

#[test]
fn type_errors_are_all_reported() {
    snapshot("rules-type-errors", "type-errors.pol", 3);
}

#[test]
fn unknown_function() {
    let (rendered, _) = compile_with("unknown-function.pol");
    assert!(rendered[0].contains("did you mean `builders_of`?"), "{}", rendered[0]);
    snapshot("rules-unknown-function", "unknown-function.pol", 1);
}

#[test]
fn waiver_rules_are_enforced() {
    // halt without approver, unknown check, missing reason, impossible date
    snapshot("rules-waiver-errors", "waiver-errors.pol", 4);
}

#[test]
fn builder_errors() {
    // unknown phase, unknown tier, no reach, no tier
    snapshot("rules-builder-errors", "builder-errors.pol", 4);
}

#[test]
fn duplicate_set_item() {
    snapshot("rules-duplicate-set-item", "duplicate-set-item.pol", 1);
}

/// An error does not cascade: the uses of a variable whose `for` failed, the clauses that
/// failed to compile, report nothing more; every independent mistake is still reported.
#[test]
fn one_mistake_is_one_diagnostic() {
    snapshot("rules-no-cascade", "cascade.pol", 5);
}

#[test]
fn check_without_message() {
    snapshot("rules-check-without-message", "check-without-message.pol", 1);
}

#[test]
fn every_broken_file_is_reported_in_one_run() {
    let mut texts: Vec<(String, Result<String, String>)> =
        rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), Ok(t.to_string()))).collect();
    for f in ["syntax-unclosed-set.pol", "unknown-field.pol", "waiver-errors.pol"] {
        let path = format!("{}/tests/fixtures/rules/{f}", env!("CARGO_MANIFEST_DIR"));
        texts.push((f.to_string(), Ok(std::fs::read_to_string(path).unwrap())));
    }
    let mut sources = SourceMap::new();
    let loaded = rules::compile_texts(texts, &mut sources);
    assert_eq!(loaded.errors.len(), 1 + 1 + 4, "one syntax error, one unknown field, four waiver errors");
}

/// Named predicates: an unknown one (did-you-mean), a wrong number or type of arguments
/// (at the call, with the declaration), recursion direct and through another predicate
/// (at the call that closes the cycle), an unknown parameter type, a body that is not a
/// condition, a predicate called as a method: one diagnostic each.
#[test]
fn predicate_errors() {
    let (rendered, _) = compile_with("pred-errors.pol");
    assert!(rendered.iter().any(|r| r.contains("did you mean `fixture_scope`?")), "{}", rendered.join("\n"));
    assert!(rendered.iter().filter(|r| r.contains("calls itself")).count() == 2, "{}", rendered.join("\n"));
    snapshot("rules-pred-errors", "pred-errors.pol", 8);
}

/// Upstream-name declarations: an alias is declared once per recipe and names one recipe
/// (not a glob); an item listed twice; `scan ignore` declared twice. One diagnostic each.
#[test]
fn upstream_name_declaration_errors() {
    snapshot("rules-upstream-errors", "upstream-errors.pol", 4);
}
