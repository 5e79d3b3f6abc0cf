//! pkm: the InterGenOS package manager CLI.

use clap::{CommandFactory, Parser, Subcommand};
use igos::pkm::db::{self, Layout};
use igos::pkm::error::{PkmError, Result, EXIT_FINDING};
use igos::pkm::install::{self, InstallOptions};
use igos::pkm::trust::Trust;
use igos::repo::ops::Then;
use igos::pkm::{doctor, lock, remove, trust, verify};
use igos::visible::visible;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pkm",
    version,
    about = "The InterGenOS package manager: install, remove, query and verify .igos.tar.gz archives",
    after_help = "Example:\n  pkm --root /mnt/igos install util-linux-core-2.40.1-1.igos.tar.gz\n\nExit codes: 0 ok, 1 a finding, violation or rejection, 2 unusable input."
)]
struct Cli {
    /// The root filesystem to operate on; the database is <ROOT>/var/lib/igos/pkm.db.
    #[arg(long, global = true, default_value = "/")]
    root: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install archives; the arguments are the install queue, in order.
    #[command(after_help = "Example:\n  pkm install util-linux-core-2.40.1-1.igos.tar.gz util-linux-extra-2.40.1-1.igos.tar.gz\n  pkm --root /mnt/igos install --archive-trust loose ./hello-1.0-1.igos.tar.gz")]
    Install {
        /// Archive files (the queue, in order), or package names to resolve from the synced
        /// repositories with their runtime dependencies.
        #[arg(required = true)]
        archives: Vec<PathBuf>,
        /// How the archive's SHA-256 is checked against the index from `pkm sync`.
        #[arg(long, value_enum, default_value = "strict")]
        archive_trust: Trust,
        /// Allow replacing files already in the root that no package owns, where the path
        /// matches GLOB (`*` matches across `/`; repeatable), as pacman's --overwrite.
        #[arg(long, value_name = "GLOB")]
        overwrite: Vec<String>,
        /// Install an older version over a newer installed one (refused otherwise).
        #[arg(long)]
        allow_downgrade: bool,
        /// Install archive files even when their runtime dependencies are neither installed nor
        /// in the queue (bootstrapping a root, as pacman's -d).
        #[arg(long)]
        nodeps: bool,
        /// Only show the queue NAMES resolve to (install order, versions, repositories,
        /// download sizes): nothing is downloaded, installed or locked (pacman's -S --print).
        #[arg(long)]
        print: bool,
    },
    /// Remove packages; /etc configuration files are kept unless --force.
    #[command(after_help = "Example:\n  pkm remove hello\n  pkm remove --force hello   # also removes its /etc files")]
    Remove {
        #[arg(long)]
        force: bool,
        /// Also remove every installed package that depends on NAMES (dependents first).
        #[arg(long)]
        cascade: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Recompute the SHA-256 of every installed file (of NAMEs, or all packages).
    #[command(after_help = "Example:\n  pkm verify\n  pkm verify util-linux-core\n  pkm verify --json | jq '.problems[]'\n\nExit 1 when a binary or library changed; /etc drift is reported as config drift only.")]
    Verify {
        names: Vec<String>,
        /// Machine-readable output (schema in the README); the exit code is the same.
        #[arg(long)]
        json: bool,
    },
    /// Download and verify the signed index of every repository in /etc/igos/repos.conf and
    /// replace the `available` table (or, given INDEX, read a local version-1 index file).
    #[command(after_help = "Example:\n  pkm sync\n  pkm sync ./index.txt\n\nrepos.conf: `NAME URL KEY-ID` per line (file:// or http://), keys in /etc/igos/keys/*.pub.\nOn any failure nothing changes and the error names the repository (exit 2).")]
    Sync { index: Option<PathBuf> },
    /// List installed packages.
    #[command(after_help = "Example:\n  pkm list")]
    List {
        /// Machine-readable output (schema in the README).
        #[arg(long)]
        json: bool,
    },
    /// Show one package.
    #[command(after_help = "Example:\n  pkm info util-linux")]
    Info {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List the files a package owns.
    #[command(after_help = "Example:\n  pkm files util-linux-core")]
    Files {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Which package owns PATH.
    #[command(after_help = "Example:\n  pkm owns /usr/bin/mount")]
    Owns {
        path: String,
        #[arg(long)]
        json: bool,
    },
    /// The append-only transaction log.
    #[command(after_help = "Example:\n  pkm history\n  pkm history --json | jq '.[] | select(.operation == \"upgrade\")'")]
    History {
        /// Machine-readable output (schema in the README).
        #[arg(long)]
        json: bool,
    },
    /// Check database integrity, repair interrupted transactions, reconcile text manifests.
    #[command(after_help = "Example:\n  pkm --root /mnt/igos doctor\n  pkm doctor --abandon      # give up an interrupted transaction that cannot be completed\n  pkm doctor --rebuild-db   # the database is lost: rebuild it from the text manifests\n\nExit 1 when a problem was found (and repaired where possible); a second run then exits 0.")]
    Doctor {
        /// Give up interrupted transactions that cannot be completed: an install is rolled
        /// back, a removal leaves the package installed; the intent is kept in the history.
        #[arg(long)]
        abandon: bool,
        /// Set the database aside (renamed, kept) and rebuild it from the text manifests under
        /// <ROOT>/var/lib/igos/packages.
        #[arg(long)]
        rebuild_db: bool,
    },
    /// Upgrade every installed package to the newest version the synced repositories publish
    /// (in dependency order, one queue; a downgrade only with --allow-downgrade).
    #[command(after_help = "Example:\n  pkm sync && pkm upgrade")]
    Upgrade {
        /// Also move a package to an older version when that is what the repositories publish.
        #[arg(long)]
        allow_downgrade: bool,
        /// Only show the queue an upgrade would install: nothing is downloaded or changed.
        #[arg(long)]
        print: bool,
    },
    /// Download the installed version of NAMES again and reinstall it (configuration kept).
    #[command(after_help = "Example:\n  pkm reinstall tmux")]
    Reinstall {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Search the synced repositories: names and descriptions containing PATTERN (any case).
    #[command(after_help = "Example:\n  pkm search terminal\n  pkm search --json lib")]
    Search {
        pattern: String,
        #[arg(long)]
        json: bool,
    },
    /// Print shell completions for pkm (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Example:\n  pkm completions bash > /etc/bash_completion.d/pkm")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) generated from this command-line definition: pkm(1), or
    /// pkm-COMMAND(1) for one command.
    #[command(after_help = "Examples:\n  pkm man > pkm.1 && man ./pkm.1\n  pkm man install > pkm-install.1")]
    Man {
        /// The command whose page to print (install, remove, verify, ...); none: pkm(1).
        command: Option<String>,
    },
}

/// `println!` for stdout that never panics: a closed pipe (`pkm list | head -1`) ends pkm
/// quietly with success, any other write error (a full disk behind a redirect) is a
/// diagnostic and exit 2.
macro_rules! out {
    ($($t:tt)*) => { emit(format_args!($($t)*)) };
}

fn emit(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_fmt(args).and_then(|_| o.write_all(b"\n")).and_then(|_| o.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("{:?}", miette::Report::new(PkmError::unusable("pkm::output", format!("cannot write to standard output: {e}"))));
        std::process::exit(2);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        // Deterministic diagnostics when not on a terminal: no colour, fixed width 100.
        let _ = miette::set_hook(Box::new(|_| {
            Box::new(miette::MietteHandlerOpts::new().width(100).color(false).unicode(true).build())
        }));
    }
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = e.exit.clamp(1, 255) as u8;
            eprintln!("{:?}", miette::Report::new(e.visible()));
            ExitCode::from(code)
        }
    }
}

/// Report lines are one line each: anything from data in them (file and package names) is
/// shown visibly, so a name cannot forge a line.
fn print(lines: &[String]) {
    for l in lines {
        out!("{}", visible(l));
    }
}

fn run(cli: Cli) -> Result<u8> {
    // Generated from the definition: they need no root.
    match &cli.cmd {
        Cmd::Completions { shell } => {
            out!("{}", igos::cli::docgen::completions(Cli::command(), "pkm", *shell).trim_end());
            return Ok(0);
        }
        Cmd::Man { command } => {
            let page = igos::cli::docgen::man_page(Cli::command(), "pkm", command.as_deref()).map_err(|e| PkmError::unusable("pkm::man", e))?;
            out!("{}", page.trim_end());
            return Ok(0);
        }
        _ => {}
    }
    let layout = Layout::new(&cli.root);
    if !cli.root.is_dir() {
        return Err(PkmError::unusable("pkm::root", format!("{}: not a directory", cli.root.display())));
    }
    match cli.cmd {
        Cmd::Install { archives, archive_trust, overwrite, allow_downgrade, nodeps, print: only_print } => {
            let opts = InstallOptions { trust: archive_trust, overwrite, allow_downgrade, ..Default::default() };
            let names = igos::repo::ops::are_names(&archives);
            if only_print {
                if !names {
                    return Err(PkmError::unusable("pkm::usage", "--print shows what package names resolve to; archive files are installed as given"));
                }
                let mut conn = db::open(&layout, false)?;
                let names: Vec<String> = archives.iter().map(|a| a.to_string_lossy().into_owned()).collect();
                print(&igos::repo::ops::install_names(&layout, &mut conn, &names, &opts, Then::Print, &igos::rules::for_pkm)?);
                return Ok(0);
            }
            let _l = lock::acquire(&layout)?;
            let mut conn = db::open(&layout, true)?;
            if names {
                let names: Vec<String> = archives.iter().map(|a| a.to_string_lossy().into_owned()).collect();
                print(&igos::repo::ops::install_names(&layout, &mut conn, &names, &opts, Then::Install, &igos::rules::for_pkm)?);
                return Ok(0);
            }
            if !nodeps {
                igos::repo::ops::check_file_queue(&conn, &archives)?;
            }
            print(&install::install(&layout, &mut conn, &archives, &opts, &igos::rules::for_pkm)?);
            Ok(0)
        }
        Cmd::Remove { force, cascade, names } => {
            let _l = lock::acquire(&layout)?;
            let mut conn = db::open(&layout, true)?;
            let names = igos::repo::ops::removal_order(&conn, &names, cascade)?;
            print(&remove::remove(&layout, &mut conn, &names, force)?);
            Ok(0)
        }
        Cmd::Verify { names, json } => {
            let conn = db::open(&layout, false)?;
            let (n, findings) = verify::verify(&layout, &conn, &names)?;
            let serious = findings.iter().filter(|f| !f.is_config_drift()).count();
            let drift = findings.len() - serious;
            if json {
                let problems: Vec<serde_json::Value> = findings.iter().map(verify::Finding::to_json).collect();
                let v = serde_json::json!({"entries": n, "findings": serious, "config_drift": drift, "problems": problems});
                out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return Ok(if serious > 0 { EXIT_FINDING as u8 } else { 0 });
            }
            for f in &findings {
                out!("{}", f.render());
            }
            let noun = if serious == 1 { "finding" } else { "findings" };
            out!("verified {n} entries: {serious} {noun}, {drift} config drift");
            Ok(if serious > 0 { EXIT_FINDING as u8 } else { 0 })
        }
        Cmd::Sync { index: Some(index) } => {
            let _l = lock::acquire(&layout)?;
            let mut conn = db::open(&layout, true)?;
            let n = trust::sync(&mut conn, &index)?;
            out!("synced {n} entries from {}", index.display());
            Ok(0)
        }
        Cmd::Sync { index: None } => {
            let _l = lock::acquire(&layout)?;
            let mut conn = db::open(&layout, true)?;
            print(&igos::repo::sync::sync_all(&layout.root, &mut conn)?);
            Ok(0)
        }
        Cmd::Upgrade { allow_downgrade, print: only_print } => {
            if only_print {
                let mut conn = db::open(&layout, false)?;
                print(&igos::repo::ops::upgrade(&layout, &mut conn, allow_downgrade, Then::Print, &igos::rules::for_pkm)?);
                return Ok(0);
            }
            let _l = lock::acquire(&layout)?;
            let mut conn = db::open(&layout, true)?;
            print(&igos::repo::ops::upgrade(&layout, &mut conn, allow_downgrade, Then::Install, &igos::rules::for_pkm)?);
            Ok(0)
        }
        Cmd::Reinstall { names } => {
            let _l = lock::acquire(&layout)?;
            let mut conn = db::open(&layout, true)?;
            print(&igos::repo::ops::reinstall(&layout, &mut conn, &names, &igos::rules::for_pkm)?);
            Ok(0)
        }
        Cmd::Search { pattern, json } => {
            let conn = db::open(&layout, false)?;
            let hits = igos::repo::ops::search(&conn, &pattern)?;
            if json {
                let v: Vec<serde_json::Value> = hits.iter().map(|(r, inst)| {
                    let mut o = serde_json::to_value(r).unwrap_or_default();
                    o["installed"] = serde_json::json!(inst);
                    o
                }).collect();
                out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                // As without --json (and as `owns --json`): nothing found is exit 1.
                return Ok(if hits.is_empty() { EXIT_FINDING as u8 } else { 0 });
            }
            if hits.is_empty() {
                return Err(PkmError::finding("pkm::search::none", format!("no synced package matches `{}`", igos::visible::visible(&pattern))));
            }
            for (r, inst) in &hits {
                let mark = inst.as_ref().map(|v| format!(" [installed {v}]")).unwrap_or_default();
                out!("{}/{} {}-{}{mark}\n    {}", r.repository, r.name, r.version, r.release, igos::visible::visible(&r.description));
            }
            Ok(0)
        }
        Cmd::List { json } => {
            let conn = db::open(&layout, false)?;
            if json {
                let v: Vec<serde_json::Value> = db::list_installed(&conn)?.iter().map(installed_json).collect();
                out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return Ok(0);
            }
            for p in db::list_installed(&conn)? {
                let sup = p.superseded_by.map(|s| format!("  (superseded by {})", visible(&s))).unwrap_or_default();
                out!("{} {}-{}{sup}", visible(&p.name), visible(&p.version), p.release);
            }
            Ok(0)
        }
        Cmd::Info { name, json } => {
            let conn = db::open(&layout, false)?;
            let Some(p) = db::get_installed(&conn, &name)? else {
                let a = igos::repo::ops::available_info(&conn, &name)?
                    .ok_or_else(|| PkmError::finding("pkm::not-installed", format!("{} is not installed and not in any synced repository", visible(&name))))?;
                if json {
                    let mut o = serde_json::to_value(&a).unwrap_or_default();
                    o["installed"] = serde_json::Value::Null;
                    out!("{}", serde_json::to_string_pretty(&o).unwrap_or_default());
                    return Ok(0);
                }
                let v = |s: &str| visible(s).into_owned();
                out!("name: {}\nversion: {}\nrelease: {}\ntier: {}\ndescription: {}\nrepository: {}\ninstalled: no", v(&a.name), v(&a.version), a.release, v(&a.tier), v(&a.description), v(&a.repository));
                for d in &a.depends {
                    out!("depends: {}", visible(d));
                }
                for d in &a.supersedes {
                    out!("supersedes: {}", visible(d));
                }
                out!("size: {}\nsha256: {}", a.size.unwrap_or(0), a.sha256);
                return Ok(0);
            };
            if json {
                let mut o = installed_json(&p);
                o["depends"] = serde_json::json!(db::depends_of(&conn, p.id)?);
                o["files"] = serde_json::json!(db::files_of(&conn, p.id)?.len());
                o["available"] = serde_json::json!(igos::repo::ops::available_info(&conn, &name)?.map(|a| format!("{}-{}", a.version, a.release)));
                out!("{}", serde_json::to_string_pretty(&o).unwrap_or_default());
                return Ok(0);
            }
            let v = |s: &str| visible(s).into_owned();
            out!("name: {}\nversion: {}\nrelease: {}\ntier: {}\ndescription: {}\ninstalled: {}", v(&p.name), v(&p.version), p.release, v(&p.tier), v(&p.description), v(&p.install_date));
            if let (Some(by), Some(at)) = (&p.superseded_by, &p.superseded_at) {
                out!("superseded-by: {}\nsuperseded-at: {}", v(by), v(at));
            }
            for d in db::depends_of(&conn, p.id)? {
                out!("depends: {}", visible(&d));
            }
            out!("files: {}", db::files_of(&conn, p.id)?.len());
            Ok(0)
        }
        Cmd::Files { name, json } => {
            let conn = db::open(&layout, false)?;
            let p = db::get_installed(&conn, &name)?.ok_or_else(|| PkmError::finding("pkm::not-installed", format!("{} is not installed", visible(&name))))?;
            if json {
                let v: Vec<serde_json::Value> = db::files_of(&conn, p.id)?.iter().map(|f| serde_json::json!({
                    "path": format!("/{}", f.path), "kind": f.kind, "mode": format!("{:04o}", f.mode),
                    "config": f.is_config, "sha256": f.sha256, "target": f.target,
                })).collect();
                out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return Ok(0);
            }
            for f in db::files_of(&conn, p.id)? {
                let suffix = if f.kind == "dir" { "/" } else { "" };
                out!("/{}{suffix}", visible(&f.path));
            }
            Ok(0)
        }
        Cmd::Owns { path, json } => {
            let conn = db::open(&layout, false)?;
            let rel = db::normalise_path(&path);
            let owners = db::owners(&conn, &rel)?;
            if json {
                let v: Vec<serde_json::Value> = owners.iter().map(|(o, k)| serde_json::json!({"path": format!("/{rel}"), "package": o, "kind": k})).collect();
                out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return Ok(if owners.is_empty() { EXIT_FINDING as u8 } else { 0 });
            }
            let shown = visible(&rel);
            if owners.is_empty() {
                return Err(PkmError::finding("pkm::not-owned", format!("/{shown} is not owned by any package")));
            }
            for (o, _) in owners {
                out!("/{shown} is owned by {}", visible(&o));
            }
            Ok(0)
        }
        Cmd::History { json } => {
            let conn = db::open(&layout, false)?;
            let rows = db::history(&conn)?;
            if json {
                // Through a Value, so the keys come sorted as in every other --json output.
                let v = serde_json::to_value(&rows).unwrap_or_default();
                out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return Ok(0);
            }
            for r in rows {
                let (o, v) = (r.old_version.unwrap_or_default(), r.new_version.unwrap_or_default());
                let ver = match (o.is_empty(), v.is_empty()) {
                    (true, true) => String::new(),
                    (true, false) => v,
                    (false, true) => o,
                    (false, false) => format!("{o} -> {v}"),
                };
                out!("{}", visible(&format!("{} {} {} {ver} {}", r.timestamp, r.operation, r.package, r.detail)));
            }
            Ok(0)
        }
        Cmd::Doctor { abandon, rebuild_db } => {
            let _l = lock::acquire(&layout)?;
            let (mut lines, mut problems) = if rebuild_db { doctor::rebuild_db(&layout)? } else { (Vec::new(), 0) };
            let mut conn = db::open(&layout, true)?;
            let (more, n) = doctor::doctor(&layout, &mut conn, abandon)?;
            lines.extend(more);
            problems += n;
            print(&lines);
            Ok(if problems > 0 { EXIT_FINDING as u8 } else { 0 })
        }
        Cmd::Completions { .. } | Cmd::Man { .. } => Ok(0), // answered above
    }
}

/// One installed package for `--json` (schema in the README).
fn installed_json(p: &db::Installed) -> serde_json::Value {
    serde_json::json!({
        "name": p.name, "version": p.version, "release": p.release, "tier": p.tier,
        "description": p.description, "install_date": p.install_date,
        "superseded_by": p.superseded_by, "superseded_at": p.superseded_at,
    })
}
