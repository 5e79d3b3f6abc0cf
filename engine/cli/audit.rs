//! `igos audit <pkg>...` writes audit records into the store; `igos audit aggregate`
//! ingests the store into the database Gate 2 reads.

use std::path::{Path, PathBuf};

use crate::audit;
use crate::report::diagnostic;
use crate::source::SourceMap;

use super::Color;

#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "The data flow: audit writes records into the store; aggregate ingests the store into the\n\
database; igos check (Gate 2) reads the database. Auditing alone does not change what the gate sees.\n\n\
Examples:\n  igos audit curl zlib                # audit two recipes against their tarballs in ./sources\n  igos audit aggregate                # store -> database, one transaction\n  igos check                          # Gate 2 now sees the new records\n\n\
Exit codes: 0 every record written; 1 an audit refused (the tarball does not match the recipe's\n\
sha256: nothing written for it); 2 unusable input (no such recipe, no tarball, unreadable store)."
)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Packages to audit.
    #[arg(value_name = "PACKAGE")]
    pub packages: Vec<String>,
    /// The tree root.
    #[arg(long, value_name = "DIR", default_value = ".", global = true)]
    pub root: PathBuf,
    /// Where the source tarballs are (default: <root>/sources).
    #[arg(long, value_name = "DIR")]
    pub sources: Option<PathBuf>,
    /// The audit store (default: <root>/audits, else <root>/packages/audits).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Ingest the whole audit store into the build database.
    #[command(after_help = "Examples:\n  igos audit aggregate                                  # audits/ -> build/audit.db\n  igos audit aggregate --store corpus/audits --db /tmp/corpus.db")]
    Aggregate {
        /// The audit store (default: <root>/audits, else <root>/packages/audits).
        #[arg(long, value_name = "DIR")]
        store: Option<PathBuf>,
        /// The database (default: <root>/build/audit.db).
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
    },
}

/// The store of a tree: `<root>/audits`, or `<root>/packages/audits` in the embedded
/// layout (whose builder lists are under packages/ because the top level is fixed).
pub fn store_of(root: &Path) -> PathBuf {
    crate::checker::default_store(root)
}

pub fn run(args: &AuditArgs) -> i32 {
    let style = args.color.style();
    if let Some(AuditCommand::Aggregate { store, db }) = &args.command {
        let root = &args.root;
        let store = store.clone().unwrap_or_else(|| store_of(root));
        let db = db.clone().unwrap_or_else(|| audit::default_db(root));
        return match audit::aggregate(&store, &db) {
            Ok((n, skipped)) => {
                for s in &skipped {
                    super::err(&format!("skipped {s}\n"));
                }
                super::out(&format!("Ingested {n} audit records from {} into {}\n", store.display(), db.display()));
                i32::from(!skipped.is_empty()) * 2
            }
            Err(e) => {
                super::err(&diagnostic::render(
                    &diagnostic::plain("audit::aggregate", e.to_string(), Some("check the store and the database path".into())),
                    style,
                ));
                2
            }
        };
    }
    if args.packages.is_empty() {
        super::err("igos audit: name the packages to audit, or `igos audit aggregate` (see --help)\n");
        return 2;
    }
    let mut sources = SourceMap::new();
    let tree = match crate::tree::load_tree(&args.root, &mut sources) {
        Ok(t) => t,
        Err(e) => {
            super::err(&diagnostic::render(&diagnostic::plain("tree::unusable", e.to_string(), None), style));
            return 2;
        }
    };
    let tarballs = args.sources.clone().unwrap_or_else(|| args.root.join("sources"));
    let store = args.store.clone().unwrap_or_else(|| store_of(&args.root));
    let mut worst = 0;
    for name in &args.packages {
        let Some(pkg) = tree.packages.iter().find(|p| &p.name == name) else {
            let hint = crate::lang::error::did_you_mean(name, tree.packages.iter().map(|p| p.name.as_str())).map(|s| format!("did you mean `{s}`?"));
            super::err(&diagnostic::render(&diagnostic::plain("audit", format!("no recipe named `{name}`"), hint), style));
            worst = worst.max(2);
            continue;
        };
        match audit::audit_package(pkg, &tarballs) {
            Ok(record) => match record.save(&store) {
                Ok(path) => super::out(&format!("audited {name} {} ({}) -> {}\n", record.version, record.build_system, path.display())),
                Err(e) => {
                    super::err(&format!("igos audit: cannot write the record of {name}: {e}\n"));
                    worst = worst.max(2);
                }
            },
            Err(e) => {
                super::err(&diagnostic::render(&diagnostic::plain("audit::refused", e.message, Some(e.help)), style));
                worst = worst.max(e.exit);
            }
        }
    }
    if worst == 0 {
        super::out("now run `igos audit aggregate` so Gate 2 sees the new records\n");
    }
    worst
}
