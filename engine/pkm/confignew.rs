//! Where the new version of an edited config file goes: `<path>.new`, or the first of
//! `<path>.new.1`, `<path>.new.2`, ... that is free. A `.new` file never replaces a file that
//! exists (the admin's, another package's, an earlier `.new` not yet merged). The name is chosen
//! once, before the intent, and stored in the plan, so a resumed deploy writes the same file.

use super::db;
use super::error::{PkmError, Result};
use super::rootfs;
use crate::visible::visible;
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::path::Path;

/// How many names are tried before giving up.
const TRIES: usize = 1000;

/// The first free name for the new version of the config `rel`: nothing on disk there, no
/// package owning it, not already chosen (`taken`) for another file of this install.
pub fn free_new_name(root: &Path, conn: &Connection, rel: &str, taken: &BTreeSet<String>) -> Result<String> {
    for i in 0..TRIES {
        let cand = if i == 0 { format!("{rel}.new") } else { format!("{rel}.new.{i}") };
        let on_disk = std::fs::symlink_metadata(rootfs::host_path(root, &cand)).is_ok();
        if !on_disk && !taken.contains(&cand) && db::owners(conn, &cand)?.is_empty() {
            return Ok(cand);
        }
    }
    Err(PkmError::finding("pkm::config::no-free-name", format!("/{}: {TRIES} `.new` names are all taken", visible(rel)))
        .help("merge or delete the old `.new` files next to it, then install again"))
}

/// The line telling the admin where the new version went.
pub fn notice(rel: &str, new: &str) -> String {
    let (rel, new) = (visible(rel), visible(new));
    if *new == format!("{rel}.new") {
        format!("/{rel}: you edited it; the new version is at /{new}")
    } else {
        format!("/{rel}: you edited it; /{rel}.new already exists, so the new version is at /{new}")
    }
}
