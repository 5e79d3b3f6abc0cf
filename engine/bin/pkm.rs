//! pkm: the InterGenOS package manager CLI.

use clap::{CommandFactory, Parser, Subcommand};
use igos::pkm::db::{self, Layout};
use igos::pkm::error::{PkmError, Result, EXIT_FINDING};
use igos::pkm::install::{self, InstallOptions};
use igos::pkm::trust::Trust;
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
    },
    /// Remove packages; /etc configuration files are kept unless --force.
    #[command(after_help = "Example:\n  pkm remove hello\n  pkm remove --force hello   # also removes its /etc files")]
    Remove {
        #[arg(long)]
        force: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Recompute the SHA-256 of every installed file (of NAMEs, or all packages).
    #[command(after_help = "Example:\n  pkm verify\n  pkm verify util-linux-core\n\nExit 1 when a binary or library changed; /etc drift is reported as config drift only.")]
    Verify { names: Vec<String> },
    /// Replace the trusted `available` index with INDEX (format: see `igos::pkm::trust`).
    #[command(after_help = "Example:\n  pkm sync /var/cache/pkm/index.txt\n\nIndex format:\n  igos-index 1\n  <name> <version> <release> <sha256-of-archive> <archive-file-name>")]
    Sync { index: PathBuf },
    /// List installed packages.
    #[command(after_help = "Example:\n  pkm list")]
    List,
    /// Show one package.
    #[command(after_help = "Example:\n  pkm info util-linux")]
    Info { name: String },
    /// List the files a package owns.
    #[command(after_help = "Example:\n  pkm files util-linux-core")]
    Files { name: String },
    /// Which package owns PATH.
    #[command(after_help = "Example:\n  pkm owns /usr/bin/mount")]
    Owns { path: String },
    /// The append-only transaction log.
    #[command(after_help = "Example:\n  pkm history")]
    History,
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
        Cmd::Install { archives, archive_trust, overwrite, allow_downgrade } => {
            let _l = lock::acquire(&layout)?;
            let mut conn = db::open(&layout, true)?;
            let opts = InstallOptions { trust: archive_trust, overwrite, allow_downgrade, ..Default::default() };
            print(&install::install(&layout, &mut conn, &archives, &opts)?);
            Ok(0)
        }
        Cmd::Remove { force, names } => {
            let _l = lock::acquire(&layout)?;
            let mut conn = db::open(&layout, true)?;
            print(&remove::remove(&layout, &mut conn, &names, force)?);
            Ok(0)
        }
        Cmd::Verify { names } => {
            let conn = db::open(&layout, false)?;
            let (n, findings) = verify::verify(&layout, &conn, &names)?;
            for f in &findings {
                out!("{}", f.render());
            }
            let serious = findings.iter().filter(|f| !f.is_config_drift()).count();
            let drift = findings.len() - serious;
            let noun = if serious == 1 { "finding" } else { "findings" };
            out!("verified {n} entries: {serious} {noun}, {drift} config drift");
            Ok(if serious > 0 { EXIT_FINDING as u8 } else { 0 })
        }
        Cmd::Sync { index } => {
            let _l = lock::acquire(&layout)?;
            let mut conn = db::open(&layout, true)?;
            let n = trust::sync(&mut conn, &index)?;
            out!("synced {n} entries from {}", index.display());
            Ok(0)
        }
        Cmd::List => {
            let conn = db::open(&layout, false)?;
            for p in db::list_installed(&conn)? {
                let sup = p.superseded_by.map(|s| format!("  (superseded by {})", visible(&s))).unwrap_or_default();
                out!("{} {}-{}{sup}", visible(&p.name), visible(&p.version), p.release);
            }
            Ok(0)
        }
        Cmd::Info { name } => {
            let conn = db::open(&layout, false)?;
            let p = db::get_installed(&conn, &name)?.ok_or_else(|| PkmError::finding("pkm::not-installed", format!("{} is not installed", visible(&name))))?;
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
        Cmd::Files { name } => {
            let conn = db::open(&layout, false)?;
            let p = db::get_installed(&conn, &name)?.ok_or_else(|| PkmError::finding("pkm::not-installed", format!("{} is not installed", visible(&name))))?;
            for f in db::files_of(&conn, p.id)? {
                let suffix = if f.kind == "dir" { "/" } else { "" };
                out!("/{}{suffix}", visible(&f.path));
            }
            Ok(0)
        }
        Cmd::Owns { path } => {
            let conn = db::open(&layout, false)?;
            let rel = db::normalise_path(&path);
            let owners = db::owners(&conn, &rel)?;
            let shown = visible(&rel);
            if owners.is_empty() {
                return Err(PkmError::finding("pkm::not-owned", format!("/{shown} is not owned by any package")));
            }
            for (o, _) in owners {
                out!("/{shown} is owned by {}", visible(&o));
            }
            Ok(0)
        }
        Cmd::History => {
            let conn = db::open(&layout, false)?;
            let mut st = conn.prepare("SELECT timestamp, operation, package_name, coalesce(old_version,''), coalesce(new_version,''), detail FROM history ORDER BY id")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?, r.get::<_, String>(5)?)))?;
            for r in rows {
                let (t, op, n, o, v, d) = r?;
                let ver = match (o.is_empty(), v.is_empty()) {
                    (true, true) => String::new(),
                    (true, false) => v,
                    (false, true) => o,
                    (false, false) => format!("{o} -> {v}"),
                };
                out!("{}", visible(&format!("{t} {op} {n} {ver} {d}")));
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
