//! Rule-file text to syntax tree: the pest grammar in `grammar/policy.pest`, and an adapter
//! from pest errors to our own positioned errors (byte offsets only: pest's `line_col`
//! rescans the input on every call, our `SourceFile` has a line index).
// A parse error is made once per broken declaration and reported, never on a hot path;
// boxing `RuleError` through every parser function would only add noise.
#![allow(clippy::result_large_err)]

use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::*;
use super::error::RuleError;
use crate::source::{SourceId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/policy.pest"]
struct PolicyParser;

/// Parse one rule file. A syntax error stops this file (pest cannot recover), but the
/// caller goes on with the other files so every broken file is reported in one run.
pub fn parse(source: SourceId, text: &str) -> Result<RuleFile, RuleError> {
    if let Some(at) = too_deep_brackets(text) {
        let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
        return Err(RuleError::new(
            "too-deep",
            format!("brackets nest more than {MAX_BRACKET_DEPTH} levels deep on this line"),
            Span::new(source, at, end),
        )
        .with_label("too deep")
        .with_help("split the expression with `let` clauses or a named set"));
    }
    let mut pairs = PolicyParser::parse(Rule::file, text).map_err(|e| syntax_error(source, text, e))?;
    let file = match pairs.next() {
        Some(p) => p,
        None => return Ok(RuleFile::default()),
    };
    let b = Builder { source };
    let mut out = RuleFile::default();
    for pair in file.into_inner() {
        match pair.as_rule() {
            Rule::header => {
                let span = b.span(&pair);
                let n = pair.into_inner().next().map(|p| p.as_str().parse::<u32>().unwrap_or(u32::MAX));
                out.version = n.map(|n| (n, span));
            }
            Rule::EOI => {}
            _ => out.decls.push(b.decl(pair)?),
        }
    }
    Ok(out)
}

/// Parse one rule file, recovering from syntax errors at the next top-level declaration
/// (a line that starts with a declaration's keyword): each declaration that does not parse
/// is one diagnostic, and every other declaration is kept. The names the broken ones
/// declare are listed in `RuleFile::broken`, so their uses elsewhere add no errors.
pub fn parse_recovering(source: SourceId, text: &str) -> (RuleFile, Vec<RuleError>) {
    let first = match parse(source, text) {
        Ok(f) => return (f, vec![]),
        Err(e) => e,
    };
    let starts = decl_starts(text);
    let Some(&head_end) = starts.first() else { return (RuleFile::default(), vec![first]) };
    if first.kind == "too-deep" {
        return (RuleFile::default(), vec![first]);
    }
    let mut out = RuleFile::default();
    let mut errors = vec![];
    match parse(source, &text[..head_end]) {
        Ok(head) => out.version = head.version,
        // The whole file's error says it better when it is in the header (a missing
        // `policy 1` is found at the first declaration).
        Err(e) => errors.push(if first.span.start as usize <= head_end { first.clone() } else { e }),
    }
    let b = Builder { source };
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        // The declaration at its own offsets: what precedes it blanked, lines kept.
        let mut alone: String = text[..start].bytes().map(|c| if c == b'\n' { '\n' } else { ' ' }).collect();
        alone.push_str(&text[start..end]);
        let parsed = PolicyParser::parse(Rule::decl_alone, &alone)
            .map_err(|e| explain_decl_error(stray_brace(syntax_error(source, &alone, e), &alone), &alone, start))
            .and_then(|mut pairs| {
                let decl = pairs.next().and_then(|p| p.into_inner().find(|q| !matches!(q.as_rule(), Rule::EOI)));
                match decl {
                    Some(d) => b.decl(d),
                    None => Err(internal(Span::new(source, start, end))),
                }
            });
        match parsed {
            Ok(d) => out.decls.push(d),
            Err(e) => {
                out.broken.extend(declared_names(&text[start..end]));
                errors.push(e);
            }
        }
    }
    if errors.is_empty() {
        // Each declaration parses alone but not together (two on one line...).
        errors.push(first);
    }
    (out, errors)
}

/// A declaration that fails at its first word (pest names the declarations it expected) or
/// after its last line (a block left open) is described by its shape instead.
fn explain_decl_error(e: RuleError, text: &str, start: usize) -> RuleError {
    let first_line = text[start..].lines().next().unwrap_or("").trim_end();
    let line_span = Span::new(e.span.source, start, start + first_line.len());
    let keyword = first_line.split_whitespace().next().unwrap_or("");
    let content_end = start + text[start..].trim_end().len();
    if e.span.start as usize == start {
        return RuleError::new("syntax", format!("this `{keyword}` declaration does not parse"), line_span)
            .with_label("here")
            .with_help(format!("it reads: {}", decl_shape(keyword)));
    }
    if e.span.start as usize >= content_end && e.message.contains("`}`") {
        return RuleError::new("syntax", format!("`{}` is not closed: `}}` is missing before the next declaration", first_line.trim_end_matches('{').trim_end()), line_span)
            .with_label("opened here")
            .with_help("close the block with `}` on a line of its own");
    }
    e
}

/// What a declaration looks like, for a diagnostic.
fn decl_shape(keyword: &str) -> &'static str {
    match keyword {
        "tiers" => "`tiers a < b < c | d` (`<` orders, `|` makes peers)",
        "set" => "`set <name> {`, one name or glob per line, `}`; or `set <name> from builder <builder>`",
        "builder" => "`builder <name> {`, then `phase`, `tier`, `list`, `topological` or `names` lines, `}`",
        "classify" => "`classify <name> {`, one layer per line (`<tier> if dir is <dir>`, `<tier> if name in <set>`, `infer earliest consumer via build, host`, `else <tier>`), `}`",
        "check" => "`check <id> halt {` (or `advisory`), one clause per line, `}`",
        "gate" => "`gate <id> \"<title>\" {`, one check id per line, `}`",
        "waive" => "`waive <check> for <name> {`, then `reason`, `approver`, `expires` lines, `}`",
        "divergence" => "`divergence <package> drops <dependency> {`, then `reason` and `approver` lines, `}`",
        "phase" => "`phase <name> {`, then `run`, `builtin`, `after`, `checkpoint`, `optional`, `title` lines, `}`",
        "pred" => "`pred <name>(<param>: <type>, ...) = <condition>` on one line",
        "alias" => "`alias <name> {`, one other name or glob per line, `}`",
        "scan" => "`scan ignore {`, one name or glob per line, `}`",
        _ => "`patterns <group> {`, one `<kind> \"<template>\"` per line, `}`",
    }
}

/// pest reports a line that does not fit a block at the line's start ("expected `}`"):
/// when that line holds a `{`, the brace is the mistake, so the diagnostic points at it.
fn stray_brace(e: RuleError, text: &str) -> RuleError {
    if !e.message.starts_with("expected `}`") && !e.message.starts_with("expected end of file") {
        return e;
    }
    let start = e.span.start as usize;
    let line_end = text.get(start..).and_then(|r| r.find('\n')).map_or(text.len(), |n| start + n);
    let line = text.get(start..line_end).unwrap_or("");
    let code = line.split('#').next().unwrap_or("");
    match code.rfind('{') {
        Some(at) => {
            let at = start + at;
            RuleError::new("syntax", "unexpected `{`: a block is opened only at the end of its declaration's first line", Span::new(e.span.source, at, at + 1))
                .with_label("stray `{`")
                .with_help("remove it; a block opened with `{` is closed by `}` on a line of its own")
        }
        None if e.message.starts_with("expected end of file") => {
            // Alone, a declaration is followed by the next one: say that, not "end of file".
            let found = e.message.split_once("found ").map_or("", |(_, f)| f).to_string();
            RuleError { message: format!("expected a new declaration at the start of a line, found {found}"), ..e }
        }
        None => e,
    }
}

const DECL_KEYWORDS: [&str; 13] =
    ["tiers", "set", "builder", "classify", "check", "gate", "waive", "divergence", "phase", "patterns", "pred", "alias", "scan"];

/// Byte offsets of the lines that start, in the first column, with a declaration keyword.
fn decl_starts(text: &str) -> Vec<usize> {
    let mut out = vec![];
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let word = line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("");
        let spaced = line[word.len()..].starts_with([' ', '\t']);
        if DECL_KEYWORDS.contains(&word) && spaced {
            out.push(at);
        }
        at += line.len();
    }
    out
}

/// The names a declaration that did not parse meant to declare (its first line's name,
/// every tier of a `tiers` line).
fn declared_names(decl: &str) -> Vec<String> {
    let line = decl.lines().next().unwrap_or("");
    let line = line.split('#').next().unwrap_or("");
    let words: Vec<&str> =
        line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).filter(|w| !w.is_empty()).collect();
    match words.as_slice() {
        ["tiers", tiers @ ..] => std::iter::once("tiers").chain(tiers.iter().copied()).map(String::from).collect(),
        [_, name, ..] => vec![name.to_string()],
        _ => vec![],
    }
}

/// The byte offset where brackets first nest deeper than [`MAX_BRACKET_DEPTH`] on one line.
/// Nothing in the language spans lines except blocks (fixed depth), so a line scanner
/// suffices: strings are skipped (a `{` inside one opens a template hole, whose code may
/// hold strings again), `#` starts a comment outside strings.
fn too_deep_brackets(text: &str) -> Option<usize> {
    let mut stack: Vec<u8> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\n' {
            stack.clear();
            i += 1;
            continue;
        }
        let in_string = stack.last() == Some(&b'"');
        match b {
            b'\\' if in_string => i += 1,
            b'"' if in_string => {
                stack.pop();
            }
            b'{' if in_string => stack.push(b'{'),
            _ if in_string => {}
            b'#' => {
                // A comment: skip to the end of the line.
                while i + 1 < bytes.len() && bytes[i + 1] != b'\n' {
                    i += 1;
                }
            }
            b'"' | b'(' | b'[' | b'{' => stack.push(b),
            b')' | b']' | b'}' => {
                stack.pop();
            }
            _ => {}
        }
        if stack.len() > MAX_BRACKET_DEPTH {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn syntax_error(source: SourceId, text: &str, e: pest::error::Error<Rule>) -> RuleError {
    let (start, end) = match e.location {
        pest::error::InputLocation::Pos(p) => (p, p),
        pest::error::InputLocation::Span((s, e)) => (s, e),
    };
    // Point at the whole offending token rather than a zero-width caret where we can.
    let end = if end == start {
        // At most 40 characters, cut on a character boundary.
        let rest = text.get(start..).unwrap_or("");
        let len = rest
            .char_indices()
            .take_while(|&(i, c)| !c.is_whitespace() && i < 40)
            .last()
            .map_or(0, |(i, c)| i + c.len_utf8());
        start + len
    } else {
        end
    };
    let message = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut wanted: Vec<&str> = positives.iter().filter_map(|r| describe(*r)).collect();
            wanted.sort();
            wanted.dedup();
            let found = text.get(start..end).unwrap_or("").trim();
            // Control characters (a NUL byte...) shown escaped, not as blanks.
            let found: String =
                found.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect();
            let found = if found.is_empty() { "end of line".to_string() } else { format!("`{found}`") };
            if wanted.is_empty() {
                format!("unexpected {found}")
            } else {
                format!("expected {}, found {found}", join_or(&wanted))
            }
        }
        // pest's own guard against running out of stack (brackets are bounded before pest
        // runs, so this is a last resort).
        pest::error::ErrorVariant::CustomError { message } if message.contains("limit reached") => {
            "the file nests too deeply to parse".to_string()
        }
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    RuleError::new("syntax", message, Span::new(source, start, end))
        .with_label("here")
        .with_help(syntax_help(&e))
}

fn syntax_help(e: &pest::error::Error<Rule>) -> String {
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &e.variant {
        if positives.contains(&Rule::header) {
            return "a rule file starts with its language version: `policy 1`".into();
        }
        if positives.contains(&Rule::rbrace) {
            return "a block opened with `{` is closed by `}` on a line of its own".into();
        }
        if positives.contains(&Rule::set_item) {
            return "a set lists one name or glob per line, `!` before an item excludes it".into();
        }
    }
    "see the language reference in ARCHITECTURE.md (\"The policy language\")".into()
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// Human names for the grammar rules a user can be told were expected.
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::header => "`policy <version>`",
        Rule::tiers_decl => "`tiers`",
        Rule::set_decl => "`set`",
        Rule::builder_decl => "`builder`",
        Rule::classify_decl => "`classify`",
        Rule::check_decl => "`check`",
        Rule::gate_decl => "`gate`",
        Rule::waive_decl => "`waive`",
        Rule::divergence_decl => "`divergence`",
        Rule::phase_decl => "`phase`",
        Rule::patterns_decl => "`patterns`",
        Rule::pred_decl => "`pred`",
        Rule::alias_decl => "`alias`",
        Rule::scan_ignore_decl => "`scan ignore`",
        Rule::pred_param => "a parameter (`<name>: <type>`)",
        Rule::pattern_entry => "a pattern (`<kind> \"<template>\"`)",
        Rule::ident => "a name",
        Rule::check_id => "a kebab-case id",
        Rule::pattern | Rule::set_item => "a name or glob",
        Rule::string | Rule::template => "a quoted string",
        Rule::int => "a number",
        Rule::date => "a date (YYYY-MM-DD)",
        Rule::severity => "`halt` or `advisory`",
        Rule::expr | Rule::or_expr | Rule::and_expr | Rule::not_expr | Rule::cmp_expr | Rule::postfix => {
            "an expression"
        }
        Rule::cmp_op => "an operator",
        Rule::c_for | Rule::c_where | Rule::c_let | Rule::c_message | Rule::c_help | Rule::c_at | Rule::c_subject
        | Rule::c_about | Rule::c_because | Rule::c_stability | Rule::c_object => {
            "a check clause (for, where, let, message, help, at, because, subject, about, stability)"
        }
        Rule::b_phase | Rule::b_tier | Rule::b_list | Rule::b_topological | Rule::b_names => {
            "a builder field (phase, tier, list, topological, names)"
        }
        Rule::layer_dir | Rule::layer_set | Rule::layer_infer | Rule::layer_else => "a classification layer",
        Rule::w_reason | Rule::w_approver | Rule::w_expires => "`reason`, `approver` or `expires`",
        Rule::p_run | Rule::p_builtin | Rule::p_after | Rule::p_checkpoint | Rule::p_optional | Rule::p_title => {
            "a phase field (run, builtin, after, checkpoint, optional, title)"
        }
        Rule::EOI => "end of file",
        Rule::rbrace => "`}`",
        _ => return None,
    })
}

struct Builder {
    source: SourceId,
}

type R<T> = Result<T, RuleError>;

impl Builder {
    fn span(&self, p: &Pair<Rule>) -> Span {
        let s = p.as_span();
        Span::new(self.source, s.start(), s.end())
    }

    fn name(&self, p: Pair<Rule>) -> Name {
        Name { span: self.span(&p), text: p.as_str().to_string() }
    }

    fn string(&self, p: Pair<Rule>) -> (String, Span) {
        let span = self.span(&p);
        let inner = p.into_inner().next().map(|i| i.as_str()).unwrap_or("");
        (unescape(inner), span)
    }

    fn decl(&self, p: Pair<Rule>) -> R<Decl> {
        let span = self.span(&p);
        let rule = p.as_rule();
        let mut it = p.into_inner().filter(|q| q.as_rule() != Rule::rbrace);
        Ok(match rule {
            Rule::tiers_decl => Decl::Tiers(TiersDecl {
                groups: it.map(|g| g.into_inner().map(|n| self.name(n)).collect()).collect(),
                span,
            }),
            Rule::set_decl => {
                let name = self.name(next(&mut it, span)?);
                let body = next(&mut it, span)?;
                let body = match body.as_rule() {
                    Rule::set_from => SetBody::FromBuilder(self.name(next(&mut body.into_inner(), span)?)),
                    _ => SetBody::Items(self.set_items(body, span)?),
                };
                Decl::Set(SetDecl { name, body })
            }
            Rule::alias_decl => {
                let target = self.name(next(&mut it, span)?);
                let items = self.set_items(next(&mut it, span)?, span)?;
                Decl::Alias(AliasDecl { target, items, span })
            }
            Rule::scan_ignore_decl => Decl::ScanIgnore(ScanIgnoreDecl { items: self.set_items(next(&mut it, span)?, span)?, span }),
            Rule::builder_decl => {
                let name = self.name(next(&mut it, span)?);
                let mut b = BuilderDecl { name, phase: None, tier: None, reach: vec![], span };
                for f in it {
                    let fspan = self.span(&f);
                    let rule = f.as_rule();
                    let mut inner = f.into_inner();
                    match rule {
                        Rule::b_phase => b.phase = Some(self.name(next(&mut inner, fspan)?)),
                        Rule::b_tier => b.tier = Some(self.name(next(&mut inner, fspan)?)),
                        Rule::b_list => {
                            let (s, sp) = self.string(next(&mut inner, fspan)?);
                            b.reach.push(BuilderReach::List(s, sp))
                        }
                        Rule::b_topological => {
                            let (s, sp) = self.string(next(&mut inner, fspan)?);
                            b.reach.push(BuilderReach::Topological(s, sp))
                        }
                        Rule::b_names => b.reach.push(BuilderReach::Names(
                            inner.filter(|q| q.as_rule() != Rule::rbrace).map(|n| self.name(n)).collect(),
                        )),
                        _ => return Err(internal(fspan)),
                    }
                }
                Decl::Builder(b)
            }
            Rule::classify_decl => {
                let name = self.name(next(&mut it, span)?);
                let mut layers = vec![];
                for l in it {
                    let lspan = self.span(&l);
                    let rule = l.as_rule();
                    let mut inner = l.into_inner().filter(|p| p.as_rule() != Rule::kw_in);
                    layers.push(match rule {
                        Rule::layer_dir => {
                            let tier = self.name(next(&mut inner, lspan)?);
                            Layer::Dir { tier, dir: self.name(next(&mut inner, lspan)?) }
                        }
                        Rule::layer_set => {
                            let tier = self.name(next(&mut inner, lspan)?);
                            Layer::InSet { tier, set: self.name(next(&mut inner, lspan)?) }
                        }
                        Rule::layer_infer => Layer::Infer { kinds: inner.map(|n| self.name(n)).collect(), span: lspan },
                        Rule::layer_else => Layer::Else { tier: self.name(next(&mut inner, lspan)?) },
                        _ => return Err(internal(lspan)),
                    });
                }
                Decl::Classify(ClassifyDecl { name, layers })
            }
            Rule::check_decl => {
                let id = self.name(next(&mut it, span)?);
                let severity = match next(&mut it, span)?.as_str() {
                    "halt" => Severity::Halt,
                    _ => Severity::Advisory,
                };
                let mut clauses = vec![];
                for c in it {
                    clauses.push(self.clause(c)?);
                }
                Decl::Check(CheckDecl { id, severity, clauses, span })
            }
            Rule::gate_decl => {
                let id = self.name(next(&mut it, span)?);
                let (title, _) = self.string(next(&mut it, span)?);
                Decl::Gate(GateDecl { id, title, checks: it.map(|n| self.name(n)).collect() })
            }
            Rule::waive_decl => {
                let check = self.name(next(&mut it, span)?);
                let subject = self.name(next(&mut it, span)?);
                Decl::Waive(WaiveDecl { check, subject, fields: self.record_fields(it)?, span })
            }
            Rule::patterns_decl => {
                let name = self.name(next(&mut it, span)?);
                let mut entries = vec![];
                for e in it {
                    let espan = self.span(&e);
                    let mut inner = e.into_inner();
                    let kind = self.name(next(&mut inner, espan)?);
                    let (template, tspan) = self.string(next(&mut inner, espan)?);
                    entries.push((kind, template, tspan));
                }
                Decl::Patterns(PatternsDecl { name, entries })
            }
            Rule::pred_decl => {
                let name = self.name(next(&mut it, span)?);
                let mut params = vec![];
                let mut body = None;
                for part in it {
                    match part.as_rule() {
                        Rule::pred_param => {
                            let pspan = self.span(&part);
                            let mut inner = part.into_inner();
                            let param = self.name(next(&mut inner, pspan)?);
                            params.push((param, self.name(next(&mut inner, pspan)?)));
                        }
                        _ => body = Some(self.expr(part, 0)?),
                    }
                }
                Decl::Pred(PredDecl { name, params, body: body.ok_or_else(|| internal(span))?, span })
            }
            Rule::divergence_decl => {
                let package = self.name(next(&mut it, span)?);
                let dependency = self.name(next(&mut it, span)?);
                Decl::Divergence(DivergenceDecl { package, dependency, fields: self.record_fields(it)?, span })
            }
            Rule::phase_decl => {
                let name = self.name(next(&mut it, span)?);
                let mut ph = PhaseDecl {
                    name,
                    title: None,
                    run: None,
                    builtin: None,
                    after: vec![],
                    checkpoint: false,
                    optional: false,
                    span,
                };
                for f in it {
                    let fspan = self.span(&f);
                    let rule = f.as_rule();
                    let mut inner = f.into_inner();
                    match rule {
                        Rule::p_run => ph.run = Some(self.string(next(&mut inner, fspan)?)),
                        Rule::p_title => ph.title = Some(self.string(next(&mut inner, fspan)?).0),
                        Rule::p_builtin => ph.builtin = Some(self.name(next(&mut inner, fspan)?)),
                        Rule::p_after => ph.after.extend(inner.map(|n| self.name(n))),
                        Rule::p_checkpoint => ph.checkpoint = true,
                        Rule::p_optional => ph.optional = true,
                        _ => return Err(internal(fspan)),
                    }
                }
                Decl::Phase(ph)
            }
            _ => return Err(internal(span)),
        })
    }

    fn record_fields<'i>(&self, it: impl Iterator<Item = Pair<'i, Rule>>) -> R<RecordFields> {
        let mut f = RecordFields::default();
        for field in it {
            let fspan = self.span(&field);
            let rule = field.as_rule();
            let value = next(&mut field.into_inner(), fspan)?;
            match rule {
                Rule::w_reason => f.reason = Some(self.string(value)),
                Rule::w_approver => f.approver = Some(self.string(value)),
                Rule::w_expires => f.expires = Some((value.as_str().to_string(), self.span(&value))),
                _ => return Err(internal(fspan)),
            }
        }
        Ok(f)
    }

    /// The items of a set body (`set`, `alias`, `scan ignore`).
    fn set_items(&self, body: Pair<Rule>, span: Span) -> R<Vec<SetItem>> {
        body.into_inner()
            .filter(|q| q.as_rule() != Rule::rbrace)
            .map(|item| {
                let mut exclude = false;
                let mut pattern = None;
                for part in item.into_inner() {
                    match part.as_rule() {
                        Rule::exclude => exclude = true,
                        _ => pattern = Some(self.name(part)),
                    }
                }
                pattern.map(|pattern| SetItem { pattern, exclude })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| internal(span))
    }

    fn clause(&self, c: Pair<Rule>) -> R<Clause> {
        let span = self.span(&c);
        let rule = c.as_rule();
        let mut it = c.into_inner();
        Ok(match rule {
            Rule::c_for => {
                let mut gens = vec![];
                for g in it {
                    let gspan = self.span(&g);
                    let mut gi = g.into_inner().filter(|p| p.as_rule() != Rule::kw_in);
                    let var = self.name(next(&mut gi, gspan)?);
                    let e = self.expr(next(&mut gi, gspan)?, 0)?;
                    gens.push((var, e));
                }
                Clause::For(gens)
            }
            Rule::c_where => Clause::Where(self.expr(next(&mut it, span)?, 0)?),
            Rule::c_let => {
                let var = self.name(next(&mut it, span)?);
                Clause::Let(var, self.expr(next(&mut it, span)?, 0)?)
            }
            Rule::c_message => Clause::Message(self.template(next(&mut it, span)?)?),
            Rule::c_help => Clause::Help(self.template(next(&mut it, span)?)?),
            Rule::c_at => Clause::At(self.expr(next(&mut it, span)?, 0)?),
            Rule::c_subject => Clause::Subject(self.expr(next(&mut it, span)?, 0)?),
            Rule::c_object => Clause::Object(self.expr(next(&mut it, span)?, 0)?),
            Rule::c_because => Clause::Because(self.expr(next(&mut it, span)?, 0)?),
            Rule::c_stability => Clause::Stability(next(&mut it, span)?.as_str().to_string()),
            Rule::c_about => {
                let (s, sp) = self.string(next(&mut it, span)?);
                Clause::About(s, sp)
            }
            _ => return Err(internal(span)),
        })
    }

    fn template(&self, t: Pair<Rule>) -> R<Template> {
        let span = self.span(&t);
        let mut parts = vec![];
        for p in t.into_inner() {
            match p.as_rule() {
                Rule::tpl_text => parts.push(TemplatePart::Text(unescape(p.as_str()))),
                Rule::tpl_hole => {
                    let hspan = self.span(&p);
                    parts.push(TemplatePart::Hole(self.expr(next(&mut p.into_inner(), hspan)?, 0)?))
                }
                _ => return Err(internal(span)),
            }
        }
        Ok(Template { parts, span })
    }

    /// An expression. Wrapper rules with one child (`expr`, a parenthesised primary, an
    /// `and` chain of one operand...) are stepped through in a loop, so parentheses cost no
    /// recursion here. `depth` is how deep this node sits in the syntax tree; past
    /// [`MAX_EXPR_DEPTH`] the file is rejected, which bounds every later recursion over the
    /// tree (compile, evaluation, drop) on any input.
    fn expr(&self, p: Pair<Rule>, depth: usize) -> R<Expr> {
        let p = unwrap_single(p);
        let span = self.span(&p);
        if depth > MAX_EXPR_DEPTH {
            return Err(too_deep(span));
        }
        match p.as_rule() {
            Rule::or_expr | Rule::and_expr => self.chain(p, span, depth),
            Rule::not_expr => self.not(p, span, depth),
            Rule::cmp_expr => self.compare(p, span, depth),
            Rule::postfix => self.postfix(p, span, depth),
            Rule::int => {
                let n = p.as_str().parse::<i64>().map_err(|_| {
                    RuleError::new("type", "this number is too large", span).with_label("out of range")
                })?;
                Ok(Expr { kind: ExprKind::Int(n), span })
            }
            Rule::string => {
                let (s, _) = self.string(p);
                Ok(Expr { kind: ExprKind::Str(s), span })
            }
            Rule::list_lit => {
                let items = p.into_inner().map(|e| self.expr(e, depth + 1)).collect::<R<Vec<_>>>()?;
                Ok(Expr { kind: ExprKind::List(items), span })
            }
            Rule::call => {
                let mut it = p.into_inner();
                let name = self.name(next(&mut it, span)?);
                let args = match it.next() {
                    Some(a) => a.into_inner().map(|e| self.expr(e, depth + 1)).collect::<R<Vec<_>>>()?,
                    None => vec![],
                };
                Ok(Expr { kind: ExprKind::Call(name, args), span })
            }
            Rule::ident => Ok(Expr { kind: ExprKind::Ident(p.as_str().to_string()), span }),
            _ => Err(internal(span)),
        }
    }

    /// `a and b and c`: a left-deep tree, so the first operand sits one level down per `and`.
    fn chain(&self, p: Pair<Rule>, span: Span, depth: usize) -> R<Expr> {
        let op = if p.as_rule() == Rule::or_expr { BinOp::Or } else { BinOp::And };
        let operands: Vec<Pair<Rule>> =
            p.into_inner().filter(|q| !matches!(q.as_rule(), Rule::kw_or | Rule::kw_and)).collect();
        let below = depth + operands.len().saturating_sub(1);
        if below > MAX_EXPR_DEPTH {
            return Err(too_deep(span));
        }
        let mut operands = operands.into_iter();
        let mut acc = self.expr(next(&mut operands, span)?, below)?;
        for rhs in operands {
            let rhs = self.expr(rhs, below)?;
            let s = Span::new(self.source, acc.span.start as usize, rhs.span.end as usize);
            acc = Expr { kind: ExprKind::Binary(op, Box::new(acc), Box::new(rhs)), span: s };
        }
        Ok(acc)
    }

    fn not(&self, p: Pair<Rule>, span: Span, depth: usize) -> R<Expr> {
        let mut nots = 0;
        let mut inner = None;
        for q in p.into_inner() {
            if q.as_rule() == Rule::not_op {
                nots += 1;
            } else {
                inner = Some(q);
            }
        }
        if depth + nots > MAX_EXPR_DEPTH {
            return Err(too_deep(span));
        }
        let mut e = self.expr(inner.ok_or_else(|| internal(span))?, depth + nots)?;
        for _ in 0..nots {
            e = Expr { kind: ExprKind::Not(Box::new(e)), span };
        }
        Ok(e)
    }

    fn compare(&self, p: Pair<Rule>, span: Span, depth: usize) -> R<Expr> {
        let mut it = p.into_inner();
        let lhs = self.expr(next(&mut it, span)?, depth + 1)?;
        let Some(op) = it.next() else { return Ok(lhs) };
        let op = match op.as_str().split_whitespace().collect::<Vec<_>>().join(" ").as_str() {
            "==" => BinOp::Eq,
            "!=" => BinOp::Ne,
            "<" => BinOp::Lt,
            "<=" => BinOp::Le,
            ">" => BinOp::Gt,
            ">=" => BinOp::Ge,
            "in" => BinOp::In,
            "not in" => BinOp::NotIn,
            _ => BinOp::Glob,
        };
        let rhs = self.expr(next(&mut it, span)?, depth + 1)?;
        Ok(Expr { kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span })
    }

    /// `p.a.b(x)`: one level per access, the receiver at the bottom.
    fn postfix(&self, p: Pair<Rule>, span: Span, depth: usize) -> R<Expr> {
        let parts: Vec<Pair<Rule>> = p.into_inner().collect();
        let below = depth + parts.len().saturating_sub(1);
        if below > MAX_EXPR_DEPTH {
            return Err(too_deep(span));
        }
        let mut it = parts.into_iter();
        let mut acc = self.expr(next(&mut it, span)?, below)?;
        for access in it {
            let aspan = self.span(&access);
            let mut ai = access.into_inner();
            let field = self.name(next(&mut ai, aspan)?);
            let args = match ai.next() {
                Some(a) => Some(a.into_inner().map(|e| self.expr(e, below)).collect::<R<Vec<_>>>()?),
                None => None,
            };
            let s = Span::new(self.source, acc.span.start as usize, aspan.end as usize);
            acc = Expr { kind: ExprKind::Access(Box::new(acc), field, args), span: s };
        }
        Ok(acc)
    }
}

/// How deep an expression's syntax tree may nest. Real rules stay under 10; the bound
/// keeps every recursion over expressions (here, in compile and in evaluation) within a
/// small stack on any input.
pub const MAX_EXPR_DEPTH: usize = 64;

/// How deep brackets may nest on one line, checked before pest runs so that the
/// diagnostic for a pathological file is the same whatever the stack size.
pub const MAX_BRACKET_DEPTH: usize = 64;

fn too_deep(span: Span) -> RuleError {
    RuleError::new("too-deep", format!("this expression nests more than {MAX_EXPR_DEPTH} levels deep"), span)
        .with_label("too deep")
        .with_help("split it with `let` clauses or a named set")
}

/// Step through wrapper nodes that add no meaning: `expr`, a chain of one operand, a
/// comparison without an operator, a primary without accesses, `not_expr` without `not`.
fn unwrap_single(mut p: Pair<Rule>) -> Pair<Rule> {
    loop {
        let wrapper = matches!(
            p.as_rule(),
            Rule::expr | Rule::or_expr | Rule::and_expr | Rule::not_expr | Rule::cmp_expr | Rule::postfix
        );
        if !wrapper {
            return p;
        }
        let mut inner = p.clone().into_inner();
        match (inner.next(), inner.next()) {
            (Some(only), None) => p = only,
            _ => return p,
        }
    }
}

fn next<'i>(it: &mut impl Iterator<Item = Pair<'i, Rule>>, span: Span) -> R<Pair<'i, Rule>> {
    it.next().ok_or_else(|| internal(span))
}

/// The grammar guarantees the shapes matched above; reaching this means grammar and
/// builder disagree. Reported as a diagnostic, never a panic.
fn internal(span: Span) -> RuleError {
    RuleError::new("syntax", "internal error: unexpected syntax tree shape", span)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_start_with_a_keyword_and_a_blank_in_the_first_column() {
        let text = "policy 1\nset a {\n  x\nset-b\n}\n  check c halt {\ncheck d halt {\n}\n";
        let starts: Vec<&str> = decl_starts(text).iter().map(|&i| text[i..].lines().next().unwrap_or("")).collect();
        assert_eq!(starts, ["set a {", "check d halt {"]);
    }

    #[test]
    fn recovery_keeps_the_other_declarations_and_silences_the_broken_names() {
        let text = "policy 1\n\nset a {\n  x {\n}\n\nset b {\n  y\n}\n\ntiers p < < q\n";
        let (file, errors) = parse_recovering(SourceId(0), text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(file.decls.len(), 1, "set b is kept");
        assert_eq!(file.broken, ["a", "tiers", "p", "q"]);
        assert_eq!(file.version.map(|v| v.0), Some(1));
    }
}
