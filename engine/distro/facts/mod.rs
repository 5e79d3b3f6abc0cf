//! Fact domains: adapters that expose loaded data to the engine.

pub mod tree;
