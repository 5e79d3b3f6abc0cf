//! A synthetic package tree generator for benchmarks (not part of the product).
//!
//! Shapes follow the conformance corpus: the six tiers in the corpus's proportions,
//! about 3 build deps and 2 runtime deps per recipe drawn from the same or earlier tiers
//! (so the graph is acyclic and the tree passes the ordering gates), static builder lists
//! for core and base in dependency order, topological builders for the rest, and rule
//! sets that list ~70% of the names (the rest are placed by inference).

use std::fmt::Write as _;
use std::path::Path;

/// Tiers and their share of the corpus (toolchain 28, core 251, base 19, desktop 410, extra 103, ai 2).
const TIERS: &[(&str, f64)] =
    &[("toolchain", 0.034), ("core", 0.309), ("base", 0.023), ("desktop", 0.505), ("extra", 0.127), ("ai", 0.002)];

/// A small deterministic PRNG (xorshift), so every run generates the same tree.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Write a tree of about `n` recipes under `root` (packages/, builders/, rules/);
/// returns how many it wrote.
pub fn generate(root: &Path, n: usize, project_rules: &Path) -> std::io::Result<usize> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
    let mut names: Vec<(String, &str)> = vec![];
    for (tier, share) in TIERS {
        let count = ((n as f64) * share).round().max(1.0) as usize;
        for i in 0..count {
            names.push((format!("{tier}-pkg-{i:06}"), tier));
        }
    }
    names.truncate(n.max(TIERS.len()));
    let tier_index = |t: &str| TIERS.iter().position(|(x, _)| *x == t).unwrap_or(0);
    std::fs::create_dir_all(root.join("builders"))?;
    let mut ch8 = String::from("# generated\n");
    let mut core_extra = String::from("# generated\n");
    let mut base = String::from("# generated\n");
    let mut lists: Vec<Vec<&str>> = vec![vec![]; TIERS.len()];
    let core_count = names.iter().filter(|(_, t)| *t == "core").count();
    let mut core_seen = 0;
    for (i, (name, tier)) in names.iter().enumerate() {
        let ti = tier_index(tier);
        // Names are ordered by tier, so an earlier index is the same or an earlier tier:
        // the graph is acyclic and static lists come out in dependency order.
        let mut build = vec![];
        let mut runtime = vec![];
        if i > 0 {
            for k in 0..(3 + rng.below(3)) {
                let j = rng.below(i);
                let (dn, dt) = &names[j];
                let dti = tier_index(dt);
                let peers = ti == 5 && dti == 4;
                if peers || (ti == 0) != (dti == 0) && ti == 0 {
                    continue;
                }
                if k < 3 {
                    build.push(dn.clone());
                } else {
                    runtime.push(dn.clone());
                }
            }
        }
        build.sort();
        build.dedup();
        let dir = root.join("packages").join(tier).join(name);
        std::fs::create_dir_all(&dir)?;
        let mut y = String::new();
        let _ = writeln!(y, "name: {name}\nversion: \"1.{}.{}\"\nrelease: 1", i % 17, i % 5);
        let _ = writeln!(y, "description: generated package {i}\nlicense: MIT\nhomepage: https://example.org/{name}");
        let _ = writeln!(y, "tier: {tier}\nbuild_style: autotools\nsource:");
        let _ = writeln!(y, "  - url: file:///sources/{name}-1.0.tar.xz\n    sha256: {:064x}", (i as u128) * 7919);
        let _ = writeln!(y, "dependencies:\n  build:");
        for d in &build {
            let _ = writeln!(y, "    - {d}");
        }
        let _ = writeln!(y, "  host: []\n  runtime:");
        for d in &runtime {
            let _ = writeln!(y, "    - {d}");
        }
        let _ = writeln!(y, "verify_paths:\n  - /usr/bin/{name}\n  - /usr/share/{name}/data");
        std::fs::write(dir.join("package.yml"), y)?;
        // Audit records for 90% of the recipes (the rest are Gate 2's "missing").
        if rng.below(10) < 9 {
            std::fs::create_dir_all(root.join("audits"))?;
            let deps = build.iter().map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(", ");
            let rec = format!(
                "{{\"name\": \"{name}\", \"version\": \"1.{}.{}\", \"tier\": \"{tier}\", \"our_deps_build\": [{deps}]}}\n",
                i % 17,
                i % 5
            );
            std::fs::write(root.join("audits").join(format!("{name}.json")), rec)?;
        }
        match *tier {
            "core" => {
                // The first third goes to the ch8 list, the rest to core-extra (a later phase).
                core_seen += 1;
                if core_seen * 3 <= core_count {
                    ch8.push_str(&format!("{name}\n"))
                } else {
                    core_extra.push_str(&format!("{name}\n"))
                }
            }
            "base" => base.push_str(&format!("{name}\n")),
            _ => {}
        }
        // ~70% of names are listed in their tier's set; the rest are inferred.
        if ti != 0 && rng.below(10) < 7 {
            lists[ti].push(name);
        }
    }
    std::fs::write(root.join("builders/chroot-build-ch8.list"), ch8)?;
    std::fs::write(root.join("builders/chroot-build-core-extra.list"), core_extra)?;
    std::fs::write(root.join("builders/chroot-build-base.list"), base)?;
    for t in ["desktop", "extra", "ai"] {
        std::fs::write(root.join(format!("builders/chroot-build-{t}.list")), format!("# invokes: igos-build.py --tier {t}\n"))?;
    }
    // Rules: the project's rules, with the tier sets replaced by generated ones.
    let rules = root.join("rules");
    std::fs::create_dir_all(&rules)?;
    for entry in std::fs::read_dir(project_rules)? {
        let p = entry?.path();
        if p.file_name().is_some_and(|f| f != "tiers.pol") && p.extension().is_some_and(|x| x == "pol") {
            std::fs::copy(&p, rules.join(p.file_name().unwrap_or_default()))?;
        }
    }
    let mut tiers = String::from("policy 1\n\ntiers toolchain < core < base < desktop < extra | ai\n\nset lfs_ch8 from builder ch8\n");
    for (ti, (t, _)) in TIERS.iter().enumerate().skip(1) {
        let _ = writeln!(tiers, "\nset listed_{t} {{");
        for name in &lists[ti] {
            let _ = writeln!(tiers, "  {name}");
        }
        tiers.push_str("}\n");
    }
    tiers.push_str("\nclassify natural_tier {\n  toolchain if dir is toolchain\n");
    for (t, _) in TIERS.iter().skip(1) {
        let _ = writeln!(tiers, "  {t} if name in listed_{t}");
    }
    tiers.push_str("  infer earliest consumer via build, host\n  else unclear\n}\n");
    std::fs::write(rules.join("tiers.pol"), tiers)?;
    Ok(names.len())
}
