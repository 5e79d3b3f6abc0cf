//! The policy language: syntax (pest), semantic analysis, and the compiled policy.

pub mod ast;
pub mod compile;
pub mod error;
pub mod glob;
pub mod lints;
pub mod syntax;
