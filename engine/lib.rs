//! igos: a declarative rule engine for InterGenOS.
//!
//! See ARCHITECTURE.md for the code map and the invariants every module keeps.

pub mod source;
pub mod archive;
pub mod pkm;
