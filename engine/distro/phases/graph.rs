//! The phase graph: one node per declared phase, an edge `a -> b` when `b` runs after `a`.
//!
//! A phase runs after the phase declared just before it, unless it declares `after`, in
//! which case it runs after exactly those. The order is topological with ties broken by
//! declaration order, so the same rules always give the same plan.
//!
//! Checks, each a [`RuleError`] pointing into the rule files:
//! - `phase-cycle`: phases that (transitively) run after themselves, named in cycle order;
//! - `builder-phase`: a builder that names no phase;
//! - `tier-unbuilt`: a tier that no builder in a declared phase builds;
//! - `optional-before-required`: a required phase that runs after an optional one (it
//!   could never run without `--publish`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::lang::compile::Policy;
use crate::lang::error::RuleError;
use crate::source::Span;

/// The phases of a policy as a graph. Node `i` is `policy.phases[i]`.
#[derive(Debug)]
pub struct PhaseGraph {
    graph: DiGraph<usize, EdgeOrigin>,
    /// Topological order (declaration order breaks ties); complete only without cycles.
    order: Vec<usize>,
}

/// Why an edge exists, so a diagnostic can point at the text that made it.
#[derive(Debug, Clone, Copy)]
pub enum EdgeOrigin {
    /// `after <name>` at this span.
    Declared(Span),
    /// Implicit: the phase was declared right after its predecessor; the span is its name.
    Implicit(Span),
}

impl EdgeOrigin {
    pub fn span(self) -> Span {
        match self {
            EdgeOrigin::Declared(s) | EdgeOrigin::Implicit(s) => s,
        }
    }
}

impl PhaseGraph {
    /// Build the graph of `policy.phases` and check it. `after` names that are not phases
    /// were already reported by the compiler and are skipped here.
    pub fn build(policy: &Policy) -> (PhaseGraph, Vec<RuleError>) {
        let mut graph = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..policy.phases.len()).map(|i| graph.add_node(i)).collect();
        for (i, p) in policy.phases.iter().enumerate() {
            if p.after.is_empty() {
                if i > 0 {
                    graph.add_edge(nodes[i - 1], nodes[i], EdgeOrigin::Implicit(p.name_span));
                }
                continue;
            }
            for (a, span) in p.after.iter().zip(&p.after_spans) {
                if let Some(j) = policy.phase_index(a) {
                    graph.add_edge(nodes[j], nodes[i], EdgeOrigin::Declared(*span));
                }
            }
        }
        let order = topological(&graph);
        let g = PhaseGraph { graph, order };
        let mut errors = g.cycles(policy);
        errors.extend(builders(policy));
        errors.extend(g.optional_before_required(policy));
        errors.sort_by_key(|e| e.span);
        (g, errors)
    }

    /// Every phase in run order (optional phases included). Complete only when `build`
    /// reported no cycle.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The phases `i` runs after directly, in declaration order, with the edge's origin.
    pub fn predecessors(&self, i: usize) -> Vec<(usize, EdgeOrigin)> {
        let mut v: Vec<(usize, EdgeOrigin)> = self
            .graph
            .edges_directed(NodeIndex::new(i), Direction::Incoming)
            .map(|e| (self.graph[petgraph::visit::EdgeRef::source(&e)], *e.weight()))
            .collect();
        v.sort_by_key(|(j, _)| *j);
        v
    }

    fn successors(&self, i: usize) -> Vec<usize> {
        let mut v: Vec<usize> = self.graph.neighbors_directed(NodeIndex::new(i), Direction::Outgoing).map(|n| self.graph[n]).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn cycles(&self, policy: &Policy) -> Vec<RuleError> {
        let mut errors = vec![];
        for scc in tarjan_scc(&self.graph) {
            let members: Vec<usize> = scc.iter().map(|n| self.graph[*n]).collect();
            let start = *members.iter().min().expect("an SCC is never empty");
            let self_loop = self.successors(start).contains(&start);
            if members.len() < 2 && !self_loop {
                continue;
            }
            let cycle = self.cycle_through(start, &members);
            let names: Vec<&str> = cycle.iter().map(|&i| policy.phases[i].name.as_str()).collect();
            // The edge that closes the cycle at `start` carries the primary label.
            let last = cycle[cycle.len() - 2];
            let closing = self.edge_origin(last, start);
            let mut e = RuleError::new(
                "phase-cycle",
                format!("the phases form a cycle: {}", names.join(" → ")),
                closing.span(),
            )
            .with_label(format!("`{}` runs after `{}`", policy.phases[start].name, policy.phases[last].name))
            .with_help("a phase cannot run after itself: remove one `after` of the cycle");
            for w in cycle.windows(2).take(cycle.len() - 2) {
                let (from, to) = (w[0], w[1]);
                let origin = self.edge_origin(from, to);
                let how = match origin {
                    EdgeOrigin::Declared(_) => "",
                    EdgeOrigin::Implicit(_) => " (declared right after it)",
                };
                e = e.with_related(
                    origin.span(),
                    format!("`{}` runs after `{}`{how}", policy.phases[to].name, policy.phases[from].name),
                );
            }
            errors.push(e);
        }
        errors
    }

    /// A shortest cycle from `start` back to itself inside `members` (BFS, neighbours in
    /// declaration order): `[start, ..., start]`.
    fn cycle_through(&self, start: usize, members: &[usize]) -> Vec<usize> {
        let n = self.graph.node_count();
        let mut parent: Vec<Option<usize>> = vec![None; n];
        let mut queue = VecDeque::from([start]);
        let mut seen = vec![false; n];
        while let Some(u) = queue.pop_front() {
            for v in self.successors(u) {
                if !members.contains(&v) {
                    continue;
                }
                if v == start {
                    let mut path = vec![u];
                    let mut cur = u;
                    while cur != start {
                        cur = parent[cur].expect("every reached phase has a BFS parent");
                        path.push(cur);
                    }
                    path.reverse();
                    path.push(start);
                    return path;
                }
                if !seen[v] {
                    seen[v] = true;
                    parent[v] = Some(u);
                    queue.push_back(v);
                }
            }
        }
        vec![start, start]
    }

    fn edge_origin(&self, from: usize, to: usize) -> EdgeOrigin {
        self.predecessors(to)
            .into_iter()
            .find(|(j, _)| *j == from)
            .map(|(_, o)| o)
            .expect("the edge exists on the cycle")
    }

    fn optional_before_required(&self, policy: &Policy) -> Vec<RuleError> {
        let mut errors = vec![];
        for (i, p) in policy.phases.iter().enumerate() {
            if p.optional {
                continue;
            }
            for (j, origin) in self.predecessors(i) {
                let o = &policy.phases[j];
                if !o.optional || j == i {
                    continue;
                }
                let label = match origin {
                    EdgeOrigin::Declared(_) => format!("runs after optional `{}`", o.name),
                    EdgeOrigin::Implicit(_) => format!("declared after optional `{}`, so it runs after it", o.name),
                };
                errors.push(
                    RuleError::new(
                        "optional-before-required",
                        format!("required phase `{}` runs after optional phase `{}`", p.name, o.name),
                        origin.span(),
                    )
                    .with_label(label)
                    .with_related(o.name_span, format!("`{}` is optional: it runs only with --publish", o.name))
                    .with_help(format!(
                        "declare optional phases last, or give `{}` an `after` that names required phases",
                        p.name
                    )),
                );
            }
        }
        errors
    }
}

/// Kahn's algorithm; among the phases ready to run, the earliest declared goes first.
fn topological(graph: &DiGraph<usize, EdgeOrigin>) -> Vec<usize> {
    let mut indegree: Vec<usize> =
        graph.node_indices().map(|n| graph.neighbors_directed(n, Direction::Incoming).count()).collect();
    let mut ready: BinaryHeap<Reverse<usize>> =
        indegree.iter().enumerate().filter(|(_, d)| **d == 0).map(|(i, _)| Reverse(i)).collect();
    let mut order = Vec::with_capacity(indegree.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for n in graph.neighbors_directed(NodeIndex::new(i), Direction::Outgoing) {
            let j = graph[n];
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(Reverse(j));
            }
        }
    }
    order
}

/// Builders name their phase; every tier is built by a builder in a declared phase.
fn builders(policy: &Policy) -> Vec<RuleError> {
    let mut errors = vec![];
    for b in &policy.builders {
        if b.phase.is_none() {
            errors.push(
                RuleError::new("builder-phase", format!("builder `{}` names no phase", b.name), b.span)
                    .with_label("add `phase <name>`")
                    .with_help("a builder runs inside one build phase: name it so the plan knows when the tier is built"),
            );
        }
    }
    for (t, tier) in policy.tiers.names.iter().enumerate() {
        let in_phase = policy.builders.iter().any(|b| {
            b.tier.as_deref() == Some(tier.as_str()) && b.phase.as_deref().is_some_and(|p| policy.phase_index(p).is_some())
        });
        if in_phase || policy.phases.is_empty() {
            continue;
        }
        let mut e = RuleError::new("tier-unbuilt", format!("no build phase builds tier `{tier}`"), policy.tiers.spans[t])
            .with_label("no builder of this tier sits in a declared phase")
            .with_help(format!("declare `builder <name> {{ phase <phase> tier {tier} ... }}` (rules/builders.pol)"));
        for b in policy.builders.iter().filter(|b| b.tier.as_deref() == Some(tier.as_str())) {
            e = e.with_related(b.span, format!("builder `{}` builds `{tier}` but names no declared phase", b.name));
        }
        errors.push(e);
    }
    errors
}
