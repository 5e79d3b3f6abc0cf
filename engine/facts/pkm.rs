//! The pkm domain: the install queue, what each archive ships, and what the root and the
//! database hold at those paths, gathered by pkm before anything is written. The engine
//! evaluates `rules/pkm.pol` over these facts; this adapter does no I/O.

use crate::eval::domain::Domain;
use crate::eval::schema::{self, DomainId};
use crate::eval::value::{Rec, Value};
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

    fn queued(q: u32) -> Value<'static> {
        Value::Rec(Rec { kind: schema::QUEUED, idx: q })
    }
}

impl<'a> Domain for PkmDomain<'a> {
    fn id(&self) -> DomainId {
        DomainId::Pkm
    }

    fn relation(&self, rel: usize) -> Vec<Value<'_>> {
        let recs = |kind, n: usize| (0..n as u32).map(|idx| Value::Rec(Rec { kind, idx })).collect();
        match schema::RELATIONS[rel].name {
            "queue" => recs(schema::QUEUED, self.facts.queue.len()),
            "archive_entries" => recs(schema::ARCHIVE_ENTRY, self.entries.len()),
            "supersedes" => recs(schema::SUPERSEDE, self.supersedes.len()),
            _ => vec![],
        }
    }

    fn field(&self, r: Rec, field: usize) -> Value<'_> {
        let name = r.kind.def().fields.get(field).map(|f| f.name).unwrap_or("");
        match r.kind {
            schema::QUEUED => {
                let Some(q) = self.facts.queue.get(r.idx as usize) else { return Value::None };
                match name {
                    "name" => Value::Str(&q.name),
                    "position" => Value::Int(i64::from(r.idx)),
                    "archive" => Value::Str(&q.archive),
                    "supersedes" => Value::list(q.supersedes.iter().map(|s| Value::Str(s)).collect()),
                    "entries" => Value::list(
                        self.entries
                            .iter()
                            .enumerate()
                            .filter(|(_, (qi, _))| *qi == r.idx)
                            .map(|(i, _)| Value::Rec(Rec { kind: schema::ARCHIVE_ENTRY, idx: i as u32 }))
                            .collect(),
                    ),
                    "installed" => Value::Bool(q.installed),
                    "superseded_by" => Value::opt_str(q.superseded_by.as_deref()),
                    _ => Value::None,
                }
            }
            schema::ARCHIVE_ENTRY => {
                let Some(&(q, e)) = self.entries.get(r.idx as usize) else { return Value::None };
                let entry = &self.facts.queue[q as usize].entries[e as usize];
                match name {
                    "path" => Value::Str(&entry.path),
                    "type" => Value::Str(entry.kind),
                    "package" => Self::queued(q),
                    "root_type" => Value::Str(entry.root_type),
                    "owner" => Value::opt_str(entry.owner.as_deref()),
                    "in_state_dir" => Value::Bool(entry.in_state_dir),
                    "state_ancestor" => Value::Bool(entry.state_ancestor),
                    "resolved" => Value::Str(&entry.resolved),
                    "link" => Value::opt_str(entry.link.as_deref()),
                    "link_owner" => Value::opt_str(entry.link_owner.as_deref()),
                    "link_target_owners" => Value::list(entry.link_target_owners.iter().map(|s| Value::Str(s)).collect()),
                    "escapes" => Value::Bool(entry.escapes),
                    "config" => Value::Bool(entry.config),
                    "overwrite" => Value::Bool(entry.overwrite),
                    "same_as_root" => Value::Bool(entry.same_as_root),
                    _ => Value::None,
                }
            }
            schema::SUPERSEDE => {
                let Some(&(q, s)) = self.supersedes.get(r.idx as usize) else { return Value::None };
                let pred = &self.facts.queue[q as usize].supersedes[s as usize];
                match name {
                    "name" => Value::Str(pred),
                    "successor" => Self::queued(q),
                    "installed" => Value::Bool(self.facts.installed.iter().any(|i| i == pred)),
                    "queue_position" => self
                        .facts
                        .queue
                        .iter()
                        .position(|p| &p.name == pred)
                        .map(|i| Value::Int(i as i64))
                        .unwrap_or(Value::None),
                    "state" => {
                        let at = self.facts.queue.iter().position(|p| &p.name == pred);
                        Value::Str(if pred == &self.facts.queue[q as usize].name {
                            "itself"
                        } else if at.is_some_and(|i| i > q as usize) {
                            "later in the install queue"
                        } else if at.is_some() {
                            "earlier in the install queue"
                        } else if self.facts.installed.iter().any(|i| i == pred) {
                            "installed"
                        } else {
                            "neither installed nor earlier in the install queue"
                        })
                    }
                    _ => Value::None,
                }
            }
            _ => Value::None,
        }
    }

    fn call<'s>(&'s self, _name: &str, _args: &[Value<'s>]) -> Value<'s> {
        Value::None
    }

    fn display(&self, r: Rec) -> String {
        match r.kind {
            schema::QUEUED => self.facts.queue.get(r.idx as usize).map(|q| q.name.clone()).unwrap_or_default(),
            schema::ARCHIVE_ENTRY => self
                .entries
                .get(r.idx as usize)
                .map(|&(q, e)| format!("/{}", self.facts.queue[q as usize].entries[e as usize].path))
                .unwrap_or_default(),
            schema::SUPERSEDE => self
                .supersedes
                .get(r.idx as usize)
                .map(|&(q, s)| self.facts.queue[q as usize].supersedes[s as usize].clone())
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    fn location(&self, r: Rec) -> Option<Span> {
        match r.kind {
            schema::QUEUED => self.facts.queue.get(r.idx as usize)?.span,
            schema::ARCHIVE_ENTRY => {
                let &(q, e) = self.entries.get(r.idx as usize)?;
                self.facts.queue[q as usize].entries[e as usize].span
            }
            schema::SUPERSEDE => {
                let &(q, _) = self.supersedes.get(r.idx as usize)?;
                self.facts.queue[q as usize].span
            }
            _ => None,
        }
    }
}

/// Evaluate the pkm checks of `policy` over `facts`.
pub fn evaluate(policy: &crate::lang::compile::Policy, facts: &PkmFacts, today: &str) -> Vec<crate::finding::Finding> {
    let domain = PkmDomain::new(facts);
    let mut engine = crate::eval::run::Engine::new(policy, &domain);
    let mut findings = engine.run_all(policy.waivers.len());
    crate::eval::run::apply_waivers(policy, &mut findings, today, DomainId::Pkm);
    findings
}
