//! `igos check`: load the rules and the tree, run every gate, report, exit 0/1/2.

use std::path::{Path, PathBuf};

use crate::checker::{Checker, Inputs, Unusable};
use crate::report::check_report::{self, HumanOptions};
use crate::report::ci_formats;
use crate::report::diagnostic::{self, Style};
use crate::rules;
use crate::source::SourceMap;
use crate::tree;

use super::{Color, Format};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  igos check                                  # the tree in the current directory\n  igos check --root ../shared/corpus/intergenos-91d65db0\n  igos check --format json > findings.json\n  igos check --rules my-rules/                # try edited rules\n  igos check --baseline origin/main           # review: only what a rule diff changes\n  igos check --baseline HEAD --new-only       # ratchet: fail only on new halting findings\n  igos check --baseline origin/main --format markdown > comment.md   # the pull-request comment\n  igos check --baseline-rules HEAD~1 --baseline-tree v1.2 --rules ../policy/rules   # rules and tree apart\n  igos check --format concise | grep tier-move   # one line per finding\n  igos check --since $(jq -r .commit build/reference.json)   # recipes changed since the last good build first\n\nGate 5 (Scan B) reads the reference of the last good build (default build/reference.json,\nwritten by `igos reference save`) and each package's build log it names; without a\nreference it prints `skipped: no previous build` and passes.")]
pub struct CheckArgs {
    /// The tree root: it holds packages/<tier>/<name>/ and the builder lists.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
    /// The rule files to use. Default: ./rules when it exists, else the rules built into igos.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Show every advisory, not just the first few of each check.
    #[arg(long)]
    pub all: bool,
    /// Colour in human output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// The audit database Gate 2 reads (default: <root>/build/audit.db).
    #[arg(long, value_name = "FILE")]
    pub audit_db: Option<PathBuf>,
    /// The audit store, to catch records not yet aggregated (default: <root>/audits, else <root>/packages/audits).
    #[arg(long, value_name = "DIR")]
    pub audit_store: Option<PathBuf>,
    /// The source tarballs Gate 6 (Scan A.2) reads (default: <root>/sources). Its cache is <root>/build/scan-cache.
    #[arg(long, value_name = "DIR")]
    pub sources: Option<PathBuf>,
    /// The reference of the last good build Gate 5 (Scan B) reads (default: <root>/build/reference.json,
    /// written by `igos reference save`). Absent: Gate 5 is skipped.
    #[arg(long, value_name = "FILE")]
    pub reference: Option<PathBuf>,
    /// List the recipes added or changed (git diff of packages/) since this revision first,
    /// with their findings: the last good build's commit, recorded in the reference.
    #[arg(long, value_name = "GIT-REV", conflicts_with_all = ["baseline", "baseline_rules", "baseline_tree"])]
    pub since: Option<String>,
    /// Print a report instead of the gates: `reconciliation` lists, per package, the
    /// upstream-required dependencies it does not declare: real gaps, then recorded divergences.
    #[arg(long, value_name = "NAME", value_parser = ["reconciliation"])]
    pub report: Option<String>,
    /// Review mode: evaluate the rules and tree at this git revision too, print only what
    /// changed (findings added and gone, natural tiers moved). The rules' revision is read
    /// from the repository that holds the rules, the tree's from the one that holds the tree;
    /// a side not in git is the working copy on both sides (and said so). Both sides are
    /// judged against the working tree's build state (audit database and store, sources,
    /// reference).
    #[arg(long, value_name = "GIT-REV")]
    pub baseline: Option<String>,
    /// With a baseline: fail only on halting findings that are not in the baseline (ratchet).
    #[arg(long)]
    pub new_only: bool,
    /// Audit a built root (a chroot or an image directory) with rules/image.pol instead of
    /// validating the tree: verify_paths present, pkm's records intact, setuid and unowned files.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["baseline", "baseline_rules", "baseline_tree", "since", "report", "new_only"])]
    pub image: Option<PathBuf>,
    #[command(flatten)]
    pub review: ReviewArgs,
}

/// The review options beyond --baseline.
#[derive(Debug, Default, clap::Args)]
pub struct ReviewArgs {
    /// The rules' baseline revision, when it differs from --baseline (or without it).
    #[arg(long, value_name = "GIT-REV")]
    pub baseline_rules: Option<String>,
    /// The tree's baseline revision, when it differs from --baseline (or without it).
    #[arg(long, value_name = "GIT-REV")]
    pub baseline_tree: Option<String>,
    /// Markdown links to files start with this (e.g. https://github.com/o/r/blob/SHA/);
    /// default: relative links.
    #[arg(long, value_name = "URL", default_value = "")]
    pub link_base: String,
}

/// The rules directory `igos` uses when none is given: ./rules if it holds rule files.
pub fn default_rules_dir() -> Option<PathBuf> {
    let dir = Path::new("rules");
    let has_rules = std::fs::read_dir(dir)
        .map(|mut it| it.any(|e| e.map(|e| e.path().extension().is_some_and(|x| x == rules::EXTENSION)).unwrap_or(false)))
        .unwrap_or(false);
    has_rules.then(|| dir.to_path_buf())
}

/// The rules and the tree, loaded, with every source file they came from.
pub struct Loaded {
    pub sources: SourceMap,
    pub rules: rules::Rules,
    pub rules_from: String,
    pub tree: tree::Tree,
}

/// Load the rules (`rules_dir`, else ./rules, else built in) and the tree at `root`.
/// Rule errors and an unusable tree are printed as diagnostics; the error is the exit code.
pub fn load(root: &Path, rules_dir: Option<&Path>, style: Style) -> Result<Loaded, i32> {
    let mut sources = SourceMap::new();
    let rules_dir = rules_dir.map(Path::to_path_buf).or_else(default_rules_dir);
    let registered = match rules::read(rules_dir.as_deref(), &mut sources) {
        Ok(r) => r,
        Err(msg) => return Err(fail(style, "rules::unreadable", msg, None)),
    };
    // The rules compile while the tree loads: neither needs the other (a fifth of the
    // corpus's wall time). Rule errors are still reported first, and alone.
    let (loaded, tree) = std::thread::scope(|s| {
        // The main thread's stack size: parsing recurses as deep as the grammar allows.
        let compiling = std::thread::Builder::new().stack_size(8 << 20).spawn_scoped(s, move || registered.compile(&crate::domains::schema()));
        let tree = tree::load_tree(root, &mut sources);
        (compiling.ok().and_then(|h| h.join().ok()), tree)
    });
    let Some(loaded) = loaded else {
        return Err(fail(style, "rules::unusable", "compiling the rule files failed".into(), None));
    };
    if !loaded.errors.is_empty() {
        for e in &loaded.errors {
            super::err(&diagnostic::render(&diagnostic::rule_error(&sources, e), style));
        }
        super::err(&format!("igos: {} error(s) in the rule files; nothing was checked (exit 2)\n", loaded.errors.len()));
        return Err(2);
    }
    let tree = match tree {
        Ok(t) => t,
        Err(e) => {
            return Err(fail(
                style,
                "tree::unusable",
                e.to_string(),
                Some(e.help().into()),
            ))
        }
    };
    let rules_from = match &rules_dir {
        Some(d) => format!("{} ({} files)", d.display(), loaded.files),
        None => "built in".to_string(),
    };
    Ok(Loaded { sources, rules: loaded, rules_from, tree })
}

impl CheckArgs {
    /// Where this check reads (the library's defaults for what is not given).
    pub fn inputs(&self) -> Inputs {
        Inputs {
            root: self.root.clone(),
            rules: self.rules.clone(),
            audit_db: self.audit_db.clone(),
            audit_store: self.audit_store.clone(),
            sources: self.sources.clone(),
            reference: self.reference.clone(),
        }
    }

    /// How this check reports.
    pub fn report_options(&self) -> Report {
        Report { format: self.format, all: self.all, color: self.color, link_base: self.review.link_base.clone() }
    }
}

/// How a check reports: the format and what the human report shows.
#[derive(Debug, Clone)]
pub struct Report {
    pub format: Format,
    pub all: bool,
    pub color: Color,
    /// Markdown links start with this.
    pub link_base: String,
}

impl Report {
    /// The human report `igos build` prints for its validate and image-audit phases.
    pub fn human(color: Color) -> Report {
        Report { format: Format::Human, all: false, color, link_base: String::new() }
    }
}


fn unusable(style: Style, u: Unusable) -> i32 {
    fail(style, u.code, u.message, u.help)
}

/// The validate phase over `inputs`: every gate, reported as `report` asks; `since` lists
/// the recipes changed since that revision first; `special` prints a report instead
/// (`reconciliation`). The exit code: 0 pass, 1 a halting finding, 2 unusable input.
pub fn check(inputs: &Inputs, report: &Report, since: Option<&str>, special: Option<&str>) -> i32 {
    let style = report.color.style();
    let started = std::time::Instant::now();
    // IGOS_TIMINGS=1: where the time goes (for benchmarks and profiling), on stderr.
    let timings = std::env::var_os("IGOS_TIMINGS").is_some();
    // The audit database and store are independent of the rules and the tree: read them
    // alongside (at 100,000 recipes the database read alone is a third of a second).
    let (l, audit) = std::thread::scope(|s| {
        let audit = s.spawn(|| {
            let t = std::time::Instant::now();
            let a = inputs.audit();
            if timings {
                super::err(&format!("  audit facts (alongside the tree): {:.2} ms\n", t.elapsed().as_secs_f64() * 1e3));
            }
            a
        });
        let l = load(&inputs.root, inputs.rules.as_deref(), style);
        if timings {
            super::err(&format!("  rules and tree: {:.2} ms\n", started.elapsed().as_secs_f64() * 1e3));
        }
        (l, audit.join())
    });
    let mut l = match l {
        Ok(l) => l,
        Err(code) => return code,
    };
    let audit = audit.unwrap_or_else(|_| {
        Err(Unusable {
            code: "audit::database",
            message: "reading the audit database failed".into(),
            help: Some("rebuild it from the audit store: igos audit aggregate".into()),
        })
    });
    let audit = match audit {
        Ok(a) => a,
        Err(u) => return unusable(style, u),
    };
    let scan = match inputs.scan(&l.tree, &mut l.sources) {
        Ok(s) => s,
        Err(u) => return unusable(style, u),
    };
    if special == Some("reconciliation") {
        // The gaps are what the checks find: Gate 6's findings, not a second opinion.
        let checked = Checker::new(&l.rules.policy, &l.tree).audit(&audit, &l.sources).scan(&scan).run().outcome;
        super::out(&crate::scan::reconcile::report(&l.tree, &l.rules.policy, &scan, &l.sources, checked.findings()));
        return 0;
    }
    let scan_b = match inputs.scan_b(&l.tree, &l.rules.policy, &mut l.sources) {
        Ok(s) => s,
        Err(u) => return unusable(style, u),
    };
    let changed = match since {
        Some(rev) => match super::since::changed(&inputs.root, &l.tree, rev) {
            Ok(c) => Some((rev, c)),
            Err(e) => return fail(style, "since::git", e, Some("pass a commit of the tree's git history, e.g. the `commit` of build/reference.json".into())),
        },
        None => None,
    };
    let loaded = started.elapsed();
    let loaded_rss = if timings { resident_mib() } else { (0, 0) };
    let checker = Checker::new(&l.rules.policy, &l.tree).audit(&audit, &l.sources).scan(&scan).scan_b(&scan_b);
    let outcome = checker.run().outcome;
    let evaluated = started.elapsed();
    let evaluated_rss = if timings { resident_mib() } else { (0, 0) };
    match report.format {
        Format::Json => super::out_with(|w| {
            let fingerprints = crate::finding::fingerprints(outcome.findings());
            let since = changed.as_ref().map(|(rev, c)| (*rev, super::since::json_changed(c, &outcome, &l.sources, &fingerprints)));
            crate::report::json::write(w, &outcome, &l.sources, since)
        }),
        Format::Sarif => super::out_with(|w| ci_formats::write_sarif(w, &outcome, &l.rules.policy, &l.sources, None)),
        Format::Github => {
            super::out(&ci_formats::github(&outcome, &l.sources));
            if let Err(e) = step_summary(&crate::report::markdown::render(&outcome, &l.sources, None, &report.link_base)) {
                return fail(style, "check::step-summary", e, None);
            }
        }
        Format::Markdown => super::out(&crate::report::markdown::render(&outcome, &l.sources, None, &report.link_base)),
        Format::Concise => super::out_with(|w| crate::report::concise::write(w, &outcome, &l.sources)),
        Format::Human => {
            let header = format!(
                "igos check: {} packages in {}, rules {}",
                outcome.packages,
                inputs.root.display(),
                l.rules_from
            );
            let human = check_report::human(&outcome, &l.sources, &header, HumanOptions { style, all: report.all });
            match &changed {
                // The header line, then what changed since the last good build, then the gates.
                Some((rev, c)) => {
                    let (head, rest) = human.split_once("\n\n").unwrap_or((&human, ""));
                    super::out(&format!("{head}\n\n{}{rest}", super::since::human(rev, c, &outcome)));
                }
                None => super::out(&human),
            }
        }
    }
    if timings {
        let total = started.elapsed();
        super::err(&format!(
            "timings: load {:.2} ms, evaluate {:.2} ms, report {:.2} ms, total {:.2} ms\n",
            loaded.as_secs_f64() * 1e3,
            (evaluated - loaded).as_secs_f64() * 1e3,
            (total - evaluated).as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3
        ));
        let (now, peak) = resident_mib();
        super::err(&format!(
            "memory (resident now/peak MiB): loaded {}/{}, evaluated {}/{}, reported {now}/{peak}\n",
            loaded_rss.0, loaded_rss.1, evaluated_rss.0, evaluated_rss.1
        ));
    }
    let code = outcome.exit_code();
    // The process exits next: let the OS reclaim the tree instead of freeing it piece by piece.
    std::mem::forget(outcome);
    std::mem::forget(checker);
    std::mem::forget(l);
    code
}

/// With `GITHUB_STEP_SUMMARY` set (GitHub Actions), append `markdown` to that file.
pub fn step_summary(markdown: &str) -> Result<(), String> {
    use std::io::Write as _;
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else { return Ok(()) };
    let path = PathBuf::from(path);
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut f| f.write_all(markdown.as_bytes()))
        .map_err(|e| format!("cannot append the step summary to {} (GITHUB_STEP_SUMMARY): {e}", path.display()))
}

pub fn fail(style: Style, code: &str, message: String, help: Option<String>) -> i32 {
    super::err(&diagnostic::render(&diagnostic::plain(code, message, help), style));
    2
}

/// Resident and peak resident memory of this process in MiB (Linux; zeros elsewhere), for
/// `IGOS_TIMINGS`: which phase holds the memory a large tree costs.
fn resident_mib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
