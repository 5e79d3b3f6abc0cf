//! igos: a declarative rule engine for InterGenOS.
//!
//! The engine is four crates: `igos-policy` (the language and its evaluator),
//! `igos-distro` (InterGenOS's domains and loaders), `igos-pkm` (the package manager, its
//! domain and repositories) and this one (the command-line front doors, the image audit,
//! the registry of every domain). Their modules are re-exported here under the paths the
//! tests, benches and binaries use (`igos::pkm::db`, `igos::repo::sign`).
//!
//! See ARCHITECTURE.md for the crate graph, the code map and the invariants every module keeps.

pub mod cli;
pub mod describe;
pub mod domains;
pub mod facts;
pub mod graph;
pub mod image;
pub mod lsp;

pub use igos_distro::{archive, audit, check, checker, explain, input, lints, outcome, pack, phases, report, scan, scanb, tarball, tree, visible};
pub use domains::rules;
pub use igos_pkm::repo;
pub use igos_policy::{date, eval, fasthash, finding, fmt, lang, parallel, source};
pub use igos_pkm as pkm;
