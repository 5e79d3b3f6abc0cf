//! The JSON report (`igos check --format json`, schema `igos-check/1`), written as a stream:
//! serde serializes borrowed views of the findings straight to the writer, so memory does
//! not grow with the number of findings. Keys are written sorted (the fields below are
//! declared in that order), as the schema promises.

use std::io::{self, Write};

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;

use crate::outcome::{GateResult, Outcome};
use crate::finding::{self, Finding, WaiverState};
use crate::source::{SourceMap, Span};

/// A position: file, line, column (from 1, characters), byte offset and length.
#[derive(Serialize)]
pub struct Place<'a> {
    column: usize,
    file: &'a str,
    length: u32,
    line: usize,
    offset: u32,
}

pub fn place(sources: &SourceMap, span: Option<Span>) -> Option<Place<'_>> {
    let s = span?;
    let file = sources.get(s.source);
    let (line, column) = file.line_col(s.start);
    Some(Place { column, file: &file.name, length: s.len() as u32, line, offset: s.start })
}

#[derive(Serialize)]
struct Waiver<'a> {
    approver: Option<&'a str>,
    at: Option<Place<'a>>,
    reason: &'a str,
}

/// One finding as the report writes it.
#[derive(Serialize)]
pub struct FindingView<'a> {
    at: Option<Place<'a>>,
    because: Option<Place<'a>>,
    check: &'a str,
    fingerprint: &'a str,
    gate: Option<&'a str>,
    help: Option<&'a str>,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<&'a str>,
    rule: Option<Place<'a>>,
    severity: &'static str,
    subject: &'a str,
    waiver: Option<Waiver<'a>>,
}

pub fn view<'a>(sources: &'a SourceMap, f: &'a Finding, fingerprint: &'a str) -> FindingView<'a> {
    let waiver = match &f.waiver {
        WaiverState::None => None,
        WaiverState::Waived { span, reason, approver } => {
            Some(Waiver { approver: approver.as_deref(), at: place(sources, Some(*span)), reason })
        }
    };
    FindingView {
        at: place(sources, f.at),
        because: place(sources, f.because),
        check: &f.check,
        fingerprint,
        gate: f.gate.as_deref(),
        help: f.help.as_deref(),
        message: &f.message,
        object: f.object.as_deref(),
        rule: place(sources, f.rule),
        severity: f.severity.as_str(),
        subject: &f.subject,
        waiver,
    }
}

/// A list serialized item by item from an iterator (no Vec of views is built).
struct Stream<I>(std::cell::RefCell<Option<I>>);

impl<I: Iterator<Item = T>, T: Serialize> Serialize for Stream<I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        if let Some(items) = self.0.borrow_mut().take() {
            for item in items {
                seq.serialize_element(&item)?;
            }
        }
        seq.end()
    }
}

fn stream<I>(items: I) -> Stream<I> {
    Stream(std::cell::RefCell::new(Some(items)))
}

#[derive(Serialize)]
#[serde(bound = "Stream<I>: Serialize")]
struct GateView<'a, I> {
    advisory: usize,
    findings: Stream<I>,
    halting: usize,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<&'a str>,
    title: &'a str,
    waived: usize,
}

/// `--since REV`: a recipe that changed, with its findings.
#[derive(Serialize)]
pub struct ChangedView<'a> {
    pub findings: Vec<FindingView<'a>>,
    pub name: &'a str,
    pub path: &'a str,
    pub status: &'a str,
}

#[derive(Serialize)]
#[serde(bound = "Stream<G>: Serialize")]
struct Report<'a, G> {
    #[serde(skip_serializing_if = "Option::is_none")]
    changed: Option<Vec<ChangedView<'a>>>,
    exit_code: i32,
    gates: Stream<G>,
    halting: usize,
    packages: usize,
    schema: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<&'a str>,
}

/// Write the report to `out` (pretty, two-space indent, a final newline). `since` adds the
/// `--since` section.
pub fn write(
    out: &mut dyn Write,
    outcome: &Outcome,
    sources: &SourceMap,
    since: Option<(&str, Vec<ChangedView<'_>>)>,
) -> io::Result<()> {
    let fingerprints = finding::fingerprints(outcome.findings());
    let mut next = 0;
    let gates = outcome.gates.iter().map(|g: &GateResult| {
        let first = next;
        next += g.findings.len();
        let fps = &fingerprints[first..next];
        GateView {
            advisory: g.advisories(),
            findings: stream(g.findings.iter().zip(fps).map(|(f, fp)| view(sources, f, fp))),
            halting: g.halting(),
            id: &g.id,
            skipped: g.skipped.as_deref(),
            title: &g.title,
            waived: g.waived(),
        }
    });
    let (since, changed) = match since {
        Some((rev, c)) => (Some(rev), Some(c)),
        None => (None, None),
    };
    let report = Report {
        changed,
        exit_code: outcome.exit_code(),
        gates: stream(gates),
        halting: outcome.halting(),
        packages: outcome.packages,
        schema: "igos-check/1",
        since,
    };
    let mut ser = serde_json::Serializer::pretty(&mut *out);
    report.serialize(&mut ser).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// The report as one string (tests, the fuzz target). `igos check` streams with [`write`].
pub fn json(outcome: &Outcome, sources: &SourceMap) -> String {
    let mut buf = vec![];
    let _ = write(&mut buf, outcome, sources, None);
    String::from_utf8(buf).unwrap_or_default()
}
