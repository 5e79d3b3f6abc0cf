//! `igos fmt`: rewrite rule files in the canonical layout, or check that they are.
//! `-` formats standard input to standard output (an editor's format-on-save); a directory
//! stands for every `*.pol` under it.

use std::path::{Path, PathBuf};

use crate::fmt;
use crate::lang::error::RuleError;
use crate::report::diagnostic::{self, Style};
use crate::source::{SourceFile, SourceMap, Span};
use crate::visible::{visible, visible_lines};

use super::Color;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  igos fmt                  # format every *.pol under ./rules in place\n  igos fmt --check          # CI: exit 1 and show the diff when a file is not formatted\n  igos fmt rules/tiers.pol\n  igos fmt - < tiers.pol    # standard input to standard output (format on save)")]
pub struct FmtArgs {
    /// Only check: print what would change and exit 1 if anything would.
    #[arg(long)]
    pub check: bool,
    /// Rule files or directories of them (default: ./rules); `-`: standard input to standard output.
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// The name standard input goes by in diagnostics and diffs.
const STDIN_NAME: &str = "<stdin>";

pub fn run(args: &FmtArgs) -> i32 {
    let style = args.color.style();
    if args.files.iter().any(|f| f.as_os_str() == "-") {
        if args.files.len() > 1 {
            super::err("igos fmt: `-` (standard input) cannot be combined with other files\n");
            return 2;
        }
        return stdin(args.check, style);
    }
    let given = if args.files.is_empty() {
        if !Path::new("rules").is_dir() {
            super::err("igos fmt: no rule files given and no ./rules directory\n");
            return 2;
        }
        vec![PathBuf::from("rules")]
    } else {
        args.files.clone()
    };
    let mut files = vec![];
    for path in &given {
        if let Err(msg) = expand(path, &mut files) {
            super::err(&format!("igos fmt: {msg}\n"));
            return 2;
        }
    }
    if files.is_empty() {
        let shown: Vec<String> = given.iter().map(|p| visible(&p.to_string_lossy()).into_owned()).collect();
        super::err(&format!("igos fmt: no rule files (*.pol) in {}\n", shown.join(", ")));
        return 2;
    }
    let mut unformatted = 0;
    let mut broken = 0;
    for path in &files {
        // The one reader: a FIFO or a device is refused, never waited on or read forever.
        let text = match crate::input::read_text(path, crate::input::Kind::RuleFile) {
            Ok(t) => t,
            Err(e) => {
                super::err(&format!("igos fmt: {e}\n"));
                broken += 1;
                continue;
            }
        };
        let shown = visible(&path.display().to_string()).into_owned();
        let formatted = match format_checked(&shown, &text, style) {
            Ok(f) => f,
            Err(()) => {
                broken += 1;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        unformatted += 1;
        if args.check {
            // The diff shows the file's lines: their control bytes written visibly.
            super::out(&visible_lines(&diff(&shown, &text, &formatted)));
        } else {
            // Write beside, then rename: an interrupted fmt never leaves half a file.
            let tmp = path.with_extension("pol.fmt-tmp");
            if std::fs::write(&tmp, &formatted).and_then(|_| std::fs::rename(&tmp, path)).is_err() {
                let _ = std::fs::remove_file(&tmp);
                super::err(&format!("igos fmt: cannot write {shown}\n"));
                broken += 1;
                continue;
            }
            super::out(&format!("formatted {shown}\n"));
        }
    }
    if broken > 0 {
        2
    } else if args.check && unformatted > 0 {
        1
    } else {
        0
    }
}

fn is_rule_file(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == crate::rules::EXTENSION)
}

/// The rule files a path stands for: every `*.pol` under it (sorted, symbolic links to
/// directories not followed) when it is a directory, else the path itself. A regular file
/// must be a `*.pol`; anything else (a FIFO, a device) is left to the one reader, which
/// refuses it saying what it is.
fn expand(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let shown = || visible(&path.to_string_lossy()).into_owned();
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", shown()))?;
    if meta.is_dir() && !is_rule_file(path) {
        return walk(path, out);
    }
    if meta.is_file() && !is_rule_file(path) {
        return Err(format!("{} is not a rule file: igos fmt formats *.{} files and directories of them", shown(), crate::rules::EXTENSION));
    }
    out.push(path.to_path_buf());
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = crate::input::list_dir(dir).map_err(|e| e.to_string())?;
    for e in entries {
        let path = e.path();
        let ty = e.file_type().map_err(|err| format!("{}: {err}", visible(&path.to_string_lossy())))?;
        if is_rule_file(&path) {
            // Whatever it is: a `*.pol` that is a directory or a FIFO is refused by the
            // reader, as `igos check` refuses it, never skipped.
            out.push(path);
        } else if ty.is_dir() {
            walk(&path, out)?;
        }
    }
    Ok(())
}

/// Parse, format and prove the meaning kept; a diagnostic on stderr otherwise.
fn format_checked(shown: &str, text: &str, style: Style) -> Result<String, ()> {
    let mut sources = SourceMap::new();
    let id = sources.add(SourceFile::new(shown.to_string(), text));
    if let Err(e) = crate::lang::syntax::parse(id, text) {
        super::err(&diagnostic::render(&diagnostic::rule_error(&sources, &e), style));
        return Err(());
    }
    let formatted = fmt::format(text);
    if fmt::meaning(&formatted) != fmt::meaning(text) {
        super::err(&format!("igos fmt: formatting {shown} would change its meaning; left as is (please report)\n"));
        return Err(());
    }
    Ok(formatted)
}

/// `igos fmt -`: standard input formatted to standard output (nothing on standard output
/// when the text cannot be formatted, so an editor never replaces a buffer with nothing);
/// with `--check`, the diff and exit 1 when it would change.
fn stdin(check: bool, style: Style) -> i32 {
    let kind = crate::input::Kind::RuleFile;
    let bytes = match crate::input::read_stdin(kind) {
        Ok(b) => b,
        Err(crate::input::Problem::TooLarge { .. }) => {
            super::err(&format!("igos fmt: {STDIN_NAME}: standard input is larger than {} bytes, the cap for {}; nothing formatted\n", kind.cap(), kind.noun()));
            return 2;
        }
        Err(problem) => {
            super::err(&format!("igos fmt: {STDIN_NAME}: {problem}\n"));
            return 2;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            // Point at the first invalid byte: everything before it is valid, so its offset
            // is the same in the lossy text the diagnostic shows.
            let at = e.utf8_error().valid_up_to();
            let byte = e.as_bytes()[at];
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let mut sources = SourceMap::new();
            let id = sources.add(SourceFile::new(STDIN_NAME, lossy));
            let len = '\u{fffd}'.len_utf8();
            let err = RuleError::new("not-utf8", format!("standard input is not UTF-8 text: byte 0x{byte:02x} at offset {at}"), Span::new(id, at, at + len))
                .with_label("this byte")
                .with_help("rule files are UTF-8; convert the file (iconv -t UTF-8)");
            super::err(&diagnostic::render(&diagnostic::rule_error(&sources, &err), style));
            return 2;
        }
    };
    let formatted = match format_checked(STDIN_NAME, &text, style) {
        Ok(f) => f,
        Err(()) => return 2,
    };
    if check {
        if formatted == text {
            return 0;
        }
        super::out(&visible_lines(&diff(STDIN_NAME, &text, &formatted)));
        return 1;
    }
    super::out(&formatted);
    0
}

/// A unified diff (three lines of context, `patch -p0` applies it) of what fmt changes.
/// The diff gives up refining after a second on a pathological file and shows a coarser,
/// still correct, diff instead.
pub fn diff(path: &str, a: &str, b: &str) -> String {
    let diff = similar::TextDiff::configure().timeout(std::time::Duration::from_secs(1)).diff_lines(a, b);
    diff.unified_diff().context_radius(3).header(path, path).to_string()
}
