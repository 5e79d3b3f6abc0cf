//! Benchmarks for `igos check`, run with `cargo bench --bench igos_bench`.
//!
//! Every figure is a median of repeated runs, and every budget is reported as a ratio
//! against a baseline measured in the same run (or, for the original Python gates which
//! cannot run here, against their documented time). Results print as a table; BENCHMARKS.md
//! records a run.

#[path = "support/gen_tree.rs"]
mod gen_tree;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use igos::eval::classify::{self, BoundSet};
use igos::eval::domain::Domain;
use igos::facts::tree::TreeFacts;
use igos::lang::compile::{CLayer, Policy};
use igos::source::SourceMap;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn time_n(n: usize, mut f: impl FnMut()) -> Duration {
    median((0..n).map(|_| {
        let t = Instant::now();
        f();
        t.elapsed()
    }).collect())
}

/// Wall time of a cold `igos check` process (median) and its peak RSS in KiB.
fn cold_check(root: &Path, rules: Option<&Path>, audit_db: Option<&Path>, runs: usize) -> (Duration, Option<u64>) {
    let exe = env!("CARGO_BIN_EXE_igos");
    let mut args: Vec<String> = vec!["check".into(), "--root".into(), root.display().to_string()];
    if let Some(r) = rules {
        args.push("--rules".into());
        args.push(r.display().to_string());
    }
    if let Some(db) = audit_db {
        args.push("--audit-db".into());
        args.push(db.display().to_string());
    }
    // A run that could not use its input (exit 2) would time an error path: refuse it.
    let probe = Command::new(exe).args(&args).output().expect("igos runs");
    assert!(
        matches!(probe.status.code(), Some(0) | Some(1)),
        "igos check {args:?} exited {:?}: {}",
        probe.status.code(),
        String::from_utf8_lossy(&probe.stderr)
    );
    let wall = time_n(runs, || {
        let _ = Command::new(exe).args(&args).env("NO_COLOR", "1").output();
    });
    let rss = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(exe)
        .args(&args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stderr).lines().last().and_then(|l| l.trim().parse().ok()));
    (wall, rss)
}

fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The classification of the policy hand-written in plain Rust: the baseline the generic
/// engine is measured against (same layers, same least-fixpoint inference).
fn hand_written_tiers(policy: &Policy, names: &[(&str, &str)], edges: &[(u32, u32, &str)], sets: &[HashSet<&str>]) -> Vec<Option<u16>> {
    let cl = &policy.classifications[0];
    let n = names.len();
    let mut tier: Vec<Option<u16>> = vec![None; n];
    let mut fixed = vec![false; n];
    for (i, (name, dir)) in names.iter().enumerate() {
        for l in &cl.layers {
            match l {
                CLayer::Dir { tier: t, dir: d, .. } if d == dir => {
                    tier[i] = Some(*t);
                    fixed[i] = true;
                    break;
                }
                CLayer::InSet { tier: t, set, .. } => {
                    let s = &policy.sets[*set];
                    let hit = sets[*set].contains(name)
                        || (s.globs.iter().any(|(g, _)| igos::lang::glob::matches(g, name))
                            && !s.excludes.iter().any(|(g, _)| igos::lang::glob::matches(g, name)));
                    if hit {
                        tier[i] = Some(*t);
                        fixed[i] = true;
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    // Least fixpoint by iteration to stability (values only decrease).
    let mut consumers: Vec<Vec<u32>> = vec![vec![]; n];
    for (c, d, kind) in edges {
        if *kind != "runtime" && c != d {
            consumers[*d as usize].push(*c);
        }
    }
    let rank = |t: Option<u16>| t.map(u32::from).unwrap_or(u32::MAX);
    loop {
        let mut changed = false;
        for p in 0..n {
            if fixed[p] {
                continue;
            }
            let best = consumers[p].iter().map(|&c| tier[c as usize]).min_by_key(|t| rank(*t)).flatten();
            if rank(best) < rank(tier[p]) {
                tier[p] = best;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    tier
}

fn inference_ratio(corpus: &Path) -> Option<(Duration, Duration)> {
    let mut sources = SourceMap::new();
    let rules = igos::rules::load(Some(&project_dir().join("rules")), &mut sources).ok()?;
    let tree = igos::tree::load_tree(corpus, &mut sources).ok()?;
    let facts = TreeFacts::new(&tree, &rules.policy);
    let policy = &rules.policy;
    let bound: Vec<BoundSet> =
        policy.sets.iter().map(|s| BoundSet::bind(s, s.from_builder.and_then(|b| facts.builder_list(b)))).collect();
    let input = facts.classify_input()?;
    let engine = time_n(200, || {
        std::hint::black_box(classify::classify(&policy.classifications[0], &bound, &input));
    });
    let hsets: Vec<HashSet<&str>> = bound
        .iter()
        .map(|b| b.items.iter().map(|(n, _)| *n).collect())
        .collect();
    let edges: Vec<(u32, u32, &str)> = input.edges.iter().map(|e| (e.0, e.1, e.2)).collect();
    let hand = time_n(200, || {
        std::hint::black_box(hand_written_tiers(policy, &input.packages, &edges, &hsets));
    });
    // Same answers, or the comparison means nothing.
    let a = classify::classify(&policy.classifications[0], &bound, &input).tier;
    let b = hand_written_tiers(policy, &input.packages, &edges, &hsets);
    assert_eq!(a, b, "engine and hand-written classification disagree");
    Some((engine, hand))
}

fn main() {
    let corpus = project_dir().join("../shared/corpus/intergenos-91d65db0");
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    println!("igos benchmarks (medians; machine: {} cores)", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    println!("{:<44} {:>12} {:>14}  ratio / budget", "benchmark", "median", "peak RSS");

    if wanted("parse") {
        let t = time_n(200, || {
            let mut s = SourceMap::new();
            std::hint::black_box(igos::rules::load(None, &mut s).ok());
        });
        println!("{:<44} {:>9.3} ms {:>14}  rule files: parse + compile", "rules parse", ms(t), "");
    }
    if wanted("corpus") && corpus.exists() {
        // Gate 2 reads a real database: the corpus store aggregated once, outside the corpus.
        let db = std::env::temp_dir().join(format!("igos-bench-corpus-{}.db", std::process::id()));
        let aggregate = || {
            let _ = std::fs::remove_file(&db);
            Command::new(env!("CARGO_BIN_EXE_igos"))
                .args(["audit", "aggregate", "--store"])
                .arg(corpus.join("audits"))
                .arg("--db")
                .arg(&db)
                .output()
                .expect("igos runs")
        };
        let first = aggregate();
        assert!(first.status.success(), "aggregate: {}", String::from_utf8_lossy(&first.stderr));
        let t = time_n(10, || {
            aggregate();
        });
        println!("{:<44} {:>9.2} ms {:>14}  store -> SQLite, one transaction", "igos audit aggregate, corpus (614 records)", ms(t), "");
        let (wall, rss) = cold_check(&corpus, Some(&project_dir().join("rules")), Some(&db), 30);
        println!(
            "{:<44} {:>9.2} ms {:>11} KiB  {:.0}x faster than the original's documented ~4.7 s; budget 50 ms: {}",
            "igos check, corpus (813), cold process",
            ms(wall),
            rss.map(|r| r.to_string()).unwrap_or_else(|| "n/a".into()),
            4700.0 / ms(wall),
            if ms(wall) < 50.0 { "met" } else { "MISSED" }
        );
        let _ = std::fs::remove_file(&db);
    }
    if wanted("inference") && corpus.exists() {
        if let Some((engine, hand)) = inference_ratio(&corpus) {
            let ratio = engine.as_secs_f64() / hand.as_secs_f64();
            println!(
                "{:<44} {:>9.3} ms {:>14}  {:.2}x hand-written Rust ({:.3} ms); budget 2x: {}",
                "tier inference (engine), corpus",
                ms(engine),
                "",
                ratio,
                ms(hand),
                if ratio <= 2.0 { "met" } else { "MISSED" }
            );
        }
    }
    let mut scale: HashMap<usize, f64> = HashMap::new();
    for n in [1_000usize, 10_000, 100_000] {
        if !wanted(&format!("gen{n}")) && !wanted("scale") {
            continue;
        }
        let root = std::env::temp_dir().join(format!("igos-bench-tree-{n}"));
        if !root.join("packages").exists() {
            let _ = std::fs::remove_dir_all(&root);
            if let Err(e) = gen_tree::generate(&root, n, &project_dir().join("rules")) {
                println!("generate {n}: {e}");
                continue;
            }
        }
        // Aggregated by this igos (the database schema may be newer than the tree), as a
        // maintainer's tree is: the records settled, the database built after them.
        let _ = Command::new(env!("CARGO_BIN_EXE_igos")).args(["audit", "aggregate", "--root"]).arg(&root).output();
        let runs = if n >= 100_000 { 7 } else { 15 };
        let (wall, rss) = cold_check(&root, Some(&root.join("rules")), None, runs);
        scale.insert(n, ms(wall));
        let note = match n {
            100_000 => format!(
                "budget 3 s: {}; 100k/10k = {:.1}x (linear: ≤ 11x)",
                if ms(wall) < 3000.0 { "met" } else { "MISSED" },
                scale.get(&10_000).map(|t| ms(wall) / t).unwrap_or(f64::NAN)
            ),
            _ => String::new(),
        };
        println!(
            "{:<44} {:>9.2} ms {:>11} KiB  {note}",
            format!("igos check, generated {n}, cold process"),
            ms(wall),
            rss.map(|r| r.to_string()).unwrap_or_else(|| "n/a".into())
        );
    }
}
