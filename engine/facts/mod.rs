//! Fact domains: adapters that expose loaded data to the engine.

pub mod image;
pub mod pkm;

pub use igos_distro::facts::tree;
