//! Text from data and rule files made safe to show: control characters, bidi overrides and
//! invisible characters are written out visibly (`\x1b`, `U+202E`), so a recipe, a list
//! line or a file name can neither drive the terminal nor forge a line of output.

use std::borrow::Cow;
use std::fmt::Write;

/// True for a character that must not reach a terminal or a log as it is: C0 and C1
/// controls (tab and newline included: a value is one line), DEL, the bidi controls, and
/// characters that print as nothing (zero-width spaces and joiners, word joiner, BOM,
/// invisible operators, soft hyphen, Hangul fillers, interlinear annotation and tag
/// characters).
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{ad}'                      // soft hyphen
        | '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}' // Hangul fillers
        | '\u{180e}'                    // Mongolian vowel separator
        | '\u{200b}'..='\u{200f}'       // zero-width space/joiners, LRM, RLM
        | '\u{2028}'..='\u{202e}'       // line/paragraph separators, bidi embeddings and overrides
        | '\u{2060}'..='\u{206f}'       // word joiner, invisible operators, bidi isolates
        | '\u{feff}'                    // zero-width no-break space (BOM)
        | '\u{fff9}'..='\u{fffb}'       // interlinear annotation
        | '\u{e0000}'..='\u{e007f}'     // tag characters
    )
}

/// `s` with every unsafe character written visibly: ASCII controls as `\xNN`, the others
/// as `U+NNNN`; a backslash stays a backslash (the escapes are for reading, not parsing).
/// Borrows when there is nothing to escape, which is nearly always.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_unsafe(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "U+{:04X}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// Like [`visible`], but keeps newlines and tabs: for multi-line text such as a source
/// excerpt, where line structure is the text's own.
pub fn visible_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for line in s.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        for part in body.split_inclusive('\t') {
            let (text, tab) = match part.strip_suffix('\t') {
                Some(t) => (t, "\t"),
                None => (part, ""),
            };
            out.push_str(&visible(text));
            out.push_str(tab);
        }
        out.push_str(nl);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(visible("glib2 needs libffi (entry 3)"), Cow::Borrowed(_)));
        assert!(matches!(visible("ünïcödé 漢字 ok"), Cow::Borrowed(_)));
    }

    #[test]
    fn controls_bidi_and_invisibles_are_shown() {
        assert_eq!(visible("a\x1b[31mred"), "a\\x1b[31mred");
        assert_eq!(visible("x\ny"), "x\\x0ay");
        assert_eq!(visible("\u{202e}txt.exe"), "U+202Etxt.exe");
        assert_eq!(visible("zero\u{200b}width"), "zeroU+200Bwidth");
        assert_eq!(visible("del\u{7f}c1\u{9b}"), "del\\x7fc1U+009B");
        assert_eq!(visible("tag\u{e0041}"), "tagU+E0041");
        assert_eq!(visible("bom\u{feff}"), "bomU+FEFF");
    }

    #[test]
    fn lines_keep_their_newlines_and_tabs() {
        assert_eq!(visible_lines("a\tb\nc\x1bd\n"), "a\tb\nc\\x1bd\n");
        assert!(matches!(visible_lines("a\tb\nc\n"), Cow::Borrowed(_)));
    }
}
