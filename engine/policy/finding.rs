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

/// A finding's stable identity: what it is about (check, subject, object), never its
/// message or positions, so a line added above it (in a builder list, in tiers.pol) leaves
/// it the same finding. Findings with the same identity (a check that says no `object`
/// and finds one subject twice) are told apart by their order among themselves, which a
/// shift of lines does not change. The value is hex, 32 digits (128 bits of SHA-256).
pub fn fingerprints<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let mut seen: std::collections::HashMap<[u8; 32], u32> = std::collections::HashMap::new();
    findings
        .into_iter()
        .map(|f| {
            let identity: [u8; 32] = Sha256::new()
                .chain_update(f.check.as_bytes())
                .chain_update(b"\0")
                .chain_update(f.subject.as_bytes())
                .chain_update(b"\0")
                .chain_update(f.object.as_deref().unwrap_or("").as_bytes())
                .finalize()
                .into();
            let n = seen.entry(identity).or_insert(0);
            let occurrence = *n;
            *n += 1;
            let digest = Sha256::new().chain_update(identity).chain_update(occurrence.to_le_bytes()).finalize();
            digest[..16].iter().map(|b| format!("{b:02x}")).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(check: &str, subject: &str, object: Option<&str>, message: &str, line: u32) -> Finding {
        Finding {
            check: check.into(),
            severity: Severity::Halt,
            gate: None,
            subject: subject.into(),
            object: object.map(Into::into),
            message: message.into(),
            help: None,
            at: Some(Span::new(crate::source::SourceId(0), line as usize * 10, line as usize * 10 + 3)),
            rule: None,
            because: None,
            waiver: WaiverState::None,
        }
    }

    #[test]
    fn identity_ignores_message_and_position() {
        let a = fingerprints([&finding("orphan", "zlib", None, "entry 3", 4)]);
        let b = fingerprints([&finding("orphan", "zlib", None, "entry 4", 5)]);
        assert_eq!(a, b);
        assert_eq!(a[0].len(), 32);
        let other = fingerprints([&finding("orphan", "xz", None, "entry 3", 4)]);
        assert_ne!(a, other);
        let with_object = fingerprints([&finding("orphan", "zlib", Some("x"), "entry 3", 4)]);
        assert_ne!(a, with_object);
        // "a\0" + "b" and "a" + "\0b" are different identities.
        assert_ne!(fingerprints([&finding("c", "a", Some("b"), "", 1)]), fingerprints([&finding("c", "a\0b", None, "", 1)]));
    }

    #[test]
    fn repeats_are_told_apart_by_their_order() {
        let f = finding("unknown-key", "zlib", None, "", 1);
        let g = finding("unknown-key", "zlib", None, "", 2);
        let fp = fingerprints([&f, &g]);
        assert_ne!(fp[0], fp[1]);
        assert_eq!(fp[0], fingerprints([&f])[0]);
    }
}
