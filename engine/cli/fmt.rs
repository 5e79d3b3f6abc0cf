//! `igos fmt`: rewrite rule files in the canonical layout, or check that they are.

use std::path::PathBuf;

use crate::fmt;
use crate::report::diagnostic;
use crate::source::{SourceFile, SourceMap};

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
        let mut v: Vec<PathBuf> = std::fs::read_dir("rules")
            .map(|it| it.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "pol")).collect())
            .unwrap_or_default();
        v.sort();
        v
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
        let text = match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    let at = e.utf8_error().valid_up_to();
                    super::err(&format!("igos fmt: {}: not UTF-8 text (invalid byte at offset {at})\n", path.display()));
                    broken += 1;
                    continue;
                }
            },
            Err(e) => {
                super::err(&format!("igos fmt: cannot read {}: {e}\n", path.display()));
                broken += 1;
                continue;
            }
        };
        let mut sources = SourceMap::new();
        let id = sources.add(SourceFile::new(path.display().to_string(), text.as_str()));
        if let Err(e) = crate::lang::syntax::parse(id, &text) {
            super::err(&diagnostic::render(&diagnostic::rule_error(&sources, &e), style));
            broken += 1;
            continue;
        }
        let formatted = fmt::format(&text);
        if fmt::meaning(&formatted) != fmt::meaning(&text) {
            super::err(&format!("igos fmt: formatting {} would change its meaning; left as is (please report)\n", path.display()));
            broken += 1;
            continue;
        }
        if formatted == text {
            continue;
        }
        unformatted += 1;
        if args.check {
            super::out(&format!("--- {}\n+++ {} (formatted)\n{}", path.display(), path.display(), diff(&text, &formatted)));
        } else {
            // Write beside, then rename: an interrupted fmt never leaves half a file.
            let tmp = path.with_extension("pol.fmt-tmp");
            if std::fs::write(&tmp, &formatted).and_then(|_| std::fs::rename(&tmp, path)).is_err() {
                let _ = std::fs::remove_file(&tmp);
                super::err(&format!("igos fmt: cannot write {}\n", path.display()));
                broken += 1;
                continue;
            }
            super::out(&format!("formatted {}\n", path.display()));
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

/// Above this many cells the LCS table is not built: the changed middle is shown as
/// removed then added (a 5 MB file would otherwise ask for terabytes).
const MAX_DIFF_CELLS: usize = 4 << 20;

/// A minimal line diff (longest common subsequence), enough to show what fmt changes.
/// Common leading and trailing lines are skipped first; memory stays bounded.
pub fn diff(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..].iter().rev().zip(b[head..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let (n, m) = (a.len(), b.len());
    if (n + 1).saturating_mul(m + 1) > MAX_DIFF_CELLS {
        let mut out = String::new();
        for (k, l) in a.iter().enumerate() {
            out.push_str(&format!("@@ line {} @@\n-{l}\n", head + k + 1));
        }
        for (k, l) in b.iter().enumerate() {
            out.push_str(&format!("@@ line {} @@\n+{l}\n", head + k + 1));
        }
        return out;
    }
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("@@ line {} @@\n+{}\n", head + j + 1, b[j]));
            j += 1;
        } else {
            out.push_str(&format!("@@ line {} @@\n-{}\n", head + i + 1, a[i]));
            i += 1;
        }
    }
    out
}
