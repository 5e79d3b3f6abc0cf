//! `igos test`: tests for rules, written by maintainers. Each case is a directory with a
//! small tree (`packages/`, `builders/`) and an `expect` file:
//!
//! ```text
//! # a comment
//! finds tier-move bat          # this finding must be produced
//! not orphan bat               # this one must not
//! exit 1                       # optional: the verdict igos check would give
//! ```

use std::path::{Path, PathBuf};

use crate::check;
use crate::source::SourceMap;

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  igos test                      # every case in rules/tests/\n  igos test rules/tests/tier-move\n\nA case is a directory holding a small tree (packages/, builders/) and an `expect` file with\nlines `finds <check> <subject>`, `not <check> <subject>` and optionally `exit <code>`.")]
pub struct TestArgs {
    /// Case directories, or directories of cases (default: rules/tests).
    pub cases: Vec<PathBuf>,
    /// The rules under test (default: ./rules, else built in).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
}

enum Expect {
    Finds(String, String),
    Not(String, String),
    Exit(i32),
}

fn parse_expect(path: &Path) -> Result<Vec<(usize, Expect)>, String> {
    let text = crate::input::read_text(path, crate::input::Kind::RuleTest).map_err(|e| e.to_string())?;
    let mut out = vec![];
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let e = match words.as_slice() {
            ["finds", check, subject] => Expect::Finds(check.to_string(), subject.to_string()),
            ["not", check, subject] => Expect::Not(check.to_string(), subject.to_string()),
            ["exit", code] => Expect::Exit(code.parse().map_err(|_| format!("{}:{}: `{code}` is not an exit code", path.display(), i + 1))?),
            _ => return Err(format!("{}:{}: expected `finds <check> <subject>`, `not <check> <subject>` or `exit <code>`", path.display(), i + 1)),
        };
        out.push((i + 1, e));
    }
    Ok(out)
}

fn cases_in(dir: &Path) -> Vec<PathBuf> {
    if dir.join("expect").is_file() {
        return vec![dir.to_path_buf()];
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|it| it.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join("expect").is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Findings the engine itself makes about rule files (not declared as checks).
const ENGINE_CHECKS: &[&str] = &["shadowed-entry", "waiver-expired", "waiver-unused", "check-without-gate", "step-budget"];

pub fn run(args: &TestArgs) -> i32 {
    let dirs = if args.cases.is_empty() { vec![PathBuf::from("rules/tests")] } else { args.cases.clone() };
    let cases: Vec<PathBuf> = dirs.iter().flat_map(|d| cases_in(d)).collect();
    if cases.is_empty() {
        super::err(&format!("igos test: no cases (directories with an `expect` file) in {}\n", dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")));
        return 2;
    }
    let rules_dir = args.rules.clone().or_else(super::check::default_rules_dir);
    let (mut passed, mut failed) = (0, 0);
    let mut report = String::new();
    for case in &cases {
        let mut sources = SourceMap::new();
        let rules = match crate::rules::load(rules_dir.as_deref(), &mut sources) {
            Ok(r) if r.errors.is_empty() => r,
            _ => {
                super::err("igos test: the rules do not compile; run `igos check` to see why\n");
                return 2;
            }
        };
        let expect = match parse_expect(&case.join("expect")) {
            Ok(e) => e,
            Err(msg) => {
                super::err(&format!("igos test: {msg}\n"));
                return 2;
            }
        };
        // A typo in `expect` would make a `finds` line fail and a `not` line pass forever:
        // every check named must exist.
        let known = |c: &str| rules.policy.check(c).is_some() || ENGINE_CHECKS.contains(&c);
        for (line, e) in &expect {
            if let Expect::Finds(c, _) | Expect::Not(c, _) = e {
                if !known(c) {
                    let ids = rules.policy.checks.iter().map(|k| k.id.as_str()).chain(ENGINE_CHECKS.iter().copied());
                    let hint = crate::lang::error::did_you_mean(c, ids).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                    super::err(&format!("igos test: {}/expect:{line}: no check `{c}`{hint}\n", case.display()));
                    return 2;
                }
            }
        }
        let tree = match crate::tree::load_tree(case, &mut sources) {
            Ok(t) => t,
            Err(e) => {
                super::err(&format!("igos test: {}: {e}\n", case.display()));
                return 2;
            }
        };
        let outcome = check::evaluate(&rules.policy, &tree, &check::today());
        let has = |c: &str, s: &str| outcome.findings().any(|f| f.check == c && f.subject == s);
        let mut problems = vec![];
        for (line, e) in &expect {
            match e {
                Expect::Finds(c, s) if !has(c, s) => problems.push(format!("expect:{line}: expected `{c}` for {s}, not produced")),
                Expect::Not(c, s) if has(c, s) => {
                    let msg = outcome.findings().find(|f| &f.check == c && &f.subject == s).map(|f| f.message.clone()).unwrap_or_default();
                    problems.push(format!("expect:{line}: `{c}` for {s} must not be produced, but was: {msg}"))
                }
                Expect::Exit(code) if *code != outcome.exit_code() => {
                    problems.push(format!("expect:{line}: expected exit {code}, igos check gives {}", outcome.exit_code()))
                }
                _ => {}
            }
        }
        if problems.is_empty() {
            passed += 1;
            report += &format!("ok     {}\n", case.display());
        } else {
            failed += 1;
            report += &format!("FAILED {}\n", case.display());
            for p in problems {
                report += &format!("         {p}\n");
            }
        }
    }
    report += &format!("\n{passed} passed, {failed} failed\n");
    super::out(&report);
    i32::from(failed > 0)
}
