//! `igos check --baseline <rev>` shows a reviewer only what a rule diff changes.

mod support;

use std::process::Command;

fn git(dir: &std::path::Path, args: &[&str]) {
    let ok = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .output()
        .expect("git runs")
        .status
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn a_one_line_rule_diff_shows_the_move_it_causes() {
    let t = support::valid_tree("baseline");
    for (name, text) in igos::rules::BUILT_IN {
        t.write(name, text);
    }
    git(t.path(), &["init", "-q"]);
    git(t.path(), &["add", "-A"]);
    git(t.path(), &["commit", "-qm", "base"]);
    // The one-line diff a maintainer makes: bat moves from base_cli to user_facing_apps.
    let tiers = t.read("rules/tiers.pol");
    let moved = tiers.replacen("\n  bat\n", "\n", 1).replace("set user_facing_apps {\n", "set user_facing_apps {\n  bat\n");
    t.write("rules/tiers.pol", &moved);
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_igos"))
            .current_dir(t.path())
            .args(["check", "--baseline", "HEAD"])
            .args(extra)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
    };
    let (code, out) = run(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("findings added: 1") && out.contains("+ halt tier-move bat"), "{out}");
    assert!(out.contains("findings gone: 0"), "{out}");
    assert!(out.contains("natural tier moved: 1") && out.contains("bat: base → extra"), "{out}");
    let (code, _) = run(&["--new-only"]);
    assert_eq!(code, Some(1), "the new halting finding fails the ratchet");
    // Commit it: nothing new relative to HEAD any more.
    git(t.path(), &["commit", "-qam", "move bat"]);
    let (code, out) = run(&["--new-only"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("findings added: 0"), "{out}");
}

#[test]
fn an_unknown_revision_is_a_clear_error() {
    let t = support::valid_tree("badrev");
    git(t.path(), &["init", "-q"]);
    let out = Command::new(env!("CARGO_BIN_EXE_igos")).current_dir(t.path()).args(["check", "--baseline", "no-such-rev"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-rev"));
}

/// A recipe diff that Gate 2 judges (a build dependency added without re-auditing) is a new
/// finding in the review, exactly as plain `igos check` reports it: both sides are judged
/// against the working tree's audit database.
#[test]
fn a_recipe_diff_is_judged_by_every_gate_including_gate_2() {
    let t = support::valid_tree("baseline-gate2");
    std::fs::write(t.path().join(".gitignore"), "build/\n").unwrap();
    git(t.path(), &["init", "-q"]);
    git(t.path(), &["add", "-A"]);
    git(t.path(), &["commit", "-qm", "base"]);
    let text = t.read("packages/desktop/gtk4/package.yml").replace("    - glib2\n", "    - glib2\n    - xz\n");
    t.write("packages/desktop/gtk4/package.yml", &text);
    let out = Command::new(env!("CARGO_BIN_EXE_igos")).current_dir(t.path()).args(["check", "--baseline", "HEAD"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("findings added: 1") && stdout.contains("audit-drift gtk4"), "{stdout}");
    let plain = Command::new(env!("CARGO_BIN_EXE_igos")).current_dir(t.path()).args(["check"]).output().unwrap();
    assert_eq!(plain.status.code(), Some(1), "plain igos check agrees");
}

/// `--baseline` reads the audit database named by `--audit-db` (both sides are judged
/// against it), and writes the review in the format asked for.
#[test]
fn the_review_honours_audit_db_and_format() {
    let t = support::valid_tree("baseline-audit-db");
    // The database lives elsewhere; the tree's default build/audit.db is gone.
    let db = t.path().join("elsewhere.db");
    std::fs::rename(t.path().join("build/audit.db"), &db).unwrap();
    std::fs::write(t.path().join(".gitignore"), "build/\nelsewhere.db\n").unwrap();
    git(t.path(), &["init", "-q"]);
    git(t.path(), &["add", "-A"]);
    git(t.path(), &["commit", "-qm", "base"]);
    let text = t.read("packages/desktop/gtk4/package.yml").replace("    - glib2\n", "    - glib2\n    - xz\n");
    t.write("packages/desktop/gtk4/package.yml", &text);
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_igos")).current_dir(t.path()).args(["check", "--baseline", "HEAD"]).args(extra).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
    };
    // Without it: no database on either side, so the drift cannot be seen.
    let (_, out) = run(&[]);
    assert!(!out.contains("audit-drift gtk4"), "{out}");
    let (code, out) = run(&["--audit-db", db.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, Some(1), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("the review as JSON");
    let added: Vec<(&str, &str)> =
        doc["added"].as_array().unwrap().iter().map(|f| (f["check"].as_str().unwrap(), f["subject"].as_str().unwrap())).collect();
    assert_eq!(added, vec![("audit-drift", "gtk4")]);
    assert_eq!(doc["sides"][1]["what"], "tree");
    assert!(doc["sides"][1]["at"].as_str().unwrap().starts_with("HEAD ("), "{}", doc["sides"]);
}

/// `--sources` reaches the review: the working tree's SARIF names the directory given.
#[test]
fn the_review_honours_sources() {
    let t = support::valid_tree("baseline-sources");
    std::fs::write(t.path().join(".gitignore"), "build/\n").unwrap();
    git(t.path(), &["init", "-q"]);
    git(t.path(), &["add", "-A"]);
    git(t.path(), &["commit", "-qm", "base"]);
    let elsewhere = t.path().join("tarballs-elsewhere");
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .current_dir(t.path())
        .args(["check", "--baseline", "HEAD", "--format", "sarif", "--sources"])
        .arg(&elsewhere)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("SARIF");
    let message = doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "sources-not-scanned")
        .map(|r| r["message"]["text"].as_str().unwrap().to_string())
        .expect("the sources finding");
    assert!(message.contains("tarballs-elsewhere"), "{message}");
    assert!(doc["runs"][0]["results"].as_array().unwrap().iter().all(|r| r["baselineState"] == "unchanged"));
}
