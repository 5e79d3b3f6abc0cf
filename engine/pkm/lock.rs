//! The exclusive mutation lock: `flock` on a separate lock file, released by the kernel if pkm
//! dies, so a crashed run never leaves a stale lock behind.

use super::db::Layout;
use super::error::{PkmError, Result};
use std::fs::File;

pub struct Lock {
    _file: File,
}

/// Take the lock, waiting only if `wait` (otherwise a held lock is an error, exit 1).
pub fn acquire(layout: &Layout) -> Result<Lock> {
    // The lock file is opened beneath the root with no symlink followed (`state`), after the
    // whole state was checked: a planted `pkm.lock -> /somewhere` is refused, never opened.
    super::state::check(layout)?;
    let p = layout.lock_path();
    let f = super::state::open_file(layout, "", "pkm.lock", false)?;
    match f.try_lock() {
        Ok(()) => Ok(Lock { _file: f }),
        Err(std::fs::TryLockError::WouldBlock) => Err(PkmError::finding(
            "pkm::locked",
            format!("{}: another pkm holds the lock", p.display()),
        )
        .help("wait for the other pkm to finish; the lock is released automatically when it exits")),
        Err(std::fs::TryLockError::Error(e)) => Err(PkmError::io(p.display(), e)),
    }
}
