//! Machine formats of igos check: JSON (versioned schema), SARIF 2.1.0, GitHub annotations.

mod support;

use std::process::Command;

fn check(root: &std::path::Path, format: &str) -> (i32, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .args(["check", "--format", format, "--root"])
        .arg(root)
        .output()
        .expect("igos runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), json, text)
}

fn broken_tree() -> support::TempDir {
    let t = support::valid_tree("formats");
    t.write("packages/extra/mytool/package.yml", &support::recipe("mytool", "extra", &[], &[]));
    t.write("builders/chroot-build-ch8.list", "# ch8\nxz\nzlib\n");
    t
}

#[test]
fn json_report_has_a_versioned_schema() {
    let t = broken_tree();
    let (code, doc, _) = check(t.path(), "json");
    assert_eq!(code, 1);
    assert_eq!(doc["schema"], "igos-check/1");
    assert_eq!(doc["exit_code"], 1);
    let findings: Vec<&serde_json::Value> = doc["gates"].as_array().unwrap().iter().flat_map(|g| g["findings"].as_array().unwrap()).collect();
    let unclear = findings.iter().find(|f| f["check"] == "tier-unclear").expect("tier-unclear");
    assert_eq!(unclear["subject"], "mytool");
    assert_eq!(unclear["severity"], "halt");
    assert_eq!(unclear["at"]["file"], "packages/extra/mytool/package.yml");
    assert!(unclear["at"]["line"].as_u64().unwrap() >= 1);
    assert!(unclear["rule"]["file"].as_str().unwrap().starts_with("rules/"));
}

#[test]
fn sarif_has_the_required_structure() {
    let t = broken_tree();
    let (_, doc, _) = check(t.path(), "sarif");
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "igos");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let id = r["ruleId"].as_str().unwrap();
        assert!(rules.contains(&id), "{id} declared in tool.driver.rules");
        assert_eq!(rules[r["ruleIndex"].as_u64().unwrap() as usize], id);
        assert!(["error", "warning", "note", "none"].contains(&r["level"].as_str().unwrap()));
        assert!(r["message"]["text"].is_string());
        if let Some(locs) = r["locations"].as_array() {
            let region = &locs[0]["physicalLocation"]["region"];
            assert!(region["startLine"].as_u64().unwrap() >= 1 && region["startColumn"].as_u64().unwrap() >= 1);
            let artifact = &locs[0]["physicalLocation"]["artifactLocation"];
            assert!(artifact["uri"].is_string());
            // A relative path says what it is relative to: the tree's root, declared once.
            assert_eq!(artifact["uriBaseId"], "SRCROOT", "{artifact}");
        }
    }
    assert!(run["originalUriBaseIds"]["SRCROOT"]["description"]["text"].is_string(), "SRCROOT declared: {}", run["originalUriBaseIds"]);
    let moved = results.iter().find(|r| r["ruleId"] == "listed-after-consumer").expect("order finding");
    assert!(moved["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"].is_string(), "the deciding rule as a related location");
}

/// The SARIF report validates against the OASIS SARIF 2.1.0 schema (vendored in
/// tests/fixtures/sarif/), with halting and advisory findings, both locations of a finding,
/// and a waived finding carried as a suppression with its reason and approver.
#[test]
fn sarif_validates_against_the_oasis_schema() {
    let t = waived_tree();
    let project = support::project_dir();
    let doc = report_with_own_rules(&t, "sarif");
    let schema_text = std::fs::read_to_string(project.join("tests/fixtures/sarif/sarif-schema-2.1.0.json")).expect("the vendored schema");
    // The published schema carries one malformed regular expression (language tags,
    // `^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`, a stray `]`) that a strict validator refuses
    // to compile; it is replaced here by what it means. igos writes no language tags.
    let schema_text = schema_text.replace(r#"^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$"#, r#"^[a-zA-Z]{2}(-[a-zA-Z]{2})?$"#);
    let schema: serde_json::Value = serde_json::from_str(&schema_text).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "SARIF does not validate:\n{}", errors.join("\n"));

    let results = doc["runs"][0]["results"].as_array().expect("results");
    let levels: Vec<&str> = results.iter().filter_map(|r| r["level"].as_str()).collect();
    assert!(levels.contains(&"error") && levels.contains(&"warning"), "{levels:?}");
    let waived = results.iter().find(|r| r["ruleId"] == "tier-unclear").expect("the waived finding is reported");
    let suppression = &waived["suppressions"][0];
    assert_eq!(suppression["status"], "accepted");
    assert_eq!(suppression["justification"], "classified in the next tier review");
    assert_eq!(suppression["properties"]["approver"], "release lead");
    assert_eq!(suppression["location"]["physicalLocation"]["artifactLocation"]["uri"].as_str().map(|u| u.ends_with("zz-waivers.pol")), Some(true));

    // A schema check that cannot fail proves nothing: a result without its message is refused.
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0].as_object_mut().expect("a result").remove("message");
    assert!(!validator.is_valid(&broken), "the validator rejects a result with no message");
}

/// Every JSON report validates against its documented schema
/// (engine/distro/report/igos-check-1.schema.json): a tree with halting, advisory and waived
/// findings, and the corpus when it is here.
#[test]
fn json_validates_against_its_documented_schema() {
    let project = support::project_dir();
    let schema_text = std::fs::read_to_string(project.join("engine/distro/report/igos-check-1.schema.json")).expect("the schema file");
    let schema: serde_json::Value = serde_json::from_str(&schema_text).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let validate = |what: &str, doc: &serde_json::Value| {
        let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{what}: the JSON report does not match its schema:\n{}", errors.join("\n"));
    };
    let t = waived_tree();
    let doc = report_with_own_rules(&t, "json");
    validate("a broken tree with a waiver", &doc);
    let all: Vec<&serde_json::Value> = doc["gates"].as_array().expect("gates").iter().flat_map(|g| g["findings"].as_array().into_iter().flatten()).collect();
    assert!(all.iter().any(|f| f["waiver"].is_object()), "a waived finding is in the report");
    assert!(all.iter().any(|f| f["severity"] == "advisory") && all.iter().any(|f| f["severity"] == "halt"));

    // The schema can fail: a finding without its check id is refused.
    let mut broken = doc.clone();
    if let Some(f) = broken["gates"].as_array_mut().and_then(|g| g.iter_mut().find_map(|g| g["findings"].as_array_mut().and_then(|f| f.first_mut()))) {
        f.as_object_mut().expect("a finding").remove("check");
    }
    assert!(!validator.is_valid(&broken), "the schema refuses a finding with no check");

    match support::corpus() {
        Some(corpus) => {
            let (_, doc, _) = check(&corpus, "json");
            validate("the corpus", &doc);
        }
        None => println!("skipped the corpus part: ../shared/corpus is not here"),
    }
}

/// `igos check --format <format>` of a tree that carries its own rules/, parsed.
fn report_with_own_rules(t: &support::TempDir, format: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .args(["check", "--format", format, "--root"])
        .arg(t.path())
        .arg("--rules")
        .arg(t.path().join("rules"))
        .output()
        .expect("igos runs");
    serde_json::from_slice(&out.stdout).expect("the report is JSON")
}

/// The broken tree with the project's rules and one active waiver.
fn waived_tree() -> support::TempDir {
    let t = broken_tree();
    let project = support::project_dir();
    for entry in std::fs::read_dir(project.join("rules")).expect("rules/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "pol") {
            t.write(&format!("rules/{}", path.file_name().expect("name").to_string_lossy()), &std::fs::read_to_string(&path).expect("rule file"));
        }
    }
    t.write(
        "rules/zz-waivers.pol",
        "policy 1\nwaive tier-unclear for mytool {\n  reason \"classified in the next tier review\"\n  approver \"release lead\"\n  expires 2099-01-31\n}\n",
    );
    t
}

#[test]
fn github_annotations() {
    let t = broken_tree();
    let (_, _, text) = check(t.path(), "github");
    let line = text.lines().find(|l| l.contains("tier-unclear")).expect("annotation");
    assert!(line.starts_with("::error file=packages/extra/mytool/package.yml,line="), "{line}");
    assert!(text.lines().all(|l| l.starts_with("::error ") || l.starts_with("::warning ") || l.starts_with("::notice ")), "{text}");
}

/// A report that cannot be written whole (a full disk behind a redirect) is exit 2 with a
/// message, never a truncated report passing for the whole one; a reader that goes away
/// (`igos check | head`) keeps the verdict's exit code.
#[test]
fn unwritable_stdout_is_exit_2_and_a_closed_pipe_keeps_the_verdict() {
    let t = broken_tree();
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        let out = Command::new(env!("CARGO_BIN_EXE_igos")).args(["check", "--root"]).arg(t.path()).stdout(full).output().expect("igos runs");
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot write to standard output") && err.contains("incomplete"), "{err}");
    } else {
        println!("skipped: /dev/full is not available here");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_igos"))
        .args(["check", "--all", "--root"])
        .arg(t.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("igos runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("igos ends");
    assert_eq!(out.status.code(), Some(1), "the halting verdict survives a closed pipe");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// The path of Microsoft's SARIF Multitool: $SARIF_MULTITOOL, else where `.ci/run`
/// installs it (target/sarif-multitool). None with a `skipped:` line; under CI=true its
/// absence fails.
fn sarif_multitool() -> Option<std::path::PathBuf> {
    let installed = support::project_dir().join("target/sarif-multitool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool");
    let tool = std::env::var_os("SARIF_MULTITOOL").map(std::path::PathBuf::from).unwrap_or(installed);
    if tool.is_file() {
        return Some(tool);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the SARIF Multitool is missing at {} (required under CI=true; .ci/run installs it)", tool.display());
    }
    println!("skipped: the SARIF Multitool is not installed at {} (.ci/run installs it with npm)", tool.display());
    None
}

/// Errors GitHub's ingestion rules (and the SARIF rules) find in `doc`: the Multitool's
/// `validate --rule-kind "Gh;Sarif"` lines that say `error`. (A single `Gh` is refused by
/// its option parser as "bad format"; the list form is what it accepts.)
fn multitool_errors(tool: &std::path::Path, doc: &serde_json::Value, tag: &str) -> Vec<String> {
    let dir = support::TempDir::new(tag);
    let file = dir.path().join("report.sarif");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).expect("SARIF")).expect("write the report");
    let out = Command::new(tool).args(["validate", "--rule-kind", "Gh;Sarif"]).arg(&file).output().expect("the Multitool runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("Analysis completed successfully"), "the Multitool did not run to the end:\n{text}");
    text.lines().filter(|l| l.contains(": error ")).map(str::to_string).collect()
}

/// GitHub code scanning accepts the SARIF report: Microsoft's SARIF Multitool with GitHub's
/// ingestion rules finds 0 errors in the corpus's report (findings about no file among
/// them) and in a waived tree's; every result has a physical location and igos's
/// fingerprint, every rule help text and tags, within GitHub's documented limits.
#[test]
fn sarif_passes_githubs_ingestion_rules() {
    let t = waived_tree();
    let mut reports = vec![("a waived tree", report_with_own_rules(&t, "sarif"))];
    if let Some(corpus) = support::corpus() {
        let (_, doc, _) = check(&corpus, "sarif");
        reports.push(("the corpus", doc));
    }
    for (what, doc) in &reports {
        let run = &doc["runs"][0];
        let results = run["results"].as_array().expect("results");
        assert!(!results.is_empty() && results.len() <= 25_000, "{what}: {} results", results.len());
        for r in results {
            let loc = &r["locations"][0]["physicalLocation"];
            assert!(loc["artifactLocation"]["uri"].is_string(), "{what}: a result without a location: {r}");
            assert!(r["partialFingerprints"]["igosFindingId/v1"].as_str().is_some_and(|f| f.len() == 32), "{what}: {r}");
        }
        for rule in run["tool"]["driver"]["rules"].as_array().expect("rules") {
            assert!(rule["help"]["text"].as_str().is_some_and(|h| !h.is_empty()), "{what}: {rule}");
            let tags = rule["properties"]["tags"].as_array().expect("tags");
            assert!(!tags.is_empty() && tags.len() <= 20, "{what}: {rule}");
        }
    }
    // A finding about no file (no audit database) points at its check in rules/.
    let corpus_like = reports.iter().find_map(|(_, d)| {
        d["runs"][0]["results"].as_array()?.iter().find(|r| r["ruleId"] == "audit-database-missing").cloned()
    });
    if let Some(r) = corpus_like {
        assert!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().is_some_and(|u| u.starts_with("rules/")), "{r}");
    }
    let Some(tool) = sarif_multitool() else { return };
    for (what, doc) in &reports {
        let errors = multitool_errors(&tool, doc, "sarif-multitool");
        assert!(errors.is_empty(), "{what}: GitHub's ingestion rules find {} error(s):\n{}", errors.len(), errors.join("\n"));
    }
    // The check can fail: a result without a location and a rule without help are refused.
    let mut broken = reports[0].1.clone();
    broken["runs"][0]["results"][0].as_object_mut().expect("a result").remove("locations");
    broken["runs"][0]["tool"]["driver"]["rules"][0].as_object_mut().expect("a rule").remove("help");
    let errors = multitool_errors(&tool, &broken, "sarif-multitool-broken");
    assert!(errors.iter().any(|e| e.contains("'locations'")) && errors.iter().any(|e| e.contains("'help'")), "{errors:#?}");
}

/// A tree with many findings of both severities, and data that tries to escape: a
/// dependency name with an ESC sequence, a newline and workflow-command syntax, and
/// Markdown that would link, mention and format.
fn noisy_tree() -> support::TempDir {
    let t = support::valid_tree("formats-noisy");
    for i in 0..12 {
        let name = format!("tool{i:02}");
        t.write(&format!("packages/extra/{name}/package.yml"), &support::recipe(&name, "extra", &[], &[]));
    }
    let hostile = "name: evil\nversion: \"1\"\nrelease: 1\ndescription: d\nlicense: MIT\ntier: extra\nbuild_style: autotools\n\
                   source:\n  - url: file:///s/evil.tar.xz\n    sha256: \"ab\"\ndependencies:\n  build:\n    - \"\\e[31mred\\n::error::forged %0A [x](http://evil) @someone **bold**\"\n\
                   verify_paths:\n  - /usr/bin/evil\n  - /usr/share/evil/data\n";
    t.write("packages/extra/evil/package.yml", hostile);
    t
}

/// GitHub shows 10 error and 10 warning annotations per step: halting findings come
/// first, at most 10 of each, then one notice with the count left out. Data is escaped:
/// no raw control character, no forged workflow command.
#[test]
fn github_annotations_fit_what_github_shows() {
    let t = noisy_tree();
    let (code, _, text) = check(t.path(), "github");
    assert_eq!(code, 1);
    let lines: Vec<&str> = text.lines().collect();
    let errors = lines.iter().filter(|l| l.starts_with("::error ")).count();
    let warnings = lines.iter().filter(|l| l.starts_with("::warning ")).count();
    assert_eq!(errors, 10, "{text}");
    assert!(warnings <= 10, "{text}");
    let first_warning = lines.iter().position(|l| l.starts_with("::warning ")).unwrap_or(lines.len());
    let last_error = lines.iter().rposition(|l| l.starts_with("::error ")).unwrap_or(0);
    assert!(last_error < first_warning, "halting findings first:\n{text}");
    let notice = lines.last().expect("a last line");
    assert!(notice.starts_with("::notice title=igos::") && notice.contains("more finding(s) not shown"), "{notice}");
    assert!(lines.iter().all(|l| l.starts_with("::error ") || l.starts_with("::warning ") || l.starts_with("::notice ")), "{text}");
    assert!(!text.contains('\x1b'), "no raw ESC reaches the log");
    // The forged command stays inside its annotation's message: `::` inside data is escaped
    // only in properties, but a newline (which would start a new command) never survives.
    assert!(!lines.iter().any(|l| l.starts_with("::error::forged")), "{text}");

    // All of them, in the order shown, as one line each (concise), with the data escaped.
    let (_, _, concise) = check(t.path(), "concise");
    assert!(concise.lines().all(|l| l.splitn(4, ':').count() == 4), "{concise}");
    let evil = concise.lines().find(|l| l.contains("evil depends on")).expect("the hostile dependency");
    assert!(evil.contains("\\x1b[31mred\\x0a::error::forged"), "{evil}");
}

#[test]
fn markdown_escapes_what_data_could_inject() {
    let t = noisy_tree();
    let (code, _, md) = check(t.path(), "markdown");
    assert_eq!(code, 1);
    let evil = md.lines().find(|l| l.contains("evil depends on")).expect("the hostile dependency");
    for escaped in ["\\\\x1b\\[31mred", "\\[x\\](http://evil)", "&#64;someone", "\\*\\*bold\\*\\*"] {
        assert!(evil.contains(escaped), "`{escaped}` in {evil}");
    }
    assert!(!md.contains('\x1b') && !md.contains("@someone"), "{md}");
}

/// Snapshots of the formats a reviewer and an editor read, on the broken tree.
#[test]
fn markdown_concise_and_github_snapshots() {
    let t = broken_tree();
    for (format, name) in [("markdown", "format-markdown"), ("concise", "format-concise"), ("github", "format-github")] {
        let (code, _, text) = check(t.path(), format);
        assert_eq!(code, 1, "{format}");
        // The tree is a temporary directory: its path is not part of what is compared.
        let text = text.replace(&t.path().display().to_string(), "<tree>");
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(name, text);
        });
    }
}

/// With GITHUB_STEP_SUMMARY set, `--format github` appends the Markdown summary to it.
#[test]
fn the_step_summary_is_appended() {
    let t = broken_tree();
    let summary = t.path().join("summary.md");
    std::fs::write(&summary, "# earlier\n").expect("summary");
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .args(["check", "--format", "github", "--root"])
        .arg(t.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .expect("igos runs");
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&summary).expect("summary");
    assert!(text.starts_with("# earlier\n### igos check: ❌ FAIL"), "{text}");
    assert!(text.contains("| gate | verdict | halting | advisory | waived |") && text.contains("#### Halting findings"), "{text}");
}
