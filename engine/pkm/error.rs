//! The one error type of pkm: a miette diagnostic carrying its exit code.

use std::fmt;

/// Exit 1: a finding, violation or rejection. Exit 2: unusable input.
pub const EXIT_FINDING: i32 = 1;
pub const EXIT_UNUSABLE: i32 = 2;

#[derive(Debug, Clone)]
pub struct PkmError {
    pub exit: i32,
    /// Stable kebab-case code, e.g. `pkm::archive::dot-dot`, `pkm::rule::file-conflict`.
    pub code: String,
    pub message: String,
    pub help: Option<String>,
    /// The message's line breaks are its own (a list of violations): shown as lines. Otherwise
    /// the message is one line, and a line break in it came from data.
    pub multiline: bool,
}

impl PkmError {
    pub fn new(exit: i32, code: impl Into<String>, message: impl Into<String>) -> Self {
        PkmError { exit, code: code.into(), message: message.into(), help: None, multiline: false }
    }
    pub fn unusable(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(EXIT_UNUSABLE, code, message)
    }
    pub fn finding(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(EXIT_FINDING, code, message)
    }
    pub fn help(mut self, h: impl Into<String>) -> Self {
        self.help = Some(h.into());
        self
    }
    /// Mark the message's line breaks as its own (each line's data already escaped).
    pub fn multiline(mut self) -> Self {
        self.multiline = true;
        self
    }
    /// The error as it may be shown: control characters, bidi overrides and invisible
    /// characters from data (file, member and archive names) written visibly, so nothing in a
    /// name can drive the terminal or forge a line of the diagnostic.
    pub fn visible(mut self) -> Self {
        use crate::visible::{visible, visible_lines};
        self.message = if self.multiline { visible_lines(&self.message).into_owned() } else { visible(&self.message).into_owned() };
        self.help = self.help.map(|h| visible(&h).into_owned());
        self
    }
    pub fn db(e: rusqlite::Error) -> Self {
        Self::unusable("pkm::db", format!("database error: {e}"))
            .help("run `pkm doctor`; if the database is corrupt restore it from a backup")
    }
    pub fn io(what: impl fmt::Display, e: std::io::Error) -> Self {
        Self::unusable("pkm::io", format!("{what}: {e}"))
    }
}

impl fmt::Display for PkmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for PkmError {}

impl miette::Diagnostic for PkmError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
}

impl From<rusqlite::Error> for PkmError {
    fn from(e: rusqlite::Error) -> Self {
        PkmError::db(e)
    }
}

pub type Result<T> = std::result::Result<T, PkmError>;
