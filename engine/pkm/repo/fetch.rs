//! Downloads from `file://` and `http://` URLs, size-capped, with progress on a terminal.
//!
//! HTTP goes through ureq built without TLS: every byte fetched is checked against a signed
//! index, so plain HTTP is safe for integrity; an `https://` URL says TLS is not built in.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// Join a repository URL and a file name published in its index.
pub fn join(base: &str, file: &str) -> String {
    format!("{}/{file}", base.trim_end_matches('/'))
}

fn open(url: &str) -> Result<(Box<dyn Read>, Option<u64>), String> {
    if let Some(path) = url.strip_prefix("file://") {
        let f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
        let len = f.metadata().ok().map(|m| m.len());
        return Ok((Box::new(f), len));
    }
    if url.starts_with("https://") {
        return Err("https:// is not supported by this build (no TLS stack); use http:// or file:// (indexes are signed either way)".into());
    }
    if !url.starts_with("http://") {
        return Err(format!("unsupported URL `{}`", crate::visible::visible(url)));
    }
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_recv_response(Some(Duration::from_secs(30)))
        .timeout_recv_body(Some(Duration::from_secs(30)))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let resp = agent.get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(c) => format!("HTTP status {c}"),
        ureq::Error::Io(io) => format!("cannot connect: {io}"),
        other => other.to_string(),
    })?;
    let len = resp.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    Ok((Box::new(resp.into_body().into_reader()), len))
}

/// The whole body, refused when larger than `cap` bytes.
pub fn fetch_bytes(url: &str, cap: u64) -> Result<Vec<u8>, String> {
    let (r, len) = open(url)?;
    if len.is_some_and(|l| l > cap) {
        return Err(format!("larger than the {cap}-byte limit"));
    }
    // Sized from the announced length: a 10,000-package index read into a growing vector was
    // copied (and its pages faulted in) again at every doubling.
    let mut v = Vec::with_capacity(len.unwrap_or(0).min(cap) as usize + 1);
    r.take(cap + 1).read_to_end(&mut v).map_err(|e| format!("download interrupted: {e}"))?;
    if v.len() as u64 > cap {
        return Err(format!("larger than the {cap}-byte limit"));
    }
    if let Some(l) = len {
        if l != v.len() as u64 {
            return Err(format!("truncated: {} of {l} bytes", v.len()));
        }
    }
    Ok(v)
}

/// Stream `url` into `f` (opened by the caller), at most `cap` bytes; returns the size and
/// SHA-256. `dest` names the file in errors. A progress bar is drawn only when stderr is a
/// terminal. No fsync: a cached archive is checked (size, SHA-256) every time it is used, so
/// one a crash damaged is fetched again, and what is installed from it is made durable by the
/// install (1,000 downloads paid 1,000 fsyncs for nothing).
pub fn fetch_to_file(url: &str, f: &mut std::fs::File, dest: &Path, cap: u64, label: &str) -> Result<(u64, String), String> {
    use sha2::{Digest, Sha256};
    let (mut r, len) = open(url)?;
    if len.is_some_and(|l| l > cap) {
        return Err(format!("larger than the {cap}-byte limit the index allows"));
    }
    let bar = progress_bar(len.unwrap_or(cap), label);
    let mut h = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf).map_err(|e| format!("download interrupted: {e}"))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > cap {
            return Err(format!("larger than the {cap}-byte limit the index allows"));
        }
        let chunk = buf.get(..n).unwrap_or_default();
        h.update(chunk);
        f.write_all(chunk).map_err(|e| format!("{}: {e}", dest.display()))?;
        if let Some(b) = &bar {
            b.inc(n as u64);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok((total, crate::archive::hex(&h.finalize())))
}

/// A byte progress bar on stderr when it is a terminal; none otherwise (scripts, tests).
pub fn progress_bar(len: u64, label: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return None;
    }
    let b = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg:30} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}") {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_message(label.to_string());
    Some(b)
}

/// A counting progress bar for long queues (at least `min` items), terminal only.
pub fn queue_bar(len: usize, min: usize, label: &str) -> Option<indicatif::ProgressBar> {
    if len < min || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return None;
    }
    let b = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}") {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_message(label.to_string());
    Some(b)
}
