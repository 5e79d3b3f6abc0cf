//! `igos lsp`: the language server for rule files, over stdin and stdout.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(after_help = "Editors start it; it speaks the Language Server Protocol on stdin and stdout.\n\nExamples:\n  igos lsp                                        # the workspace's rules/ and tree\n  igos lsp --root ../shared/corpus/intergenos-91d65db0   # findings of another tree\n\nSee the README's \"Editors\" section for Neovim, VS Code and Helix.")]
pub struct LspArgs {
    /// The tree whose findings are shown in the rules (default: the workspace folder).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The rules directory (default: <workspace>/rules).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Accepted for editors that pass it (VS Code's language client does); stdio is the only transport.
    #[arg(long, hide = true)]
    pub stdio: bool,
}

pub fn run(args: &LspArgs) -> i32 {
    let absolute = |p: &PathBuf| std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.clone());
    crate::lsp::run(crate::lsp::Options { root: args.root.as_ref().map(absolute), rules: args.rules.as_ref().map(absolute) })
}
