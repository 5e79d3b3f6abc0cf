//! Where pkm keeps its state under a root: the state directory and what is in it, and the
//! names of the text manifests there. Below everything else in pkm (the state checks, the
//! database, the text manifests all start from these paths).

use std::path::{Path, PathBuf};

/// Where pkm keeps its state under a root.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Layout { root: root.to_path_buf() }
    }
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("var/lib/igos")
    }
    pub fn db_path(&self) -> PathBuf {
        self.state_dir().join("pkm.db")
    }
    pub fn lock_path(&self) -> PathBuf {
        self.state_dir().join("pkm.lock")
    }
    pub fn manifests_dir(&self) -> PathBuf {
        self.state_dir().join("packages")
    }
    pub fn staging_dir(&self) -> PathBuf {
        self.state_dir().join("staging")
    }
    pub fn text_manifest(&self, name: &str, version: &str) -> PathBuf {
        self.manifests_dir().join(manifest_file_name(name, version))
    }
}

/// The text manifests under `packages/`, sorted: regular files, not the temporary `.NAME.tmp`
/// of a write in progress. None when the directory is missing or unreadable.
pub fn manifest_names(layout: &Layout) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(layout.manifests_dir()) {
        Ok(rd) => rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// The file name of a package's text manifest: `<name>-<version>`, unambiguous for any name and
/// version. The version never holds a raw `-` (nor the name a raw `/`, `%` or control byte, nor
/// a leading `.`, which would hide it among the temporary files): those bytes are written `%XX`,
/// so the last `-` always separates the two. Versions without `-` keep their old, plain names;
/// `a-b` + `1` is `a-b-1` and `a` + `b-1` is `a-b%2D1`.
pub fn manifest_file_name(name: &str, version: &str) -> String {
    fn esc(out: &mut String, s: &str, is_name: bool) {
        for (i, c) in s.chars().enumerate() {
            let plain = match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '+' | '@' => true,
                '.' => !(is_name && i == 0),
                '-' => is_name,
                c => !c.is_ascii() && !crate::visible::is_unsafe(c),
            };
            if plain {
                out.push(c);
            } else {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    let mut out = String::with_capacity(name.len() + version.len() + 1);
    esc(&mut out, name, true);
    out.push('-');
    esc(&mut out, version, false);
    out
}

