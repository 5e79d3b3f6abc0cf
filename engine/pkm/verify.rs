//! `pkm verify`: recompute the SHA-256 of every installed file (all cores), check symlink
//! targets and directories. /etc drift is config drift (reported, exit 0); anything else is a
//! finding (exit 1).

use super::db::{self, Layout};
use super::error::{PkmError, Result};
use super::rootfs;
use crate::archive::hex;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    Missing,
    Modified,
    ConfigDrift,
    WrongType,
    LinkChanged,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub path: String,
    pub package: String,
    pub problem: Problem,
}

impl Finding {
    pub fn is_config_drift(&self) -> bool {
        self.problem == Problem::ConfigDrift
    }
    pub fn render(&self) -> String {
        let what = match self.problem {
            Problem::Missing => "MISSING",
            Problem::Modified => "MODIFIED",
            Problem::ConfigDrift => "CONFIG-DRIFT",
            Problem::WrongType => "WRONG-TYPE",
            Problem::LinkChanged => "LINK-CHANGED",
        };
        format!("{what} /{} ({})", self.path, self.package)
    }
}

struct Job {
    package: String,
    row: db::FileRow,
}

pub fn verify(layout: &Layout, conn: &Connection, names: &[String]) -> Result<(usize, Vec<Finding>)> {
    let pkgs = if names.is_empty() {
        db::list_installed(conn)?
    } else {
        let mut v = Vec::new();
        for n in names {
            v.push(db::get_installed(conn, n)?.ok_or_else(|| PkmError::finding("pkm::not-installed", format!("{n} is not installed")))?);
        }
        v
    };
    let mut jobs = Vec::new();
    for p in &pkgs {
        for row in db::files_of(conn, p.id)? {
            jobs.push(Job { package: p.name.clone(), row });
        }
    }
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(16);
    let root = &layout.root;
    let mut findings: Vec<Finding> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut local = Vec::new();
                    // One read buffer per thread (a fresh zeroed 256 KiB buffer per file cost
                    // more than hashing the average small file).
                    let mut buf = vec![0u8; 1 << 20];
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(j) = jobs.get(i) else { break };
                        if let Some(problem) = check(root, &j.row, &mut buf) {
                            local.push(Finding { path: j.row.path.clone(), package: j.package.clone(), problem });
                        }
                    }
                    local
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    findings.sort();
    Ok((jobs.len(), findings))
}

/// SHA-256 of a file's content, lowercase hex, reading through `buf`.
fn hash_with(p: &std::path::Path, buf: &mut [u8]) -> std::io::Result<String> {
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    loop {
        let n = f.read(buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or(&[]));
    }
    Ok(hex(&h.finalize()))
}

fn check(root: &std::path::Path, row: &db::FileRow, buf: &mut [u8]) -> Option<Problem> {
    let p = rootfs::host_path(root, &row.path);
    let meta = std::fs::symlink_metadata(&p).ok();
    let Some(meta) = meta else { return Some(Problem::Missing) };
    match row.kind.as_str() {
        "dir" => (!(meta.is_dir() || p.is_dir())).then_some(Problem::WrongType),
        "symlink" => {
            if !meta.file_type().is_symlink() {
                return Some(Problem::WrongType);
            }
            let t = std::fs::read_link(&p).ok()?;
            (t.to_str() != row.target.as_deref()).then_some(Problem::LinkChanged)
        }
        _ => {
            if !meta.is_file() {
                return Some(Problem::WrongType);
            }
            let h = hash_with(&p, buf).ok();
            if h.is_some() && h == row.sha256 {
                None
            } else if row.is_config {
                Some(Problem::ConfigDrift)
            } else {
                Some(Problem::Modified)
            }
        }
    }
}
