//! `igos pack`: a staged install tree and its recipe → a reproducible `.igos.tar.gz`.

use std::path::PathBuf;

use crate::pack;
use crate::report::diagnostic;

use super::Color;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
SOURCE_DATE_EPOCH is required: every member's mtime is set to it, so the same DESTDIR always
gives the same bytes (sorted members, owner root 0/0, gzip header without a timestamp).

Examples:
  # stage, then pack: writes ./out/zlib-1.3.1-1.igos.tar.gz
  make DESTDIR=/tmp/stage/zlib install
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) \\
    igos pack --recipe packages/core/zlib --destdir /tmp/stage/zlib --out out

  # prove it: pack twice (a copy at another path, reverse creation order, another umask,
  # other mtimes) and compare; exit 1 with the first differing entry if the bytes differ
  SOURCE_DATE_EPOCH=1700000000 igos pack --check-reproducible \\
    --recipe packages/core/zlib --destdir /tmp/stage/zlib --out out

Exit codes: 0 packed (or reproducible), 1 the two archives differ, 2 input unusable
(SOURCE_DATE_EPOCH unset, a device node, socket, FIFO or unreadable file in the DESTDIR, ...).")]
pub struct PackArgs {
    /// The recipe: packages/<tier>/<name> (or its package.yml). Name, version, release, tier,
    /// description, runtime dependencies and supersedes come from it.
    #[arg(long, value_name = "DIR")]
    pub recipe: PathBuf,
    /// The staged install tree (what `make DESTDIR=... install` produced). Exactly its content
    /// is packed; symlinks are stored, never followed.
    #[arg(long, value_name = "DIR")]
    pub destdir: PathBuf,
    /// Where the archive is written (created if missing; must be outside the DESTDIR).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Pack twice under different conditions and prove the archives are byte-identical.
    /// The archive is kept in --out only when they are.
    #[arg(long)]
    pub check_reproducible: bool,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

pub fn run(args: &PackArgs) -> i32 {
    let style = args.color.style();
    let fail = |problems: Vec<pack::PackError>| -> i32 {
        for p in &problems {
            super::err(&diagnostic::render(&p.diagnostic(), style));
        }
        if problems.len() >= pack::MAX_PROBLEMS {
            super::err(&format!("igos pack: stopped after {} problems\n", pack::MAX_PROBLEMS));
        }
        2
    };
    let epoch = match pack::source_date_epoch(std::env::var_os(pack::EPOCH_VAR).as_deref()) {
        Ok(n) => n,
        Err(e) => return fail(vec![e]),
    };
    let meta = match pack::read_recipe(&args.recipe) {
        Ok(m) => m,
        Err(e) => return fail(vec![e]),
    };
    if !args.check_reproducible {
        return match pack::pack(&meta, &args.destdir, &args.out, epoch) {
            Ok(p) => {
                super::out(&format!(
                    "packed {} ({} entries, {}, mtime {epoch})\n  sha256 {}\n",
                    p.path.display(),
                    p.manifest.entries.len(),
                    crate::pkm::util::human_size(p.bytes),
                    p.sha256
                ));
                0
            }
            Err(problems) => fail(problems),
        };
    }
    let report = match pack::check_reproducible(&meta, &args.destdir, &args.out, epoch, true, None) {
        Ok(r) => r,
        Err(problems) => return fail(problems),
    };
    let mut text = format!(
        "checking {} {}-{} ({} entries, mtime {epoch})\n  A: {} as given\n  B: a copy, varied:\n",
        meta.name,
        meta.version,
        meta.release,
        report.a.manifest.entries.len(),
        args.destdir.display()
    );
    for v in &report.varied {
        text.push_str(&format!("     - {v}\n"));
    }
    text.push_str(&format!("  A sha256 {}  ({})\n", report.a.sha256, crate::pkm::util::human_size(report.a.bytes)));
    text.push_str(&format!("  B sha256 {}  ({})\n", report.b.sha256, crate::pkm::util::human_size(report.b.bytes)));
    match &report.difference {
        None => {
            text.push_str("reproducible: the two archives are byte-identical\n");
            if let Some(k) = &report.kept {
                text.push_str(&format!("packed {}\n", k.display()));
            }
            super::out(&text);
            0
        }
        Some(d) => {
            super::out(&text);
            let diag = diagnostic::plain(
                "pack::not-reproducible",
                format!("the two archives differ; first difference at {d}"),
                Some("something in the DESTDIR's metadata leaks into the archive; no archive was written".into()),
            );
            super::err(&diagnostic::render(&diag, style));
            1
        }
    }
}
