//! Looking at paths inside a root without ever leaving it: symlinks met on the way are resolved
//! lexically relative to the root (an absolute target means `<root>/target`).

use std::fs;
use std::path::{Path, PathBuf};

/// What the root has at a path (final component not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RootKind {
    Missing,
    Dir,
    File,
    /// A symlink whose target (resolved within the root) is a directory, e.g. `lib -> usr/lib`.
    SymlinkToDir,
    Symlink,
    Other,
}

/// Resolve a relative path to real directories inside `root`, following symlinks in every
/// component except the last when `follow_last` is false. Returns the resolved relative path.
pub fn resolve(root: &Path, rel: &str, follow_last: bool) -> Option<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut pending: Vec<String> = rel.split('/').filter(|c| !c.is_empty() && *c != ".").map(str::to_string).rev().collect();
    let mut hops = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            stack.pop();
            continue;
        }
        if c == "." {
            continue;
        }
        stack.push(c);
        let is_last = pending.is_empty();
        if is_last && !follow_last {
            break;
        }
        let here = root.join(stack.join("/"));
        if let Ok(m) = fs::symlink_metadata(&here) {
            if m.file_type().is_symlink() {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                let t = fs::read_link(&here).ok()?;
                let t = t.to_str()?.to_string();
                stack.pop();
                if t.starts_with('/') {
                    stack.clear();
                }
                for tc in t.split('/').filter(|c| !c.is_empty()).rev() {
                    pending.push(tc.to_string());
                }
            }
        }
    }
    Some(stack.join("/"))
}

/// Absolute host path for `rel` with its parent directories resolved inside the root.
pub fn host_path(root: &Path, rel: &str) -> PathBuf {
    match resolve(root, rel, false) {
        Some(r) if !r.is_empty() => root.join(r),
        _ => root.join(rel),
    }
}

pub fn kind(root: &Path, rel: &str) -> RootKind {
    let p = host_path(root, rel);
    match fs::symlink_metadata(&p) {
        Err(_) => RootKind::Missing,
        Ok(m) if m.file_type().is_symlink() => match resolve(root, rel, true) {
            Some(r) if root.join(&r).is_dir() && fs::symlink_metadata(root.join(&r)).map(|m| m.is_dir()).unwrap_or(false) => RootKind::SymlinkToDir,
            _ => RootKind::Symlink,
        },
        Ok(m) if m.is_dir() => RootKind::Dir,
        Ok(m) if m.is_file() => RootKind::File,
        Ok(_) => RootKind::Other,
    }
}

/// Can this process create and rename entries in `dir`? access(2) reports EROFS for a
/// read-only filesystem even to root, where permission bits would not stop a write.
pub fn writable(dir: &Path) -> std::io::Result<()> {
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).map_err(std::io::Error::from)
}
