//! Glob name patterns (`gnome-*`, `*-helper`, `lib?`): `*` any run, `?` one character.

/// True when `name` matches `pattern`. Linear-time two-pointer match with backtracking
/// to the last `*` only, so a hostile pattern cannot blow up.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p = pattern.as_bytes();
    let n = name.as_bytes();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::matches;
    #[test]
    fn globs() {
        assert!(matches("gnome-*", "gnome-shell"));
        assert!(!matches("gnome-*", "gnome"));
        assert!(matches("*-helper", "chrome-helper"));
        assert!(!matches("*-helper", "helper"));
        assert!(matches("xcb-util-*", "xcb-util-wm"));
        assert!(matches("l?b*", "libfoo"));
        assert!(matches("*", ""));
        assert!(!matches("a*b*c", "aXbY"));
    }
}
