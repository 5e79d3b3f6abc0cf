//! Which phases a run covers: the plan (every required phase in order, plus the optional
//! ones with `--publish`), cut by `--start-at` and `--stop-after`.

use crate::lang::compile::Policy;
use crate::lang::error::did_you_mean;

/// A plan and the part of it this run executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Phase indices (into `policy.phases`) in run order: the whole plan.
    pub plan: Vec<usize>,
    /// Positions in `plan` this run executes: `first..=last`.
    pub first: usize,
    pub last: usize,
    /// Optional phases left out of the plan (no `--publish`).
    pub skipped_optional: Vec<usize>,
}

impl Selection {
    /// The phases to run, each with its 1-based position in the plan.
    pub fn to_run(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (self.first..=self.last).map(move |pos| (pos + 1, self.plan[pos]))
    }
    /// How many phases this run executes (never zero).
    pub fn count(&self) -> usize {
        self.last + 1 - self.first
    }
}

/// Why a selection is impossible. Rendered as a usage error (exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// A name that is not a phase, with the nearest phase name if one is close.
    Unknown { flag: &'static str, name: String, suggestion: Option<String> },
    /// An optional phase named without `--publish`.
    OptionalWithoutPublish { flag: &'static str, name: String },
    /// `--stop-after` names a phase that runs before `--start-at`.
    Reversed { start: String, stop: String },
    /// The rules declare no phase at all.
    NoPhases,
}

impl SelectError {
    pub fn message(&self) -> String {
        match self {
            SelectError::Unknown { flag, name, .. } => format!("unknown phase `{name}` for {flag}"),
            SelectError::OptionalWithoutPublish { flag, name } => {
                format!("phase `{name}` for {flag} is optional and not in the plan")
            }
            SelectError::Reversed { start, stop } => {
                format!("--stop-after `{stop}` runs before --start-at `{start}`: nothing to run")
            }
            SelectError::NoPhases => "the rules declare no phase".to_string(),
        }
    }
    pub fn help(&self) -> String {
        match self {
            SelectError::Unknown { suggestion: Some(s), .. } => {
                format!("did you mean `{s}`? (`igos build --plan` lists the phases)")
            }
            SelectError::Unknown { .. } => "`igos build --plan` lists the phases".to_string(),
            SelectError::OptionalWithoutPublish { .. } => "add --publish to include the optional phases".to_string(),
            SelectError::Reversed { .. } => "`igos build --plan` shows the order".to_string(),
            SelectError::NoPhases => "declare phases in rules/phases.pol".to_string(),
        }
    }
}

/// Cut `order` (every phase, in run order) to this run.
pub fn select(
    policy: &Policy,
    order: &[usize],
    publish: bool,
    start_at: Option<&str>,
    stop_after: Option<&str>,
) -> Result<Selection, SelectError> {
    let (plan, skipped_optional): (Vec<usize>, Vec<usize>) =
        order.iter().partition(|&&i| publish || !policy.phases[i].optional);
    if plan.is_empty() {
        return Err(SelectError::NoPhases);
    }
    let position = |flag: &'static str, name: &str| -> Result<usize, SelectError> {
        if let Some(pos) = plan.iter().position(|&i| policy.phases[i].name == name) {
            return Ok(pos);
        }
        if policy.phase_index(name).is_some() {
            return Err(SelectError::OptionalWithoutPublish { flag, name: name.to_string() });
        }
        let suggestion = did_you_mean(name, policy.phases.iter().map(|p| p.name.as_str())).map(str::to_string);
        Err(SelectError::Unknown { flag, name: name.to_string(), suggestion })
    };
    let first = start_at.map(|s| position("--start-at", s)).transpose()?.unwrap_or(0);
    let last = stop_after.map(|s| position("--stop-after", s)).transpose()?.unwrap_or(plan.len() - 1);
    if last < first {
        return Err(SelectError::Reversed {
            start: start_at.unwrap_or_default().to_string(),
            stop: stop_after.unwrap_or_default().to_string(),
        });
    }
    Ok(Selection { plan, first, last, skipped_optional })
}
