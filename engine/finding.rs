//! The one owned finding type for every gate, invariant and phase check. Reports only
//! render it; nothing else decides what a finding says.

use crate::lang::ast::Severity;
use crate::source::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaiverState {
    /// Not waived.
    None,
    /// Waived by the waiver declared at `span`.
    Waived { span: Span, reason: String, approver: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The stable check id, e.g. `tier-move`.
    pub check: String,
    pub severity: Severity,
    /// The gate id the check belongs to, when it is in one.
    pub gate: Option<String>,
    /// What the finding is about (a package name, a list entry...): the key waivers use.
    pub subject: String,
    /// What else it is about, when the check says (`object`): e.g. an archive path.
    pub object: Option<String>,
    pub message: String,
    pub help: Option<String>,
    /// The data the finding points at.
    pub at: Option<Span>,
    /// The check's declaration in the rules.
    pub rule: Option<Span>,
    /// The rule fact that decided (a list entry, a consumer's dependency line).
    pub because: Option<Span>,
    pub waiver: WaiverState,
}

impl Finding {
    pub fn is_waived(&self) -> bool {
        !matches!(self.waiver, WaiverState::None)
    }
    /// Halts the build: a halting severity, not waived.
    pub fn halts(&self) -> bool {
        self.severity == Severity::Halt && !self.is_waived()
    }
    /// Deterministic report order: by check, then subject, then position.
    pub fn sort_key(&self) -> (String, String, Option<Span>) {
        (self.check.clone(), self.subject.clone(), self.at)
    }
}
