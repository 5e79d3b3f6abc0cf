//! Upstream names and our recipes: the one rule Gate 6 (the source scan), Gate 5 (the
//! build logs) and the reconciliation report share to decide which recipes provide a
//! name upstream writes, and which divergence record covers a package and a name.
//!
//! A name (a pkg-config module, a library, a header, a program, a cmake package, a name a
//! build log prints) is provided by:
//!   1. the recipe of that name (the same spelling first, else ignoring ASCII case);
//!   2. every recipe whose `alias <recipe> { ... }` admits it, as written or lowercased
//!      (declaration order; the first alias item that admits it is the `because`);
//!   3. failing both, and unless it is a header, the first recipe named like a normalised
//!      form of it: lowercase, without a version suffix (`-2.0`), without `+`, and without
//!      a `lib` prefix (at least three characters left) or else with one (`x` → `libx`).
//!
//! The data is the rules' (`rules/scan.pol`); this module is the mechanism.

use std::collections::HashMap;

use crate::eval::classify::BoundSet;
use crate::lang::compile::Policy;
use crate::lang::glob;
use crate::source::Span;
use crate::tree::Tree;

/// The recipes that provide one name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Recipe indices, each once: the named recipe first, then the aliases' in order.
    pub recipes: Vec<u32>,
    /// The alias item that admitted the name, when one did.
    pub because: Option<Span>,
}

/// A tree's recipes indexed by name, with the rules' aliases bound: built once per run.
pub struct Resolver<'a> {
    exact: HashMap<&'a str, u32>,
    folded: HashMap<String, u32>,
    aliases: Vec<(u32, BoundSet<'a>)>,
    ignore: Option<BoundSet<'a>>,
}

impl<'a> Resolver<'a> {
    pub fn new(tree: &'a Tree, policy: &'a Policy) -> Resolver<'a> {
        let mut exact = HashMap::with_capacity(tree.packages.len());
        let mut folded = HashMap::with_capacity(tree.packages.len());
        for (i, p) in tree.packages.iter().enumerate() {
            exact.entry(p.name.as_str()).or_insert(i as u32);
            folded.entry(p.name.to_ascii_lowercase()).or_insert(i as u32);
        }
        // An alias for a recipe the tree does not have provides nothing here (the lint
        // `alias-without-recipe` reports the misspelt ones).
        let aliases = policy
            .aliases
            .iter()
            .filter_map(|a| {
                let r = exact.get(a.target.as_str()).or_else(|| folded.get(&a.target.to_ascii_lowercase()))?;
                Some((*r, BoundSet::bind(&a.names, None)))
            })
            .collect();
        let ignore = policy.scan_ignore.as_ref().map(|s| BoundSet::bind(s, None));
        Resolver { exact, folded, aliases, ignore }
    }

    /// The name is in the rules' `scan ignore`: never a recipe (the toolchain, the C
    /// library, build-system builtins), whatever resolves.
    pub fn ignored(&self, name: &str) -> bool {
        self.ignore.as_ref().is_some_and(|s| s.find(name).is_some())
    }

    /// The recipe of this name (the same spelling first, else ignoring ASCII case).
    pub fn recipe_named(&self, name: &str) -> Option<u32> {
        self.exact.get(name).copied().or_else(|| self.folded.get(&name.to_ascii_lowercase()).copied())
    }

    /// The recipes that provide `name`. `header`: the name is a header (`zlib.h`), which
    /// only its own name or an alias resolves: no recipe is named like a header.
    pub fn resolve(&self, name: &str, header: bool) -> Resolution {
        let lower = name.to_ascii_lowercase();
        let mut out = Resolution::default();
        if let Some(r) = self.exact.get(name).or_else(|| self.folded.get(&lower)) {
            out.recipes.push(*r);
        }
        for (r, set) in &self.aliases {
            if let Some(item) = set.find(name).or_else(|| set.find(&lower)) {
                out.because.get_or_insert(item);
                if !out.recipes.contains(r) {
                    out.recipes.push(*r);
                }
            }
        }
        if out.recipes.is_empty() && !header {
            out.recipes.extend(normalised_forms(&lower).iter().find_map(|n| self.folded.get(n.as_str()).copied()));
        }
        out
    }

    /// The names a recipe (a dependency a build declared) goes by in a build log,
    /// lowercase: its name; without a stage suffix (-core, -passN, -bootstrap, -host) or a
    /// version suffix; with the `lib` prefix removed (at least three characters left) or
    /// added; and every plain name of its alias. A log name is that dependency when it
    /// equals one of them, whole.
    pub fn names_of(&self, dep: &str, policy: &Policy) -> Vec<String> {
        let lower = dep.to_ascii_lowercase();
        let base = strip_version(strip_stage(&lower)).to_string();
        let mut out = vec![lower.clone(), base.clone()];
        match base.strip_prefix("lib") {
            Some(rest) if rest.len() >= 3 => out.push(rest.to_string()),
            Some(_) => {}
            None if base.len() >= 3 => out.push(format!("lib{base}")),
            None => {}
        }
        if let Some(a) = policy.aliases.iter().find(|a| a.target == dep) {
            out.extend(a.names.exact.iter().map(|(n, _)| n.to_ascii_lowercase()));
        }
        out.sort();
        out.dedup();
        out
    }
}

/// The normalised forms of a lowercase name, in the order they are tried.
fn normalised_forms(lower: &str) -> Vec<String> {
    let base = strip_version(lower);
    let mut out = vec![base.to_string(), base.replace('+', "")];
    match base.strip_prefix("lib") {
        Some(rest) if rest.len() >= 3 => out.push(rest.to_string()),
        Some(_) => {}
        None => out.push(format!("lib{base}")),
    }
    out
}

/// Without a version suffix after a dash: `glib-2.0` → `glib`, `foo-3` → `foo`.
fn strip_version(n: &str) -> &str {
    match n.rfind('-') {
        Some(i) if i > 0 && n[i + 1..].starts_with(|c: char| c.is_ascii_digit()) && n[i + 1..].chars().all(|c| c.is_ascii_digit() || c == '.') => &n[..i],
        _ => n,
    }
}

/// Without a build-stage suffix: `-core`, `-bootstrap`, `-host`, `-passN`.
fn strip_stage(n: &str) -> &str {
    for suffix in ["-core", "-bootstrap", "-host"] {
        if let Some(b) = n.strip_suffix(suffix) {
            return b;
        }
    }
    if let Some(i) = n.rfind("-pass") {
        if n[i + 5..].chars().all(|c| c.is_ascii_digit()) {
            return &n[..i];
        }
    }
    n
}

/// A name lowercased without `-`, `_`, `.` and blanks: `X11 backend` → `x11backend`.
pub fn normalize(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, '-' | '_' | '.' | ' ' | '\t')).collect::<String>().to_ascii_lowercase()
}

/// The first divergence record (`divergence <package> drops <dependency>`) whose package
/// admits `package` and whose dependency admits one of `names` (the upstream name, the
/// dependency or recipes it is), each as written, lowercased or normalised.
pub fn divergence<'n>(policy: &Policy, package: &str, names: impl IntoIterator<Item = &'n str>) -> Option<u32> {
    let names: Vec<&str> = names.into_iter().collect();
    let forms: Vec<String> = names.iter().flat_map(|n| [n.to_ascii_lowercase(), normalize(n)]).collect();
    policy
        .divergences
        .iter()
        .position(|dv| {
            glob::matches(&dv.package, package)
                && (names.iter().any(|n| glob::matches(&dv.dependency, n)) || forms.iter().any(|n| glob::matches(&dv.dependency, n)))
        })
        .map(|i| i as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_forms_in_order() {
        assert_eq!(normalised_forms("glib-2.0"), ["glib", "glib", "libglib"]);
        assert_eq!(normalised_forms("libxml++-2.6"), ["libxml++", "libxml", "xml++"]);
        // Too short once stripped: `libz` is not `z`.
        assert_eq!(normalised_forms("libz"), ["libz", "libz"]);
        assert_eq!(strip_version("foo-bar"), "foo-bar");
        assert_eq!(strip_stage("gcc-pass2"), "gcc");
        assert_eq!(normalize("X11 back-end_1.0"), "x11backend10");
    }
}
