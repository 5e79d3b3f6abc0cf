//! The human-readable text manifests at `<root>/var/lib/igos/packages/<name>-<version>`, rendered
//! from the database (which is authoritative) in the archive manifest syntax, preceded by comment
//! lines carrying install state.

use super::db::{self, Installed, Layout};
use super::error::{PkmError, Result};
use crate::archive::{EntryKind, Manifest, ManifestEntry};
use rusqlite::Connection;
use std::io::Write;

/// The manifest the database says `pkg` currently owns.
pub fn from_db(conn: &Connection, pkg: &Installed) -> Result<Manifest> {
    let entries = db::files_of(conn, pkg.id)?
        .into_iter()
        .map(|f| ManifestEntry {
            kind: match f.kind.as_str() {
                "dir" => EntryKind::Dir,
                "symlink" => EntryKind::Symlink { target: f.target.clone().unwrap_or_default() },
                _ => EntryKind::File { sha256: f.sha256.clone().unwrap_or_default() },
            },
            path: f.path,
            mode: f.mode,
            config: f.is_config,
        })
        .collect();
    Ok(Manifest {
        name: pkg.name.clone(),
        version: pkg.version.clone(),
        release: pkg.release.max(1) as u32,
        tier: pkg.tier.clone(),
        description: pkg.description.clone(),
        depends: db::depends_of(conn, pkg.id)?,
        supersedes: Vec::new(),
        entries,
    })
}

pub fn render(conn: &Connection, pkg: &Installed) -> Result<String> {
    let m = from_db(conn, pkg)?;
    let mut s = String::new();
    s.push_str(&m.render());
    let mut head = format!("# installed: {}\n", pkg.install_date);
    if let (Some(by), Some(at)) = (&pkg.superseded_by, &pkg.superseded_at) {
        head.push_str(&format!("# superseded-by: {by}\n# superseded-at: {at}\n"));
    }
    // Comments go after the format line so the file still parses.
    let (first, rest) = s.split_once('\n').unwrap_or((&s, ""));
    Ok(format!("{first}\n{head}{rest}"))
}

/// Write (temp + rename) the text manifest of `name` from the database.
pub fn write(layout: &Layout, conn: &Connection, name: &str) -> Result<()> {
    let Some(pkg) = db::get_installed(conn, name)? else { return Ok(()) };
    let text = render(conn, &pkg)?;
    let dir = layout.manifests_dir();
    let dest = layout.text_manifest(&pkg.name, &pkg.version);
    let tmp = dir.join(format!(".{}-{}.tmp", pkg.name, pkg.version));
    // Never through a symlink planted at the temporary name or on the way (`state`).
    let mut f = super::state::open_file(layout, "packages", &format!(".{}-{}.tmp", pkg.name, pkg.version), true)?;
    f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| PkmError::io(tmp.display(), e))?;
    std::fs::rename(&tmp, &dest).map_err(|e| PkmError::io(dest.display(), e))?;
    super::util::sync_dir(&dir);
    Ok(())
}
