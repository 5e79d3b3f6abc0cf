//! The exclusive mutation lock: `flock` on a separate lock file, released by the kernel if pkm
//! dies, so a crashed run never leaves a stale lock behind.

use super::db::Layout;
use super::error::{PkmError, Result};
use std::fs::{File, OpenOptions};

pub struct Lock {
    _file: File,
}

/// Take the lock, waiting only if `wait` (otherwise a held lock is an error, exit 1).
pub fn acquire(layout: &Layout) -> Result<Lock> {
    std::fs::create_dir_all(layout.state_dir()).map_err(|e| PkmError::io(layout.state_dir().display(), e))?;
    let p = layout.lock_path();
    let f = OpenOptions::new().create(true).truncate(false).write(true).open(&p).map_err(|e| PkmError::io(p.display(), e))?;
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
