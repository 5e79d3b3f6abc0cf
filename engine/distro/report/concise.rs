//! `igos check --format concise`: one line per finding, `file:line:col: severity check:
//! message`, for grep and editors' quickfix lists. A finding about no file points at its
//! check in the rules. Waived findings are left out (the summary counts them).

use std::io::{self, Write};

use crate::outcome::Outcome;
use crate::finding::Finding;
use crate::source::SourceMap;
use crate::visible::visible;

/// Where a finding is shown: its data, else its check in the rules; (file, line, column).
pub fn anchor<'s>(sources: &'s SourceMap, f: &Finding) -> Option<(&'s str, usize, usize)> {
    let span = f.at.or(f.rule)?;
    let file = sources.get(span.source);
    let (line, col) = file.line_col(span.start);
    Some((&file.name, line, col))
}

/// One finding's line, without the newline.
pub fn line(sources: &SourceMap, f: &Finding) -> String {
    let (file, l, c) = anchor(sources, f).unwrap_or(("rules", 1, 1));
    format!("{}:{l}:{c}: {} {}: {}", visible(file), f.severity.as_str(), f.check, visible(&f.message))
}

pub fn write(out: &mut dyn Write, outcome: &Outcome, sources: &SourceMap) -> io::Result<()> {
    for f in outcome.findings().filter(|f| !f.is_waived()) {
        writeln!(out, "{}", line(sources, f))?;
    }
    Ok(())
}
