//! igos: a declarative rule engine for InterGenOS.
//!
//! See ARCHITECTURE.md for the code map and the invariants every module keeps.

pub mod eval;
pub mod explain;
pub mod fmt;
pub mod finding;
pub mod lang;
pub mod source;
pub mod facts;
pub mod tree;
pub mod audit;
pub mod check;
pub mod phases;
pub mod cli;
pub mod report;
pub mod rules;
