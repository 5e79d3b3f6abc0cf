//! Parsing upstream build files for the dependencies they check for: configure.ac
//! (PKG_CHECK_MODULES, AC_CHECK_LIB, AC_CHECK_HEADERS), meson.build (`dependency()`,
//! `find_program()`) and CMakeLists.txt (`find_package()`).
//!
//! Comments are replaced by spaces so byte offsets (and lines) survive. Conditional context
//! is tracked as +1/-1 events at byte offsets, so a one-line `if ...; then ...; fi` opens
//! and closes on its line and a cmake `endif()` closes its `if()` (the original never did).

use serde::{Deserialize, Serialize};

/// One dependency an upstream build file checks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    pub name: String,
    /// pkg-config, lib, header, meson-dep, program, cmake-package
    pub kind: String,
    pub required: bool,
    pub conditional: bool,
    /// Byte range of the name in the file.
    pub start: usize,
    pub end: usize,
    pub line: usize,
}

/// Which parser a file name selects.
pub fn parse_file(base: &str, text: &str) -> Vec<Found> {
    match base {
        "configure.ac" | "configure.in" => autotools(text),
        "meson.build" => meson(text),
        "CMakeLists.txt" => cmake(text),
        _ => vec![],
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn line_of(text: &str, off: usize) -> usize {
    text.as_bytes()[..off.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Replace comments by spaces. `dnl` (autotools only) at a word boundary, `#` outside
/// quotes (and, for autotools, at a word start so `$#` is not a comment).
fn strip_comments(text: &str, dnl: bool, hash_needs_space: bool) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            quote = None;
            i += 1;
            continue;
        }
        if let Some(q) = quote {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        let at_word_start = i == 0 || !is_word(b[i - 1]);
        let comment = (c == b'#' && (!hash_needs_space || i == 0 || b[i - 1].is_ascii_whitespace() || b[i - 1] == b';'))
            || (dnl && at_word_start && b[i..].starts_with(b"dnl") && !matches!(b.get(i + 3), Some(&x) if is_word(x)));
        if comment {
            while i < b.len() && b[i] != b'\n' {
                out[i] = b' ';
                i += 1;
            }
            continue;
        }
        if c == b'"' || c == b'\'' {
            quote = Some(c);
        }
        i += 1;
    }
    // Only ASCII bytes were replaced by ASCII spaces, so this stays valid UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// Calls `NAME(` at a word boundary: (name start, open paren, close paren). Parens are
/// counted outside m4 `[...]` quotes (autotools) or string quotes (meson, cmake).
fn calls(text: &str, name: &str, case_insensitive: bool, m4: bool) -> Vec<(usize, usize, usize)> {
    let b = text.as_bytes();
    let n = name.len();
    let mut out = vec![];
    let mut i = 0;
    while i + n <= b.len() {
        let hit = if case_insensitive { b[i..i + n].eq_ignore_ascii_case(name.as_bytes()) } else { &b[i..i + n] == name.as_bytes() };
        if hit && (i == 0 || !is_word(b[i - 1])) && !matches!(b.get(i + n), Some(&x) if is_word(x)) {
            let mut j = i + n;
            while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
            if b.get(j) == Some(&b'(') {
                if let Some(close) = matching_paren(b, j, m4) {
                    out.push((i, j, close));
                    i = j + 1;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

fn matching_paren(b: &[u8], open: usize, m4: bool) -> Option<usize> {
    let (mut paren, mut bracket) = (0i32, 0i32);
    let mut quote: Option<u8> = None;
    let mut i = open;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            b'[' if m4 => bracket += 1,
            b']' if m4 => bracket = (bracket - 1).max(0),
            b'\'' | b'"' if !m4 => quote = Some(c),
            b'(' if bracket == 0 => paren += 1,
            b')' if bracket == 0 => {
                paren -= 1;
                if paren == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Top-level arguments (byte ranges) of a call, split on commas outside `[...]`/parens.
fn args(text: &str, open: usize, close: usize, m4: bool) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = vec![];
    let (mut paren, mut bracket) = (0i32, 0i32);
    let mut quote: Option<u8> = None;
    let mut start = open + 1;
    for (i, &c) in b.iter().enumerate().take(close).skip(open + 1) {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            b'[' => bracket += 1,
            b']' => bracket -= 1,
            b'(' => paren += 1,
            b')' => paren -= 1,
            b'\'' if !m4 => quote = Some(c),
            b',' if paren == 0 && bracket == 0 => {
                out.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push((start, close));
    out
}

/// An argument without surrounding blanks and outer m4 quotes: (start, end).
fn unquote(text: &str, (mut s, mut e): (usize, usize)) -> (usize, usize) {
    let b = text.as_bytes();
    loop {
        while s < e && b[s].is_ascii_whitespace() {
            s += 1;
        }
        while e > s && b[e - 1].is_ascii_whitespace() {
            e -= 1;
        }
        if e - s >= 2 && b[s] == b'[' && b[e - 1] == b']' {
            s += 1;
            e -= 1;
        } else {
            return (s, e);
        }
    }
}

/// Depth of conditional context at each offset, from sorted +1/-1 events.
struct Depth(Vec<(usize, i32)>);

impl Depth {
    fn at(&self, off: usize) -> bool {
        let mut d = 0;
        for &(o, delta) in &self.0 {
            if o > off {
                break;
            }
            d = (d + delta).max(0);
        }
        d > 0
    }
}

/// Shell keywords at statement starts: `if`/`case` open, `fi`/`esac` close. A statement
/// starts at a line start or after `;`, `&&`, `||`, `then`, `else`, `do`, `[` or `(`.
fn shell_events(text: &str) -> Vec<(usize, i32)> {
    let b = text.as_bytes();
    let mut ev = vec![];
    let mut i = 0;
    let mut stmt_start = true;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' || c == b';' || c == b'[' || c == b'(' || c == b'&' || c == b'|' {
            stmt_start = true;
            i += 1;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if is_word(c) || c == b'-' {
            let s = i;
            while i < b.len() && (is_word(b[i]) || b[i] == b'-') {
                i += 1;
            }
            let w = &text[s..i];
            if stmt_start {
                match w {
                    "if" | "case" => ev.push((s, 1)),
                    "fi" | "esac" => ev.push((s, -1)),
                    _ => {}
                }
            }
            stmt_start = matches!(w, "then" | "else" | "do");
            continue;
        }
        stmt_start = false;
        i += 1;
    }
    ev
}

fn autotools(raw: &str) -> Vec<Found> {
    let text = strip_comments(raw, true, true);
    let mut events = shell_events(&text);
    for m in ["AS_IF", "AS_CASE", "AC_ARG_WITH", "AC_ARG_ENABLE"] {
        for (_, open, close) in calls(&text, m, false, true) {
            events.push((open, 1));
            events.push((close, -1));
        }
    }
    events.sort();
    let depth = Depth(events);
    let has_error = |t: &str| t.contains("AC_MSG_ERROR") || t.contains("AC_MSG_FAILURE");
    let mut out = vec![];
    let push = |out: &mut Vec<Found>, name: &str, kind: &str, required: bool, s: usize, at: usize| {
        out.push(Found {
            name: name.to_string(),
            kind: kind.into(),
            required,
            conditional: depth.at(at),
            start: s,
            end: s + name.len(),
            line: line_of(&text, s),
        });
    };
    for (at, open, close) in calls(&text, "PKG_CHECK_MODULES", false, true) {
        let a = args(&text, open, close, true);
        let Some(&mods) = a.get(1) else { continue };
        let required = match a.get(3) {
            Some(&x) => {
                let (s, e) = unquote(&text, x);
                s == e || has_error(&text[s..e])
            }
            None => true,
        };
        let (s, e) = unquote(&text, mods);
        for (ts, tok) in tokens(&text, s, e) {
            let bad = tok.starts_with(|c: char| c.is_ascii_digit())
                || tok.contains('$')
                || !tok.chars().any(|c| c.is_ascii_alphabetic());
            if !bad {
                push(&mut out, tok, "pkg-config", required, ts, at);
            }
        }
    }
    for (at, open, close) in calls(&text, "AC_CHECK_LIB", false, true) {
        let a = args(&text, open, close, true);
        let (s, e) = unquote(&text, a[0]);
        let name = &text[s..e];
        if name.is_empty() || !name.bytes().all(|c| is_word(c) || c == b'.' || c == b'-' || c == b'+') {
            continue;
        }
        let required = a.get(3).is_some_and(|&x| has_error(&text[x.0..x.1]));
        push(&mut out, name, "lib", required, s, at);
    }
    for (at, open, close) in calls(&text, "AC_CHECK_HEADERS", false, true) {
        let a = args(&text, open, close, true);
        let (s, e) = unquote(&text, a[0]);
        let required = a.get(2).is_some_and(|&x| has_error(&text[x.0..x.1]));
        for (ts, tok) in tokens(&text, s, e) {
            if tok.ends_with(".h") && tok.bytes().all(|c| is_word(c) || b"./-+".contains(&c)) {
                push(&mut out, tok, "header", required, ts, at);
            }
        }
    }
    out.sort_by_key(|f| f.start);
    out
}

/// Whitespace-separated tokens of `text[s..e]` with their offsets.
fn tokens(text: &str, s: usize, e: usize) -> Vec<(usize, &str)> {
    let mut out = vec![];
    let mut i = s;
    let b = text.as_bytes();
    while i < e {
        while i < e && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let st = i;
        while i < e && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i > st {
            out.push((st, &text[st..i]));
        }
    }
    out
}

/// Meson `if`/`endif` as the first word of a line.
fn line_events(text: &str, open: &[&str], close: &str) -> Vec<(usize, i32)> {
    let mut ev = vec![];
    let mut off = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        let start = off + (line.len() - t.len());
        let word: String = t.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if open.contains(&word.as_str()) {
            ev.push((start, 1));
        } else if word == close {
            ev.push((start, -1));
        }
        off += line.len();
    }
    ev
}

fn meson(raw: &str) -> Vec<Found> {
    let text = strip_comments(raw, false, false);
    let depth = Depth(line_events(&text, &["if"], "endif"));
    let mut out = vec![];
    for (func, kind) in [("dependency", "meson-dep"), ("find_program", "program")] {
        for (at, open, close) in calls(&text, func, false, false) {
            let a = args(&text, open, close, false);
            let (s, e) = unquote(&text, a[0]);
            let first = &text[s..e];
            if first.len() < 2 || !first.starts_with('\'') || !first.ends_with('\'') {
                continue;
            }
            let name = &first[1..first.len() - 1];
            if name.is_empty() || name.contains('\'') {
                continue;
            }
            let required = a.iter().skip(1).all(|&(as_, ae)| {
                let arg = text[as_..ae].trim();
                match arg.strip_prefix("required") {
                    Some(rest) if rest.trim_start().starts_with(':') => {
                        rest.trim_start()[1..].trim_start().split(|c: char| !c.is_ascii_alphanumeric() && c != '_').next() == Some("true")
                    }
                    _ => true,
                }
            });
            out.push(Found {
                name: name.to_string(),
                kind: kind.into(),
                required,
                conditional: depth.at(at),
                start: s + 1,
                end: s + 1 + name.len(),
                line: line_of(&text, s),
            });
        }
    }
    out.sort_by_key(|f| f.start);
    out
}

fn cmake(raw: &str) -> Vec<Found> {
    let text = strip_comments(raw, false, false);
    let mut events = vec![];
    for (at, _, _) in calls(&text, "if", true, false) {
        events.push((at, 1));
    }
    for (at, _, _) in calls(&text, "endif", true, false) {
        events.push((at, -1));
    }
    events.sort();
    let depth = Depth(events);
    let mut out = vec![];
    for (at, open, close) in calls(&text, "find_package", true, false) {
        let toks = tokens(&text, open + 1, close);
        let Some(&(s, name)) = toks.first() else { continue };
        if name.contains('$') || name.contains('"') {
            continue;
        }
        let required = toks.iter().skip(1).any(|(_, t)| *t == "REQUIRED");
        out.push(Found {
            name: name.to_string(),
            kind: "cmake-package".into(),
            required,
            conditional: depth.at(at),
            start: s,
            end: s + name.len(),
            line: line_of(&text, s),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[Found]) -> Vec<(String, bool, bool, usize)> {
        v.iter().map(|f| (f.name.clone(), f.required, f.conditional, f.line)).collect()
    }

    #[test]
    fn configure_ac() {
        let t = "AC_INIT([x],[1])\n\
                 dnl PKG_CHECK_MODULES([OLD], [old])\n\
                 PKG_CHECK_MODULES([LUA], [lua >= 5.2], [], [AC_MSG_ERROR([need lua :)])])\n\
                 if test x = y; then PKG_CHECK_MODULES([A], [inline]); fi\n\
                 PKG_CHECK_MODULES([Z], [zstd], [have=yes], [have=no])\n\
                 AS_IF([test x = y], [\n  PKG_CHECK_MODULES([P], [libproxy-1.0])\n])\n\
                 AC_CHECK_LIB([crypto], [f], [], [AC_MSG_ERROR([no])])\n\
                 AC_CHECK_HEADERS([fcntl.h sys/time.h])\n\
                 AC_MSG_ERROR([fail if missing])\n\
                 PKG_CHECK_MODULES([LAST], [last])\n";
        assert_eq!(
            names(&autotools(t)),
            vec![
                ("lua".into(), true, false, 3),
                ("inline".into(), true, true, 4),
                ("zstd".into(), false, false, 5),
                ("libproxy-1.0".into(), true, true, 7),
                ("crypto".into(), true, false, 9),
                ("fcntl.h".into(), false, false, 10),
                ("sys/time.h".into(), false, false, 10),
                ("last".into(), true, false, 12),
            ]
        );
    }

    #[test]
    fn meson_build() {
        let t = "project('x')\n# dependency('commented')\nglib = dependency('glib-2.0')\nx = dependency('x', required: false)\nif get_option('a')\n  y = dependency('y')\nendif\nz = dependency('z', required: get_option('z'))\nfind_program('xmllint')\n";
        assert_eq!(
            names(&meson(t)),
            vec![
                ("glib-2.0".into(), true, false, 3),
                ("x".into(), false, false, 4),
                ("y".into(), true, true, 6),
                ("z".into(), false, false, 8),
                ("xmllint".into(), true, false, 9),
            ]
        );
    }

    #[test]
    fn cmake_lists() {
        let t = "find_package(ZLIB REQUIRED)\nif(WITH_SSL)\n  find_package(OpenSSL REQUIRED)\nendif()\n# find_package(Nope REQUIRED)\nfind_package(PNG REQUIRED)\nfind_package(Qt5)\n";
        assert_eq!(
            names(&cmake(t)),
            vec![
                ("ZLIB".into(), true, false, 1),
                ("OpenSSL".into(), true, true, 3),
                ("PNG".into(), true, false, 6),
                ("Qt5".into(), false, false, 7),
            ]
        );
    }

    #[test]
    fn malformed_input_never_panics() {
        let nasty = [
            "PKG_CHECK_MODULES(", "PKG_CHECK_MODULES([A], [b", "dependency('", "dependency('x'", "find_package(",
            "if(\nendif()\nendif()\nfind_package(X REQUIRED)", "fi\nfi\nPKG_CHECK_MODULES([A],[b])", "\\", "'\\",
            "dnl", "# é ü ñ PKG_CHECK_MODULES([x],[y])", "PKG_CHECK_MODULES([é],[ü >= 1])", "AC_CHECK_LIB()", "AC_CHECK_HEADERS()",
            "dependency(required: true)", "find_program()", "AS_IF([", "]]]]))))", "\u{0}\u{ffff}",
        ];
        for t in nasty {
            for base in ["configure.ac", "meson.build", "CMakeLists.txt"] {
                let _ = parse_file(base, t);
            }
        }
        // An unmatched endif() does not make later calls conditional or negative.
        let c = cmake("endif()\nfind_package(X REQUIRED)\n");
        assert!(c[0].required && !c[0].conditional);
    }
}
