//! The policy language and its evaluator, generic over the facts it is given.
//!
//! This crate depends on no other crate of igos and does no I/O: rule texts come in as
//! strings, facts through the [`eval::domain::Domain`] trait, and findings go out as
//! [`finding::Finding`] values. It is meant to know no distribution either; the fact schema
//! (`eval/schema.rs`) and the data-key check of `lang/compile.rs` still name the distribution's
//! record kinds until the domains register their own. `tests/purity.rs` keeps it so.

pub mod date;
pub mod eval;
pub mod fasthash;
pub mod finding;
pub mod fmt;
pub mod lang;
pub mod parallel;
pub mod source;
