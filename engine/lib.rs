//! igos: a declarative rule engine for InterGenOS.
//!
//! The engine is three crates: `igos-policy` (the language and its evaluator),
//! `igos-distro` (InterGenOS's domains and loaders) and this one (the command-line front
//! doors, pkm and the image audit). Their modules are re-exported here under the paths
//! the tests, benches and binaries use.
//!
//! See ARCHITECTURE.md for the crate graph, the code map and the invariants every module keeps.

pub mod cli;
pub mod describe;
pub mod domains;
pub mod facts;
pub mod graph;
pub mod image;
pub mod lsp;
pub mod pkm;
pub mod repo;

pub use igos_distro::{archive, audit, check, checker, explain, input, lints, outcome, pack, phases, report, scan, scanb, tarball, tree, visible};
pub use domains::rules;
pub use igos_policy::{date, eval, fasthash, finding, fmt, lang, parallel, source};
