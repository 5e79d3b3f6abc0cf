//! Pre-deploy invariants. (a) [`gather`] collects plain facts from the staged queue, the database
//! and the root; (b) [`evaluate`] decides. (b) stays small and I/O-free: it is the part the rule
//! engine (`rules/pkm.pol`) replaces.

use super::db;
use super::error::Result;
use super::rootfs::{self, RootKind};
use crate::archive::{EntryKind, Manifest};
use rusqlite::Connection;
use std::collections::BTreeMap;
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
    /// The check id in rules/pkm.pol: `directory-collision`, `supersede-order`, `file-conflict`.
    pub rule_id: String,
    /// The package (queue item) at fault.
    pub subject: String,
    pub path: String,
    pub message: String,
    pub help: String,
    /// Where the deciding check is written (`rules/pkm.pol:LINE:COL`), when known.
    pub decided_by: Option<String>,
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

/// (b) Evaluate the invariants: the checks of `rules/pkm.pol` (built into the binary), run
/// by the rule engine over these facts. Deterministic: queue order, then entry order.
pub fn evaluate(f: &InvariantFacts) -> Vec<Violation> {
    let mut sources = crate::source::SourceMap::new();
    let rules = match crate::rules::load(None, &mut sources) {
        Ok(r) if r.errors.is_empty() => r,
        _ => {
            // The built-in rules are tested to compile; refuse rather than install unchecked.
            return vec![Violation {
                rule_id: "rules".into(),
                subject: String::new(),
                path: String::new(),
                message: "the built-in pkm rules do not compile; nothing was installed".into(),
                help: "this is a bug in igos".into(),
                decided_by: None,
            }];
        }
    };
    let mut found = evaluate_with(&rules.policy, f);
    // Name the rule that decided, as igos check's diagnostics do.
    for v in &mut found {
        if let Some(check) = rules.policy.checks.iter().find(|c| c.id == v.rule_id) {
            let file = sources.get(check.span.source);
            let (line, col) = file.line_col(check.span.start);
            v.decided_by = Some(format!("{}:{line}:{col}", file.name));
        }
    }
    found
}

/// Evaluate with a given policy (tests and `--rules` use this).
pub fn evaluate_with(policy: &crate::lang::compile::Policy, f: &InvariantFacts) -> Vec<Violation> {
    let facts = to_engine_facts(f);
    let mut findings = crate::facts::pkm::evaluate(policy, &facts, &crate::check::today());
    findings.retain(|x| x.halts());
    // Queue order, then entry order: the order the facts list them.
    let order = |x: &crate::finding::Finding| {
        let q = f.queue.iter().position(|i| i.name == x.subject).unwrap_or(usize::MAX);
        let e = f.queue.get(q).and_then(|i| i.entries.iter().position(|(p, _)| Some(p) == x.object.as_ref())).unwrap_or(0);
        (q, e)
    };
    findings.sort_by_key(|x| order(x));
    findings
        .into_iter()
        .map(|x| Violation {
            rule_id: x.check,
            subject: x.subject,
            path: x.object.unwrap_or_default(),
            message: x.message,
            help: x.help.unwrap_or_default(),
            decided_by: None,
        })
        .collect()
}

/// The engine's view: per entry the root type and the owner the package would meet when it
/// installs (an earlier package of the same queue, else the installed owner).
fn to_engine_facts(f: &InvariantFacts) -> crate::facts::pkm::PkmFacts {
    use crate::facts::pkm::{EntryFact, PkmFacts, QueuedPackage};
    let mut queue_owner: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = vec![];
    for item in &f.queue {
        let entries = item
            .entries
            .iter()
            .map(|(path, t)| {
                let owner = queue_owner.get(path.as_str()).map(|s| s.to_string()).or_else(|| f.owners.get(path).cloned());
                EntryFact {
                    path: path.clone(),
                    kind: match t {
                        EntryType::File => "file",
                        EntryType::Dir => "dir",
                        EntryType::Symlink => "symlink",
                    },
                    root_type: match f.root_kinds.get(path).copied().unwrap_or(RootKind::Missing) {
                        RootKind::Missing => "absent",
                        RootKind::Dir => "dir",
                        RootKind::File => "file",
                        RootKind::SymlinkToDir => "symlink-to-dir",
                        RootKind::Symlink => "symlink",
                        RootKind::Other => "other",
                    },
                    owner,
                    span: None,
                }
            })
            .collect();
        for (path, t) in &item.entries {
            if *t != EntryType::Dir {
                queue_owner.insert(path, &item.name);
            }
        }
        queue.push(QueuedPackage {
            name: item.name.clone(),
            archive: item.archive.clone(),
            supersedes: item.supersedes.clone(),
            entries,
            installed: f.installed.contains_key(&item.name),
            span: None,
        });
    }
    PkmFacts { queue, installed: f.installed.keys().cloned().collect() }
}
