//! Ordered classification (first matching layer wins) and consumer inference as a least
//! fixpoint: strongly connected components condensed, then one pass in topological order,
//! so the answer never depends on file or hash order.


use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::eval::domain::ClassifyInput;
use crate::fasthash::FastMap;
use crate::lang::compile::{CLayer, Classification, NameSet};
use crate::lang::glob;
use crate::source::Span;

/// A set with its items bound (builder lists resolved).
pub struct BoundSet<'a> {
    exact: FastMap<&'a str, Span>,
    globs: Vec<(&'a str, Span)>,
    excludes: Vec<(&'a str, Span)>,
    /// Exact items in written order (for the shadowed-entry advisory).
    pub items: Vec<(&'a str, Span)>,
}

impl<'a> BoundSet<'a> {
    pub fn bind(set: &'a NameSet, builder_items: Option<Vec<(&'a str, Span)>>) -> BoundSet<'a> {
        let mut items: Vec<(&'a str, Span)> = set.exact.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        items.extend(builder_items.unwrap_or_default());
        let mut exact = FastMap::with_capacity_and_hasher(items.len(), Default::default());
        for (n, s) in &items {
            exact.entry(*n).or_insert(*s);
        }
        BoundSet {
            exact,
            globs: set.globs.iter().map(|(n, s)| (n.as_str(), *s)).collect(),
            excludes: set.excludes.iter().map(|(n, s)| (n.as_str(), *s)).collect(),
            items,
        }
    }

    /// The item that admits `name`, unless an exclusion rejects it.
    pub fn find(&self, name: &str) -> Option<Span> {
        if self.excludes.iter().any(|(p, _)| glob::matches(p, name)) {
            return None;
        }
        if let Some(s) = self.exact.get(name) {
            return Some(*s);
        }
        self.globs.iter().find(|(p, _)| glob::matches(p, name)).map(|(_, s)| *s)
    }
}

/// Why a package got its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// The directory rule at this layer.
    Dir(Span),
    /// Set `set`'s item at this position matched.
    Listed { set: usize, item: Span },
    /// Inferred from this consumer, whose dependency entry is at `dep`.
    Consumer { consumer: u32, dep: Span },
    /// The `else` layer.
    Fallback(Span),
    /// Nothing matched and there is no `else`.
    Nothing,
}

/// The class of every package (None: unclear) with its reason.
pub struct Classes {
    pub tier: Vec<Option<u16>>,
    pub why: Vec<Why>,
}

impl Classes {
    /// The rule position that decided, for a finding's second location.
    pub fn because(&self, pkg: usize) -> Option<Span> {
        match self.why.get(pkg)? {
            Why::Dir(s) | Why::Fallback(s) => Some(*s),
            Why::Listed { item, .. } => Some(*item),
            Why::Consumer { dep, .. } => Some(*dep),
            Why::Nothing => None,
        }
    }
}

pub fn classify(cl: &Classification, sets: &[BoundSet], input: &ClassifyInput) -> Classes {
    let n = input.packages.len();
    let mut tier: Vec<Option<u16>> = vec![None; n];
    let mut why: Vec<Why> = vec![Why::Nothing; n];
    let infer_at = cl.layers.iter().position(|l| matches!(l, CLayer::Infer { .. }));
    let (pre, post) = cl.layers.split_at(infer_at.unwrap_or(cl.layers.len()));
    let mut fixed = vec![false; n];
    // Each package on its own (set lookups, glob matches): shared out over the cores on a
    // large tree, in place.
    let mut decided: Vec<(Option<u16>, Why, bool)> = vec![(None, Why::Nothing, false); n];
    let workers = crate::parallel::workers(n, 4_096, crate::parallel::cores());
    crate::parallel::for_each(&mut decided, workers, |i, slot| {
        let (name, dir) = input.packages[i];
        if let Some((t, w)) = first_match(pre, sets, name, dir) {
            *slot = (t, w, true);
        }
    });
    for (i, (t, w, f)) in decided.into_iter().enumerate() {
        if f {
            tier[i] = t;
            why[i] = w;
            fixed[i] = true;
        }
    }
    if let Some(CLayer::Infer { kinds, .. }) = infer_at.map(|i| &cl.layers[i]) {
        infer(input, kinds, &fixed, &mut tier, &mut why);
    }
    for (i, (name, dir)) in input.packages.iter().enumerate() {
        if !fixed[i] && why[i] == Why::Nothing {
            if let Some((t, w)) = first_match(post.get(1..).unwrap_or(&[]), sets, name, dir) {
                tier[i] = t;
                why[i] = w;
            }
        }
    }
    Classes { tier, why }
}

fn first_match(layers: &[CLayer], sets: &[BoundSet], name: &str, dir: &str) -> Option<(Option<u16>, Why)> {
    for l in layers {
        match l {
            CLayer::Dir { tier, dir: d, span } if d == dir => return Some((Some(*tier), Why::Dir(*span))),
            CLayer::InSet { tier, set, .. } => {
                if let Some(item) = sets.get(*set).and_then(|s| s.find(name)) {
                    return Some((Some(*tier), Why::Listed { set: *set, item }));
                }
            }
            CLayer::Else { tier, span } => return Some((*tier, Why::Fallback(*span))),
            _ => {}
        }
    }
    None
}

/// value(p) = the earliest tier among p's consumers, over the min-lattice, least fixpoint.
fn infer(
    input: &ClassifyInput,
    kinds: &[String],
    fixed: &[bool],
    tier: &mut [Option<u16>],
    why: &mut [Why],
) {
    let n = input.packages.len();
    // The written tier order ranks peers too (extra before ai), so "earliest" is total.
    let rank = |t: Option<u16>| t.map(|t| t as u32).unwrap_or(u32::MAX);
    let edges: Vec<&(u32, u32, &str, Span)> =
        input.edges.iter().filter(|e| e.0 != e.1 && kinds.iter().any(|k| k == e.2)).collect();
    let mut consumers: Vec<Vec<usize>> = vec![vec![]; n];
    for (i, e) in edges.iter().enumerate() {
        consumers[e.1 as usize].push(i);
    }
    // Graph of the packages to infer, edges consumer -> dependency.
    let mut g: DiGraph<u32, ()> = DiGraph::new();
    let mut node: Vec<Option<NodeIndex>> = vec![None; n];
    for i in 0..n {
        if !fixed[i] {
            node[i] = Some(g.add_node(i as u32));
        }
    }
    for e in &edges {
        if let (Some(a), Some(b)) = (node[e.0 as usize], node[e.1 as usize]) {
            g.add_edge(a, b, ());
        }
    }
    // tarjan_scc yields components in reverse topological order: dependencies first.
    // Consumers must be settled first, so walk it backwards.
    let sccs = tarjan_scc(&g);
    let mut component = vec![usize::MAX; n];
    for (ci, comp) in sccs.iter().enumerate() {
        for &ni in comp {
            component[g[ni] as usize] = ci;
        }
    }
    let mut value: Vec<Option<u16>> = tier.to_vec();
    for (ci, comp) in sccs.iter().enumerate().rev() {
        let members: Vec<usize> = comp.iter().map(|&ni| g[ni] as usize).collect();
        let mut best: Option<u16> = None;
        for &p in &members {
            for &ei in &consumers[p] {
                let c = edges[ei].0 as usize;
                if component[c] == ci {
                    continue;
                }
                if rank(value[c]) < rank(best) {
                    best = value[c];
                }
            }
        }
        for &p in &members {
            value[p] = best;
        }
    }
    // Each inferred package names the direct consumer that gives its value (ties: by name).
    for p in 0..n {
        if fixed[p] || value[p].is_none() {
            continue;
        }
        let mut pick: Option<(u32, &str, usize)> = None;
        for &ei in &consumers[p] {
            let c = edges[ei].0 as usize;
            let key = (rank(value[c]), input.packages[c].0, ei);
            if value[c] == value[p] && pick.map(|k| (key.0, key.1) < (k.0, k.1)).unwrap_or(true) {
                pick = Some(key);
            }
        }
        if let Some((_, _, ei)) = pick {
            tier[p] = value[p];
            why[p] = Why::Consumer { consumer: edges[ei].0, dep: edges[ei].3 };
        }
    }
}

/// A list entry that can never be reached because an earlier layer already classifies the
/// same name for another tier: (classification, layer set, item, the earlier item).
pub struct Shadowed {
    pub name: String,
    pub item: Span,
    pub tier: u16,
    pub earlier: Span,
    pub earlier_tier: u16,
}

pub fn shadowed(cl: &Classification, sets: &[BoundSet]) -> Vec<Shadowed> {
    let mut out = vec![];
    let layers: Vec<(u16, usize)> = cl
        .layers
        .iter()
        .filter_map(|l| match l {
            CLayer::InSet { tier, set, .. } => Some((*tier, *set)),
            _ => None,
        })
        .collect();
    for (j, (tier_j, set_j)) in layers.iter().enumerate() {
        let Some(set) = sets.get(*set_j) else { continue };
        for (name, span) in &set.items {
            let earlier = layers[..j]
                .iter()
                .find_map(|(t, s)| sets.get(*s).and_then(|bs| bs.find(name)).map(|sp| (*t, sp)));
            if let Some((tier_i, sp)) = earlier {
                if tier_i != *tier_j {
                    out.push(Shadowed {
                        name: name.to_string(),
                        item: *span,
                        tier: *tier_j,
                        earlier: sp,
                        earlier_tier: tier_i,
                    });
                }
            }
        }
    }
    out
}
