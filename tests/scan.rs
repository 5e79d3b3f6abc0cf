//! Gate 6 (Scan A.2) end to end: tarballs made here with real configure.ac, meson.build
//! and CMakeLists.txt content (conditional blocks, comments); halting and advisory
//! findings pointing at the upstream line; divergence records; the cache; .tar.gz, .tar.xz and .tar.bz2 read alike.

mod support;

use std::path::Path;
use std::process::Command;

use igos::check;
use igos::finding::Finding;
use igos::report::diagnostic::{self, Style};
use igos::source::SourceMap;
use support::{recipe, valid_tree, TempDir};

const CONFIGURE_AC: &str = r#"AC_INIT([gtk4], [1.2.3])
dnl PKG_CHECK_MODULES([OLD], [bat])
PKG_CHECK_MODULES([ZLIB], [zlib >= 1.2], [], [AC_MSG_ERROR([zlib is required])])
if test "x$enable_xz" = xyes; then
  PKG_CHECK_MODULES([LZMA], [liblzma])
fi
AS_IF([test "x$with_bat" = xyes], [
  PKG_CHECK_MODULES([BAT], [bat])
])
if test -n "$x"; then AC_MSG_NOTICE([one-line if]); fi
PKG_CHECK_MODULES([GLIB], [glib-2.0 >= 2.80])
AC_CHECK_LIB([m], [cos])
"#;

const MESON_BUILD: &str = r#"project('gtk4', 'c')
# dependency('bat') is commented out
glib = dependency('glib-2.0')
llama = dependency('llama-cpp', required: false)
if get_option('audio')
  audacity = dependency('audacity')
endif
zlib = dependency('zlib')
"#;

const CMAKE_LISTS: &str = r#"cmake_minimum_required(VERSION 3.10)
if(WITH_BAT)
  find_package(bat REQUIRED)
endif()
find_package(LibLZMA REQUIRED)
find_package(Threads REQUIRED)
"#;

/// Write a .tar.gz of `files` (paths inside the top directory `gtk4-1.2.3/`).
fn tarball(path: &Path, files: &[(&str, &str)]) {
    let file = std::fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut t = tar::Builder::new(gz);
    for (p, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, format!("gtk4-1.2.3/{p}"), body.as_bytes()).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap();
}

/// The valid tree, with gtk4's source a .tar.gz holding the three build files (plus a
/// CMakeLists.txt under tests/ and one too deep, both never read).
fn scanned_tree(tag: &str) -> TempDir {
    let t = valid_tree(tag);
    t.write(
        "packages/desktop/gtk4/package.yml",
        &recipe("gtk4", "desktop", &["glib2"], &[]).replace("gtk4-1.2.3.tar.xz", "${name}-${version}.tar.gz"),
    );
    std::fs::create_dir_all(t.path().join("sources")).unwrap();
    tarball(
        &t.path().join("sources/gtk4-1.2.3.tar.gz"),
        &[
            ("configure.ac", CONFIGURE_AC),
            ("meson.build", MESON_BUILD),
            ("build/cmake/CMakeLists.txt", CMAKE_LISTS),
            ("tests/CMakeLists.txt", "find_package(ZLIB REQUIRED)\n"),
            ("a/b/c/CMakeLists.txt", "find_package(ZLIB REQUIRED)\n"),
            ("README", "not read\n"),
        ],
    );
    t
}

struct Run {
    findings: Vec<Finding>,
    sources: SourceMap,
    cache_hits: usize,
    code: i32,
}

fn run(t: &TempDir, extra_rules: Option<&str>) -> Run {
    let mut texts: Vec<(String, Result<String, String>)> =
        igos::rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), Ok(t.to_string()))).collect();
    if let Some(extra) = extra_rules {
        texts.push(("rules/extra.pol".into(), Ok(extra.to_string())));
    }
    let mut sources = SourceMap::new();
    let rules = igos::rules::compile_texts(texts, &mut sources);
    assert!(rules.errors.is_empty(), "rule errors: {:?}", rules.errors);
    let tree = igos::tree::load_tree(t.path(), &mut sources).expect("tree loads");
    let scan = igos::scan::load(&tree, &t.path().join("sources"), &t.path().join("build/scan-cache"), &mut sources).expect("sources listed");
    let outcome = check::evaluate_all(&rules.policy, &tree, None, Some(&scan), "2026-11-22");
    let findings: Vec<Finding> = outcome.findings().filter(|f| f.gate.as_deref() == Some("undeclared-deps")).cloned().collect();
    Run { findings, sources, cache_hits: scan.cache_hits, code: outcome.exit_code() }
}

fn messages(r: &Run, check_id: &str) -> Vec<String> {
    r.findings.iter().filter(|f| f.check == check_id).map(|f| f.message.clone()).collect()
}

fn at(r: &Run, f: &Finding) -> String {
    let Some(span) = f.at else { return String::new() };
    let file = r.sources.get(span.source);
    let (line, _) = file.line_col(span.start);
    format!("{}:{line}", file.name)
}

#[test]
fn unconditional_required_dependencies_halt_at_the_upstream_line() {
    let t = scanned_tree("scan-halt");
    let r = run(&t, None);
    assert_eq!(r.code, 1);
    let halts: Vec<&Finding> = r.findings.iter().filter(|f| f.check == "undeclared-dep").collect();
    let mut where_: Vec<String> = halts.iter().map(|f| at(&r, f)).collect();
    where_.sort();
    assert_eq!(
        where_,
        vec![
            "sources/gtk4-1.2.3.tar.gz!build/cmake/CMakeLists.txt:5",
            "sources/gtk4-1.2.3.tar.gz!configure.ac:3",
            "sources/gtk4-1.2.3.tar.gz!meson.build:8",
        ],
        "{:#?}",
        r.findings
    );
    assert!(halts.iter().any(|f| f.message.contains("does not declare xz") && f.message.contains("`LibLZMA`")), "{halts:#?}");
    assert!(halts.iter().all(|f| f.halts() && f.subject == "gtk4"));
    // glib-2.0 is declared (glib2, via alias_glib2); Threads and libm are in scan_ignore;
    // the commented, tests/ and too-deep files are never read.
    let all: String = r.findings.iter().filter(|f| f.check.starts_with("undeclared")).map(|f| f.message.clone() + "\n").collect();
    assert!(!all.contains("glib"), "{all}");
    assert!(!all.contains("Threads") && !all.contains("`m`"), "{all}");
    assert!(!all.contains("`ZLIB`"), "tests/ and a/b/c/ are not read: {all}");

    let configure = halts.iter().find(|f| at(&r, f).ends_with("configure.ac:3")).unwrap();
    let rendered = diagnostic::render(&diagnostic::finding(&r.sources, configure), Style::PLAIN);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("finding-undeclared-dep", rendered);
    });
}

#[test]
fn soft_and_conditional_dependencies_are_advisories() {
    let t = scanned_tree("scan-soft");
    let r = run(&t, None);
    let soft = messages(&r, "undeclared-dep-soft");
    let expect = [
        "gtk4 does not declare bat; upstream build/cmake/CMakeLists.txt:3 checks for cmake-package `bat` (conditional)",
        "gtk4 does not declare xz; upstream configure.ac:5 checks for pkg-config `liblzma` (conditional)",
        "gtk4 does not declare bat; upstream configure.ac:8 checks for pkg-config `bat` (conditional)",
        "gtk4 does not declare llama-cpp; upstream meson.build:4 checks for meson-dep `llama-cpp` (soft)",
        "gtk4 does not declare audacity; upstream meson.build:6 checks for meson-dep `audacity` (conditional)",
    ];
    for e in expect {
        assert!(soft.iter().any(|m| m == e), "missing {e:?} in {soft:#?}");
    }
    assert_eq!(soft.len(), expect.len(), "{soft:#?}");
    assert!(r.findings.iter().filter(|f| f.check == "undeclared-dep-soft").all(|f| !f.halts()));
}

#[test]
fn a_divergence_record_suppresses_one_dependency_and_the_report_shows_it() {
    let t = scanned_tree("scan-divergence");
    let rules = "policy 1\n\ndivergence gtk4 drops zlib {\n  reason \"gtk4 is built against the bundled zlib\"\n  approver \"maintainer\"\n}\n";
    let r = run(&t, Some(rules));
    let halts = messages(&r, "undeclared-dep");
    assert_eq!(halts.len(), 1, "only xz is left: {halts:#?}");
    assert!(halts[0].contains("does not declare xz"));
    assert!(messages(&r, "divergence-unused").is_empty());

    // A record for a dependency upstream does not check for is reported as unused.
    let stale = "policy 1\n\ndivergence gtk4 drops libffi {\n  reason \"was needed by 1.0\"\n}\n";
    let r2 = run(&t, Some(stale));
    assert_eq!(
        messages(&r2, "divergence-unused"),
        vec!["the divergence record `gtk4 drops libffi` matches no undeclared upstream dependency of a scanned tarball"]
    );

    // The reconciliation report through the binary: the gap and the recorded divergence.
    t.write("rules-extra/extra.pol", rules);
    for (n, text) in igos::rules::BUILT_IN {
        t.write(&format!("rules-extra/{}", n.trim_start_matches("rules/")), text);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .args(["check", "--report", "reconciliation", "--root"])
        .arg(t.path())
        .arg("--rules")
        .arg(t.path().join("rules-extra"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // Conditional requirements are gaps too, marked as such.
    assert!(text.contains("  gap         bat (pkg-config `bat`, gtk4-1.2.3.tar.gz!configure.ac:8, conditional)"), "{text}");
    assert!(text.contains("  gap         xz (cmake-package `LibLZMA`, gtk4-1.2.3.tar.gz!build/cmake/CMakeLists.txt:5)"), "{text}");
    assert!(text.contains("  divergence  zlib (pkg-config `zlib`, gtk4-1.2.3.tar.gz!configure.ac:3)"), "{text}");
    assert!(text.contains("reason: gtk4 is built against the bundled zlib, approved by maintainer"), "{text}");
    assert!(text.contains("5 gap(s), 2 recorded divergence(s) in 1 package(s)"), "{text}");
}

#[test]
fn the_second_run_reads_the_cache() {
    let t = scanned_tree("scan-cache");
    let first = run(&t, None);
    assert_eq!(first.cache_hits, 0);
    let cached: Vec<_> = std::fs::read_dir(t.path().join("build/scan-cache")).unwrap().filter_map(|e| e.ok()).collect();
    assert_eq!(cached.len(), 1, "one JSON per tarball sha256");
    assert!(cached[0].file_name().to_string_lossy().ends_with(".json"));
    let second = run(&t, None);
    assert_eq!(second.cache_hits, 1);
    let m = |r: &Run| r.findings.iter().map(|f| (f.message.clone(), at(r, f))).collect::<Vec<_>>();
    assert_eq!(m(&first), m(&second), "the cache gives the same findings and positions");
}

/// The same tarball as `tarball`, compressed with xz or bzip2.
fn recompressed(gz_path: &Path, out: &Path) {
    use std::io::{Read, Write};
    let mut tar = vec![];
    flate2::read::GzDecoder::new(std::fs::File::open(gz_path).unwrap()).read_to_end(&mut tar).unwrap();
    let bytes = if out.to_string_lossy().ends_with(".xz") {
        let mut e = liblzma::write::XzEncoder::new(vec![], 6);
        e.write_all(&tar).unwrap();
        e.finish().unwrap()
    } else {
        let mut e = bzip2::write::BzEncoder::new(vec![], bzip2::Compression::default());
        e.write_all(&tar).unwrap();
        e.finish().unwrap()
    };
    std::fs::write(out, bytes).unwrap();
}

#[test]
fn xz_and_bzip2_tarballs_are_scanned_like_gzip() {
    let gz = run(&scanned_tree("scan-gz"), None);
    let halts = |r: &Run| -> Vec<String> { r.findings.iter().filter(|f| f.halts()).map(|f| format!("{} @ {}", f.message, at(r, f))).collect() };
    assert!(!halts(&gz).is_empty());
    for ext in ["tar.xz", "tar.bz2"] {
        let t = scanned_tree(&format!("scan-{ext}"));
        let gz_path = t.path().join("sources/gtk4-1.2.3.tar.gz");
        recompressed(&gz_path, &t.path().join(format!("sources/gtk4-1.2.3.{ext}")));
        std::fs::remove_file(&gz_path).unwrap();
        let text = t.read("packages/desktop/gtk4/package.yml").replace("${name}-${version}.tar.gz", &format!("${{name}}-${{version}}.{ext}"));
        t.write("packages/desktop/gtk4/package.yml", &text);
        let r = run(&t, None);
        let mine: Vec<String> = halts(&r).iter().map(|h| h.replace(&format!("gtk4-1.2.3.{ext}!"), "gtk4-1.2.3.tar.gz!")).collect();
        assert_eq!(mine, halts(&gz), "{ext}: the same findings at the same upstream lines");
        assert!(messages(&r, "tarball-not-scanned").is_empty(), "{ext}");
    }
}

#[test]
fn a_file_that_is_no_tarball_is_reported_as_not_scanned() {
    let t = scanned_tree("scan-junk");
    t.write("sources/glib2-1.2.3.tar.xz", "not really xz");
    let r = run(&t, None);
    let not = messages(&r, "tarball-not-scanned");
    assert_eq!(not.len(), 1, "{not:#?}");
    assert_eq!(not[0], "glib2: not scanned: not a tarball (neither gzip, xz, bzip2 nor a plain tar) (glib2-1.2.3.tar.xz)");
    // The other recipes' tarballs are missing: one advisory, not one per recipe.
    let missing = messages(&r, "tarballs-missing");
    assert_eq!(missing.len(), 1, "{missing:#?}");
    assert!(missing[0].starts_with("not scanned: 6 recipe(s) have no tarball"), "{}", missing[0]);
    assert!(missing[0].ends_with("(first ones: llama-cpp, bat, xz, zlib, audacity, binutils-pass1)"), "{}", missing[0]);
}

#[test]
fn without_tarballs_one_advisory() {
    let t = valid_tree("scan-none");
    let r = run(&t, None);
    let all: Vec<(&str, &str)> = r.findings.iter().map(|f| (f.check.as_str(), f.message.as_str())).collect();
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].0, "sources-not-scanned");
    assert!(all[0].1.starts_with("not scanned: no source tarballs at "), "{}", all[0].1);
    assert_eq!(r.code, 0, "no tarballs is not a halt (other gates aside)");
}

/// One rendered diagnostic per Gate 6 finding kind (the first of each), paths of the temp
/// tree replaced: the upstream line or the recipe, and the deciding rule.
#[test]
fn every_gate_6_finding_kind_renders() {
    use igos::report::diagnostic::{self, Style};
    let wide = Style { color: false, width: 400 };
    let first = |r: &Run, check: &str, root: &Path| -> String {
        let f = r.findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no {check} finding"));
        diagnostic::render(&diagnostic::finding(&r.sources, f), wide).replace(&root.display().to_string(), "[TREE]")
    };
    let snap = |name: &str, text: String| {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(name, text);
        });
    };
    let t = scanned_tree("scan-snap");
    t.write("sources/glib2-1.2.3.tar.xz", "not really xz");
    let r = run(&t, Some("policy 1\n\ndivergence gtk4 drops libffi {\n  reason \"was needed by 1.0\"\n}\n"));
    // undeclared-dep has its own snapshot, drawn at the default width, above.
    for kind in ["undeclared-dep-soft", "tarball-not-scanned", "tarballs-missing", "divergence-unused"] {
        snap(&format!("finding-{kind}"), first(&r, kind, t.path()));
    }
    let none = valid_tree("scan-snap-none");
    snap("finding-sources-not-scanned", first(&run(&none, None), "sources-not-scanned", none.path()));
    // An upstream name no recipe or alias provides.
    let u = scanned_tree("scan-snap-unresolved");
    tarball(&u.path().join("sources/gtk4-1.2.3.tar.gz"), &[("meson.build", "project('gtk4')\ndependency('libfrobnicate-9')\n")]);
    snap("finding-upstream-name-unresolved", first(&run(&u, None), "upstream-name-unresolved", u.path()));
}

/// The reconciliation report's gaps are the checks' findings: fed the findings, the gaps
/// are those of `undeclared-dep` and `undeclared-dep-soft` of required dependencies; fed
/// none, it lists no gap (it decides nothing itself), only what a divergence record took.
#[test]
fn the_reconciliation_report_reads_the_checks_findings() {
    let t = scanned_tree("scan-report-findings");
    let rules = "policy 1\n\ndivergence gtk4 drops zlib {\n  reason \"bundled\"\n}\n";
    let mut texts: Vec<(String, Result<String, String>)> =
        igos::rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), Ok(t.to_string()))).collect();
    texts.push(("rules/extra.pol".into(), Ok(rules.to_string())));
    let mut sources = SourceMap::new();
    let rules = igos::rules::compile_texts(texts, &mut sources);
    let tree = igos::tree::load_tree(t.path(), &mut sources).expect("tree loads");
    let scan = igos::scan::load(&tree, &t.path().join("sources"), &t.path().join("build/scan-cache"), &mut sources).expect("sources listed");
    let outcome = check::evaluate_all(&rules.policy, &tree, None, Some(&scan), "2026-11-22");
    let with = igos::scan::reconcile::report(&tree, &rules.policy, &scan, &sources, outcome.findings());
    assert!(with.contains("5 gap(s), 2 recorded divergence(s) in 1 package(s)"), "{with}");
    let halting = outcome.findings().filter(|f| f.check == "undeclared-dep").count();
    assert_eq!(with.matches("\n  gap ").count(), 5);
    assert!(halting < 5, "soft findings of required dependencies are gaps too: {halting}");
    let without = igos::scan::reconcile::report(&tree, &rules.policy, &scan, &sources, std::iter::empty());
    assert!(without.contains("0 gap(s), 2 recorded divergence(s) in 1 package(s)"), "{without}");
}
