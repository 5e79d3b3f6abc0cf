//! The command-line front doors. Each command returns its exit code:
//! 0 pass, 1 a halting finding, 2 rules or input unusable.

pub mod audit;
pub mod baseline;
pub mod build;
pub mod check;
pub mod check_command;
pub mod checks;
pub mod ci;
pub mod docgen;
pub mod explain;
pub mod fmt;
pub mod git;
pub mod lsp;
pub mod graph;
pub mod ruletest;
pub mod ruletest_case;
pub mod ruletest_coverage;
pub mod schema;
pub mod pack;
pub mod reference;
pub mod repo;
pub mod since;

use std::io::{IsTerminal, Write};

use crate::report::diagnostic::Style;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    pub fn style(self) -> Style {
        let color = match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        };
        Style { color, width: 100 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// miette diagnostics and a summary per gate
    Human,
    /// the versioned JSON report (schema `igos-check/1`)
    Json,
    /// SARIF 2.1.0 for code scanning
    Sarif,
    /// GitHub Actions workflow annotations (and the step summary when GITHUB_STEP_SUMMARY is set)
    Github,
    /// a pull-request comment body (gh pr comment --body-file), links to files and lines
    Markdown,
    /// one line per finding: file:line:col: severity check: message
    Concise,
}

/// Write to stdout. A closed pipe (`igos check | head`) is not an error worth a panic:
/// stop writing quietly.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush()) {
        Ok(()) => {}
        // The reader went away (`igos check | head`): stop writing, keep the verdict's exit code.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        // A full disk or an I/O error behind a redirect: the report is incomplete, so say so
        // rather than let a truncated report pass for the whole one.
        Err(e) => {
            err(&format!("igos: cannot write to standard output: {e}; the report is incomplete (exit 2)\n"));
            std::process::exit(2);
        }
    }
}

/// Stream a report to stdout through a buffer (memory independent of its size), with the
/// same endings as [`out`]: a closed pipe stops quietly, any other write error is exit 2.
pub fn out_with(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let stdout = std::io::stdout().lock();
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, stdout);
    let result = write(&mut buffered).and_then(|_| buffered.flush());
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            err(&format!("igos: cannot write to standard output: {e}; the report is incomplete (exit 2)\n"));
            std::process::exit(2);
        }
    }
}

/// Write to stderr, ignoring a closed stream.
pub fn err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
