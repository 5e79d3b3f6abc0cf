//! Findings and rule errors as miette diagnostics: one label at the data, a related
//! diagnostic at the rule that decided. Rendering is deterministic: no colour and a fixed
//! width unless a terminal asks for colour.

use std::fmt;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, Severity, SourceCode,
    SourceSpan, SpanContents,
};

use crate::finding::{Finding, WaiverState};
use crate::lang::ast;
use crate::lang::error::RuleError;
use crate::source::{SourceMap, Span};

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
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rendered {}

impl Diagnostic for Rendered {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        if self.code.is_empty() {
            None
        } else {
            Some(Box::new(&self.code))
        }
    }
    fn severity(&self) -> Option<Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
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

/// A source file for miette that uses our line index: miette's own `read_span` scans the
/// text from its start for every label, which makes a report over a big file quadratic.
#[derive(Debug)]
pub struct IndexedSource {
    name: String,
    text: Arc<str>,
    lines: Arc<[u32]>,
}

impl IndexedSource {
    fn line_of(&self, offset: usize) -> usize {
        match self.lines.binary_search(&(offset as u32)) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }
}

impl SourceCode for IndexedSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        // Let miette's algorithm run on a window of whole lines around the span, then put
        // the window back at its place in the file: same output, no rescan from the start.
        let len = self.text.len();
        let first = self.line_of(span.offset().min(len)).saturating_sub(before + 1);
        let last = self.line_of((span.offset() + span.len()).min(len)) + after + 2;
        let start = self.lines.get(first).map(|&o| o as usize).unwrap_or(0);
        let end = self.lines.get(last).map(|&o| o as usize).unwrap_or(len).min(len);
        let window = &self.text.as_bytes()[start..end];
        let inner = SourceSpan::new((span.offset().saturating_sub(start)).into(), span.len());
        let c = window.read_span(&inner, before, after)?;
        let data: &'a [u8] = &self.text.as_bytes()[start + c.span().offset()..start + c.span().offset() + c.span().len()];
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            data,
            SourceSpan::new((start + c.span().offset()).into(), c.span().len()),
            c.line() + first,
            c.column(),
            c.line_count() + first,
        )))
    }
}

fn at(sources: &SourceMap, span: Span, label: &str) -> (IndexedSource, LabeledSpan) {
    let file = sources.get(span.source);
    let src = IndexedSource { name: file.name.clone(), text: file.text.clone(), lines: file.line_starts() };
    let start = (span.start as usize).min(file.text.len());
    let label = LabeledSpan::new(Some(label.to_string()), start, span.len().min(file.text.len() - start));
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
    if handler.render_report(&mut out, d).is_err() {
        out = format!("{}: {}\n", d.code, d.message);
    }
    out.push('\n');
    out
}
