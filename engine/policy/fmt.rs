//! `igos fmt`: the one canonical layout of rule files.
//!
//! The language is line-oriented, so formatting is too: indentation by block depth (two
//! spaces), a run of blanks inside a line made one space (strings and comments are kept as
//! written), no trailing whitespace, at most one blank line in a row, none right after `{`
//! or before `}`, one newline at the end; the layers of a `classify` block aligned as a
//! table. Inside a `set` block, where order has no meaning,
//! items are sorted (included names first, then `!` exclusions), each keeping the comment
//! lines written above it and its trailing comment. Everywhere else the written order is
//! the meaning and is kept. Comments are never dropped.
//!
//! Formatting only runs on files that parse, and the result is re-parsed and compared by
//! the caller (`igos fmt` refuses to write a file whose meaning would change).

/// Format one rule file's text. Line endings are kept: a CRLF file stays CRLF (and a
/// byte-order mark stays), so formatting never rewrites every line of a Windows checkout.
pub fn format(text: &str) -> String {
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    };
    let out = format_lf(body);
    if body.contains("\r\n") {
        format!("{bom}{}", out.replace('\n', "\r\n"))
    } else {
        format!("{bom}{out}")
    }
}

fn format_lf(text: &str) -> String {
    let mut out: Vec<String> = vec![];
    let mut depth: usize = 0;
    let mut set_block: Option<Vec<(Vec<String>, String)>> = None; // (comments above, item line)
    let mut pending_comments: Vec<String> = vec![];
    for raw in text.lines() {
        let normalized = normalize(raw.trim());
        let line = normalized.as_str();
        if let Some(items) = set_block.as_mut() {
            if closes_block(line) {
                let mut items = std::mem::take(items);
                items.sort_by_cached_key(|a| sort_key(&a.1));
                for (comments, item) in items {
                    for c in comments {
                        out.push(indent(depth, &c));
                    }
                    out.push(indent(depth, &item));
                }
                for c in pending_comments.drain(..) {
                    out.push(indent(depth, &c));
                }
                set_block = None;
                depth = depth.saturating_sub(1);
                out.push(indent(depth, line));
            } else if line.starts_with('#') {
                pending_comments.push(line.to_string());
            } else if !line.is_empty() {
                items.push((std::mem::take(&mut pending_comments), normalized.clone()));
            }
            continue;
        }
        if line.is_empty() {
            if out.last().is_some_and(|l| !l.is_empty() && !l.ends_with('{')) {
                out.push(String::new());
            }
            continue;
        }
        let opens = opens_block(line);
        let closes = line.starts_with('}');
        if closes {
            depth = depth.saturating_sub(1);
            while out.last().is_some_and(|l| l.is_empty()) {
                out.pop();
            }
        }
        out.push(indent(depth, line));
        if opens {
            depth += 1;
            // Set bodies, where order has no meaning: sets, aliases, the scan's ignore list.
            if line.starts_with("set ") || line.starts_with("alias ") || line.starts_with("scan ") {
                set_block = Some(vec![]);
            }
        }
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    align_layers(&mut out);
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// Inside a `classify` block the layers read as a table: each layer's tier is padded to
/// the longest tier of the block, so the `if` conditions start in one column.
fn align_layers(out: &mut [String]) {
    let mut i = 0;
    while i < out.len() {
        if !(out[i].starts_with("classify ") && opens_block(&out[i])) {
            i += 1;
            continue;
        }
        let end = (i + 1..out.len()).find(|&k| !out[k].starts_with(' ') && closes_block(&out[k])).unwrap_or(out.len());
        let layer_tier = |line: &str| -> Option<usize> {
            let code = code_part(line).trim();
            let (tier, rest) = code.split_once(' ')?;
            rest.starts_with("if ").then_some(tier.len())
        };
        let width = out[i + 1..end].iter().filter_map(|l| layer_tier(l)).max().unwrap_or(0);
        for line in &mut out[i + 1..end] {
            if let Some(len) = layer_tier(line) {
                let body = line.trim_start();
                let indent = line.len() - body.len();
                *line = format!("{}{}{}{}", &line[..indent], &body[..len], " ".repeat(width - len + 1), &body[len + 1..]);
            }
        }
        i = end;
    }
}

/// Sort included names before exclusions, then by name.
fn sort_key(item: &str) -> (bool, String) {
    let code = code_part(item).trim();
    (code.starts_with('!'), code.trim_start_matches('!').to_string())
}

fn indent(depth: usize, line: &str) -> String {
    if line.is_empty() {
        String::new()
    } else {
        format!("{}{}", "  ".repeat(depth), line)
    }
}

/// The code part of a line (before a comment that is not inside a string).
fn code_part(line: &str) -> &str {
    match lex(line).find(|&(_, c, quoted)| c == '#' && !quoted) {
        Some((i, _, _)) => &line[..i],
        None => line,
    }
}

/// Each character of a line with its byte offset and whether it belongs to a string
/// literal's text (quotes included). Inside a string `\` escapes the next character, as in
/// the grammar (`"C:\\"` ends at its last quote), and `{...}` is a template hole: code
/// again, which may hold strings of its own (`"{p.field("a  b")}"`).
fn lex(line: &str) -> impl Iterator<Item = (usize, char, bool)> + '_ {
    // What encloses the character: '"' a string's text, '{' a hole inside a string.
    let mut stack: Vec<char> = vec![];
    let mut escaped = false;
    line.char_indices().map(move |(i, c)| {
        let in_text = stack.last() == Some(&'"');
        let quoted = in_text || c == '"';
        if in_text {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                stack.pop();
            } else if c == '{' {
                stack.push('{');
            }
        } else if c == '"' {
            stack.push('"');
        } else if c == '}' && stack.last() == Some(&'{') {
            stack.pop();
        }
        (i, c, quoted)
    })
}

/// The line closes a block: `}`, maybe with a comment after it.
fn closes_block(line: &str) -> bool {
    code_part(line).trim() == "}"
}

fn opens_block(line: &str) -> bool {
    let code = code_part(line).trim_end();
    code.ends_with('{') && !code.ends_with("{}") && !line.trim_start().starts_with('#')
}

/// Runs of spaces and tabs in the code part become one space (outside strings, where
/// whitespace only separates tokens); two spaces before a trailing comment, which is kept
/// as written.
fn normalize(line: &str) -> String {
    let code = code_part(line);
    let spaced = collapse_spaces(code.trim());
    let spaced = pred_header(&spaced).unwrap_or(spaced);
    if code.len() == line.len() {
        return spaced;
    }
    let comment = line[code.len()..].trim_end();
    if spaced.is_empty() {
        comment.to_string()
    } else {
        format!("{spaced}  {comment}")
    }
}

/// A predicate's header written one way: `pred name(p: package, n: string) = body`.
/// None when the line is not a predicate (or not one this can read: left as written).
fn pred_header(code: &str) -> Option<String> {
    let rest = code.strip_prefix("pred ")?;
    let open = rest.find('(')?;
    let close = open + rest[open..].find(')')?;
    let name = rest[..open].trim();
    let body = rest[close + 1..].trim_start().strip_prefix('=')?.trim_start();
    let params: Vec<String> = rest[open + 1..close]
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.split_once(':').map(|(n, t)| format!("{}: {}", n.trim(), t.trim())))
        .collect::<Option<_>>()?;
    Some(format!("pred {name}({}) = {body}", params.join(", ")))
}

/// One space for each run of blanks outside a string literal.
fn collapse_spaces(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut blank_run = false;
    for (_, c, quoted) in lex(code) {
        let blank = !quoted && (c == ' ' || c == '\t');
        if !(blank && blank_run) {
            out.push(if blank { ' ' } else { c });
        }
        blank_run = blank;
    }
    out
}

/// What a rule file means, independent of layout: its syntax tree without positions,
/// with set items in sorted order (their order has no meaning).
pub fn meaning(text: &str) -> Option<String> {
    let mut file = crate::lang::syntax::parse(crate::source::SourceId(0), text).ok()?;
    for d in &mut file.decls {
        if let crate::lang::ast::Decl::Set(s) = d {
            if let crate::lang::ast::SetBody::Items(items) = &mut s.body {
                items.sort_by(|a, b| (a.exclude, &a.pattern.text).cmp(&(b.exclude, &b.pattern.text)));
            }
        }
    }
    let debug = format!("{:?}", file.decls);
    // Drop every `Span { .. }`: positions are layout, not meaning.
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(i) = rest.find("Span {") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let close = tail.find('}').map(|j| j + 1).unwrap_or(tail.len());
        rest = &tail[close..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::format;

    /// `text` formats to `want`, and `want` is already formatted.
    fn formats_to(text: &str, want: &str) {
        assert_eq!(format(text), want);
        assert_eq!(format(want), want);
    }

    #[test]
    fn predicate_headers_are_written_one_way() {
        formats_to(
            "policy 1\npred  in_scope( p :package ,n:string )=p.tier in s   and not p.pending  # why\n",
            "policy 1\npred in_scope(p: package, n: string) = p.tier in s and not p.pending  # why\n",
        );
        formats_to("policy 1\npred none_at_all()=true\n", "policy 1\npred none_at_all() = true\n");
    }

    #[test]
    fn alias_and_scan_ignore_bodies_are_sorted_like_sets() {
        formats_to(
            "policy 1\nalias zlib {\n  zlib*\n  libz\n}\nscan ignore {\n  !x\n  c\n  awk\n}\n",
            "policy 1\nalias zlib {\n  libz\n  zlib*\n}\nscan ignore {\n  awk\n  c\n  !x\n}\n",
        );
    }

    #[test]
    fn sorts_sets_keeps_comments_and_order_elsewhere() {
        let text = "policy 1\n\n\n\nset s {\n    zeta\n# about alpha\nalpha   # the first\n  !beta*\n}\nclassify c {\n  base if name in s\n      else unclear\n}\n\n\n";
        formats_to(text, "policy 1\n\nset s {\n  # about alpha\n  alpha  # the first\n  zeta\n  !beta*\n}\nclassify c {\n  base if name in s\n  else unclear\n}\n");
    }

    #[test]
    fn strings_inside_template_holes_keep_their_blanks() {
        for line in [
            "  message \"{p.name}: {package(\"a  b\").name}\"",
            "  help \"see {p.field(\"a\tb\")}\"",
            "  message \"{p.field(\"#x\")}\"  # a comment",
        ] {
            let text = format!("policy 1\ncheck c halt {{\n{line}\n}}\n");
            formats_to(&text, &text);
        }
    }

    #[test]
    fn a_block_closed_with_a_comment_is_closed() {
        let text = "policy 1\nset s {\n  b\n  a\n}  # end of s\nclassify c {\n  base if name in s\n  toolchain if dir is toolchain\n}  # end\nclassify d {\n  core if name in s\n}\n";
        formats_to(text, "policy 1\nset s {\n  a\n  b\n}  # end of s\nclassify c {\n  base      if name in s\n  toolchain if dir is toolchain\n}  # end\nclassify d {\n  core if name in s\n}\n");
    }

    #[test]
    fn strings_keep_their_blanks_and_an_escaped_backslash_ends_them() {
        let text = "policy 1\ncheck c halt {\n  about   \"a  \\\"b\\\\\"   #   a  comment\n}\n";
        formats_to(text, "policy 1\ncheck c halt {\n  about \"a  \\\"b\\\\\"  #   a  comment\n}\n");
    }
}
