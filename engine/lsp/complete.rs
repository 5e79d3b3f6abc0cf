//! Completion. It reads the text around the cursor, not the syntax tree: while a name is
//! being typed the declaration around it does not parse, so the context (which block,
//! which clause, the type of `p` before a `.`) is taken from the lines themselves.

use lsp_types as lt;

use super::engine_api::{self as api, Kind, VType};
use super::World;

/// The most package names offered at once (the list is marked incomplete past it).
const MAX_PACKAGES: usize = 200;

const DECL_KEYWORDS: &[&str] = &["tiers", "set", "builder", "classify", "check", "gate", "waive", "divergence", "phase", "patterns", "pred", "alias", "scan"];
const CLAUSES: &[&str] = &["for", "where", "let", "message", "help", "at", "subject", "object", "because", "about", "stability"];

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '@' | '*' | '?')
}

/// The declaration the cursor is in: its first line (a declaration starts at a line's
/// start with its keyword) and the text from there to the cursor.
fn enclosing(text: &str, offset: usize) -> Option<(&str, &str)> {
    let before = &text[..offset];
    let mut pos = before.len();
    loop {
        let line_start = before[..pos].rfind('\n').map_or(0, |i| i + 1);
        let line = &before[line_start..];
        let first = line.split_whitespace().next().unwrap_or("");
        if DECL_KEYWORDS.contains(&first) && !line.starts_with([' ', '\t']) {
            let header = line.lines().next().unwrap_or("");
            return Some((header, &before[line_start..]));
        }
        if line_start == 0 {
            return None;
        }
        pos = line_start - 1;
    }
}

/// Drop a `#` comment and string literals' contents from one line.
fn code_of(line: &str) -> String {
    let mut out = String::new();
    let mut in_str = false;
    let mut esc = false;
    for c in line.chars() {
        if in_str {
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
                out.push('"');
            }
            continue;
        }
        match c {
            '#' => break,
            '"' => {
                in_str = true;
                out.push('"');
            }
            c => out.push(c),
        }
    }
    out
}

/// The variables a check binds before the cursor, with their types.
fn bindings(check_text: &str) -> Vec<(String, VType)> {
    let mut env: Vec<(String, VType)> = vec![];
    for line in check_text.lines() {
        let code = code_of(line);
        let code = code.trim();
        if let Some(rest) = code.strip_prefix("for ") {
            for g in rest.split(',') {
                let Some((var, expr)) = g.split_once(" in ") else { continue };
                let item = match type_of_chain(expr.trim(), &env) {
                    Some(VType::Records(k)) => VType::Record(k),
                    _ => VType::Other("string".into()),
                };
                env.push((var.trim().to_string(), item));
            }
        } else if let Some(rest) = code.strip_prefix("let ") {
            if let Some((var, expr)) = rest.split_once('=') {
                let t = type_of_chain(expr.trim(), &env).unwrap_or(VType::Other("?".into()));
                env.push((var.trim().to_string(), t));
            }
        }
    }
    env
}

/// The type of `a.b.c` (a relation or a variable, then fields; `f(x)` as a function's result).
fn type_of_chain(expr: &str, env: &[(String, VType)]) -> Option<VType> {
    let mut parts = expr.split('.');
    let head = parts.next()?.trim();
    let mut t = if let Some(call) = head.strip_suffix(')').and_then(|h| h.split_once('(')).map(|(f, _)| f) {
        api::function_type(call.trim())?
    } else if let Some((_, t)) = env.iter().rev().find(|(v, _)| v == head) {
        t.clone()
    } else {
        api::relation_type(head)?
    };
    for field in parts {
        let field = field.trim();
        t = match &t {
            VType::Record(k) => match field.split_once('(') {
                Some((m, _)) => api::function_type(m)?,
                None => api::field_type(k, field)?,
            },
            _ => return None,
        };
    }
    Some(t)
}

fn item(label: &str, kind: lt::CompletionItemKind, detail: impl Into<String>, doc: Option<&str>) -> lt::CompletionItem {
    lt::CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: Some(detail.into()),
        documentation: doc.map(|d| lt::Documentation::String(d.to_string())),
        ..Default::default()
    }
}

pub fn completion(w: &World, p: &lt::CompletionParams) -> Option<lt::CompletionResponse> {
    let (file, offset) = w.offset(&p.text_document_position)?;
    let text = w.text(file);
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..offset];
    let word_start = line.char_indices().rev().take_while(|(_, c)| is_name_char(*c) && *c != '.').last().map_or(line.len(), |(i, _)| i);
    let prefix = &line[word_start..];
    let before_word = &line[..word_start];
    let (header, decl_text) = enclosing(text, offset)?;
    let keyword = header.split_whitespace().next().unwrap_or("");
    let on_header = !decl_text.contains('\n');
    let mut items: Vec<lt::CompletionItem> = vec![];
    let mut incomplete = false;
    let names = |kind: Kind| -> Vec<&str> {
        let mut v: Vec<&str> = w.analysis.index.iter().flat_map(|ix| ix.decls.iter()).filter(|d| d.kind == kind).map(|d| d.name.as_str()).collect();
        v.sort();
        v.dedup();
        v
    };
    let mut packages = |items: &mut Vec<lt::CompletionItem>| {
        let Some(facts) = w.facts else { return };
        let list = facts.package_names();
        let from = list.partition_point(|n| n.as_str() < prefix);
        for n in list[from..].iter().take_while(|n| n.starts_with(prefix)).take(MAX_PACKAGES + 1) {
            if items.len() >= MAX_PACKAGES {
                incomplete = true;
                break;
            }
            items.push(item(n, lt::CompletionItemKind::MODULE, "package", None));
        }
    };
    let words: Vec<&str> = before_word.split_whitespace().collect();
    match keyword {
        "set" if !on_header => packages(&mut items),
        "gate" if !on_header => items.extend(names(Kind::Check).into_iter().map(|n| item(n, lt::CompletionItemKind::EVENT, "check", None))),
        "waive" if on_header => match words.as_slice() {
            ["waive"] => items.extend(names(Kind::Check).into_iter().map(|n| item(n, lt::CompletionItemKind::EVENT, "check", None))),
            ["waive", _, "for"] => packages(&mut items),
            _ => {}
        },
        "divergence" if on_header => packages(&mut items),
        "classify" if !on_header => match words.as_slice() {
            [] => items.extend(names(Kind::Tier).into_iter().map(|n| item(n, lt::CompletionItemKind::ENUM_MEMBER, "tier", None))),
            [.., "name", "in"] => items.extend(names(Kind::Set).into_iter().map(|n| item(n, lt::CompletionItemKind::CONSTANT, "set", None))),
            [.., "dir", "is"] => items.extend(names(Kind::Tier).into_iter().map(|n| item(n, lt::CompletionItemKind::ENUM_MEMBER, "tier", None))),
            _ => {}
        },
        "builder" if !on_header => match words.as_slice() {
            ["phase"] => items.extend(names(Kind::Phase).into_iter().map(|n| item(n, lt::CompletionItemKind::EVENT, "phase", None))),
            ["tier"] => items.extend(names(Kind::Tier).into_iter().map(|n| item(n, lt::CompletionItemKind::ENUM_MEMBER, "tier", None))),
            [] if decl_text.contains("names {") && !decl_text.trim_end().ends_with('}') => packages(&mut items),
            _ => {}
        },
        "phase" if !on_header => {
            if let ["after", ..] = words.as_slice() {
                items.extend(names(Kind::Phase).into_iter().map(|n| item(n, lt::CompletionItemKind::EVENT, "phase", None)));
            }
        }
        "check" if !on_header => {
            if let Some(chain) = before_word.strip_suffix('.') {
                // A member: the fields and methods of the record before the dot.
                let start = chain.rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '(' | ')'))).map_or(0, |i| i + 1);
                let env = bindings(decl_text);
                if let Some(VType::Record(k)) = type_of_chain(&chain[start..], &env) {
                    for (name, ty, doc) in api::fields(k) {
                        items.push(item(name, lt::CompletionItemKind::FIELD, format!("{k}.{name}: {ty}"), Some(doc)));
                    }
                    for f in api::functions().into_iter().filter(|f| f.method && f.receiver == Some(k)) {
                        items.push(item(f.name, lt::CompletionItemKind::METHOD, f.signature, Some(f.doc)));
                    }
                }
            } else if words.is_empty() {
                items.extend(CLAUSES.iter().map(|k| item(k, lt::CompletionItemKind::KEYWORD, "clause", None)));
            } else {
                let in_for = words.last() == Some(&"in");
                for (name, kind, doc) in api::relations() {
                    items.push(item(name, lt::CompletionItemKind::STRUCT, format!("relation: list of {kind}"), Some(doc)));
                }
                for (v, t) in bindings(decl_text) {
                    let ty = match t {
                        VType::Record(k) | VType::Records(k) => k.to_string(),
                        VType::Other(s) => s,
                    };
                    items.push(item(&v, lt::CompletionItemKind::VARIABLE, ty, None));
                }
                items.extend(names(Kind::Set).into_iter().map(|n| item(n, lt::CompletionItemKind::CONSTANT, "set", None)));
                if !in_for {
                    for f in api::functions().into_iter().filter(|f| !f.method) {
                        items.push(item(f.name, lt::CompletionItemKind::FUNCTION, f.signature, Some(f.doc)));
                    }
                    items.extend(names(Kind::Classification).into_iter().map(|n| item(n, lt::CompletionItemKind::ENUM, "classification", None)));
                    items.extend(names(Kind::Tier).into_iter().map(|n| item(n, lt::CompletionItemKind::ENUM_MEMBER, "tier", None)));
                    items.extend(["and", "or", "not", "in", "none", "true", "false", "unclear"].iter().map(|k| item(k, lt::CompletionItemKind::KEYWORD, "keyword", None)));
                }
            }
        }
        _ => {}
    }
    if items.is_empty() && line.trim().is_empty() && line.is_empty() {
        items.extend(DECL_KEYWORDS.iter().map(|k| item(k, lt::CompletionItemKind::KEYWORD, "declaration", None)));
    }
    Some(lt::CompletionResponse::List(lt::CompletionList { is_incomplete: incomplete, items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_and_chains_are_typed_from_the_text() {
        let check = "check c halt {\n  for p in packages, d in p.deps\n  let q = d.consumer\n  where q.";
        let env = bindings(check);
        assert_eq!(env.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>(), ["p", "d", "q"]);
        assert_eq!(type_of_chain("q", &env), Some(VType::Record("package")));
        assert_eq!(type_of_chain("d", &env), Some(VType::Record("dep")));
        assert_eq!(enclosing(check, check.len()).map(|(h, _)| h), Some("check c halt {"));
    }
}
