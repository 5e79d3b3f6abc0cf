//! Dependency resolution, pure: the installed set, the available set and the requested names
//! in, an ordered install queue (or the chain that makes one impossible) out. No I/O.
//!
//! * One version per name: the first repository (in repos.conf order) that publishes a name
//!   wins, and within it the newest version ([`choose`]).
//! * Runtime dependencies are followed transitively. A dependency is met by an installed
//!   package of that name (superseded or not: its successor holds its files) or by a package
//!   already in the queue. A successor never stands in for a predecessor that is not
//!   installed: the install rules require the predecessor installed or earlier in the queue.
//! * The queue is in dependency order (a dependency before its dependents) and a predecessor
//!   before the package that supersedes it, as the install pipeline's invariants require.
//! * A cycle is refused, naming the cycle; a missing dependency is refused, naming the chain
//!   from the requested package down to it.

use crate::vercmp;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// A package a synced index publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Available {
    pub name: String,
    pub version: String,
    pub release: i64,
    pub depends: Vec<String>,
    pub supersedes: Vec<String>,
    /// The repository's position in repos.conf (0 first).
    pub position: i64,
}

/// An installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub name: String,
    pub version: String,
    pub release: i64,
    pub depends: Vec<String>,
    pub superseded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// The chain from a requested package to a dependency nothing publishes.
    Missing(Vec<String>),
    /// A dependency (or supersede-order) cycle, first name repeated at the end.
    Cycle(Vec<String>),
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::Missing(chain) => {
                let last = chain.last().map(String::as_str).unwrap_or("?");
                if chain.len() == 1 {
                    write!(f, "{last} is not in any synced repository")
                } else {
                    write!(f, "{last} is not installed and not in any synced repository (needed by {})", chain.join(" -> "))
                }
            }
            ResolveError::Cycle(chain) => write!(f, "dependency cycle: {}", chain.join(" -> ")),
        }
    }
}

/// One candidate per name: the first repository that publishes it, its newest version there.
pub fn choose(rows: &[Available]) -> BTreeMap<String, Available> {
    let mut out: BTreeMap<String, Available> = BTreeMap::new();
    for r in rows {
        let better = match out.get(&r.name) {
            None => true,
            Some(c) => r.position < c.position || (r.position == c.position && vercmp::compare(&r.version, r.release, &c.version, c.release) == Ordering::Greater),
        };
        if better {
            out.insert(r.name.clone(), r.clone());
        }
    }
    out
}

pub struct Universe {
    pub installed: BTreeMap<String, Installed>,
    /// From [`choose`].
    pub available: BTreeMap<String, Available>,
}

impl Universe {
    /// Resolve `targets` (names that must be in the queue, in this order) and their missing
    /// dependencies into an ordered queue of published packages.
    pub fn resolve(&self, targets: &[String]) -> Result<Vec<Available>, ResolveError> {
        let mut chosen: BTreeMap<String, Available> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for t in targets {
            let mut path = Vec::new();
            self.visit(t, true, &mut path, &mut chosen, &mut order)?;
        }
        // Second pass: order over dependencies plus supersede edges inside the queue.
        let mut done = BTreeSet::new();
        let mut queue = Vec::new();
        for n in &order {
            let mut path = Vec::new();
            self.order(n, &chosen, &mut path, &mut done, &mut queue)?;
        }
        Ok(queue)
    }

    fn visit(&self, name: &str, forced: bool, path: &mut Vec<String>, chosen: &mut BTreeMap<String, Available>, order: &mut Vec<String>) -> Result<(), ResolveError> {
        if chosen.contains_key(name) {
            return Ok(());
        }
        if !forced && self.installed.contains_key(name) {
            return Ok(());
        }
        if let Some(i) = path.iter().position(|p| p == name) {
            let mut c: Vec<String> = path.get(i..).unwrap_or_default().to_vec();
            c.push(name.to_string());
            return Err(ResolveError::Cycle(c));
        }
        let Some(a) = self.available.get(name) else {
            let mut c = path.clone();
            c.push(name.to_string());
            return Err(ResolveError::Missing(c));
        };
        path.push(a.name.clone());
        for d in &a.depends {
            self.visit(d, false, path, chosen, order)?;
        }
        path.pop();
        chosen.insert(a.name.clone(), a.clone());
        order.push(a.name.clone());
        Ok(())
    }

    fn order(&self, name: &str, chosen: &BTreeMap<String, Available>, path: &mut Vec<String>, done: &mut BTreeSet<String>, queue: &mut Vec<Available>) -> Result<(), ResolveError> {
        if done.contains(name) {
            return Ok(());
        }
        let Some(a) = chosen.get(name) else { return Ok(()) };
        if let Some(i) = path.iter().position(|p| p == name) {
            let mut c: Vec<String> = path.get(i..).unwrap_or_default().to_vec();
            c.push(name.to_string());
            return Err(ResolveError::Cycle(c));
        }
        path.push(name.to_string());
        for d in a.depends.iter().chain(&a.supersedes) {
            if chosen.contains_key(d) {
                self.order(d, chosen, path, done, queue)?;
            }
        }
        path.pop();
        done.insert(name.to_string());
        queue.push(a.clone());
        Ok(())
    }

    /// The upgrade targets: every installed, not superseded package whose candidate is newer
    /// (older only when `allow_downgrade`), then every published package that supersedes an
    /// installed one and is not installed itself (a split). Also the packages held back, with why.
    pub fn upgrade_targets(&self, allow_downgrade: bool) -> (Vec<String>, Vec<String>) {
        let mut targets = Vec::new();
        let mut held = Vec::new();
        for i in self.installed.values().filter(|i| !i.superseded) {
            let Some(a) = self.available.get(&i.name) else { continue };
            match vercmp::compare(&a.version, a.release, &i.version, i.release) {
                Ordering::Greater => targets.push(i.name.clone()),
                Ordering::Less if allow_downgrade => targets.push(i.name.clone()),
                Ordering::Less => held.push(format!("{} {}-{} kept: the repository has the older {}-{} (no downgrade without --allow-downgrade)", i.name, i.version, i.release, a.version, a.release)),
                Ordering::Equal => {}
            }
        }
        for a in self.available.values() {
            if self.installed.contains_key(&a.name) {
                continue;
            }
            if a.supersedes.iter().any(|s| self.installed.get(s).is_some_and(|i| !i.superseded)) {
                targets.push(a.name.clone());
            }
        }
        (targets, held)
    }
}

/// Installed packages (not in `removing`) that need one of `removing`: (dependent, dependency).
pub fn dependents(installed: &BTreeMap<String, Installed>, removing: &BTreeSet<String>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in installed.values().filter(|p| !removing.contains(&p.name)) {
        for d in p.depends.iter().filter(|d| removing.contains(*d)) {
            out.push((p.name.clone(), d.clone()));
        }
    }
    out
}

/// `names` plus, transitively, everything installed that depends on them, ordered so that a
/// dependent is removed before what it depends on.
pub fn cascade(installed: &BTreeMap<String, Installed>, names: &[String]) -> Vec<String> {
    let mut set: BTreeSet<String> = names.iter().cloned().collect();
    loop {
        let more: Vec<String> = dependents(installed, &set).into_iter().map(|(p, _)| p).collect();
        if more.is_empty() {
            break;
        }
        set.extend(more);
    }
    // Dependents first: repeatedly take the names nothing left in the set depends on.
    let mut out = Vec::new();
    let mut left = set;
    while !left.is_empty() {
        let needed: BTreeSet<&String> = left.iter().filter_map(|n| installed.get(n)).flat_map(|p| p.depends.iter()).filter(|d| left.contains(*d)).collect();
        let mut free: Vec<String> = left.iter().filter(|n| !needed.contains(n)).cloned().collect();
        if free.is_empty() {
            free = left.iter().cloned().collect(); // an installed cycle: remove together
        }
        for f in &free {
            left.remove(f);
        }
        out.extend(free);
    }
    out
}

/// Queue members whose dependencies are neither installed nor earlier/elsewhere in the queue:
/// (package, missing dependency). `queue` is (name, depends, supersedes).
pub fn unmet(installed: &BTreeMap<String, Installed>, queue: &[(String, Vec<String>, Vec<String>)]) -> Vec<(String, String)> {
    let provided: BTreeSet<&str> = queue.iter().flat_map(|(n, _, s)| std::iter::once(n.as_str()).chain(s.iter().map(String::as_str))).collect();
    let mut out = Vec::new();
    for (n, deps, _) in queue {
        for d in deps {
            if !installed.contains_key(d) && !provided.contains(d.as_str()) {
                out.push((n.clone(), d.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn av(name: &str, v: &str, deps: &[&str], sup: &[&str], pos: i64) -> Available {
        Available { name: name.into(), version: v.into(), release: 1, depends: deps.iter().map(|s| s.to_string()).collect(), supersedes: sup.iter().map(|s| s.to_string()).collect(), position: pos }
    }
    fn names(q: &[Available]) -> Vec<&str> {
        q.iter().map(|a| a.name.as_str()).collect()
    }
    fn uni(rows: &[Available]) -> Universe {
        Universe { installed: BTreeMap::new(), available: choose(rows) }
    }

    #[test]
    fn chain_diamond_cycle_missing() {
        let u = uni(&[av("a", "1", &["b", "c"], &[], 0), av("b", "1", &["d"], &[], 0), av("c", "1", &["d"], &[], 0), av("d", "1", &[], &[], 0)]);
        assert_eq!(names(&u.resolve(&["a".into()]).unwrap()), ["d", "b", "c", "a"]);
        let u = uni(&[av("x", "1", &["y"], &[], 0), av("y", "1", &["x"], &[], 0)]);
        assert_eq!(u.resolve(&["x".into()]).unwrap_err(), ResolveError::Cycle(vec!["x".into(), "y".into(), "x".into()]));
        let u = uni(&[av("x", "1", &["y"], &[], 0), av("y", "1", &["z"], &[], 0)]);
        let e = u.resolve(&["x".into()]).unwrap_err();
        assert_eq!(e.to_string(), "z is not installed and not in any synced repository (needed by x -> y -> z)");
    }

    #[test]
    fn first_repository_wins_and_supersede_order() {
        let u = uni(&[av("p", "2", &[], &[], 1), av("p", "1", &[], &[], 0)]);
        assert_eq!(u.available["p"].version, "1");
        let u = uni(&[av("new", "1", &[], &["old"], 0), av("old", "1", &[], &[], 0)]);
        assert_eq!(names(&u.resolve(&["new".into(), "old".into()]).unwrap()), ["old", "new"]);
    }
}
