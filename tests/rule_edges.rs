//! The edges of the rule language and of the data it reads, one row per case, through the
//! real binary: type holes (a tier or an enumerated field compared with a misspelt string,
//! a recipe key misspelt in `has`/`field`/`empty`, a check in two gates or in none),
//! cascades (names that shadow a relation, function, tier, classification or set; stray
//! braces at many places of the project's own rule files: the number of diagnostics is
//! asserted), data diagnostics (required fields written with no value, list lines that
//! name more than one package, audit records named otherwise than their file), and
//! runaway rules (a cross product stops at the step budget with a diagnostic naming it;
//! a join is right and cheap). Each row asserts its exit code and snapshots the diagnostic
//! (snapshots/edges-<row>.snap).

mod support;

use std::path::Path;
use std::process::Command;

use support::{valid_tree, TempDir};

const TODAY: &str = "2026-11-22";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn igos(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_igos"));
    cmd.args(args).current_dir(cwd).env("RUST_BACKTRACE", "1").env("IGOS_TODAY", TODAY).env_remove("IGOS_TIMINGS");
    cmd.env_remove("IGOS_STEP_BUDGET");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run igos");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(!all.contains("panicked") && !all.contains("stack backtrace"), "panic:\n{all}");
    run
}

fn snap(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(format!("edges-{name}"), text);
    });
}

/// An edit of the project's rules (a copy in a temp dir).
#[derive(Clone, Copy)]
enum Edit {
    /// Append text to a rule file.
    Append(&'static str, &'static str),
    /// Replace the first occurrence of a text in a rule file (it must be there).
    Replace(&'static str, &'static str, &'static str),
    /// Append text to the end of a line (1-based) of a rule file.
    LineEnd(&'static str, usize, &'static str),
    /// A check `edge` (advisory) with these generators and condition, in its own gate.
    Check(&'static str, &'static str),
}

struct RuleCase {
    name: &'static str,
    edits: &'static [Edit],
    /// The exit code of `igos check` on the valid tree.
    exit: i32,
    /// Diagnostics in the rule files (exit 2), or findings of `finding` (else).
    count: usize,
    /// For rules that compile: the check whose findings are snapshot.
    finding: &'static str,
}

const fn err(name: &'static str, edits: &'static [Edit], count: usize) -> RuleCase {
    RuleCase { name, edits, exit: 2, count, finding: "" }
}

const fn ok(name: &'static str, edits: &'static [Edit], finding: &'static str, count: usize) -> RuleCase {
    RuleCase { name, edits, exit: 0, count, finding }
}

fn rules_dir(edits: &[Edit]) -> TempDir {
    let d = TempDir::new("edges-rules");
    for (path, text) in igos::rules::BUILT_IN {
        d.write(path, text);
    }
    for e in edits {
        match *e {
            Edit::Append(file, text) => {
                let path = format!("rules/{file}");
                let old = d.read(&path);
                d.write(&path, &format!("{old}{text}"));
            }
            Edit::Replace(file, old, new) => {
                let path = format!("rules/{file}");
                let text = d.read(&path);
                assert!(text.contains(old), "{file} has no `{old}`");
                d.write(&path, &text.replacen(old, new, 1));
            }
            Edit::LineEnd(file, line, suffix) => {
                let path = format!("rules/{file}");
                let text = d.read(&path);
                let lines: Vec<String> =
                    text.lines().enumerate().map(|(i, l)| if i + 1 == line { format!("{l}{suffix}") } else { l.to_string() }).collect();
                assert!(line <= lines.len(), "{file} has no line {line}");
                d.write(&path, &(lines.join("\n") + "\n"));
            }
            Edit::Check(gens, cond) => {
                let path = "rules/zz-edge.pol";
                let old = std::fs::read_to_string(d.path().join(path)).unwrap_or_else(|_| "policy 1\n".into());
                let n = old.matches("check edge").count();
                let text = format!(
                    "{old}\ncheck edge{n} advisory {{\n  for {gens}\n  where {cond}\n  message \"edge\"\n}}\n\ngate edge-gate{n} \"Edge {n}\" {{\n  edge{n}\n}}\n"
                );
                d.write(path, &text);
            }
        }
    }
    d
}

/// The findings of one check in a JSON report, one line each: where, what, help.
fn findings_of(json: &str, check: &str, tmp: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("JSON report: {e}\n{json}"));
    let mut out = vec![];
    for g in v["gates"].as_array().into_iter().flatten() {
        for f in g["findings"].as_array().into_iter().flatten() {
            if f["check"] != check {
                continue;
            }
            let at = &f["at"];
            out.push(format!(
                "[{}] {} {} at {}:{}:{}\n  {}\n  help: {}",
                g["id"].as_str().unwrap_or(""),
                f["severity"].as_str().unwrap_or(""),
                f["subject"].as_str().unwrap_or(""),
                at["file"].as_str().unwrap_or("-").replace(tmp, "<tmp>"),
                at["line"],
                at["column"],
                f["message"].as_str().unwrap_or(""),
                f["help"].as_str().unwrap_or("-")
            ));
        }
    }
    out
}

fn run_rule_cases(cases: &[RuleCase]) {
    let tree = valid_tree("edges-tree");
    let root = tree.path().to_str().expect("utf-8 temp path");
    let mut failures = vec![];
    for c in cases {
        let rules = rules_dir(c.edits);
        let dir = rules.path().join("rules");
        let dir_s = dir.to_str().expect("utf-8 temp path");
        let tmp = rules.path().to_str().expect("utf-8");
        let format = if c.exit == 2 { "human" } else { "json" };
        let r = igos(tree.path(), &["check", "--rules", dir_s, "--root", root, "--color", "never", "--format", format], &[]);
        let (count, text) = if c.exit == 2 {
            let n = r
                .stderr
                .lines()
                .find_map(|l| l.strip_prefix("igos: ").and_then(|l| l.split_once(" error(s) in the rule files")))
                .and_then(|(n, _)| n.parse::<usize>().ok())
                .unwrap_or(0);
            (n, r.stderr.replace(tmp, "<tmp>"))
        } else {
            let f = findings_of(&r.stdout, c.finding, tmp);
            (f.len(), f.join("\n"))
        };
        if r.code != c.exit || count != c.count {
            failures.push(format!("{}: exit {} (want {}), count {} (want {})\n{}{}", c.name, r.code, c.exit, count, c.count, text, r.stderr));
            continue;
        }
        snap(c.name, &format!("exit {}, {} diagnostic(s)\n\n{text}", r.code, count));
    }
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), cases.len(), failures.join("\n---\n"));
}

// ---- type holes ---------------------------------------------------------------------------

const TYPE_HOLES: &[RuleCase] = &[
    err("tier-misspelt", &[Edit::Check("p in packages", "natural_tier(p) == \"coer\"")], 1),
    err("tier-misspelt-ne", &[Edit::Check("p in packages", "natural_tier(p) != \"unclaer\"")], 1),
    err("tier-misspelt-left", &[Edit::Check("p in packages", "\"coer\" == natural_tier(p)")], 1),
    err("tier-wrong-case", &[Edit::Check("p in packages", "natural_tier(p) == \"Core\"")], 1),
    err("tier-not-a-tier", &[Edit::Check("p in packages", "natural_tier(p) == \"zzzzzz\"")], 1),
    err("tier-field-misspelt", &[Edit::Check("p in packages", "p.tier == \"desktp\"")], 1),
    err("tier-dir-misspelt", &[Edit::Check("p in packages", "p.dir != \"toolchian\"")], 1),
    err("tier-list-misspelt", &[Edit::Check("p in packages", "p.tier in [\"core\", \"bsae\"]")], 1),
    err("tier-not-in-list-misspelt", &[Edit::Check("p in packages", "p.tier not in [\"extra\", \"a1\"]")], 1),
    err("tier-list-two-misspelt", &[Edit::Check("p in packages", "p.tier in [\"cor\", \"bsae\"]")], 2),
    err("tier-builder-misspelt", &[Edit::Check("b in builders", "b.tier == \"cor\"")], 1),
    err("tier-relation-misspelt", &[Edit::Check("t in tiers", "t.name == \"deskop\"")], 1),
    err("tier-audit-misspelt", &[Edit::Check("p in packages", "p.audit.tier == \"destkop\"")], 1),
    err("enum-dep-kind", &[Edit::Check("p in packages, d in p.deps", "d.kind == \"biuld\"")], 1),
    err("enum-dep-kind-ne", &[Edit::Check("d in deps", "d.kind != \"runtim\"")], 1),
    err("enum-dep-kind-list", &[Edit::Check("d in deps", "d.kind in [\"build\", \"hots\"]")], 1),
    err("enum-builder-kind", &[Edit::Check("b in builders", "b.kind == \"statc\"")], 1),
    err("enum-scan-status", &[Edit::Check("s in scans", "s.status == \"scaned\"")], 1),
    err("enum-log-hit-class", &[Edit::Check("h in log_hits", "h.class == \"detections\"")], 1),
    err("enum-pkm-entry-type", &[Edit::Check("e in archive_entries", "e.type == \"directory\"")], 1),
    err("enum-pkm-entry-type-list", &[Edit::Check("e in archive_entries", "e.type in [\"file\", \"symlnk\"]")], 1),
    err("enum-pkm-root-type", &[Edit::Check("e in archive_entries", "e.root_type == \"symlink_to_dir\"")], 1),
    err("enum-pkm-root-type-list", &[Edit::Check("e in archive_entries", "e.root_type in [\"absent\", \"missing\"]")], 1),
    err("enum-pkm-supersede-state", &[Edit::Check("s in supersedes", "s.state == \"later\"")], 1),
    err("enum-pkm-supersede-state-near", &[Edit::Check("s in supersedes", "s.state == \"earlier in install queue\"")], 1),
    err("enum-pkm-rule-file-misspelt", &[Edit::Replace("pkm.pol", "\"symlink-to-dir\", \"symlink\", \"file\"", "\"symlink-to-dir\", \"symlink\", \"fiel\"")], 1),
    err("enum-tree-rule-file-misspelt", &[Edit::Replace("gates.pol", "where d.kind == \"build\"\n", "where d.kind == \"biuld\"\n")], 1),
    err("key-has-misspelt", &[Edit::Check("p in packages", "p.has(\"homepgae\")")], 1),
    err("key-has-licence", &[Edit::Check("p in packages", "not p.has(\"licence\")")], 1),
    err("key-field-misspelt", &[Edit::Check("p in packages", "exists(p.field(\"verison\"))")], 1),
    err("key-empty-misspelt", &[Edit::Check("p in packages", "p.empty(\"descripton\")")], 1),
    err("key-unknown-no-suggestion", &[Edit::Check("p in packages", "p.has(\"zzzzqqqxx\")")], 1),
    err("key-in-rule-file", &[Edit::Replace("recipes.pol", "p.has(\"pending_acquisition\")", "p.has(\"pending_acquisiton\")")], 1),
    err("two-holes-one-check", &[Edit::Check("p in packages", "natural_tier(p) == \"coer\" and p.has(\"homepgae\")")], 2),
    ok("tier-valid-literal", &[Edit::Check("p in packages", "natural_tier(p) == \"core\" and p.name == \"zz\"")], "edge0", 0),
    ok("tier-unclear-literal", &[Edit::Check("p in packages", "natural_tier(p) == \"unclear\"")], "edge0", 0),
    ok("enum-valid-list", &[Edit::Check("d in deps", "d.kind in [\"build\", \"host\"] and d.name == \"zz\"")], "edge0", 0),
    ok("enum-pkm-valid", &[Edit::Check("e in archive_entries", "e.root_type == \"symlink-to-dir\"")], "edge0", 0),
    ok("key-valid", &[Edit::Check("p in packages", "not p.has(\"homepage\")")], "edge0", 0),
    ok("key-from-known-fields", &[Edit::Check("p in packages", "p.has(\"bundled_deps\")")], "edge0", 0),
    ok(
        "key-added-to-known-fields",
        &[Edit::Replace("recipes.pol", "  working_dir\n}", "  working_dir\n  my_key\n}"), Edit::Check("p in packages", "p.has(\"my_key\")")],
        "edge0",
        0,
    ),
    ok("key-empty-valid", &[Edit::Check("p in packages", "p.empty(\"license\")")], "edge0", 0),
    err("gate-two-gates", &[Edit::Append("gates.pol", "\ngate again \"Again\" {\n  tier-move\n}\n")], 1),
    err("gate-twice-in-one", &[Edit::Replace("gates.pol", "  missing-field\n", "  missing-field\n  missing-field\n")], 1),
    err("gate-three-gates", &[Edit::Append("gates.pol", "\ngate again \"Again\" {\n  tier-move\n}\n\ngate third \"Third\" {\n  tier-move\n}\n")], 2),
    err(
        "gate-two-checks-two-gates",
        &[Edit::Append("gates.pol", "\ngate again \"Again\" {\n  tier-move\n  orphan\n}\n")],
        2,
    ),
    ok("gate-none", &[Edit::Append("gates.pol", "\ncheck lonely advisory {\n  for p in packages\n  where p.name == \"zz\"\n  message \"x\"\n}\n")], "check-without-gate", 1),
    ok(
        "gate-none-two",
        &[Edit::Append(
            "gates.pol",
            "\ncheck lonely advisory {\n  for p in packages\n  where p.name == \"zz\"\n  message \"x\"\n}\n\ncheck lonelier advisory {\n  for p in packages\n  where p.name == \"zz\"\n  message \"x\"\n}\n",
        )],
        "check-without-gate",
        2,
    ),
    ok("gate-removed-from-gate", &[Edit::Replace("gates.pol", "  orphan\n", "")], "check-without-gate", 1),
];

#[test]
fn type_holes_are_rule_errors() {
    run_rule_cases(TYPE_HOLES);
}

// ---- cascades: one mistake, one diagnostic --------------------------------------------------

const CASCADES: &[RuleCase] = &[
    err("name-set-packages", &[Edit::Append("waivers.pol", "\nset packages {\n  a\n}\n")], 1),
    err("name-set-deps", &[Edit::Append("waivers.pol", "\nset deps {\n  a\n}\n")], 1),
    err("name-set-entries", &[Edit::Append("waivers.pol", "\nset entries {\n  a\n}\n")], 1),
    err("name-set-builders", &[Edit::Append("waivers.pol", "\nset builders {\n  a\n}\n")], 1),
    err("name-set-tiers", &[Edit::Append("waivers.pol", "\nset tiers {\n  a\n}\n")], 1),
    err("name-set-problems", &[Edit::Append("waivers.pol", "\nset problems {\n  a\n}\n")], 1),
    err("name-set-queue", &[Edit::Append("waivers.pol", "\nset queue {\n  a\n}\n")], 1),
    err("name-set-audit-database", &[Edit::Append("waivers.pol", "\nset audit_database {\n  a\n}\n")], 1),
    err("name-set-count", &[Edit::Append("waivers.pol", "\nset count {\n  a\n}\n")], 1),
    err("name-set-package-function", &[Edit::Append("waivers.pol", "\nset package {\n  a\n}\n")], 1),
    err("name-set-exists", &[Edit::Append("waivers.pol", "\nset exists {\n  a\n}\n")], 1),
    err("name-set-classification", &[Edit::Append("waivers.pol", "\nset natural_tier {\n  a\n}\n")], 1),
    err("name-set-tier", &[Edit::Append("waivers.pol", "\nset core {\n  a\n}\n")], 1),
    err("name-set-unclear", &[Edit::Append("waivers.pol", "\nset unclear {\n  a\n}\n")], 1),
    err("name-set-none", &[Edit::Append("waivers.pol", "\nset none {\n  a\n}\n")], 1),
    err("name-set-true", &[Edit::Append("waivers.pol", "\nset true {\n  a\n}\n")], 1),
    err("name-set-another-set", &[Edit::Append("waivers.pol", "\nset base_cli {\n  a\n}\n")], 1),
    err("name-set-another-file", &[Edit::Append("waivers.pol", "\nset required_fields {\n  a\n}\n")], 1),
    err("name-set-from-builder-relation", &[Edit::Append("waivers.pol", "\nset packages from builder ch8\n")], 1),
    err("name-classify-relation", &[Edit::Append("waivers.pol", "\nclassify deps {\n  else unclear\n}\n")], 1),
    err("name-classify-function", &[Edit::Append("waivers.pol", "\nclassify len {\n  else unclear\n}\n")], 1),
    err("name-classify-twice", &[Edit::Append("waivers.pol", "\nclassify natural_tier {\n  else unclear\n}\n")], 1),
    err("name-classify-set", &[Edit::Append("waivers.pol", "\nclassify base_cli {\n  else unclear\n}\n")], 1),
    err("name-two-collisions", &[Edit::Append("waivers.pol", "\nset packages {\n  a\n}\n\nset deps {\n  b\n}\n")], 2),
    err("brace-tiers-after-tiers-line", &[Edit::LineEnd("tiers.pol", 12, " {")], 1),
    err("brace-tiers-set-item", &[Edit::LineEnd("tiers.pol", 16, " {")], 1),
    err("brace-tiers-set-from", &[Edit::LineEnd("tiers.pol", 23, " {")], 1),
    err("brace-tiers-after-close", &[Edit::LineEnd("tiers.pol", 40, " {")], 1),
    err("brace-tiers-middle", &[Edit::LineEnd("tiers.pol", 300, " {")], 1),
    err("brace-tiers-classify-layer", &[Edit::LineEnd("tiers.pol", 705, " {")], 1),
    err("brace-tiers-last-line", &[Edit::LineEnd("tiers.pol", 731, " {")], 1),
    err("brace-tiers-tiers-line", &[Edit::LineEnd("tiers.pol", 11, " {")], 1),
    err("brace-tiers-set-line-double", &[Edit::Replace("tiers.pol", "set secure_boot_chain {", "set secure_boot_chain { {")], 1),
    err("brace-close-extra", &[Edit::Replace("tiers.pol", "set pkg_manager {\n  pkm\n  popt\n  rpm\n}\n", "set pkg_manager {\n  pkm\n  popt\n  rpm\n}\n}\n")], 1),
    err("brace-close-missing", &[Edit::Replace("tiers.pol", "set pkg_manager {\n  pkm\n  popt\n  rpm\n}\n", "set pkg_manager {\n  pkm\n  popt\n  rpm\n")], 1),
    err("brace-close-missing-classify", &[Edit::Replace("tiers.pol", "  else unclear\n}", "  else unclear\n")], 1),
    err("brace-gates-check-clause", &[Edit::Replace("gates.pol", "  where d.kind == \"build\"\n", "  where d.kind == \"build\" {\n")], 1),
    err("brace-gates-gate-body", &[Edit::Replace("gates.pol", "  missing-field\n", "  missing-field {\n")], 1),
    err("brace-recipes-set", &[Edit::Replace("recipes.pol", "  build_style\n", "  build_style {\n")], 1),
    err("brace-scan-set", &[Edit::LineEnd("scan.pol", 33, " {")], 1),
    err("brace-waivers", &[Edit::Append("waivers.pol", "\n{\n")], 1),
    err("brace-builders", &[Edit::Replace("builders.pol", "  phase ", "  { phase ")], 1),
    err("brace-two-files", &[Edit::LineEnd("tiers.pol", 16, " {"), Edit::Replace("recipes.pol", "  build_style\n", "  build_style {\n")], 2),
    err("brace-two-decls-one-file", &[Edit::LineEnd("tiers.pol", 16, " {"), Edit::LineEnd("tiers.pol", 300, " {")], 2),
    err(
        "brace-and-independent-error",
        &[Edit::LineEnd("tiers.pol", 16, " {"), Edit::Check("p in packages", "p.nmae == \"x\"")],
        2,
    ),
    err("syntax-check-expression", &[Edit::Replace("gates.pol", "  where d.kind == \"build\"\n", "  where d.kind ==\n")], 1),
    err("syntax-tiers-line", &[Edit::Replace("tiers.pol", "tiers toolchain < core", "tiers toolchain < < core")], 1),
    err("syntax-classify", &[Edit::Replace("tiers.pol", "classify natural_tier {", "classify natural_tier if {")], 1),
    err("syntax-builder", &[Edit::Replace("builders.pol", "builder ch8 {", "builder ch8 ch8 {")], 1),
    err("syntax-garbage-line", &[Edit::Replace("tiers.pol", "set pkg_manager {", "garbage here\nset pkg_manager {")], 1),
    err("syntax-no-header", &[Edit::Replace("waivers.pol", "policy 1", "")], 1),
];

#[test]
fn one_mistake_is_one_diagnostic() {
    run_rule_cases(CASCADES);
}

// ---- data diagnostics -----------------------------------------------------------------------

struct DataCase {
    name: &'static str,
    /// (file under the tree, text to replace, replacement)
    edits: &'static [(&'static str, &'static str, &'static str)],
    check: &'static str,
    exit: i32,
    count: usize,
}

const fn data(
    name: &'static str,
    edits: &'static [(&'static str, &'static str, &'static str)],
    check: &'static str,
    exit: i32,
    count: usize,
) -> DataCase {
    DataCase { name, edits, check, exit, count }
}

const BAT: &str = "packages/base/bat/package.yml";
const CH8: &str = "builders/chroot-build-ch8.list";

const DATA: &[DataCase] = &[
    data("empty-license-blank", &[(BAT, "license: MIT", "license:")], "empty-field", 1, 1),
    data("empty-license-null", &[(BAT, "license: MIT", "license: null")], "empty-field", 1, 1),
    data("empty-license-tilde", &[(BAT, "license: MIT", "license: ~")], "empty-field", 1, 1),
    data("empty-license-quotes", &[(BAT, "license: MIT", "license: \"\"")], "empty-field", 1, 1),
    data("empty-license-comment", &[(BAT, "license: MIT", "license:   # to do")], "empty-field", 1, 1),
    data("empty-version-null", &[(BAT, "version: \"1.2.3\"", "version: null")], "empty-field", 1, 1),
    data("empty-version-null-not-a-number", &[(BAT, "version: \"1.2.3\"", "version: null")], "version-not-string", 1, 0),
    data("empty-version-blank", &[(BAT, "version: \"1.2.3\"", "version:")], "empty-field", 1, 1),
    data("empty-version-single-quotes", &[(BAT, "version: \"1.2.3\"", "version: ''")], "empty-field", 1, 1),
    data("empty-description", &[(BAT, "description: bat for tests", "description:")], "empty-field", 1, 1),
    data("empty-release-null", &[(BAT, "release: 1", "release: null")], "empty-field", 1, 1),
    data("empty-build-style", &[(BAT, "build_style: autotools", "build_style: ~")], "empty-field", 1, 1),
    data("empty-tier", &[(BAT, "tier: base", "tier:")], "empty-field", 1, 1),
    data("empty-name", &[(BAT, "name: bat", "name: NULL")], "empty-field", 1, 1),
    data("empty-two-fields", &[(BAT, "license: MIT", "license:"), (BAT, "release: 1", "release: ~")], "empty-field", 1, 2),
    data("empty-license-block-value", &[(BAT, "license: MIT", "license:\n  MIT")], "empty-field", 0, 0),
    data("empty-source-empty-list", &[(BAT, "source:\n", "source: []\nold_source:\n")], "empty-field", 1, 0),
    data("version-number-still-reported", &[(BAT, "version: \"1.2.3\"", "version: 1.10")], "version-not-string", 1, 1),
    data("list-two-names", &[(CH8, "xz\n", "xz zip\n")], "list-line-not-one-name", 1, 1),
    data("list-three-names", &[(CH8, "xz\n", "xz zip curl\n")], "list-line-not-one-name", 1, 1),
    data("list-tab", &[(CH8, "xz\n", "xz\tzip\n")], "list-line-not-one-name", 1, 1),
    data("list-comment-after-name", &[(CH8, "xz\n", "xz  # the compressor\n")], "list-line-not-one-name", 0, 0),
    data("list-blanks-around", &[(CH8, "xz\n", "   xz   \n")], "list-line-not-one-name", 0, 0),
    data("list-two-bad-lines", &[(CH8, "zlib\nxz\n", "zlib a\nxz b\n")], "list-line-not-one-name", 1, 2),
    data("list-base-list", &[("builders/chroot-build-base.list", "bat\n", "bat zip\n")], "list-line-not-one-name", 1, 1),
];

#[test]
fn data_diagnostics_say_what_is_wrong() {
    let mut failures = vec![];
    for c in DATA {
        let tree = valid_tree("edges-data");
        for (file, old, new) in c.edits {
            let text = tree.read(file);
            assert!(text.contains(old), "{}: {file} has no `{old}`", c.name);
            tree.write(file, &text.replacen(old, new, 1));
        }
        let root = tree.path().to_str().expect("utf-8");
        let rules = support::project_dir().join("rules");
        let r = igos(tree.path(), &["check", "--rules", rules.to_str().expect("utf-8"), "--root", root, "--format", "json"], &[]);
        let found = findings_of(&r.stdout, c.check, root);
        if r.code != c.exit || found.len() != c.count {
            failures.push(format!("{}: exit {} (want {}), {} findings (want {})\n{}{}", c.name, r.code, c.exit, found.len(), c.count, found.join("\n"), r.stderr));
            continue;
        }
        snap(c.name, &format!("exit {}, {} finding(s) of {}\n\n{}", r.code, found.len(), c.check, found.join("\n")));
    }
    assert!(failures.is_empty(), "{} rows failed:\n{}", failures.len(), failures.join("\n---\n"));
}

/// A record whose `name` is not its file's is refused by `igos audit aggregate`: exit 2,
/// the file named, the database as it was.
#[test]
fn audit_records_named_otherwise_are_refused() {
    // (row, file name, the record's name, exit)
    let rows: &[(&str, &str, &str, i32)] = &[
        ("audit-name-other-package", "glib2.json", "gtk4", 2),
        ("audit-name-empty", "glib2.json", "", 2),
        ("audit-name-case", "glib2.json", "GLIB2", 2),
        ("audit-name-control-char", "glib2.json", "glib2\\u001b[31m", 2),
        ("audit-name-new-file", "zzz.json", "bat", 2),
        ("audit-name-matches", "glib2.json", "glib2", 0),
    ];
    let mut failures = vec![];
    for (row, file, name, exit) in rows {
        let tree = valid_tree("edges-audit");
        let before = std::fs::read(tree.path().join("build/audit.db")).expect("db");
        let record = support::audit_record("glib2", "core", &["zlib"], &["xz"]).replacen("\"name\": \"glib2\"", &format!("\"name\": \"{name}\""), 1);
        tree.write(&format!("audits/{file}"), &record);
        let r = igos(tree.path(), &["audit", "aggregate", "--color", "never"], &[]);
        let root = tree.path().to_str().expect("utf-8");
        let text = format!("{}{}", r.stdout, r.stderr).replace(root, "<tmp>");
        let after = std::fs::read(tree.path().join("build/audit.db")).expect("db");
        if r.code != *exit || (*exit == 2 && (after != before || !text.contains(file))) {
            failures.push(format!("{row}: exit {} (want {exit}), database unchanged: {}\n{text}", r.code, after == before));
            continue;
        }
        snap(row, &format!("exit {}\n\n{text}", r.code));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

// ---- runaway rules and joins ----------------------------------------------------------------

/// (row, generators, condition, budget, exit, step-budget findings)
const RUNAWAY: &[(&str, &str, &str, &str, i32, usize)] = &[
    ("budget-five-way", "a in packages, b in packages, c in packages, d in packages, e in packages", "a.name != e.name", "100000", 2, 1),
    ("budget-three-way", "a in packages, b in deps, c in packages, d in deps", "a.name != c.name", "1000", 2, 1),
    ("budget-findings-count", "a in packages, b in packages, c in deps, d in deps", "a.name != b.name", "500", 2, 1),
    ("budget-filtered-early", "a in packages, b in packages, c in packages", "a.name == \"zz\"", "1000", 0, 0),
    ("budget-join-stays-small", "p in packages, q in packages, d in deps", "d.consumer.name == p.name and d.name == q.name", "5000", 0, 0),
    ("budget-cross-product-same-rule", "p in packages, q in packages, d in deps, e in deps", "d.consumer.name != p.name and d.name != q.name", "5000", 2, 1),
    ("budget-default-is-enough", "p in packages, q in packages, d in deps", "d.consumer.name == p.name and d.name == q.name", "", 0, 0),
];

#[test]
fn runaway_rules_stop_at_the_step_budget() {
    let tree = valid_tree("edges-budget");
    let root = tree.path().to_str().expect("utf-8");
    // The shipped rules' own most expensive check on this tree (a finding costs steps too):
    // each row's budget is on top of it, so only the runaway check can run out.
    let shipped = rules_dir(&[]);
    let plain = igos(tree.path(), &["check", "--rules", shipped.path().join("rules").to_str().expect("utf-8"), "--root", root], &[("IGOS_TIMINGS", "steps")]);
    let base: u64 = plain.stderr.lines().filter_map(|l| l.split_whitespace().next()?.parse().ok()).max().expect("IGOS_TIMINGS=steps prints step counts");
    let mut failures = vec![];
    for (row, gens, cond, budget, exit, count) in RUNAWAY {
        let rules = rules_dir(&[Edit::Check(gens, cond)]);
        let dir = rules.path().join("rules");
        let budget = if budget.is_empty() { String::new() } else { (base + budget.parse::<u64>().expect("a number")).to_string() };
        let env: Vec<(&str, &str)> = if budget.is_empty() { vec![] } else { vec![("IGOS_STEP_BUDGET", budget.as_str())] };
        let r = igos(tree.path(), &["check", "--rules", dir.to_str().expect("utf-8"), "--root", root, "--format", "json"], &env);
        let found = findings_of(&r.stdout, "step-budget", rules.path().to_str().expect("utf-8"));
        if r.code != *exit || found.len() != *count {
            failures.push(format!("{row}: exit {} (want {exit}), {} (want {count})\n{}{}", r.code, found.len(), found.join("\n"), r.stderr));
            continue;
        }
        snap(row, &format!("exit {}, {} step-budget finding(s)\n\n{}", r.code, found.len(), found.join("\n")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

/// The human report names the stopped check and points at it; the exit code is 2.
#[test]
fn the_budget_diagnostic_names_the_check() {
    let tree = valid_tree("edges-budget-human");
    let rules = rules_dir(&[Edit::Check("a in packages, b in packages, c in packages, d in packages", "a.name != d.name")]);
    let dir = rules.path().join("rules");
    let r = igos(
        tree.path(),
        &["check", "--rules", dir.to_str().expect("utf-8"), "--root", tree.path().to_str().expect("utf-8"), "--color", "never"],
        &[("IGOS_STEP_BUDGET", "2000")],
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let at = r.stdout.find("step-budget").expect("the budget diagnostic");
    let block: String = r.stdout[at..].lines().take(12).collect::<Vec<_>>().join("\n");
    assert!(block.contains("check `edge0` was stopped after 2000 steps"), "{block}");
    snap("budget-human", &block.replace(rules.path().to_str().expect("utf-8"), "<tmp>"));
}

/// The natural three-way join gives what the same rule written through fields gives, on
/// the corpus (813 recipes), within the default budget: the join is planned with an index.
#[test]
fn a_join_between_generators_is_right() {
    let Some(corpus) = support::corpus() else { return };
    let rules = rules_dir(&[
        Edit::Check("p in packages, q in packages, d in deps", "d.consumer.name == p.name and d.name == q.name"),
        Edit::Check("p in packages, d in p.deps", "exists(d.target)"),
    ]);
    let dir = rules.path().join("rules");
    let text = std::fs::read_to_string(dir.join("zz-edge.pol")).expect("rules");
    // The messages say which pair each finding is about.
    let text = text.replacen("message \"edge\"", "message \"{p.name} {d.kind} {q.name}\"", 1).replacen(
        "message \"edge\"",
        "message \"{p.name} {d.kind} {d.target.name}\"",
        1,
    );
    std::fs::write(dir.join("zz-edge.pol"), text).expect("write");
    let r = igos(
        &support::project_dir(),
        &["check", "--rules", dir.to_str().expect("utf-8"), "--root", corpus.to_str().expect("utf-8"), "--format", "json"],
        &[],
    );
    assert_eq!(r.code, 1, "the corpus has halting findings, and nothing else: {}", r.stderr);
    let messages = |check: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
        let mut m: Vec<String> = v["gates"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["findings"].as_array().into_iter().flatten())
            .filter(|f| f["check"] == check)
            .map(|f| f["message"].as_str().unwrap_or("").to_string())
            .collect();
        m.sort();
        m
    };
    let joined = messages("edge0");
    let through_fields = messages("edge1");
    assert!(joined.len() > 2000, "the join finds every dependency with a recipe: {}", joined.len());
    // A name declared by two recipes joins with both; through fields, with the first.
    let (mut joined, mut through_fields) = (joined, through_fields);
    joined.dedup();
    through_fields.dedup();
    assert_eq!(joined, through_fields, "the join and the field walk agree");
    assert!(messages("step-budget").is_empty());
}
