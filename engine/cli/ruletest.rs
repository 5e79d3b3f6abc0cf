//! `igos test`: tests for rules, written by maintainers. Each case is a directory with a
//! small tree (`packages/`, `builders/`), an `expect` file and, optionally, the waivers it
//! tests (`waivers.pol`, `waive` declarations only):
//!
//! ```text
//! # a comment
//! finds tier-move bat          # this finding must be produced (and not waived)
//! not orphan bat               # this one must not (waived counts as not)
//! waived orphan zlib           # produced, and waived by the case's waivers.pol
//! exit 1                       # optional: the verdict igos check would give
//! ```
//!
//! A case sees only the waivers it carries: the rules' own waivers accept findings of the
//! real tree, and inside a test tree they would make a case pass that should fail.
//! A failing case shows the findings it got against the ones it expected.

use std::path::{Path, PathBuf};

use crate::outcome::Outcome;
use crate::finding::Finding;
use crate::lang::ast::Decl;
use crate::lang::error::RuleError;
use crate::report::diagnostic;
use crate::source::{SourceId, SourceMap, Span};
use crate::visible::visible;

use super::ruletest_case::{parse_expect, CaseRun, Expect};
use super::Color;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  igos test                      # every case in rules/tests/\n  igos test rules/tests/tier-move\n  igos test --coverage           # which checks and set entries the cases exercise\n\nA case is a directory holding a small tree (packages/, builders/) and an `expect` file with\nlines `finds <check> <subject>`, `not <check> <subject>`, `waived <check> <subject>` and\noptionally `exit <code>`. The rules' own waivers do not apply in a case; a case's\n`waivers.pol` (waive declarations only) holds the waivers it tests.")]
pub struct TestArgs {
    /// Case directories, or directories of cases (default: rules/tests).
    pub cases: Vec<PathBuf>,
    /// The rules under test (default: ./rules, else built in).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// After the results: per check, the cases that make it fire and the cases that assert
    /// it silent; the checks no case exercises; the tier-list entries no case reaches.
    #[arg(long)]
    pub coverage: bool,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// The file of a case's waivers.
pub const WAIVERS_FILE: &str = "waivers.pol";

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
pub const ENGINE_CHECKS: &[&str] = &[
    "shadowed-entry",
    "waiver-expired",
    "waiver-unused",
    "check-without-gate",
    "step-budget",
    crate::lints::CONSTANT_CONDITION,
    crate::lints::GLOB_MATCHES_NOTHING,
    crate::lints::UNUSED_PRED,
    crate::lints::ALIAS_WITHOUT_RECIPE,
];

/// A case that cannot be run: the message, already rendered.
pub struct Unusable(pub String);

pub fn run(args: &TestArgs) -> i32 {
    let style = args.color.style();
    let dirs = if args.cases.is_empty() { vec![PathBuf::from("rules/tests")] } else { args.cases.clone() };
    let cases: Vec<PathBuf> = dirs.iter().flat_map(|d| cases_in(d)).collect();
    if cases.is_empty() {
        let shown: Vec<String> = dirs.iter().map(|d| visible(&d.to_string_lossy()).into_owned()).collect();
        super::err(&format!("igos test: no cases (directories with an `expect` file) in {}\n", shown.join(", ")));
        return 2;
    }
    let rules_dir = args.rules.clone().or_else(super::check::default_rules_dir);
    let mut runs = vec![];
    let mut policy = None;
    for case in &cases {
        match run_case(rules_dir.as_deref(), case, style) {
            Ok((r, p)) => {
                runs.push(r);
                policy.get_or_insert(p);
            }
            Err(Unusable(msg)) => {
                super::err(&msg);
                return 2;
            }
        }
    }
    let mut report = String::new();
    let (mut passed, mut failed) = (0, 0);
    for r in &runs {
        let shown = visible(&r.dir.to_string_lossy()).into_owned();
        if r.problems.is_empty() {
            passed += 1;
            report += &format!("ok     {shown}\n");
        } else {
            failed += 1;
            report += &format!("FAILED {shown}\n");
            for p in &r.problems {
                report += &format!("         {p}\n");
            }
            report += &r.diff;
        }
    }
    report += &format!("\n{passed} passed, {failed} failed\n");
    if args.coverage {
        if let Some(policy) = &policy {
            report += "\n";
            report += &super::ruletest_coverage::report(policy, &runs);
        }
    }
    super::out(&report);
    i32::from(failed > 0)
}

/// Compile the rules with the case's own waivers in place of the rules' waivers, load the
/// case's tree, evaluate, and hold the result against `expect`.
pub fn run_case(rules_dir: Option<&Path>, case: &Path, style: diagnostic::Style) -> Result<(CaseRun, crate::lang::compile::Policy), Unusable> {
    let shown = visible(&case.to_string_lossy()).into_owned();
    let mut sources = SourceMap::new();
    let mut registered = crate::rules::read(rules_dir, &mut sources).map_err(|e| Unusable(format!("igos test: {e}\n")))?;
    let waivers_path = case.join(WAIVERS_FILE);
    let case_waivers: Option<SourceId> = match crate::input::read_text_if_present(&waivers_path, crate::input::Kind::RuleFile) {
        Ok(Some(text)) => Some(registered.add(visible(&waivers_path.to_string_lossy()).into_owned(), text, &mut sources)),
        Ok(None) => None,
        Err(e) => return Err(Unusable(format!("igos test: {e}\n"))),
    };
    let mut rules = registered.compile(&crate::domains::schema());
    if let Some(id) = case_waivers {
        rules.errors.extend(only_waivers(id, &sources));
    }
    if !rules.errors.is_empty() {
        let mut msg = String::new();
        for e in &rules.errors {
            msg += &diagnostic::render(&diagnostic::rule_error(&sources, e), style);
        }
        msg += &format!("igos test: {shown}: {} error(s) in the rule files; no case was run (exit 2)\n", rules.errors.len());
        return Err(Unusable(msg));
    }
    // Only the waivers the case carries.
    rules.policy.waivers.retain(|w| Some(w.span.source) == case_waivers);
    let expect = parse_expect(&case.join("expect")).map_err(|msg| Unusable(format!("igos test: {msg}\n")))?;
    // A typo in `expect` would make a `finds` line fail and a `not` line pass forever:
    // every check named must exist.
    let policy = &rules.policy;
    let known = |c: &str| policy.check(c).is_some() || ENGINE_CHECKS.contains(&c);
    for (line, e) in &expect {
        if let Some((c, _)) = e.about() {
            if !known(c) {
                let ids = policy.checks.iter().map(|k| k.id.as_str()).chain(ENGINE_CHECKS.iter().copied());
                let hint = crate::lang::error::did_you_mean(c, ids).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                return Err(Unusable(format!("igos test: {shown}/expect:{line}: no check `{}`{hint}\n", visible(c))));
            }
        }
    }
    let tree = crate::tree::load_tree(case, &mut sources).map_err(|e| Unusable(format!("igos test: {shown}: {e}\n")))?;
    let outcome = crate::checker::Checker::new(policy, &tree).run().outcome;
    let problems = judge(&expect, &outcome);
    let diff = if problems.is_empty() { String::new() } else { findings_diff(&expect, &outcome, &sources) };
    let packages = tree.packages.iter().map(|p| p.name.clone()).collect();
    Ok((CaseRun { dir: case.to_path_buf(), expect, outcome, packages, problems, diff }, rules.policy))
}

/// A case's waivers.pol holds waivers and nothing else: a check or a set there would change
/// the rules under test for that case alone.
fn only_waivers(id: SourceId, sources: &SourceMap) -> Vec<RuleError> {
    let Ok(file) = crate::lang::syntax::parse(id, &sources.get(id).text) else {
        return vec![]; // the compile reported it
    };
    file.decls
        .iter()
        .filter_map(|d| {
            let span = match d {
                Decl::Waive(_) => return None,
                Decl::Tiers(t) => t.span,
                Decl::Set(s) => s.name.span,
                Decl::Builder(b) => b.span,
                Decl::Classify(c) => c.name.span,
                Decl::Check(c) => c.span,
                Decl::Gate(g) => g.id.span,
                Decl::Divergence(d) => d.span,
                Decl::Phase(p) => p.span,
                Decl::Patterns(p) => p.name.span,
                Decl::Pred(p) => p.span,
                Decl::Alias(a) => a.span,
                Decl::ScanIgnore(si) => si.span,
            };
            Some(
                RuleError::new("case-waivers", format!("a test case's {WAIVERS_FILE} holds only `waive` declarations"), Span { end: span.start, ..span })
                    .with_label("not a waiver")
                    .with_help("rules under test belong in rules/; a case carries only the waivers it tests"),
            )
        })
        .collect()
}

fn produced(outcome: &Outcome, c: &str, s: &str, waived: bool) -> bool {
    outcome.findings().any(|f| f.check == c && f.subject == s && f.is_waived() == waived)
}

/// What failed in a case, one line per expectation that did not hold.
fn judge(expect: &[(usize, Expect)], outcome: &Outcome) -> Vec<String> {
    let mut problems = vec![];
    let v = |s: &str| visible(s).into_owned();
    for (line, e) in expect {
        match e {
            Expect::Finds(c, s) if !produced(outcome, c, s, false) => {
                let why = if produced(outcome, c, s, true) { "produced but waived" } else { "not produced" };
                problems.push(format!("expect:{line}: expected `{}` for {}, {why}", v(c), v(s)))
            }
            Expect::Not(c, s) if produced(outcome, c, s, false) => {
                let msg = outcome.findings().find(|f| &f.check == c && &f.subject == s && !f.is_waived()).map(|f| v(&f.message)).unwrap_or_default();
                problems.push(format!("expect:{line}: `{}` for {} must not be produced, but was: {msg}", v(c), v(s)))
            }
            Expect::Waived(c, s) if !produced(outcome, c, s, true) => {
                let why = if produced(outcome, c, s, false) { "produced but not waived" } else { "not produced" };
                problems.push(format!("expect:{line}: expected `{}` for {} waived, {why}", v(c), v(s)))
            }
            Expect::Exit(code) if *code != outcome.exit_code() => {
                problems.push(format!("expect:{line}: expected exit {code}, igos check gives {}", outcome.exit_code()))
            }
            _ => {}
        }
    }
    problems
}

/// At most this many lines of findings in a failing case's diff.
const DIFF_LINES: usize = 40;

/// The findings a failing case got against the ones it expected, as a diff: `-` expected
/// and not produced, `+` produced and not expected (a `not` it broke says so), ` ` both.
/// Findings of checks no expectation names are shown when they halt; advisories of such
/// checks (a small tree leaves most tier-list entries without a recipe) are counted, one
/// line per check.
pub fn findings_diff(expect: &[(usize, Expect)], outcome: &Outcome, sources: &SourceMap) -> String {
    let v = |s: &str| visible(s).into_owned();
    let mentioned = |c: &str| expect.iter().any(|(_, e)| e.about().is_some_and(|(ec, _)| ec == c));
    let mut lines: Vec<((String, String, u8), String)> = vec![];
    let mut counted: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for f in outcome.findings() {
        if !mentioned(&f.check) && !f.halts() {
            *counted.entry(f.check.as_str()).or_default() += 1;
            continue;
        }
        let verb = if f.is_waived() { "waived" } else { "finds" };
        let wanted = |e: &Expect| match e {
            Expect::Finds(c, s) => !f.is_waived() && *c == f.check && *s == f.subject,
            Expect::Waived(c, s) => f.is_waived() && *c == f.check && *s == f.subject,
            _ => false,
        };
        let broken = expect.iter().find(|(_, e)| matches!(e, Expect::Not(c, s) if *c == f.check && *s == f.subject && !f.is_waived()));
        let (mark, note) = match broken {
            Some((line, _)) => ('+', format!("expect:{line} says not; ")),
            None if expect.iter().any(|(_, e)| wanted(e)) => (' ', String::new()),
            None => ('+', String::new()),
        };
        let text = format!("{mark} {verb} {} {}", v(&f.check), v(&f.subject));
        lines.push(((f.check.clone(), f.subject.clone(), 1), format!("{text:<48} # {note}{}", describe(f, sources))));
    }
    for (line, e) in expect {
        let (verb, c, s, waived) = match e {
            Expect::Finds(c, s) => ("finds", c, s, false),
            Expect::Waived(c, s) => ("waived", c, s, true),
            _ => continue,
        };
        if !produced(outcome, c, s, waived) {
            let text = format!("- {verb} {} {}", v(c), v(s));
            lines.push(((c.clone(), s.clone(), 0), format!("{text:<48} # expect:{line}")));
        }
    }
    lines.sort();
    let mut out = String::from("         findings, expected (-) against produced (+):\n");
    let total = lines.len();
    for (_, l) in lines.iter().take(DIFF_LINES) {
        out += &format!("           {l}\n");
    }
    if total > DIFF_LINES {
        out += &format!("           … {} more (igos check --root on the case shows them all)\n", total - DIFF_LINES);
    }
    for (check, n) in &counted {
        out += &format!("           + {n} × {} (advisory or waived; no expect line names the check)\n", v(check));
    }
    if total == 0 && counted.is_empty() {
        out += "           (no findings)\n";
    }
    out
}

/// `halt packages/extra/bat/package.yml:7:1: bat is declared ...`, shortened for one line.
fn describe(f: &Finding, sources: &SourceMap) -> String {
    const MESSAGE_CHARS: usize = 90;
    let mut msg: String = visible(&f.message).chars().take(MESSAGE_CHARS).collect();
    if f.message.chars().count() > MESSAGE_CHARS {
        msg.push('…');
    }
    let at = f.at.map(|s| format!(" {}:", visible(&diagnostic::position(sources, s)))).unwrap_or_default();
    format!("{}{at} {msg}", f.severity.as_str())
}
