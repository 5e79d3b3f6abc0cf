//! igos: a declarative rule engine for InterGenOS.
//!
//! See ARCHITECTURE.md for the code map and the invariants every module keeps.

pub mod archive;
pub mod audit;
pub mod check;
pub mod cli;
pub mod eval;
pub mod explain;
pub mod facts;
pub mod fasthash;
pub mod finding;
pub mod fmt;
pub mod graph;
pub mod image;
pub mod input;
pub mod lang;
pub mod lsp;
pub mod pack;
pub mod parallel;
pub mod phases;
pub mod pkm;
pub mod report;
pub mod repo;
pub mod rules;
pub mod scan;
pub mod scanb;
pub mod source;
pub mod tarball;
pub mod tree;
pub mod visible;
