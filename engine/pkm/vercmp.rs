//! Version comparison as pacman's `vercmp` (alpm's rpmvercmp): versions split into runs of
//! digits and of letters at any other character; digit runs compare as numbers, letter runs as
//! strings, a digit run is newer than a letter run, and a trailing letter run is older than
//! nothing (`1.0alpha` < `1.0` < `1.0.1`). An optional `epoch:` prefix compares first; the
//! release compares last, as a number. Installing an older version over a newer one is a
//! downgrade, refused unless asked for ([`check_downgrade`]).

use super::db::Installed;
use super::error::{PkmError, Result};
use crate::archive::Manifest;
use crate::visible::visible;
use std::cmp::Ordering;

/// Refuse installing `m` over the newer `installed` unless `allow`; says whether it is a
/// downgrade.
pub fn check_downgrade(installed: &Installed, m: &Manifest, allow: bool) -> Result<bool> {
    let older = compare(&m.version, i64::from(m.release), &installed.version, installed.release) == Ordering::Less;
    if older && !allow {
        return Err(PkmError::finding(
            "pkm::downgrade",
            format!(
                "{} {}-{} is older than the installed {}-{}: installing it is a downgrade",
                visible(&m.name),
                visible(&m.version),
                m.release,
                visible(&installed.version),
                installed.release
            ),
        )
        .help("nothing was done; pass --allow-downgrade to install the older version"));
    }
    Ok(older)
}

/// The word for replacing `from` (if installed) by `to`.
pub fn verb(from: Option<&str>, to: &str) -> &'static str {
    match from {
        None => "installed",
        Some(f) if vercmp(to, f) == Ordering::Less => "downgraded",
        Some(_) => "upgraded",
    }
}

/// Compare two `[epoch:]version` strings as pacman's vercmp does.
pub fn vercmp(a: &str, b: &str) -> Ordering {
    let (ea, va) = split_epoch(a);
    let (eb, vb) = split_epoch(b);
    ea.cmp(&eb).then_with(|| rpmvercmp(va.as_bytes(), vb.as_bytes()))
}

/// Compare (version, release) pairs: the version first, then the release.
pub fn compare(a_version: &str, a_release: i64, b_version: &str, b_release: i64) -> Ordering {
    vercmp(a_version, b_version).then(a_release.cmp(&b_release))
}

fn split_epoch(v: &str) -> (u64, &str) {
    match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (e.parse().unwrap_or(u64::MAX), rest),
        _ => (0, v),
    }
}

fn rpmvercmp(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut i, mut j) = (0usize, 0usize);
    let at = |s: &[u8], k: usize| s.get(k).copied().unwrap_or(0);
    while i < a.len() && j < b.len() {
        let (si, sj) = (i, j);
        while i < a.len() && !at(a, i).is_ascii_alphanumeric() {
            i += 1;
        }
        while j < b.len() && !at(b, j).is_ascii_alphanumeric() {
            j += 1;
        }
        if i >= a.len() || j >= b.len() {
            break;
        }
        // Different separator lengths decide (as alpm does).
        if i - si != j - sj {
            return (i - si).cmp(&(j - sj));
        }
        let numeric = at(a, i).is_ascii_digit();
        let run = |s: &[u8], mut k: usize| {
            let start = k;
            while k < s.len() && (if numeric { at(s, k).is_ascii_digit() } else { at(s, k).is_ascii_alphabetic() }) {
                k += 1;
            }
            (start, k)
        };
        let (a0, a1) = run(a, i);
        let (b0, b1) = run(b, j);
        if b0 == b1 {
            // Segments of different types: a number is newer than letters.
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let (x, y) = (a.get(a0..a1).unwrap_or_default(), b.get(b0..b1).unwrap_or_default());
        let ord = if numeric {
            let x = trim_zeros(x);
            let y = trim_zeros(y);
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        } else {
            x.cmp(y)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        i = a1;
        j = b1;
    }
    let (ra, rb) = (a.get(i..).unwrap_or_default(), b.get(j..).unwrap_or_default());
    if ra.is_empty() && rb.is_empty() {
        return Ordering::Equal;
    }
    // Whatever is left: a remaining letter run never beats the end of the other string.
    let first_a = ra.first().copied().unwrap_or(0);
    let first_b = rb.first().copied().unwrap_or(0);
    if (ra.is_empty() && !first_b.is_ascii_alphabetic()) || first_a.is_ascii_alphabetic() {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let k = s.iter().position(|b| *b != b'0').unwrap_or(s.len());
    s.get(k..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    /// Cases after pacman's vercmp tests (test/util/vercmptest.sh), both ways round.
    #[test]
    fn agrees_with_pacman() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.5.0", "1.5.0", Equal),
            ("1.5.1", "1.5.0", Greater),
            ("1.5.1", "1.5", Greater),
            ("1.5.0", "1.5", Greater),
            ("1.5b", "1.5", Less),
            ("1.5a", "1.5b", Less),
            ("1.5", "1.5b", Greater),
            ("1.1-1", "1.1", Greater),
            ("1.0alpha", "1.0", Less),
            ("1.0a", "1.0alpha", Less),
            ("1.0b", "1.0alpha", Greater),
            ("1.0pre1", "1.0", Less),
            ("1.0pre1", "1.0pre2", Less),
            ("1.0rc1", "1.0", Less),
            ("1.5.a", "1.5", Greater),
            ("1.5.b", "1.5.a", Greater),
            ("1.5.1", "1.5.b", Greater),
            ("1.5.b", "1.5b", Greater),
            ("2.0", "10.0", Less),
            ("1.010", "1.9", Greater),
            ("1.0", "1.0.0", Less),
            ("1:1.0", "2.0", Greater),
            ("0:1.0", "1.0", Equal),
            ("1.2.3", "1.2.3a", Greater),
            ("abc", "abd", Less),
            ("1.0.0", "1..0", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(vercmp(a, b), *want, "vercmp({a}, {b})");
            assert_eq!(vercmp(b, a), want.reverse(), "vercmp({b}, {a})");
        }
        assert_eq!(compare("2.0", 1, "2.0", 2), Less);
        assert_eq!(compare("2.0", 3, "10", 1), Less);
    }
}
