//! The tree loader on the real corpus: every value it locates is exactly where the file
//! writes it, counts match the reference inventory, and loading is deterministic.

mod support;

use igos::source::{SourceMap, Span};
use igos::tree::{BuildSh, DepKind};

fn text(sources: &SourceMap, span: Span) -> &str {
    &sources.get(span.source).text[span.start as usize..span.end as usize]
}

#[test]
fn corpus_inventory() {
    let Some(corpus) = support::corpus() else { return };
    let mut sources = SourceMap::new();
    let tree = igos::tree::load_tree(&corpus, &mut sources).expect("corpus");
    let count = |t: &str| tree.packages.iter().filter(|p| p.dir_tier == t).count();
    assert_eq!(
        [count("toolchain"), count("core"), count("base"), count("desktop"), count("extra"), count("ai")],
        [28, 251, 19, 410, 103, 2]
    );
    assert!(tree.problems.is_empty(), "{:?}", tree.problems);
    assert_eq!(tree.packages.iter().filter(|p| matches!(p.build_sh, BuildSh::Unknown)).count(), 801);
    assert_eq!(tree.packages.iter().filter(|p| p.verify_paths.is_some()).count(), 784);
    assert_eq!(tree.packages.iter().filter(|p| p.source_is_empty_list).count(), 18);
    assert_eq!(tree.packages.iter().filter(|p| !p.supersedes.is_empty()).count(), 11);
    let ch8 = tree.builder_lists.iter().find(|l| l.file_name == "chroot-build-ch8.list").unwrap();
    assert_eq!(ch8.entries.len(), 86);
    let sysprof = tree.packages.iter().find(|p| p.name == "sysprof").unwrap();
    assert_eq!((sysprof.version_text.as_deref(), sysprof.version_is_string), (Some("46.0"), false));
}

#[test]
fn corpus_spans_cover_their_values() {
    let Some(corpus) = support::corpus() else { return };
    let mut sources = SourceMap::new();
    let tree = igos::tree::load_tree(&corpus, &mut sources).expect("corpus");
    let mut checked = 0;
    for p in &tree.packages {
        for d in &p.deps {
            assert_eq!(text(&sources, d.span), d.name, "{}: dep {}", p.name, d.name);
            checked += 1;
        }
        for (v, s) in p.verify_paths.iter().flatten() {
            assert_eq!(text(&sources, *s), v, "{}: verify path", p.name);
            checked += 1;
        }
        for (v, s) in &p.supersedes {
            assert_eq!(text(&sources, *s), v, "{}: supersedes", p.name);
        }
        for src in &p.sources {
            if let (Some(u), Some(s)) = (&src.url, src.url_span) {
                assert_eq!(text(&sources, s), u, "{}: url", p.name);
            }
            if let (Some(h), Some(s)) = (&src.sha256, src.sha256_span) {
                assert_eq!(text(&sources, s), h, "{}: sha256", p.name);
            }
            checked += 1;
        }
        for (k, s) in &p.keys {
            assert_eq!(text(&sources, *s), k, "{}: key", p.name);
        }
        let tier = p.key_span("tier").expect("tier key");
        assert_eq!(sources.get(tier.source).line_col(tier.start).1, 1, "top-level keys start a line");
    }
    assert!(checked > 5000, "{checked}");
    let apparmor = tree.packages.iter().find(|p| p.name == "apparmor").unwrap();
    let which = apparmor.deps.iter().find(|d| d.name == "which").unwrap();
    assert_eq!(which.kind, DepKind::Build);
    assert_eq!(sources.get(which.span.source).line_col(which.span.start), (38, 11));
}

#[test]
fn loading_is_deterministic() {
    let Some(corpus) = support::corpus() else { return };
    let names = || {
        let mut sources = SourceMap::new();
        let tree = igos::tree::load_tree(&corpus, &mut sources).unwrap();
        let files: Vec<String> = (0..sources.len()).map(|i| sources.get(igos::source::SourceId(i as u32)).name.clone()).collect();
        let pkgs: Vec<(String, usize)> = tree.packages.iter().map(|p| (p.name.clone(), p.deps.len())).collect();
        (files, pkgs)
    };
    assert_eq!(names(), names());
}

#[test]
fn crlf_recipes_read_like_lf_ones() {
    let t = support::valid_tree("crlf");
    let crlf = support::recipe("xz", "core", &["zlib"], &[]).replace('\n', "\r\n");
    t.write("packages/core/xz/package.yml", &crlf);
    let mut sources = SourceMap::new();
    let tree = igos::tree::load_tree(t.path(), &mut sources).unwrap();
    let xz = tree.packages.iter().find(|p| p.name == "xz").unwrap();
    assert!(xz.parsed && tree.problems.is_empty(), "{:?}", tree.problems);
    assert_eq!(xz.deps.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["zlib"]);
    assert_eq!(text(&sources, xz.deps[0].span), "zlib");
    assert_eq!(xz.version_text.as_deref(), Some("1.2.3"));
}
