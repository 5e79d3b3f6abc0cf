//! What the tree says, in the rules: a code lens per check (how many packages it flags on
//! the tree now), inlay hints (a set entry's natural tier where it differs from the set's),
//! and code actions that apply the documented fixes.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use lsp_server::ErrorCode;
use lsp_types::{self as lt, Url};

use super::engine_api::{self as api, Ctx, Kind};
use super::text::Lines;
use super::{Failure, World};

/// The command a code lens carries: `igos.findings CHECK` answers with the check's findings.
pub const FINDINGS_COMMAND: &str = "igos.findings";
/// How far ahead a new waiver expires.
const WAIVER_DAYS: i64 = 90;
/// The most fixes of one kind offered at once.
const MAX_ACTIONS: usize = 10;

pub fn code_lens(w: &World, p: &lt::CodeLensParams) -> Option<Vec<lt::CodeLens>> {
    let file = w.file_of(&p.text_document.uri)?;
    let a = w.analysis;
    let lenses = a.index[file]
        .decls
        .iter()
        .filter(|d| d.kind == Kind::Check)
        .map(|d| {
            let title = if !a.clean {
                "the rules do not compile: nothing evaluated".to_string()
            } else if w.facts.is_none() {
                "no tree loaded".to_string()
            } else {
                let (open, subjects, waived) = a.counts(&d.name);
                let mut t = if open == 0 { "flags nothing on the tree now".to_string() } else { format!("flags {} on the tree now", api::plural(subjects, "subject")) };
                if open != subjects {
                    t.push_str(&format!(" ({})", api::plural(open, "finding")));
                }
                if waived > 0 {
                    t.push_str(&format!(", {waived} waived"));
                }
                t
            };
            lt::CodeLens {
                range: w.range(file, d.name_at.clone()),
                command: Some(lt::Command { title, command: FINDINGS_COMMAND.into(), arguments: Some(vec![serde_json::json!(d.name)]) }),
                data: None,
            }
        })
        .collect();
    Some(lenses)
}

/// `igos.findings CHECK`: the check's findings on the tree now (subject, message, waived).
pub fn execute(w: &World, p: &lt::ExecuteCommandParams) -> Result<serde_json::Value, Failure> {
    if p.command != FINDINGS_COMMAND {
        return Err((ErrorCode::InvalidParams as i32, format!("unknown command `{}`", p.command)));
    }
    let Some(check) = p.arguments.first().and_then(|v| v.as_str()) else {
        return Err((ErrorCode::InvalidParams as i32, format!("{FINDINGS_COMMAND} takes a check id")));
    };
    let list: Vec<serde_json::Value> = w
        .analysis
        .findings
        .iter()
        .filter(|f| f.check == check)
        .map(|f| serde_json::json!({"subject": f.subject, "message": f.message, "waived": f.waived}))
        .collect();
    Ok(serde_json::Value::Array(list))
}

pub fn inlay_hints(w: &World, p: &lt::InlayHintParams) -> Option<Vec<lt::InlayHint>> {
    let file = w.file_of(&p.text_document.uri)?;
    let facts = w.facts?;
    let a = w.analysis;
    if !a.clean {
        return Some(vec![]);
    }
    let lines = &w.files[file].1;
    let text = w.text(file);
    let (from, to) = (lines.offset(text, p.range.start, w.enc), lines.offset(text, p.range.end, w.enc));
    let mut out = vec![];
    for o in a.index[file].occs.iter().filter(|o| o.kind == Kind::Package && o.at.start >= from && o.at.end <= to) {
        let Ctx::SetEntry { set } = &o.ctx else { continue };
        let Some((cl, tier)) = a.set_tier(facts, set) else { continue };
        let Some(natural) = a.natural_tier(facts, &cl, &o.name) else { continue };
        if natural != tier {
            out.push(lt::InlayHint {
                position: lines.position(text, o.at.end, w.enc),
                label: lt::InlayHintLabel::String(format!("→ {natural}")),
                kind: None,
                text_edits: None,
                tooltip: Some(lt::InlayHintTooltip::String(format!(
                    "{}'s natural tier is {natural}, not {tier}: an earlier layer of `{cl}` decides",
                    o.name
                ))),
                padding_left: Some(true),
                padding_right: None,
                data: None,
            });
        }
    }
    Some(out)
}

/// A text and its URI, for an edit: the analysed text of a rule file, else the disk's.
fn target(w: &World, path: &Path) -> Option<(Url, String)> {
    if let Some(f) = w.analysis.file_of(path) {
        return Some((w.uri(f).clone(), w.text(f).to_string()));
    }
    let text = api::read_list_file(path).unwrap_or_default();
    Some((Url::from_file_path(path).ok()?, text))
}

/// An edit appending `line` to a file (a newline first when the file does not end with one).
fn append(w: &World, uri: Url, text: &str, line: &str) -> (Url, lt::TextEdit) {
    let lines = Lines::new(text);
    let end = lines.position(text, text.len(), w.enc);
    let sep = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
    (uri, lt::TextEdit::new(lt::Range::new(end, end), format!("{sep}{line}")))
}

fn action(title: String, edits: Vec<(Url, lt::TextEdit)>, diagnostics: Option<Vec<lt::Diagnostic>>) -> lt::CodeActionOrCommand {
    let mut changes: HashMap<Url, Vec<lt::TextEdit>> = HashMap::new();
    for (u, e) in edits {
        changes.entry(u).or_default().push(e);
    }
    lt::CodeActionOrCommand::CodeAction(lt::CodeAction {
        title,
        kind: Some(lt::CodeActionKind::QUICKFIX),
        diagnostics,
        edit: Some(lt::WorkspaceEdit { changes: Some(changes), ..Default::default() }),
        ..Default::default()
    })
}

/// Whether `s` can be written as a waiver's subject (a `pattern` of the grammar).
fn is_pattern(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '@'))
}

pub fn code_actions(w: &World, p: &lt::CodeActionParams) -> Option<lt::CodeActionResponse> {
    let file = w.file_of(&p.text_document.uri)?;
    let a = w.analysis;
    let text = w.text(file);
    let lines = &w.files[file].1;
    // Whole lines: a cursor anywhere on an entry's line asks about that entry.
    let from = lines.line_start(lines.offset(text, p.range.start, w.enc));
    let to = lines.offset(text, p.range.end, w.enc);
    let to = text[to..].find('\n').map_or(text.len(), |i| to + i);
    let touches = |r: &std::ops::Range<usize>| r.start <= to && from <= r.end;
    let mut out: Vec<lt::CodeActionOrCommand> = vec![];
    let facts = w.facts;

    // 1. A set entry whose package declares another tier: move it to that tier's set.
    if let Some(facts) = facts.filter(|_| a.clean) {
        for o in a.index[file].occs.iter().filter(|o| o.kind == Kind::Package && touches(&o.at)) {
            let Ctx::SetEntry { set } = &o.ctx else { continue };
            let Some((cl, tier)) = a.set_tier(facts, set) else { continue };
            let Some(declared) = facts.declared_tier(&o.name) else { continue };
            if declared == tier {
                continue;
            }
            for dest in a.sets_for_tier(facts, &cl, declared).into_iter().filter(|d| d != set).take(MAX_ACTIONS) {
                let Some((df, decl)) = a.decl(Kind::Set, &dest) else { continue };
                // Remove the entry's line; insert it in the destination's sorted place.
                let line_start = lines.line_start(o.at.start);
                let line_end = text[o.at.end..].find('\n').map_or(text.len(), |i| o.at.end + i + 1);
                let dtext = w.text(df);
                let entries = a.index[df].occs.iter().filter(|e| matches!(&e.ctx, Ctx::SetEntry { set: s } if *s == dest) && e.kind == Kind::Package);
                let before = entries.filter(|e| e.name.as_str() > o.name.as_str()).min_by_key(|e| e.at.start).map(|e| w.files[df].1.line_start(e.at.start));
                let close = dtext[..decl.full.end].rfind('}').map_or(decl.full.end, |i| w.files[df].1.line_start(i));
                let at = before.unwrap_or(close);
                let pos = w.files[df].1.position(dtext, at, w.enc);
                let edits = vec![
                    (w.uri(file).clone(), lt::TextEdit::new(w.range(file, line_start..line_end), String::new())),
                    (w.uri(df).clone(), lt::TextEdit::new(lt::Range::new(pos, pos), format!("  {}\n", o.name))),
                ];
                out.push(action(format!("Move `{}` to set `{dest}` (tier {declared}, as its recipe declares)", o.name), edits, None));
            }
        }
    }

    // The findings behind the diagnostics in range: those the client sends back (their
    // data), else ours that touch the range.
    let mut found: Vec<(String, String, bool, Option<lt::Diagnostic>)> = vec![];
    for d in &p.context.diagnostics {
        if let Some(list) = d.data.as_ref().and_then(|v| v.as_array()) {
            for pair in list {
                if let (Some(c), Some(s)) = (pair.get(0).and_then(|v| v.as_str()), pair.get(1).and_then(|v| v.as_str())) {
                    found.push((c.into(), s.into(), d.severity == Some(lt::DiagnosticSeverity::ERROR), Some(d.clone())));
                }
            }
        }
    }
    if found.is_empty() {
        for d in a.diags.iter().filter(|d| d.file == file && touches(&d.at)) {
            found.extend(d.findings.iter().map(|f| (f.check.clone(), f.subject.clone(), f.halts, None)));
        }
    }
    let mut seen = BTreeSet::new();
    found.retain(|(c, s, _, _)| seen.insert((c.clone(), s.clone())));

    // 2. An orphan: add it to the static list of a builder of its tier.
    if let Some(facts) = facts {
        let builders = a.static_builders();
        for (_, subject, _, diag) in found.iter().filter(|(c, ..)| c == "orphan").take(MAX_ACTIONS) {
            let Some(tier) = facts.declared_tier(subject) else { continue };
            for (builder, _, list) in builders.iter().filter(|(_, t, _)| t.as_deref() == Some(tier)) {
                let path = facts.builders_dir().join(list);
                let Some((uri, ltext)) = target(w, &path) else { continue };
                let edit = append(w, uri, &ltext, &format!("{subject}\n"));
                out.push(action(format!("Add `{subject}` to {list} (builder `{builder}`, tier {tier})"), vec![edit], diag.clone().map(|d| vec![d])));
            }
        }
    }

    // 3. Any finding: a waiver skeleton with an expiry, in rules/waivers.pol.
    let waivers = w.rules_dir.join("waivers.pol");
    let expires = api::date_in(WAIVER_DAYS);
    for (check, subject, halts, diag) in found.iter().filter(|(_, s, ..)| is_pattern(s)).take(MAX_ACTIONS) {
        let Some((uri, wtext)) = target(w, &waivers) else { break };
        let approver = if *halts { "  approver \"TODO: who authorized it (required to waive a halt)\"\n" } else { "" };
        let body = format!("\nwaive {check} for {subject} {{\n  reason \"TODO: why this is acceptable for now\"\n{approver}  expires {expires}\n}}\n");
        let edit = append(w, uri, &wtext, &body);
        out.push(action(format!("Waive `{check}` for `{subject}` until {expires}"), vec![edit], diag.clone().map(|d| vec![d])));
    }
    Some(out)
}
