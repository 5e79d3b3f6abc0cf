//! The build's state directory (default `<root>/build/state`):
//!
//! ```text
//! current-phase          the phase running now, or the one that failed (one line)
//! STOP                   created by an operator: the run stops before the next phase
//! checkpoints/<phase>    written when a `checkpoint` phase succeeds: what it ran with
//!                        (phases/checkpoint.rs)
//! logs/<phase>.log       the phase command's stdout and stderr
//! ```

use std::io;
use std::path::{Path, PathBuf};

use super::checkpoint::Record;

pub const PHASE_FILE: &str = "current-phase";
pub const STOP_FILE: &str = "STOP";

#[derive(Debug, Clone)]
pub struct StateDir {
    pub dir: PathBuf,
}

impl StateDir {
    pub fn new(dir: impl Into<PathBuf>) -> StateDir {
        StateDir { dir: dir.into() }
    }
    pub fn exists(&self) -> bool {
        self.dir.is_dir()
    }
    /// Create the directory and its `logs/` and `checkpoints/`.
    pub fn create(&self) -> io::Result<()> {
        std::fs::create_dir_all(self.dir.join("logs"))?;
        std::fs::create_dir_all(self.dir.join("checkpoints"))
    }
    pub fn phase_file(&self) -> PathBuf {
        self.dir.join(PHASE_FILE)
    }
    pub fn stop_file(&self) -> PathBuf {
        self.dir.join(STOP_FILE)
    }
    pub fn log(&self, phase: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{phase}.log"))
    }
    pub fn checkpoint(&self, phase: &str) -> PathBuf {
        self.dir.join("checkpoints").join(phase)
    }
    pub fn stop_requested(&self) -> bool {
        self.stop_file().exists()
    }
    /// The stop file was honoured: remove it so the resumed run goes on.
    pub fn clear_stop(&self) -> io::Result<()> {
        match std::fs::remove_file(self.stop_file()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
    /// Record the phase that is about to run.
    pub fn record_current(&self, phase: &str) -> io::Result<()> {
        write_atomically(&self.phase_file(), format!("{phase}\n").as_bytes())
    }
    /// Record that a checkpoint phase finished, with what it ran with.
    pub fn record_checkpoint(&self, record: &Record) -> io::Result<()> {
        write_atomically(&self.checkpoint(&record.phase), record.render().as_bytes())
    }
    /// The record of a phase's checkpoint: None when there is none, Some(None) when the
    /// file is not a record this igos can read.
    pub fn read_checkpoint(&self, phase: &str) -> Option<Option<Record>> {
        let text = std::fs::read_to_string(self.checkpoint(phase)).ok()?;
        Some(Record::parse(&text))
    }
    /// A phase is about to run again: its checkpoint and those of the phases after it no
    /// longer describe what is on disk.
    pub fn forget_checkpoints<'a>(&self, phases: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
        for p in phases {
            match std::fs::remove_file(self.checkpoint(p)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Write via a temporary file and a rename, so a reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
