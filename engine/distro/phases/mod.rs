//! The phase graph of the build: the phases the rules declare (`rules/phases.pol`), their
//! order, the checks on that order, and the runner behind `igos build`.
//!
//! - [`graph`]: the graph (petgraph), its deterministic order and its checks, reported as
//!   rule errors that point into the rule files;
//! - [`select`]: which phases a run covers (`--start-at`, `--stop-after`, `--publish`);
//! - [`state`]: the state directory (phase file, stop file, checkpoints, logs);
//! - [`checkpoint`]: what a checkpoint records, and whether a later run can trust it;
//! - [`command`]: running one declared command with its output teed into the phase log.

pub mod checkpoint;
pub mod command;
pub mod graph;
pub mod select;
pub mod state;
