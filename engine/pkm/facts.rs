//! The pkm domain: the install queue, what each archive ships, and what the root and the
//! database hold at those paths, gathered by pkm before anything is written. The engine
//! evaluates `rules/pkm.pol` over these facts; this adapter does no I/O.

use crate::eval::domain::Domain;
use crate::eval::schema::Values;
use crate::source::Span;

/// One archive entry and what is at its path when its package installs: the root after the
/// members of the queue before it.
#[derive(Debug, Clone, Default)]
pub struct EntryFact {
    /// Relative to the root, no leading `/`.
    pub path: String,
    /// `file`, `dir` or `symlink`.
    pub kind: &'static str,
    /// What the root has at the path: `absent`, `file`, `dir`, `symlink-to-dir`, `symlink`.
    pub root_type: &'static str,
    /// The installed package that owns the path, if any.
    pub owner: Option<String>,
    /// Where the entry is declared (the archive's manifest line).
    pub span: Option<Span>,
    /// The path, or where it resolves to, is pkm's state or cache directory or inside it.
    pub in_state_dir: bool,
    /// The path, or where it resolves to, is a directory on the way to pkm's state (`var/lib`).
    pub state_ancestor: bool,
    /// Where the path lands: its parents' symlinks followed through the root as it will be.
    pub resolved: String,
    /// The last symlink crossed on the way to the entry's parent, if any.
    pub link: Option<String>,
    /// The package owning that symlink (an earlier queue member, else installed), if any.
    pub link_owner: Option<String>,
    /// The packages owning the directory that symlink leads to.
    pub link_target_owners: Vec<String>,
    /// A symlink whose target, followed through the root as it will be, leaves the root.
    pub escapes: bool,
    /// Declared a config file (kept when edited; pkm writes `<path>.new` beside it).
    pub config: bool,
    /// Matched by an `--overwrite` glob of this install.
    pub overwrite: bool,
    /// The root already has exactly this entry there (same content, or same link target).
    pub same_as_root: bool,
}

#[derive(Debug, Clone, Default)]
pub struct QueuedPackage {
    pub name: String,
    pub archive: String,
    pub supersedes: Vec<String>,
    pub entries: Vec<EntryFact>,
    /// A package of this name is installed and not superseded.
    pub installed: bool,
    /// The manifest's `name:` line.
    pub span: Option<Span>,
    /// The installed package of this name was superseded by these (comma-separated), if so.
    pub superseded_by: Option<String>,
}

/// Everything the pre-deploy invariants look at.
#[derive(Debug, Clone, Default)]
pub struct PkmFacts {
    pub queue: Vec<QueuedPackage>,
    /// Installed packages (superseded ones included: their records remain).
    pub installed: Vec<String>,
}

/// Indexed for the engine: flattened entries and supersede declarations.
pub struct PkmDomain<'a> {
    facts: &'a PkmFacts,
    entries: Vec<(u32, u32)>,
    supersedes: Vec<(u32, u32)>,
}

impl<'a> PkmDomain<'a> {
    pub fn new(facts: &'a PkmFacts) -> PkmDomain<'a> {
        let mut entries = vec![];
        let mut supersedes = vec![];
        for (q, pkg) in facts.queue.iter().enumerate() {
            entries.extend((0..pkg.entries.len()).map(|e| (q as u32, e as u32)));
            supersedes.extend((0..pkg.supersedes.len()).map(|s| (q as u32, s as u32)));
        }
        PkmDomain { facts, entries, supersedes }
    }

    fn entry(&self, i: u32) -> (u32, &'a EntryFact) {
        let (q, e) = self.entries[i as usize];
        (q, &self.facts.queue[q as usize].entries[e as usize])
    }

    /// (the successor's queue position, the predecessor's name)
    fn supersede(&self, i: u32) -> (u32, &'a str) {
        let (q, s) = self.supersedes[i as usize];
        (q, self.facts.queue[q as usize].supersedes[s as usize].as_str())
    }

    fn state(&self, i: u32) -> SupersedeState {
        let (q, pred) = self.supersede(i);
        let at = self.facts.queue.iter().position(|p| p.name == pred);
        if pred == self.facts.queue[q as usize].name {
            SupersedeState::Itself
        } else if at.is_some_and(|i| i > q as usize) {
            SupersedeState::Later
        } else if at.is_some() {
            SupersedeState::Earlier
        } else if self.facts.installed.iter().any(|i| i == pred) {
            SupersedeState::Installed
        } else {
            SupersedeState::Absent
        }
    }
}

igos_policy::closed! {
    /// Where a SUPERSEDES predecessor is, seen from its successor in the queue.
    pub enum SupersedeState {
        Itself = "itself",
        Earlier = "earlier in the install queue",
        Later = "later in the install queue",
        Installed = "installed",
        Absent = "neither installed nor earlier in the install queue",
    }
}

/// The types an archive entry has.
const ENTRY_TYPES: Values = Values::Listed(&["file", "dir", "symlink"]);
/// What the root can have at an entry's path.
const ROOT_TYPES: Values = Values::Listed(&["absent", "file", "dir", "symlink-to-dir", "symlink", "other"]);

igos_policy::domain! {
    pub static PKM = "pkm", "an install queue of archives and the root they go into, read by `pkm install` before it writes anything";
    impl<'a> PkmDomain<'a>;
    kinds {
        QUEUED "queued" "a package of the install queue" {
            @show |f, i| f.facts.queue[i as usize].name.clone();
            @at |f, i| f.facts.queue.get(i as usize)?.span;
            name: Str = "the package name in the archive's manifest", |f, i| f.facts.queue[i as usize].name.as_str();
            position: Int = "its place in the install queue (0-based)", |f, i| i;
            archive: Str = "the archive file", |f, i| f.facts.queue[i as usize].archive.as_str();
            supersedes: Strs = "the package names its SUPERSEDES declares", |f, i| &f.facts.queue[i as usize].supersedes;
            entries: List(ARCHIVE_ENTRY) = "the files, directories and links it ships",
                |f, i| f.entries.iter().enumerate().filter(|(_, (q, _))| *q == i).map(|(e, _)| e as u32);
            installed: Bool = "a package of this name is installed", |f, i| f.facts.queue[i as usize].installed;
            superseded_by: Str = "the installed package of this name was superseded by these packages (comma-separated); none when not",
                |f, i| f.facts.queue[i as usize].superseded_by.as_deref();
        }
        ARCHIVE_ENTRY "archive_entry" "a file, directory or link a queued archive ships" {
            @show |f, i| format!("/{}", f.entry(i).1.path);
            @at |f, i| f.entry(i).1.span;
            path: Str = "the path, relative to the root", |f, i| f.entry(i).1.path.as_str();
            r#type: Str [ENTRY_TYPES] = "file, dir or symlink", |f, i| f.entry(i).1.kind;
            package: Rec(QUEUED) = "the queued package that ships it", |f, i| f.entry(i).0;
            root_type: Str [ROOT_TYPES] = "what the root has at that path now: absent, file, dir, symlink-to-dir, symlink", |f, i| f.entry(i).1.root_type;
            owner: Str = "who owns the path when this package installs: an earlier package of the queue, else the installed owner; none when unowned",
                |f, i| f.entry(i).1.owner.as_deref();
            in_state_dir: Bool = "the path, or where it resolves to, is pkm's state (var/lib/igos) or download cache (var/cache/igos/pkm) or inside it",
                |f, i| f.entry(i).1.in_state_dir;
            state_ancestor: Bool = "the path, or where it resolves to, is a directory on the way to pkm's state or download cache (var, var/lib, var/cache, var/cache/igos)",
                |f, i| f.entry(i).1.state_ancestor;
            resolved: Str = "where the path lands, its parents' symlinks followed through the root as it will be", |f, i| f.entry(i).1.resolved.as_str();
            link: Str = "the last symlink crossed on the way to the entry's parent; none when none", |f, i| f.entry(i).1.link.as_deref();
            link_owner: Str = "the package owning that symlink (an earlier queue member, else installed); none when unowned", |f, i| f.entry(i).1.link_owner.as_deref();
            link_target_owners: Strs = "the packages owning the directory that symlink leads to", |f, i| &f.entry(i).1.link_target_owners;
            escapes: Bool = "a symlink whose target, followed through the root as it will be, leaves the root", |f, i| f.entry(i).1.escapes;
            config: Bool = "declared a config file (an edited one is kept, the new one written beside it)", |f, i| f.entry(i).1.config;
            overwrite: Bool = "matched by an --overwrite glob of this install", |f, i| f.entry(i).1.overwrite;
            same_as_root: Bool = "the root already has exactly this entry (same content, or same link target)", |f, i| f.entry(i).1.same_as_root;
        }
        SUPERSEDE "supersede" "a SUPERSEDES declaration of a queued package" {
            @show |f, i| f.supersede(i).1.to_string();
            @at |f, i| f.facts.queue[f.supersede(i).0 as usize].span;
            name: Str = "the predecessor named by SUPERSEDES", |f, i| f.supersede(i).1;
            successor: Rec(QUEUED) = "the queued package that supersedes it", |f, i| f.supersede(i).0;
            installed: Bool = "a package of that name is installed (superseded or not)", |f, i| f.facts.installed.iter().any(|x| x == f.supersede(i).1);
            queue_position: Int = "its place in the queue, none when not queued", |f, i| f.facts.queue.iter().position(|p| p.name == f.supersede(i).1);
            state: Enum(SupersedeState) = "where the predecessor is, seen from its successor", |f, i| f.state(i);
        }
    }
    relations {
        queue: QUEUED = "the install queue, in order", |f| f.facts.queue.len();
        archive_entries: ARCHIVE_ENTRY = "every entry of every queued archive", |f| f.entries.len();
        supersedes: SUPERSEDE = "every SUPERSEDES declaration in the queue", |f| f.supersedes.len();
    }
    functions {}
}

// Everything a domain does is its registration's (`domain!` above): nothing of its own.
impl Domain for PkmDomain<'_> {}

/// Evaluate the pkm checks of `policy` over `facts`.
pub fn evaluate(policy: &crate::lang::compile::Policy, facts: &PkmFacts, today: &str) -> Vec<crate::finding::Finding> {
    let domain = PkmDomain::new(facts);
    let engine = crate::eval::run::Engine::new(policy, &domain);
    let mut findings = engine.run_all(policy.waivers.len());
    crate::eval::run::apply_waivers(policy, &mut findings, today, PKM.id);
    findings
}
