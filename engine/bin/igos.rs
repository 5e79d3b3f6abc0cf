//! `igos`: the InterGenOS policy engine. See `igos --help`.

use clap::{CommandFactory, Parser, Subcommand};
use igos::cli;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// igos evaluates the InterGenOS policy (rule files in rules/) over a package tree.
///
/// Exit codes: 0 pass (advisories allowed), 1 a halting finding, 2 rules or input unusable.
#[derive(Debug, Parser)]
#[command(name = "igos", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the validate gates over a tree (the build's validate phase).
    Check(cli::check::CheckArgs),
    /// Explain a package's natural tier, or one finding.
    Explain(cli::explain::ExplainArgs),
    /// List every check: id, severity, gate, stability, description.
    Checks(cli::checks::ChecksArgs),
    /// Rewrite rule files in the canonical layout (--check: report only).
    Fmt(cli::fmt::FmtArgs),
    /// Audit recipes into the audit store, or aggregate the store into the database.
    Audit(cli::audit::AuditArgs),
    /// Run the rules' own tests: small trees with the findings they must (not) produce.
    Test(cli::ruletest::TestArgs),
    /// Plan and run the build phases declared in rules/phases.pol.
    Build(cli::build::BuildArgs),
    /// The relations, record kinds, fields, functions and enumerations rules may use (Markdown or JSON).
    Schema(cli::schema::SchemaArgs),
    /// Draw the tiers and classification layers, the inference edges, or the phase graph (Mermaid, DOT, SVG).
    Graph(cli::graph::GraphArgs),
    /// Print shell completions for igos (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Example:\n  igos completions bash > /etc/bash_completion.d/igos")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) generated from this command-line definition: igos(1), or
    /// igos-COMMAND(1) for one command.
    #[command(after_help = "Examples:\n  igos man > igos.1 && man ./igos.1\n  igos man check > igos-check.1")]
    Man {
        /// The command whose page to print (check, explain, fmt, ...); none: igos(1).
        command: Option<String>,
    },
    /// Pack a staged install tree into a reproducible .igos.tar.gz (--check-reproducible: prove it).
    Pack(cli::pack::PackArgs),
    /// Record (save) or show the reference of the last good build that Gate 5 (Scan B) reads.
    Reference(cli::reference::ReferenceArgs),
    /// CI support: `igos ci workflow` prints the GitHub Actions workflow for pull-request review.
    Ci(cli::ci::CiArgs),
    /// The language server for rule files (Language Server Protocol over stdin and stdout).
    Lsp(cli::lsp::LspArgs),
    /// Publish a pkm repository: keygen, add archives, remove packages (a signed index).
    Repo(cli::repo::RepoArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        Command::Check(args) => cli::check_command::run(args),
        Command::Explain(args) => cli::explain::run(args),
        Command::Checks(args) => cli::checks::run(args),
        Command::Fmt(args) => cli::fmt::run(args),
        Command::Audit(args) => cli::audit::run(args),
        Command::Test(args) => cli::ruletest::run(args),
        Command::Build(args) => cli::build::run(args),
        Command::Schema(args) => cli::schema::run(args),
        Command::Graph(args) => cli::graph::run(args),
        Command::Pack(args) => cli::pack::run(args),
        Command::Reference(args) => cli::reference::run(args),
        Command::Ci(args) => cli::ci::run(args),
        Command::Lsp(args) => cli::lsp::run(args),
        Command::Repo(args) => cli::repo::run(args),
        Command::Completions { shell } => {
            cli::out(&cli::docgen::completions(Cli::command(), "igos", *shell));
            0
        }
        Command::Man { command } => match cli::docgen::man_page(Cli::command(), "igos", command.as_deref()) {
            Ok(page) => {
                cli::out(&page);
                0
            }
            Err(e) => {
                cli::err(&format!("{e}\n"));
                2
            }
        },
    };
    std::process::exit(code);
}
