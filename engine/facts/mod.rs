//! Fact domains: adapters that expose loaded data to the engine.

pub mod image;

pub use igos_distro::facts::tree;
pub use igos_pkm::facts as pkm;
