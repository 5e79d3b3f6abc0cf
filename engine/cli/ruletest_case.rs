//! A rule test case (`igos test`): what its `expect` file asks, and what one run of it
//! produced. The runner (ruletest.rs) fills these; the coverage report reads them.

use std::path::{Path, PathBuf};

use crate::outcome::Outcome;
use crate::visible::visible;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Finds(String, String),
    Not(String, String),
    Waived(String, String),
    Exit(i32),
}

impl Expect {
    /// The check and subject an expectation is about.
    pub fn about(&self) -> Option<(&str, &str)> {
        match self {
            Expect::Finds(c, s) | Expect::Not(c, s) | Expect::Waived(c, s) => Some((c, s)),
            Expect::Exit(_) => None,
        }
    }
}

/// The lines of a case's `expect` file, each with its line number.
pub fn parse_expect(path: &Path) -> Result<Vec<(usize, Expect)>, String> {
    let text = crate::input::read_text(path, crate::input::Kind::RuleTest).map_err(|e| e.to_string())?;
    let shown = visible(&path.to_string_lossy()).into_owned();
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
            ["waived", check, subject] => Expect::Waived(check.to_string(), subject.to_string()),
            ["exit", code] => Expect::Exit(code.parse().map_err(|_| format!("{shown}:{}: `{}` is not an exit code", i + 1, visible(code)))?),
            _ => {
                return Err(format!(
                    "{shown}:{}: expected `finds <check> <subject>`, `not <check> <subject>`, `waived <check> <subject>` or `exit <code>`",
                    i + 1
                ))
            }
        };
        out.push((i + 1, e));
    }
    Ok(out)
}

/// One case, run.
pub struct CaseRun {
    pub dir: PathBuf,
    pub expect: Vec<(usize, Expect)>,
    pub outcome: Outcome,
    /// The names of the case tree's recipes.
    pub packages: Vec<String>,
    /// What failed (empty: the case passed).
    pub problems: Vec<String>,
    /// The findings against the expectations, for a failing case.
    pub diff: String,
}
