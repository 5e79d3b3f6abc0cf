//! No input crashes igos. Every malformed input of `tests/fixtures/bad/` (and the large or
//! unnamable ones generated here) goes through every command that reads it, through the
//! real binary with `RUST_BACKTRACE=1`: the exit code is the documented one (2 rules or
//! tree unusable, 1 a broken recipe, which is a halting finding), the output names the
//! file, and there is never a panic or a backtrace. A deterministic mini fuzz mutates the
//! project's rules and real recipes and feeds them to the library on every test run.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use igos::report::diagnostic::{self, Style};
use igos::source::SourceMap;
use support::{valid_tree, TempDir};

const TODAY: &str = "2026-11-22";

fn fixture(rel: &str) -> PathBuf {
    support::project_dir().join("tests/fixtures/bad").join(rel)
}

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixture(dir)).expect("fixture dir").map(|e| e.expect("entry").path()).collect();
    v.sort();
    v
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Run the igos binary in `cwd` (no ./rules there unless a test puts one).
fn igos(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .args(args)
        .current_dir(cwd)
        .env("RUST_BACKTRACE", "1")
        .env("IGOS_TODAY", TODAY)
        .env_remove("IGOS_TIMINGS")
        .output()
        .expect("run igos");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The invariants of every run: the expected exit code (never a signal), no panic, no
/// backtrace, and the file named.
fn assert_clean(what: &str, r: &Run, code: i32, names: &str) {
    let all = r.all();
    let short: String = all.chars().take(3000).collect();
    assert!(!all.contains("panicked"), "{what}: panicked\n{short}");
    assert!(!all.contains("stack backtrace"), "{what}: backtrace\n{short}");
    assert!(!all.contains("overflowed its stack"), "{what}: stack overflow\n{short}");
    assert_eq!(r.code, code, "{what}: exit code\n{short}");
    assert!(all.contains(names), "{what}: the output does not name `{names}`\n{short}");
}

fn snap(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

// ---- rule files ---------------------------------------------------------------------------

/// A rules directory: the project's rules plus one more file.
fn rules_with(name: &str, bytes: &[u8]) -> TempDir {
    let d = TempDir::new("bad-rules");
    for (path, text) in igos::rules::BUILT_IN {
        d.write(path, text);
    }
    std::fs::write(d.path().join("rules").join(name), bytes).expect("write rule file");
    d
}

/// Every command that reads rule files, on one extra rule file. Returns the check run.
fn every_rules_command(tag: &str, bytes: &[u8], code: i32) -> Run {
    every_rules_command_fmt(tag, bytes, code, if code == 0 { 0 } else { 2 })
}

fn every_rules_command_fmt(tag: &str, bytes: &[u8], code: i32, fmt_code: i32) -> Run {
    let tree = valid_tree("bad-rules-tree");
    let rules = rules_with("zz-fixture.pol", bytes);
    let dir = rules.path().join("rules");
    let dir_s = dir.to_str().expect("utf-8 temp path");
    let root = tree.path().to_str().expect("utf-8 temp path");
    let file = dir.join("zz-fixture.pol");
    let check = igos(tree.path(), &["check", "--rules", dir_s, "--root", root, "--color", "never"]);
    let named = if code == 0 { "igos check" } else { "zz-fixture.pol" };
    assert_clean(&format!("{tag}: check"), &check, code, named);
    let explain = igos(tree.path(), &["explain", "--rules", dir_s, "--root", root, "--color", "never", "bat"]);
    let named = if code == 0 { "bat" } else { "zz-fixture.pol" };
    assert_clean(&format!("{tag}: explain"), &explain, code, named);
    let checks = igos(tree.path(), &["checks", "--rules", dir_s, "--color", "never"]);
    let named = if code == 0 { "severity" } else { "zz-fixture.pol" };
    assert_clean(&format!("{tag}: checks"), &checks, code, named);
    let fmt = igos(tree.path(), &["fmt", "--check", "--color", "never", file.to_str().expect("utf-8")]);
    let named = if fmt_code == 0 { "" } else { "zz-fixture.pol" };
    assert_clean(&format!("{tag}: fmt --check"), &fmt, fmt_code, named);
    Run { stderr: check.stderr.replace(dir_s, "[RULES]"), ..check }
}

#[test]
fn malformed_rule_files_are_diagnostics_with_exit_2() {
    let good = ["crlf.pol", "bom.pol", "lone-cr.pol"];
    let mut n = 0;
    for path in fixtures("rules") {
        let name = path.file_name().and_then(|f| f.to_str()).expect("name").to_string();
        if good.contains(&name.as_str()) {
            continue;
        }
        let bytes = std::fs::read(&path).expect("fixture");
        let run = every_rules_command(&name, &bytes, 2);
        assert!(run.stderr.contains("nothing was checked"), "{name}: {}", run.stderr);
        match name.as_str() {
            "nul-byte.pol" => snap("bad-rules-nul-byte", &run.stderr),
            "non-utf8.pol" => snap("bad-rules-non-utf8", &run.stderr),
            "unterminated-string.pol" => snap("bad-rules-unterminated-string", &run.stderr),
            _ => {}
        }
        n += 1;
    }
    assert!(n >= 8, "only {n} rule fixtures");
}

#[test]
fn crlf_line_endings_and_a_bom_work() {
    for name in ["crlf.pol", "bom.pol"] {
        let bytes = std::fs::read(fixture(&format!("rules/{name}"))).expect("fixture");
        every_rules_command(name, &bytes, 0);
    }
    // Old Mac line ends (a lone CR) parse too; fmt offers to rewrite them as newlines.
    let bytes = std::fs::read(fixture("rules/lone-cr.pol")).expect("fixture");
    every_rules_command_fmt("lone-cr.pol", &bytes, 0, 1);
    // The project's own rules, every file converted to CRLF, pass the valid tree too.
    let tree = valid_tree("crlf-tree");
    let d = TempDir::new("crlf-rules");
    for (path, text) in igos::rules::BUILT_IN {
        d.write(path, &format!("\u{feff}{}", text.replace('\n', "\r\n")));
    }
    let dir = d.path().join("rules");
    let r = igos(tree.path(), &["check", "--rules", dir.to_str().expect("utf-8"), "--root", ".", "--color", "never"]);
    assert_clean("project rules as CRLF with a BOM", &r, 0, "igos check");
    let files: Vec<String> = igos::rules::BUILT_IN.iter().map(|(p, _)| d.path().join(p).display().to_string()).collect();
    let mut args = vec!["fmt", "--check"];
    args.extend(files.iter().map(String::as_str));
    let r = igos(tree.path(), &args);
    assert_clean("fmt --check on CRLF rules", &r, 0, "");
}

fn deep_parens(n: usize) -> String {
    format!(
        "policy 1\n\ncheck deep halt {{\n  for p in packages\n  where {}p.parsed{}\n  message \"x\"\n}}\n",
        "(".repeat(n),
        ")".repeat(n)
    )
}

#[test]
fn ten_thousand_nested_parentheses() {
    let run = every_rules_command("10,000 parentheses", deep_parens(10_000).as_bytes(), 2);
    assert!(run.stderr.contains("rules::too-deep"), "{}", run.stderr);
    // Other ways to build a deep tree on one line: chains of not, and, field access, lists.
    for (tag, cond) in [
        ("not", format!("{}p.parsed", "not ".repeat(10_000))),
        ("and", vec!["p.parsed"; 10_000].join(" and ")),
        ("access", format!("p{}", ".name".repeat(10_000))),
        ("list", format!("p.name in {}\"a\"{}", "[".repeat(10_000), "]".repeat(10_000))),
        ("calls", format!("{}p.name{} > 0", "len(".repeat(10_000), ")".repeat(10_000))),
    ] {
        let text = format!("policy 1\n\ncheck deep halt {{\n  for p in packages\n  where {cond}\n  message \"x\"\n}}\n");
        let run = every_rules_command(tag, text.as_bytes(), 2);
        assert!(run.stderr.contains("rules::too-deep"), "{tag}: {}", run.stderr.chars().take(2000).collect::<String>());
    }
    // Shallow nesting still works: 60 parentheses compile and run.
    every_rules_command_ok_nesting(60);
}

fn every_rules_command_ok_nesting(n: usize) {
    let tree = valid_tree("nest-ok");
    let rules = rules_with("zz-fixture.pol", deep_parens(n).as_bytes());
    let dir = rules.path().join("rules");
    let r = igos(tree.path(), &["check", "--rules", dir.to_str().expect("utf-8"), "--root", ".", "--color", "never"]);
    assert_clean("60 parentheses", &r, 1, "deep");
}

#[test]
fn too_deep_diagnostic() {
    let text = format!("policy 1\n\ncheck deep halt {{\n  for p in packages\n  where {}p.parsed\n  message \"x\"\n}}\n", "not ".repeat(100));
    let mut sources = SourceMap::new();
    let rules = igos::rules::compile_texts(vec![("rules/deep.pol".into(), Ok(text))], &mut sources);
    let rendered: Vec<String> = rules.errors.iter().map(|e| diagnostic::render(&diagnostic::rule_error(&sources, e), Style::PLAIN)).collect();
    snap("bad-rules-too-deep", &rendered.join("\n"));
}

#[test]
fn five_megabyte_rule_files() {
    // A valid one (a huge set) is accepted in bounded time; a garbage one is one error.
    let mut big = String::from("policy 1\n\nset huge {\n");
    let mut i = 0;
    while big.len() < 5 << 20 {
        big.push_str(&format!("  generated-package-{i}\n"));
        i += 1;
    }
    big.push_str("}\n");
    every_rules_command_big(&big, 0);
    // fmt --check on a 1 MB unformatted file: the diff stays bounded (no n*m table).
    let tree = valid_tree("big-fmt");
    let mut odd = String::from("policy 1\n\nset huge {\n");
    for i in 0..50_000 {
        odd.push_str(&format!("generated-package-{i}\n"));
    }
    odd.push_str("}\n");
    tree.write("zz-fixture.pol", &odd);
    let r = igos(tree.path(), &["fmt", "--check", "zz-fixture.pol"]);
    assert_clean("fmt --check on 1 MB", &r, 1, "zz-fixture.pol");
    let garbage: String = (0..5 << 20).map(|i| if i % 97 == 0 { '\n' } else { "ab{([\"#é"[..].chars().nth(i % 8).unwrap_or('x') }).collect();
    every_rules_command("5 MB of garbage", format!("policy 1\n{garbage}").as_bytes(), 2);
}

fn every_rules_command_big(text: &str, code: i32) {
    let tree = valid_tree("big-rules");
    let rules = rules_with("zz-fixture.pol", text.as_bytes());
    let dir = rules.path().join("rules");
    let r = igos(tree.path(), &["check", "--rules", dir.to_str().expect("utf-8"), "--root", ".", "--color", "never"]);
    assert_clean("5 MB valid rules", &r, code, "igos check");
}

#[test]
fn unusable_rules_directory() {
    let tree = valid_tree("no-rules");
    let r = igos(tree.path(), &["check", "--rules", "/nonexistent/igos-rules", "--root", "."]);
    assert_clean("missing rules dir", &r, 2, "/nonexistent/igos-rules");
    let r = igos(tree.path(), &["checks", "--rules", "/nonexistent/igos-rules"]);
    assert_clean("checks: missing rules dir", &r, 2, "/nonexistent/igos-rules");
    let empty = TempDir::new("empty-rules");
    let r = igos(tree.path(), &["check", "--rules", empty.path().to_str().expect("utf-8"), "--root", "."]);
    assert_clean("empty rules dir", &r, 2, "no rule files");
    let r = igos(tree.path(), &["fmt", "--check", "/nonexistent/x.pol"]);
    assert_clean("fmt: missing file", &r, 2, "/nonexistent/x.pol");
}

// ---- the package tree ---------------------------------------------------------------------

/// Inputs that load (every file reads as facts) but break a rule: `check` halts, while
/// `explain` still explains and exits 0. Every other malformed input is a load problem:
/// `explain` shows it and exits 1 too.
const LOADS_BUT_HALTS: &[&str] = &[
    "billion-laughs-unknown-key.yml",
    "unknown-tag.yml",
    "garbage-utf8.list",
    "just under the cap, many keys",
    "10,000 [ under an unknown key",
    "1,000 block levels",
];

/// `check` and `explain` on a valid tree with one thing broken.
fn every_tree_command(tag: &str, tree: &TempDir, code: i32, names: &str) -> Run {
    let check = igos(tree.path(), &["check", "--root", ".", "--color", "never"]);
    assert_clean(&format!("{tag}: check"), &check, code, names);
    let explain = igos(tree.path(), &["explain", "--root", ".", "--color", "never", "bat"]);
    if LOADS_BUT_HALTS.contains(&tag) {
        assert_clean(&format!("{tag}: explain"), &explain, 0, "bat");
    } else {
        assert_clean(&format!("{tag}: explain"), &explain, code, names);
    }
    let json = igos(tree.path(), &["check", "--root", ".", "--format", "json"]);
    assert_clean(&format!("{tag}: check --format json"), &json, code, "");
    check
}

#[test]
fn malformed_recipes_are_halting_findings() {
    let mut n = 0;
    for path in fixtures("recipes") {
        let name = path.file_name().and_then(|f| f.to_str()).expect("name").to_string();
        let t = valid_tree("bad-recipe");
        std::fs::write(t.path().join("packages/core/xz/package.yml"), std::fs::read(&path).expect("fixture")).expect("write");
        let run = every_tree_command(&name, &t, 1, "packages/core/xz/package.yml");
        match name.as_str() {
            "dependencies-number.yml" => snap("bad-recipe-dependencies-number", &report_of(&run, "Recipe files")),
            "billion-laughs.yml" => snap("bad-recipe-billion-laughs", &report_of(&run, "Recipe files")),
            "non-utf8.yml" => snap("bad-recipe-non-utf8", &report_of(&run, "Recipe files")),
            _ => {}
        }
        n += 1;
    }
    assert!(n >= 15, "only {n} recipe fixtures");
}

/// One gate's section of a human report (the report's header names a temp dir).
fn report_of(run: &Run, gate_title: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in run.stdout.lines() {
        if line.starts_with("── ") {
            inside = line.contains(gate_title);
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn malformed_builder_lists() {
    for path in fixtures("lists") {
        let name = path.file_name().and_then(|f| f.to_str()).expect("name").to_string();
        let t = valid_tree("bad-list");
        std::fs::write(t.path().join("builders/chroot-build-ch8.list"), std::fs::read(&path).expect("fixture")).expect("write");
        every_tree_command(&name, &t, 1, "builders/chroot-build-ch8.list");
    }
}

#[test]
fn generated_recipes_huge_and_deep() {
    let base = support::recipe("xz", "core", &["zlib"], &[]);
    let cases: Vec<(&str, String)> = vec![
        ("2 MB package.yml", format!("{base}description_long: \"{}\"\n", "x".repeat(2 << 20))),
        ("just under the cap, many keys", (0..40_000).map(|i| format!("k{i}: v\n")).collect::<String>() + &base),
        ("10,000 [ unclosed", format!("{base}supersedes: {}\n", "[".repeat(10_000))),
        ("10,000 [ closed", format!("{base}supersedes: {}{}\n", "[".repeat(10_000), "]".repeat(10_000))),
        ("10,000 [ under an unknown key", format!("{base}zzz: {}{}\n", "[".repeat(10_000), "]".repeat(10_000))),
        ("10,000 { nested mappings", format!("{base}supersedes: {}{}\n", "{a: ".repeat(10_000), "}".repeat(10_000))),
        ("1,000 block levels", {
            let mut s = base.clone() + "zzz:\n";
            for i in 1..1_000 {
                s.push_str(&" ".repeat(i));
                s.push_str("- \n");
            }
            s
        }),
    ];
    for (tag, text) in cases {
        let t = valid_tree("gen-recipe");
        t.write("packages/core/xz/package.yml", &text);
        every_tree_command(tag, &t, 1, "packages/core/xz/package.yml");
    }
}

#[test]
fn unreadable_entries_in_the_tree() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::symlink;
    let name = |b: &[u8]| std::ffi::OsStr::from_bytes(b).to_os_string();

    let t = valid_tree("symlink-root");
    symlink("/", t.path().join("packages/core/evil")).expect("symlink");
    let run = every_tree_command("a package dir that is a link to /", &t, 1, "packages/core/evil");
    snap("bad-tree-symlink-to-root", &report_of(&run, "Recipe files"));

    let t = valid_tree("symlink-loop");
    symlink("loop-b", t.path().join("packages/core/loop-a")).expect("symlink");
    symlink("loop-a", t.path().join("packages/core/loop-b")).expect("symlink");
    std::fs::create_dir_all(t.path().join("packages/core/zlib/patches")).expect("dir");
    symlink("..", t.path().join("packages/core/zlib/patches/up")).expect("symlink");
    every_tree_command("a symlink loop", &t, 1, "packages/core/loop-a");

    let t = valid_tree("non-utf8-dir");
    let dir = t.path().join("packages/core").join(name(b"caf\xe9"));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("package.yml"), support::recipe("cafe", "core", &[], &[])).expect("write");
    every_tree_command("a non-UTF-8 directory name", &t, 1, "packages/core/caf");

    let t = valid_tree("non-utf8-tier");
    std::fs::create_dir_all(t.path().join("packages").join(name(b"\xff\xfe"))).expect("dir");
    every_tree_command("a non-UTF-8 tier directory", &t, 1, "packages/\u{fffd}");

    let t = valid_tree("non-utf8-list");
    std::fs::write(t.path().join("builders").join(name(b"\xff.list")), "zlib\n").expect("write");
    every_tree_command("a non-UTF-8 builder list name", &t, 1, "builders/\u{fffd}.list");

    let t = valid_tree("yml-to-dev-zero");
    std::fs::remove_file(t.path().join("packages/core/xz/package.yml")).expect("rm");
    symlink("/dev/zero", t.path().join("packages/core/xz/package.yml")).expect("symlink");
    every_tree_command("package.yml linked to /dev/zero", &t, 1, "packages/core/xz/package.yml");

    let t = valid_tree("yml-is-dir");
    std::fs::remove_file(t.path().join("packages/core/xz/package.yml")).expect("rm");
    std::fs::create_dir_all(t.path().join("packages/core/xz/package.yml")).expect("dir");
    every_tree_command("package.yml is a directory", &t, 1, "packages/core/xz/package.yml");

    let t = valid_tree("build-sh-garbage");
    std::fs::write(t.path().join("packages/core/xz/build.sh"), std::fs::read(fixture("recipes/binary-garbage.yml")).expect("fixture"))
        .expect("write");
    every_tree_command("binary build.sh", &t, 1, "packages/core/xz");
}

#[test]
fn unusable_tree_root() {
    let cwd = TempDir::new("no-root");
    let r = igos(cwd.path(), &["check", "--root", "/nonexistent/igos-tree"]);
    assert_clean("missing root", &r, 2, "/nonexistent/igos-tree");
    let r = igos(cwd.path(), &["explain", "--root", "/nonexistent/igos-tree", "bat"]);
    assert_clean("explain: missing root", &r, 2, "/nonexistent/igos-tree");
    let r = igos(cwd.path(), &["check", "--root", "."]);
    assert_clean("no packages/", &r, 2, "packages/");
    cwd.write("packages", "a file, not a directory");
    let r = igos(cwd.path(), &["check", "--root", "."]);
    assert_clean("packages is a file", &r, 2, "packages/");
}

// ---- mini fuzz: deterministic mutations of real inputs, on every test run -----------------

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

/// Interesting insertions: the tokens both parsers care about, and bytes that break UTF-8.
const TOKENS: &[&[u8]] = &[
    b"(", b")", b"[", b"]", b"{", b"}", b"\"", b"\\", b"\n", b"\r\n", b"\r", b"#", b":", b"- ", b"&a ", b"*a", b"!", b"|",
    b"\0", b"\t", b"\xef\xbb\xbf", b"\xc3\xa9", b"\xff", b"\xe2\x82", b" not ", b" and ", b" in ", b"~", b"==", b"{p.name}",
    b"policy 1\n", b"set s {\n", b"check x halt {\n", b"}\n", b"---\n", b"? ", b"!!binary ", b"%YAML 1.2\n", b"'", b"| \n",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.truncate(at),
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let n = if rng.below(8) == 0 { 1 + rng.below(200) } else { 1 };
                let ins: Vec<u8> = t.iter().copied().cycle().take(t.len() * n).collect();
                v.splice(at..at, ins);
            }
            3 => {
                let end = (at + rng.below(64)).min(v.len());
                v.drain(at..end);
            }
            4 if !v.is_empty() => {
                // Duplicate a slice somewhere else (repeated keys, blocks, lines).
                let a = rng.below(v.len());
                let b = (a + rng.below(128)).min(v.len());
                let piece = v[a..b].to_vec();
                let to = rng.below(v.len() + 1);
                v.splice(to..to, piece);
            }
            _ => {
                let b = (rng.next() & 0xff) as u8;
                v.insert(at, b);
            }
        }
    }
    v
}

#[test]
fn mini_fuzz_rule_files() {
    let mut rng = Rng(0x1605_2026_0000_0001);
    let seeds: Vec<(&str, &str)> = igos::rules::BUILT_IN.to_vec();
    let cases = 2000;
    for case in 0..cases {
        let (seed_name, seed) = seeds[case % seeds.len()];
        let bytes = mutate(&mut rng, seed.as_bytes());
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let result = std::panic::catch_unwind(|| {
            let _ = igos::lang::syntax::parse(igos::source::SourceId(0), &text);
            // Compiled alone, and every tenth case with the other rule files, so names
            // across files resolve and the type checker sees the whole policy.
            let mut texts: Vec<(String, Result<String, String>)> = if case % 10 == 0 {
                seeds.iter().filter(|(n, _)| *n != seed_name).map(|(n, t)| (n.to_string(), Ok(t.to_string()))).collect()
            } else {
                vec![]
            };
            texts.push((seed_name.to_string(), Ok(text.clone())));
            let mut sources = SourceMap::new();
            let rules = igos::rules::compile_texts(texts, &mut sources);
            for e in &rules.errors {
                let _ = diagnostic::render(&diagnostic::rule_error(&sources, e), Style::PLAIN);
            }
            if rules.errors.is_empty() {
                let _ = igos::fmt::meaning(&igos::fmt::format(&text));
            }
        });
        if result.is_err() {
            let path = std::env::temp_dir().join(format!("igos-mini-fuzz-rules-{case}.pol"));
            let _ = std::fs::write(&path, &bytes);
            panic!("case {case} (mutated {seed_name}) panicked; input saved to {}", path.display());
        }
    }
}

#[test]
fn mini_fuzz_recipes() {
    let mut rng = Rng(0x1605_2026_0000_0002);
    let seeds: Vec<Vec<u8>> = fixtures("../../fuzz/seeds/recipe")
        .into_iter()
        .chain(fixtures("recipes"))
        .map(|p| std::fs::read(p).expect("seed"))
        .collect();
    assert!(seeds.len() >= 50, "recipe seeds: {}", seeds.len());
    // One small tree, one recipe rewritten per case: load_tree reads it as in a real run.
    let t = TempDir::new("mini-fuzz-tree");
    t.write("packages/core/zlib/package.yml", &support::recipe("zlib", "core", &[], &[]));
    t.write("builders/chroot-build-ch8.list", "zlib\nxz\n");
    let cases = 2000;
    for case in 0..cases {
        let bytes = mutate(&mut rng, &seeds[case % seeds.len()]);
        std::fs::write(t.path().join("packages/core/zlib/package.yml"), &bytes).expect("write");
        let result = std::panic::catch_unwind(|| {
            let mut sources = SourceMap::new();
            let tree = igos::tree::load_tree(t.path(), &mut sources).expect("the tree itself is usable");
            for p in &tree.problems {
                let _ = diagnostic::position(&sources, p.span);
            }
            // Every tenth case runs the rules and renders the findings (spans into the text).
            if case % 10 == 0 {
                let mut s2 = SourceMap::new();
                let rules2 = igos::rules::load(None, &mut s2).expect("rules");
                let tree = igos::tree::load_tree(t.path(), &mut s2).expect("tree");
                let outcome = igos::check::evaluate(&rules2.policy, &tree, TODAY);
                for f in outcome.findings() {
                    let _ = diagnostic::render(&diagnostic::finding(&s2, f), Style::PLAIN);
                }
            }
        });
        if result.is_err() {
            let path = std::env::temp_dir().join(format!("igos-mini-fuzz-recipe-{case}.yml"));
            let _ = std::fs::write(&path, &bytes);
            panic!("case {case} panicked; input saved to {}", path.display());
        }
    }
}
