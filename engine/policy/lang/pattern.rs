//! Log line templates (the `patterns` blocks of the rules): how a line of a configure or
//! build log is recognised. The templates are rule data; this is only the matcher.
//!
//! A template matches a whole line (trailing blanks ignored), ASCII case-insensitively:
//!
//! - `{name}` captures a dependency or target name: a run of `A-Z a-z 0-9 _ + - .`;
//! - `{feature}` captures the feature of a summary line: any text without `:` or `=`,
//!   trimmed (so `  X11 support   : NO` gives `X11 support`);
//! - `*` matches any text (possibly empty);
//! - a run of spaces matches one or more blanks (spaces or tabs); a leading space so
//!   requires the line to be indented;
//! - anything else matches itself.
//!
//! Word boundaries are exact: where `{name}` touches a `*` or the start or end of the
//! line, the capture cannot start or end inside a word, so `*{name}` never captures `ssl`
//! out of `openssl`. The capture is then compared whole (see `upstream::Resolver::names_of` in igos-distro), never as
//! a substring.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(Vec<u8>),
    Blank,
    Star,
    Name,
    Feature,
}

/// What a template's capture is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// `{name}`: a dependency or target a detection line reports as not found.
    Name,
    /// `{feature}`: a summary line that shows a feature disabled.
    Feature,
}

// The class a match reports (`h.class` in the rules), declared once with the type.
crate::closed! { impl Capture { Name = "detection", Feature = "summary" } }

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segs: Vec<Seg>,
    pub capture: Capture,
}

/// Lines longer than this are not matched (a minified blob is not a configure message).
pub const MAX_LINE: usize = 2000;

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'+' || c == b'-'
}

fn is_name(c: u8) -> bool {
    is_word(c) || c == b'.'
}

/// A byte a captured name cannot be next to: a name character, or part of a non-ASCII
/// character (a letter such as `ü` continues a word).
fn joins(c: u8) -> bool {
    is_word(c) || c >= 0x80
}

impl Template {
    /// Compile a template; the error says what is wrong with it.
    pub fn parse(t: &str) -> Result<Template, String> {
        let mut segs: Vec<Seg> = vec![];
        let mut capture = None;
        let b = t.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c == b'{' {
                let end = t[i..].find('}').map(|j| i + j).ok_or_else(|| format!("`{{` at column {} is not closed by `}}`", i + 1))?;
                let (seg, cap) = match &t[i + 1..end] {
                    "name" => (Seg::Name, Capture::Name),
                    "feature" => (Seg::Feature, Capture::Feature),
                    other => return Err(format!("unknown placeholder `{{{other}}}`: a template captures `{{name}}` or `{{feature}}`")),
                };
                if capture.is_some() {
                    return Err("a template captures exactly one `{name}` or `{feature}`, this one has two".into());
                }
                if matches!(segs.last(), Some(Seg::Star)) && seg == Seg::Feature {
                    return Err("`*{feature}` is ambiguous: write the text before the feature".into());
                }
                capture = Some(cap);
                segs.push(seg);
                i = end + 1;
            } else if c == b'*' {
                if !matches!(segs.last(), Some(Seg::Star)) {
                    segs.push(Seg::Star);
                }
                i += 1;
            } else if c == b' ' || c == b'\t' {
                while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                    i += 1;
                }
                segs.push(Seg::Blank);
            } else {
                let start = i;
                while i < b.len() && !matches!(b[i], b'{' | b'*' | b' ' | b'\t') {
                    i += 1;
                }
                segs.push(Seg::Lit(t[start..i].to_ascii_lowercase().into_bytes()));
            }
        }
        let capture = capture.ok_or("a template captures `{name}` or `{feature}`; this one captures nothing")?;
        if matches!(segs.last(), Some(Seg::Feature)) {
            return Err("`{feature}` at the end of a template would capture the whole rest of the line: write the disabled value after it".into());
        }
        Ok(Template { segs, capture })
    }

    /// Match a whole line. Some((start, end)): the capture's byte range in `line`.
    pub fn matches(&self, line: &str) -> Option<(usize, usize)> {
        let line = line.trim_end();
        if line.len() > MAX_LINE {
            return None;
        }
        self.matches_lower(line, &line.to_ascii_lowercase())
    }

    /// [`Template::matches`] with the line already trimmed at the end and lowercased
    /// (`lower`), so many templates can try one line without re-lowering it.
    pub fn matches_lower(&self, line: &str, lower: &str) -> Option<(usize, usize)> {
        let (s, e) = self.at(lower.as_bytes(), 0, 0)?;
        if self.capture == Capture::Feature {
            // Trim the captured text.
            let text = &line[s..e];
            let lead = text.len() - text.trim_start().len();
            let t = text.trim();
            return Some((s + lead, s + lead + t.len()));
        }
        Some((s, e))
    }

    fn at(&self, l: &[u8], si: usize, pos: usize) -> Option<(usize, usize)> {
        let Some(seg) = self.segs.get(si) else {
            return (pos == l.len()).then_some((0, 0));
        };
        match seg {
            Seg::Lit(t) => {
                if l.len() >= pos + t.len() && &l[pos..pos + t.len()] == t.as_slice() {
                    self.at(l, si + 1, pos + t.len())
                } else {
                    None
                }
            }
            Seg::Blank => {
                let mut end = pos;
                while end < l.len() && (l[end] == b' ' || l[end] == b'\t') {
                    end += 1;
                }
                if end == pos {
                    return None;
                }
                // Blanks are greedy: the next segment never starts with a blank.
                self.at(l, si + 1, end)
            }
            Seg::Star => (pos..=l.len()).find_map(|p| self.at(l, si + 1, p)),
            Seg::Name => {
                let after_star = si > 0 && self.segs[si - 1] == Seg::Star;
                if after_star && pos > 0 && (is_name(l[pos - 1]) || l[pos - 1] >= 0x80) {
                    return None;
                }
                let mut max = pos;
                while max < l.len() && is_name(l[max]) {
                    max += 1;
                }
                let open_end = matches!(self.segs.get(si + 1), None | Some(Seg::Star) | Some(Seg::Blank));
                // Longest first.
                for end in (pos + 1..=max).rev() {
                    if l[end - 1] == b'.' {
                        continue;
                    }
                    if open_end && end < l.len() && joins(l[end]) {
                        continue;
                    }
                    if open_end && end < l.len() && l[end] == b'.' && l.get(end + 1).is_some_and(|c| c.is_ascii_alphanumeric()) {
                        continue;
                    }
                    if self.at(l, si + 1, end).is_some() {
                        return Some((pos, end));
                    }
                }
                None
            }
            Seg::Feature => {
                let mut max = pos;
                while max < l.len() && l[max] != b':' && l[max] != b'=' {
                    max += 1;
                }
                for end in (pos + 1..=max).rev() {
                    // Never end inside a multi-byte character.
                    if end < l.len() && (l[end] & 0xC0) == 0x80 {
                        continue;
                    }
                    let text = &l[pos..end];
                    if !text.iter().any(|c| c.is_ascii_alphanumeric()) {
                        continue;
                    }
                    if self.at(l, si + 1, end).is_some() {
                        return Some((pos, end));
                    }
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Template;

    fn cap<'a>(t: &str, line: &'a str) -> Option<&'a str> {
        let t = Template::parse(t).unwrap();
        t.matches(line).map(|(s, e)| &line[s..e])
    }

    #[test]
    fn autotools() {
        assert_eq!(cap("checking for {name}... no", "checking for zlib... no"), Some("zlib"));
        assert_eq!(cap("checking for {name}.h... no", "checking for zlib.h... no"), Some("zlib"));
        assert_eq!(cap("checking for {name}... no", "checking for zlib.h... no"), Some("zlib.h"));
        assert_eq!(cap("checking for {name}... no", "checking for zlib... yes"), None);
        assert_eq!(cap("checking for * in -l{name}... no", "checking for SSL_new in -lssl... no"), Some("ssl"));
        assert_eq!(cap("checking for {name} >= *... no", "checking for glib-2.0 >= 2.80... no"), Some("glib-2.0"));
    }

    #[test]
    fn word_boundaries() {
        assert_eq!(cap("*Could NOT find {name}*", "-- Could NOT find OpenSSL (missing: OPENSSL_CRYPTO_LIBRARY)"), Some("OpenSSL"));
        assert_eq!(cap("*{name} found: NO*", "Run-time dependency openssl found: NO (tried pkgconfig)"), Some("openssl"));
        // `*{name}` cannot start inside `openssl`; the capture is the whole word.
        let t = Template::parse("* {name} found: NO*").unwrap();
        let line = "Run-time dependency openssl found: NO";
        assert_eq!(t.matches(line).map(|(s, e)| &line[s..e]), Some("openssl"));
        assert_eq!(cap("*Could NOT find {name}*", "-- Could NOT find ZLIBX"), Some("ZLIBX"));
    }

    #[test]
    fn meson_and_summaries() {
        assert_eq!(cap("Run-time dependency {name} found: NO*", "Run-time dependency libseccomp found: NO (tried pkgconfig and cmake)"), Some("libseccomp"));
        assert_eq!(cap("Dependency {name} found: NO*", "Run-time dependency libseccomp found: NO"), None);
        assert_eq!(cap(" {feature}: NO", "    X11 support         : NO"), Some("X11 support"));
        assert_eq!(cap(" {feature}: disabled", "    libfido2: disabled"), Some("libfido2"));
        assert_eq!(cap(" {feature}: disabled", "libfido2: disabled"), None);
        assert_eq!(cap(" {feature}: no", "    a: b: no"), None);
    }

    #[test]
    fn non_ascii_lines_never_split_a_character() {
        assert_eq!(cap(" {feature}*: no", "    Unterstützung für ÄÖÜ   : no"), Some("Unterstützung für ÄÖÜ"));
        assert_eq!(cap("*{name}*", "ünïcödé ßtraße zlib ✓"), Some("zlib"));
        assert_eq!(cap("checking for {name}... no", "checking for zlíb... no"), None);
    }

    #[test]
    fn bad_templates() {
        assert!(Template::parse("no capture").is_err());
        assert!(Template::parse("{name} {name}").is_err());
        assert!(Template::parse("{dep} x").is_err());
        assert!(Template::parse("x {feature}").is_err());
    }
}
