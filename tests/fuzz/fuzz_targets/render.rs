//! The diagnostic renderer on arbitrary source text and spans: the first 9 bytes are the
//! label's start and length (u32, little-endian, taken modulo the text's length) and a mode
//! byte (how many tabs go before the text, up to 76,500: far past miette's column limit, and
//! whether a related note is drawn too); the rest is the source text. The drawing must never
//! panic, never fall back to the plain renderer (miette must always manage the excerpt), and
//! never let a control, bidi or invisible character of the text through.
#![no_main]

use igos::lang::error::RuleError;
use igos::report::diagnostic::{self, Style};
use igos::source::{SourceFile, SourceMap, Span};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let (head, body) = data.split_at(9);
    let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let mode = head[8] as usize;
    let text = format!("{}{}", "\t".repeat((mode >> 1) * 600), String::from_utf8_lossy(body));
    let start = word(&head[0..4]) % (text.len() + 2);
    let len = word(&head[4..8]) % (text.len() + 2);
    let mut sources = SourceMap::new();
    let id = sources.add(SourceFile::new("rules/fuzz.pol", text.as_str()));
    let mut e = RuleError::new("fuzz", "fuzzed", Span::new(id, start, start + len)).with_label("here");
    if mode & 1 == 1 {
        e.related.push((Span::new(id, len, len + start % 7), "related".into()));
    }
    let d = diagnostic::rule_error(&sources, &e);
    let out = diagnostic::render(&d, Style::PLAIN);
    assert!(!out.starts_with("error: ["), "miette gave up and the plain renderer drew:\n{out}");
    if let Some(c) = out.chars().find(|&c| c != '\n' && igos::visible::is_unsafe(c)) {
        panic!("{c:?} reached the drawing:\n{out}");
    }
    let _ = diagnostic::render(&d, Style { color: true, width: 20 + mode % 200 });
});
