//! The pull-request review flow end to end, on git repositories made here: a baseline
//! commit, then a commit that changes the rules and the tree; the rules and the tree in
//! one repository and in two; every review format (human, Markdown, concise, GitHub with
//! its step summary, JSON, SARIF); findings matched by fingerprint when lines move; and
//! revisions that look like options refused before git sees them.

mod support;

use std::path::Path;
use std::process::Command;

/// git with a fixed identity and dates, so commit ids (shown in the review) are the same
/// on every run.
fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"])
        .args(args)
        .env("GIT_AUTHOR_DATE", "2026-12-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-12-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `igos args...` in `dir`, with no GitHub environment unless `env` sets it.
fn igos(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_igos"));
    cmd.current_dir(dir).args(args).env_remove("GITHUB_STEP_SUMMARY").env("IGOS_TODAY", "2026-12-04");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("igos runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Snapshot `text` with commit ids written as `<commit>`: they change whenever the rules
/// built into igos (committed by these tests) change.
fn snap(name: &str, text: &str) {
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(" (") {
        let after = &rest[i + 2..];
        let hex = after.chars().take_while(char::is_ascii_hexdigit).count();
        redacted.push_str(&rest[..i + 2]);
        if hex == 12 && after[hex..].starts_with(')') {
            redacted.push_str("<commit>");
            rest = &after[hex..];
        } else {
            rest = after;
        }
    }
    redacted.push_str(rest);
    let text = redacted.as_str();
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

fn write_rules(dir: &Path) {
    std::fs::create_dir_all(dir).expect("rules dir");
    for (name, text) in igos::rules::BUILT_IN {
        let file = Path::new(name).file_name().expect("a file name");
        std::fs::write(dir.join(file), text).expect("rule file");
    }
}

/// The rules change of the review: bat moves from base_cli to user_facing_apps.
fn move_bat(tiers: &str) -> String {
    tiers.replacen("\n  bat\n", "\n", 1).replace("set user_facing_apps {\n", "set user_facing_apps {\n  bat\n")
}

/// The tree change of the review: gtk4 gains a build dependency on xz without a new audit
/// (Gate 2: audit-drift), and a recipe whose dependency names no recipe.
fn change_tree(t: &support::TempDir) {
    let gtk4 = t.read("packages/desktop/gtk4/package.yml").replace("    - glib2\n", "    - glib2\n    - xz\n");
    t.write("packages/desktop/gtk4/package.yml", &gtk4);
    t.write("packages/extra/mytool/package.yml", &support::recipe("mytool", "extra", &["libnope"], &[]));
}

/// One repository holding the rules and the tree: two commits' worth of review.
fn one_repository() -> support::TempDir {
    let t = support::valid_tree("review-one");
    write_rules(&t.path().join("rules"));
    t.write(".gitignore", "build/\n");
    git(t.path(), &["init", "-q"]);
    git(t.path(), &["add", "-A"]);
    git(t.path(), &["commit", "-qm", "baseline"]);
    let tiers = t.read("rules/tiers.pol");
    t.write("rules/tiers.pol", &move_bat(&tiers));
    change_tree(&t);
    git(t.path(), &["add", "-A"]);
    git(t.path(), &["commit", "-qm", "the change under review"]);
    t
}

#[test]
fn the_review_of_a_rules_and_tree_change_in_every_format() {
    let t = one_repository();
    let dir = t.path();
    let base = ["check", "--root", ".", "--baseline", "HEAD~1"];
    let with = |extra: &[&str]| -> Vec<String> { base.iter().chain(extra).map(|s| s.to_string()).collect() };
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let args = with(extra);
        igos(dir, &args.iter().map(String::as_str).collect::<Vec<_>>(), env)
    };

    let human = run(&[], &[]);
    assert_eq!(human.code, 1, "{}{}", human.stdout, human.stderr);
    for expected in [
        "rules: rules at HEAD~1 (",
        "tree: . at HEAD~1 (",
        "+ halt tier-move bat",
        "+ halt audit-drift gtk4",
        "+ halt dep-without-recipe mytool",
        "bat: base → extra",
        "mytool: (new) → ",
    ] {
        assert!(human.stdout.contains(expected), "`{expected}` in:\n{}", human.stdout);
    }

    let markdown = run(&["--format", "markdown"], &[]);
    assert_eq!(markdown.code, 1);
    assert!(markdown.stdout.contains("[packages/base/bat/package.yml:7](packages/base/bat/package.yml#L7)"), "{}", markdown.stdout);
    snap("review-markdown", &markdown.stdout);

    let linked = run(&["--format", "markdown", "--link-base", "https://github.com/o/r/blob/abc/"], &[]);
    assert!(linked.stdout.contains("](https://github.com/o/r/blob/abc/packages/base/bat/package.yml#L7)"), "{}", linked.stdout);

    let concise = run(&["--format", "concise"], &[]);
    assert_eq!(concise.code, 1);
    snap("review-concise", &concise.stdout);

    let summary = t.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").expect("summary file");
    let github = run(&["--format", "github"], &[("GITHUB_STEP_SUMMARY", summary.to_str().expect("utf-8 path"))]);
    assert_eq!(github.code, 1);
    snap("review-github", &github.stdout);
    let written = std::fs::read_to_string(&summary).expect("the step summary");
    assert!(written.starts_with("earlier step\n"), "appended, not replaced");
    assert_eq!(&written["earlier step\n".len()..], markdown.stdout, "the step summary is the Markdown review");

    let json = run(&["--format", "json"], &[]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(doc["schema"], "igos-review/1");
    let added: Vec<&str> = doc["added"].as_array().expect("added").iter().map(|f| f["check"].as_str().unwrap_or("")).collect();
    assert!(added.contains(&"tier-move") && added.contains(&"audit-drift"), "{added:?}");
    assert!(doc["added"][0]["fingerprint"].as_str().is_some_and(|f| f.len() == 32));
    assert_eq!(doc["moved"].as_array().map(|m| m.iter().any(|m| m["name"] == "bat" && m["from"] == "base" && m["to"] == "extra")), Some(true));

    let sarif = run(&["--format", "sarif"], &[]);
    let doc: serde_json::Value = serde_json::from_str(&sarif.stdout).expect("SARIF");
    let results = doc["runs"][0]["results"].as_array().expect("results");
    let state = |rule: &str| results.iter().find(|r| r["ruleId"] == rule).map(|r| r["baselineState"].clone());
    assert_eq!(state("tier-move"), Some(serde_json::json!("new")));
    assert!(results.iter().all(|r| r["partialFingerprints"]["igosFindingId/v1"].is_string()));

    // The ratchet: new halting findings fail it; against the change itself, nothing is new.
    assert_eq!(run(&["--new-only"], &[]).code, 1);
    let same = igos(dir, &["check", "--root", ".", "--baseline", "HEAD", "--new-only"], &[]);
    assert_eq!(same.code, 0, "{}{}", same.stdout, same.stderr);
    assert!(same.stdout.contains("findings added: 0") && same.stdout.contains("findings gone: 0"), "{}", same.stdout);
}

/// The rules in one repository, the tree in another (the way the README runs the corpus):
/// each side's baseline comes from its own repository, and both changes are seen.
#[test]
fn rules_and_tree_in_separate_repositories() {
    let rules_repo = support::TempDir::new("review-rules-repo");
    write_rules(&rules_repo.path().join("rules"));
    git(rules_repo.path(), &["init", "-q"]);
    git(rules_repo.path(), &["add", "-A"]);
    git(rules_repo.path(), &["commit", "-qm", "rules"]);
    let tree = support::valid_tree("review-tree-repo");
    tree.write(".gitignore", "build/\n");
    git(tree.path(), &["init", "-q"]);
    git(tree.path(), &["add", "-A"]);
    git(tree.path(), &["commit", "-qm", "tree"]);
    // The rules change: bat leaves base_cli (committed, so the rules' HEAD~1 is the old one).
    let tiers_path = rules_repo.path().join("rules/tiers.pol");
    let tiers = std::fs::read_to_string(&tiers_path).expect("tiers.pol");
    std::fs::write(&tiers_path, move_bat(&tiers)).expect("write");
    git(rules_repo.path(), &["commit", "-qam", "move bat"]);
    // The tree change: not committed (the working copy against the tree's HEAD).
    change_tree(&tree);

    let rules_dir = rules_repo.path().join("rules");
    let rules = rules_dir.to_str().expect("utf-8");
    let root = tree.path().to_str().expect("utf-8");
    let out = igos(rules_repo.path(), &["check", "--rules", rules, "--root", root, "--baseline-rules", "HEAD~1", "--baseline-tree", "HEAD"], &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("natural tier moved: 2") && out.stdout.contains("bat: base → extra"), "{}", out.stdout);
    assert!(out.stdout.contains("+ halt tier-move bat") && out.stdout.contains("+ halt audit-drift gtk4"), "{}", out.stdout);
    assert!(out.stdout.contains("rules: ") && out.stdout.contains(" at HEAD~1 ("), "{}", out.stdout);

    // One --baseline for both: each side reads HEAD from its own repository. The rules'
    // HEAD is the moved bat, so only the tree's change is new.
    let both = igos(rules_repo.path(), &["check", "--rules", rules, "--root", root, "--baseline", "HEAD"], &[]);
    assert!(both.stdout.contains("natural tier moved: 1") && !both.stdout.contains("tier-move bat"), "{}", both.stdout);
    assert!(both.stdout.contains("+ halt audit-drift gtk4"), "{}", both.stdout);

    // A rules directory outside git: named as the working copy, never silently reused.
    let loose = support::TempDir::new("review-loose-rules");
    write_rules(loose.path());
    let loose_rules = loose.path().to_str().expect("utf-8");
    let out = igos(tree.path(), &["check", "--rules", loose_rules, "--root", ".", "--baseline", "HEAD", "--format", "markdown"], &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("- rules: `") && out.stdout.contains("at working copy (not in a git repository)"), "{}", out.stdout);
    assert!(out.stdout.contains("- tree: `.` at HEAD ("), "{}", out.stdout);
}

/// A line inserted at the top of every builder list and of tiers.pol moves every position
/// and every entry number; the review still reports nothing (fingerprints, not messages).
/// The same insertion that also fixes an orphan reports exactly that fix.
#[test]
fn inserted_lines_move_positions_but_not_findings() {
    let t = support::valid_tree("review-fingerprint");
    write_rules(&t.path().join("rules"));
    t.write(".gitignore", "build/\n");
    // Findings whose messages carry list positions (entry numbers) and an orphan.
    t.write("builders/chroot-build-core-extra.list", "# core-extra\nglib2\nlibffi\n");
    t.write("packages/core/libffi/package.yml", &support::recipe("libffi", "core", &[], &[]));
    t.write("packages/core/glib2/package.yml", &support::recipe("glib2", "core", &["zlib", "libffi"], &["xz"]));
    t.write("packages/core/orphanlib/package.yml", &support::recipe("orphanlib", "core", &[], &[]));
    git(t.path(), &["init", "-q"]);
    git(t.path(), &["add", "-A"]);
    git(t.path(), &["commit", "-qm", "baseline"]);
    let before = igos(t.path(), &["check", "--root", ".", "--format", "json"], &[]);
    assert!(before.stdout.contains("(entry 0) needs libffi, which comes later (entry 1)"), "{}", before.stdout);

    let lists: Vec<String> = std::fs::read_dir(t.path().join("builders"))
        .expect("builders/")
        .map(|e| format!("builders/{}", e.expect("entry").file_name().to_string_lossy()))
        .collect();
    for file in lists.iter().map(String::as_str).chain(["rules/tiers.pol"]) {
        let text = t.read(file);
        let (first, rest) = text.split_once('\n').expect("a first line");
        // tiers.pol keeps its `policy 1` header first.
        let inserted = if file.ends_with(".pol") { format!("{first}\n# a comment at the top\n{rest}") } else { format!("# a comment at the top\n{text}") };
        t.write(file, &inserted);
    }
    let out = igos(t.path(), &["check", "--root", ".", "--baseline", "HEAD", "--new-only"], &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("findings added: 0\n") && out.stdout.contains("findings gone: 0\n"), "{}", out.stdout);
    assert!(out.stdout.contains("natural tier moved: 0\n"), "{}", out.stdout);

    // Now a real entry at the top of the core-extra list: the orphan is fixed, every entry
    // number of the list shifts, and only the fix is reported.
    let list = t.read("builders/chroot-build-core-extra.list");
    t.write("builders/chroot-build-core-extra.list", &format!("orphanlib\n{list}"));
    let after = igos(t.path(), &["check", "--root", ".", "--format", "json"], &[]);
    assert!(after.stdout.contains("(entry 1) needs libffi, which comes later (entry 2)"), "the message changed: {}", after.stdout);
    let out = igos(t.path(), &["check", "--root", ".", "--baseline", "HEAD", "--new-only"], &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("findings added: 0\n"), "{}", out.stdout);
    assert!(out.stdout.contains("findings gone: 1\n  - halt orphan orphanlib"), "{}", out.stdout);
}

/// `--baseline=--output=FILE` used to reach `git archive` as an option and truncate FILE.
/// Every revision option refuses a revision that starts with `-`; FILE keeps its bytes.
#[test]
fn an_option_shaped_revision_is_refused_and_touches_nothing() {
    let t = one_repository();
    let victim = t.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").expect("victim");
    let target = format!("--output={}", victim.display());
    for option in ["--baseline", "--baseline-rules", "--baseline-tree", "--since"] {
        let arg = format!("{option}={target}");
        let out = igos(t.path(), &["check", "--root", ".", &arg], &[]);
        assert_eq!(out.code, 2, "{option}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains("looks like an") && out.stderr.contains("refused"), "{option}: {}", out.stderr);
        assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "precious\n", "{option} left the file alone");
    }
    // Not a commit (a tree object, an unknown name): refused by `rev-parse --verify`.
    let out = igos(t.path(), &["check", "--root", ".", "--baseline", "HEAD^{tree}"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("is not a known git revision"), "{}", out.stderr);
}

#[test]
fn the_workflow_is_the_documented_file_and_runs_the_review() {
    let printed = igos(&support::project_dir(), &["ci", "workflow"], &[]);
    assert_eq!(printed.code, 0);
    let file = std::fs::read_to_string(support::project_dir().join("docs/github-workflow.yml")).expect("docs/github-workflow.yml");
    assert_eq!(printed.stdout, file);
    let doc: serde_yaml::Value = serde_yaml::from_str(&file).expect("the workflow is YAML");
    let steps = doc["jobs"]["review"]["steps"].as_sequence().expect("steps");
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(runs.iter().any(|r| r.contains("igos check --baseline \"$BASE\" --new-only --format github")), "{runs:?}");
    assert!(runs.iter().any(|r| r.contains("--format sarif")) && runs.iter().any(|r| r.contains("gh pr comment")), "{runs:?}");
    assert!(steps.iter().any(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif"))));
}

/// The review of a tier move that forgets the old builder list (libgudev and udisks2 left in
/// the core-extra list after they moved to desktop), and of a rename that forgets the tier
/// list: the stale entries are the findings the review adds.
#[test]
fn a_tier_move_and_a_rename_leave_stale_entries_the_review_reports() {
    let t = support::valid_tree("review-stale");
    write_rules(&t.path().join("rules"));
    t.write(".gitignore", "build/\n");
    t.write("packages/core/libgudev/package.yml", &support::recipe("libgudev", "core", &["glib2"], &[]));
    t.write("builders/chroot-build-core-extra.list", "# core-extra\nglib2\nlibgudev\n");
    git(t.path(), &["init", "-q"]);
    git(t.path(), &["add", "-A"]);
    git(t.path(), &["commit", "-qm", "baseline"]);
    // The move: directory and tier: field, but the core-extra list still names it. The
    // rename: bat becomes batcat, and base_cli in tiers.pol still says bat.
    std::fs::remove_dir_all(t.path().join("packages/core/libgudev")).expect("rm");
    t.write("packages/desktop/libgudev/package.yml", &support::recipe("libgudev", "desktop", &["glib2"], &[]));
    std::fs::remove_dir_all(t.path().join("packages/base/bat")).expect("rm");
    t.write("packages/base/batcat/package.yml", &support::recipe("batcat", "base", &["zlib"], &[]));
    t.write("builders/chroot-build-base.list", "# base\nbatcat\n");
    let out = igos(t.path(), &["check", "--root", ".", "--baseline", "HEAD", "--format", "concise"], &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("builders/chroot-build-core-extra.list:3:1: halt entry-of-another-tier: the core-extra list builds libgudev, but libgudev is declared desktop and the core-extra builder builds tier core"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("advisory set-entry-without-recipe: `bat` in set `base_cli` names no recipe of this tree"), "{}", out.stdout);
    let stale: Vec<&str> = out.stdout.lines().filter(|l| l.contains("entry-of-another-tier") || l.contains("set-entry-without-recipe")).collect();
    assert_eq!(stale.len(), 2, "{stale:#?}");
}
