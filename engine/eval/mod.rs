//! The generic engine: fact schema, values, classification, and check evaluation.

pub mod classify;
pub mod describe;
pub mod domain;
pub mod run;
pub mod schema;
pub mod value;
