//! The human-readable text manifests at `<root>/var/lib/igos/packages/<name>-<version>`, rendered
//! from the database (which is authoritative) in the archive manifest syntax, preceded by comment
//! lines carrying install state. They are also the record `pkm doctor --rebuild-db` rebuilds a
//! lost database from ([`parse`]).

use super::db::{self, Installed};
use super::layout::Layout;
use super::error::{PkmError, Result};
use crate::archive::{EntryKind, Manifest, ManifestEntry};
use rusqlite::Connection;
use std::io::Write;

/// Install state the text manifest carries in comment lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextState {
    pub installed: Option<String>,
    pub superseded_by: Option<String>,
    pub superseded_at: Option<String>,
}

/// Read a text manifest back: the manifest and the install state of its comment lines.
pub fn parse(text: &str) -> std::result::Result<(Manifest, TextState), (usize, String)> {
    let m = Manifest::parse(text)?;
    let mut st = TextState::default();
    for line in text.lines().take_while(|l| !l.starts_with("files:")) {
        let Some(rest) = line.strip_prefix("# ") else { continue };
        let Some((k, v)) = rest.split_once(": ") else { continue };
        let v = Some(v.trim().to_string());
        match k {
            "installed" => st.installed = v,
            "superseded-by" => st.superseded_by = v,
            "superseded-at" => st.superseded_at = v,
            _ => {}
        }
    }
    Ok((m, st))
}

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
            size: f.size.and_then(|n| u64::try_from(n).ok()),
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
    write_many(layout, conn, &[name.to_string()])
}

/// Write the text manifests of `names` (each installed one; repeats once), each atomically:
/// every temporary file is written first, their content is made durable (fsync for one, one
/// syncfs for several: a queue of 1,000 packages paid 2,000 fsyncs here), then each is renamed
/// into place and the directory synced once. A crash leaves each manifest old or new, whole.
pub fn write_many(layout: &Layout, conn: &Connection, names: &[String]) -> Result<()> {
    let dir = layout.manifests_dir();
    let mut seen = std::collections::BTreeSet::new();
    let mut renames = Vec::new();
    for name in names.iter().filter(|n| seen.insert(n.as_str())) {
        let Some(pkg) = db::get_installed(conn, name)? else { continue };
        let text = render(conn, &pkg)?;
        let dest = layout.text_manifest(&pkg.name, &pkg.version);
        let tmp_name = format!(".{}.tmp", super::layout::manifest_file_name(&pkg.name, &pkg.version));
        let tmp = dir.join(&tmp_name);
        // Never through a symlink planted at the temporary name or on the way (`state`).
        let mut f = super::state::open_file(layout, "packages", &tmp_name, true)?;
        f.write_all(text.as_bytes()).map_err(|e| PkmError::io(tmp.display(), e))?;
        renames.push((tmp, dest, f));
    }
    match renames.as_slice() {
        [] => return Ok(()),
        [(tmp, _, f)] => f.sync_all().map_err(|e| PkmError::io(tmp.display(), e))?,
        [(tmp, _, f), ..] => rustix::fs::syncfs(f).map_err(|e| PkmError::io(tmp.display(), e.into()))?,
    }
    for (tmp, dest, _) in renames {
        std::fs::rename(&tmp, &dest).map_err(|e| PkmError::io(dest.display(), e))?;
    }
    super::util::sync_dir(&dir);
    Ok(())
}
