//! The package.yml loader on arbitrary bytes: the input is a package.yml, optionally
//! followed by `\0\0` and a build.sh, and `\0\0` and a builder list. The recipe is loaded
//! as `load_tree` would, the project's rules run over it, and every finding is rendered
//! (spans into the fuzzed text reach miette). Nothing may panic, overflow or hang. And
//! wherever the loader's block-YAML reader takes a text, serde_yaml reads the same value
//! (and its field-picking road accepts the same texts, with the same values).
#![no_main]

use igos::lang::compile::Policy;
use igos::report::diagnostic::{self, Style};
use igos::source::{SourceFile, SourceMap};
use igos::tree::Tree;
use libfuzzer_sys::fuzz_target;

thread_local! {
    /// The project's rules, compiled once; their sources are re-added first on every run
    /// so the policy's spans (source ids 0..n) stay valid.
    static POLICY: Policy = {
        let texts = igos::rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), Ok(t.to_string()))).collect();
        igos::rules::compile_texts(texts, &mut SourceMap::new()).policy
    };
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, "\0\0");
    let yml = parts.next().unwrap_or("");
    let build_sh = parts.next();
    let list = parts.next();

    let keys = ["name", "dependencies", "source"];
    let picked = igos::tree::block_yaml::fields(yml, keys);
    match igos::tree::block_yaml::parse(yml) {
        Some(fast) => {
            let serde: Result<serde_yaml::Value, _> = serde_yaml::from_str(yml);
            assert_eq!(serde.ok().as_ref(), Some(&fast), "block_yaml and serde_yaml disagree on {yml:?}");
            let picked = picked.expect("fields reads what parse reads");
            for (k, got) in keys.iter().zip(&picked) {
                assert_eq!(got.as_ref(), fast.get(k), "fields and parse disagree on {k}");
            }
        }
        None => assert!(picked.is_none(), "fields read what parse did not"),
    }

    let mut sources = SourceMap::new();
    for (name, rule_text) in igos::rules::BUILT_IN {
        sources.add(SourceFile::new(*name, *rule_text));
    }
    let (package, problems) = igos::tree::recipe_from_text("core", "xz", yml, build_sh, &mut sources);
    let builder_lists = list
        .map(|l| vec![igos::tree::builder_list_from_text("chroot-build-ch8.list", l, &mut sources)])
        .unwrap_or_default();
    let tree = Tree { root: "/fuzz".into(), packages: vec![package], builder_lists, problems };
    POLICY.with(|policy| {
        let outcome = igos::check::evaluate(policy, &tree, "2026-11-22");
        // Every position is resolved; findings that point into the fuzzed files are drawn
        // by miette (a few per input: drawing is most of the cost, the rule side is fixed).
        let fuzzed = |span: igos::source::Span| span.source.0 as usize >= igos::rules::BUILT_IN.len();
        let mut drawn = 0;
        for f in outcome.findings() {
            for span in f.at.iter().chain(f.because.iter()) {
                let _ = diagnostic::position(&sources, *span);
            }
            if drawn < 3 && f.at.is_some_and(fuzzed) {
                let _ = diagnostic::render(&diagnostic::finding(&sources, f), Style::PLAIN);
                drawn += 1;
            }
        }
        let _ = igos::report::check_report::json(&outcome, &sources);
    });
});
