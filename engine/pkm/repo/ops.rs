//! The pkm operations on synced repositories: install by name, upgrade, reinstall, the
//! dependency checks around `pkm install FILE` and `pkm remove`, search and info. Resolution
//! is `resolve` (pure); installing is the existing pipeline, `crate::install::install`,
//! given the downloaded archives as one queue.

use super::conf;
use super::fetch;
use super::index::{read_manifest, valid_file_name};
use super::resolve::{self, Available, Installed, ResolveError, Universe};
use super::sign::{archive_message, SignatureFile, ARCHIVE_CONTEXT};
use crate::db::{self, Layout};
use crate::beneath;
use crate::error::{PkmError, Result};
use crate::install::{self, InstallOptions};
use crate::invariants::Rules;
use crate::state;
use crate::trust::Trust;
use crate::vercmp;
use crate::visible::visible;
use rusqlite::Connection;
use rustix::fs::{AtFlags, OFlags};
use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::AsFd;
use std::path::PathBuf;

/// One row of the `available` table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AvailableRow {
    pub name: String,
    pub version: String,
    pub release: i64,
    pub tier: String,
    pub description: String,
    pub file: String,
    pub sha256: String,
    pub repository: String,
    #[serde(skip)]
    pub repo_url: String,
    #[serde(skip)]
    pub position: i64,
    #[serde(skip)]
    pub key_id: String,
    pub size: Option<i64>,
    pub depends: Vec<String>,
    pub supersedes: Vec<String>,
    pub signed: bool,
}

fn words(s: String) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

pub fn available_rows(conn: &Connection) -> Result<Vec<AvailableRow>> {
    let mut st = conn.prepare(
        "SELECT name, version, release, tier, description, archive, sha256, repo, repo_url, position, key_id, size, depends, supersedes, signed
         FROM available ORDER BY position, name, id",
    )?;
    let rows = st
        .query_map([], |r| {
            Ok(AvailableRow {
                name: r.get(0)?,
                version: r.get(1)?,
                release: r.get(2)?,
                tier: r.get(3)?,
                description: r.get(4)?,
                file: r.get(5)?,
                sha256: r.get(6)?,
                repository: r.get(7)?,
                repo_url: r.get(8)?,
                position: r.get(9)?,
                key_id: r.get(10)?,
                size: r.get(11)?,
                depends: words(r.get(12)?),
                supersedes: words(r.get(13)?),
                signed: r.get(14)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn installed_map(conn: &Connection) -> Result<BTreeMap<String, Installed>> {
    let mut out = BTreeMap::new();
    for p in db::list_installed(conn)? {
        let depends = db::depends_of(conn, p.id)?;
        out.insert(p.name.clone(), Installed { name: p.name, version: p.version, release: p.release, depends, superseded: p.superseded_by.is_some() });
    }
    Ok(out)
}

/// The rows by (name, version, release, position): a candidate's row in one look-up.
fn by_key(rows: &[AvailableRow]) -> std::collections::HashMap<(&str, &str, i64, i64), &AvailableRow> {
    rows.iter().map(|r| ((r.name.as_str(), r.version.as_str(), r.release, r.position), r)).collect()
}

fn row_of<'a>(map: &std::collections::HashMap<(&str, &str, i64, i64), &'a AvailableRow>, a: &Available) -> Option<&'a AvailableRow> {
    map.get(&(a.name.as_str(), a.version.as_str(), a.release, a.position)).copied()
}

fn universe(conn: &Connection, rows: &[AvailableRow]) -> Result<Universe> {
    let avail: Vec<Available> = rows
        .iter()
        .map(|r| Available { name: r.name.clone(), version: r.version.clone(), release: r.release, depends: r.depends.clone(), supersedes: r.supersedes.clone(), position: r.position })
        .collect();
    Ok(Universe { installed: installed_map(conn)?, available: resolve::choose(&avail) })
}

fn resolve_error(e: ResolveError) -> PkmError {
    let code = match e {
        ResolveError::Missing(_) => "pkm::resolve::missing",
        ResolveError::Cycle(_) => "pkm::resolve::cycle",
    };
    PkmError::finding(code, format!("cannot resolve the install queue: {e}")).help("nothing was downloaded or installed; `pkm sync` refreshes the indexes, `pkm search` shows what they publish")
}

/// Download (or reuse from the cache) and verify one queued archive: size, SHA-256 and, when
/// the index says the archive is signed, its detached signature. The cache is pkm's state: it
/// is opened with no symlink followed and every file in it is made, renamed and removed
/// relative to it, so a link planted there never sends a download outside the root.
fn download(layout: &Layout, row: &AvailableRow) -> Result<PathBuf> {
    let at = |code: &str, why: String| PkmError::finding(format!("pkm::fetch::{code}"), format!("repository `{}`: {}: {why}", row.repository, row.file)).help("nothing was installed; the download was discarded. Run `pkm sync` and retry; if it persists the repository is damaged or tampered with");
    if row.repo_url.is_empty() || !valid_file_name(&row.file) {
        return Err(PkmError::unusable("pkm::fetch::no-repository", format!("{} {}-{} comes from a local index file, not a repository; install its archive by path", row.name, row.version, row.release)));
    }
    let cache_fd = state::ensure_cache(layout)?;
    let cache = conf::cache_dir(&layout.root);
    let dest = cache.join(&row.file);
    let want_size = row.size.unwrap_or(-1);
    let cached = beneath::open(cache_fd.as_fd(), &row.file, OFlags::RDONLY, 0).ok().map(std::fs::File::from).is_some_and(|f| {
        f.metadata().is_ok_and(|m| m.len() as i64 == want_size) && crate::archive::sha256_reader(f).ok().as_deref() == Some(row.sha256.as_str())
    });
    let unlink = |name: &str| {
        let _ = rustix::fs::unlinkat(&cache_fd, name, AtFlags::empty());
    };
    if !cached {
        let part_name = format!("{}.part", row.file);
        let part = cache.join(&part_name);
        // Whatever is at the temporary name (a crashed download, a planted link) goes first;
        // the new file is created exclusively, never through a link.
        unlink(&part_name);
        let mut f = beneath::open(cache_fd.as_fd(), &part_name, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL, 0o644)
            .map(std::fs::File::from)
            .map_err(|e| PkmError::io(part.display(), e.to_io()))?;
        let cap = if want_size >= 0 { want_size as u64 } else { 0 };
        let url = fetch::join(&row.repo_url, &row.file);
        let (size, sha) = match fetch::fetch_to_file(&url, &mut f, &part, cap, &row.file) {
            Ok(x) => x,
            Err(e) => {
                unlink(&part_name);
                return Err(PkmError::unusable("pkm::fetch::download", format!("repository `{}`: {}: {e}", row.repository, row.file)).help("nothing was installed; check the repository and retry"));
            }
        };
        if size as i64 != want_size {
            unlink(&part_name);
            return Err(at("size-mismatch", format!("{size} bytes, the signed index says {want_size} (truncated?)")));
        }
        if sha != row.sha256 {
            unlink(&part_name);
            return Err(at("hash-mismatch", format!("SHA-256 {sha} does not match the signed index ({})", row.sha256)));
        }
        rustix::fs::renameat(&cache_fd, part_name.as_str(), &cache_fd, row.file.as_str()).map_err(|e| PkmError::io(dest.display(), e.into()))?;
    }
    if row.signed {
        let keys = conf::load_keys(&layout.root).map_err(|m| PkmError::unusable("pkm::fetch::keys", m))?;
        let key = keys.get(&row.key_id).ok_or_else(|| at("unknown-key", format!("no trusted key {} in /etc/igos/keys/", row.key_id)))?;
        let sig = fetch::fetch_bytes(&fetch::join(&row.repo_url, &format!("{}.sig", row.file)), 4096)
            .map_err(|e| at("missing-signature", format!("cannot download its signature: {e}")))?;
        let sig = SignatureFile::parse(&String::from_utf8_lossy(&sig)).map_err(|m| at("bad-signature", m))?;
        if let Err(m) = key.verify(ARCHIVE_CONTEXT, &archive_message(&row.sha256), &sig) {
            unlink(&row.file);
            return Err(at("bad-signature", m));
        }
    }
    Ok(dest)
}

/// Download every queued package, then install them as one queue through the pipeline, with
/// the caller's options (`--overwrite`, `--allow-downgrade`) and strict trust.
/// What a resolved queue is for: installed, or only shown (`--print`, as pacman's `-S
/// --print`: what would be downloaded and installed, in order, nothing fetched or changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Install,
    Print,
}

/// The queue in install order, one line each (name, version-release, repository, download
/// size), and the total.
fn print_queue(rows: &[AvailableRow], queue: &[Available], mut out: Vec<String>) -> Result<Vec<String>> {
    let map = by_key(rows);
    let mut total = 0i64;
    let mut lines = Vec::with_capacity(queue.len());
    for q in queue {
        let row = row_of(&map, q).ok_or_else(|| PkmError::unusable("pkm::resolve", format!("{} vanished from the index", q.name)))?;
        let size = row.size.unwrap_or(0);
        total += size;
        lines.push(format!("  {} {}-{}  {}  {}", visible(&q.name), visible(&q.version), q.release, visible(&row.repository), crate::util::human_size(size.max(0) as u64)));
    }
    out.push(format!("would install {} package(s), {} to download (nothing was downloaded or changed):", queue.len(), crate::util::human_size(total.max(0) as u64)));
    out.extend(lines);
    Ok(out)
}

fn fetch_and_install(layout: &Layout, conn: &mut Connection, rows: &[AvailableRow], queue: &[Available], opts: &InstallOptions, rules: &dyn Fn() -> Result<Rules>, mut out: Vec<String>) -> Result<Vec<String>> {
    let mut paths = Vec::new();
    let bar = fetch::queue_bar(queue.len(), 2, "downloading");
    let map = by_key(rows);
    for q in queue {
        let row = row_of(&map, q).ok_or_else(|| PkmError::unusable("pkm::resolve", format!("{} vanished from the index", q.name)))?;
        paths.push(download(layout, row)?);
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let names: Vec<String> = queue.iter().map(|q| format!("{}-{}-{}", q.name, q.version, q.release)).collect();
    out.push(format!("queue: {}", names.join(" ")));
    let opts = InstallOptions { trust: Trust::Strict, ..opts.clone() };
    let spinner = fetch::queue_bar(paths.len(), 20, "installing").inspect(|b| {
        b.set_message(format!("installing {} packages", paths.len()));
        b.enable_steady_tick(std::time::Duration::from_millis(120));
    });
    let res = install::install(layout, conn, &paths, &opts, rules);
    if let Some(b) = spinner {
        b.finish_and_clear();
    }
    out.extend(res?);
    Ok(out)
}

/// `pkm install NAME…`: the names and their missing runtime dependencies, one queue. An
/// installed name moves to an older published version only with `--allow-downgrade`. `rules`
/// as for `install::install`.
pub fn install_names(layout: &Layout, conn: &mut Connection, names: &[String], opts: &InstallOptions, then: Then, rules: &dyn Fn() -> Result<Rules>) -> Result<Vec<String>> {
    let rows = available_rows(conn)?;
    let u = universe(conn, &rows)?;
    let mut out = Vec::new();
    let mut targets = Vec::new();
    for n in names {
        let Some(a) = u.available.get(n) else {
            return Err(resolve_error(ResolveError::Missing(vec![n.clone()])));
        };
        match u.installed.get(n) {
            Some(i) if i.superseded => {
                return Err(PkmError::finding("pkm::superseded", format!("{n} {}-{} was superseded; it is not reinstalled over its successor", i.version, i.release)));
            }
            Some(i) => match vercmp::compare(&a.version, a.release, &i.version, i.release) {
                std::cmp::Ordering::Equal => out.push(format!("{n} {}-{} is already installed and up to date", i.version, i.release)),
                std::cmp::Ordering::Less if !opts.allow_downgrade => {
                    out.push(format!("{n} {}-{} kept: the repository has the older {}-{} (no downgrade without --allow-downgrade)", i.version, i.release, a.version, a.release))
                }
                _ => targets.push(n.clone()),
            },
            None => targets.push(n.clone()),
        }
    }
    if targets.is_empty() {
        out.push("nothing to do".into());
        return Ok(out);
    }
    let queue = u.resolve(&targets).map_err(resolve_error)?;
    match then {
        Then::Install => fetch_and_install(layout, conn, &rows, &queue, opts, rules, out),
        Then::Print => print_queue(&rows, &queue, out),
    }
}

/// `pkm upgrade`: every installed package to its newest published version, replacements for
/// split packages, new dependencies; a downgrade only when asked for.
pub fn upgrade(layout: &Layout, conn: &mut Connection, allow_downgrade: bool, then: Then, rules: &dyn Fn() -> Result<Rules>) -> Result<Vec<String>> {
    let rows = available_rows(conn)?;
    let u = universe(conn, &rows)?;
    let (targets, held) = u.upgrade_targets(allow_downgrade);
    let mut out = held;
    if targets.is_empty() {
        out.push("nothing to upgrade".into());
        return Ok(out);
    }
    let queue = u.resolve(&targets).map_err(resolve_error)?;
    match then {
        Then::Install => fetch_and_install(layout, conn, &rows, &queue, &InstallOptions { allow_downgrade, ..Default::default() }, rules, out),
        Then::Print => print_queue(&rows, &queue, out),
    }
}

/// `pkm reinstall NAME…`: the installed version, downloaded and verified first, then
/// installed over itself as one queue through the pipeline, as an upgrade to the same version
/// would be (configuration files kept): all or nothing, so an install that fails leaves the
/// installed package and its files as they were.
pub fn reinstall(layout: &Layout, conn: &mut Connection, names: &[String], rules: &dyn Fn() -> Result<Rules>) -> Result<Vec<String>> {
    let rows = available_rows(conn)?;
    let mut paths = Vec::new();
    let mut seen = BTreeSet::new();
    for n in names.iter().filter(|n| seen.insert(n.as_str())) {
        let i = db::get_installed(conn, n)?.ok_or_else(|| PkmError::finding("pkm::not-installed", format!("{} is not installed", visible(n))))?;
        if i.superseded_by.is_some() {
            return Err(PkmError::finding("pkm::superseded", format!("{} {}-{} was superseded; it is not reinstalled over its successor", visible(n), i.version, i.release)));
        }
        let row = rows
            .iter()
            .find(|r| r.name == i.name && r.version == i.version && r.release == i.release)
            .ok_or_else(|| PkmError::finding("pkm::reinstall::unpublished", format!("{} {}-{} is not in any synced repository", visible(n), i.version, i.release)).help("`pkm sync`, or `pkm upgrade` to move to the published version"))?;
        paths.push(download(layout, row)?);
    }
    let opts = InstallOptions { trust: Trust::Strict, reinstall: true, ..Default::default() };
    install::install(layout, conn, &paths, &opts, rules)
}

/// Before `pkm install FILE…`: every runtime dependency of the queue must be installed or in
/// the queue.
pub fn check_file_queue(conn: &Connection, archives: &[PathBuf]) -> Result<()> {
    let mut queue = Vec::new();
    for a in archives {
        // An unreadable archive is left to the pipeline, which reports it precisely.
        let Ok(m) = read_manifest(a) else { return Ok(()) };
        queue.push((m.name, m.depends, m.supersedes));
    }
    let unmet = resolve::unmet(&installed_map(conn)?, &queue);
    if unmet.is_empty() {
        return Ok(());
    }
    // One line per unmet dependency, each name escaped: a name cannot add a line.
    let msg = unmet.iter().map(|(p, d)| format!("{} needs {}, which is neither installed nor in the install queue", visible(p), visible(d))).collect::<Vec<_>>().join("\n");
    Err(PkmError::finding("pkm::depends::missing", format!("missing runtime dependencies, nothing was installed:\n{msg}"))
        .help("add the dependencies to the same queue, or install by name (`pkm install NAME`) to pull them from a synced repository")
        .multiline())
}

/// The removal order for `pkm remove`: refused when an installed package still needs one of
/// `names` (naming them), unless `cascade`, which removes the dependents first.
pub fn removal_order(conn: &Connection, names: &[String], cascade: bool) -> Result<Vec<String>> {
    let installed = installed_map(conn)?;
    if cascade {
        return Ok(resolve::cascade(&installed, names));
    }
    let set: BTreeSet<String> = names.iter().cloned().collect();
    let deps = resolve::dependents(&installed, &set);
    if deps.is_empty() {
        return Ok(names.to_vec());
    }
    let msg = deps.iter().map(|(p, d)| format!("{} depends on {}", visible(p), visible(d))).collect::<Vec<_>>().join("\n");
    Err(PkmError::finding("pkm::remove::required", format!("cannot remove, other packages need it; nothing was removed:\n{msg}"))
        .help("remove the dependents too with --cascade, or remove them first")
        .multiline())
}

/// Search the synced indexes (the candidate of each name): case-insensitive substring of the
/// name or description.
pub fn search(conn: &Connection, pattern: &str) -> Result<Vec<(AvailableRow, Option<String>)>> {
    let rows = available_rows(conn)?;
    let u = universe(conn, &rows)?;
    let p = pattern.to_lowercase();
    let mut out = Vec::new();
    let map = by_key(&rows);
    for a in u.available.values() {
        let Some(r) = row_of(&map, a) else { continue };
        if r.name.to_lowercase().contains(&p) || r.description.to_lowercase().contains(&p) {
            let inst = u.installed.get(&r.name).map(|i| format!("{}-{}", i.version, i.release));
            out.push((r.clone(), inst));
        }
    }
    Ok(out)
}

/// The candidate a name resolves to in the synced indexes.
pub fn available_info(conn: &Connection, name: &str) -> Result<Option<AvailableRow>> {
    let rows = available_rows(conn)?;
    let u = universe(conn, &rows)?;
    let Some(a) = u.available.get(name) else { return Ok(None) };
    Ok(rows.into_iter().find(|r| r.name == a.name && r.version == a.version && r.release == a.release && r.position == a.position))
}

/// Are the `pkm install` arguments package names (none names an existing file or looks like an
/// archive path)? Mixing names and files is treated as files, and the missing file is reported.
pub fn are_names(args: &[PathBuf]) -> bool {
    args.iter().all(|a| {
        let s = a.to_string_lossy();
        !a.exists() && !s.contains('/') && !s.ends_with(".igos.tar.gz") && super::index::valid_name(&s)
    })
}
