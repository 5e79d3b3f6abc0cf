//! Lints on rule files: advisories about rules that compile but cannot mean what their
//! author meant. Reported under "Rule files" by `igos check`, beside the engine's
//! `shadowed-entry` and `check-without-gate`; a tier-list entry that names no recipe is the
//! rules' own `set-entry-without-recipe` check, not a lint.
//!
//! - `constant-condition`: a `where` (or an `and`/`or`/`not` operand of one) that depends on
//!   no variable of the check and on no fact: `where 1 == 2`, `where true`, `x != x`. It
//!   either filters nothing or makes the check find nothing, whatever the tree.
//! - `unused-pred`: a named predicate that no check and no predicate calls (a leftover,
//!   or a check that was meant to use it and copies its condition instead).
//! - `alias-without-recipe`: an `alias <recipe>` whose recipe the tree does not have but
//!   one of a near name (case, or one character added, dropped, changed or swapped; not one
//!   digit for another, which is another version: gtk3, gtk4) does:
//!   a misspelling, which would leave every upstream name of the alias unresolved. An
//!   alias for a recipe the tree simply lacks is not reported (rules serve smaller trees).
//! - `glob-matches-nothing`: a glob of a tier list or of a builder's `names` that matches
//!   no recipe of the tree (a typo, or a family of packages that was renamed).

use std::collections::HashSet;

use crate::eval::schema::{Builtin, Schema, BUILTINS};
use crate::finding::{Finding, WaiverState};
use crate::lang::ast::{BinOp, Clause, Decl, Expr, ExprKind, RuleFile};
use crate::lang::compile::{CLayer, Policy, Reach};
use crate::lang::glob;
use crate::lang::ast::Severity;
use crate::source::Span;

pub const CONSTANT_CONDITION: &str = "constant-condition";
pub const GLOB_MATCHES_NOTHING: &str = "glob-matches-nothing";
pub const UNUSED_PRED: &str = "unused-pred";
pub const ALIAS_WITHOUT_RECIPE: &str = "alias-without-recipe";

/// The lints and what they report, for `igos checks`.
pub const LINTS: &[(&str, &str)] = &[
    (CONSTANT_CONDITION, "a `where` condition that depends on no variable and no fact: always true or always false"),
    (UNUSED_PRED, "a named predicate that no check or predicate calls"),
    (ALIAS_WITHOUT_RECIPE, "an alias whose recipe the tree lacks, when a recipe of a near name exists (a misspelling)"),
    (GLOB_MATCHES_NOTHING, "a glob of a tier list or a builder's names that matches no recipe of the tree"),
];

/// `unused-pred` findings: predicates the compiler saw no call of.
pub fn unused_preds(policy: &Policy) -> Vec<Finding> {
    policy
        .preds
        .iter()
        .filter(|p| p.uses.is_empty())
        .map(|p| Finding {
            check: UNUSED_PRED.into(),
            severity: Severity::Advisory,
            gate: None,
            subject: p.name.clone(),
            object: None,
            message: format!("predicate `{}` is declared but nothing calls it", p.name),
            help: Some("call it in a check's `where` (`where {name}(p)`), or remove it".replace("{name}", &p.name)),
            at: Some(p.span),
            rule: Some(p.span),
            because: None,
            waiver: WaiverState::None,
        })
        .collect()
}

/// What the names of an expression are, for deciding whether it can vary.
struct Names {
    /// Variables the check binds (`for`, `let`).
    vars: HashSet<String>,
    /// Relations: facts, different from one tree to the next.
    relations: HashSet<&'static str>,
    /// Functions whose value depends only on their arguments.
    pure: HashSet<&'static str>,
}

/// `constant-condition` findings of the parsed rule files (tree-independent: computed once,
/// when the rules are compiled). `policy` tells which checks compiled: a check that did
/// not has its errors already.
pub fn constant_conditions(files: &[RuleFile], policy: &Policy, schema: &Schema) -> Vec<Finding> {
    let relations: HashSet<&'static str> = schema.relations().map(|r| r.name).collect();
    // The engine's functions depend only on their arguments, but for `today()`, which takes
    // no argument and changes with the date.
    let pure: HashSet<&'static str> = BUILTINS.iter().filter(|(b, _)| *b != Builtin::Today).map(|(_, f)| f.name).collect();
    let mut out = vec![];
    for decl in files.iter().flat_map(|f| &f.decls) {
        let Decl::Check(ch) = decl else { continue };
        if policy.check(&ch.id.text).is_none() {
            continue;
        }
        let mut vars = HashSet::new();
        for c in &ch.clauses {
            match c {
                Clause::For(gens) => vars.extend(gens.iter().map(|(n, _)| n.text.clone())),
                Clause::Let(n, _) => {
                    vars.insert(n.text.clone());
                }
                _ => {}
            }
        }
        let names = Names { vars, relations: relations.clone(), pure: pure.clone() };
        for c in &ch.clauses {
            if let Clause::Where(e) = c {
                condition(e, &names, &mut |e: &Expr, why: String| {
                    out.push(Finding {
                        check: CONSTANT_CONDITION.into(),
                        severity: Severity::Advisory,
                        gate: None,
                        subject: ch.id.text.clone(),
                        object: Some(show(e)),
                        message: format!("in check `{}`, `{}` {why}", ch.id.text, show(e)),
                        help: Some(
                            "a condition that is the same for every item filters nothing or makes the check find nothing: \
                             compare a variable's field (`p.tier == core`), or remove it"
                                .into(),
                        ),
                        at: Some(e.span),
                        rule: Some(ch.id.span),
                        because: None,
                        waiver: WaiverState::None,
                    })
                });
            }
        }
    }
    out
}

/// Walk a condition: report the outermost constant conditions, looking inside `and`, `or`
/// and `not` (their operands are conditions too), never inside comparisons (`p.tier ==
/// core` has a constant operand and is fine).
fn condition(e: &Expr, names: &Names, report: &mut dyn FnMut(&Expr, String)) {
    if let Some(why) = constant(e, names) {
        report(e, why);
        return;
    }
    match &e.kind {
        ExprKind::Binary(BinOp::And | BinOp::Or, l, r) => {
            condition(l, names, report);
            condition(r, names, report);
        }
        ExprKind::Not(inner) => condition(inner, names, report),
        _ => {}
    }
}

/// Why a condition is constant, or None when it can vary.
fn constant(e: &Expr, names: &Names) -> Option<String> {
    if let ExprKind::Binary(op, l, r) = &e.kind {
        if let Some(value) = self_comparison(*op) {
            if same(l, r) && !fixed(l, names) {
                return Some(format!("compares a value with itself: always {value}"));
            }
        }
    }
    if !fixed(e, names) {
        return None;
    }
    Some(match literal(e) {
        Some(Lit::Bool(b)) => format!("is always {b}: it depends on no variable of the check and no fact"),
        _ => "depends on no variable of the check and no fact: it is the same for every item".into(),
    })
}

/// The value of `x OP x`, for the comparisons that have one.
fn self_comparison(op: BinOp) -> Option<bool> {
    match op {
        BinOp::Eq | BinOp::Le | BinOp::Ge => Some(true),
        BinOp::Ne | BinOp::Lt | BinOp::Gt => Some(false),
        _ => None,
    }
}

/// The expression has the same value for every binding and every tree: no variable, no
/// relation, no function but pure ones.
fn fixed(e: &Expr, names: &Names) -> bool {
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Str(_) => true,
        ExprKind::List(items) => items.iter().all(|i| fixed(i, names)),
        ExprKind::Ident(n) => !names.vars.contains(n) && !names.relations.contains(n.as_str()),
        ExprKind::Call(f, args) => names.pure.contains(f.text.as_str()) && args.iter().all(|a| fixed(a, names)),
        // A field or method of a fixed value: only `none` can be one, and it stays none.
        ExprKind::Access(recv, _, args) => fixed(recv, names) && args.iter().flatten().all(|a| fixed(a, names)),
        ExprKind::Not(inner) => fixed(inner, names),
        ExprKind::Binary(_, l, r) => fixed(l, names) && fixed(r, names),
    }
}

enum Lit {
    Bool(bool),
    Int(i64),
    Str(String),
}

/// The value of a fixed expression made of literals, when it is simple enough to compute
/// here (numbers, strings, `true`/`false`, comparisons, `and`/`or`/`not`).
fn literal(e: &Expr) -> Option<Lit> {
    Some(match &e.kind {
        ExprKind::Int(n) => Lit::Int(*n),
        ExprKind::Str(s) => Lit::Str(s.clone()),
        ExprKind::Ident(n) if n == "true" => Lit::Bool(true),
        ExprKind::Ident(n) if n == "false" => Lit::Bool(false),
        ExprKind::Not(inner) => match literal(inner)? {
            Lit::Bool(b) => Lit::Bool(!b),
            _ => return None,
        },
        ExprKind::Binary(op, l, r) => {
            let (l, r) = (literal(l)?, literal(r)?);
            Lit::Bool(match (op, l, r) {
                (BinOp::And, Lit::Bool(a), Lit::Bool(b)) => a && b,
                (BinOp::Or, Lit::Bool(a), Lit::Bool(b)) => a || b,
                (op, Lit::Int(a), Lit::Int(b)) => compare(*op, a.cmp(&b))?,
                (op, Lit::Str(a), Lit::Str(b)) => compare(*op, a.cmp(&b))?,
                (BinOp::Eq, Lit::Bool(a), Lit::Bool(b)) => a == b,
                (BinOp::Ne, Lit::Bool(a), Lit::Bool(b)) => a != b,
                _ => return None,
            })
        }
        _ => return None,
    })
}

fn compare(op: BinOp, o: std::cmp::Ordering) -> Option<bool> {
    use std::cmp::Ordering::*;
    Some(match op {
        BinOp::Eq => o == Equal,
        BinOp::Ne => o != Equal,
        BinOp::Lt => o == Less,
        BinOp::Le => o != Greater,
        BinOp::Gt => o == Greater,
        BinOp::Ge => o != Less,
        _ => return None,
    })
}

/// The same expression, positions aside.
fn same(a: &Expr, b: &Expr) -> bool {
    let all = |x: &[Expr], y: &[Expr]| x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y));
    match (&a.kind, &b.kind) {
        (ExprKind::Int(x), ExprKind::Int(y)) => x == y,
        (ExprKind::Str(x), ExprKind::Str(y)) | (ExprKind::Ident(x), ExprKind::Ident(y)) => x == y,
        (ExprKind::List(x), ExprKind::List(y)) => all(x, y),
        (ExprKind::Call(f, x), ExprKind::Call(g, y)) => f.text == g.text && all(x, y),
        (ExprKind::Access(r, f, x), ExprKind::Access(s, g, y)) => {
            f.text == g.text
                && same(r, s)
                && match (x, y) {
                    (None, None) => true,
                    (Some(x), Some(y)) => all(x, y),
                    _ => false,
                }
        }
        (ExprKind::Not(x), ExprKind::Not(y)) => same(x, y),
        (ExprKind::Binary(o, l, r), ExprKind::Binary(p, m, s)) => o == p && same(l, m) && same(r, s),
        _ => false,
    }
}

/// An expression as rule text (one space between tokens, parentheses where they matter).
pub fn show(e: &Expr) -> String {
    let list = |items: &[Expr]| items.iter().map(show).collect::<Vec<_>>().join(", ");
    match &e.kind {
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Ident(n) => n.clone(),
        ExprKind::List(items) => format!("[{}]", list(items)),
        ExprKind::Call(f, args) => format!("{}({})", f.text, list(args)),
        ExprKind::Access(r, f, None) => format!("{}.{}", operand(r), f.text),
        ExprKind::Access(r, f, Some(args)) => format!("{}.{}({})", operand(r), f.text, list(args)),
        ExprKind::Not(inner) => format!("not {}", operand(inner)),
        ExprKind::Binary(op, l, r) => format!("{} {} {}", operand(l), op.symbol(), operand(r)),
    }
}

fn operand(e: &Expr) -> String {
    match e.kind {
        ExprKind::Binary(..) | ExprKind::Not(_) => format!("({})", show(e)),
        _ => show(e),
    }
}

/// `alias-without-recipe` findings: aliases naming no recipe of `names` but a near one.
pub fn misspelt_aliases<'a>(policy: &Policy, names: impl Iterator<Item = &'a str>) -> Vec<Finding> {
    if policy.aliases.is_empty() {
        return vec![];
    }
    let names: Vec<&str> = names.collect();
    let have: HashSet<&str> = names.iter().copied().collect();
    let mut out = vec![];
    for a in policy.aliases.iter().filter(|a| !have.contains(a.target.as_str())) {
        // The first near name in the tree's order: deterministic.
        let Some(near) = names.iter().find(|n| one_edit_apart(&a.target, n)) else { continue };
        out.push(Finding {
            check: ALIAS_WITHOUT_RECIPE.into(),
            severity: Severity::Advisory,
            gate: None,
            subject: a.target.clone(),
            object: None,
            message: format!("`alias {}` names no recipe of this tree; did you mean `{near}`?", a.target),
            help: Some(format!("its upstream names resolve to no recipe while the alias is misspelt: `alias {near} {{ ... }}`")),
            at: Some(a.span),
            rule: Some(a.span),
            because: None,
            waiver: WaiverState::None,
        });
    }
    out
}

/// `a` and `b` differ by case only, or by one character added, dropped, changed or two
/// neighbours swapped. Linear, and most pairs stop at the first characters.
fn one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[p..], &b[p..]);
    let tail = |x: &[u8], y: &[u8]| x == y;
    match ra.len().cmp(&rb.len()) {
        // One digit for another is another version (gtk3, gtk4), not a typo.
        std::cmp::Ordering::Equal => {
            (tail(&ra[1..], &rb[1..]) && !(ra[0].is_ascii_digit() && rb[0].is_ascii_digit()))
                || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && tail(&ra[2..], &rb[2..]))
        }
        std::cmp::Ordering::Less => tail(ra, &rb[1..]),
        std::cmp::Ordering::Greater => tail(&ra[1..], rb),
    }
}

/// `glob-matches-nothing` findings: the globs (included or `!` excluded) of the sets a
/// classification consults and of the builders' `names` that match none of `names`.
pub fn unmatched_globs<'a>(policy: &Policy, names: impl Iterator<Item = &'a str>) -> Vec<Finding> {
    // (glob, where it is written, whose it is, the declaration)
    let mut globs: Vec<(&str, Span, String, Span)> = vec![];
    let mut seen_sets = HashSet::new();
    for cl in &policy.classifications {
        for layer in &cl.layers {
            let CLayer::InSet { set, .. } = layer else { continue };
            if !seen_sets.insert(*set) {
                continue;
            }
            let s = &policy.sets[*set];
            for (g, span) in s.globs.iter().chain(s.excludes.iter().filter(|(g, _)| glob::is_glob(g))) {
                globs.push((g, *span, format!("set `{}`", s.name), s.span));
            }
        }
    }
    for b in &policy.builders {
        for reach in &b.reach {
            if let Reach::Names(items) = reach {
                for (g, span) in items.iter().filter(|(g, _)| glob::is_glob(g)) {
                    globs.push((g, *span, format!("builder `{}`", b.name), b.span));
                }
            }
        }
    }
    if globs.is_empty() {
        return vec![];
    }
    let mut matched = vec![false; globs.len()];
    for name in names {
        for (i, (g, ..)) in globs.iter().enumerate() {
            if !matched[i] && glob::matches(g, name) {
                matched[i] = true;
            }
        }
        if matched.iter().all(|&m| m) {
            break;
        }
    }
    globs
        .into_iter()
        .zip(matched)
        .filter(|(_, m)| !m)
        .map(|((g, span, whose, decl), _)| Finding {
            check: GLOB_MATCHES_NOTHING.into(),
            severity: Severity::Advisory,
            gate: None,
            subject: g.to_string(),
            object: Some(whose.clone()),
            message: format!("`{g}` in {whose} matches no recipe of this tree"),
            help: Some("a misspelt glob or a family of packages renamed: fix or delete it; kept for packages not yet written, it is only an advisory".into()),
            at: Some(span),
            rule: Some(decl),
            because: None,
            waiver: WaiverState::None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::one_edit_apart;

    #[test]
    fn one_edit() {
        for (a, b) in [("glib", "glib2"), ("glib22", "glib2"), ("gilb2", "glib2"), ("GLib2", "glib2"), ("xlib2", "glib2")] {
            assert!(one_edit_apart(a, b), "{a} {b}");
        }
        for (a, b) in [("gl", "glib2"), ("gilb3", "glib2"), ("zlib", "glib2"), ("", "ab"), ("ab", "ba2"), ("gtk3", "gtk4"), ("glib3", "glib2")] {
            assert!(!one_edit_apart(a, b), "{a} {b}");
        }
        assert!(one_edit_apart("", "a") && one_edit_apart("ab", "ba"));
    }
}
