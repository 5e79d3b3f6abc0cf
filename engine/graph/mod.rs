//! Drawings of the policy for people who would rather look than read: a small graph model
//! (nodes with multi-line labels, clusters, edges with a style) and its two text forms,
//! Graphviz DOT and Mermaid (which GitHub renders in Markdown). The views that fill it
//! (tiers, inference edges, phases) are in [`views`].
//!
//! Every label comes from data or rule files, so it is made visible first (`visible`:
//! control, bidi and invisible characters written out) and then escaped for the format:
//! a package named `a"];x-->y` is one node with that label, never a line of the drawing.

pub mod views;

use std::fmt::Write as _;

use crate::visible::visible;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Box,
    Rounded,
    /// A checkpoint phase: a double border (DOT), a subroutine box (Mermaid).
    Double,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeStyle {
    Solid,
    Dashed,
    /// The edge that decided (the consumer that placed a package).
    Bold,
}

#[derive(Debug, Clone)]
pub struct Node {
    /// Lines of the label, as plain text (escaped when rendered).
    pub label: Vec<String>,
    pub shape: Shape,
    /// A dashed border (an optional phase, the `unclear` pseudo-tier).
    pub dashed: bool,
}

#[derive(Debug, Clone)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub label: Option<String>,
    pub style: EdgeStyle,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub label: String,
    pub nodes: Vec<usize>,
}

/// A directed graph to draw. Nodes are referred to by index; output ids are generated
/// (`n0`, `n1`, ...), so no name ever has to be an identifier.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Left to right (else top to bottom).
    pub left_to_right: bool,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub clusters: Vec<Cluster>,
    /// Groups of nodes drawn side by side (peer tiers); DOT only, Mermaid has no ranks.
    pub same_rank: Vec<Vec<usize>>,
}

impl Graph {
    pub fn node(&mut self, label: Vec<String>, shape: Shape) -> usize {
        self.nodes.push(Node { label, shape, dashed: false });
        self.nodes.len() - 1
    }
    pub fn edge(&mut self, from: usize, to: usize, label: Option<String>, style: EdgeStyle) {
        self.edges.push(Edge { from, to, label, style });
    }
}

/// A DOT double-quoted string: backslash and quote escaped, a newline a `\n` line break.
fn dot_str(lines: &[String]) -> String {
    let mut out = String::from("\"");
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str("\\n");
        }
        for c in visible(line).chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                _ => out.push(c),
            }
        }
    }
    out.push('"');
    out
}

/// The graph in Graphviz's DOT language.
pub fn dot(g: &Graph) -> String {
    let mut out = String::from("digraph igos {\n");
    let _ = writeln!(out, "  rankdir={};", if g.left_to_right { "LR" } else { "TB" });
    out.push_str("  node [shape=box, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\"];\n");
    let node_line = |i: usize, n: &Node| {
        let mut attrs = vec![format!("label={}", dot_str(&n.label))];
        match n.shape {
            Shape::Box => {}
            Shape::Rounded => attrs.push("style=rounded".into()),
            Shape::Double => attrs.push("peripheries=2".into()),
        }
        if n.dashed {
            attrs.push(if n.shape == Shape::Rounded { "style=\"rounded,dashed\"".into() } else { "style=dashed".into() });
            attrs.retain(|a| a != "style=rounded");
        }
        format!("n{i} [{}];\n", attrs.join(", "))
    };
    let mut clustered = vec![false; g.nodes.len()];
    for (ci, c) in g.clusters.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{ci} {{\n    label={};", dot_str(std::slice::from_ref(&c.label)));
        for &n in &c.nodes {
            clustered[n] = true;
            out.push_str("    ");
            out.push_str(&node_line(n, &g.nodes[n]));
        }
        out.push_str("  }\n");
    }
    for (i, n) in g.nodes.iter().enumerate() {
        if !clustered[i] {
            out.push_str("  ");
            out.push_str(&node_line(i, n));
        }
    }
    for rank in &g.same_rank {
        let ids: Vec<String> = rank.iter().map(|n| format!("n{n}")).collect();
        let _ = writeln!(out, "  {{ rank=same; {}; }}", ids.join("; "));
    }
    for e in &g.edges {
        let mut attrs = vec![];
        if let Some(l) = &e.label {
            attrs.push(format!("label={}", dot_str(std::slice::from_ref(l))));
        }
        match e.style {
            EdgeStyle::Solid => {}
            EdgeStyle::Dashed => attrs.push("style=dashed".into()),
            EdgeStyle::Bold => attrs.push("style=bold".into()),
        }
        let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
        let _ = writeln!(out, "  n{} -> n{}{attrs};", e.from, e.to);
    }
    out.push_str("}\n");
    out
}

/// Text inside a Mermaid double-quoted label. Mermaid has no backslash escapes: a quote
/// is the entity `#quot;`, and `#` (which starts an entity), `<` `>` `&` (HTML labels),
/// `` ` `` (a Markdown string), `|` (ends an edge label), `%` (comments), `;` (ends a
/// statement) and brackets and braces are written as numeric entities too, so no name can
/// close the label or the node.
fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in visible(text).chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' | '<' | '>' | '&' | '`' | '|' | '[' | ']' | '{' | '}' | '(' | ')' | ';' | '%' => {
                let _ = write!(out, "#{};", c as u32);
            }
            _ => out.push(c),
        }
    }
    out
}

fn mermaid_label(lines: &[String]) -> String {
    let parts: Vec<String> = lines.iter().map(|l| mermaid_text(l)).collect();
    format!("\"{}\"", parts.join("<br/>"))
}

/// The graph as a Mermaid flowchart (paste it in a ```` ```mermaid ```` block).
pub fn mermaid(g: &Graph) -> String {
    let mut out = format!("flowchart {}\n", if g.left_to_right { "LR" } else { "TB" });
    let node_line = |i: usize, n: &Node| {
        let label = mermaid_label(&n.label);
        match n.shape {
            Shape::Box => format!("n{i}[{label}]\n"),
            Shape::Rounded => format!("n{i}({label})\n"),
            Shape::Double => format!("n{i}[[{label}]]\n"),
        }
    };
    let mut clustered = vec![false; g.nodes.len()];
    for (ci, c) in g.clusters.iter().enumerate() {
        let _ = writeln!(out, "  subgraph c{ci}[{}]", mermaid_label(std::slice::from_ref(&c.label)));
        for &n in &c.nodes {
            clustered[n] = true;
            out.push_str("    ");
            out.push_str(&node_line(n, &g.nodes[n]));
        }
        out.push_str("  end\n");
    }
    for (i, n) in g.nodes.iter().enumerate() {
        if !clustered[i] {
            out.push_str("  ");
            out.push_str(&node_line(i, n));
        }
    }
    for e in &g.edges {
        let arrow = match e.style {
            EdgeStyle::Solid => "-->",
            EdgeStyle::Dashed => "-.->",
            EdgeStyle::Bold => "==>",
        };
        match &e.label {
            Some(l) => {
                let _ = writeln!(out, "  n{} {arrow}|{}| n{}", e.from, mermaid_label(std::slice::from_ref(l)), e.to);
            }
            None => {
                let _ = writeln!(out, "  n{} {arrow} n{}", e.from, e.to);
            }
        }
    }
    let dashed: Vec<String> = g.nodes.iter().enumerate().filter(|(_, n)| n.dashed).map(|(i, _)| format!("n{i}")).collect();
    if !dashed.is_empty() {
        out.push_str("  classDef dashed stroke-dasharray: 5 5\n");
        let _ = writeln!(out, "  class {} dashed", dashed.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile() -> Graph {
        let mut g = Graph::default();
        let a = g.node(vec!["a\"]; n9-->n9 %% x".into(), "#quot; `md` <b>|\\\u{1b}[31m\u{202e}".into()], Shape::Box);
        let b = g.node(vec!["end".into()], Shape::Rounded);
        g.edge(a, b, Some("x|y\"z".into()), EdgeStyle::Bold);
        g.clusters.push(Cluster { label: "c\"}".into(), nodes: vec![b] });
        g
    }

    #[test]
    fn mermaid_labels_cannot_close_their_node_or_edge() {
        let m = mermaid(&hostile());
        // Every label is one quoted string without a raw quote, bracket, pipe or control.
        for line in m.lines().skip(1) {
            let quotes = line.matches('"').count();
            assert!(quotes % 2 == 0, "{line}");
            for (i, part) in line.split('"').enumerate() {
                if i % 2 == 1 {
                    assert!(!part.contains(['[', ']', '|', '`', '<', '>', '{', '}', '(', ')']) || part.contains("<br/>"), "{part}");
                    assert!(!part.chars().any(crate::visible::is_unsafe), "{part:?}");
                }
            }
        }
        assert!(m.contains("n0[\"a#quot;#93;#59; n9--#62;n9 #37;#37; x<br/>#35;quot#59; #96;md#96; #60;b#62;#124;\\\\x1b#91;31mU+202E\"]"), "{m}");
        assert!(m.contains("n0 ==>|\"x#124;y#quot;z\"| n1"), "{m}");
    }

    #[test]
    fn dot_strings_escape_quotes_and_backslashes() {
        let d = dot(&hostile());
        assert!(d.contains("n0 [label=\"a\\\"]; n9-->n9 %% x\\n#quot; `md` <b>|\\\\\\\\x1b[31mU+202E\"];"), "{d}");
        assert!(d.contains("n0 -> n1 [label=\"x|y\\\"z\", style=bold];"), "{d}");
    }
}
