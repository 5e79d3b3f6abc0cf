//! pkm, the InterGenOS package manager: installs `.igos.tar.gz` archives (see `crate::archive`)
//! into a root, recording them in SQLite (authoritative) and text manifests (for people).
//!
//! One concept per module: `schema` (tables, migrations), `db` (open, shared queries), `lock`,
//! `rootfs` (paths inside a root), `beneath` (opening beneath a directory, no symlink followed),
//! `state` (pkm's own state, never reached through a link), `invariants` (facts of the root as
//! it will be, evaluated by rules/pkm.pol), `deploy` (reversible until the commit),
//! `install`, `remove`, `verify`, `trust` (sync and `--archive-trust`), `textmanifest`, `doctor`,
//! `vercmp` (version order, downgrades), `confignew` (free `.new` names for edited configs).

pub mod beneath;
pub mod confignew;
pub mod db;
pub mod deploy;
pub mod doctor;
pub mod error;
pub mod install;
pub mod invariants;
pub mod lock;
pub mod remove;
pub mod rootfs;
pub mod schema;
pub mod state;
pub mod textmanifest;
pub mod trust;
pub mod util;
pub mod vercmp;
pub mod verify;
