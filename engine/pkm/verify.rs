//! `pkm verify`, as pacman -Qkk checks: for every installed entry its type, its mode (setuid,
//! setgid, sticky and the permission bits), its owner and group, a symlink's target, a file's
//! size and SHA-256 (all cores). Each mismatch is reported with what was expected and what was
//! found. /etc content drift is config drift (reported, exit 0); anything else is a finding
//! (exit 1). Names from the database are shown through [`crate::visible::visible`], so a file
//! name cannot forge a line of the report. A verify of many entries draws a progress bar on
//! stderr when it is a terminal.

use super::db::{self, Layout};
use super::error::{PkmError, Result};
use super::rootfs;
use crate::archive::hex;
use crate::visible::visible;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use rayon::prelude::*;

/// The owner and group pkm installs files as: its effective ids (files it creates get them).
pub fn installing_owner() -> (u32, u32) {
    (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw())
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    Missing,
    WrongType { expected: String, found: String },
    Mode { expected: u32, found: u32 },
    Owner { expected: i64, found: u32 },
    Group { expected: i64, found: u32 },
    LinkChanged { expected: String, found: String },
    Size { expected: i64, found: u64, config: bool },
    Modified { expected: String, found: String, config: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub path: String,
    pub package: String,
    pub problem: Problem,
}

impl Finding {
    /// A config file whose content was edited: expected, not a finding.
    pub fn is_config_drift(&self) -> bool {
        matches!(self.problem, Problem::Size { config: true, .. } | Problem::Modified { config: true, .. })
    }
    /// `WORD /path (package): what was expected, what was found`.
    pub fn render(&self) -> String {
        let drift = |config: bool| if config { "CONFIG-DRIFT" } else { "MODIFIED" };
        let (word, detail) = match &self.problem {
            Problem::Missing => ("MISSING", String::new()),
            Problem::WrongType { expected, found } => ("WRONG-TYPE", format!("expected a {expected}, found a {found}")),
            Problem::Mode { expected, found } => ("MODE", format!("expected {expected:04o}, found {found:04o}")),
            Problem::Owner { expected, found } => ("OWNER", format!("expected uid {expected}, found uid {found}")),
            Problem::Group { expected, found } => ("GROUP", format!("expected gid {expected}, found gid {found}")),
            Problem::LinkChanged { expected, found } => ("LINK-CHANGED", format!("expected -> {}, found -> {}", visible(expected), visible(found))),
            Problem::Size { expected, found, config } => (drift(*config), format!("size expected {expected} bytes, found {found}")),
            Problem::Modified { expected, found, config } => (drift(*config), format!("SHA-256 expected {expected}, found {found}")),
        };
        let subject = format!("{word} /{} ({})", visible(&self.path), visible(&self.package));
        if detail.is_empty() { subject } else { format!("{subject}: {detail}") }
    }
    /// The finding for `pkm verify --json` (docs/pkm-json.schema.json): what was checked, whether it
    /// is config drift, and what was expected and found (null for a missing entry).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{json, Value};
        let mode = |m: &u32| json!(format!("{m:04o}"));
        let (check, expected, found) = match &self.problem {
            Problem::Missing => ("missing", Value::Null, Value::Null),
            Problem::WrongType { expected, found } => ("type", json!(expected), json!(found)),
            Problem::Mode { expected, found } => ("mode", mode(expected), mode(found)),
            Problem::Owner { expected, found } => ("owner", json!(expected), json!(found)),
            Problem::Group { expected, found } => ("group", json!(expected), json!(found)),
            Problem::LinkChanged { expected, found } => ("target", json!(expected), json!(found)),
            Problem::Size { expected, found, .. } => ("size", json!(expected), json!(found)),
            Problem::Modified { expected, found, .. } => ("sha256", json!(expected), json!(found)),
        };
        json!({
            "path": format!("/{}", self.path), "package": self.package, "check": check,
            "config_drift": self.is_config_drift(), "expected": expected, "found": found,
        })
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
            v.push(db::get_installed(conn, n)?.ok_or_else(|| PkmError::finding("pkm::not-installed", format!("{} is not installed", visible(n))))?);
        }
        v
    };
    let mut jobs = Vec::new();
    for p in &pkgs {
        for row in db::files_of(conn, p.id)? {
            jobs.push(Job { package: p.name.clone(), row });
        }
    }
    // Hashing reads files: more workers than cores keep the disk busy (at most 16). A
    // worker's panic is re-raised by rayon, never turned into findings that are missing.
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(16);
    let root = &layout.root;
    let bar = progress(jobs.len());
    let run = || -> Vec<Finding> {
        jobs.par_iter()
            // One read buffer per piece of work, not per file (a fresh zeroed 256 KiB buffer
            // per file cost more than hashing the average small file).
            .map_init(
                || vec![0u8; 1 << 20],
                |buf, j| {
                    let found: Vec<Finding> =
                        check(root, &j.row, buf).into_iter().map(|problem| Finding { path: j.row.path.clone(), package: j.package.clone(), problem }).collect();
                    if let Some(b) = &bar {
                        b.inc(1);
                    }
                    found
                },
            )
            .flatten()
            .collect()
    };
    let mut findings = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(run),
        Err(_) => run(),
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    findings.sort();
    Ok((jobs.len(), findings))
}

/// A bar on stderr for a verify of many entries (a whole system: tens of thousands), drawn
/// only when stderr is a terminal: nothing for scripts, pipes, `--json` captured by a tool.
fn progress(entries: usize) -> Option<indicatif::ProgressBar> {
    if entries < 1000 || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return None;
    }
    let b = indicatif::ProgressBar::new(entries as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("verifying [{bar:30}] {pos}/{len} entries") {
        b.set_style(style.progress_chars("=> "));
    }
    Some(b)
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

fn type_word(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_file() {
        "file"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "device"
    }
}

/// Every way the entry on disk differs from its record (one lstat, then a hash only when the
/// size agrees).
fn check(root: &std::path::Path, row: &db::FileRow, buf: &mut [u8]) -> Vec<Problem> {
    let p = rootfs::host_path(root, &row.path);
    let Ok(meta) = std::fs::symlink_metadata(&p) else { return vec![Problem::Missing] };
    let ft = meta.file_type();
    let mut out = Vec::new();
    let wrong = |expected: &str| Problem::WrongType { expected: expected.to_string(), found: type_word(ft).to_string() };
    match row.kind.as_str() {
        // A directory may be a symlink to one (`lib -> usr/lib`); its mode is the target's.
        "dir" if ft.is_symlink() => {
            if !p.is_dir() {
                out.push(wrong("directory"));
            }
            return out;
        }
        "dir" if !ft.is_dir() => return vec![wrong("directory")],
        "symlink" if !ft.is_symlink() => return vec![wrong("symlink")],
        "file" if !ft.is_file() => return vec![wrong("file")],
        _ => {}
    }
    if !ft.is_symlink() {
        let found = meta.mode() & 0o7777;
        if found != row.mode {
            out.push(Problem::Mode { expected: row.mode, found });
        }
    }
    if let Some(uid) = row.uid.filter(|u| *u != i64::from(meta.uid())) {
        out.push(Problem::Owner { expected: uid, found: meta.uid() });
    }
    if let Some(gid) = row.gid.filter(|g| *g != i64::from(meta.gid())) {
        out.push(Problem::Group { expected: gid, found: meta.gid() });
    }
    match row.kind.as_str() {
        "symlink" => {
            let found = std::fs::read_link(&p).map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
            let expected = row.target.clone().unwrap_or_default();
            if found != expected {
                out.push(Problem::LinkChanged { expected, found });
            }
        }
        "file" => match row.size {
            Some(size) if size != meta.len() as i64 => out.push(Problem::Size { expected: size, found: meta.len(), config: row.is_config }),
            _ => {
                let found = hash_with(&p, buf).unwrap_or_else(|e| format!("(unreadable: {e})"));
                let expected = row.sha256.clone().unwrap_or_default();
                if found != expected {
                    out.push(Problem::Modified { expected, found, config: row.is_config });
                }
            }
        },
        _ => {}
    }
    out
}
