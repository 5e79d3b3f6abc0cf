//! The plain block-style YAML that recipes are written in, read without libyaml.
//!
//! serde_yaml (libyaml underneath) was most of the cost of loading a large tree: about
//! 200,000 instructions and dozens of allocations for a 550-byte package.yml. Recipes use a
//! small part of YAML: mappings and sequences in block style, one-line scalars, `[]`. This
//! module reads exactly that part and gives the value serde_yaml would give; anything
//! outside it (a tab, a non-ASCII byte, a block or multi-line scalar, an escape, an anchor,
//! a flow collection other than `[]`/`{}`, a scalar that might be a float, a duplicate key)
//! returns `None`, and the caller parses the file with serde_yaml as before. So errors, and
//! every corner of YAML, are still serde_yaml's; this is only a faster road to the same value.
//! `tests` below and the `recipe` fuzz target check that the two agree.

use serde_yaml::{Mapping, Value};

/// The document as serde_yaml would read it, if it is in the subset; `None` otherwise.
pub fn parse(text: &str) -> Option<Value> {
    let mut map = Mapping::new();
    read_top(text, &|_| true, &mut |k, v| {
        map.insert(Value::String(k.to_string()), v);
    })?;
    Some(Value::Mapping(map))
}

/// The values of the `wanted` top-level keys (None: absent), exactly as [`parse`] gives
/// them, if the document is in the subset. Every other value is read to check it is in
/// the subset, but not kept (no string, list or mapping is built for it).
pub fn fields<const N: usize>(text: &str, wanted: [&str; N]) -> Option<[Option<Value>; N]> {
    let mut out: [Option<Value>; N] = std::array::from_fn(|_| None);
    read_top(text, &|k| wanted.contains(&k), &mut |k, v| {
        if let Some(i) = wanted.iter().position(|w| *w == k) {
            out[i] = Some(v);
        }
    })?;
    Some(out)
}

/// The top-level mapping: each key with its value (read in full when `keep(key)`).
fn read_top<'a>(text: &'a str, keep: &dyn Fn(&str) -> bool, put: &mut dyn FnMut(&'a str, Value)) -> Option<()> {
    if !plain_characters(text) {
        return None;
    }
    let mut lines = Lines::new(text);
    let first = lines.peek()?;
    if first.indent != 0 {
        return None;
    }
    lines.entries(0, None, keep, put)?;
    // Everything was read: a line left over is one the subset does not place.
    lines.peek().is_none().then_some(())
}

/// Printable characters and `\n` only: no tab (an error in indentation), no CR, no C1
/// control, no byte-order mark, none of the Unicode line breaks libyaml knows (NEL, LS, PS).
fn plain_characters(text: &str) -> bool {
    let printable_ascii = |b: u8| b == b'\n' || (b' '..=b'~').contains(&b);
    if text.bytes().all(printable_ascii) {
        return true;
    }
    text.chars().all(|c| match c {
        '\u{0}'..='\u{7f}' => printable_ascii(c as u8),
        '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => false,
        _ => true,
    })
}

/// A line with content: its indentation and the rest, trailing blanks removed.
#[derive(Clone, Copy)]
struct Line<'a> {
    indent: usize,
    rest: &'a str,
}

struct Lines<'a> {
    text: &'a str,
    next: Option<Line<'a>>,
    /// Collections open around the current line: past MAX_DEPTH the document is left to
    /// serde_yaml (and its recursion limit), never to this reader's stack.
    depth: usize,
}

const MAX_DEPTH: usize = 32;

/// Keys in one mapping past which the document is left to serde_yaml (duplicates are
/// found by comparing each key with those before it).
const MAX_KEYS: usize = 64;

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        let mut lines = Lines { text, next: None, depth: 0 };
        lines.advance();
        lines
    }

    fn peek(&self) -> Option<Line<'a>> {
        self.next
    }

    /// Moves to the next line with content; blank and comment-only lines are skipped.
    fn advance(&mut self) {
        self.next = None;
        while !self.text.is_empty() {
            let (line, rest) = split_line(self.text);
            self.text = rest;
            let body = line.trim_start_matches(' ');
            let body = body.trim_end_matches(' ');
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            self.next = Some(Line { indent: line.len() - line.trim_start_matches(' ').len(), rest: body });
            return;
        }
    }

    /// A block mapping whose keys sit at column `indent`, as a value (Null when not `keep`).
    fn mapping(&mut self, indent: usize, first: Option<&'a str>, keep: bool) -> Option<Value> {
        let mut map = Mapping::new();
        self.entries(indent, first, &|_| keep, &mut |k, v| {
            if keep {
                map.insert(Value::String(k.to_string()), v);
            }
        })?;
        Some(if keep { Value::Mapping(map) } else { Value::Null })
    }

    /// The entries of a block mapping whose keys sit at column `indent`, each to `put`.
    /// `first` is a key already read after a sequence dash (`- url: ...`), on a line that
    /// has been consumed.
    fn entries(&mut self, indent: usize, first: Option<&'a str>, keep: &dyn Fn(&str) -> bool, put: &mut dyn FnMut(&'a str, Value)) -> Option<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let mut keys: Vec<&'a str> = Vec::with_capacity(16);
        let mut line = first;
        loop {
            let Some(text) = line else {
                match self.peek() {
                    Some(next) if next.indent >= indent => {
                        // Deeper than the keys (a continued scalar) or a dash where a key belongs.
                        if next.indent > indent || is_dash(next.rest) {
                            return None;
                        }
                        self.advance();
                        line = Some(next.rest);
                        continue;
                    }
                    _ => break,
                }
            };
            line = None;
            let (key, after) = split_key(text)?;
            // serde_yaml refuses a duplicate key; leave that message to it.
            if keys.contains(&key) || keys.len() == MAX_KEYS {
                return None;
            }
            keys.push(key);
            let kept = keep(key);
            let value = if after.is_empty() || after.starts_with('#') { self.nested(indent, kept)? } else { inline(after, kept)? };
            put(key, value);
        }
        self.depth -= 1;
        Some(())
    }

    /// The value of a `key:` whose line ends there: a deeper mapping or sequence, a
    /// sequence at the key's own column, or nothing (null).
    fn nested(&mut self, indent: usize, keep: bool) -> Option<Value> {
        match self.peek() {
            Some(line) if line.indent > indent => {
                if is_dash(line.rest) {
                    self.sequence(line.indent, keep)
                } else {
                    self.mapping(line.indent, None, keep)
                }
            }
            Some(line) if line.indent == indent && is_dash(line.rest) => self.sequence(indent, keep),
            _ => Some(Value::Null),
        }
    }

    /// A block sequence whose dashes sit at column `indent` (Null when not `keep`).
    fn sequence(&mut self, indent: usize, keep: bool) -> Option<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let mut items = vec![];
        while let Some(line) = self.peek() {
            if line.indent < indent || (line.indent == indent && !is_dash(line.rest)) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            self.advance();
            // `- ` then the item; a bare `-` (a null, or an item on the next lines) is not read here.
            let item = line.rest.strip_prefix("- ")?.trim_start_matches(' ');
            if item.starts_with('#') {
                return None;
            }
            let value = if split_key(item).is_some() {
                // `- key: value`: a mapping whose keys line up under this first one.
                let column = indent + (line.rest.len() - item.len());
                self.mapping(column, Some(item), keep)?
            } else {
                inline(item, keep)?
            };
            if keep {
                items.push(value);
            }
        }
        self.depth -= 1;
        Some(if keep { Value::Sequence(items) } else { Value::Null })
    }
}

/// A dash that starts a sequence item (`- x` or a lone `-`), not a scalar like `-1`.
fn is_dash(rest: &str) -> bool {
    rest == "-" || rest.starts_with("- ")
}

/// `key: rest` or `key:` with a plain key of letters, digits, `_` and `-` (starting with
/// a letter or `_`) that serde_yaml reads as a string. Returns the key and what follows.
fn split_key(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    if !bytes.first().is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_') {
        return None;
    }
    let end = bytes.iter().position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-'))?;
    if bytes[end] != b':' || !matches!(bytes.get(end + 1), None | Some(b' ')) {
        return None;
    }
    let key = &line[..end];
    // `true:`, `null:` would be a boolean or null key.
    if classify(key)? != Scalar::Str {
        return None;
    }
    Some((key, line[end + 1..].trim_start_matches(' ')))
}

/// A value written on the key's (or dash's) line; when not `keep`, checked and given as Null.
fn inline(s: &str, keep: bool) -> Option<Value> {
    let text = |t: &str| if keep { Value::String(t.to_string()) } else { Value::Null };
    match s.as_bytes()[0] {
        quote @ (b'"' | b'\'') => {
            let body = &s[1..];
            let close = body.find(quote as char)?;
            let content = &body[..close];
            // An escape (`\n`, `''`) is serde_yaml's to read.
            if quote == b'"' && content.contains('\\') {
                return None;
            }
            let after = &body[close + 1..];
            if !(after.is_empty() || after.starts_with(" #") || after.trim_start_matches(' ').is_empty()) {
                return None;
            }
            Some(text(content))
        }
        b'[' | b'{' => match strip_comment(s) {
            "[]" if keep => Some(Value::Sequence(vec![])),
            "{}" if keep => Some(Value::Mapping(Mapping::new())),
            "[]" | "{}" => Some(Value::Null),
            _ => None,
        },
        // `--prefix=/usr`: a plain scalar may start with a dash that is not an item's.
        b'-' if s.len() > 1 && !matches!(s.as_bytes()[1], b' ' | b'0'..=b'9' | b'.') => plain(s, keep),
        // Indicators: an anchor, alias, tag, block scalar, directive, reserved character,
        // or a plain scalar that starts with `-` (a number, `-.inf`), `?`, `:`, `,`, `#`.
        b'-' | b'?' | b':' | b',' | b']' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'%' | b'@' | b'`' => None,
        _ => plain(s, keep),
    }
}

/// A plain scalar and the comment after it.
fn plain(s: &str, keep: bool) -> Option<Value> {
    let plain = strip_comment(s);
    // `a: b` would be a mapping in a scalar's place; a trailing `:` likewise.
    if find_pair(plain, b": ").is_some() || plain.ends_with(':') {
        return None;
    }
    let kind = classify(plain)?;
    Some(match kind {
        _ if !keep => Value::Null,
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(i) => Value::from(i),
        Scalar::Str => Value::String(plain.to_string()),
    })
}

/// The first line of `text` (without its `\n`) and the rest. A byte loop: recipe lines
/// are a few dozen bytes, shorter than `str::split_once`'s searcher takes to set up.
pub(super) fn split_line(text: &str) -> (&str, &str) {
    match text.bytes().position(|b| b == b'\n') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    }
}

/// The text before a ` #` comment, trailing blanks removed.
fn strip_comment(s: &str) -> &str {
    s[..find_pair(s, b" #").unwrap_or(s.len())].trim_end_matches(' ')
}

/// Where the two-byte ASCII `pair` (` #`, `: `) first occurs in `s`. A byte loop: the
/// substring searcher `str::find` sets up per call costs more than these short lines.
pub(super) fn find_pair(s: &str, pair: &[u8; 2]) -> Option<usize> {
    let b = s.as_bytes();
    (1..b.len()).find(|&i| b[i] == pair[1] && b[i - 1] == pair[0]).map(|i| i - 1)
}

/// What serde_yaml makes of a plain scalar.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scalar {
    Null,
    Bool(bool),
    Int(u64),
    Str,
}

/// What serde_yaml makes of a plain scalar: null, a boolean, an integer, a string. A
/// scalar that could be read as a float (or an integer in another base) is left to it.
fn classify(s: &str) -> Option<Scalar> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Scalar::Null),
        "true" | "True" | "TRUE" => return Some(Scalar::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Scalar::Bool(false)),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first == b'+' || first == b'.' {
        return None;
    }
    if !first.is_ascii_digit() {
        // Not a number in any base, not an infinity or NaN serde_yaml accepts.
        return Some(Scalar::Str);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        // A leading zero makes a string (YAML 1.2); otherwise a decimal integer.
        if s.len() > 1 && first == b'0' {
            return Some(Scalar::Str);
        }
        return s.parse::<u64>().ok().map(Scalar::Int);
    }
    // 0x1f, 0o17, 0b101 are integers; 0b2bf1e7 (a digest) is a string.
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = s.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) || rest.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
        }
    }
    // Only what a float is written with (digits, `.`, an exponent): serde_yaml reads a
    // float where Rust parses a finite one (2.42, 1e3), left to it here; anything else is a
    // string (a dotted version 1.2.3; a digest like 0…01e12992, which overflows).
    if s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')) {
        return match s.parse::<f64>() {
            Ok(f) if f.is_finite() => None,
            _ => Some(Scalar::Str),
        };
    }
    // Any other character (a hex digest's letters, `-rc1`, `_`) rules a number out.
    Some(Scalar::Str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_scanners_find_what_str_methods_find() {
        for text in ["", "a", "a #b", " #", "x  # y # z", "k: v", "k:v", "a\nb", "\n", "ab\n", "# c", "é #ü"] {
            assert_eq!(find_pair(text, b" #"), text.find(" #"), "{text:?}");
            assert_eq!(find_pair(text, b": "), text.find(": "), "{text:?}");
            assert_eq!(split_line(text), text.split_once('\n').unwrap_or((text, "")), "{text:?}");
        }
    }

    /// The property every caller relies on: when the subset reads a text, serde_yaml reads
    /// it too, to the same value.
    /// And `fields` accepts the same texts as `parse`, giving the same values for its keys.
    fn agrees(text: &str) -> bool {
        let keys = ["name", "source", "dependencies", "v", "supersedes"];
        let picked = fields(text, keys);
        match parse(text) {
            Some(v) => {
                let serde: Result<Value, _> = serde_yaml::from_str(text);
                assert_eq!(serde.as_ref().ok(), Some(&v), "the subset and serde_yaml disagree on:\n{text}\nserde_yaml: {serde:?}");
                let picked = picked.unwrap_or_else(|| panic!("parse read it, fields did not: {text:?}"));
                for (k, got) in keys.iter().zip(&picked) {
                    assert_eq!(got.as_ref(), v.get(k), "fields and parse disagree on `{k}` in {text:?}");
                }
                true
            }
            None => {
                assert!(picked.is_none(), "fields read what parse did not: {text:?}");
                false
            }
        }
    }

    #[test]
    fn reads_a_recipe_as_serde_yaml_does() {
        let text = "name: cups\nversion: \"2.4.16\"\nrelease: 1\ndescription: Common UNIX Printing System, v2 # why\n\
                    homepage: https://openprinting.github.io/cups/\ntier: desktop\nsource:\n\
                    - url: https://x/v${version}/cups-${version}.tar.gz\n  sha256: 03ab\n\
                    dependencies:\n  build:\n  - dbus\n  - gnutls\n  host: []\n  runtime:\n    - avahi\n\
                    verify_paths:\n  - /usr/sbin/cupsaccept\n\n# a comment\nsupersedes: 'old-cups'\npatches:\n";
        assert!(agrees(text));
        let v = parse(text).unwrap();
        assert_eq!(v["release"], Value::from(1u64));
        assert_eq!(v["description"], Value::String("Common UNIX Printing System, v2".into()));
        assert_eq!(v["dependencies"]["build"][1], Value::String("gnutls".into()));
        assert_eq!(v["patches"], Value::Null);
    }

    #[test]
    fn scalars_resolve_as_serde_yaml_resolves_them() {
        for (text, read) in [
            ("v: 1.2.3", true),
            ("v: 007", true),
            ("v: 0", true),
            ("v: 12", true),
            ("v: ~", true),
            ("v: True", true),
            ("v: no", true),
            ("v: nan", true),
            ("v: infinity", true),
            ("v: ''", true),
            ("v: \"\"", true),
            ("v: a#b", true),
            ("v: a,b", true),
            ("v: x:y", true),
            ("v: --prefix=/usr", true),
            ("v: -Dtests=disabled", true),
            ("v: 0339587204b4f9428dd0592e", true),
            ("v: 0b2bf1e7b6568adbdb", true),
            ("v: 0ba2a1a4b16afe7bce", true),
            ("v: 1.0.0-rc1", true),
            ("v: it's", true),
            ("v: 'a \\ b'", true),
            ("v: no display in chroot — GTK 3 widget tests", true),
            ("v: 0b101", false),
            ("v: 0o17", false),
            ("v: 0xzz", true),
            ("v: 12e4", false),
            ("v: 00012e5", false),
            ("v: 1.", false),
            ("v: 0000000000000000000000000000000000000000000000000000000001e12992", true),
            ("v: 1e400", true),
            ("v: 1.2.3e4", true),
            ("v: 2024.01.15", true),
            ("v: 1-2", true),
            ("v: -.inf", false),
            ("v: - x", false),
            ("v: 18446744073709551616", false),
            ("v: 2.42", false),
            ("v: 1e3", false),
            ("v: 0x1f", false),
            ("v: .inf", false),
            ("v: -1", false),
            ("v: +1", false),
        ] {
            assert_eq!(agrees(text), read, "{text}");
        }
    }

    #[test]
    fn anything_outside_the_subset_is_left_to_serde_yaml() {
        for text in [
            "v: |\n  block\n",
            "v: >\n  folded\n",
            "v: a\n  continued\n",
            "v: \"a\\nb\"\n",
            "v: 'it''s'\n",
            "v: [a, b]\n",
            "v: {a: 1}\n",
            "v: &a x\nw: *a\n",
            "v: !tag x\n",
            "v: a: b\n",
            "v:\tx\n",
            "v: a\u{85}b\n",
            "v: a\u{2028}b\n",
            "v: \u{9f}\n",
            "---\nv: x\n",
            "v: x\nv: y\n",
            "true: x\n",
            "  v: x\n",
            "v:\n  - a\n   - b\n",
            "v:\n- \n- b\n",
            "v:\n  a: 1\n b: 2\n",
            "v: x\n- y\n",
            "v: x\r\n",
            "\u{feff}v: x\n",
            "- a\n- b\n",
            "just a scalar\n",
        ] {
            assert!(parse(text).is_none(), "read by the subset: {text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_left_to_serde_yaml() {
        let mut text = String::new();
        for i in 0..2_000 {
            text.push_str(&" ".repeat(i));
            text.push_str("a:\n");
        }
        assert!(parse(&text).is_none());
        let shallow: String = (0..MAX_DEPTH).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
        assert!(agrees(&shallow));
    }

    #[test]
    fn every_recipe_of_the_embedded_tree_agrees() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packages");
        let mut files = vec![];
        collect(&root, &mut files);
        assert!(files.len() > 50, "the embedded tree has its recipes");
        let read = files.iter().filter(|f| agrees(&std::fs::read_to_string(f).unwrap())).count();
        // The subset exists to be the common road: nearly every real recipe takes it.
        assert!(read * 10 >= files.len() * 9, "only {read} of {} recipes are read by the subset", files.len());
    }

    fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                collect(&p, out);
            } else if p.file_name().is_some_and(|n| n == "package.yml") {
                out.push(p);
            }
        }
    }

    /// Mutations of real recipes (characters YAML gives meaning to, inserted, deleted,
    /// lines re-indented): whatever the subset still reads, it reads as serde_yaml does.
    #[test]
    fn mutated_recipes_read_by_the_subset_agree_with_serde_yaml() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packages");
        let mut files = vec![];
        collect(&root, &mut files);
        files.sort();
        let texts: Vec<String> = files.iter().take(40).map(|f| std::fs::read_to_string(f).unwrap()).collect();
        let alphabet = [
            " ", "  ", "-", "- ", ":", ": ", "#", " #", "'", "\"", "[", "]", "{", "}", "\n", "\n  ", "0", "0x", "0b", "1.", "e", "~", "a",
            ",", "\\", "\t", "\r", "—", "&", "*", "!", "|", ">", "?", "%",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut read, mut total) = (0, 0);
        for text in &texts {
            for _ in 0..150 {
                let mut t = text.clone();
                for _ in 0..1 + next(3) {
                    let at = next(t.len() + 1);
                    let at = (0..=at).rev().find(|&i| t.is_char_boundary(i)).unwrap_or(0);
                    match next(3) {
                        0 => t.insert_str(at, alphabet[next(alphabet.len())]),
                        1 => {
                            let end = (at + 1 + next(4)).min(t.len());
                            if t.is_char_boundary(end) {
                                t.replace_range(at..end, "");
                            }
                        }
                        _ => {
                            let line_start = t[..at].rfind('\n').map_or(0, |i| i + 1);
                            t.insert_str(line_start, ["  ", " ", "- "][next(3)]);
                        }
                    }
                }
                total += 1;
                read += agrees(&t) as usize;
            }
        }
        // The mutations are not all outside the subset: the comparison ran on many.
        assert!(read * 5 > total, "{read} of {total} mutants read by the subset");
    }
}
