//! The three drawings of `igos graph`:
//!
//! - `tiers`: the tier order, and each classification's layers in order (first match wins),
//!   each with its set and how many packages of the tree it places, pointing at its tier;
//! - `deps`: the inference edges that placed packages (a consumer's build or host dependency
//!   gives the dependency its tier), for the whole tree or around one package;
//! - `phases`: the phase graph, with checkpoints, optional phases and the builders each
//!   phase runs.

use std::collections::BTreeMap;

use super::{Cluster, EdgeStyle, Graph, Shape};
use crate::eval::classify::{Classes, Why};
use crate::eval::run::Engine;
use crate::lang::compile::{CLayer, Classification, Policy};
use crate::tree::{DepKind, Tree};

fn kind_name(k: DepKind) -> &'static str {
    match k {
        DepKind::Build => "build",
        DepKind::Host => "host",
        DepKind::Runtime => "runtime",
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The layer of `cl` that gave a package its class.
fn layer_of(cl: &Classification, why: &Why) -> Option<usize> {
    cl.layers.iter().position(|l| match (l, why) {
        (CLayer::Dir { span, .. }, Why::Dir(s)) | (CLayer::Else { span, .. }, Why::Fallback(s)) => span == s,
        (CLayer::InSet { set, .. }, Why::Listed { set: s, .. }) => set == s,
        (CLayer::Infer { .. }, Why::Consumer { .. }) => true,
        _ => false,
    })
}

/// The tier order and the layers of every classification, with how many packages of the
/// engine's tree each layer places.
pub fn tiers(engine: &Engine) -> Graph {
    let policy = engine.policy;
    let mut g = Graph { left_to_right: true, ..Graph::default() };
    let tiers = &policy.tiers;
    let tier_nodes: Vec<usize> = tiers.names.iter().map(|t| g.node(vec![t.clone()], Shape::Rounded)).collect();
    let groups = tiers.group.iter().copied().max().map_or(0, |m| m as usize + 1);
    for grp in 0..groups.saturating_sub(1) {
        let here: Vec<usize> = (0..tier_nodes.len()).filter(|&i| tiers.group[i] as usize == grp).collect();
        let next: Vec<usize> = (0..tier_nodes.len()).filter(|&i| tiers.group[i] as usize == grp + 1).collect();
        for &a in &here {
            for &b in &next {
                g.edge(tier_nodes[a], tier_nodes[b], None, EdgeStyle::Solid);
            }
        }
    }
    for grp in 0..groups {
        let peers: Vec<usize> = (0..tier_nodes.len()).filter(|&i| tiers.group[i] as usize == grp).map(|i| tier_nodes[i]).collect();
        if peers.len() > 1 {
            g.same_rank.push(peers);
        }
    }
    let mut unclear = None;
    let mut tier_cluster = tier_nodes.clone();
    let mut layer_clusters = vec![];
    for (ci, cl) in policy.classifications.iter().enumerate() {
        let classes = engine.classes.get(ci);
        let mut placed = vec![0usize; cl.layers.len()];
        let mut inferred: BTreeMap<Option<u16>, usize> = BTreeMap::new();
        if let Some(c) = classes {
            for (p, why) in c.why.iter().enumerate() {
                if let Some(l) = layer_of(cl, why) {
                    placed[l] += 1;
                    if matches!(why, Why::Consumer { .. }) {
                        *inferred.entry(c.tier[p]).or_default() += 1;
                    }
                }
            }
        }
        let mut nodes = vec![];
        for (li, layer) in cl.layers.iter().enumerate() {
            let mut label = vec![match layer {
                CLayer::Dir { dir, .. } => format!("{}. dir is {dir}", li + 1),
                CLayer::InSet { set, .. } => format!("{}. name in {}", li + 1, policy.sets[*set].name),
                CLayer::Infer { kinds, .. } => format!("{}. infer earliest consumer via {}", li + 1, kinds.join(", ")),
                CLayer::Else { tier, .. } => format!("{}. else {}", li + 1, tiers.name(*tier)),
            }];
            if let CLayer::InSet { set, .. } = layer {
                let s = &policy.sets[*set];
                let entries = engine.sets.get(*set).map_or(s.exact.len(), |b| b.items.len()) + s.globs.len();
                let from = s.from_builder.and_then(|b| policy.builders.get(b)).map(|b| format!(" (builder {}'s list)", b.name)).unwrap_or_default();
                label.push(format!("{}{from}", count(entries, "entry", "entries")));
            }
            label.push(format!("places {}", count(placed[li], "package", "packages")));
            let n = g.node(label, Shape::Box);
            nodes.push(n);
            let target = match layer {
                CLayer::Dir { tier, .. } | CLayer::InSet { tier, .. } => Some(Some(*tier)),
                CLayer::Else { tier, .. } => Some(*tier),
                CLayer::Infer { .. } => None,
            };
            match target {
                Some(Some(t)) => g.edge(n, tier_nodes[t as usize], None, EdgeStyle::Solid),
                Some(None) => {
                    let u = *unclear.get_or_insert_with(|| {
                        let u = g.node(vec!["unclear".into()], Shape::Rounded);
                        g.nodes[u].dashed = true;
                        u
                    });
                    g.edge(n, u, None, EdgeStyle::Solid);
                }
                // Inference places into the tiers of the consumers: one dashed edge per tier.
                None => {
                    for (t, placed_there) in &inferred {
                        if let Some(t) = t {
                            g.edge(n, tier_nodes[*t as usize], Some(count(*placed_there, "package", "packages")), EdgeStyle::Dashed);
                        }
                    }
                }
            }
        }
        layer_clusters.push(Cluster { label: format!("classify {}: the first matching layer wins", cl.name), nodes });
    }
    if let Some(u) = unclear {
        tier_cluster.push(u);
    }
    g.clusters.push(Cluster { label: "tiers: each builds with its own or an earlier tier".into(), nodes: tier_cluster });
    g.clusters.extend(layer_clusters);
    g
}

/// Why a package has its class, in a few words.
fn reason(policy: &Policy, tree: &Tree, why: &Why) -> String {
    match why {
        Why::Dir(_) => "dir".into(),
        Why::Listed { set, .. } => format!("set {}", policy.sets[*set].name),
        Why::Consumer { consumer, .. } => format!("via {}", tree.packages[*consumer as usize].name),
        Why::Fallback(_) => "else".into(),
        Why::Nothing => "no layer".into(),
    }
}

/// The dependency kind of the declaration that placed a package.
fn placing_kind(tree: &Tree, consumer: usize, dep: crate::source::Span) -> Option<&'static str> {
    tree.packages.get(consumer)?.deps.iter().find(|d| d.span == dep).map(|d| kind_name(d.kind))
}

/// Nodes for packages, made once each and clustered by natural tier.
struct PackageNodes<'a> {
    policy: &'a Policy,
    tree: &'a Tree,
    classes: &'a Classes,
    of: BTreeMap<usize, usize>,
}

impl PackageNodes<'_> {
    fn get(&mut self, g: &mut Graph, p: usize) -> usize {
        if let Some(&n) = self.of.get(&p) {
            return n;
        }
        let pkg = &self.tree.packages[p];
        let why = &self.classes.why[p];
        let n = g.node(vec![pkg.name.clone(), reason(self.policy, self.tree, why)], Shape::Box);
        self.of.insert(p, n);
        n
    }

    /// One cluster per natural tier, in tier order (`unclear` last).
    fn cluster(self, g: &mut Graph) {
        let mut by_tier: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (&p, &n) in &self.of {
            let t = self.classes.tier[p].map_or(u32::MAX, u32::from);
            by_tier.entry(t).or_default().push(n);
        }
        for (t, mut nodes) in by_tier {
            nodes.sort_unstable();
            let tier = if t == u32::MAX { "unclear" } else { self.policy.tiers.name(Some(t as u16)) };
            g.clusters.push(Cluster { label: format!("natural tier {tier}"), nodes });
        }
    }
}

/// The inference edges of the first classification: for every package inference placed,
/// an edge from the consumer that gave it its tier. With `package`, that package, its
/// build/host consumers (the one that decided in bold), the chain of consumers that placed
/// the decider, and the packages it places itself.
pub fn deps(engine: &Engine, tree: &Tree, package: Option<usize>) -> Graph {
    let policy = engine.policy;
    let mut g = Graph { left_to_right: false, ..Graph::default() };
    let (Some(cl), Some(classes)) = (policy.classifications.first(), engine.classes.first()) else { return g };
    let mut nodes = PackageNodes { policy, tree, classes, of: BTreeMap::new() };
    let placed_by = |p: usize| match classes.why.get(p) {
        Some(Why::Consumer { consumer, dep }) => Some((*consumer as usize, *dep)),
        _ => None,
    };
    match package {
        None => {
            for p in 0..tree.packages.len() {
                if let Some((c, dep)) = placed_by(p) {
                    let (cn, pn) = (nodes.get(&mut g, c), nodes.get(&mut g, p));
                    g.edge(cn, pn, placing_kind(tree, c, dep).map(str::to_string), EdgeStyle::Bold);
                }
            }
        }
        Some(p) => {
            let name = tree.packages[p].name.as_str();
            let kinds: Vec<&str> = cl.layers.iter().find_map(|l| match l {
                CLayer::Infer { kinds, .. } => Some(kinds.iter().map(String::as_str).collect()),
                _ => None,
            }).unwrap_or_default();
            let pn = nodes.get(&mut g, p);
            let decider = placed_by(p).map(|(c, _)| c);
            // Its consumers through the inferred dependency kinds, in tree order.
            for (c, pkg) in tree.packages.iter().enumerate() {
                if c == p {
                    continue;
                }
                for d in pkg.deps.iter().filter(|d| d.name == name && kinds.contains(&kind_name(d.kind))) {
                    let cn = nodes.get(&mut g, c);
                    let style = if Some(c) == decider && placed_by(p).is_some_and(|(_, span)| span == d.span) { EdgeStyle::Bold } else { EdgeStyle::Solid };
                    g.edge(cn, pn, Some(kind_name(d.kind).to_string()), style);
                }
            }
            // The chain above the decider, up to a package a layer placed.
            let mut at = decider;
            let mut seen = vec![p];
            while let Some(c) = at {
                if seen.contains(&c) {
                    break;
                }
                seen.push(c);
                match placed_by(c) {
                    Some((up, dep)) => {
                        let (un, cn) = (nodes.get(&mut g, up), nodes.get(&mut g, c));
                        g.edge(un, cn, placing_kind(tree, up, dep).map(str::to_string), EdgeStyle::Bold);
                        at = Some(up);
                    }
                    None => at = None,
                }
            }
            // What it places itself.
            for q in 0..tree.packages.len() {
                if let Some((c, dep)) = placed_by(q) {
                    if c == p {
                        let qn = nodes.get(&mut g, q);
                        g.edge(pn, qn, placing_kind(tree, p, dep).map(str::to_string), EdgeStyle::Bold);
                    }
                }
            }
        }
    }
    nodes.cluster(&mut g);
    g
}

/// The phase graph: phases in run order, an edge for each `after` (declared or implied by
/// the order of declaration), checkpoints drawn double, optional phases dashed.
pub fn phases(policy: &Policy) -> Graph {
    let (graph, _) = crate::phases::graph::PhaseGraph::build(policy);
    let mut g = Graph { left_to_right: false, ..Graph::default() };
    let mut node_of = vec![usize::MAX; policy.phases.len()];
    let mut order: Vec<usize> = graph.order().to_vec();
    // With a cycle the order is incomplete: every phase is still drawn.
    order.extend((0..policy.phases.len()).filter(|i| !graph.order().contains(i)));
    for (step, &i) in order.iter().enumerate() {
        let p = &policy.phases[i];
        let mut label = vec![format!("{}. {}", step + 1, p.name)];
        if let Some(t) = &p.title {
            label.push(t.clone());
        }
        match (&p.run, &p.builtin) {
            (_, Some(b)) => label.push(format!("builtin {b}")),
            (Some(r), None) => label.push(format!("run {r}")),
            (None, None) => {}
        }
        let builders: Vec<&str> = policy.builders.iter().filter(|b| b.phase.as_deref() == Some(p.name.as_str())).map(|b| b.name.as_str()).collect();
        if !builders.is_empty() {
            label.push(format!("builders: {}", builders.join(", ")));
        }
        let mut marks = vec![];
        if p.checkpoint {
            marks.push("checkpoint");
        }
        if p.optional {
            marks.push("optional (--publish)");
        }
        if !marks.is_empty() {
            label.push(marks.join(", "));
        }
        let n = g.node(label, if p.checkpoint { Shape::Double } else { Shape::Rounded });
        g.nodes[n].dashed = p.optional;
        node_of[i] = n;
    }
    for &i in &order {
        for (j, origin) in graph.predecessors(i) {
            let label = match origin {
                crate::phases::graph::EdgeOrigin::Declared(_) => Some("after".to_string()),
                crate::phases::graph::EdgeOrigin::Implicit(_) => None,
            };
            g.edge(node_of[j], node_of[i], label, EdgeStyle::Solid);
        }
    }
    g
}
