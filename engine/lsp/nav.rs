//! Knowing names: hover, go to definition, find references, rename, symbols.

use std::collections::HashMap;

use lsp_server::ErrorCode;
use lsp_types::{self as lt, Url};

use super::engine_api::{self as api, Ctx, Decl, FileIndex, Kind, Occ};
use super::text::{Encoding, Lines};
use super::{Failure, World};

/// What the cursor is on.
#[derive(Debug, Clone, Copy)]
pub enum Hit<'a> {
    Occ(&'a Occ),
    Decl(&'a Decl),
}

impl Hit<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            Hit::Occ(o) => o.kind,
            Hit::Decl(d) => d.kind,
        }
    }
    pub fn name(&self) -> &str {
        match self {
            Hit::Occ(o) => &o.name,
            Hit::Decl(d) => &d.name,
        }
    }
    pub fn at(&self) -> std::ops::Range<usize> {
        match self {
            Hit::Occ(o) => o.at.clone(),
            Hit::Decl(d) => d.name_at.clone(),
        }
    }
}

/// The use or declaration under `offset` (the end of a name counts: the cursor after it).
pub fn hit(ix: &FileIndex, offset: usize) -> Option<Hit<'_>> {
    let within = |r: &std::ops::Range<usize>| r.start <= offset && offset <= r.end;
    let occ = ix.occs.iter().filter(|o| within(&o.at)).min_by_key(|o| o.at.len()).map(Hit::Occ);
    occ.or_else(|| {
        ix.decls.iter().filter(|d| within(&d.name_at) && !matches!(d.kind, Kind::Waiver | Kind::Divergence)).min_by_key(|d| d.name_at.len()).map(Hit::Decl)
    })
}

fn at_cursor<'w>(w: &'w World, tdp: &lt::TextDocumentPositionParams) -> Option<(usize, Hit<'w>)> {
    let (file, offset) = w.offset(tdp)?;
    Some((file, hit(&w.analysis.index[file], offset)?))
}

// ---- hover --------------------------------------------------------------------------------

pub fn hover(w: &World, p: &lt::HoverParams) -> Option<lt::Hover> {
    let (file, h) = at_cursor(w, &p.text_document_position_params)?;
    let text = describe(w, h)?;
    Some(lt::Hover {
        contents: lt::HoverContents::Markup(lt::MarkupContent { kind: lt::MarkupKind::Markdown, value: text }),
        range: Some(w.range(file, h.at())),
    })
}

fn describe(w: &World, h: Hit) -> Option<String> {
    let a = w.analysis;
    let name = h.name();
    Some(match h.kind() {
        Kind::Package => {
            let Some(facts) = w.facts else { return Some(format!("package `{name}` (no tree loaded)")) };
            let mut s = String::new();
            if let Hit::Occ(Occ { ctx: Ctx::SetEntry { set }, .. }) = h {
                if let Some((cl, tier)) = a.set_tier(facts, set) {
                    s.push_str(&format!("listed in set `{set}`, which `{cl}` places in **{tier}**\n\n"));
                }
            }
            match a.explain(facts, name) {
                Some(e) => s.push_str(&format!("```text\n{}```", e)),
                None if facts.package_file(name).is_none() => s.push_str(&format!("no recipe named `{name}` in the tree")),
                None => s.push_str(&format!("package `{name}` (the rules do not compile: no explanation)")),
            }
            s
        }
        Kind::Check => {
            let c = a.checks.get(name)?;
            let mut s = format!("**check `{name}`** ({}", c.severity);
            if let Some((id, title)) = &c.gate {
                s.push_str(&format!(", gate `{id}`: {title}"));
            } else {
                s.push_str(", in no gate");
            }
            if c.stability != "stable" {
                s.push_str(&format!(", {}", c.stability));
            }
            s.push(')');
            if let Some(about) = &c.about {
                s.push_str(&format!("\n\n{about}"));
            }
            if let Some(help) = &c.help {
                s.push_str(&format!("\n\nhelp: {help}"));
            }
            if a.clean && w.facts.is_some() {
                let (open, subjects, waived) = a.counts(name);
                s.push_str(&format!("\n\nOn the tree now: {} ({}), {waived} waived", api::plural(open, "finding"), api::plural(subjects, "subject")));
            }
            s
        }
        Kind::Set => {
            let (_, d) = a.decl(Kind::Set, name)?;
            let mut s = format!("**set `{name}`**: {}", d.detail.trim_start_matches("set, ").trim_start_matches("set "));
            if let Some((cl, tier)) = w.facts.and_then(|f| a.set_tier(f, name)) {
                s.push_str(&format!("\n\n`{cl}` places its names in **{tier}**"));
            }
            s
        }
        Kind::Tier => format!("**tier `{name}`**\n\n{}", a.tier_order()),
        Kind::Builder => a.builder_info(name)?,
        Kind::Phase => a.phase_info(name)?,
        Kind::Gate => format!("**gate `{name}`**: {}", a.decl(Kind::Gate, name)?.1.detail.trim_start_matches("gate ")),
        Kind::Classification => format!("**classification `{name}`**: `{name}(p)` is a package's tier, the first layer that matches"),
        Kind::Patterns => format!("**patterns `{name}`**: log line templates (Scan B)"),
        Kind::Field => {
            let Hit::Occ(Occ { ctx: Ctx::Member { owner }, .. }) = h else { return None };
            let (ty, doc) = api::field(owner, name)?;
            let mut s = format!("```\n{owner}.{name}: {ty}\n```\n{doc}");
            if let Some(values) = api::enum_values(owner, name) {
                s.push_str(&format!("\n\nvalues: {}", values.iter().map(|v| format!("`\"{v}\"`")).collect::<Vec<_>>().join(", ")));
            }
            s
        }
        Kind::Function => {
            let f = api::function(name)?;
            format!("```\n{}\n```\n{}", f.signature, f.doc)
        }
        Kind::Relation => {
            let (kind, doc) = api::relation(name)?;
            format!("```\n{name}: list of {kind}\n```\n{doc}")
        }
        Kind::Variable => {
            let Hit::Occ(Occ { ctx: Ctx::Var { ty, .. }, .. }) = h else { return None };
            format!("```\n{name}: {ty}\n```")
        }
        Kind::ListFile => {
            let facts = w.facts?;
            match facts.builder_list(name) {
                Some((_, entries)) => format!("builder list `{name}`: {}", api::plural(entries.len(), "entry")),
                None => format!("builder list `{name}`: not in the tree"),
            }
        }
        Kind::Glob | Kind::Waiver | Kind::Divergence | Kind::Constant => return None,
    })
}

// ---- definition and references ------------------------------------------------------------

fn file_location(path: &std::path::Path) -> Option<lt::Location> {
    Some(lt::Location::new(Url::from_file_path(path).ok()?, lt::Range::default()))
}

pub fn definition(w: &World, p: &lt::GotoDefinitionParams) -> Option<lt::GotoDefinitionResponse> {
    let (file, h) = at_cursor(w, &p.text_document_position_params)?;
    let loc = match h.kind() {
        Kind::Package => file_location(&w.facts?.package_file(h.name())?)?,
        Kind::ListFile => file_location(&w.facts?.builders_dir().join(h.name()))?,
        Kind::Variable => {
            let Hit::Occ(Occ { ctx: Ctx::Var { check, .. }, .. }) = h else { return None };
            let first = w.analysis.index[file]
                .occs
                .iter()
                .filter(|o| o.kind == Kind::Variable && o.name == h.name() && matches!(&o.ctx, Ctx::Var { check: c, .. } if c == check))
                .min_by_key(|o| o.at.start)?;
            w.location(file, first.at.clone())
        }
        Kind::Field | Kind::Function | Kind::Relation | Kind::Glob | Kind::Constant | Kind::Waiver | Kind::Divergence => return None,
        kind => {
            let (f, d) = w.analysis.decl(kind, h.name())?;
            w.location(f, d.name_at.clone())
        }
    };
    Some(lt::GotoDefinitionResponse::Scalar(loc))
}

/// Every place a name of this kind is written: its uses, and its declaration when asked.
fn places(w: &World, kind: Kind, name: &str, declaration: bool) -> Vec<(usize, std::ops::Range<usize>)> {
    let mut out = vec![];
    for (i, ix) in w.analysis.index.iter().enumerate() {
        if declaration {
            out.extend(ix.decls.iter().filter(|d| d.kind == kind && d.name == name).map(|d| (i, d.name_at.clone())));
        }
        out.extend(ix.occs.iter().filter(|o| o.kind == kind && o.name == name).map(|o| (i, o.at.clone())));
    }
    out.sort_by_key(|(f, r)| (*f, r.start));
    out.dedup();
    out
}

pub fn references(w: &World, p: &lt::ReferenceParams) -> Option<Vec<lt::Location>> {
    let (file, h) = at_cursor(w, &p.text_document_position)?;
    if let (Kind::Variable, Hit::Occ(Occ { ctx: Ctx::Var { check, .. }, .. })) = (h.kind(), h) {
        let occs = &w.analysis.index[file].occs;
        let mine = occs.iter().filter(|o| o.kind == Kind::Variable && o.name == h.name() && matches!(&o.ctx, Ctx::Var { check: c, .. } if c == check));
        return Some(mine.map(|o| w.location(file, o.at.clone())).collect());
    }
    let found = places(w, h.kind(), h.name(), p.context.include_declaration);
    Some(found.into_iter().map(|(f, r)| w.location(f, r)).collect())
}

// ---- rename -------------------------------------------------------------------------------

fn renamable(h: &Hit) -> bool {
    matches!(h.kind(), Kind::Set | Kind::Check)
}

pub fn prepare_rename(w: &World, p: &lt::TextDocumentPositionParams) -> Option<lt::PrepareRenameResponse> {
    let (file, h) = at_cursor(w, p)?;
    renamable(&h).then(|| lt::PrepareRenameResponse::Range(w.range(file, h.at())))
}

pub fn rename(w: &World, p: &lt::RenameParams) -> Result<Option<lt::WorkspaceEdit>, Failure> {
    let Some((_, h)) = at_cursor(w, &p.text_document_position) else { return Ok(None) };
    if !renamable(&h) {
        return Err((ErrorCode::RequestFailed as i32, "only a set or a check can be renamed".into()));
    }
    let new = p.new_name.as_str();
    let valid = match h.kind() {
        // A check id: lowercase letters, digits and `-`, starting with a letter.
        Kind::Check => new.starts_with(|c: char| c.is_ascii_lowercase()) && new.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        _ => new.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && new.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
    };
    if !valid {
        return Err((ErrorCode::InvalidParams as i32, format!("`{new}` is not a valid name for a {}", if h.kind() == Kind::Check { "check" } else { "set" })));
    }
    if w.analysis.decl(h.kind(), new).is_some() {
        return Err((ErrorCode::RequestFailed as i32, format!("`{new}` is already declared")));
    }
    let mut changes: HashMap<Url, Vec<lt::TextEdit>> = HashMap::new();
    for (f, r) in places(w, h.kind(), h.name(), true) {
        changes.entry(w.uri(f).clone()).or_default().push(lt::TextEdit::new(w.range(f, r), new.to_string()));
    }
    Ok(Some(lt::WorkspaceEdit { changes: Some(changes), ..Default::default() }))
}

// ---- symbols ------------------------------------------------------------------------------

fn symbol_kind(k: Kind) -> lt::SymbolKind {
    match k {
        Kind::Tier => lt::SymbolKind::ENUM_MEMBER,
        Kind::Set => lt::SymbolKind::ARRAY,
        Kind::Builder => lt::SymbolKind::CONSTRUCTOR,
        Kind::Classification => lt::SymbolKind::ENUM,
        Kind::Check => lt::SymbolKind::FUNCTION,
        Kind::Gate => lt::SymbolKind::MODULE,
        Kind::Waiver | Kind::Divergence => lt::SymbolKind::KEY,
        Kind::Phase => lt::SymbolKind::EVENT,
        Kind::Patterns => lt::SymbolKind::STRING,
        _ => lt::SymbolKind::VARIABLE,
    }
}

#[allow(deprecated)]
pub fn symbols_of(ix: &FileIndex, text: &str, lines: &Lines, enc: Encoding) -> lt::DocumentSymbolResponse {
    let list = ix
        .decls
        .iter()
        .map(|d| lt::DocumentSymbol {
            name: d.name.clone(),
            detail: Some(d.detail.clone()),
            kind: symbol_kind(d.kind),
            tags: None,
            deprecated: None,
            range: lines.range(text, d.full.start.min(d.name_at.start)..d.full.end.max(d.name_at.end), enc),
            selection_range: lines.range(text, d.name_at.clone(), enc),
            children: None,
        })
        .collect();
    lt::DocumentSymbolResponse::Nested(list)
}

pub fn document_symbols(w: &World, p: &lt::DocumentSymbolParams) -> Option<lt::DocumentSymbolResponse> {
    let file = w.file_of(&p.text_document.uri)?;
    Some(symbols_of(&w.analysis.index[file], w.text(file), &w.files[file].1, w.enc))
}

/// The most symbols a workspace query answers with.
const WORKSPACE_SYMBOLS: usize = 500;

#[allow(deprecated)]
pub fn workspace_symbols(w: &World, p: &lt::WorkspaceSymbolParams) -> Option<lt::WorkspaceSymbolResponse> {
    let q = p.query.to_lowercase();
    let mut out = vec![];
    for (f, ix) in w.analysis.index.iter().enumerate() {
        for d in ix.decls.iter().filter(|d| d.name.to_lowercase().contains(&q)) {
            out.push(lt::SymbolInformation {
                name: d.name.clone(),
                kind: symbol_kind(d.kind),
                tags: None,
                deprecated: None,
                location: w.location(f, d.name_at.clone()),
                container_name: Some(w.analysis.rules[f].shown.clone()),
            });
            if out.len() >= WORKSPACE_SYMBOLS {
                return Some(lt::WorkspaceSymbolResponse::Flat(out));
            }
        }
    }
    Some(lt::WorkspaceSymbolResponse::Flat(out))
}

// ---- edits --------------------------------------------------------------------------------

/// The edits that turn `old` into `new`, line by line (a formatter's result applied as a
/// few edits keeps the editor's cursor and undo history where they were).
pub fn minimal_edits(old: &str, new: &str, lines: &Lines, enc: Encoding) -> Vec<lt::TextEdit> {
    let diff = similar::TextDiff::from_lines(old, new);
    let new_lines: Vec<&str> = diff.new_slices().to_vec();
    let offset_of_line = |k: usize| lines.line_offset(k).unwrap_or(old.len());
    let mut edits = vec![];
    for op in diff.ops() {
        if let similar::DiffOp::Equal { .. } = op {
            continue;
        }
        let (o, n) = (op.old_range(), op.new_range());
        let range = lines.range(old, offset_of_line(o.start)..offset_of_line(o.end), enc);
        edits.push(lt::TextEdit::new(range, new_lines[n].concat()));
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(old: &str, edits: &[lt::TextEdit]) -> String {
        let lines = Lines::new(old);
        let mut out = old.to_string();
        // From the last to the first, so earlier offsets stay valid.
        let mut edits = edits.to_vec();
        edits.sort_by_key(|e| std::cmp::Reverse((e.range.start.line, e.range.start.character)));
        for e in edits {
            let a = lines.offset(old, e.range.start, Encoding::Utf16);
            let b = lines.offset(old, e.range.end, Encoding::Utf16);
            out.replace_range(a..b, &e.new_text);
        }
        out
    }

    #[test]
    fn minimal_edits_rebuild_the_new_text() {
        for (old, new) in [
            ("policy    1\nset a {\n    x\n}\n", "policy 1\nset a {\n  x\n}\n"),
            ("policy 1\nset a {\n  x\n}", "policy 1\nset a {\n  x\n}\n"),
            ("a\nb\nc\n", "a\nc\n"),
            ("", "policy 1\n"),
        ] {
            let edits = minimal_edits(old, new, &Lines::new(old), Encoding::Utf16);
            assert_eq!(apply(old, &edits), new, "{old:?} -> {new:?}: {edits:?}");
        }
        let edits = minimal_edits("policy    1\nset a {\n  x\n}\n", "policy 1\nset a {\n  x\n}\n", &Lines::new("policy    1\nset a {\n  x\n}\n"), Encoding::Utf16);
        assert_eq!(edits.len(), 1, "only the changed line: {edits:?}");
    }
}
