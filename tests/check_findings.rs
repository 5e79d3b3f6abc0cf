//! One fixture tree per finding kind: a valid tree with one thing broken. Each test
//! asserts the check fires (and that the valid tree does not have it), and snapshots the
//! rendered diagnostics of that check: the data position and the deciding rule.

mod support;

use igos::check;
use igos::finding::Finding;
use igos::report::diagnostic::{self, Style};
use igos::source::SourceMap;
use support::{recipe, valid_tree, TempDir};

/// Run the project's rules (plus `extra_rules`) on a tree; return the findings of `check`
/// rendered, and the exit code.
fn findings_of(tree: &TempDir, check_id: &str, extra_rules: Option<&str>) -> (Vec<Finding>, String, i32) {
    let mut texts: Vec<(String, Result<String, String>)> =
        igos::rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), Ok(t.to_string()))).collect();
    if let Some(extra) = extra_rules {
        texts.push(("rules/extra.pol".into(), Ok(extra.to_string())));
    }
    let mut sources = SourceMap::new();
    let rules = igos::rules::compile_texts(texts, &mut sources);
    assert!(rules.errors.is_empty(), "rule errors: {:?}", rules.errors);
    let loaded = igos::tree::load_tree(tree.path(), &mut sources).expect("tree loads");
    let outcome = check::evaluate(&rules.policy, &loaded, "2026-11-22");
    let mine: Vec<Finding> = outcome.findings().filter(|f| f.check == check_id).cloned().collect();
    let rendered = mine.iter().map(|f| diagnostic::render(&diagnostic::finding(&sources, f), Style::PLAIN)).collect();
    (mine, rendered, outcome.exit_code())
}

fn expect(tree: &TempDir, check_id: &str, count: usize) -> String {
    let (found, rendered, code) = findings_of(tree, check_id, None);
    assert_eq!(found.len(), count, "{check_id}: {found:#?}");
    if found.iter().any(|f| f.halts()) {
        assert_eq!(code, 1, "a halting finding exits 1");
    }
    rendered
}

fn snap(name: &str, rendered: String) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, rendered);
    });
}

#[test]
fn the_valid_tree_passes_every_gate() {
    let t = valid_tree("valid");
    let mut sources = SourceMap::new();
    let rules = igos::rules::load(None, &mut sources).expect("rules");
    let tree = igos::tree::load_tree(t.path(), &mut sources).expect("tree");
    let outcome = check::evaluate(&rules.policy, &tree, "2026-11-22");
    let halting: Vec<&Finding> = outcome.findings().filter(|f| f.halts()).collect();
    assert!(halting.is_empty(), "{halting:#?}");
    assert_eq!(outcome.exit_code(), 0);
}

#[test]
fn yaml_syntax_error() {
    let t = valid_tree("yaml");
    t.write("packages/core/xz/package.yml", "name: xz\nversion: \"5.6\"\ndependencies:\n  build: [zlib\n");
    snap("finding-malformed-recipe", expect(&t, "malformed-recipe", 1));
}

#[test]
fn recipe_that_is_a_fifo_is_unreadable_not_malformed() {
    let t = valid_tree("fifo");
    let path = t.path().join("packages/core/xz/package.yml");
    std::fs::remove_file(&path).expect("remove package.yml");
    assert!(std::process::Command::new("mkfifo").arg(&path).status().expect("mkfifo").success());
    snap("finding-unreadable-recipe", expect(&t, "unreadable-recipe", 1));
}

#[test]
fn missing_field() {
    let t = valid_tree("missing");
    let text = recipe("xz", "core", &["zlib"], &[]).replace("license: MIT\n", "");
    t.write("packages/core/xz/package.yml", &text);
    snap("finding-missing-field", expect(&t, "missing-field", 1));
}

#[test]
fn version_not_a_string() {
    let t = valid_tree("version");
    let text = recipe("xz", "core", &["zlib"], &[]).replace("version: \"1.2.3\"", "version: 46.0");
    t.write("packages/core/xz/package.yml", &text);
    snap("finding-version-not-string", expect(&t, "version-not-string", 1));
}

#[test]
fn unknown_key() {
    let t = valid_tree("key");
    let text = recipe("xz", "core", &["zlib"], &[]) + "configure():\n  - -DBUILD_TESTS=OFF\n";
    t.write("packages/core/xz/package.yml", &text);
    snap("finding-unknown-key", expect(&t, "unknown-key", 1));
}

#[test]
fn tier_dir_mismatch() {
    let t = valid_tree("tierdir");
    t.write("packages/core/xz/package.yml", &recipe("xz", "base", &["zlib"], &[]));
    snap("finding-tier-dir-mismatch", expect(&t, "tier-dir-mismatch", 1));
}

#[test]
fn name_dir_mismatch() {
    let t = valid_tree("namedir");
    t.write("packages/core/xz/package.yml", &recipe("xz-utils", "core", &["zlib"], &[]));
    snap("finding-name-dir-mismatch", expect(&t, "name-dir-mismatch", 1));
}

#[test]
fn duplicate_name() {
    let t = valid_tree("dup");
    t.write("packages/extra/zlib/package.yml", &recipe("zlib", "extra", &[], &[]));
    // One finding naming every directory, not one per copy.
    snap("finding-duplicate-name", expect(&t, "duplicate-name", 1));
}

#[test]
fn builder_unavailable_and_tier_without_builder() {
    let t = valid_tree("nobuilder");
    t.write("builders/chroot-build-desktop.list", "# the invocation was deleted\n");
    snap("finding-builder-unavailable", expect(&t, "builder-unavailable", 1));
    snap("finding-tier-without-builder", expect(&t, "tier-without-builder", 1));
}

#[test]
fn orphan() {
    let t = valid_tree("orphan");
    t.write("packages/core/libffi/package.yml", &recipe("libffi", "core", &[], &[]));
    snap("finding-orphan", expect(&t, "orphan", 1));
}

#[test]
fn reached_twice() {
    let t = valid_tree("twice");
    t.write("builders/chroot-build-core-extra.list", "# core-extra\nzlib\nglib2\n");
    snap("finding-reached-twice", expect(&t, "reached-twice", 1));
}

#[test]
fn pending_without_reason() {
    let t = valid_tree("pending");
    let text = recipe("libffi", "core", &[], &[]).replace("verify_paths:\n  - /usr/bin/libffi\n  - /usr/share/libffi/data\n", "pending_acquisition: \"\"\n");
    t.write("packages/core/libffi/package.yml", &text);
    snap("finding-pending-without-reason", expect(&t, "pending-without-reason", 1));
    // An empty reason does not exempt: the package is an orphan too.
    expect(&t, "orphan", 1);
}

#[test]
fn pending_with_reason_exempts() {
    let t = valid_tree("pendingok");
    let text = recipe("libffi", "core", &[], &[]).replace(
        "verify_paths:\n  - /usr/bin/libffi\n  - /usr/share/libffi/data\n",
        "pending_acquisition: \"blocked on upstream relicensing\"\n",
    );
    t.write("packages/core/libffi/package.yml", &text);
    expect(&t, "orphan", 0);
    expect(&t, "pending-without-reason", 0);
    expect(&t, "verify-paths-missing", 0);
}

#[test]
fn tier_move_points_at_the_deciding_list_entry() {
    let t = valid_tree("move");
    std::fs::remove_dir_all(t.path().join("packages/base/bat")).unwrap();
    t.write("builders/chroot-build-base.list", "# base\n");
    t.write("packages/extra/bat/package.yml", &recipe("bat", "extra", &["zlib"], &[]));
    let rendered = expect(&t, "tier-move", 1);
    assert!(rendered.contains("rules/tiers.pol"), "the deciding rule is shown: {rendered}");
    snap("finding-tier-move", rendered);
}

#[test]
fn tier_unclear() {
    let t = valid_tree("unclear");
    t.write("packages/extra/mytool/package.yml", &recipe("mytool", "extra", &[], &[]));
    snap("finding-tier-unclear", expect(&t, "tier-unclear", 1));
}

#[test]
fn runtime_consumers_do_not_place_a_package() {
    let t = valid_tree("runtime");
    t.write("packages/extra/mytool/package.yml", &recipe("mytool", "extra", &[], &[]));
    t.write("packages/extra/audacity/package.yml", &recipe("audacity", "extra", &["gtk4"], &["mytool"]));
    expect(&t, "tier-unclear", 1);
    t.write("packages/extra/audacity/package.yml", &recipe("audacity", "extra", &["gtk4", "mytool"], &[]));
    expect(&t, "tier-unclear", 0);
}

#[test]
fn cross_tier_dep() {
    let t = valid_tree("xtd");
    t.write("packages/core/glib2/package.yml", &recipe("glib2", "core", &["zlib", "gtk4"], &[]));
    snap("finding-cross-tier-dep", expect(&t, "cross-tier-dep", 1));
}

#[test]
fn extra_and_ai_may_not_depend_on_each_other() {
    let t = valid_tree("peers");
    t.write("packages/ai/llama-cpp/package.yml", &recipe("llama-cpp", "ai", &["audacity"], &[]));
    expect(&t, "cross-tier-dep", 1);
}

#[test]
fn listed_after_consumer() {
    let t = valid_tree("order");
    t.write("builders/chroot-build-ch8.list", "# ch8\nxz\nzlib\n");
    snap("finding-listed-after-consumer", expect(&t, "listed-after-consumer", 1));
}

#[test]
fn built_in_later_phase() {
    let t = valid_tree("phase");
    t.write("packages/core/glib2/package.yml", &recipe("glib2", "core", &["zlib", "bat"], &[]));
    snap("finding-built-in-later-phase", expect(&t, "built-in-later-phase", 1));
}

#[test]
fn dep_without_recipe() {
    let t = valid_tree("norecipe");
    t.write("packages/core/glib2/package.yml", &recipe("glib2", "core", &["zlib"], &["coreutils"]));
    snap("finding-dep-without-recipe", expect(&t, "dep-without-recipe", 1));
}

#[test]
fn list_entry_without_recipe() {
    let t = valid_tree("ghost");
    t.write("builders/chroot-build-ch8.list", "# ch8\nzlib\nxz\nghost\n");
    snap("finding-list-entry-without-recipe", expect(&t, "list-entry-without-recipe", 1));
}

#[test]
fn verify_paths_missing_and_shape() {
    let t = valid_tree("verify");
    let text = recipe("xz", "core", &["zlib"], &[]);
    t.write("packages/core/xz/package.yml", &text.replace("  - /usr/share/xz/data\n", "  - /etc/hosts\n  - usr/bin/xz\n"));
    snap("finding-verify-path-shape", expect(&t, "verify-path-shape", 2));
    t.write("packages/core/xz/package.yml", &text.replace("verify_paths:\n  - /usr/bin/xz\n  - /usr/share/xz/data\n", ""));
    snap("finding-verify-paths-missing", expect(&t, "verify-paths-missing", 1));
}

#[test]
fn source_checks() {
    let t = valid_tree("source");
    let text = recipe("xz", "core", &["zlib"], &[]);
    t.write("packages/core/xz/package.yml", &text.replace(&"ab".repeat(32), "DEADBEEF"));
    snap("finding-sha256-shape", expect(&t, "sha256-shape", 1));
    t.write("packages/core/xz/package.yml", &text.replace("file:///sources/", "https://tukaani.org/xz/"));
    snap("finding-source-not-mirrored", expect(&t, "source-not-mirrored", 1));
    t.write("packages/core/xz/package.yml", &text.replace("  - url: file:///sources/xz-1.2.3.tar.xz\n    sha256", "  - sha256"));
    snap("finding-source-without-url", expect(&t, "source-without-url", 1));
}

const CUSTOM: &str = "build_style: custom";

#[test]
fn build_sh_contract() {
    let t = valid_tree("buildsh");
    let text = recipe("xz", "core", &["zlib"], &[]).replace("build_style: autotools", CUSTOM);
    t.write("packages/core/xz/package.yml", &text);
    snap("finding-build-sh-missing", expect(&t, "build-sh-missing", 1));
    t.write(
        "packages/core/xz/build.sh",
        "#!/bin/bash\nconfigure() {\n  ./configure --prefix=/usr\n}\nbuild() {\n  make\n}\n",
    );
    snap("finding-build-sh-function-missing", expect(&t, "build-sh-function-missing", 1));
    t.write(
        "packages/core/xz/build.sh",
        "#!/bin/bash\nconfigure() {\n  :\n}\nbuild() {\n  make\n}\ndo_install() {\n  make DESTDIR=\"${DESTDIR}\" install\n}\n",
    );
    snap("finding-stub-function", expect(&t, "stub-function", 1));
}

#[test]
fn metapackage_contract() {
    let t = valid_tree("meta");
    let text = recipe("intergenos-release", "core", &[], &[])
        .replace("build_style: autotools", CUSTOM)
        .replace("source:\n  - url: file:///sources/intergenos-release-1.2.3.tar.xz\n    sha256: ".to_string().as_str(), "source: []\nx_sha: ");
    let text = text.lines().filter(|l| !l.starts_with("x_sha")).collect::<Vec<_>>().join("\n") + "\n";
    t.write("packages/core/intergenos-release/package.yml", &text);
    t.write("builders/chroot-build-core-extra.list", "# core-extra\nglib2\nintergenos-release\n");
    let body = "configure() {\n  :\n}\nbuild() {\n  :\n}\ndo_install() {\n  install -Dm644 release.conf \"${DESTDIR}/etc/intergenos/release.conf\"\n}\n";
    t.write("packages/core/intergenos-release/build.sh", &format!("#!/bin/bash\n# Release files.\n{body}"));
    snap("finding-metapackage-header", expect(&t, "metapackage-header", 1));
    expect(&t, "stub-function", 0);
    t.write(
        "packages/core/intergenos-release/build.sh",
        &format!("#!/bin/bash\n# Intentionally a metapackage: no source, only config files.\n{body}"),
    );
    expect(&t, "metapackage-header", 0);
}

#[test]
fn waivers_waive_expire_and_go_unused() {
    let t = valid_tree("waive");
    t.write("packages/extra/mytool/package.yml", &recipe("mytool", "extra", &[], &[]));
    let active = "policy 1\nwaive tier-unclear for mytool {\n  reason \"classified in the next tier review\"\n  approver \"release lead\"\n  expires 2027-01-31\n}\n";
    let (found, _, code) = findings_of(&t, "tier-unclear", Some(active));
    assert!(found[0].is_waived());
    assert_eq!(code, 0, "a waived halt does not halt");

    let expired = active.replace("2027-01-31", "2026-01-31");
    let (found, _, code) = findings_of(&t, "tier-unclear", Some(&expired));
    assert!(!found[0].is_waived());
    assert_eq!(code, 1);
    let (exp, rendered, _) = findings_of(&t, "waiver-expired", Some(&expired));
    assert_eq!(exp.len(), 1);
    snap("finding-waiver-expired", rendered);

    let unused = active.replace("mytool", "othertool");
    let (un, rendered, _) = findings_of(&t, "waiver-unused", Some(&unused));
    assert_eq!(un.len(), 1);
    snap("finding-waiver-unused", rendered);
}

#[test]
fn shadowed_entry_shows_both_positions() {
    let t = valid_tree("shadow");
    let rules = "policy 1\nset early_core {\n  bat\n}\nset late_base {\n  bat\n}\nclassify local {\n  core if name in early_core\n  base if name in late_base\n  else unclear\n}\n";
    let (found, rendered, _) = findings_of(&t, "shadowed-entry", Some(rules));
    let mine: Vec<&Finding> = found.iter().filter(|f| f.subject == "bat" && f.message.contains("`local`")).collect();
    assert_eq!(mine.len(), 1, "{found:#?}");
    assert!(rendered.contains("rules/extra.pol"));
}
