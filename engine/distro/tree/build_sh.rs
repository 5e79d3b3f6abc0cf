//! build.sh: which shell functions a recipe defines, whether each does anything, and the
//! header comment (a metapackage says so there). A light scanner, not a shell parser:
//! enough for real recipes, and it never panics on anything.

use crate::source::{SourceId, Span};

#[derive(Debug, Clone)]
pub struct ShFunction {
    pub name: String,
    /// Where the name is written.
    pub span: Span,
    /// The body does nothing: empty, only `:`, `true`, `set -e`, `return 0` or comments.
    pub is_stub: bool,
}

#[derive(Debug, Clone)]
pub struct BuildScript {
    pub file: SourceId,
    pub functions: Vec<ShFunction>,
    /// The comment block at the top (after the shebang), without `#` markers.
    pub header_comment: String,
}

/// `name() {` or `function name {` / `function name() {` at the start of a line.
fn definition(line: &str) -> Option<(usize, &str)> {
    let indent = line.len() - line.trim_start().len();
    let mut s = line.trim_start();
    let mut at = indent;
    if let Some(rest) = s.strip_prefix("function ") {
        at += s.len() - rest.trim_start().len();
        s = rest.trim_start();
    }
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ':'))?;
    if end == 0 {
        return None;
    }
    let name = &s[..end];
    let rest = s[end..].trim_start();
    let rest = match rest.strip_prefix("()") {
        Some(r) => r.trim_start(),
        None if line.trim_start().starts_with("function ") => rest,
        None => return None,
    };
    if rest.starts_with('{') || rest.is_empty() {
        Some((at, name))
    } else {
        None
    }
}

/// Brace depth change of a line, ignoring quoted text and comments.
fn brace_delta(line: &str) -> i32 {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for c in line.chars() {
        match quote {
            Some(q) if c == q && prev != '\\' => quote = None,
            Some(_) => {}
            None => match c {
                '#' if prev == ' ' || prev == '\t' => break,
                '\'' | '"' => quote = Some(c),
                '{' if prev != '$' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            },
        }
        prev = if c == '$' && prev == '$' { ' ' } else { c };
    }
    depth
}

fn is_noop(line: &str) -> bool {
    let t = line.trim().trim_end_matches(';').trim();
    t.is_empty() || t.starts_with('#') || matches!(t, ":" | "true" | "set -e" | "return 0" | "return" | "{" | "}")
}

pub fn parse(file: SourceId, text: &str) -> BuildScript {
    let mut header = vec![];
    let mut in_header = true;
    let mut functions = vec![];
    let lines: Vec<(usize, &str)> = {
        let mut off = 0;
        text.split_inclusive('\n')
            .map(|l| {
                let start = off;
                off += l.len();
                (start, l.trim_end_matches(['\n', '\r']))
            })
            .collect()
    };
    let mut i = 0;
    while i < lines.len() {
        let (start, line) = lines[i];
        let t = line.trim();
        if in_header {
            if t.starts_with("#!") && i == 0 {
                i += 1;
                continue;
            }
            if let Some(c) = t.strip_prefix('#') {
                header.push(c.trim().to_string());
                i += 1;
                continue;
            }
            if !t.is_empty() {
                in_header = false;
            }
        }
        if let Some((at, name)) = definition(line) {
            // Body: from this line until the braces balance.
            let mut depth = brace_delta(line);
            let mut body: Vec<&str> = vec![];
            let opened_here = depth > 0;
            let after_brace = line.split_once('{').map(|x| x.1).unwrap_or("");
            if opened_here {
                body.push(after_brace);
            }
            let mut j = i + 1;
            let mut seen_open = opened_here;
            while j < lines.len() {
                let l = lines[j].1;
                let d = brace_delta(l);
                if !seen_open && d > 0 {
                    seen_open = true;
                    depth += d;
                    body.push(l.split_once('{').map(|x| x.1).unwrap_or(""));
                    j += 1;
                    continue;
                }
                depth += d;
                if depth <= 0 && seen_open {
                    body.push(l.rsplit_once('}').map(|x| x.0).unwrap_or(""));
                    break;
                }
                body.push(l);
                j += 1;
            }
            // A one-line body like `configure() { :; }`.
            let body_text: Vec<String> = body
                .iter()
                .flat_map(|l| l.split(';').map(|s| s.replace('}', "").to_string()).collect::<Vec<_>>())
                .collect();
            let is_stub = body_text.iter().all(|l| is_noop(l));
            functions.push(ShFunction {
                name: name.to_string(),
                span: Span::new(file, start + at, start + at + name.len()),
                is_stub,
            });
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    BuildScript { file, functions, header_comment: header.join("\n") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fns(text: &str) -> Vec<(String, bool)> {
        parse(SourceId(0), text).functions.into_iter().map(|f| (f.name, f.is_stub)).collect()
    }

    #[test]
    fn real_and_stub_functions() {
        let text = "#!/bin/bash\n# Intentionally meta.\nconfigure() {\n  :\n}\nbuild() {\n  make -j\"$(nproc)\" # go\n}\nfunction do_install {\n  set -e\n  make DESTDIR=\"${DESTDIR}\" install\n}\npost_install() { :; }\n";
        assert_eq!(
            fns(text),
            [("configure".into(), true), ("build".into(), false), ("do_install".into(), false), ("post_install".into(), true)]
        );
        assert_eq!(parse(SourceId(0), text).header_comment, "Intentionally meta.");
    }

    #[test]
    fn braces_in_strings_do_not_confuse() {
        let text = "build() {\n  echo \"}\"\n  make\n}\ndo_install() {\n  true\n}\n";
        assert_eq!(fns(text), [("build".into(), false), ("do_install".into(), true)]);
    }

    #[test]
    fn garbage_does_not_panic() {
        for t in ["{{{{", "}}}}", "f() {", "function", "() {}", "\u{0}\u{1}x() {\n"] {
            let _ = parse(SourceId(0), t);
        }
    }
}
