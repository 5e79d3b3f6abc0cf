//! What a baseline changed (`igos check --baseline`), in the form every report renders:
//! the two sides named, findings added and gone (matched by fingerprint), natural tiers
//! moved. `cli/baseline.rs` computes it; reports only render it.

use crate::finding::Finding;
use crate::source::SourceMap;

/// One side of the comparison as the output names it, e.g. `origin/main (3f2a9c1)` or
/// `working copy` (the side is not in git, so both sides are the same files).
#[derive(Debug, Clone)]
pub struct SideName {
    /// `rules` or `tree`.
    pub what: &'static str,
    /// The directory (or `built in` for the rules inside igos).
    pub dir: String,
    /// `REV (short hash)` or `working copy`.
    pub at: String,
}

/// A finding of one side with the sources that locate it.
pub struct Changed<'a> {
    pub finding: &'a Finding,
    pub sources: &'a SourceMap,
    pub fingerprint: &'a str,
}

pub struct Review<'a> {
    pub sides: Vec<SideName>,
    pub added: Vec<Changed<'a>>,
    pub gone: Vec<Changed<'a>>,
    /// (package, tier at the baseline or `(new)`, tier now)
    pub moved: Vec<(String, String, String)>,
}

impl Review<'_> {
    /// `rules: rules/ at origin/main (3f2a9c1); tree: . at working copy`
    pub fn sides_line(&self) -> String {
        self.sides.iter().map(|s| format!("{}: {} at {}", s.what, s.dir, s.at)).collect::<Vec<_>>().join("; ")
    }
}
