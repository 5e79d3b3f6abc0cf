//! `igos graph tiers|deps|phases`: snapshots on the embedded tree in both formats; the
//! Mermaid checked against the flowchart syntax it uses; names from data (quotes,
//! brackets, pipes, control and bidi characters) escaped in both formats; hostile
//! arguments are diagnostics with exit 2.

mod support;

use std::collections::HashSet;
use std::process::{Command, Output};

fn igos(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_igos")).current_dir(dir).args(args).arg("--color").arg("never").output().expect("igos runs")
}

fn stdout(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).expect("UTF-8")
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

/// A quoted Mermaid label: its text has no quote, and no character that would end the
/// node, the edge label or the statement.
fn check_label(label: &str, line: &str) -> Result<(), String> {
    let inner = label.strip_prefix('"').and_then(|l| l.strip_suffix('"')).ok_or(format!("label not quoted: {line}"))?;
    let text = inner.replace("<br/>", "\n");
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '#' {
            // `#` only starts an entity: `#quot;` or `#<digits>;`.
            let entity: String = chars.by_ref().take_while(|&c| c != ';').collect();
            let numeric = !entity.is_empty() && entity.chars().all(|c| c.is_ascii_digit());
            if entity != "quot" && !numeric {
                return Err(format!("`#{entity}` is not an entity: {line}"));
            }
        } else if matches!(c, '"' | '[' | ']' | '(' | ')' | '{' | '}' | '|' | '`' | '<' | '>' | ';' | '%') {
            return Err(format!("raw {c:?} in a label: {line}"));
        } else if c != '\n' && igos::visible::is_unsafe(c) {
            return Err(format!("an invisible or control character in a label: {line:?}"));
        }
    }
    Ok(())
}

/// The Mermaid flowchart subset igos writes, checked line by line: a header; subgraphs
/// with quoted titles, closed by `end`; nodes `nN["…"]`, `nN("…")`, `nN[["…"]]` defined
/// once; edges `nA -->|"…"| nB` (also `-.->`, `==>`) between defined nodes; class lines.
fn check_mermaid(text: &str) -> Result<(), String> {
    let mut lines = text.lines();
    match lines.next() {
        Some("flowchart LR" | "flowchart TB") => {}
        other => return Err(format!("header: {other:?}")),
    }
    let mut defined = HashSet::new();
    let mut used = vec![];
    let mut depth = 0;
    let id_ok = |id: &str| id.len() > 1 && id.starts_with('n') && id[1..].chars().all(|c| c.is_ascii_digit());
    for line in lines {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("subgraph ") {
            let (id, title) = rest.split_once('[').ok_or(format!("subgraph without a title: {line}"))?;
            if !(id.starts_with('c') && id[1..].chars().all(|c| c.is_ascii_digit())) {
                return Err(format!("subgraph id: {line}"));
            }
            check_label(title.strip_suffix(']').ok_or(format!("subgraph title: {line}"))?, line)?;
            depth += 1;
        } else if t == "end" {
            depth -= 1;
            if depth < 0 {
                return Err("`end` without a subgraph".into());
            }
        } else if t.starts_with("classDef ") {
        } else if let Some(rest) = t.strip_prefix("class ") {
            let (ids, _) = rest.split_once(' ').ok_or(format!("class line: {line}"))?;
            used.extend(ids.split(',').map(str::to_string));
        } else if let Some((from, rest)) = t.split_once(' ').filter(|(first, _)| id_ok(first)) {
            // An edge.
            let (arrow, rest) = rest.rsplit_once(' ').ok_or(format!("edge: {line}"))?;
            let arrow_ok = ["-->", "-.->", "==>"].iter().any(|a| arrow == *a || arrow.strip_prefix(a).is_some_and(|l| l.starts_with("|\"") && l.ends_with("\"|")));
            if !arrow_ok {
                return Err(format!("arrow: {line}"));
            }
            if let Some(l) = arrow.find('|').map(|i| &arrow[i + 1..arrow.len() - 1]) {
                check_label(l, line)?;
            }
            if !id_ok(from) || !id_ok(rest) {
                return Err(format!("edge ends: {line}"));
            }
            used.push(from.to_string());
            used.push(rest.to_string());
        } else {
            // A node.
            let open = t.find(['[', '(']).ok_or(format!("node: {line}"))?;
            let (id, shape) = t.split_at(open);
            let label = shape
                .strip_prefix("[[")
                .and_then(|s| s.strip_suffix("]]"))
                .or_else(|| shape.strip_prefix('[').and_then(|s| s.strip_suffix(']')))
                .or_else(|| shape.strip_prefix('(').and_then(|s| s.strip_suffix(')')))
                .ok_or(format!("node shape: {line}"))?;
            check_label(label, line)?;
            if !id_ok(id) || !defined.insert(id.to_string()) {
                return Err(format!("node id defined twice or malformed: {line}"));
            }
        }
    }
    if depth != 0 {
        return Err("unclosed subgraph".into());
    }
    if let Some(u) = used.iter().find(|u| !defined.contains(u.as_str())) {
        return Err(format!("`{u}` is used but not defined"));
    }
    Ok(())
}

#[test]
fn the_embedded_tree_drawn() {
    let dir = support::project_dir();
    for (view, args) in [
        ("tiers", vec!["graph", "tiers"]),
        ("deps", vec!["graph", "deps"]),
        ("deps-libevent", vec!["graph", "deps", "--package", "libevent"]),
        ("phases", vec!["graph", "phases"]),
    ] {
        let m = stdout(&igos(&dir, &args));
        check_mermaid(&m).unwrap_or_else(|e| panic!("{view}: {e}\n{m}"));
        snapshot(&format!("graph-{view}-mermaid"), &m);
        let mut dot_args = args.clone();
        dot_args.extend(["--format", "dot"]);
        let d = stdout(&igos(&dir, &dot_args));
        assert!(d.starts_with("digraph igos {\n") && d.ends_with("}\n"), "{d}");
        if view != "deps" {
            snapshot(&format!("graph-{view}-dot"), &d);
        }
    }
}

/// On the real tree: inih is placed by exiv2 (desktop), as `igos explain inih` says, and
/// xfsprogs, another consumer, is drawn but not bold.
#[test]
fn one_package_its_consumers_and_what_placed_it() {
    let Some(corpus) = support::corpus() else { return };
    let root = corpus.to_string_lossy().into_owned();
    let m = stdout(&igos(&support::project_dir(), &["graph", "deps", "--root", &root, "--package", "inih"]));
    check_mermaid(&m).unwrap_or_else(|e| panic!("{e}\n{m}"));
    assert!(m.contains("[\"inih<br/>via exiv2\"]") && m.contains("[\"exiv2<br/>set gui_substrate_desktop\"]"), "{m}");
    let ids = |name: &str| m.lines().find(|l| l.contains(&format!("[\"{name}<br/>"))).and_then(|l| l.trim().split('[').next()).map(str::to_string).expect(name);
    let (inih, exiv2, xfsprogs) = (ids("inih"), ids("exiv2"), ids("xfsprogs"));
    assert!(m.contains(&format!("{exiv2} ==>|\"build\"| {inih}")), "{m}");
    assert!(m.contains(&format!("{xfsprogs} -->|\"build\"| {inih}")), "{m}");
    // The whole tree: every inference edge, valid.
    let all = stdout(&igos(&support::project_dir(), &["graph", "deps", "--root", &root]));
    check_mermaid(&all).unwrap_or_else(|e| panic!("{e}"));
    assert!(all.matches(" ==>|").count() > 50, "{all}");
}

/// A package name from data can hold anything a YAML string can: it stays one node with
/// that name, written visibly, in both formats.
#[test]
fn hostile_names_are_escaped_in_both_formats() {
    let t = support::valid_tree("graph-hostile");
    let evil = "evil\\\"]; n0 --> n1 %% `x` |y| <b>#quot; \\e[31m\\u202Eend";
    let recipe = support::recipe("evil", "core", &[], &[]).replace("name: evil\n", &format!("name: \"{evil}\"\n"));
    t.write("packages/core/evil/package.yml", &recipe);
    // glib2 builds with it, so inference places it.
    let glib2 = support::recipe("glib2", "core", &["zlib", "evil"], &["xz"]).replace("- evil", &format!("- \"{evil}\""));
    t.write("packages/core/glib2/package.yml", &glib2);
    let shown = "evil\"]; n0 --> n1 %% `x` |y| <b>#quot; \\x1b[31mU+202Eend";
    let name = "evil\"]; n0 --> n1 %% `x` |y| <b>#quot; \u{1b}[31m\u{202e}end";
    let root = t.path().to_string_lossy().into_owned();
    let m = stdout(&igos(&support::project_dir(), &["graph", "deps", "--root", &root, "--package", name]));
    check_mermaid(&m).unwrap_or_else(|e| panic!("{e}\n{m}"));
    assert!(m.contains("evil#quot;#93;#59; n0 --#62; n1 #37;#37; #96;x#96; #124;y#124; #60;b#62;#35;quot#59; \\x1b#91;31mU+202Eend<br/>via glib2"), "{m}");
    let d = stdout(&igos(&support::project_dir(), &["graph", "deps", "--root", &root, "--package", name, "--format", "dot"]));
    assert!(!d.chars().any(|c| igos::visible::is_unsafe(c) && c != '\n'), "{d:?}");
    assert!(d.contains(&format!("label=\"{}\\nvia glib2\"", shown.replace('\\', "\\\\").replace('"', "\\\""))), "{d}");
    if let Ok(out) = Command::new("dot").arg("-Tsvg").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn() {
        use std::io::Write as _;
        let mut child = out;
        child.stdin.take().expect("stdin").write_all(d.as_bytes()).expect("write");
        let o = child.wait_with_output().expect("dot runs");
        assert!(o.status.success(), "Graphviz refused the DOT: {}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn bad_arguments_are_diagnostics() {
    let dir = support::project_dir();
    let o = igos(&dir, &["graph", "deps", "--package", "libevnet"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no package named `libevnet` in .") && err.contains("did you mean `libevent`?"), "{err}");
    let o = igos(&dir, &["graph", "deps", "--package", "\u{1b}[2J\u{202e}"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no package named `\\x1b[2JU+202E`") && !err.contains('\u{1b}'), "{err:?}");
    let o = igos(&dir, &["graph", "phases", "--package", "bat"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--package goes with `igos graph deps`"));
}

#[test]
fn svg_needs_graphviz_and_says_so() {
    let dir = support::project_dir();
    let empty = support::TempDir::new("graph-no-path");
    let o = Command::new(env!("CARGO_BIN_EXE_igos"))
        .current_dir(&dir)
        .env("PATH", empty.path())
        .args(["graph", "phases", "--format", "svg", "--color", "never"])
        .output()
        .expect("igos runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--format svg needs Graphviz's `dot` on PATH") && err.contains("apt install graphviz"), "{err}");
    if Command::new("dot").arg("-V").output().is_err() {
        eprintln!("skipped the SVG drawing: no Graphviz `dot` on this machine");
        return;
    }
    let svg = stdout(&igos(&dir, &["graph", "phases", "--format", "svg"]));
    assert!(svg.contains("<svg") && svg.contains("squashfs"), "{svg}");
}

/// mermaid's own parser (installed by .ci/run into target/mermaid-check) accepts every
/// drawing: the embedded tree's, the corpus's, and one with a hostile package name; and it
/// refuses a broken one (the check can fail).
#[test]
fn mermaid_itself_parses_every_drawing() {
    let project = support::project_dir();
    let prefix = project.join("target/mermaid-check");
    if !prefix.join("node_modules/mermaid").is_dir() || Command::new("node").arg("--version").output().is_err() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "mermaid is not installed in {} (.ci/run installs it)", prefix.display());
        eprintln!("skipped: mermaid is not installed in {} (npm install --prefix target/mermaid-check mermaid@11.17.2 jsdom@29.1.1)", prefix.display());
        return;
    }
    std::fs::copy(project.join("tests/fixtures/mermaid/check.mjs"), prefix.join("check.mjs")).expect("copy the checker");
    let out = support::TempDir::new("graph-mermaid");
    let mut files = vec![];
    let mut draw = |name: &str, dir: &std::path::Path, args: &[&str]| {
        let text = stdout(&igos(dir, args));
        out.write(&format!("{name}.mmd"), &text);
        files.push(out.path().join(format!("{name}.mmd")));
    };
    for view in ["tiers", "deps", "phases"] {
        draw(&format!("embedded-{view}"), &project, &["graph", view]);
    }
    draw("embedded-libevent", &project, &["graph", "deps", "--package", "libevent"]);
    let hostile = support::valid_tree("graph-mermaid-hostile");
    let evil = "evil\\\"]; n0 --> n1 %% `x` |y| <b>#quot; \\e[31m\\u202Eend";
    hostile.write("packages/core/evil/package.yml", &support::recipe("evil", "core", &[], &[]).replace("name: evil\n", &format!("name: \"{evil}\"\n")));
    hostile.write("packages/core/glib2/package.yml", &support::recipe("glib2", "core", &["zlib", "evil"], &["xz"]).replace("- evil", &format!("- \"{evil}\"")));
    let root = hostile.path().to_string_lossy().into_owned();
    draw("hostile-deps", &project, &["graph", "deps", "--root", &root]);
    draw("hostile-tiers", &project, &["graph", "tiers", "--root", &root]);
    if let Some(corpus) = support::corpus() {
        let root = corpus.to_string_lossy().into_owned();
        for view in ["tiers", "deps"] {
            draw(&format!("corpus-{view}"), &project, &["graph", view, "--root", &root]);
        }
    }
    let run = |files: &[std::path::PathBuf]| Command::new("node").current_dir(&prefix).arg("check.mjs").args(files).output().expect("node runs");
    let o = run(&files);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(text.lines().filter(|l| l.starts_with("ok ") && l.ends_with(" flowchart-v2")).count(), files.len(), "{text}");
    out.write("broken.mmd", "flowchart TB\n  n0[\"a\"] --> n1[\"b\n");
    assert!(!run(&[out.path().join("broken.mmd")]).status.success(), "the checker refuses a broken drawing");
}
