//! `igos explain`: why a package has its natural tier, or what produced one finding.

use std::path::PathBuf;

use crate::checker::{Checker, Inputs};
use crate::report::diagnostic;

use super::Color;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  igos explain bat                      # why bat's natural tier is base\n  igos explain tier-move bat            # the finding and the rule behind it\n  igos explain --root ../shared/corpus/intergenos-91d65db0 inih\n\n\
Exit codes: 0 explained; 1 the check finds nothing for that subject (or a recipe could not be\n\
read); 2 no such package or check, or unusable rules or input.")]
pub struct ExplainArgs {
    /// A package name, or a check id followed by the finding's subject.
    #[arg(required = true, num_args = 1..=2, value_name = "PACKAGE | CHECK SUBJECT")]
    pub what: Vec<String>,
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

pub fn run(args: &ExplainArgs) -> i32 {
    let style = args.color.style();
    let mut l = match super::check::load(&args.root, args.rules.as_deref(), style) {
        Ok(l) => l,
        Err(code) => return code,
    };
    // A recipe that could not be read is a halting finding: say so before explaining
    // (the explanation may be missing facts), and exit 1 whatever the explanation.
    for pr in &l.tree.problems {
        let at = diagnostic::position(&l.sources, pr.span);
        super::err(&diagnostic::render(
            &diagnostic::plain(&format!("tree::{}", crate::eval::schema::Closed::name(pr.kind)), format!("{at}: {}", pr.message), None),
            style,
        ));
    }
    let code = explain(args, &mut l, style);
    if code == 0 && !l.tree.problems.is_empty() {
        super::err(&format!("igos: {} recipe file(s) could not be read; the explanation may be incomplete (exit 1)\n", l.tree.problems.len()));
        return 1;
    }
    code
}

fn explain(args: &ExplainArgs, l: &mut super::check::Loaded, style: crate::report::diagnostic::Style) -> i32 {
    match args.what.as_slice() {
        [name] => {
            let checker = Checker::new(&l.rules.policy, &l.tree);
            match crate::explain::package(&checker.engine(), &l.tree, &l.sources, name) {
                Some(text) => {
                    // Names, versions and list lines from the tree: control bytes shown visibly.
                    super::out(&crate::visible::visible_lines(&text));
                    0
                }
                None => {
                    let names = l.tree.packages.iter().map(|p| p.name.as_str());
                    let hint = crate::lang::error::did_you_mean(name, names).map(|s| format!("did you mean `{s}`?"));
                    super::err(&diagnostic::render(&diagnostic::plain("explain", format!("no package named `{name}` in {}", args.root.display()), hint), style));
                    2
                }
            }
        }
        [check_id, subject] => {
            if l.rules.policy.check(check_id).is_none() {
                let ids = l.rules.policy.checks.iter().map(|c| c.id.as_str());
                let hint = crate::lang::error::did_you_mean(check_id, ids).map(|s| format!("did you mean `{s}`?"));
                super::err(&diagnostic::render(&diagnostic::plain("explain", format!("no check `{check_id}`"), hint), style));
                return 2;
            }
            // Every gate's facts, read from the same default places igos check reads them
            // (Gate 2's database, Gate 6's scan cache and sources, Gate 5's reference), so any
            // finding igos check prints can be explained; what igos check refuses to read,
            // explain refuses too.
            let inputs = Inputs::new(&args.root);
            let audit = match inputs.audit() {
                Ok(a) => a,
                Err(u) => return super::check::fail(style, u.code, u.message, u.help),
            };
            let scans = match inputs.scans(&l.tree, &l.rules.policy, &mut l.sources) {
                Ok(s) => s,
                Err(u) => return super::check::fail(style, u.code, u.message, u.help),
            };
            let checker = Checker::new(&l.rules.policy, &l.tree).audit(&audit, &l.sources).scans(&scans);
            let checked = checker.run();
            let found: Vec<_> = checked.outcome.findings().filter(|f| &f.check == check_id && &f.subject == subject).collect();
            if found.is_empty() {
                super::out(&format!("`{check_id}` finds nothing for {}\n", crate::visible::visible(subject)));
                return 1;
            }
            for f in found {
                super::out(&diagnostic::render(&diagnostic::finding(&l.sources, f), style));
            }
            // The same classification the findings came from.
            if let Some(text) = crate::explain::package(&checked.engine, &l.tree, &l.sources, subject) {
                super::out(&format!("\n{}", crate::visible::visible_lines(&text)));
            }
            0
        }
        _ => 2,
    }
}
