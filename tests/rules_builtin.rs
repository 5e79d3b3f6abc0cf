//! The project's own rules compile cleanly, and the built-in copy equals rules/.

use igos::report::diagnostic::{self, Style};
use igos::rules;
use igos::source::SourceMap;

#[test]
fn project_rules_compile_without_errors() {
    let mut sources = SourceMap::new();
    let loaded = rules::load(None, &mut sources).expect("built-in rules load");
    let rendered: Vec<String> =
        loaded.errors.iter().map(|e| diagnostic::render(&diagnostic::rule_error(&sources, e), Style::PLAIN)).collect();
    assert!(loaded.errors.is_empty(), "rule errors:\n{}", rendered.join("\n"));
    assert!(loaded.policy.gates.len() >= 5);
    assert_eq!(loaded.policy.phases.len(), 22, "the seeds' twenty, the image audit and publish");
}

#[test]
fn built_in_rules_equal_the_rules_directory() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut on_disk: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == rules::EXTENSION))
        .map(|p| (format!("rules/{}", p.file_name().unwrap().to_string_lossy()), std::fs::read_to_string(&p).unwrap()))
        .collect();
    on_disk.sort();
    let built_in: Vec<(String, String)> = rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    assert_eq!(
        built_in.iter().map(|x| &x.0).collect::<Vec<_>>(),
        on_disk.iter().map(|x| &x.0).collect::<Vec<_>>(),
        "rules::BUILT_IN must list every file of rules/"
    );
    assert!(built_in == on_disk, "a built-in rule file differs from rules/: rebuild");
}
