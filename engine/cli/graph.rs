//! `igos graph tiers|deps|phases`: the policy drawn, as Graphviz DOT, Mermaid (which GitHub
//! renders in Markdown, so it can go in a pull-request comment) or SVG (through Graphviz's
//! `dot`, when it is installed).

use std::io::Write as _;
use std::path::PathBuf;

use crate::eval::run::Engine;
use crate::facts::tree::TreeFacts;
use crate::graph::{self, views, Graph};
use crate::report::diagnostic;
use crate::visible::visible;

use super::Color;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    /// the tier order and the classification layers, with their sets and what they place
    Tiers,
    /// the inference edges that placed each package (--package: around one package)
    Deps,
    /// the build phases, their order, checkpoints and builders
    Phases,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Mermaid flowchart (put it in a ```mermaid block of a pull-request comment)
    Mermaid,
    /// Graphviz DOT
    Dot,
    /// SVG drawn by Graphviz's `dot` (must be on PATH)
    Svg,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  igos graph tiers                              # Mermaid, for a pull-request comment\n  igos graph deps --package inih --format dot\n  igos graph phases --format svg > phases.svg   # needs Graphviz (dot)")]
pub struct GraphArgs {
    #[arg(value_enum)]
    pub view: View,
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
    /// With `deps`: one package, its consumers, what placed it and what it places.
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

pub fn run(args: &GraphArgs) -> i32 {
    let style = args.color.style();
    if args.package.is_some() && args.view != View::Deps {
        return super::check::fail(style, "graph::usage", "--package goes with `igos graph deps`".into(), None);
    }
    let g = match args.view {
        View::Phases => {
            let mut sources = crate::source::SourceMap::new();
            let dir = args.rules.clone().or_else(super::check::default_rules_dir);
            let rules = match crate::rules::load(dir.as_deref(), &mut sources) {
                Ok(r) => r,
                Err(msg) => return super::check::fail(style, "rules::unreadable", msg, None),
            };
            if !rules.errors.is_empty() {
                for e in &rules.errors {
                    super::err(&diagnostic::render(&diagnostic::rule_error(&sources, e), style));
                }
                super::err(&format!("igos: {} error(s) in the rule files; nothing drawn (exit 2)\n", rules.errors.len()));
                return 2;
            }
            views::phases(&rules.policy)
        }
        View::Tiers | View::Deps => {
            let l = match super::check::load(&args.root, args.rules.as_deref(), style) {
                Ok(l) => l,
                Err(code) => return code,
            };
            let facts = TreeFacts::new(&l.tree, &l.rules.policy);
            let engine = Engine::new(&l.rules.policy, &facts);
            if args.view == View::Tiers {
                views::tiers(&engine)
            } else {
                if l.rules.policy.classifications.is_empty() {
                    return super::check::fail(style, "graph::nothing", "the rules declare no classification: there are no inference edges to draw".into(), None);
                }
                let package = match &args.package {
                    None => None,
                    Some(name) => match l.tree.packages.iter().position(|p| &p.name == name) {
                        Some(i) => Some(i),
                        None => {
                            let names = l.tree.packages.iter().map(|p| p.name.as_str());
                            let hint = crate::lang::error::did_you_mean(name, names).map(|s| format!("did you mean `{}`?", visible(s)));
                            let root = visible(&args.root.to_string_lossy()).into_owned();
                            return super::check::fail(style, "graph::no-package", format!("no package named `{}` in {root}", visible(name)), hint);
                        }
                    },
                };
                views::deps(&engine, &l.tree, package)
            }
        }
    };
    emit(&g, args.format, style)
}

fn emit(g: &Graph, format: GraphFormat, style: diagnostic::Style) -> i32 {
    match format {
        GraphFormat::Mermaid => super::out(&graph::mermaid(g)),
        GraphFormat::Dot => super::out(&graph::dot(g)),
        GraphFormat::Svg => match svg(&graph::dot(g)) {
            Ok(bytes) => super::out_with(|w| w.write_all(&bytes)),
            Err(msg) => return super::check::fail(style, "graph::svg", msg, Some("install Graphviz (`apt install graphviz`), or write --format dot and render it elsewhere".into())),
        },
    }
    0
}

/// The DOT text drawn as SVG by Graphviz's `dot`.
fn svg(dot: &str) -> Result<Vec<u8>, String> {
    let mut child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "--format svg needs Graphviz's `dot` on PATH, and there is none".to_string(),
            _ => format!("cannot run Graphviz's `dot`: {e}"),
        })?;
    let mut stdin = child.stdin.take().ok_or("cannot write to `dot`")?;
    let text = dot.to_string();
    // Written from another thread: `dot` may fill its output pipe before it has read all of
    // its input.
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().map_err(|e| format!("`dot` failed: {e}"))?;
    let written = writer.join().map_err(|_| "writing to `dot` failed".to_string())?;
    if !out.status.success() {
        return Err(format!("`dot -Tsvg` failed ({}): {}", out.status, visible(String::from_utf8_lossy(&out.stderr).trim())));
    }
    written.map_err(|e| format!("writing to `dot` failed: {e}"))?;
    Ok(out.stdout)
}
