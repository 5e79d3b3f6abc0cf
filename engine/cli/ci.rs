//! `igos ci workflow`: the ready GitHub Actions workflow for pull-request review
//! (docs/github-workflow.yml, built into the binary so it matches this igos).

/// The workflow file, as shipped in docs/.
pub const GITHUB_WORKFLOW: &str = include_str!("../../docs/github-workflow.yml");

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  igos ci workflow > .github/workflows/igos.yml")]
pub struct CiArgs {
    #[command(subcommand)]
    pub what: CiCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CiCommand {
    /// Print the GitHub Actions workflow: review against the base branch (annotations, step
    /// summary, --new-only ratchet), SARIF upload, the pull-request comment.
    #[command(after_help = "Example:\n  igos ci workflow > .github/workflows/igos.yml")]
    Workflow,
}

pub fn run(args: &CiArgs) -> i32 {
    match args.what {
        CiCommand::Workflow => super::out(GITHUB_WORKFLOW),
    }
    0
}
