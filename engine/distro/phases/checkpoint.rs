//! Checkpoints a later run can trust: when a `checkpoint` phase succeeds, igos records what
//! every phase up to it ran with; the next `igos build` skips the phases a record still
//! covers, and says why it runs one again.
//!
//! What a phase runs with (its [`Fingerprint`]), each a SHA-256:
//! - `declaration`: the phase as declared (its command or builtin, `after`, `checkpoint`,
//!   `optional`; the title is only words, so editing it re-runs nothing);
//! - `rules`: the rules the phase consumes: for a command phase, the builders the rules put
//!   in it (name, tier, list file or names); for a builtin, the text of every rule file
//!   holding checks of its domain (the image audit's rules/image.pol);
//! - `tree`: what the phase builds from the tree: every file of the recipes its builders
//!   reach (package.yml, build.sh, patches/, all of the recipe directory), its builders'
//!   list files, and the files under the root its command names (`scripts/setup.sh`).
//!
//! A record holds the fingerprints of every phase from the start of the plan to its
//! checkpoint (the validate phase aside: it always runs), so a change to any earlier phase
//! invalidates it too, and the igos version (a new igos may build differently).

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::eval::schema::DomainId;
use crate::lang::compile::{PhaseDef, Policy, Reach};
use crate::source::SourceMap;
use crate::tree::Tree;

/// The first line of a record.
pub const FORMAT: &str = "igos-checkpoint 1";

/// The igos that writes and reads records.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What one phase runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub phase: String,
    pub declaration: String,
    pub rules: String,
    pub tree: String,
}

/// A checkpoint as written to `<state>/checkpoints/<phase>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub phase: String,
    pub version: String,
    /// Unix time the phase finished.
    pub completed: u64,
    /// Every phase from the start of the plan to this one (validate aside), in order.
    pub phases: Vec<Fingerprint>,
}

impl Record {
    pub fn render(&self) -> String {
        let mut out = format!("{FORMAT}\nphase {}\nigos {}\ncompleted {}\n", self.phase, self.version, self.completed);
        for f in &self.phases {
            let _ = writeln!(out, "ran {} declaration={} rules={} tree={}", f.phase, f.declaration, f.rules, f.tree);
        }
        out
    }

    /// None when the text is not a record of this format (an older igos wrote it).
    pub fn parse(text: &str) -> Option<Record> {
        let mut lines = text.lines();
        if lines.next()? != FORMAT {
            return None;
        }
        let mut value = |key: &str| lines.next()?.strip_prefix(key)?.strip_prefix(' ').map(str::to_string);
        let phase = value("phase")?;
        let version = value("igos")?;
        let completed = value("completed")?.parse().ok()?;
        let mut phases = vec![];
        for l in lines {
            let mut words = l.strip_prefix("ran ")?.split(' ');
            let name = words.next()?.to_string();
            let mut field = |key: &str| words.next()?.strip_prefix(key).map(str::to_string);
            phases.push(Fingerprint {
                phase: name,
                declaration: field("declaration=")?,
                rules: field("rules=")?,
                tree: field("tree=")?,
            });
        }
        Some(Record { phase, version, completed, phases })
    }

    /// Why this record no longer holds for `current` (the fingerprints of the plan's phases
    /// up to and including the record's phase), or None when it does.
    pub fn mismatch(&self, current: &[Fingerprint]) -> Option<String> {
        let c = &self.phase;
        if self.version != VERSION {
            return Some(format!("igos changed ({} → {VERSION}) since the checkpoint of {c}", self.version));
        }
        for (was, now) in self.phases.iter().zip(current) {
            if was.phase != now.phase {
                break;
            }
            let what = if was.declaration != now.declaration {
                "the declaration"
            } else if was.rules != now.rules {
                "rules"
            } else if was.tree != now.tree {
                "the tree"
            } else {
                continue;
            };
            return Some(if &now.phase == c {
                format!("{what} changed since the checkpoint of {c}")
            } else {
                format!("{what} of {} changed since the checkpoint of {c}", now.phase)
            });
        }
        let names = |v: &[Fingerprint]| v.iter().map(|f| f.phase.clone()).collect::<Vec<_>>();
        if names(&self.phases) != names(current) {
            return Some(format!("the phases up to {c} changed since its checkpoint"));
        }
        None
    }
}

/// The phases a record covers and every run executes regardless: `builtin check`.
pub fn always_runs(p: &PhaseDef) -> bool {
    p.builtin.as_deref() == Some("check")
}

/// The fingerprint of every phase of `plan` (validate included, for positions), in order.
pub fn fingerprints(policy: &Policy, plan: &[usize], tree: Option<&Tree>, sources: &SourceMap, root: &Path) -> Vec<Fingerprint> {
    let facts = tree.map(|t| crate::facts::tree::TreeFacts::new(t, policy));
    // The phase each recipe is built in, once.
    let built_in: Vec<Option<String>> = match (&facts, tree) {
        (Some(f), Some(t)) => (0..t.packages.len() as u32)
            .map(|idx| f.build_phase(idx).map(str::to_string))
            .collect(),
        _ => vec![],
    };
    plan.iter()
        .map(|&i| {
            let p = &policy.phases[i];
            Fingerprint {
                phase: p.name.clone(),
                declaration: declaration(p),
                rules: rules_hash(policy, p, sources),
                tree: tree_hash(policy, p, tree, &built_in, root),
            }
        })
        .collect()
}

fn hex(h: Sha256) -> String {
    crate::archive::hex(&h.finalize())
}

fn declaration(p: &PhaseDef) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "run {:?}\nbuiltin {:?}\nafter {:?}\ncheckpoint {}\noptional {}\n",
        p.run, p.builtin, p.after, p.checkpoint, p.optional
    ));
    hex(h)
}

fn rules_hash(policy: &Policy, p: &PhaseDef, sources: &SourceMap) -> String {
    let mut h = Sha256::new();
    match p.builtin.as_deref() {
        Some(b) => {
            // The image domain registers as "image" (engine/facts/image.rs, above this crate).
            let domain = if b == "image-audit" { DomainId("image") } else { crate::facts::tree::TREE.id };
            let mut files: Vec<_> = policy.checks.iter().filter(|c| c.domain == domain).map(|c| c.span.source).collect();
            files.sort();
            files.dedup();
            for id in files {
                let f = sources.get(id);
                h.update(format!("{}\n{}\n", f.name.len(), f.name));
                h.update(f.text.as_bytes());
            }
        }
        None => {
            for b in policy.builders.iter().filter(|b| b.phase.as_deref() == Some(p.name.as_str())) {
                let reach: Vec<String> = b
                    .reach
                    .iter()
                    .map(|r| match r {
                        Reach::List(f, _) => format!("list {f}"),
                        Reach::Topological(f, _) => format!("topological {f}"),
                        Reach::Names(n) => format!("names {:?}", n.iter().map(|(x, _)| x).collect::<Vec<_>>()),
                    })
                    .collect();
                h.update(format!("builder {} tier {:?} {:?}\n", b.name, b.tier, reach));
            }
        }
    }
    hex(h)
}

fn tree_hash(policy: &Policy, p: &PhaseDef, tree: Option<&Tree>, built_in: &[Option<String>], root: &Path) -> String {
    let mut h = Sha256::new();
    if let Some(t) = tree {
        let mut recipes: Vec<&crate::tree::Package> =
            t.packages.iter().zip(built_in).filter(|(_, ph)| ph.as_deref() == Some(p.name.as_str())).map(|(pkg, _)| pkg).collect();
        recipes.sort_by(|a, b| (&a.dir_tier, &a.dir_name).cmp(&(&b.dir_tier, &b.dir_name)));
        for r in recipes {
            let rel = format!("packages/{}/{}", r.dir_tier, r.dir_name);
            hash_dir(&mut h, &t.root.join(&rel), &rel);
        }
        let lists: Vec<&str> = policy
            .builders
            .iter()
            .filter(|b| b.phase.as_deref() == Some(p.name.as_str()))
            .flat_map(|b| b.reach.iter())
            .filter_map(|r| match r {
                Reach::List(f, _) | Reach::Topological(f, _) => Some(f.as_str()),
                Reach::Names(_) => None,
            })
            .collect();
        for l in &t.builder_lists {
            if lists.contains(&l.file_name.as_str()) {
                h.update(format!("list {}\n", l.file_name));
                for (name, _) in &l.entries {
                    h.update(format!("{name}\n"));
                }
            }
        }
    }
    // Files under the root the command names (its script): a word that is a relative path
    // to a regular file of the tree.
    for word in p.run.iter().flat_map(|c| c.split_whitespace()) {
        let word = word.trim_matches(|c| c == '\'' || c == '"' || c == ';');
        let path = Path::new(word);
        if word.is_empty() || path.is_absolute() || word.split('/').any(|s| s == "..") {
            continue;
        }
        if let Ok(bytes) = std::fs::read(root.join(path)) {
            h.update(format!("file {word} {}\n", bytes.len()));
            h.update(&bytes);
        }
    }
    hex(h)
}

/// Every file under `dir`, in name order: its path relative to the tree and its bytes
/// (symlinks by their target; nothing outside the directory is followed).
fn hash_dir(h: &mut Sha256, dir: &Path, rel: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = format!("{rel}/{name}");
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            hash_dir(h, &e.path(), &path);
        } else if ft.is_symlink() {
            let target = std::fs::read_link(e.path()).map(|t| t.display().to_string()).unwrap_or_default();
            h.update(format!("link {path} {target}\n"));
        } else if let Ok(bytes) = std::fs::read(e.path()) {
            h.update(format!("file {path} {}\n", bytes.len()));
            h.update(&bytes);
        }
    }
}

/// Where a run may pick up: the phases a checkpoint still covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resume {
    /// The last checkpoint whose record holds: its plan position and phase.
    pub covered: Option<(usize, String)>,
    /// Why the next checkpoint after it does not hold, if one was recorded.
    pub reason: Option<String>,
}

impl Resume {
    /// The plan position `pos` is covered by a checkpoint (and skipped).
    pub fn covers(&self, pos: usize) -> bool {
        self.covered.as_ref().is_some_and(|(c, _)| pos <= *c)
    }
}

/// The fingerprints a record of the phase at plan position `pos` holds.
pub fn recorded(policy: &Policy, plan: &[usize], fps: &[Fingerprint], pos: usize) -> Vec<Fingerprint> {
    plan.iter().zip(fps).take(pos + 1).filter(|(&i, _)| !always_runs(&policy.phases[i])).map(|(_, f)| f.clone()).collect()
}

/// Compare every checkpoint of the plan with what its phases would run with now.
/// `read` gives a phase's record (see `StateDir::read_checkpoint`).
pub fn resume(policy: &Policy, plan: &[usize], fps: &[Fingerprint], read: impl Fn(&str) -> Option<Option<Record>>) -> Resume {
    let mut out = Resume::default();
    for (pos, &i) in plan.iter().enumerate() {
        let p = &policy.phases[i];
        if !p.checkpoint || always_runs(p) {
            continue;
        }
        let why = match read(&p.name) {
            None => continue,
            Some(None) => Some(format!("the checkpoint of {} is not a record this igos reads (an older igos wrote it)", p.name)),
            Some(Some(r)) if r.phase != p.name => Some(format!("the checkpoint of {} names another phase", p.name)),
            Some(Some(r)) => r.mismatch(&recorded(policy, plan, fps, pos)),
        };
        match why {
            None => out = Resume { covered: Some((pos, p.name.clone())), reason: None },
            Some(w) => {
                out.reason.get_or_insert(w);
            }
        }
    }
    out
}
