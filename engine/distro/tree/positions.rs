//! Where things are written in a package.yml. serde_yaml gives values but no positions, so
//! one light pass over the text finds the spans of top-level keys and of list items under
//! the keys rules point at. Values always come from the YAML parse; this only locates them.

/// A byte range in the file.
pub type Range = (usize, usize);

/// Everything borrows from the scanned text: this pass runs once per recipe, 100,000 times
/// on a large tree, so it allocates only its tables (a handful of short vectors, searched
/// in order: a recipe has a few lists, so no hashing).
#[derive(Debug, Default)]
pub struct Positions<'t> {
    /// Top-level keys in file order.
    pub keys: Vec<(&'t str, Range)>,
    /// Top-level keys written with no value: `key:` alone, `null`, `~`, `""`, `''`.
    pub empty: Vec<&'t str>,
    /// List items by path, (`dependencies`, `build`) or (`verify_paths`, ``)..., in order.
    lists: Vec<(Path<'t>, Vec<(&'t str, Range)>)>,
    /// Keys inside `source:` entries: (entry index, key) -> the value's range.
    source_keys: Vec<((usize, &'t str), Range)>,
}

/// A top-level key and, under `dependencies`, the sub-key (else "").
type Path<'t> = (&'t str, &'t str);

impl<'t> Positions<'t> {
    /// The items of the list at `key` (`dependencies.build`: key `dependencies`, sub `build`).
    pub fn items(&self, key: &str, sub: &str) -> &[(&'t str, Range)] {
        self.lists.iter().find(|(p, _)| p.0 == key && p.1 == sub).map_or(&[], |(_, v)| v.as_slice())
    }

    /// The value of `key:` in the `entry`th item of `source:`.
    pub fn source_key(&self, entry: usize, key: &str) -> Option<Range> {
        self.source_keys.iter().find(|((i, k), _)| *i == entry && *k == key).map(|(_, r)| *r)
    }

    fn list(&mut self, path: Path<'t>) -> &mut Vec<(&'t str, Range)> {
        let i = self.lists.iter().position(|(p, _)| *p == path).unwrap_or_else(|| {
            self.lists.push((path, vec![]));
            self.lists.len() - 1
        });
        &mut self.lists[i].1
    }
}

/// The value part of `text` (after `- ` or `key: `): unquoted, without a trailing comment.
fn value_range(line: &str, start: usize) -> Option<(&str, Range)> {
    let rest = &line[start..];
    let lead = rest.len() - rest.trim_start().len();
    let v = rest.trim_start();
    if v.is_empty() || v.starts_with('#') {
        return None;
    }
    if let Some(q) = v.chars().next().filter(|c| *c == '"' || *c == '\'') {
        // Quoted: the span is the text inside the quotes.
        let inner = &v[1..];
        let len = inner.find(q).unwrap_or(inner.len());
        let at = start + lead + 1;
        return Some((&inner[..len], (at, at + len)));
    }
    let end = super::block_yaml::find_pair(v, b" #").unwrap_or(v.len());
    let t = v[..end].trim_end();
    Some((t, (start + lead, start + lead + t.len())))
}

/// The value after `key:` is nothing, `null` or `~` (YAML's null) or an empty string, and
/// no indented block (nor a list at column 0) follows on the next lines.
fn is_empty_value(line: &str, start: usize, rest: &str) -> bool {
    let v = line[start..].trim_start();
    let v = if v.starts_with('#') { "" } else { v[..super::block_yaml::find_pair(v, b" #").unwrap_or(v.len())].trim_end() };
    match v {
        "null" | "Null" | "NULL" | "~" | "\"\"" | "''" => true,
        "" => {
            // A block value follows when the next line that says something is indented or
            // a `- ` item.
            let next = rest.lines().find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
            !next.is_some_and(|l| l.starts_with([' ', '\t', '-']))
        }
        _ => false,
    }
}

/// Items of a flow list `[a, b, "c"]` starting at byte `start` of `line`.
fn flow_items(line: &str, start: usize) -> Vec<(&str, Range)> {
    let Some(open) = line[start..].find('[').map(|i| i + start) else { return vec![] };
    let close = line[open..].find(']').map(|i| i + open).unwrap_or(line.len());
    let mut out = vec![];
    let mut pos = open + 1;
    for part in line[open + 1..close].split(',') {
        let lead = part.len() - part.trim_start().len();
        let t = part.trim();
        if !t.is_empty() {
            let unq = t.trim_matches(|c| c == '"' || c == '\'');
            let off = pos + lead + t.find(unq).unwrap_or(0);
            out.push((unq, (off, off + unq.len())));
        }
        pos += part.len() + 1;
    }
    out
}

/// Split `key: value` at the first `:` followed by a space or the end of the line.
fn key_colon(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len()).find(|&i| b[i] == b':' && (i + 1 == b.len() || b[i + 1] == b' ' || b[i + 1] == b'\t'))
}

pub fn scan(text: &str) -> Positions<'_> {
    let mut pos = Positions::default();
    let mut top: Option<&str> = None;
    let mut sub: Option<&str> = None; // the sub-key under `dependencies`
    let mut source_entry: Option<usize> = None;
    let mut offset = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let (raw, after) = super::block_yaml::split_line(rest);
        let consumed = rest.len() - after.len();
        rest = after;
        let line = raw.trim_end_matches('\r');
        let line_start = offset;
        offset += consumed;
        let indent = line.len() - line.trim_start().len();
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        if indent == 0 && !body.starts_with('-') {
            // A top-level key.
            sub = None;
            source_entry = None;
            let Some(colon) = key_colon(line) else {
                top = None;
                continue;
            };
            let key = line[..colon].trim().trim_matches(|c| c == '"' || c == '\'');
            pos.keys.push((key, (line_start, line_start + colon)));
            if is_empty_value(line, colon + 1, after) {
                pos.empty.push(key);
            }
            if line[colon + 1..].trim_start().starts_with('[') {
                let items = flow_items(line, colon + 1);
                pos.list((key, "")).extend(shift(items, line_start));
            } else if key == "pending_acquisition" {
                if let Some((t, r)) = value_range(line, colon + 1) {
                    pos.list((key, "")).push((t, (line_start + r.0, line_start + r.1)));
                }
            }
            top = Some(key);
            continue;
        }
        let Some(section) = top else { continue };
        if section == "dependencies" && !body.starts_with('-') {
            if let Some(colon) = key_colon(body) {
                let key = body[..colon].trim();
                let after = indent + colon + 1;
                if line[after..].trim_start().starts_with('[') {
                    let items = flow_items(line, after);
                    pos.list((section, key)).extend(shift(items, line_start));
                }
                sub = Some(key);
            }
            continue;
        }
        if let Some(rest) = body.strip_prefix('-') {
            let dash = indent;
            let path = match (section, sub) {
                ("dependencies", Some(k)) => (section, k),
                ("dependencies", None) => continue,
                (s, _) => (s, ""),
            };
            if section == "source" {
                let n = pos.items("source", "").len();
                source_entry = Some(n);
                let r = (line_start + dash, line_start + line.len());
                pos.list(path).push((rest.trim(), r));
                // `- url: x` carries the first key on the dash line.
                if let Some(colon) = key_colon(rest.trim_start()) {
                    let k = rest.trim_start()[..colon].trim();
                    let kstart = dash + 1 + (rest.len() - rest.trim_start().len());
                    if let Some((_, vr)) = value_range(line, kstart + colon + 1) {
                        pos.source_keys.push(((n, k), (line_start + vr.0, line_start + vr.1)));
                    }
                }
                continue;
            }
            if let Some((t, r)) = value_range(line, dash + 1) {
                pos.list(path).push((t, (line_start + r.0, line_start + r.1)));
            }
            continue;
        }
        if section == "source" {
            if let (Some(n), Some(colon)) = (source_entry, key_colon(body)) {
                let k = body[..colon].trim();
                if let Some((_, vr)) = value_range(line, indent + colon + 1) {
                    pos.source_keys.push(((n, k), (line_start + vr.0, line_start + vr.1)));
                }
            }
        }
    }
    pos
}

fn shift(items: Vec<(&str, Range)>, by: usize) -> Vec<(&str, Range)> {
    items.into_iter().map(|(t, (a, b))| (t, (a + by, b + by))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_and_flow_lists() {
        let text = "name: x\ndependencies:\n  build: [which, \"make\"]\n  host: []\n  runtime:\n    - glibc # libc\n    - \"zlib\"\nverify_paths:\n  - /usr/bin/x\n";
        let p = scan(text);
        let names: Vec<&str> = p.keys.iter().map(|k| k.0).collect();
        assert_eq!(names, ["name", "dependencies", "verify_paths"]);
        let build = &p.items("dependencies", "build");
        assert_eq!(build.iter().map(|i| i.0).collect::<Vec<_>>(), ["which", "make"]);
        assert_eq!(&text[build[0].1 .0..build[0].1 .1], "which");
        let runtime = &p.items("dependencies", "runtime");
        assert_eq!(&text[runtime[0].1 .0..runtime[0].1 .1], "glibc");
        assert_eq!(&text[runtime[1].1 .0..runtime[1].1 .1], "zlib");
        assert_eq!(p.items("verify_paths", "")[0].0, "/usr/bin/x");
    }

    #[test]
    fn source_entries_and_keys() {
        let text = "source:\n  - url: https://x/a.tar.gz\n    sha256: abc # pinned\n  - url: file:///b\n";
        let p = scan(text);
        assert_eq!(p.items("source", "").len(), 2);
        let r = p.source_key(0, "sha256").unwrap();
        assert_eq!(&text[r.0..r.1], "abc");
        let r = p.source_key(1, "url").unwrap();
        assert_eq!(&text[r.0..r.1], "file:///b");
    }

    #[test]
    fn odd_keys() {
        let p = scan("configure():\n  - -DX=1\nworking_dir: build\n");
        assert_eq!(p.keys[0].0, "configure()");
    }
}
