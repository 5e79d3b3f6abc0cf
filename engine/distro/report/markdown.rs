//! `igos check --format markdown`: a pull-request comment body (`gh pr comment
//! --body-file`) and the GitHub step summary. The verdict, a table of the gates, then
//! either what a baseline changed (findings added and gone, natural tiers moved) or the
//! halting findings; each finding links to its file and line. Links are relative to the
//! tree unless `link_base` is given (e.g. `https://github.com/o/r/blob/<sha>/`).
//! Text from data goes through `visible` and Markdown escaping, so a recipe cannot inject
//! markup, links or mentions into the comment.

use std::fmt::Write as _;

use super::concise::anchor;
use super::review::Review;
use crate::outcome::Outcome;
use crate::finding::Finding;
use crate::lang::ast::Severity;
use crate::source::SourceMap;
use crate::visible::visible;

/// Findings listed per section; the rest are counted. A comment holds at most 65,536
/// characters on GitHub, which this keeps well inside.
const LISTED: usize = 50;

/// Text from data, safe inside Markdown: visible, with markup characters escaped (backticks
/// kept: the rules' messages quote names with them) and `@` not a mention.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in visible(s).chars() {
        match c {
            '\\' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '@' => out.push_str("&#64;"),
            _ => out.push(c),
        }
    }
    out
}

/// `[file:line](base + file#Lline)`, or the check's name when it has no place.
fn link(sources: &SourceMap, f: &Finding, link_base: &str) -> String {
    match anchor(sources, f) {
        Some((file, line, _)) => {
            let target: String = visible(file).chars().map(|c| if c == ' ' { "%20".to_string() } else { c.to_string() }).collect();
            let target = target.replace(['(', ')', '<', '>'], "_");
            format!("[{}:{line}]({link_base}{target}#L{line})", escape(file))
        }
        None => "(no file)".to_string(),
    }
}

fn finding_line(sources: &SourceMap, f: &Finding, link_base: &str) -> String {
    let mark = match (f.severity, f.is_waived()) {
        (_, true) => "waived",
        (Severity::Halt, _) => "🛑 halt",
        (Severity::Advisory, _) => "⚠️ advisory",
    };
    format!("- {mark} **{}** `{}`: {} ({})\n", f.check, escape(&f.subject).replace('`', "'"), escape(&f.message), link(sources, f, link_base))
}

fn list<'a>(out: &mut String, items: impl Iterator<Item = (&'a Finding, &'a SourceMap)>, link_base: &str) {
    let mut n = 0;
    for (f, sources) in items {
        n += 1;
        if n == 1 {
            out.push('\n'); // a list after a paragraph needs a blank line
        }
        if n <= LISTED {
            out.push_str(&finding_line(sources, f, link_base));
        }
    }
    if n > LISTED {
        let _ = writeln!(out, "- … and {} more (`igos check --format concise` lists every one)", n - LISTED);
    }
}

/// The gates table.
pub fn gates_table(outcome: &Outcome) -> String {
    let mut out = String::from("| gate | verdict | halting | advisory | waived |\n|---|---|---:|---:|---:|\n");
    for g in &outcome.gates {
        if g.id == "rules" && g.findings.is_empty() {
            continue;
        }
        let verdict = match (g.halting() > 0, g.skipped.is_some()) {
            (true, _) => "❌ FAIL",
            (false, true) => "skipped",
            (false, false) => "✅ pass",
        };
        let _ = writeln!(out, "| {} | {verdict} | {} | {} | {} |", escape(&g.title), g.halting(), g.advisories(), g.waived());
    }
    out
}

/// The comment body. With a review: what changed; without: the halting findings.
pub fn render(outcome: &Outcome, sources: &SourceMap, review: Option<&Review>, link_base: &str) -> String {
    let mut out = String::new();
    let halting = outcome.halting();
    let verdict = if halting == 0 {
        format!("✅ PASS: {} packages, no halting findings", outcome.packages)
    } else {
        format!("❌ FAIL: {halting} halting finding(s), {} packages", outcome.packages)
    };
    let _ = writeln!(out, "### igos check: {verdict}\n");
    out.push_str(&gates_table(outcome));
    match review {
        Some(r) => {
            let _ = writeln!(out, "\n#### Against the baseline\n");
            for s in &r.sides {
                let _ = writeln!(out, "- {}: `{}` at {}", s.what, escape(&s.dir).replace('`', "'"), escape(&s.at));
            }
            let _ = writeln!(out, "\n**Findings added: {}**", r.added.len());
            list(&mut out, r.added.iter().map(|c| (c.finding, c.sources)), link_base);
            let _ = writeln!(out, "\n**Findings gone: {}**", r.gone.len());
            list(&mut out, r.gone.iter().map(|c| (c.finding, c.sources)), link_base);
            let _ = writeln!(out, "\n**Natural tier moved: {}**", r.moved.len());
            if !r.moved.is_empty() {
                out.push('\n');
            }
            for (i, (name, from, to)) in r.moved.iter().enumerate() {
                if i == LISTED {
                    let _ = writeln!(out, "- … and {} more", r.moved.len() - LISTED);
                    break;
                }
                let _ = writeln!(out, "- `{}`: {} → {}", escape(name).replace('`', "'"), escape(from), escape(to));
            }
        }
        None => {
            let _ = writeln!(out, "\n#### Halting findings");
            list(&mut out, outcome.findings().filter(|f| f.halts()).map(|f| (f, sources)), link_base);
            let advisories: usize = outcome.gates.iter().map(|g| g.advisories()).sum();
            if advisories > 0 {
                let _ = writeln!(out, "\n{advisories} advisory finding(s) are not listed here (`igos check --format concise`).");
            }
        }
    }
    out
}
