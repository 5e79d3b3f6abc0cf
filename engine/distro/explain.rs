//! `igos explain`: why a package has its natural tier (the layer and entry that matched,
//! the consumer chain inference followed, or why nothing matched), and the facts behind
//! any one finding.

use std::fmt::Write as _;

use crate::eval::classify::Why;
use crate::eval::run::Engine;
use crate::lang::compile::{CLayer, Policy};
use crate::report::diagnostic::position;
use crate::source::SourceMap;
use crate::tree::{DepKind, Tree};

/// Explain the natural tier of `name` under every classification of the policy.
pub fn package(engine: &Engine, tree: &Tree, sources: &SourceMap, name: &str) -> Option<String> {
    let idx = tree.packages.iter().position(|p| p.name == name)?;
    let policy: &Policy = engine.policy;
    let p = &tree.packages[idx];
    let mut out = String::new();
    let declared = p.tier.as_deref().unwrap_or("(none)");
    let _ = writeln!(out, "{name}: declared tier {declared} ({})", position(sources, p.key_span("tier").unwrap_or_else(|| p.file_span())));
    for (ci, cl) in policy.classifications.iter().enumerate() {
        let Some(classes) = engine.classes.get(ci) else { continue };
        let mut at = idx;
        let mut seen = vec![];
        let _ = writeln!(out, "{}: {}", cl.name, policy.tiers.name(classes.tier[idx]));
        loop {
            let pkg = &tree.packages[at];
            let tier = policy.tiers.name(classes.tier[at]);
            match &classes.why[at] {
                Why::Dir(span) => {
                    let _ = writeln!(out, "  {} is {tier}: it lives in packages/{}/ ({})", pkg.name, pkg.dir_tier, position(sources, *span));
                }
                Why::Listed { set, item } => {
                    let layer = cl.layers.iter().position(|l| matches!(l, CLayer::InSet { set: s, .. } if s == set));
                    let _ = writeln!(
                        out,
                        "  {} is {tier}: listed in set `{}` (layer {} of {}), entry at {}",
                        pkg.name,
                        policy.sets[*set].name,
                        layer.map(|l| l + 1).unwrap_or(0),
                        cl.layers.len(),
                        position(sources, *item)
                    );
                }
                Why::Consumer { consumer, dep } => {
                    let c = &tree.packages[*consumer as usize];
                    let _ = writeln!(
                        out,
                        "  {} is {tier}: no layer lists it; its earliest build/host consumer is {} ({}), which declares it at {}",
                        pkg.name,
                        c.name,
                        policy.tiers.name(classes.tier[*consumer as usize]),
                        position(sources, *dep)
                    );
                    seen.push(at);
                    at = *consumer as usize;
                    if seen.contains(&at) {
                        break;
                    }
                    continue;
                }
                Why::Fallback(span) => {
                    let runtime: Vec<&str> = tree
                        .packages
                        .iter()
                        .filter(|c| c.deps.iter().any(|d| d.name == pkg.name && matches!(d.kind, DepKind::Runtime)))
                        .map(|c| c.name.as_str())
                        .collect();
                    let _ = writeln!(
                        out,
                        "  {} is {tier}: no layer lists it and no package names it as a build or host dependency ({})",
                        pkg.name,
                        position(sources, *span)
                    );
                    if !runtime.is_empty() {
                        let _ = writeln!(out, "  runtime consumers do not count for inference: {}", runtime.join(", "));
                    }
                }
                Why::Nothing => {
                    let _ = writeln!(out, "  {} matched no layer of {}", pkg.name, cl.name);
                }
            }
            break;
        }
    }
    Some(out)
}
