//! Git, as `--baseline` and `--since` use it: a revision is verified to name a commit
//! before it is used anywhere, and a revision that looks like an option is refused, so
//! `--baseline=--output=FILE` can never reach a git command as an option.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn git(dir: &Path, args: &[&str]) -> Result<Output, String> {
    Command::new("git").arg("-C").arg(dir).args(args).output().map_err(|e| format!("cannot run git: {e}"))
}

/// The top directory of the git work tree holding `dir`, or None when it is in none.
pub fn work_tree_top(dir: &Path) -> Option<PathBuf> {
    let out = git(dir, &["rev-parse", "--show-toplevel"]).ok()?;
    out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n')))
}

/// The full commit id `rev` names in the repository of `dir`. Refused: an empty revision,
/// one that starts with `-` (an option, not a revision), and anything that is not a commit
/// (`git rev-parse --verify --end-of-options REV^{commit}`).
pub fn verify_commit(dir: &Path, rev: &str) -> Result<String, String> {
    if rev.is_empty() {
        return Err("an empty revision".into());
    }
    if rev.starts_with('-') {
        return Err(format!("`{}` looks like an option, not a git revision; refused", crate::visible::visible(rev)));
    }
    let out = git(dir, &["rev-parse", "--verify", "--quiet", "--end-of-options", &format!("{rev}^{{commit}}")])?;
    if !out.status.success() {
        return Err(format!("`{}` is not a known git revision (a commit) in {}", crate::visible::visible(rev), dir.display()));
    }
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("git gave no commit id for `{}`", crate::visible::visible(rev)));
    }
    Ok(id)
}
