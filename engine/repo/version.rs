//! Version ordering: the rpm/pacman comparison (runs of digits compare as numbers, runs of
//! letters as text, a digit run is newer than a letter run), then the release.

use std::cmp::Ordering;

fn segments(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let Some(&c) = b.get(i) else { break };
        if !c.is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let digit = c.is_ascii_digit();
        let start = i;
        while b.get(i).is_some_and(|c| c.is_ascii_alphanumeric() && c.is_ascii_digit() == digit) {
            i += 1;
        }
        if let Some(s) = v.get(start..i) {
            out.push(s);
        }
    }
    out
}

pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (sa, sb) = (segments(a), segments(b));
    for (x, y) in sa.iter().zip(&sb) {
        let xd = x.bytes().all(|c| c.is_ascii_digit());
        let yd = y.bytes().all(|c| c.is_ascii_digit());
        let o = match (xd, yd) {
            (true, true) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    sa.len().cmp(&sb.len())
}

/// Version, then release.
pub fn compare(av: &str, ar: i64, bv: &str, br: i64) -> Ordering {
    compare_versions(av, bv).then(ar.cmp(&br))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn ordering() {
        assert_eq!(compare_versions("1.10", "1.9"), Greater);
        assert_eq!(compare_versions("2.40.1", "2.40"), Greater);
        assert_eq!(compare_versions("1.0", "1.0"), Equal);
        assert_eq!(compare_versions("1.0a", "1.0"), Greater);
        assert_eq!(compare_versions("1.0", "1.0.0"), Less);
        assert_eq!(compare_versions("010", "10"), Equal);
        assert_eq!(compare("1.0", 2, "1.0", 1), Greater);
    }
}
