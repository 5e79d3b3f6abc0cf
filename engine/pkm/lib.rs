//! pkm, the InterGenOS package manager: installs `.igos.tar.gz` archives (see
//! `igos_distro::archive`) into a root, recording them in SQLite (authoritative) and text
//! manifests (for people); its fact domain; its repositories.
//!
//! One concept per module: `schema` (tables, migrations), `db` (open, shared queries), `lock`,
//! `rootfs` (paths inside a root), `beneath` (opening beneath a directory, no symlink followed),
//! `state` (pkm's own state, never reached through a link), `facts` (the pkm fact domain),
//! `invariants` (facts of the root as it will be, evaluated by rules/pkm.pol), `deploy`
//! (reversible until the commit), `queue` (a planned queue placed and recorded, or one
//! interrupted member rolled forward), `removal` (one package's removal carried out),
//! `intents` (what a crashed run left, rolled forward or given up), `install`, `remove`,
//! `verify`, `trust` (sync and `--archive-trust`), `textmanifest`, `doctor`, `vercmp`
//! (version order, downgrades), `confignew` (free `.new` names for edited configs), `repo`
//! (signed repositories, resolution, the operations by name).
//!
//! The modules above each other: `install` and `remove` run `intents` first, which completes
//! a plan through `queue` or `removal`; `doctor` reports on `intents`; nothing below calls
//! back up. The rules `install` evaluates come compiled from the caller
//! ([`invariants::Rules`]): they name every domain's relations, and this crate knows one.

pub mod beneath;
pub mod confignew;
pub mod db;
pub mod deploy;
pub mod doctor;
pub mod error;
pub mod facts;
pub mod install;
pub mod intents;
pub mod invariants;
pub mod layout;
pub mod lock;
pub mod queue;
pub mod remove;
pub mod removal;
pub mod repo;
pub mod rootfs;
pub mod schema;
pub mod state;
pub mod textmanifest;
pub mod trust;
pub mod util;
pub mod vercmp;
pub mod verify;

// The engine's and the distro crate's modules under the paths this code has always used
// (`crate::archive`, `crate::visible`), kept private: they are not part of pkm's API.
use igos_distro::{archive, rules, visible};
use igos_policy::{date, eval, finding, lang, source};
