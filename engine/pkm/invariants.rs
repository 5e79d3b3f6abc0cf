//! Pre-deploy invariants. (a) [`gather`] collects plain facts from the staged queue, the database
//! and the root; (b) [`evaluate`] decides. (b) stays small and I/O-free: it is the part the rule
//! engine (`rules/pkm.pol`) replaces.

use super::db;
use super::error::Result;
use super::rootfs::{self, RootKind};
use crate::archive::{EntryKind, Manifest};
use rusqlite::Connection;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    File,
    Dir,
    Symlink,
}

#[derive(Debug, Clone)]
pub struct QueueItem {
    pub name: String,
    pub version: String,
    /// The archive file, for diagnostics.
    pub archive: String,
    pub supersedes: Vec<String>,
    pub entries: Vec<(String, EntryType)>,
}

#[derive(Debug, Clone)]
pub struct InstalledFact {
    pub version: String,
    pub superseded_by: Option<String>,
}

/// Everything the invariants look at, with no I/O left to do.
#[derive(Debug, Clone, Default)]
pub struct InvariantFacts {
    /// The install queue, in order.
    pub queue: Vec<QueueItem>,
    /// What the root has at every path an archive entry names (parents resolved inside the root).
    pub root_kinds: BTreeMap<String, RootKind>,
    pub installed: BTreeMap<String, InstalledFact>,
    /// Owner package of every non-directory path the queue names.
    pub owners: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// kebab-case: `directory-collision`, `supersede-order`, `file-conflict`.
    pub rule_id: &'static str,
    /// The package (queue item) at fault.
    pub subject: String,
    pub path: String,
    pub message: String,
    pub help: String,
}

/// (a) Gather the facts for a queue of staged manifests.
pub fn gather(conn: &Connection, root: &Path, queue: &[(String, &Manifest)]) -> Result<InvariantFacts> {
    let mut f = InvariantFacts::default();
    for i in db::list_installed(conn)? {
        f.installed.insert(i.name.clone(), InstalledFact { version: i.version, superseded_by: i.superseded_by });
    }
    for (archive, m) in queue {
        let entries = m
            .entries
            .iter()
            .map(|e| {
                let t = match e.kind {
                    EntryKind::File { .. } => EntryType::File,
                    EntryKind::Dir => EntryType::Dir,
                    EntryKind::Symlink { .. } => EntryType::Symlink,
                };
                (e.path.clone(), t)
            })
            .collect::<Vec<_>>();
        for (p, t) in &entries {
            if !f.root_kinds.contains_key(p) {
                f.root_kinds.insert(p.clone(), rootfs::kind(root, p));
            }
            if *t != EntryType::Dir && !f.owners.contains_key(p) {
                if let Some((owner, _)) = db::owners(conn, p)?.into_iter().find(|(_, k)| k != "dir") {
                    f.owners.insert(p.clone(), owner);
                }
            }
        }
        f.queue.push(QueueItem { name: m.name.clone(), version: m.version.clone(), archive: archive.clone(), supersedes: m.supersedes.clone(), entries });
    }
    Ok(f)
}

/// (b) Evaluate the three invariants. Deterministic: queue order, then entry order.
pub fn evaluate(f: &InvariantFacts) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut queue_owner: BTreeMap<&str, &str> = BTreeMap::new();
    let mut earlier: BTreeSet<&str> = BTreeSet::new();
    for (idx, item) in f.queue.iter().enumerate() {
        for p in &item.supersedes {
            let later = f.queue.iter().skip(idx + 1).any(|q| &q.name == p);
            if p == &item.name {
                out.push(v("supersede-order", item, "", format!("{} declares SUPERSEDES on itself", item.name), "remove the self-reference from the manifest"));
            } else if later {
                out.push(v("supersede-order", item, "", format!("{} supersedes {p}, which comes later in the install queue", item.name), &format!("reorder the queue so {p} installs before {}", item.name)));
            } else if !earlier.contains(p.as_str()) && !f.installed.contains_key(p) {
                out.push(v("supersede-order", item, "", format!("{} supersedes {p}, which is neither installed nor earlier in the queue", item.name), &format!("install {p} first, or put its archive before {} in the queue", item.name)));
            }
        }
        for (path, t) in &item.entries {
            let rk = f.root_kinds.get(path).copied().unwrap_or(RootKind::Missing);
            match (t, rk) {
                (EntryType::Dir, RootKind::SymlinkToDir | RootKind::Symlink) => out.push(v(
                    "directory-collision", item, path,
                    format!("{} would turn the symlink /{path} into a directory", item.name),
                    &format!("ship the content under the symlink's target instead of /{path}"),
                )),
                (EntryType::Dir, RootKind::File | RootKind::Other) => out.push(v(
                    "directory-collision", item, path,
                    format!("{} would replace the file /{path} with a directory", item.name),
                    "remove the file's owner first or fix the package layout",
                )),
                (EntryType::File | EntryType::Symlink, RootKind::Dir) => out.push(v(
                    "directory-collision", item, path,
                    format!("{} would overwrite the directory /{path}", item.name),
                    "a directory is never overwritten; fix the package layout",
                )),
                _ => {}
            }
            if *t != EntryType::Dir {
                let owner = queue_owner.get(path.as_str()).copied().or_else(|| f.owners.get(path).map(String::as_str));
                if let Some(owner) = owner {
                    if owner != item.name && !item.supersedes.iter().any(|s| s == owner) {
                        out.push(v(
                            "file-conflict", item, path,
                            format!("/{path} is owned by {owner}, which {} does not supersede", item.name),
                            &format!("remove {owner} first, or declare `supersedes: {owner}` if {} replaces it", item.name),
                        ));
                    }
                }
                queue_owner.insert(path, &item.name);
            }
        }
        earlier.insert(&item.name);
    }
    out
}

fn v(rule_id: &'static str, item: &QueueItem, path: &str, message: String, help: &str) -> Violation {
    Violation { rule_id, subject: item.name.clone(), path: path.to_string(), message, help: help.to_string() }
}
