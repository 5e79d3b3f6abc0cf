//! `igos fmt`: rewrite rule files in the canonical layout, or check that they are.

use std::path::PathBuf;

use crate::fmt;
use crate::report::diagnostic;
use crate::source::{SourceFile, SourceMap};
use crate::visible::{visible, visible_lines};

use super::Color;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  igos fmt                  # format every rules/*.pol in place\n  igos fmt --check          # CI: exit 1 and show the diff when a file is not formatted\n  igos fmt rules/tiers.pol")]
pub struct FmtArgs {
    /// Only check: print what would change and exit 1 if anything would.
    #[arg(long)]
    pub check: bool,
    /// Rule files to format (default: every *.pol in ./rules).
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

pub fn run(args: &FmtArgs) -> i32 {
    let style = args.color.style();
    let files: Vec<PathBuf> = if args.files.is_empty() {
        match crate::input::list_dir(std::path::Path::new("rules")) {
            Ok(entries) => entries.iter().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "pol")).collect(),
            Err(e) if e.is_missing() => vec![],
            Err(e) => {
                super::err(&format!("igos fmt: {e}\n"));
                return 2;
            }
        }
    } else {
        args.files.clone()
    };
    if files.is_empty() {
        super::err("igos fmt: no rule files given and no ./rules/*.pol\n");
        return 2;
    }
    let mut unformatted = 0;
    let mut broken = 0;
    for path in &files {
        // The one reader: a FIFO or a device is refused, never waited on or read forever.
        let text = match crate::input::read_text(path, crate::input::Kind::RuleFile) {
            Ok(t) => t,
            Err(e) => {
                super::err(&format!("igos fmt: {e}\n"));
                broken += 1;
                continue;
            }
        };
        let mut sources = SourceMap::new();
        let shown = visible(&path.display().to_string()).into_owned();
        let id = sources.add(SourceFile::new(shown.clone(), text.as_str()));
        if let Err(e) = crate::lang::syntax::parse(id, &text) {
            super::err(&diagnostic::render(&diagnostic::rule_error(&sources, &e), style));
            broken += 1;
            continue;
        }
        let formatted = fmt::format(&text);
        if fmt::meaning(&formatted) != fmt::meaning(&text) {
            super::err(&format!("igos fmt: formatting {shown} would change its meaning; left as is (please report)\n"));
            broken += 1;
            continue;
        }
        if formatted == text {
            continue;
        }
        unformatted += 1;
        if args.check {
            // The diff shows the file's lines: their control bytes written visibly.
            super::out(&visible_lines(&diff(&shown, &text, &formatted)));
        } else {
            // Write beside, then rename: an interrupted fmt never leaves half a file.
            let tmp = path.with_extension("pol.fmt-tmp");
            if std::fs::write(&tmp, &formatted).and_then(|_| std::fs::rename(&tmp, path)).is_err() {
                let _ = std::fs::remove_file(&tmp);
                super::err(&format!("igos fmt: cannot write {shown}\n"));
                broken += 1;
                continue;
            }
            super::out(&format!("formatted {shown}\n"));
        }
    }
    if broken > 0 {
        2
    } else if args.check && unformatted > 0 {
        1
    } else {
        0
    }
}

/// A unified diff (three lines of context, `patch -p0` applies it) of what fmt changes.
/// The diff gives up refining after a second on a pathological file and shows a coarser,
/// still correct, diff instead.
pub fn diff(path: &str, a: &str, b: &str) -> String {
    let diff = similar::TextDiff::configure().timeout(std::time::Duration::from_secs(1)).diff_lines(a, b);
    diff.unified_diff().context_radius(3).header(path, path).to_string()
}
