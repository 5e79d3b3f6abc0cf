//! InterGenOS for the policy engine: the package tree's loader and its fact domain, the
//! validate gates, the audit data flow, the source and log scans, the phase graph,
//! `igos pack` and the reports.
//!
//! See ARCHITECTURE.md for the code map and the invariants every module keeps.

pub mod archive;
pub mod audit;
pub mod check;
pub mod checker;
pub mod explain;
pub mod facts;
pub mod input;
pub mod lints;
pub mod outcome;
pub mod pack;
pub mod phases;
pub mod report;
pub mod rules;
pub mod scan;
pub mod scanb;
pub mod tarball;
pub mod tree;
pub mod upstream;
pub mod visible;

// The engine's modules under the paths this crate's code has always used (`crate::lang`).
pub use igos_policy::{date, eval, fasthash, finding, fmt, lang, parallel, source};
