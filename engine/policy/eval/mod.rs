//! The generic engine: fact schema, values, classification, and check evaluation.

pub mod classify;
pub mod domain;
pub mod register;
pub mod run;
pub mod schema;
pub mod value;
