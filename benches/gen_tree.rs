//! Writes the benchmarks' synthetic tree where a script can use it (not a timing):
//! `cargo bench --bench gen_tree -- DIR N` writes about N recipes under DIR
//! (packages/, builders/, rules/), the same tree `igos_bench` times.

#[path = "support/gen_tree.rs"]
mod gen_tree;

use std::path::PathBuf;

fn main() {
    // `cargo bench` adds `--bench`; only the positional arguments are ours.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let (Some(dir), Some(n)) = (args.first(), args.get(1).and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("usage: cargo bench --bench gen_tree -- DIR N");
        std::process::exit(2);
    };
    let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules");
    match gen_tree::generate(&PathBuf::from(dir), n, &rules) {
        Ok(written) => println!("{written} recipes under {dir}"),
        Err(e) => {
            eprintln!("{dir}: {e}");
            std::process::exit(1);
        }
    }
}
