//! Gate 5 (Scan B, silent feature loss) end to end: a reference build fixture (pkm text
//! manifests of an installed root, build logs written here with real-looking autotools,
//! meson and cmake output), `igos reference save`, every finding with its log line and
//! rule, the skip without a reference, and `igos check --since` on a git repository.

mod support;

use std::path::Path;
use std::process::Command;

use igos::check;
use igos::finding::Finding;
use igos::report::diagnostic::{self, Style};
use igos::source::SourceMap;
use support::{recipe, valid_tree, TempDir};

/// xz: autotools; its declared zlib was not found (the header check).
const XZ_LOG: &str = "\
checking for a BSD-compatible install... /usr/bin/install -c
checking whether build environment is sane... yes
checking for gcc... gcc
checking whether the C compiler works... yes
checking for minizlib... no
checking for zlib.h... no
checking for openssl... no
checking for pthread_create in -lpthread... yes
configure: creating ./config.status
config.status: creating Makefile
";

/// gtk4: meson; glib-2.0 (declared glib2, via alias_glib2) and zlib (ours, undeclared)
/// not found, and a summary with a backend off and noise (Debug).
const GTK4_LOG: &str = "\
The Meson build system
Version: 1.4.0
Source dir: /build/gtk4-1.2.3
Build dir: /build/gtk4-1.2.3/build
Build type: native build
Project name: gtk4
Project version: 1.2.3
C compiler for the host machine: cc (gcc 14.2.0 \"cc (GCC) 14.2.0\")
Host machine cpu family: x86_64
Found pkg-config: YES (/usr/bin/pkg-config) 2.3.0
Run-time dependency glib-2.0 found: NO (tried pkgconfig and cmake)
Run-time dependency zlib found: NO (tried pkgconfig and cmake)
Dependency xz-utils found: NO (tried pkgconfig)
Library m found: YES
Program glib-compile-resources found: YES (/usr/bin/glib-compile-resources)

gtk4 1.2.3

  Features
    X11 backend         : NO
    Wayland backend     : YES
    Debug               : NO
    introspection       : disabled

  User defined options
    buildtype           : release

Found ninja-1.12.1 at /usr/bin/ninja
";

/// bat: cmake; ZLIB not found (declared), minizlib and zlib-ng never match `zlib`.
const BAT_LOG: &str = "\
-- The C compiler identification is GNU 14.2.0
-- Detecting C compiler ABI info
-- Detecting C compiler ABI info - done
-- Could NOT find minizlib (missing: MINIZLIB_LIBRARY)
-- Could NOT find zlib-ng (missing: ZLIBNG_LIBRARY)
-- Could NOT find ZLIB (missing: ZLIB_LIBRARY ZLIB_INCLUDE_DIR)
-- Configuring done (0.4s)
-- Generating done (0.0s)
";

/// audacity: pkg-config misses, none of them a declared dependency or a meson line.
const AUDACITY_LOG: &str = "\
checking for pkg-config... /usr/bin/pkg-config
checking for gtk4 >= 4.10... yes
Package portaudio-2.0 was not found in the pkg-config search path.
Perhaps you should add the directory containing `portaudio-2.0.pc'
checking for vamp-sdk... no
configure: creating ./config.status
";

/// The installed root of the reference build: pkm text manifests, as pkm writes them.
fn installed(t: &TempDir, pkgs: &[(&str, &str)]) {
    for (name, version) in pkgs {
        let m = igos::archive::Manifest {
            name: name.to_string(),
            version: version.to_string(),
            release: 1,
            tier: "core".into(),
            description: format!("{name} for tests"),
            ..Default::default()
        };
        let text = m.render();
        let (first, rest) = text.split_once('\n').unwrap();
        t.write(&format!("installed/var/lib/igos/packages/{name}-{version}"), &format!("{first}\n# installed: 2026-11-20T12:00:00Z\n{rest}"));
    }
}

/// The valid tree plus a reference build: installed manifests and logs (llama-cpp's log is missing).
fn built_tree(tag: &str) -> TempDir {
    let t = valid_tree(tag);
    installed(&t, &[("xz", "1.2.3"), ("gtk4", "1.2.3"), ("bat", "1.2.3"), ("audacity", "1.2.3"), ("llama-cpp", "1.2.3")]);
    t.write("installed/var/lib/igos/packages/.gtk4-1.2.3.tmp", "partial write");
    t.write("build/logs/xz.log", XZ_LOG);
    t.write("build/logs/gtk4.log", GTK4_LOG);
    t.write("build/logs/bat-1.2.3.log", BAT_LOG);
    t.write("build/logs/audacity.log", AUDACITY_LOG);
    t
}

fn igos(args: &[&str], root: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_igos")).args(args).arg("--root").arg(root).env("IGOS_TODAY", "2026-11-22").output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn save(t: &TempDir) {
    let installed = t.path().join("installed");
    let (code, out, err) = igos(&["reference", "save", "--installed", installed.to_str().unwrap()], t.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("saved the reference of 5 package(s) to "), "{out}");
    assert!(out.ends_with("(1 without a build log)\n"), "{out}");
}

struct Run {
    findings: Vec<Finding>,
    sources: SourceMap,
    code: i32,
    skipped: Option<String>,
}

fn run(t: &TempDir, extra_rules: Option<&str>) -> Run {
    let mut texts: Vec<(String, Result<String, String>)> = igos::rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), Ok(t.to_string()))).collect();
    if let Some(extra) = extra_rules {
        texts.push(("rules/extra.pol".into(), Ok(extra.to_string())));
    }
    let mut sources = SourceMap::new();
    let rules = igos::rules::compile_texts(texts, &mut sources);
    assert!(rules.errors.is_empty(), "rule errors: {:?}", rules.errors);
    let tree = igos::tree::load_tree(t.path(), &mut sources).expect("tree loads");
    let reference = igos::scanb::reference::default_path(t.path());
    let scan_b = igos::scanb::load(&tree, &rules.policy, &reference, &mut sources).expect("reference loads");
    let outcome = check::evaluate_full(&rules.policy, &tree, None, None, Some(&scan_b), "2026-11-22");
    let gate = outcome.gates.iter().find(|g| g.id == "silent-loss").expect("Gate 5");
    Run { findings: gate.findings.clone(), skipped: gate.skipped.clone(), sources, code: outcome.exit_code() }
}

fn at(r: &Run, f: &Finding) -> String {
    let Some(span) = f.at else { return String::new() };
    let file = r.sources.get(span.source);
    let (line, _) = file.line_col(span.start);
    format!("{}:{line} `{}`", file.name, &file.text[span.start as usize..span.end as usize])
}

/// The deciding rule: its file and the pattern kind written on that line.
fn rule_at(r: &Run, f: &Finding) -> String {
    let Some(span) = f.because else { return String::new() };
    let file = r.sources.get(span.source);
    let start = file.text[..span.start as usize].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let kind = file.text[start..].split_whitespace().next().unwrap_or("");
    format!("{} {kind}", file.name)
}

#[test]
fn reference_save_records_versions_deps_and_logs_deterministically() {
    let t = built_tree("scanb-save");
    save(&t);
    let first = t.read("build/reference.json");
    save(&t);
    assert_eq!(first, t.read("build/reference.json"), "byte-identical for the same inputs");
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("scanb-reference-json", first);
    });
    let (code, out, _) = igos(&["reference", "show"], t.path());
    assert_eq!(code, 0);
    assert!(out.contains("  llama-cpp 1.2.3  deps: zlib  log: build/logs/llama-cpp.log  (log missing)\n"), "{out}");
    assert!(out.contains("  bat 1.2.3  deps: zlib  log: build/logs/bat-1.2.3.log\n"), "{out}");

    // No manifests: exit 2 with a diagnostic, nothing written.
    let empty = valid_tree("scanb-save-empty");
    let (code, _, err) = igos(&["reference", "save", "--installed", empty.path().join("nowhere").to_str().unwrap()], empty.path());
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the installed manifests"), "{err}");
    assert!(!empty.path().join("build/reference.json").exists());
}

#[test]
fn every_finding_points_at_the_log_line_and_the_rule() {
    let t = built_tree("scanb-findings");
    save(&t);
    let r = run(&t, None);
    assert_eq!(r.code, 1);
    assert_eq!(r.skipped, None);
    let got: Vec<String> = r.findings.iter().map(|f| format!("{} {} {} @ {} rule {}", f.severity.as_str(), f.check, f.subject, at(&r, f), rule_at(&r, f))).collect();
    let want = vec![
        "advisory build-log-missing llama-cpp @ build/reference.json:25 `\"llama-cpp\"` rule ",
        "halt declared-dep-not-found bat @ build/logs/bat-1.2.3.log:6 `ZLIB` rule rules/scanb.pol cmake-could-not-find",
        "halt declared-dep-not-found gtk4 @ build/logs/gtk4.log:11 `glib-2.0` rule rules/scanb.pol meson-runtime-dep",
        "halt declared-dep-not-found xz @ build/logs/xz.log:6 `zlib` rule rules/scanb.pol autotools-checking-header",
        "halt in-tree-not-found gtk4 @ build/logs/gtk4.log:12 `zlib` rule rules/scanb.pol meson-runtime-dep",
        "advisory feature-disabled gtk4 @ build/logs/gtk4.log:20 `X11 backend` rule rules/scanb.pol summary-no",
        "advisory feature-disabled gtk4 @ build/logs/gtk4.log:23 `introspection` rule rules/scanb.pol summary-disabled",
    ];
    assert_eq!(got, want, "{got:#?}");
    let all: String = r.findings.iter().map(|f| f.message.clone() + "\n").collect();
    // Exact names only: minizlib, zlib-ng and openssl are not zlib; Debug is noise;
    // xz-utils is no recipe; audacity's misses are neither declared nor meson lines.
    for absent in ["minizlib", "zlib-ng", "openssl", "Debug", "xz-utils", "portaudio", "vamp"] {
        assert!(!all.contains(absent), "{absent}: {all}");
    }
    for check_id in ["build-log-missing", "declared-dep-not-found", "in-tree-not-found", "feature-disabled"] {
        let f = r.findings.iter().find(|f| f.check == check_id).unwrap();
        let rendered = diagnostic::render(&diagnostic::finding(&r.sources, f), Style::PLAIN);
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("finding-{check_id}"), rendered);
        });
    }
}

#[test]
fn a_divergence_record_silences_one_package_and_name() {
    let t = built_tree("scanb-divergence");
    save(&t);
    let rules = "policy 1\n\ndivergence gtk4 drops zlib {\n  reason \"gtk4 uses the zlib inside glib2\"\n}\n\ndivergence gtk4 drops x11* {\n  reason \"wayland only\"\n}\n";
    let r = run(&t, Some(rules));
    let subjects: Vec<(String, String)> = r.findings.iter().map(|f| (f.check.clone(), f.subject.clone())).collect();
    assert!(!subjects.contains(&("in-tree-not-found".into(), "gtk4".into())), "{subjects:?}");
    assert_eq!(r.findings.iter().filter(|f| f.check == "feature-disabled").count(), 1, "only introspection is left");
    // xz's zlib is another package: still reported.
    assert!(subjects.contains(&("declared-dep-not-found".into(), "xz".into())));
}

#[test]
fn without_a_reference_one_skip_line_and_exit_0() {
    let t = valid_tree("scanb-skip");
    let (code, out, err) = igos(&["check"], t.path());
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.matches("skipped: no previous build").count(), 1, "{out}");
    assert!(out.contains("── Gate 5: silent feature loss ──\nskipped: no previous build (no reference at build/reference.json;"), "{out}");
    assert!(out.contains("pass  Gate 5: silent feature loss") && out.contains("0 halting, 0 advisory (skipped)"), "{out}");
    let gate4 = out.find("── Gate 4").unwrap();
    let gate5 = out.find("── Gate 5").unwrap();
    let gate6 = out.find("── Gate 6").unwrap();
    assert!(gate4 < gate5 && gate5 < gate6, "Gate 5 runs after Gate 4");
    let (code, json, _) = igos(&["check", "--format", "json"], t.path());
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let g5 = doc["gates"].as_array().unwrap().iter().find(|g| g["id"] == "silent-loss").unwrap();
    assert!(g5["skipped"].as_str().unwrap().starts_with("skipped: no previous build"));
}

#[test]
fn with_a_reference_the_binary_halts_and_shows_the_log() {
    let t = built_tree("scanb-binary");
    save(&t);
    let (code, out, err) = igos(&["check", "--color", "never"], t.path());
    assert_eq!(code, 1, "{out}{err}");
    assert!(!out.contains("skipped: no previous build"));
    assert!(out.contains("FAIL  Gate 5: silent feature loss"), "{out}");
    assert!(out.contains("╭─[build/logs/xz.log:6:14]"), "{out}");
    // `igos explain` shows a Scan B finding with its log line too.
    let (code, out, _) = igos(&["explain", "--color", "never", "declared-dep-not-found", "xz"], t.path());
    assert_eq!(code, 0);
    assert!(out.contains("xz declares zlib, but its last build did not find it") && out.contains("build/logs/xz.log:6:14"), "{out}");
    // A reference that is not one: exit 2.
    t.write("build/reference.json", "{\"format\": \"something-else/9\", \"packages\": {}}\n");
    let (code, _, err) = igos(&["check"], t.path());
    assert_eq!(code, 2);
    assert!(err.contains("the reference") && err.contains("cannot be used"), "{err}");
}

#[test]
fn bad_templates_are_rule_errors() {
    let mut sources = SourceMap::new();
    let text = "policy 1\n\npatterns broken {\n  no-capture \"checking for nothing\"\n  two \"{name} and {name}\"\n  unknown \"{dep} found\"\n}\n";
    let rules = igos::rules::compile_texts(vec![("rules/broken.pol".into(), Ok(text.into()))], &mut sources);
    let msgs: Vec<String> = rules.errors.iter().map(|e| e.message.clone()).collect();
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    assert!(msgs[2].contains("unknown placeholder `{dep}`"), "{msgs:#?}");
    // And `igos fmt` keeps the patterns block (order is meaning) unchanged.
    let scanb = igos::rules::BUILT_IN.iter().find(|(n, _)| *n == "rules/scanb.pol").unwrap().1;
    assert_eq!(igos::fmt::format(scanb), scanb);
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn since_lists_changed_recipes_first_with_their_findings() {
    let t = valid_tree("scanb-since");
    git(t.path(), &["init", "-q"]);
    git(t.path(), &["add", "-A"]);
    git(t.path(), &["commit", "-qm", "the last good build"]);
    // After it: bat gains an undeclared-recipe dependency, a new recipe appears, zlib's
    // build.sh (not package.yml) changes, and a builder list (not a recipe) changes.
    t.write("packages/base/bat/package.yml", &recipe("bat", "base", &["zlib", "oniguruma"], &[]));
    t.write("packages/extra/newpkg/package.yml", &recipe("newpkg", "extra", &[], &[]));
    t.write("packages/core/zlib/build.sh", "configure() {\n  ./configure --prefix=/usr\n}\n");
    t.write("builders/chroot-build-base.list", "# base\nbat\n\n");
    let (code, out, err) = igos(&["check", "--color", "never", "--since", "HEAD"], t.path());
    assert_eq!(code, 1, "{out}{err}");
    let changed = out.find("── Changed since HEAD ──").expect(&out);
    assert!(changed < out.find("── Recipe files ──").unwrap(), "the section comes first");
    let section = &out[changed..out.find("── Recipe files ──").unwrap()];
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("check-since", section);
    });
    let (_, json, _) = igos(&["check", "--format", "json", "--since", "HEAD"], t.path());
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["since"], "HEAD");
    let names: Vec<(&str, &str)> = doc["changed"].as_array().unwrap().iter().map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap())).collect();
    assert_eq!(names, vec![("bat", "modified"), ("zlib", "modified"), ("newpkg", "added")]);
    assert!(doc["changed"][0]["findings"].as_array().unwrap().iter().any(|f| f["check"] == "dep-without-recipe"));

    // An unknown revision, and a tree that is not a git repository: exit 2, said plainly.
    let (code, _, err) = igos(&["check", "--since", "no-such-rev"], t.path());
    assert_eq!(code, 2);
    assert!(err.contains("`no-such-rev` is not a known git revision"), "{err}");
    let plain = valid_tree("scanb-since-nogit");
    let (code, _, err) = igos(&["check", "--since", "HEAD"], plain.path());
    assert_eq!(code, 2);
    assert!(err.contains("needs a git work tree"), "{err}");
}

#[test]
fn log_lines_of_any_shape_never_panic_the_matcher() {
    let mut sources = SourceMap::new();
    let texts = igos::rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), Ok(t.to_string()))).collect();
    let rules = igos::rules::compile_texts(texts, &mut sources);
    assert!(rules.policy.log_patterns.len() >= 15);
    let pieces = ["checking for ", "zlib", "... ", "no", "Run-time dependency ", " found: ", "NO", " ", "\t", ":", "=", "*", "ü", "ß", "✓", "-", ".", "'", "Could NOT find ", "{name}", "é", "disabled", "\r"];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        let mut line = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        for k in 0..(seed % 9) {
            line.push_str(pieces[((seed >> (k * 5)) % pieces.len() as u64) as usize]);
        }
        for p in &rules.policy.log_patterns {
            if let Some((s, e)) = p.template.matches(&line) {
                assert!(s <= e && e <= line.len() && line.is_char_boundary(s) && line.is_char_boundary(e), "{line:?} {}", p.kind);
            }
        }
    }
}
