//! The policy language and its evaluator, generic over the facts it is given.
//!
//! This crate depends on no other crate of igos, knows no distribution and does no I/O:
//! rule texts come in as strings, the record kinds, relations and functions rules talk
//! about are registered by the domains that own them ([`eval::schema::DomainDef`], written
//! with [`domain!`]), facts come in through the [`eval::domain::Domain`] trait, and findings
//! go out as [`finding::Finding`] values. `tests/purity.rs` keeps it so.

pub mod date;
pub mod eval;
pub mod fasthash;
pub mod finding;
pub mod fmt;
pub mod lang;
pub mod parallel;
pub mod source;
