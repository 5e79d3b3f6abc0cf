//! Pre-deploy invariants. (a) [`gather`] collects plain facts from the staged queue, the database
//! and the root; (b) [`evaluate`] decides. (b) stays small and I/O-free: it is the part the rule
//! engine (`rules/pkm.pol`) replaces.

use super::db;
use super::error::Result;
use super::rootfs::RootKind;
use super::state;
use crate::archive::{hash_file, EntryKind, Manifest};
use crate::facts::EntryFact;
use rusqlite::Connection;
use std::collections::{BTreeMap, HashMap, HashSet};
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
    /// Per queue member, its entries as gathered from the root as it will be (empty for facts
    /// built by hand, which use `root_kinds` and `owners`).
    pub views: Vec<Vec<EntryFact>>,
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

/// One path of the root as it will be: what an earlier queue member put there, else the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Absent,
    Dir,
    File,
    Link(String),
    Other,
}

/// A path resolved through the root as it will be (chroot semantics: an absolute target starts
/// again at the root, `..` at the root stays there but is recorded as leaving it).
#[derive(Debug, Clone, Default)]
struct Resolved {
    path: String,
    /// A `..` climbed above the root on the way.
    escaped: bool,
    /// The symlinks crossed, in order.
    links: Vec<String>,
}

/// The root after the queue members seen so far: their entries over the disk.
struct WillBe<'a> {
    root: &'a Path,
    nodes: HashMap<String, Node>,
    /// Owner of each non-directory path an earlier member ships.
    file_owner: HashMap<String, String>,
    /// Owners of each directory earlier members ship.
    dir_owners: HashMap<String, Vec<String>>,
    /// Paths an earlier member's upgrade gives up (its old version's files it no longer ships).
    released: HashSet<String>,
}

impl WillBe<'_> {
    fn node(&self, rel: &str) -> Node {
        if rel.is_empty() {
            return Node::Dir;
        }
        if let Some(n) = self.nodes.get(rel) {
            return n.clone();
        }
        let p = self.root.join(rel);
        match std::fs::symlink_metadata(&p) {
            Err(_) => Node::Absent,
            Ok(m) if m.file_type().is_symlink() => Node::Link(std::fs::read_link(&p).map(|t| t.to_string_lossy().into_owned()).unwrap_or_default()),
            Ok(m) if m.is_dir() => Node::Dir,
            Ok(m) if m.is_file() => Node::File,
            Ok(_) => Node::Other,
        }
    }

    fn resolve(&self, rel: &str, follow_last: bool) -> Resolved {
        let mut out = Resolved::default();
        let mut stack: Vec<String> = Vec::new();
        let mut pending: Vec<String> = rel.split('/').filter(|c| !c.is_empty() && *c != ".").map(str::to_string).rev().collect();
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            if c == "." {
                continue;
            }
            if c == ".." {
                if stack.pop().is_none() {
                    out.escaped = true;
                }
                continue;
            }
            stack.push(c);
            if pending.is_empty() && !follow_last {
                break;
            }
            let here = stack.join("/");
            if let Node::Link(t) = self.node(&here) {
                hops += 1;
                if hops > 40 {
                    break; // a loop: left as it stands, the kernel refuses it too
                }
                out.links.push(here);
                stack.pop();
                if t.starts_with('/') {
                    stack.clear();
                }
                pending.extend(t.split('/').filter(|c| !c.is_empty()).rev().map(str::to_string));
            }
        }
        out.path = stack.join("/");
        out
    }

    fn db_owner(&self, conn: &Connection, path: &str) -> Result<Option<String>> {
        if self.released.contains(path) {
            return Ok(None);
        }
        Ok(db::owners(conn, path)?.into_iter().find(|(_, k)| k != "dir").map(|(o, _)| o))
    }

    /// The non-directory owner of `path` when the next member installs.
    fn owner(&self, conn: &Connection, path: &str) -> Result<Option<String>> {
        match self.file_owner.get(path) {
            Some(o) => Ok(Some(o.clone())),
            None => self.db_owner(conn, path),
        }
    }

    /// Every package owning `path` (a directory: several).
    fn all_owners(&self, conn: &Connection, path: &str) -> Result<Vec<String>> {
        let mut v: Vec<String> = db::owners(conn, path)?.into_iter().map(|(o, _)| o).collect();
        v.extend(self.dir_owners.get(path).into_iter().flatten().cloned());
        v.extend(self.file_owner.get(path).cloned());
        v.sort();
        v.dedup();
        Ok(v)
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// (a) Gather the facts for a queue of staged manifests: for each member, every entry as the
/// root will be when it installs (after the members before it). `overwrite`: the install's
/// `--overwrite` globs.
pub fn gather(conn: &Connection, root: &Path, queue: &[(String, &Manifest)], overwrite: &[String]) -> Result<InvariantFacts> {
    let mut f = InvariantFacts::default();
    for i in db::list_installed(conn)? {
        f.installed.insert(i.name.clone(), InstalledFact { version: i.version, superseded_by: i.superseded_by });
    }
    let mut will = WillBe { root, nodes: HashMap::new(), file_owner: HashMap::new(), dir_owners: HashMap::new(), released: HashSet::new() };
    for (qi, (archive, m)) in queue.iter().enumerate() {
        let mut parents: HashMap<&str, Resolved> = HashMap::new();
        let mut views = Vec::with_capacity(m.entries.len());
        for e in &m.entries {
            let (parent, name) = super::beneath::split(&e.path);
            let rp = parents.entry(parent).or_insert_with(|| if parent.is_empty() { Resolved::default() } else { will.resolve(parent, true) }).clone();
            let resolved = join(&rp.path, name);
            let node = will.node(&resolved);
            let root_type = match &node {
                Node::Absent => "absent",
                Node::Dir => "dir",
                Node::File => "file",
                Node::Other => "other",
                Node::Link(_) => match will.node(&will.resolve(&resolved, true).path) {
                    Node::Dir => "symlink-to-dir",
                    _ => "symlink",
                },
            };
            let owner = match e.kind {
                EntryKind::Dir => None,
                _ => match will.owner(conn, &resolved)? {
                    Some(o) => Some(o),
                    None if resolved != e.path => will.owner(conn, &e.path)?,
                    None => None,
                },
            };
            let link = rp.links.last().cloned();
            let (link_owner, link_target_owners) = match &link {
                Some(l) => (will.owner(conn, l)?, will.all_owners(conn, &will.resolve(l, true).path)?),
                None => (None, vec![]),
            };
            let same_as_root = owner.is_none()
                && match (&e.kind, &node) {
                    (EntryKind::File { sha256 }, Node::File) => hash_file(&root.join(&resolved)).ok().as_ref() == Some(sha256),
                    (EntryKind::Symlink { target }, Node::Link(t)) => t == target,
                    _ => false,
                };
            views.push(EntryFact {
                path: e.path.clone(),
                kind: entry_word(&e.kind),
                root_type,
                owner,
                span: None,
                in_state_dir: state::is_state_path(&e.path) || state::is_state_path(&resolved),
                state_ancestor: state::is_state_ancestor(&e.path) || state::is_state_ancestor(&resolved),
                resolved,
                link,
                link_owner,
                link_target_owners,
                escapes: false,
                config: e.config,
                overwrite: overwrite.iter().any(|g| crate::lang::glob::matches(g, &format!("/{}", e.path)) || crate::lang::glob::matches(g, &e.path)),
                same_as_root,
            });
        }
        // This member's entries become the root the next member sees (and the one its own
        // symlinks are followed through).
        let has_links = m.entries.iter().any(|e| matches!(e.kind, EntryKind::Symlink { .. }));
        if qi + 1 < queue.len() || has_links {
            if let Some(old) = db::get_installed(conn, &m.name)? {
                for o in db::files_of(conn, old.id)? {
                    if o.kind != "dir" && m.entry(&o.path).is_none() {
                        will.nodes.insert(o.path.clone(), Node::Absent);
                        will.released.insert(o.path);
                    }
                }
            }
            for (e, v) in m.entries.iter().zip(&views) {
                match &e.kind {
                    EntryKind::Dir => {
                        if !matches!(will.node(&v.resolved), Node::Dir | Node::Link(_)) {
                            will.nodes.insert(v.resolved.clone(), Node::Dir);
                        }
                        will.dir_owners.entry(v.resolved.clone()).or_default().push(m.name.clone());
                    }
                    EntryKind::File { .. } => {
                        will.nodes.insert(v.resolved.clone(), Node::File);
                        will.file_owner.insert(v.resolved.clone(), m.name.clone());
                    }
                    EntryKind::Symlink { target } => {
                        will.nodes.insert(v.resolved.clone(), Node::Link(target.clone()));
                        will.file_owner.insert(v.resolved.clone(), m.name.clone());
                    }
                }
            }
            for v in views.iter_mut().filter(|v| v.kind == "symlink") {
                v.escapes = will.resolve(&v.path, true).escaped;
            }
        }
        let entries = m.entries.iter().map(|e| (e.path.clone(), entry_type(&e.kind))).collect();
        f.queue.push(QueueItem { name: m.name.clone(), version: m.version.clone(), archive: archive.clone(), supersedes: m.supersedes.clone(), entries });
        f.views.push(views);
    }
    // A later member can make an earlier member's link leave the root (it ships the `up` that
    // `esc -> up/../..` climbs through): every link is followed once more through the final root.
    for views in &mut f.views {
        for v in views.iter_mut().filter(|v| v.kind == "symlink" && !v.escapes) {
            v.escapes = will.resolve(&v.path, true).escaped;
        }
    }
    // Likewise an installed link that climbs (`..` in its target) may climb out only through a
    // new link (`esc` installed, then `up` queued): the new link it crosses is the one refused.
    let new_links: HashSet<String> = f.views.iter().flatten().filter(|v| v.kind == "symlink").map(|v| v.resolved.clone()).collect();
    if !new_links.is_empty() {
        let before = WillBe { root, nodes: HashMap::new(), file_owner: HashMap::new(), dir_owners: HashMap::new(), released: HashSet::new() };
        let climbing: Vec<String> = {
            let mut st = conn.prepare("SELECT path FROM files WHERE kind = 'symlink' AND target LIKE '%..%' ORDER BY path")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        for path in climbing {
            let after = will.resolve(&path, true);
            if !after.escaped || before.resolve(&path, true).escaped {
                continue;
            }
            for v in f.views.iter_mut().flatten().filter(|v| v.kind == "symlink" && after.links.contains(&v.resolved)) {
                v.escapes = true;
            }
        }
    }
    Ok(f)
}

fn entry_word(k: &EntryKind) -> &'static str {
    match k {
        EntryKind::File { .. } => "file",
        EntryKind::Dir => "dir",
        EntryKind::Symlink { .. } => "symlink",
    }
}

fn entry_type(k: &EntryKind) -> EntryType {
    match k {
        EntryKind::File { .. } => EntryType::File,
        EntryKind::Dir => EntryType::Dir,
        EntryKind::Symlink { .. } => EntryType::Symlink,
    }
}

/// The compiled rules an install evaluates: the built-in rules, `rules/pkm.pol`'s checks
/// among them, and the source map that says where each check is written. The caller compiles
/// them against every domain it serves (the rule files name the tree's and the image's
/// relations too, which this crate does not know): the `pkm` binary through `igos::domains`.
pub struct Rules {
    pub policy: crate::lang::compile::Policy,
    pub sources: crate::source::SourceMap,
}

impl Rules {
    /// From what rule loading gave: rules that do not compile refuse every install (the
    /// built-in rules are tested to compile; installing unchecked is never the fallback).
    pub fn compiled(loaded: std::result::Result<crate::rules::Rules, String>, sources: crate::source::SourceMap) -> Result<Rules> {
        match loaded {
            Ok(r) if r.errors.is_empty() => Ok(Rules { policy: r.policy, sources }),
            _ => Err(super::error::PkmError::unusable("pkm::rules", "the built-in pkm rules do not compile; nothing was installed").help("this is a bug in igos")),
        }
    }
}

/// (b) Evaluate the invariants: the checks of `rules/pkm.pol`, run by the rule engine over
/// these facts. Deterministic: queue order, then entry order.
pub fn evaluate(rules: &Rules, f: &InvariantFacts) -> Vec<Violation> {
    let mut found = evaluate_with(&rules.policy, f);
    // Name the rule that decided, as igos check's diagnostics do.
    for v in &mut found {
        if let Some(check) = rules.policy.checks.iter().find(|c| c.id == v.rule_id) {
            let file = rules.sources.get(check.span.source);
            let (line, col) = file.line_col(check.span.start);
            v.decided_by = Some(format!("{}:{line}:{col}", file.name));
        }
    }
    found
}

/// Evaluate with a given policy (tests and `--rules` use this).
pub fn evaluate_with(policy: &crate::lang::compile::Policy, f: &InvariantFacts) -> Vec<Violation> {
    let facts = to_engine_facts(f);
    let mut findings = crate::facts::evaluate(policy, &facts, &crate::date::today());
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
fn to_engine_facts(f: &InvariantFacts) -> crate::facts::PkmFacts {
    use crate::facts::{PkmFacts, QueuedPackage};
    let mut queue_owner: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = vec![];
    for (qi, item) in f.queue.iter().enumerate() {
        if let Some(views) = f.views.get(qi) {
            queue.push(QueuedPackage {
                name: item.name.clone(),
                archive: item.archive.clone(),
                supersedes: item.supersedes.clone(),
                entries: views.clone(),
                installed: f.installed.contains_key(&item.name),
                span: None,
                superseded_by: f.installed.get(&item.name).and_then(|i| i.superseded_by.clone()),
            });
            continue;
        }
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
                    resolved: path.clone(),
                    ..Default::default()
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
            superseded_by: f.installed.get(&item.name).and_then(|i| i.superseded_by.clone()),
        });
    }
    PkmFacts { queue, installed: f.installed.keys().cloned().collect() }
}
