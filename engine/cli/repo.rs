//! `igos repo`: publish a pkm repository (a directory of archives and a signed index).

use std::path::PathBuf;

use crate::repo::publish;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  igos repo keygen --dir /srv/keys release           # release.key (0600) and release.pub
  igos repo add /srv/repo/core --key /srv/keys/release.key out/*.igos.tar.gz
  igos repo remove /srv/repo/core --key /srv/keys/release.key old-tool

Clients trust the key by copying release.pub into <root>/etc/igos/keys/ and listing the
repository in <root>/etc/igos/repos.conf as `NAME URL KEY-ID`.

Exit codes: 0 done, 2 input unusable (an unreadable archive or key, an unknown package).")]
pub struct RepoArgs {
    #[command(subcommand)]
    pub command: RepoCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum RepoCommand {
    /// Make a new Ed25519 signing key: DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub.
    Keygen {
        /// The directory the key files are written to.
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// The key's name (file names NAME.key and NAME.pub).
        name: String,
    },
    /// Publish archives: copy them into REPO and rewrite the signed index.
    Add {
        /// The repository directory (created if missing).
        repo: PathBuf,
        /// The secret key that signs the index.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Also write a detached signature beside each archive (FILE.sig).
        #[arg(long)]
        sign_archives: bool,
        #[arg(required = true)]
        archives: Vec<PathBuf>,
    },
    /// Unpublish every version of NAMES and rewrite the signed index.
    Remove {
        repo: PathBuf,
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(required = true)]
        names: Vec<String>,
    },
}

pub fn run(args: &RepoArgs) -> i32 {
    let res = match &args.command {
        RepoCommand::Keygen { dir, name } => publish::keygen(dir, name).map(|(secret, public, id)| {
            vec![format!("key id {id}"), format!("secret key: {} (keep it private)", secret.display()), format!("public key: {} (copy it to <root>/etc/igos/keys/)", public.display())]
        }),
        RepoCommand::Add { repo, key, sign_archives, archives } => {
            publish::load_secret(key).and_then(|k| publish::add(repo, &k, archives, *sign_archives))
        }
        RepoCommand::Remove { repo, key, names } => publish::load_secret(key).and_then(|k| publish::remove(repo, &k, names)),
    };
    match res {
        Ok(lines) => {
            let mut s = lines.join("\n");
            s.push('\n');
            super::out(&s);
            0
        }
        Err(e) => {
            super::err(&format!("igos repo: {}\n", crate::visible::visible(&e)));
            2
        }
    }
}
