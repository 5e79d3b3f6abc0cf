//! The language server's re-check latency after an edit, run with
//! `cargo bench --bench lsp_bench` (`-- corpus` or `-- gen100000` for one tree).
//!
//! For each tree: (1) in process, what the server does after an edit to rules/tiers.pol
//! (parse and compile every rule file, evaluate every check on the facts held in memory,
//! place the findings in the rule files); (2) over the real protocol, from the
//! `didChange` written to `igos lsp`'s stdin until its `publishDiagnostics` for that
//! version is read; beside (3) the baseline of the same run, a cold `igos check` process
//! on the same tree and rules, which loads everything again. Medians of repeated runs.
//! Budgets (issue 19): under 50 ms on the 813-recipe corpus, under 1 s on 100,000 recipes.

#[path = "support/gen_tree.rs"]
mod gen_tree;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use igos::lsp::engine_api::{self, Facts, RuleText};

// The allocator of the igos binary, so the in-process figure is the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rule_texts(dir: &Path) -> Vec<RuleText> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("rules dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pol"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| RuleText { shown: format!("rules/{}", p.file_name().unwrap().to_string_lossy()), text: Arc::from(std::fs::read_to_string(&p).unwrap()), path: p })
        .collect()
}

/// The rules with a comment line added to tiers.pol at a place that moves with `i` (every
/// finding located after it moves too, as in an editor).
fn edited(rules: &[RuleText], i: usize) -> Vec<RuleText> {
    rules
        .iter()
        .map(|r| {
            if !r.path.ends_with("tiers.pol") {
                return r.clone();
            }
            let lines: Vec<&str> = r.text.lines().collect();
            let at = 10 + (i * 37) % lines.len().saturating_sub(20).max(1);
            let mut text = lines[..at].join("\n");
            text.push_str(&format!("\n# edit {i}\n"));
            text.push_str(&lines[at..].join("\n"));
            text.push('\n');
            RuleText { text: Arc::from(text), ..r.clone() }
        })
        .collect()
}

/// (1) analyse after an edit, in process: median and max of `runs`.
fn in_process(root: &Path, rules_dir: &Path, runs: usize) -> (Duration, Duration, usize, usize, Duration, String) {
    let rules = rule_texts(rules_dir);
    let facts = Facts::load(root, &rules).expect("the tree loads");
    // As the server does: the findings of checks an edit does not touch are reused.
    let mut memo = engine_api::Memo::default();
    let first = engine_api::analyze_with(Some(&facts), rules.clone(), &mut memo);
    assert!(first.clean, "the rules compile");
    let all = memo.ran.len();
    let mut times = vec![];
    let mut ran = vec![];
    for i in 0..runs {
        let r = edited(&rules, i);
        let t = Instant::now();
        let a = engine_api::analyze_with(Some(&facts), r, &mut memo);
        times.push(t.elapsed());
        ran.push(memo.ran.len());
        std::hint::black_box(&a);
    }
    let max = *times.iter().max().unwrap();
    // And with nothing reused: every check evaluated, as `igos check` does.
    let mut full = vec![];
    for i in 0..runs {
        let r = edited(&rules, i);
        let t = Instant::now();
        std::hint::black_box(engine_api::analyze(Some(&facts), r));
        full.push(t.elapsed());
    }
    ran.sort();
    let ran = format!("{} of {all}", ran[ran.len() / 2]);
    (median(times), max, facts.package_count(), first.diags.len(), median(full), ran)
}

/// A minimal client over igos lsp's stdio, to time edit → diagnostics as an editor sees it.
struct Lsp {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    out: BufReader<std::process::ChildStdout>,
}

impl Lsp {
    fn send(&mut self, v: serde_json::Value) {
        let b = v.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{b}", b.len()).unwrap();
        self.stdin.flush().unwrap();
    }
    fn next(&mut self) -> serde_json::Value {
        let mut len = 0;
        loop {
            let mut line = String::new();
            assert!(self.out.read_line(&mut line).unwrap() > 0, "igos lsp ended");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                len = v.parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        self.out.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }
    /// Wait for the diagnostics of `uri` at `version`.
    fn diagnostics(&mut self, uri: &str, version: Option<i64>) -> usize {
        loop {
            let m = self.next();
            if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri && (version.is_none() || m["params"]["version"].as_i64() == version) {
                return m["params"]["diagnostics"].as_array().map_or(0, Vec::len);
            }
        }
    }
}

/// (2) edit → diagnostics over stdio: median and max of `runs`, and the first analysis
/// (load and evaluate) as the server starts.
fn over_stdio(root: &Path, rules_dir: &Path, runs: usize) -> (Duration, Duration, Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_igos"))
        .arg("lsp")
        .arg("--root")
        .arg(root)
        .arg("--rules")
        .arg(rules_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("igos lsp starts");
    let stdin = child.stdin.take().unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut s = Lsp { child, stdin, out };
    let tiers = rules_dir.join("tiers.pol").canonicalize().unwrap();
    let uri = format!("file://{}", tiers.display());
    let text = std::fs::read_to_string(&tiers).unwrap();
    let started = Instant::now();
    s.send(serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": null, "rootUri": null, "capabilities": {}}}));
    s.send(serde_json::json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    s.send(serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "igos-policy", "version": 1, "text": text}}}));
    s.diagnostics(&uri, Some(1));
    let first = started.elapsed();
    let mut times = vec![];
    for i in 0..runs {
        let version = 2 + i as i64;
        let line = 10 + (i * 37) % 500;
        let t = Instant::now();
        s.send(serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "text": format!("# edit {i}\n")}]}}));
        s.diagnostics(&uri, Some(version));
        times.push(t.elapsed());
    }
    s.send(serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}));
    s.send(serde_json::json!({"jsonrpc": "2.0", "method": "exit"}));
    let _ = s.child.wait();
    let max = *times.iter().max().unwrap();
    (median(times), max, first)
}

/// (3) the baseline: a cold `igos check` process on the same tree and rules.
fn cold_check(root: &Path, rules_dir: &Path, runs: usize) -> Duration {
    let run = || {
        let t = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_igos")).arg("check").arg("--root").arg(root).arg("--rules").arg(rules_dir).arg("--format").arg("concise").output().unwrap();
        assert!(matches!(o.status.code(), Some(0 | 1)), "igos check: {}", String::from_utf8_lossy(&o.stderr));
        t.elapsed()
    };
    run();
    median((0..runs).map(|_| run()).collect())
}

fn report(name: &str, root: &Path, rules_dir: &Path, runs: usize, budget_ms: f64) {
    let (inproc, inproc_max, packages, diags, every, ran) = in_process(root, rules_dir, runs);
    let (stdio, stdio_max, first) = over_stdio(root, rules_dir, runs);
    let cold = cold_check(root, rules_dir, runs.min(15));
    let verdict = |d: Duration| if ms(d) < budget_ms { "met" } else { "MISSED" };
    println!("{name}: {packages} recipes, {diags} diagnostics in the rule files, {runs} edits, checks evaluated again per edit: median {ran}");
    println!("  {:<48} {:>9.2} ms (max {:>8.2})  budget {budget_ms} ms: {}", "re-check after an edit, in process", ms(inproc), ms(inproc_max), verdict(inproc));
    println!("  {:<48} {:>9.2} ms (max {:>8.2})  budget {budget_ms} ms: {}", "edit -> publishDiagnostics over stdio", ms(stdio), ms(stdio_max), verdict(stdio));
    println!("  {:<48} {:>9.2} ms", "re-check evaluating every check, in process", ms(every));
    println!("  {:<48} {:>9.2} ms", "server start -> first diagnostics", ms(first));
    println!(
        "  {:<48} {:>9.2} ms  re-check / cold check = {:.2}",
        "baseline: cold igos check process",
        ms(cold),
        inproc.as_secs_f64() / cold.as_secs_f64()
    );
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    println!("igos lsp re-check latency (medians; machine: {} cores)", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let corpus = project_dir().join("../shared/corpus/intergenos-91d65db0");
    if wanted("corpus") && corpus.exists() {
        report("corpus (intergenos-91d65db0)", &corpus, &project_dir().join("rules"), 31, 50.0);
    }
    if wanted("gen100000") {
        let root = std::env::temp_dir().join("igos-bench-tree-100000");
        if !root.join("packages").exists() {
            let _ = std::fs::remove_dir_all(&root);
            gen_tree::generate(&root, 100_000, &project_dir().join("rules")).expect("generate the tree");
        }
        report("generated tree", &root, &root.join("rules"), 11, 1000.0);
    }
}
