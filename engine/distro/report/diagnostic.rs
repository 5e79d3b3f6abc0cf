//! Findings and rule errors as miette diagnostics: one label at the data, a related
//! diagnostic at the rule that decided. Rendering is deterministic: no colour and a fixed
//! width unless a terminal asks for colour.

use std::fmt;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, Severity, SourceCode,
    SourceSpan, SpanContents,
};

use crate::finding::{Finding, WaiverState};
use crate::lang::ast;
use crate::lang::error::RuleError;
use crate::source::{SourceMap, Span};
use crate::visible::{visible, visible_lines};

/// Messages and help longer than this (in characters) are shown with their middle left out:
/// a value from data can be a megabyte long, and its whole text helps nobody on a terminal.
const MESSAGE_CHARS: usize = 800;

/// A message or help as a terminal shows it: control characters from data written visibly,
/// a huge one cut in the middle (the cut says how much it left out).
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    let count = text.chars().count();
    if count <= MESSAGE_CHARS {
        return visible_lines(text);
    }
    let head: String = text.chars().take(MESSAGE_CHARS / 2).collect();
    let tail: String = text.chars().skip(count - MESSAGE_CHARS / 4).collect();
    let left_out = count - MESSAGE_CHARS / 2 - MESSAGE_CHARS / 4;
    std::borrow::Cow::Owned(format!("{} … ({left_out} characters left out) … {}", visible_lines(&head), visible_lines(&tail)))
}

/// A self-contained diagnostic: owns copies of what it shows.
#[derive(Debug)]
pub struct Rendered {
    pub code: String,
    pub message: String,
    pub severity: Severity,
    pub help: Option<String>,
    pub source: Option<IndexedSource>,
    pub labels: Vec<LabeledSpan>,
    pub related: Vec<Rendered>,
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages carry names and values from data: never raw control bytes.
        f.write_str(&shown(&self.message))
    }
}

impl std::error::Error for Rendered {}

impl Diagnostic for Rendered {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        if self.code.is_empty() {
            None
        } else {
            Some(Box::new(visible(&self.code)))
        }
    }
    fn severity(&self) -> Option<Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(shown(h)) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(self.related.iter().map(|r| r as &dyn Diagnostic)))
        }
    }
}

/// What miette is given of a source file: the lines around one label, copied out of the
/// file with long lines windowed around the label (`…` where they are cut) and every
/// control, bidi or invisible character written visibly. miette never sees the rest: its
/// own `read_span` scans from the start for every label (a report over a big file was
/// quadratic), it panics on a label past display column 65,535, and it prints source bytes
/// as they are.
#[derive(Debug)]
pub struct IndexedSource {
    name: String,
    text: String,
    /// 0-based line number of the excerpt's first line in the file.
    first_line: usize,
    /// The label's start in the excerpt, and its real (0-based line, byte column) in the
    /// file, which the header shows.
    label_start: usize,
    label_at: (usize, usize),
}

/// Lines wider than this (in columns) are shown as a window this wide around the label:
/// wide enough for any real recipe or rule line, far below miette's column limit.
const WINDOW_COLUMNS: usize = 160;
/// Columns of the window shown before the label's start.
const WINDOW_LEAD: usize = 50;

/// The columns a character takes as miette draws it (a tab is up to 4; East Asian wide
/// characters 2), near enough to size a window.
fn columns(c: char) -> usize {
    match c {
        '\t' => 4,
        '\u{1100}'..='\u{115f}' | '\u{2e80}'..='\u{a4cf}' | '\u{ac00}'..='\u{d7a3}' | '\u{f900}'..='\u{faff}' => 2,
        '\u{fe30}'..='\u{fe4f}' | '\u{ff00}'..='\u{ff60}' | '\u{ffe0}'..='\u{ffe6}' | '\u{1f300}'..='\u{1faff}' => 2,
        '\u{20000}'..='\u{3fffd}' => 2,
        c if crate::visible::is_unsafe(c) => 6,
        _ => 1,
    }
}

/// The end (exclusive, in characters) of a window starting at character `from`.
fn window_end(widths: &[usize], from: usize) -> usize {
    let mut to = from;
    let mut used = 0;
    while to < widths.len() && used + widths[to] <= WINDOW_COLUMNS {
        used += widths[to];
        to += 1;
    }
    to.max(from + 1).min(widths.len())
}

impl IndexedSource {
    /// The excerpt for a label over `start..end` of `file` (lines `l0 - 1 ..= l1 + 1`), and the
    /// label's span in it.
    fn excerpt(file: &crate::source::SourceFile, start: usize, end: usize) -> (IndexedSource, usize, usize) {
        let text: &str = &file.text;
        let starts = file.line_starts();
        let line_of = |o: usize| match starts.binary_search(&(o as u32)) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let (l0, l1) = (line_of(start), line_of(end.saturating_sub(1).max(start)));
        let first = l0.saturating_sub(1);
        let last = (l1 + 1).min(starts.len().saturating_sub(1));
        let mut out = String::new();
        let (mut ls, mut le) = (None::<usize>, None::<usize>);
        for i in first..=last {
            let from_byte = starts.get(i).map_or(text.len(), |&o| o as usize).min(text.len());
            let to_byte = starts.get(i + 1).map_or(text.len(), |&o| o as usize).min(text.len());
            let line = text.get(from_byte..to_byte).unwrap_or("");
            let body = line.strip_suffix('\n').map_or(line, |b| b.strip_suffix('\r').unwrap_or(b));
            let ending = &line[body.len()..];
            let widths: Vec<usize> = body.chars().map(columns).collect();
            let chars = widths.len();
            let (from, to) = if widths.iter().sum::<usize>() <= WINDOW_COLUMNS {
                (0, chars)
            } else if i == l0 {
                let col = body.get(..start - from_byte).map_or(0, |b| b.chars().count());
                let mut from = col;
                let mut lead = 0;
                while from > 0 && lead + widths[from - 1] <= WINDOW_LEAD {
                    from -= 1;
                    lead += widths[from];
                }
                (from, window_end(&widths, from))
            } else {
                (0, window_end(&widths, 0))
            };
            if from > 0 {
                out.push('…');
            }
            let mut cut_at = from_byte + body.len();
            for (k, (b, c)) in body.char_indices().enumerate() {
                if k < from {
                    continue;
                }
                if k >= to {
                    cut_at = from_byte + b;
                    break;
                }
                let o = from_byte + b;
                if ls.is_none() && o >= start {
                    ls = Some(out.len());
                }
                if le.is_none() && o >= end {
                    le = Some(out.len());
                }
                if crate::visible::is_unsafe(c) && c != '\t' {
                    out.push_str(&visible(&body[b..b + c.len_utf8()]));
                } else {
                    out.push(c);
                }
            }
            // The label's end past the window is clipped to it; an offset in the line's
            // ending falls on the ending.
            if ls.is_none() && i == l0 && start >= cut_at && start < to_byte {
                ls = Some(out.len());
            }
            if ls.is_some() && le.is_none() && end >= cut_at && end < to_byte {
                le = Some(out.len());
            }
            if to < chars {
                out.push('…');
            }
            out.push_str(ending);
        }
        let ls = ls.unwrap_or(out.len());
        let le = le.unwrap_or(out.len()).max(ls);
        let label_at = (l0, start - starts.get(l0).map_or(0, |&o| o as usize).min(start));
        (IndexedSource { name: visible(&file.name).into_owned(), text: out, first_line: first, label_start: ls, label_at }, ls, le)
    }

    /// `file:line:col` of the label (1-based, the column in bytes as miette counts it).
    fn position(&self) -> String {
        format!("{}:{}:{}", self.name, self.label_at.0 + 1, self.label_at.1 + 1)
    }
}

impl SourceCode for IndexedSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let c = self.text.as_bytes().read_span(span, before, after)?;
        // The header's position is the label's place in the file, not in the excerpt.
        let column = if span.offset() == self.label_start && before == 0 { self.label_at.1 } else { c.column() };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            c.data(),
            *c.span(),
            c.line() + self.first_line,
            column,
            c.line_count() + self.first_line,
        )))
    }
}

fn at(sources: &SourceMap, span: Span, label: &str) -> (IndexedSource, LabeledSpan) {
    let file = sources.get(span.source);
    let len = file.text.len();
    let mut start = (span.start as usize).min(len);
    while !file.text.is_char_boundary(start) {
        start -= 1;
    }
    let end = start + span.len().min(len - start);
    let (src, ls, le) = IndexedSource::excerpt(file, start, end);
    let label = LabeledSpan::new(Some(visible(label).into_owned()), ls, le - ls);
    (src, label)
}

fn note(sources: &SourceMap, span: Span, message: String, label: &str) -> Rendered {
    let (src, label) = at(sources, span, label);
    Rendered {
        code: String::new(),
        message,
        severity: Severity::Advice,
        help: None,
        source: Some(src),
        labels: vec![label],
        related: vec![],
    }
}

/// `file:line:col` of a span, for one-line output.
pub fn position(sources: &SourceMap, span: Span) -> String {
    let file = sources.get(span.source);
    let (line, col) = file.line_col(span.start);
    format!("{}:{line}:{col}", file.name)
}

pub fn finding(sources: &SourceMap, f: &Finding) -> Rendered {
    let severity = match f.severity {
        ast::Severity::Halt => Severity::Error,
        ast::Severity::Advisory => Severity::Warning,
    };
    let (source, labels) = match f.at {
        Some(span) => {
            let (s, l) = at(sources, span, "here");
            (Some(s), vec![l])
        }
        None => (None, vec![]),
    };
    let mut related = vec![];
    match (f.because, f.rule) {
        (Some(b), _) => related.push(note(sources, b, format!("decided by {}", position(sources, b)), "because of this")),
        (None, Some(r)) => related.push(note(sources, r, format!("check `{}` ({})", f.check, position(sources, r)), "the check")),
        _ => {}
    }
    if let WaiverState::Waived { span, reason, approver } = &f.waiver {
        let who = approver.as_deref().map(|a| format!(", approved by {a}")).unwrap_or_default();
        related.push(note(sources, *span, format!("waived: {reason}{who}"), "waiver"));
    }
    let code = if f.is_waived() { format!("{} (waived)", f.check) } else { f.check.clone() };
    Rendered { code, message: f.message.clone(), severity, help: f.help.clone(), source, labels, related }
}

pub fn rule_error(sources: &SourceMap, e: &RuleError) -> Rendered {
    let (src, label) = at(sources, e.span, if e.label.is_empty() { "here" } else { &e.label });
    let related = e.related.iter().map(|(span, msg)| note(sources, *span, msg.clone(), msg)).collect();
    Rendered {
        code: format!("rules::{}", e.kind),
        message: e.message.clone(),
        severity: Severity::Error,
        help: e.help.clone(),
        source: Some(src),
        labels: vec![label],
        related,
    }
}

/// A plain error with no source position (a missing directory, an unreadable database).
pub fn plain(code: &str, message: String, help: Option<String>) -> Rendered {
    Rendered {
        code: code.to_string(),
        message,
        severity: Severity::Error,
        help,
        source: None,
        labels: vec![],
        related: vec![],
    }
}

/// How diagnostics are drawn.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub width: usize,
}

impl Style {
    /// Snapshots and pipes: no colour, fixed width.
    pub const PLAIN: Style = Style { color: false, width: 100 };
}

pub fn render(d: &Rendered, style: Style) -> String {
    let theme = if style.color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(style.width).with_links(false);
    let mut out = String::new();
    // The excerpts keep miette within its limits; should it fail or panic all the same,
    // the diagnostic is still printed, plainly: a report is never lost to its renderer.
    let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.render_report(&mut out, d)));
    if !matches!(drawn, Ok(Ok(()))) {
        out = render_plain(d);
    }
    out.push('\n');
    out
}

/// The last-resort rendering: severity, code, message, position and help on plain lines,
/// related diagnostics indented under it.
pub fn render_plain(d: &Rendered) -> String {
    let mut out = String::new();
    plain_into(&mut out, d, "");
    out
}

fn plain_into(out: &mut String, d: &Rendered, indent: &str) {
    use std::fmt::Write as _;
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Advice => "note",
    };
    let code = if d.code.is_empty() { String::new() } else { format!("[{}] ", visible(&d.code)) };
    let _ = writeln!(out, "{indent}{severity}: {code}{}", shown(&d.message));
    if let Some(src) = &d.source {
        let _ = writeln!(out, "{indent}  at {}", visible(&src.position()));
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "{indent}  help: {}", shown(help));
    }
    for r in &d.related {
        plain_into(out, r, &format!("{indent}  "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    fn draw(text: &str, start: usize, end: usize) -> String {
        let mut map = SourceMap::new();
        let id = map.add(SourceFile::new("f.pol", text));
        let e = RuleError::new("syntax", "bad", Span::new(id, start, end));
        render(&rule_error(&map, &e), Style::PLAIN)
    }

    /// Past display column 65,535 miette panics; the excerpt keeps every label far below it,
    /// whatever fills the line, and the header still gives the label's real place.
    #[test]
    fn labels_far_along_a_line_are_drawn_in_a_window() {
        for pad in ["\t".repeat(70_000), "漢".repeat(40_000), "x".repeat(1 << 20)] {
            let text = format!("policy 1\n{pad}set broken {{ ]\nnext line\n");
            let at = text.find(']').expect("label");
            let col = at - "policy 1\n".len() + 1;
            let out = draw(&text, at, at + 1);
            assert!(out.contains(&format!("[f.pol:2:{col}]")), "{out}");
            assert!(out.contains("…") && out.contains("set broken { ]"), "{out}");
            assert!(out.lines().all(|l| l.chars().count() < 1000), "a line of the drawing is not windowed:\n{out}");
        }
    }

    /// A label that runs past the window is cut at it; lines of ordinary length are drawn as
    /// they are (the snapshots of every other test hold that).
    #[test]
    fn a_label_longer_than_the_window_is_cut() {
        let text = format!("a {}\n", "y".repeat(5_000));
        let out = draw(&text, 2, 5_002);
        assert!(out.contains("[f.pol:1:3]"), "{out}");
        assert!(out.lines().all(|l| l.chars().count() < 400), "{out}");
        let out = draw("set s { ] }\n", 8, 9);
        assert!(out.contains(" 1 │ set s { ] }\n"), "{out}");
    }

    /// Source lines, messages and labels go through `visible`: no control byte, bidi override
    /// or invisible character of a rule file reaches the terminal, the line structure stays.
    #[test]
    fn source_lines_and_messages_are_made_visible() {
        let text = "policy 1\n# \u{1b}]0;title\u{7}\nset s\u{202e} { \u{1b}[31mred\r }\r\n";
        let at = text.find('\u{1b}').expect("escape");
        let mut map = SourceMap::new();
        let id = map.add(SourceFile::new("f\u{1b}[2J.pol", text));
        let e = RuleError::new("syntax", "found `\u{1b}[31mred`", Span::new(id, at, at + 4)).with_help("no \u{200b}here");
        let out = render(&rule_error(&map, &e), Style::PLAIN);
        assert!(!out.chars().any(|c| c != '\n' && crate::visible::is_unsafe(c)), "{out:?}");
        for shown in ["\\x1b]0;title\\x07", "sU+202E", "\\x1b[31mred\\x0d", "f\\x1b[2J.pol:2:3", "found `\\x1b[31mred`", "no U+200Bhere"] {
            assert!(out.contains(shown), "`{shown}` not in\n{out}");
        }
    }

    /// Should miette fail or panic all the same (here: a label past its column limit on a
    /// source that is not windowed), the diagnostic is printed plainly.
    #[test]
    fn the_plain_renderer_takes_over_when_miette_panics() {
        let text = format!("{}]\n", "\t".repeat(70_000));
        let src = IndexedSource { name: "f.pol".into(), text: text.clone(), first_line: 0, label_start: 70_000, label_at: (0, 70_000) };
        let d = Rendered {
            code: "rules::syntax".into(),
            message: "bad \u{1b}[1m".into(),
            severity: Severity::Error,
            help: Some("fix it".into()),
            source: Some(src),
            labels: vec![LabeledSpan::new(Some("here".into()), 70_000, 1)],
            related: vec![],
        };
        let out = render(&d, Style::PLAIN);
        assert_eq!(out, "error: [rules::syntax] bad \\x1b[1m\n  at f.pol:1:70001\n  help: fix it\n\n");
    }

    /// Messages from data can be megabytes: the terminal gets the start and the end.
    #[test]
    fn huge_messages_are_cut_in_the_middle() {
        let message = format!("start {} end", "m".repeat(1_000_000));
        let out = render(&plain("x", message, None), Style::PLAIN);
        let flat = out.replace("\n  │ ", " ");
        assert!(flat.contains("× start ") && flat.contains(" end\n") && flat.contains("(999410 characters left out)"), "{out}");
        assert!(out.len() < 4_000, "{} bytes", out.len());
    }

    /// The render fuzz target's assertions on every `cargo test`: texts built from pieces
    /// that stress the excerpt (tabs, wide and combining characters, controls, CR, CRLF,
    /// bidi, long runs), labels anywhere and of any length, a related note. Never the plain
    /// fallback, never a raw unsafe character, never a line past the window.
    #[test]
    fn mini_fuzz_rendering() {
        const PIECES: &[&str] = &["\t", "漢", "e\u{301}", "\u{1b}[31m", "\r", "\r\n", "\n", "\u{202e}", "\u{200b}", "set x { ] }", " ", "a", "\u{0}", "😀"];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..2_000 {
            let mut text = String::new();
            for _ in 0..next() % 40 {
                let piece = PIECES[(next() % PIECES.len() as u64) as usize];
                let times = if next() % 10 == 0 { 1 + next() % 3_000 } else { 1 };
                text.push_str(&piece.repeat(times as usize));
            }
            let start = (next() % (text.len() as u64 + 2)) as usize;
            let len = (next() % (text.len() as u64 + 2)) as usize;
            let mut map = SourceMap::new();
            let id = map.add(SourceFile::new("f.pol", text.as_str()));
            let mut e = RuleError::new("fuzz", "fuzzed", Span::new(id, start, start + len));
            if case % 3 == 0 {
                e.related.push((Span::new(id, len, len + start % 9), "related".into()));
            }
            let out = render(&rule_error(&map, &e), Style::PLAIN);
            assert!(!out.starts_with("error: ["), "case {case}: the plain renderer drew\n{out}");
            assert!(!out.chars().any(|c| c != '\n' && crate::visible::is_unsafe(c)), "case {case}: {out:?}");
            let widest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
            assert!(widest < 1_000, "case {case}: a line of {widest} characters");
        }
    }
}
