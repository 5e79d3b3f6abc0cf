//! `igos build`: plan and run the build phases the rules declare (rules/phases.pol).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::lang::compile::{PhaseDef, Policy};
use crate::phases::checkpoint::{self, Fingerprint, Record, Resume};
use crate::phases::command::{self, PhaseEnv};
use crate::phases::graph::PhaseGraph;
use crate::phases::select::{self, Selection};
use crate::phases::state::{unix_now, StateDir};
use crate::report::diagnostic::{self, Style};
use crate::rules;
use crate::source::SourceMap;

use super::check::{default_rules_dir, Report};
use crate::checker::Inputs;
use super::{Color, Format};

/// Exit code of a run that a stop file ended cleanly between two phases
/// (EX_TEMPFAIL of sysexits.h: nothing failed, run again to go on).
pub const EXIT_STOPPED: i32 = 75;

const AFTER_HELP: &str = "\
Examples:
  igos build --plan                          # the phases in order, with their actions
  igos build                                 # run every required phase
  igos build --start-at core --stop-after base
  igos build --publish                       # also the optional phases (publish)
  igos build                                 # after a failure: skips what the checkpoints cover
  igos build --plan                          # ... and says which phases it would skip, and why
  igos build --from-scratch                  # ignore the checkpoints
  igos build --start-at toolchain            # start at a phase (validate still runs first)
  igos build --image /mnt/igos               # the root the image-audit phase audits
  touch build/state/STOP                     # from another shell: stop before the next phase

The embedded default tree is harmless to run: its rules/phases.pol declares commands that
only print what the real phase would do (`echo 'would run scripts/setup.sh'`), so a
newcomer can run the whole plan. A distribution tree replaces them with its real scripts;
`--plan` always shows exactly what will run.

How a run goes:
  validate    runs `igos check` in-process; a failure stops the build before anything is
              created (not even the state directory).
  the others  run `sh -c <command>` from the tree root, stdout and stderr teed into
              <state>/logs/<phase>.log, with IGOS_PHASE, IGOS_ROOT, IGOS_STATE and IGOS_LOG
              in the environment.
  <state>/current-phase names the phase running, the one that failed, or (after a
  successful run) the last one run;
  image-audit runs `igos check --image` in-process (rules/image.pol) over --image, default
              <root>/build/image (skipped, saying so, when that default does not exist).
  <state>/checkpoints/<phase> is written when a `checkpoint` phase succeeds: what every
  phase up to it ran with (declaration, rules, recipes/lists/scripts, igos version). The
  next run skips the phases up to the last checkpoint that still holds and prints why it
  runs a phase again (\"rules changed since the checkpoint of core\"). Validate always runs,
  --start-at included, unless --skip-validate (a warning, also in <state>/logs/validate.log).
  <state>/STOP, checked before each phase, stops the run cleanly (the file is removed).

Exit codes:
  0   every selected phase succeeded (or --plan)
  N   the exit code of the phase that failed (validate and image-audit: 1 a halting
      finding, 2 unusable input); a resume hint repeats the command
  2   the rules or the phase graph are unusable, or a phase name is unknown
  75  a stop file stopped the run between two phases";

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct BuildArgs {
    /// Print the phases in order with their actions and checkpoints; run nothing.
    #[arg(long)]
    pub plan: bool,
    /// Start at this phase (skip the ones before it).
    #[arg(long, value_name = "PHASE")]
    pub start_at: Option<String>,
    /// Stop after this phase.
    #[arg(long, value_name = "PHASE")]
    pub stop_after: Option<String>,
    /// Include the optional phases (publish).
    #[arg(long)]
    pub publish: bool,
    /// The tree root: phase commands run here; validate checks it.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
    /// The rule files to use. Default: ./rules when it exists, else the rules built into igos.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// The state directory (phase file, stop file, checkpoints, logs). Default: <root>/build/state.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Colour in diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Ignore the checkpoints: run every selected phase (their checkpoints are rewritten).
    #[arg(long)]
    pub from_scratch: bool,
    /// Do not run the validate phase. The run says so as a warning, in its output and in
    /// <state>/logs/validate.log.
    #[arg(long)]
    pub skip_validate: bool,
    /// The built root the `image-audit` phase audits (rules/image.pol). Default:
    /// <root>/build/image; when that default does not exist the audit is skipped, saying so.
    #[arg(long, value_name = "DIR")]
    pub image: Option<PathBuf>,
}

pub fn run(args: &BuildArgs) -> i32 {
    let style = args.color.style();
    let mut sources = SourceMap::new();
    let rules_dir = args.rules.clone().or_else(default_rules_dir);
    let loaded = match rules::load(rules_dir.as_deref(), &mut sources) {
        Ok(r) => r,
        Err(msg) => return fail(style, "rules::unreadable", msg, None),
    };
    // The graph's own errors are among the rules' (rules::Registered::compile).
    let (graph, _) = PhaseGraph::build(&loaded.policy);
    if !loaded.errors.is_empty() {
        for e in &loaded.errors {
            eprint!("{}", diagnostic::render(&diagnostic::rule_error(&sources, e), style));
        }
        eprintln!("igos build: {} error(s) in the rule files; nothing was run (exit 2)", loaded.errors.len());
        return 2;
    }
    let policy = &loaded.policy;
    let selection = match select::select(
        policy,
        graph.order(),
        args.publish,
        args.start_at.as_deref(),
        args.stop_after.as_deref(),
    ) {
        Ok(s) => s,
        Err(e) => return fail(style, "build::phase", e.message(), Some(e.help())),
    };
    let rules_from = match &rules_dir {
        Some(d) => format!("{} ({} files)", d.display(), loaded.files),
        None => "built in".to_string(),
    };
    let state = StateDir::new(args.state.clone().unwrap_or_else(|| args.root.join("build").join("state")));
    // What each phase would run with now, against what the checkpoints recorded. The tree
    // is read only for that (validate reads it again, as `igos check` does).
    let tree = crate::tree::load_tree(&args.root, &mut sources).ok();
    let fingerprints = checkpoint::fingerprints(policy, &selection.plan, tree.as_ref(), &sources, &args.root);
    let resume = if args.from_scratch || args.start_at.is_some() {
        Resume::default()
    } else {
        checkpoint::resume(policy, &selection.plan, &fingerprints, |p| state.read_checkpoint(p))
    };
    if args.plan {
        print!("{}", plan(policy, &selection, &rules_from));
        print!("{}", plan_resume(policy, &selection, &resume, args, &state));
        return 0;
    }
    if !args.root.is_dir() {
        return fail(
            style,
            "build::root",
            format!("the tree root {} is not a directory", args.root.display()),
            Some("pass the tree with --root".into()),
        );
    }
    Runner { args, policy, selection: &selection, style, state, fingerprints, resume }.run()
}

/// The plan as text: one block per phase of this run, numbered by position in the plan.
pub fn plan(policy: &Policy, s: &Selection, rules_from: &str) -> String {
    let mut out = String::new();
    let total = s.plan.len();
    let _ = writeln!(out, "igos build plan: {} of {total} phases; rules from {rules_from}", s.count());
    let width = s.plan.iter().map(|&i| policy.phases[i].name.len()).max().unwrap_or(0);
    for (pos, i) in s.to_run() {
        let p = &policy.phases[i];
        let mark = if p.checkpoint { "  [checkpoint]" } else { "" };
        let _ = writeln!(out, "{pos:>4}/{total} {:<width$}  {}{mark}", p.name, p.title.as_deref().unwrap_or(""));
        let _ = writeln!(out, "{:>w$}{}", "", action(p), w = 4 + 1 + total.to_string().len() + 1 + width + 2);
    }
    if s.first > 0 {
        let _ = writeln!(out, "skipped before --start-at: {}", names(policy, &s.plan[..s.first]));
    }
    if s.last + 1 < total {
        let _ = writeln!(out, "skipped after --stop-after: {}", names(policy, &s.plan[s.last + 1..]));
    }
    if !s.skipped_optional.is_empty() {
        let _ = writeln!(out, "optional, not in the plan (add --publish): {}", names(policy, &s.skipped_optional));
    }
    out
}

/// What the checkpoints and the flags change in the plan: which phases a run would skip
/// and why. Empty when nothing is skipped and nothing was recorded.
fn plan_resume(policy: &Policy, s: &Selection, resume: &Resume, args: &BuildArgs, state: &StateDir) -> String {
    let mut out = String::new();
    let validate: Vec<usize> = s.plan.iter().copied().filter(|&i| checkpoint::always_runs(&policy.phases[i])).collect();
    if args.skip_validate && !validate.is_empty() {
        let _ = writeln!(out, "warning: --skip-validate: {} will not run", names(policy, &validate));
    } else if s.first > 0 && s.plan[..s.first].iter().any(|&i| checkpoint::always_runs(&policy.phases[i])) {
        let _ = writeln!(out, "validate runs first all the same (--skip-validate to leave it out)");
    }
    if args.from_scratch {
        let _ = writeln!(out, "checkpoints in {} ignored (--from-scratch)", state.dir.display());
        return out;
    }
    if let Some((c, name)) = &resume.covered {
        let skipped: Vec<usize> =
            s.to_run().filter(|&(pos, i)| resume.covers(pos - 1) && !checkpoint::always_runs(&policy.phases[i])).map(|(_, i)| i).collect();
        let _ = writeln!(
            out,
            "resume: the checkpoint of {name} holds ({}): skipped: {}",
            state.checkpoint(name).display(),
            names(policy, &skipped)
        );
        if let Some(&next) = s.plan.get(c + 1) {
            let why = resume.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            let _ = writeln!(out, "resume: runs from {}{why}", policy.phases[next].name);
        }
    } else if let Some(r) = &resume.reason {
        let _ = writeln!(out, "resume: no checkpoint holds: {r}; every phase runs");
    }
    out
}

fn action(p: &PhaseDef) -> String {
    match (&p.builtin, &p.run) {
        (Some(b), _) if b == "check" => "builtin: igos check (in-process)".to_string(),
        (Some(b), _) if b == "image-audit" => "builtin: igos check --image (in-process; rules/image.pol)".to_string(),
        (Some(b), _) => format!("builtin: {b}"),
        (None, Some(cmd)) => format!("run: {cmd}"),
        (None, None) => "no action".to_string(),
    }
}

fn names(policy: &Policy, phases: &[usize]) -> String {
    phases.iter().map(|&i| policy.phases[i].name.as_str()).collect::<Vec<_>>().join(", ")
}

struct Runner<'a> {
    args: &'a BuildArgs,
    policy: &'a Policy,
    selection: &'a Selection,
    style: Style,
    state: StateDir,
    /// Per plan position.
    fingerprints: Vec<Fingerprint>,
    resume: Resume,
}

impl Runner<'_> {
    fn run(&self) -> i32 {
        let state = &self.state;
        let plan = &self.selection.plan;
        let total = plan.len();
        let started = Instant::now();
        let (mut ran, mut skipped) = (0, 0);
        // Validate runs first, also when --start-at names a later phase.
        let early = (0..self.selection.first)
            .filter(|&pos| checkpoint::always_runs(&self.policy.phases[plan[pos]]))
            .map(|pos| (pos + 1, plan[pos]));
        let mut forgotten = false;
        if self.args.from_scratch {
            println!("igos build: --from-scratch: the checkpoints in {} are ignored", state.dir.display());
        }
        for (pos, i) in early.chain(self.selection.to_run()) {
            let p = &self.policy.phases[i];
            if state.stop_requested() {
                let removed = match state.clear_stop() {
                    Ok(()) => "it was removed".to_string(),
                    Err(e) => format!("removing it failed: {e}"),
                };
                eprintln!(
                    "igos build: stop file {} found before phase `{}`: stopped cleanly ({removed})",
                    state.stop_file().display(),
                    p.name
                );
                eprintln!("resume with: {}", self.resume_command());
                return EXIT_STOPPED;
            }
            let validate = checkpoint::always_runs(p);
            if validate && self.args.skip_validate {
                let warning = format!("warning: --skip-validate: phase `{}` did not run; this build is not validated", p.name);
                println!("[{pos}/{total}] {} SKIPPED (--skip-validate)", p.name);
                println!("{warning}");
                eprintln!("{warning}");
                let logged = state.create().and_then(|_| std::fs::write(state.log(&p.name), format!("{warning}\n")));
                if let Err(e) = logged {
                    return fail(self.style, "build::io", format!("cannot write {}: {e}", state.log(&p.name).display()), None);
                }
                continue;
            }
            if !validate && self.resume.covers(pos - 1) {
                let (_, by) = self.resume.covered.as_ref().map(|(c, n)| (c, n.as_str())).unwrap_or((&0, ""));
                println!("[{pos}/{total}] {} skipped: the checkpoint of {by} holds", p.name);
                skipped += 1;
                continue;
            }
            if !validate && !forgotten {
                forgotten = true;
                if let Some(why) = &self.resume.reason {
                    println!("igos build: {why}: running again from {}", p.name);
                }
                // From here on the phases run again: their old checkpoints describe a root
                // that is about to change.
                let later = plan[pos - 1..].iter().chain(&self.selection.skipped_optional).map(|&j| self.policy.phases[j].name.as_str());
                if let Err(e) = state.forget_checkpoints(later) {
                    return fail(self.style, "build::io", format!("cannot remove the stale checkpoints: {e}"), None);
                }
            }
            println!("[{pos}/{total}] {} — {}", p.name, p.title.as_deref().unwrap_or(""));
            let t0 = Instant::now();
            let outcome = match (&p.builtin, &p.run) {
                (Some(b), _) if b == "image-audit" => self.image_audit(p),
                (Some(_), _) => self.builtin(p),
                (None, Some(cmd)) => self.command(p, cmd),
                (None, None) => Err(format!("phase `{}` has no action", p.name)),
            };
            let took = fmt_duration(t0.elapsed());
            match outcome {
                Ok(0) => println!("[{pos}/{total}] {} ok ({took})", p.name),
                Ok(code) => {
                    println!("[{pos}/{total}] {} FAILED with exit code {code} ({took})", p.name);
                    let log = if p.builtin.is_some() {
                        String::new()
                    } else {
                        format!("; log: {}", state.log(&p.name).display())
                    };
                    let created = if p.builtin.is_some() && !state.exists() { "; nothing was created" } else { "" };
                    eprintln!("igos build: phase `{}` failed with exit code {code}{log}{created}", p.name);
                    eprintln!("resume with: {}", self.resume_command());
                    return code;
                }
                Err(msg) => {
                    println!("[{pos}/{total}] {} FAILED ({took})", p.name);
                    let code = fail(self.style, "build::io", format!("phase `{}`: {msg}", p.name), None);
                    eprintln!("resume with: {}", self.resume_command());
                    return code;
                }
            }
            if p.checkpoint && state.exists() {
                let record = Record {
                    phase: p.name.clone(),
                    version: checkpoint::VERSION.to_string(),
                    completed: unix_now(),
                    phases: checkpoint::recorded(self.policy, plan, &self.fingerprints, pos - 1),
                };
                if let Err(e) = state.record_checkpoint(&record) {
                    return fail(self.style, "build::io", format!("cannot record the checkpoint of `{}`: {e}", p.name), None);
                }
            }
            ran += 1;
        }
        let skipped = if skipped > 0 { format!(", {skipped} skipped (checkpoints)") } else { String::new() };
        println!(
            "igos build: {ran} phase(s) ok{skipped} in {}; state in {}",
            fmt_duration(started.elapsed()),
            state.dir.display()
        );
        0
    }

    /// `builtin check`: igos check in-process, over the same root and rules. It creates
    /// nothing; the phase file is written only if the state directory already exists.
    fn builtin(&self, p: &PhaseDef) -> Result<i32, String> {
        self.mark_current(p)?;
        Ok(super::check::check(&self.inputs(), &Report::human(self.args.color), None, None))
    }

    /// `builtin image-audit`: `igos check --image` in-process over the built root.
    fn image_audit(&self, p: &PhaseDef) -> Result<i32, String> {
        self.mark_current(p)?;
        let image = match &self.args.image {
            Some(dir) => dir.clone(),
            None => {
                let default = self.args.root.join("build").join("image");
                if !default.is_dir() {
                    println!(
                        "warning: skipped: no image at {} (the default); pass the built root with --image DIR",
                        default.display()
                    );
                    return Ok(0);
                }
                default
            }
        };
        Ok(image_audit(&self.inputs(), &image, &Report::human(self.args.color)))
    }

    fn mark_current(&self, p: &PhaseDef) -> Result<(), String> {
        if self.state.exists() {
            self.state.record_current(&p.name).map_err(|e| format!("cannot write {}: {e}", self.state.phase_file().display()))?;
        }
        Ok(())
    }

    /// What the validate and image-audit phases check: the build's tree and rules.
    fn inputs(&self) -> Inputs {
        Inputs { root: self.args.root.clone(), rules: self.args.rules.clone(), ..Inputs::default() }
    }

    fn command(&self, p: &PhaseDef, cmd: &str) -> Result<i32, String> {
        let state = &self.state;
        state.create().map_err(|e| format!("cannot create the state directory {}: {e}", state.dir.display()))?;
        state.record_current(&p.name).map_err(|e| format!("cannot write {}: {e}", state.phase_file().display()))?;
        let root = absolute(&self.args.root);
        let dir = absolute(&state.dir);
        let log = dir.join("logs").join(format!("{}.log", p.name));
        let env = PhaseEnv { phase: &p.name, root: &root, state: &dir, log: &log };
        command::run(cmd, &env).map_err(|e| format!("cannot run `sh -c {cmd}`: {e}"))
    }

    /// The command that resumes: the same options; the checkpoints decide where it starts.
    fn resume_command(&self) -> String {
        let a = self.args;
        let mut cmd = "igos build".to_string();
        if let Some(s) = &a.stop_after {
            let _ = write!(cmd, " --stop-after {s}");
        }
        if a.publish {
            cmd.push_str(" --publish");
        }
        if a.root != Path::new(".") {
            let _ = write!(cmd, " --root {}", shell_quote(&a.root));
        }
        if let Some(r) = &a.rules {
            let _ = write!(cmd, " --rules {}", shell_quote(r));
        }
        if let Some(s) = &a.state {
            let _ = write!(cmd, " --state {}", shell_quote(s));
        }
        if let Some(i) = &a.image {
            let _ = write!(cmd, " --image {}", shell_quote(i));
        }
        if a.skip_validate {
            cmd.push_str(" --skip-validate");
        }
        cmd
    }
}

/// `igos check --image DIR` (and the build's image-audit phase): rules/image.pol over the
/// built root, the tree at `args.root` giving the recipes; the same reports as validate.
pub fn image_audit(inputs: &Inputs, image: &Path, report: &Report) -> i32 {
    let style = report.color.style();
    // IGOS_TIMINGS=1: where the audit's time goes, on stderr.
    let timings = std::env::var_os("IGOS_TIMINGS").is_some();
    let mut last = Instant::now();
    let mut lap = |what: &str| {
        if timings {
            super::err(&format!("  {what}: {:.2} ms\n", last.elapsed().as_secs_f64() * 1e3));
        }
        last = Instant::now();
    };
    let l = match super::check::load(&inputs.root, inputs.rules.as_deref(), style) {
        Ok(l) => l,
        Err(code) => return code,
    };
    lap("rules and tree");
    let img = match crate::image::load(image) {
        Ok(i) => i,
        Err(e) => {
            return fail(style, "image::unusable", e.0, Some("pass the built root (a chroot or an image directory) with --image".into()))
        }
    };
    lap("image walk and pkm database");
    let policy = &l.rules.policy;
    let built = crate::facts::image::built_phases(policy);
    let facts = crate::facts::image::ImageFacts::new(&img, &l.tree, policy, &built);
    lap("facts indexed");
    crate::facts::image::prefetch(policy, &facts);
    lap("hashes (every core)");
    let outcome = crate::facts::image::evaluate(policy, &facts, &crate::date::today());
    lap("checks evaluated");
    match report.format {
        Format::Json => super::out(&crate::report::check_report::json(&outcome, &l.sources)),
        Format::Sarif => super::out(&crate::report::ci_formats::sarif(&outcome, policy, &l.sources)),
        Format::Github => super::out(&crate::report::ci_formats::github(&outcome, &l.sources)),
        Format::Markdown => super::out(&crate::report::markdown::render(&outcome, &l.sources, None, &report.link_base)),
        Format::Concise => super::out_with(|w| crate::report::concise::write(w, &outcome, &l.sources)),
        Format::Human => {
            let header = format!(
                "igos check --image: {} paths in {}, {} packages recorded, recipes in {}, rules {}",
                img.files.len(),
                image.display(),
                outcome.packages,
                inputs.root.display(),
                l.rules_from
            );
            let opts = crate::report::check_report::HumanOptions { style, all: report.all };
            super::out(&crate::report::check_report::human(&outcome, &l.sources, &header, opts));
        }
    }
    outcome.exit_code()
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn shell_quote(p: &Path) -> String {
    let s = p.display().to_string();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c)) {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `0.4s`, `12.0s`, `3m 07s`, like the original phase runner's `Xm Ys`.
pub fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m {:02}s", secs / 60, secs % 60)
    }
}

fn fail(style: Style, code: &str, message: String, help: Option<String>) -> i32 {
    eprint!("{}", diagnostic::render(&diagnostic::plain(code, message, help), style));
    2
}
