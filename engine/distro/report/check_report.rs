//! `igos check` output: per gate its diagnostics and a summary line, then the verdict.
//! Human (miette) and JSON; both deterministic.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::diagnostic::{self, Style};
use crate::outcome::Outcome;
use crate::finding::{Finding, WaiverState};
use crate::lang::ast::Severity;
use crate::source::SourceMap;
use crate::visible::{visible, visible_lines};

#[derive(Debug, Clone, Copy)]
pub struct HumanOptions {
    pub style: Style,
    /// Show every advisory instead of the first few of each check.
    pub all: bool,
}

const ADVISORIES_SHOWN: usize = 3;
/// Halting findings drawn per check without --all. Drawing one costs a scan of its file,
/// so a recipe with 40,000 unknown keys took minutes to report; the count is always given.
const HALTS_SHOWN: usize = 100;

pub fn human(outcome: &Outcome, sources: &SourceMap, header: &str, opts: HumanOptions) -> String {
    // Text and the findings to draw, in output order; drawing is the cost, done in parallel.
    let mut pieces: Vec<Piece> = vec![];
    let mut out = String::new();
    // Titles, reasons, names and paths come from rule files and data: written visibly.
    let _ = writeln!(out, "{}\n", visible_lines(header));
    let width = outcome.gates.iter().map(|g| visible(&g.title).chars().count()).max().unwrap_or(0);
    for g in &outcome.gates {
        if g.id == "rules" && g.findings.is_empty() {
            continue;
        }
        let _ = writeln!(out, "── {} ──", visible(&g.title));
        if let Some(why) = &g.skipped {
            let _ = writeln!(out, "{}", visible_lines(why));
        }
        let mut shown: HashMap<&str, usize> = HashMap::new();
        let mut hidden: Vec<(&str, usize)> = vec![];
        for f in &g.findings {
            if f.is_waived() {
                continue;
            }
            if !opts.all {
                let n = shown.entry(f.check.as_str()).or_insert(0);
                *n += 1;
                let cap = if f.severity == Severity::Advisory { ADVISORIES_SHOWN } else { HALTS_SHOWN };
                if *n > cap {
                    match hidden.iter_mut().find(|(c, _)| *c == f.check) {
                        Some((_, k)) => *k += 1,
                        None => hidden.push((&f.check, 1)),
                    }
                    continue;
                }
            }
            pieces.push(Piece::Text(std::mem::take(&mut out)));
            pieces.push(Piece::Draw(f));
        }
        for (check, n) in hidden {
            let kind = if g.findings.iter().any(|f| f.check == check && f.severity == Severity::Halt) { "findings" } else { "advisories" };
            let _ = writeln!(out, "  … {n} more `{check}` {kind} (--all shows them)\n");
        }
        for f in g.findings.iter().filter(|f| f.is_waived()) {
            if let WaiverState::Waived { reason, approver, .. } = &f.waiver {
                let who = approver.as_deref().map(|a| format!(" ({})", visible(a))).unwrap_or_default();
                let _ = writeln!(out, "  waived {} {}: {}{who}", f.check, visible(&f.subject), visible(reason));
            }
        }
        let _ = writeln!(out, "{}\n", gate_line(&visible(&g.title), width, g.halting(), g.advisories(), g.waived()));
    }
    pieces.push(Piece::Text(std::mem::take(&mut out)));
    let drawn = draw_all(&pieces, sources, opts.style);
    let mut drawn = drawn.into_iter();
    for p in &pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Draw(_) => out.push_str(&drawn.next().unwrap_or_default()),
        }
    }
    let _ = writeln!(out, "── Summary ──");
    for g in &outcome.gates {
        let skipped = if g.skipped.is_some() { " (skipped)" } else { "" };
        let _ = writeln!(out, "  {}{skipped}", gate_line(&visible(&g.title), width, g.halting(), g.advisories(), g.waived()));
    }
    let halting = outcome.halting();
    let failing = outcome.gates.iter().filter(|g| g.halting() > 0).count();
    if halting == 0 {
        let _ = writeln!(out, "\nPASS: {} packages, no halting findings", outcome.packages);
    } else {
        let _ = writeln!(out, "\nFAIL: {halting} halting finding(s) in {failing} gate(s); the build stops here (exit 1)");
    }
    out
}

enum Piece<'a> {
    Text(String),
    Draw(&'a Finding),
}

/// Render every `Draw` piece, in order, sharing the work over the cores.
fn draw_all(pieces: &[Piece], sources: &SourceMap, style: Style) -> Vec<String> {
    let todo: Vec<&Finding> = pieces.iter().filter_map(|p| if let Piece::Draw(f) = p { Some(*f) } else { None }).collect();
    let draw = |f: &&Finding| diagnostic::render(&diagnostic::finding(sources, f), style);
    if todo.len() < 16 {
        return todo.iter().map(draw).collect();
    }
    crate::parallel::map_each(&todo, draw)
}

/// `width` is the longest gate title, so the counts line up in a column.
fn gate_line(title: &str, width: usize, halting: usize, advisories: usize, waived: usize) -> String {
    let verdict = if halting > 0 { "FAIL" } else { "pass" };
    let mut s = format!("{verdict:<5} {title:<width$} {halting} halting, {advisories} advisory");
    if waived > 0 {
        let _ = write!(s, ", {waived} waived");
    }
    s
}

/// The JSON report lives in `report::json` (streamed); this name is kept for callers.
pub use super::json::json;
