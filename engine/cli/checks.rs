//! `igos checks`: the registry of every check the rules declare.

use std::path::PathBuf;

use crate::report::diagnostic;
use crate::rules;
use crate::source::SourceMap;

use super::Color;

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  igos checks               # id, severity, gate, stability, description")]
pub struct ChecksArgs {
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

pub fn run(args: &ChecksArgs) -> i32 {
    let mut sources = SourceMap::new();
    let dir = args.rules.clone().or_else(super::check::default_rules_dir);
    let style = args.color.style();
    let loaded = match rules::load(dir.as_deref(), &mut sources) {
        Ok(l) if l.errors.is_empty() => l,
        Ok(l) => {
            // Say which file and where, as `igos check` does.
            for e in &l.errors {
                super::err(&diagnostic::render(&diagnostic::rule_error(&sources, e), style));
            }
            super::err(&format!("igos: {} error(s) in the rule files; no checks to list (exit 2)\n", l.errors.len()));
            return 2;
        }
        Err(msg) => return super::check::fail(style, "rules::unreadable", msg, None),
    };
    let p = &loaded.policy;
    // In the order igos check runs them: gate by gate, then checks no gate lists (pkm's).
    let mut order: Vec<usize> = p.gates.iter().flat_map(|g| g.checks.iter().copied()).collect();
    let mut seen = std::collections::HashSet::new();
    order.retain(|i| seen.insert(*i));
    order.extend((0..p.checks.len()).filter(|i| !seen.contains(i)));
    let row = |id: &str, severity: &str, gate: &str, stability: &str, about: &str| {
        format!("{id:<28} {severity:<9} {gate:<20} {stability:<12} {about}\n")
    };
    let mut text = row("check", "severity", "gate", "stability", "description");
    for i in order {
        let Some(c) = p.checks.get(i) else { continue };
        let gate = p.gate_of(i).map(|g| g.id.as_str()).unwrap_or("-");
                // `about` is the rule file's text: shown, never obeyed by the terminal.
        text += &row(&c.id, c.severity.as_str(), gate, &crate::visible::visible(&c.stability), &crate::visible::visible(c.about.as_deref().unwrap_or("")));
    }
    for (id, about) in [
        ("shadowed-entry", "a list entry an earlier classification layer already decides for another tier"),
        ("waiver-expired", "a waiver past its expiry: the finding it waived applies again"),
        ("waiver-unused", "a waiver that matches no finding"),
        ("check-without-gate", "a tree check that no gate lists (its findings go under \"Rule files\")"),
    ]
    .into_iter()
    .chain(crate::lang::lints::LINTS.iter().copied())
    {
        text += &row(id, "advisory", "(rules)", "stable", about);
    }
    text += &row(crate::eval::run::BUDGET_CHECK, "halt", "(rules)", "stable", "a check stopped by its step budget (a runaway rule): exit 2");
    super::out(&text);
    0
}
