//! `igos reference save`: record the last good build for Gate 5 (Scan B);
//! `igos reference show`: print what the recorded reference holds.

use std::path::PathBuf;

use crate::report::diagnostic::Style;
use crate::scanb::reference::{self, Reference};
use crate::source::SourceMap;

use super::Color;

#[derive(Debug, clap::Args)]
#[command(after_help = "The reference of the last good build is what Gate 5 (Scan B, silent feature loss)
compares against. Per installed package it records its version, the build and host
dependencies its recipe declares, and where its build log is. Its inputs:

  <installed>/var/lib/igos/packages/<name>-<version>   pkm's text manifests (the build root)
  packages/<tier>/<name>/package.yml                    the recipes (declared deps)
  <root>/build/logs/<name>.log (else <name>-<version>.log)  the configure/build logs

It is written to <root>/build/reference.json: JSON with sorted keys, byte-identical for
the same inputs, with the tree's git commit when the root is a git work tree (for
`igos check --since <commit>`). Without it, Gate 5 prints `skipped: no previous build`.

Examples:
  igos reference save --installed /mnt/igos                 # after a good from-scratch build
  igos reference save --installed /mnt/igos --logs /mnt/igos/mnt/intergenos/build/logs
  igos reference show                                       # what the reference holds
  igos check                                                # Gate 5 reads build/reference.json")]
pub struct ReferenceArgs {
    #[command(subcommand)]
    pub command: ReferenceCommand,
    /// The tree root (packages/<tier>/<name>/).
    #[arg(long, value_name = "DIR", default_value = ".", global = true)]
    pub root: PathBuf,
    /// The reference file (default: <root>/build/reference.json).
    #[arg(long, value_name = "FILE", global = true)]
    pub reference: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReferenceCommand {
    /// Record the last good build from an installed root's pkm manifests and the build logs.
    #[command(after_help = "Example:\n  igos reference save --installed /mnt/igos --logs build/logs   # after a build passed")]
    Save {
        /// The root the build installed into (its var/lib/igos/packages/ is read).
        #[arg(long, value_name = "DIR", default_value = "/")]
        installed: PathBuf,
        /// The build logs directory (default: <root>/build/logs).
        #[arg(long, value_name = "DIR")]
        logs: Option<PathBuf>,
    },
    /// Print the packages of the reference, with their logs.
    #[command(after_help = "Example:\n  igos reference show            # what Gate 5 compares against")]
    Show,
}

pub fn run(args: &ReferenceArgs) -> i32 {
    let style: Style = args.color.style();
    let path = args.reference.clone().unwrap_or_else(|| reference::default_path(&args.root));
    match &args.command {
        ReferenceCommand::Save { installed, logs } => {
            let mut sources = SourceMap::new();
            let tree = match crate::tree::load_tree(&args.root, &mut sources) {
                Ok(t) => t,
                Err(e) => return super::check::fail(style, "tree::unusable", e.to_string(), Some("pass the directory that holds packages/<tier>/<name>/ with --root".into())),
            };
            let logs = logs.clone().unwrap_or_else(|| reference::default_logs(&args.root));
            let r = match reference::build(&tree, &args.root, installed, &logs) {
                Ok(r) => r,
                Err(e) => return super::check::fail(style, "reference::inputs", e, Some("pass the root the build installed into with --installed DIR".into())),
            };
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if let Err(e) = std::fs::create_dir_all(dir) {
                    return super::check::fail(style, "reference::write", format!("cannot create {}: {e}", dir.display()), None);
                }
            }
            let tmp = path.with_extension("json.tmp");
            if let Err(e) = std::fs::write(&tmp, r.to_json()).and_then(|_| std::fs::rename(&tmp, &path)) {
                return super::check::fail(style, "reference::write", format!("cannot write {}: {e}", path.display()), None);
            }
            let missing = r.packages.values().filter(|p| !log_path(&args.root, &p.log).is_file()).count();
            let commit = r.commit.as_deref().map(|c| format!(" at commit {}", &c[..c.len().min(12)])).unwrap_or_default();
            super::out(&format!(
                "saved the reference of {} package(s){commit} to {} ({missing} without a build log)\n",
                r.packages.len(),
                path.display()
            ));
            0
        }
        ReferenceCommand::Show => {
            let text = match crate::input::read_text_if_present(&path, crate::input::Kind::Reference) {
                Ok(Some(t)) => t,
                Err(e) => return super::check::fail(style, "reference::unusable", e.to_string(), None),
                Ok(None) => {
                    super::out(&format!("no reference at {}: no previous build recorded\n", path.display()));
                    return 0;
                }
            };
            let r = match Reference::parse(&text) {
                Ok(r) => r,
                Err(e) => return super::check::fail(style, "reference::unusable", format!("{}: {e}", path.display()), Some("save it again: igos reference save".into())),
            };
            let mut out = format!("reference {}: {} package(s)", path.display(), r.packages.len());
            if let Some(c) = &r.commit {
                out.push_str(&format!(", commit {c}"));
            }
            out.push('\n');
            for (name, p) in &r.packages {
                let state = if log_path(&args.root, &p.log).is_file() { "" } else { "  (log missing)" };
                out.push_str(&format!("  {name} {}  deps: {}  log: {}{state}\n", p.version, if p.deps.is_empty() { "-".to_string() } else { p.deps.join(", ") }, p.log));
            }
            super::out(&out);
            0
        }
    }
}

fn log_path(root: &std::path::Path, log: &str) -> PathBuf {
    let p = std::path::Path::new(log);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    }
}
