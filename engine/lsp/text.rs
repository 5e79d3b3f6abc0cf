//! Open documents and positions. LSP positions count a line's characters in the encoding
//! negotiated at initialize (UTF-16 code units unless the client offers UTF-8); the server
//! works in byte offsets. A position past a line's end, past the last line or inside a
//! surrogate pair is clamped, never trusted: clients do send them.

use lsp_types::{Position, Range, TextDocumentContentChangeEvent};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
}

/// Byte offsets of the start of each line.
#[derive(Debug, Clone, Default)]
pub struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    pub fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
        Lines { starts }
    }

    pub fn count(&self) -> usize {
        self.starts.len()
    }

    /// The line's text without its line ending.
    fn line<'t>(&self, text: &'t str, line: usize) -> (usize, &'t str) {
        let start = self.starts[line].min(text.len());
        let end = self.starts.get(line + 1).map_or(text.len(), |&e| e - 1).clamp(start, text.len());
        let s = text.get(start..end).unwrap_or("");
        (start, s.strip_suffix('\r').unwrap_or(s))
    }

    /// The byte offset of a position, clamped into the text.
    pub fn offset(&self, text: &str, pos: Position, enc: Encoding) -> usize {
        let line = pos.line as usize;
        if line >= self.starts.len() {
            return text.len();
        }
        let (start, s) = self.line(text, line);
        let want = pos.character as usize;
        let mut units = 0;
        for (i, c) in s.char_indices() {
            let w = match enc {
                Encoding::Utf8 => c.len_utf8(),
                Encoding::Utf16 => c.len_utf16(),
            };
            // Inside a character (a surrogate pair's middle, a UTF-8 continuation): its start.
            if units + w > want {
                return start + i;
            }
            units += w;
        }
        start + s.len()
    }

    /// The position of a byte offset (clamped, and moved back to a character boundary).
    pub fn position(&self, text: &str, offset: usize, enc: Encoding) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts[line].min(offset);
        let before = &text[start..offset];
        let character = match enc {
            Encoding::Utf8 => before.len(),
            Encoding::Utf16 => before.chars().map(char::len_utf16).sum(),
        };
        Position::new(line as u32, character as u32)
    }

    pub fn range(&self, text: &str, r: std::ops::Range<usize>, enc: Encoding) -> Range {
        Range::new(self.position(text, r.start, enc), self.position(text, r.end, enc))
    }

    /// The byte offset where 0-based line `k` starts (None past the last line).
    pub fn line_offset(&self, k: usize) -> Option<usize> {
        self.starts.get(k).copied()
    }

    /// The start of the line holding `offset`.
    pub fn line_start(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => self.starts[i],
            Err(i) => self.starts[i.saturating_sub(1)],
        }
    }
}

/// One open document.
#[derive(Debug, Clone)]
pub struct Doc {
    pub text: String,
    pub version: i32,
    pub lines: Lines,
}

impl Doc {
    pub fn new(text: String, version: i32) -> Doc {
        let lines = Lines::new(&text);
        Doc { text, version, lines }
    }

    /// Apply one change: a range replaced, or the whole text when there is no range.
    pub fn apply(&mut self, change: TextDocumentContentChangeEvent, enc: Encoding) {
        match change.range {
            None => self.text = change.text,
            Some(r) => {
                let start = self.lines.offset(&self.text, r.start, enc);
                let end = self.lines.offset(&self.text, r.end, enc).max(start);
                self.text.replace_range(start..end, &change.text);
            }
        }
        self.lines = Lines::new(&self.text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_positions_round_trip_and_clamp() {
        let text = "a😀b\r\nzz\n";
        let l = Lines::new(text);
        // 😀 is two UTF-16 units and four bytes.
        assert_eq!(l.offset(text, Position::new(0, 3), Encoding::Utf16), 5);
        assert_eq!(l.position(text, 5, Encoding::Utf16), Position::new(0, 3));
        // Inside the surrogate pair: the character's start.
        assert_eq!(l.offset(text, Position::new(0, 2), Encoding::Utf16), 1);
        // Past the line's end (before \r\n), past the last line.
        assert_eq!(l.offset(text, Position::new(0, 99), Encoding::Utf16), 6);
        assert_eq!(l.offset(text, Position::new(99, 0), Encoding::Utf16), text.len());
        assert_eq!(l.offset(text, Position::new(1, 1), Encoding::Utf8), 9);
        // An offset inside a character moves back to its start.
        assert_eq!(l.position(text, 3, Encoding::Utf8), Position::new(0, 1));
    }

    #[test]
    fn incremental_changes() {
        let mut d = Doc::new("policy 1\nset a {\n}\n".into(), 1);
        d.apply(
            TextDocumentContentChangeEvent { range: Some(Range::new(Position::new(1, 7), Position::new(1, 7))), range_length: None, text: "\n  x".into() },
            Encoding::Utf16,
        );
        assert_eq!(d.text, "policy 1\nset a {\n  x\n}\n");
        // A range that ends before it starts, and one far outside: clamped, no panic.
        d.apply(
            TextDocumentContentChangeEvent { range: Some(Range::new(Position::new(9, 9), Position::new(0, 0))), range_length: None, text: "!".into() },
            Encoding::Utf16,
        );
        assert!(d.text.ends_with('!'));
    }
}
