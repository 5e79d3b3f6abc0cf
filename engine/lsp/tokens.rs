//! Semantic tokens (highlighting that knows a set from a tier from a check) and folding.

use lsp_types as lt;

use super::engine_api::{FileIndex, Kind};
use super::text::{Encoding, Lines};
use super::World;

const TYPES: &[lt::SemanticTokenType] = &[
    lt::SemanticTokenType::KEYWORD,     // 0
    lt::SemanticTokenType::STRING,      // 1
    lt::SemanticTokenType::COMMENT,     // 2
    lt::SemanticTokenType::NUMBER,      // 3
    lt::SemanticTokenType::VARIABLE,    // 4
    lt::SemanticTokenType::PROPERTY,    // 5
    lt::SemanticTokenType::FUNCTION,    // 6
    lt::SemanticTokenType::ENUM_MEMBER, // 7
    lt::SemanticTokenType::NAMESPACE,   // 8
    lt::SemanticTokenType::CLASS,       // 9
    lt::SemanticTokenType::EVENT,       // 10
    lt::SemanticTokenType::STRUCT,      // 11
    lt::SemanticTokenType::TYPE,        // 12
    lt::SemanticTokenType::PARAMETER,   // 13
];
const DECLARATION: u32 = 1;

pub fn legend() -> lt::SemanticTokensLegend {
    lt::SemanticTokensLegend { token_types: TYPES.to_vec(), token_modifiers: vec![lt::SemanticTokenModifier::DECLARATION] }
}

const KEYWORDS: &[&str] = &[
    "policy", "tiers", "set", "from", "builder", "phase", "tier", "list", "topological", "names", "classify", "if", "dir", "is",
    "name", "in", "infer", "earliest", "consumer", "via", "else", "check", "halt", "advisory", "about", "for", "where", "let",
    "message", "help", "at", "subject", "object", "because", "stability", "stable", "experimental", "deprecated", "gate",
    "waive", "reason", "approver", "expires", "divergence", "drops", "run", "builtin", "after", "checkpoint", "optional",
    "title", "patterns", "pred", "alias", "scan", "ignore", "and", "or", "not", "none", "true", "false", "unclear",
];

fn token_type(k: Kind) -> Option<u32> {
    Some(match k {
        Kind::Variable => 4,
        Kind::Field => 5,
        Kind::Function | Kind::Classification => 6,
        Kind::Tier => 7,
        Kind::Set => 8,
        Kind::Check => 9,
        Kind::Phase => 10,
        Kind::Relation => 11,
        Kind::Builder | Kind::Gate | Kind::Patterns => 12,
        Kind::Package | Kind::Glob | Kind::ListFile => 13,
        Kind::Waiver | Kind::Divergence | Kind::Constant => return None,
    })
}

/// (start, end, type, modifiers) of every token, in order, none overlapping.
fn tokens(ix: &FileIndex, text: &str) -> Vec<(usize, usize, u32, u32)> {
    let mut named: Vec<(usize, usize, u32, u32)> = vec![];
    for o in &ix.occs {
        if let Some(t) = token_type(o.kind) {
            // A list file's name is a string: leave it to the lexer.
            if o.kind != Kind::ListFile {
                named.push((o.at.start, o.at.end, t, 0));
            }
        }
    }
    for d in &ix.decls {
        if let Some(t) = token_type(d.kind) {
            named.push((d.name_at.start, d.name_at.end, t, DECLARATION));
        }
    }
    named.sort();
    named.dedup_by(|b, a| b.0 < a.1);
    let covered = |i: usize| {
        let k = named.partition_point(|t| t.1 <= i);
        named.get(k).is_some_and(|t| t.0 <= i)
    };
    let mut lexed = vec![];
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'#' {
            let end = text[i..].find('\n').map_or(b.len(), |e| i + e);
            lexed.push((i, end, 2, 0));
            i = end;
        } else if c == b'"' {
            // A string, less the names written in it (a template's holes).
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' && b[j] != b'\n' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(b.len()).min(if j < b.len() && b[j] == b'\n' { j } else { usize::MAX });
            let mut from = i;
            for t in named.iter().filter(|t| t.0 >= i && t.1 <= end) {
                if t.0 > from {
                    lexed.push((from, t.0, 1, 0));
                }
                from = t.1;
            }
            if end > from {
                lexed.push((from, end, 1, 0));
            }
            i = end.max(i + 1);
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let end = i + text[i..].find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')).unwrap_or(b.len() - i);
            if !covered(i) && KEYWORDS.contains(&&text[i..end]) {
                lexed.push((i, end, 0, 0));
            }
            i = end;
        } else if c.is_ascii_digit() {
            let end = i + text[i..].find(|ch: char| !(ch.is_ascii_digit() || ch == '-')).unwrap_or(b.len() - i);
            if !covered(i) {
                lexed.push((i, end, 3, 0));
            }
            i = end;
        } else {
            i += 1;
        }
    }
    let mut all: Vec<_> = named.into_iter().chain(lexed).collect();
    all.sort();
    all.dedup_by(|b, a| b.0 < a.1);
    all
}

/// Tokens encoded as LSP wants them: relative to the previous one, never across a line.
pub fn encode(ix: &FileIndex, text: &str, lines: &Lines, enc: Encoding) -> Vec<lt::SemanticToken> {
    let mut out = vec![];
    let (mut line, mut col) = (0u32, 0u32);
    for (s, e, t, m) in tokens(ix, text) {
        let start = lines.position(text, s, enc);
        let mut end = lines.position(text, e, enc);
        if end.line != start.line {
            // Multi-line tokens are not for every client: cut at the line's end.
            let eol = text[s..].find(['\n', '\r']).map_or(text.len(), |k| s + k);
            end = lines.position(text, eol, enc);
        }
        if end.character <= start.character {
            continue;
        }
        let delta_line = start.line - line;
        let delta_start = if delta_line == 0 { start.character - col } else { start.character };
        out.push(lt::SemanticToken { delta_line, delta_start, length: end.character - start.character, token_type: t, token_modifiers_bitset: m });
        line = start.line;
        col = start.character;
    }
    out
}

pub fn semantic_tokens(w: &World, p: &lt::SemanticTokensParams) -> Option<lt::SemanticTokensResult> {
    let file = w.file_of(&p.text_document.uri)?;
    let data = encode(&w.analysis.index[file], w.text(file), &w.files[file].1, w.enc);
    Some(lt::SemanticTokensResult::Tokens(lt::SemanticTokens { result_id: None, data }))
}

pub fn folding(w: &World, p: &lt::FoldingRangeParams) -> Option<Vec<lt::FoldingRange>> {
    let file = w.file_of(&p.text_document.uri)?;
    Some(folds(&w.analysis.index[file], w.text(file), &w.files[file].1, w.enc))
}

/// Declarations that span lines, and runs of comment lines.
pub fn folds(ix: &FileIndex, text: &str, lines: &Lines, enc: Encoding) -> Vec<lt::FoldingRange> {
    let mut out = vec![];
    for d in &ix.decls {
        let (a, b) = (lines.position(text, d.full.start, enc).line, lines.position(text, d.full.end, enc).line);
        if b > a {
            out.push(lt::FoldingRange { start_line: a, end_line: b, kind: Some(lt::FoldingRangeKind::Region), ..Default::default() });
        }
    }
    let mut run: Option<(u32, u32)> = None;
    for (n, l) in text.lines().enumerate() {
        let n = n as u32;
        if l.trim_start().starts_with('#') {
            run = Some(run.map_or((n, n), |(a, _)| (a, n)));
        } else if let Some((a, b)) = run.take() {
            if b > a {
                out.push(lt::FoldingRange { start_line: a, end_line: b, kind: Some(lt::FoldingRangeKind::Comment), ..Default::default() });
            }
        }
    }
    if let Some((a, b)) = run.filter(|(a, b)| b > a) {
        out.push(lt::FoldingRange { start_line: a, end_line: b, kind: Some(lt::FoldingRangeKind::Comment), ..Default::default() });
    }
    out.sort_by_key(|f| (f.start_line, f.end_line));
    out
}
