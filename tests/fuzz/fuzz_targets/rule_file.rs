//! The rule-file parser and compiler on arbitrary bytes: parse, compile (names resolved,
//! types checked), render every error through miette, and format the file when it
//! parses. Nothing may panic, overflow or hang.
#![no_main]

use igos::report::diagnostic::{self, Style};
use igos::source::SourceMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let mut sources = SourceMap::new();
    let rules = igos::rules::compile_texts(vec![("rules/fuzz.pol".into(), Ok(text.clone()))], &mut sources);
    for e in &rules.errors {
        let _ = diagnostic::render(&diagnostic::rule_error(&sources, e), Style::PLAIN);
    }
    if rules.errors.is_empty() {
        let formatted = igos::fmt::format(&text);
        let _ = igos::fmt::meaning(&formatted);
    }
});
