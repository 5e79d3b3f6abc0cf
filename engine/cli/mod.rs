//! The command-line front doors. Each command returns its exit code:
//! 0 pass, 1 a halting finding, 2 rules or input unusable.

pub mod build;
pub mod check;

use std::io::IsTerminal;

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
    Human,
    Json,
}
