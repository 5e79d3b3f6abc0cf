//! Errors in rule files: syntax, unknown names, duplicates, wrong types. Each points into
//! the rule file; a run collects all of them instead of stopping at the first.

use crate::source::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// `syntax`, `unknown-name`, `duplicate`, `type`, `version`, `missing` ...
    pub kind: &'static str,
    pub message: String,
    pub span: Span,
    pub label: String,
    pub help: Option<String>,
    /// Other places that explain this error (e.g. the first definition of a duplicate).
    pub related: Vec<(Span, String)>,
}

impl RuleError {
    pub fn new(kind: &'static str, message: impl Into<String>, span: Span) -> RuleError {
        RuleError { kind, message: message.into(), span, label: String::new(), help: None, related: vec![] }
    }
    pub fn with_label(mut self, label: impl Into<String>) -> RuleError {
        self.label = label.into();
        self
    }
    pub fn with_help(mut self, help: impl Into<String>) -> RuleError {
        self.help = Some(help.into());
        self
    }
    pub fn with_related(mut self, span: Span, note: impl Into<String>) -> RuleError {
        self.related.push((span, note.into()));
        self
    }
}

/// The closest candidate by edit distance, for "did you mean" help.
pub fn did_you_mean<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (wanted.len() / 3).max(1) + 1;
    // Nearest first; among equally near names, the one that starts like the wanted one
    // (`tir` is `tier` mistyped rather than `dir`).
    let shared_prefix = |c: &str| wanted.chars().zip(c.chars()).take_while(|(a, b)| a == b).count();
    candidates
        .into_iter()
        .map(|c| (edit_distance(wanted, c), std::cmp::Reverse(shared_prefix(c)), c))
        .filter(|(d, _, _)| *d <= limit)
        .min()
        .map(|(_, _, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn suggests_the_nearest_name() {
        assert_eq!(did_you_mean("base_clii", ["base_cli", "core", "gui"]), Some("base_cli"));
        assert_eq!(did_you_mean("zzzzzz", ["base_cli", "core"]), None);
        assert_eq!(did_you_mean("tir", ["dir", "tier", "name"]), Some("tier"));
    }
}
