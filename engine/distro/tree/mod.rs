//! The package tree loader: `ROOT/packages/<tier>/<name>/` (package.yml, build.sh,
//! patches/) and the builder lists (`ROOT/builders/*.list`, or `ROOT/packages/builders/`
//! for the project's embedded tree) into facts with byte positions.
//!
//! One parse per file (`block_yaml` for the plain block YAML recipes are written in,
//! serde_yaml for anything else), files read and parsed in parallel, sources registered in
//! sorted order so the output is identical run to run. A bad file is a `LoadProblem`,
//! never an error for the whole tree and never a panic.

pub mod block_yaml;
pub mod build_sh;
mod dir_at;
mod positions;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use build_sh::{BuildScript, ShFunction};

use crate::input;
use crate::source::{SourceFile, SourceId, SourceMap, Span};

/// Files larger than this are not parsed (a package.yml is a few KiB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
const _: () = assert!(MAX_FILE_BYTES == input::Kind::Recipe.cap());

#[derive(Debug)]
pub struct Tree {
    pub root: PathBuf,
    /// Sorted by (tier directory, directory name).
    pub packages: Vec<Package>,
    /// Sorted by file name.
    pub builder_lists: Vec<BuilderList>,
    /// Sorted by position.
    pub problems: Vec<LoadProblem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    Unreadable,
    NotUtf8,
    TooLarge,
    YamlSyntax,
    NotAMapping,
    MissingRecipe,
    /// A field the rules read holds the wrong kind of value (`dependencies: 5`).
    WrongType,
    /// A directory entry igos will not read: a symbolic link, a name that is not UTF-8.
    Skipped,
}

// The values `e.kind` takes in the rules (recipes.pol tells the unreadable from the
// malformed by them), declared once with the type.
igos_policy::closed! {
    impl ProblemKind {
        Unreadable = "unreadable",
        NotUtf8 = "not-utf8",
        TooLarge = "too-large",
        YamlSyntax = "yaml-syntax",
        NotAMapping = "not-a-mapping",
        MissingRecipe = "missing-package-yml",
        WrongType = "wrong-type",
        Skipped = "skipped-entry",
    }
}

#[derive(Debug)]
pub struct LoadProblem {
    pub kind: ProblemKind,
    pub message: String,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepKind {
    Build,
    Host,
    Runtime,
}

// The values `d.kind` takes in the rules, declared once with the type.
igos_policy::closed! { impl DepKind { Build = "build", Host = "host", Runtime = "runtime" } }

#[derive(Debug)]
pub struct Dep {
    pub name: String,
    pub kind: DepKind,
    /// The item in the file.
    pub span: Span,
}

#[derive(Debug)]
pub struct SourceEntry {
    pub url: Option<String>,
    pub sha256: Option<String>,
    /// The whole entry.
    pub span: Span,
    pub url_span: Option<Span>,
    pub sha256_span: Option<Span>,
}

#[derive(Debug)]
pub enum BuildSh {
    Absent,
    /// Listed in recipes-with-build-sh.txt; the text is not shipped (the corpus).
    Unknown,
    Parsed(BuildScript),
}

#[derive(Debug)]
pub struct Package {
    /// The tier directory it lives in.
    pub dir_tier: String,
    pub dir_name: String,
    /// The package.yml.
    pub file: SourceId,
    /// The file parsed as a YAML mapping.
    pub parsed: bool,
    /// `tier:` when it is a string.
    pub tier: Option<String>,
    /// `build_style:` when it is a string.
    pub build_style: Option<String>,
    /// Top-level keys in file order, span = the key.
    pub keys: Vec<(std::borrow::Cow<'static, str>, Span)>,
    /// Top-level keys written with no value (`license:`, `version: null`, `~`, `""`).
    pub empty_keys: Vec<std::borrow::Cow<'static, str>>,
    /// `name:` when it is a string, else the directory name.
    pub name: String,
    /// The version as written (sysprof's 46.0 stays "46.0").
    pub version_text: Option<String>,
    /// The version is a YAML string, not a number.
    pub version_is_string: bool,
    /// build, host, runtime in file order.
    pub deps: Vec<Dep>,
    pub sources: Vec<SourceEntry>,
    /// `source: []`
    pub source_is_empty_list: bool,
    pub verify_paths: Option<Vec<(String, Span)>>,
    /// pending_acquisition text (may be blank: a finding).
    pub pending: Option<(String, Span)>,
    pub supersedes: Vec<(String, Span)>,
    pub build_sh: BuildSh,
    /// File names under patches/, sorted.
    pub patches: Vec<String>,
    /// The `.audit-override` file beside the recipe, registered as a source.
    pub audit_override: Option<SourceId>,
}

impl Package {
    pub fn key_span(&self, key: &str) -> Option<Span> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, s)| *s)
    }
    /// The file's first line, for findings about the whole file.
    pub fn file_span(&self) -> Span {
        Span::new(self.file, 0, 0)
    }
}

#[derive(Debug)]
pub struct BuilderList {
    pub file_name: String,
    pub source: SourceId,
    /// Package names in build order.
    pub entries: Vec<(String, Span)>,
    /// What follows the name on an entry's line (a line names one package; `tree zip`
    /// would drop `zip`), by entry index. A trailing `# comment` is not counted.
    pub extra: Vec<(usize, String, Span)>,
    /// `# invokes: igos-build.py --tier <tier>`
    pub invokes_tier: Option<(String, Span)>,
}

#[derive(Debug)]
pub struct TreeError(pub String);

impl TreeError {
    /// What to do about it: a part the system refused wants its permissions fixed, anything
    /// else the right --root.
    pub fn help(&self) -> &'static str {
        if self.0.ends_with(REFUSED) {
            "give the user running igos read access to it (directories also need x), or move it out of the tree"
        } else if self.0.ends_with(NOT_WHAT_IT_MUST_BE) {
            "replace it with what the tree expects there (a regular file, or a directory), or remove it"
        } else {
            "pass the directory that holds packages/<tier>/<name>/ with --root"
        }
    }
}

const REFUSED: &str = "; igos does not check a tree it cannot read whole";
const NOT_WHAT_IT_MUST_BE: &str = "; igos does not check a tree with this in it";

impl std::fmt::Display for TreeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TreeError {}

/// A file's text, shared with the source map (never copied), or why it could not be read.
type Text = Result<Arc<str>, (ProblemKind, String)>;

/// What one worker read for one recipe directory.
struct Read {
    tier: String,
    name: String,
    yml: Text,
    build_sh: Option<Text>,
    patches: Vec<String>,
    audit_override: Option<Text>,
    /// (path relative to the root, why) for what the system refused to read.
    refused: Vec<(String, String)>,
}

/// A problem reading one file, as the loader reports it (a finding on that file).
fn problem(p: input::Problem) -> (ProblemKind, String) {
    let kind = match &p {
        input::Problem::Io(_) | input::Problem::NotRegular(_) | input::Problem::NotADirectory => ProblemKind::Unreadable,
        input::Problem::TooLarge { .. } => ProblemKind::TooLarge,
        input::Problem::NotUtf8 { .. } => ProblemKind::NotUtf8,
    };
    (kind, p.to_string())
}

/// The text of an opened recipe file. `listed_regular`: the directory listing said it is a
/// regular file, so no stat is needed to know it. A refusal of the system (permission,
/// I/O) is also returned apart: it makes the whole tree unusable, not one recipe.
fn read_open(file: std::io::Result<std::fs::File>, listed_regular: bool) -> Result<String, input::Problem> {
    input::read_opened(file.map_err(input::Problem::Io)?, input::Kind::Recipe, listed_regular).and_then(input::utf8)
}

/// An entry igos will not read: (its name as shown, why).
type Skipped = (String, String);

/// Directory entries that are real directories (never a symlink out of the tree), sorted.
/// Entries igos will not read (a symbolic link to a directory, a name that is not UTF-8)
/// are returned apart, as display names relative to `rel`, so they are reported rather
/// than silently left out of the check.
fn subdirs(dir: &Path, rel: &str) -> Result<(Vec<String>, Vec<Skipped>), TreeError> {
    let mut out = vec![];
    let mut skipped = vec![];
    for e in input::list_dir(dir).map_err(unusable_input)? {
        let t = e.file_type().map_err(|err| unusable(input::InputError { path: e.path(), problem: input::Problem::Io(err) }))?;
        let raw = e.file_name();
        let shown = format!("{rel}/{}", raw.to_string_lossy());
        if raw.to_string_lossy().starts_with('.') {
            continue;
        }
        if t.is_symlink() {
            if e.path().is_dir() {
                skipped.push((shown, "a symbolic link to a directory: igos does not follow links in the tree".to_string()));
            } else if std::fs::metadata(e.path()).is_err() {
                skipped.push((shown, "a symbolic link that does not resolve (dangling, or a loop)".to_string()));
            }
            continue;
        }
        if !t.is_dir() {
            continue;
        }
        match raw.into_string() {
            Ok(name) => out.push(name),
            Err(_) => skipped.push((shown, "a directory whose name is not UTF-8: it cannot be named in a rule".to_string())),
        }
    }
    out.sort();
    skipped.sort();
    Ok((out, skipped))
}

/// A part of the tree the system will not let igos read (permission, I/O): the whole tree
/// is unusable, never checked without that part.
fn unusable(e: impl std::fmt::Display) -> TreeError {
    TreeError(format!("{e}{REFUSED}"))
}

/// A part of the tree that cannot be read: refused by the system, or not what it must be
/// (a FIFO or a device where a file belongs, a file where a directory does).
fn unusable_input(e: input::InputError) -> TreeError {
    if e.is_io() {
        unusable(e)
    } else {
        TreeError(format!("{e}{NOT_WHAT_IT_MUST_BE}"))
    }
}

/// Whether a read's failure is the system's refusal (permission, I/O) rather than the file's
/// own fault (a dangling link, a FIFO or device, too large, not UTF-8: findings on that file).
fn refused(p: &input::Problem) -> bool {
    matches!(p, input::Problem::Io(e) if e.kind() == std::io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EIO))
}

pub fn load_tree(root: &Path, sources: &mut SourceMap) -> Result<Tree, TreeError> {
    let packages_dir = root.join("packages");
    if !root.is_dir() {
        return Err(TreeError(format!("the tree root {} does not exist or is not a directory", root.display())));
    }
    if !packages_dir.is_dir() {
        return Err(TreeError(format!("{} has no packages/ directory", root.display())));
    }
    let builders_dir = if root.join("builders").is_dir() { root.join("builders") } else { packages_dir.join("builders") };
    // (tier directory, tier, recipe); each tier directory is opened once and its recipes
    // opened relative to it.
    let mut tier_dirs: Vec<Option<std::fs::File>> = vec![];
    let mut dirs: Vec<(usize, String, String)> = vec![];
    let (tiers, mut skipped) = subdirs(&packages_dir, "packages")?;
    for tier in tiers {
        if packages_dir.join(&tier) == builders_dir {
            continue;
        }
        let tier_dir = packages_dir.join(&tier);
        let (names, mut odd) = subdirs(&tier_dir, &format!("packages/{tier}"))?;
        skipped.append(&mut odd);
        let opened = dir_at::open_dir(&tier_dir).map_err(|e| unusable(input::InputError { path: tier_dir.clone(), problem: input::Problem::Io(e) }))?;
        tier_dirs.push(Some(opened));
        for name in names {
            dirs.push((tier_dirs.len() - 1, tier.clone(), name));
        }
    }
    let with_build_sh = known_build_sh(root)?;

    // Read in parallel, in the sorted order. Reading waits on the disk when the tree is
    // not in the page cache (the usual case before a build): more readers than cores
    // keep the cores busy meanwhile.
    let cores = crate::parallel::cores();
    let readers = crate::parallel::workers(dirs.len(), 32, cores * 4);
    let reads: Vec<Read> = crate::parallel::map(&mut dirs, readers, |(t, tier, name)| read_recipe(tier_dirs[*t].as_ref(), std::mem::take(tier), std::mem::take(name)));
    drop(dirs);
    let refusals: Vec<String> = reads.iter().flat_map(|r| r.refused.iter()).map(|(rel, why)| format!("{}: {why}", root.join(rel).display())).collect();
    if let Some(first) = refusals.first() {
        let more = if refusals.len() > 1 { format!(" (and {} more unreadable entries)", refusals.len() - 1) } else { String::new() };
        return Err(unusable(format!("{}{more}", crate::visible::visible(first))));
    }

    let mut problems = vec![];
    for (shown, why) in skipped {
        let id = sources.add(SourceFile::new(shown.clone(), ""));
        problems.push(LoadProblem { kind: ProblemKind::Skipped, message: format!("{shown}: {why}"), span: Span::new(id, 0, 0) });
    }
    let rel = |tier: &str, name: &str, file: &str| format!("packages/{tier}/{name}/{file}");
    // Parsing is the expensive part: register sources in order, then parse in parallel.
    // Each recipe's problems are left in its slot, so the packages come out of the workers
    // as the final list (a package is ~400 bytes: a second copy of 100,000 of them was
    // 40 MB of fresh pages).
    struct Staged {
        read: Read,
        yml: SourceId,
        sh: Option<SourceId>,
        over: Option<SourceId>,
        problems: Vec<LoadProblem>,
    }
    let mut staged: Vec<Staged> = Vec::with_capacity(reads.len());
    for r in reads {
        let text = |t: &Text| t.as_ref().map_or_else(|_| Arc::from(""), Arc::clone);
        let over_id = r.audit_override.as_ref().map(|t| sources.add(SourceFile::new(rel(&r.tier, &r.name, ".audit-override"), text(t))));
        let yml_id = sources.add(SourceFile::new(rel(&r.tier, &r.name, "package.yml"), text(&r.yml)));
        let sh_id = match &r.build_sh {
            Some(Ok(t)) => Some(sources.add(SourceFile::new(rel(&r.tier, &r.name, "build.sh"), Arc::clone(t)))),
            _ => None,
        };
        staged.push(Staged { read: r, yml: yml_id, sh: sh_id, over: over_id, problems: vec![] });
    }
    let parsers = crate::parallel::workers(staged.len(), 32, cores);
    let packages = {
        let sources = &*sources;
        crate::parallel::map(&mut staged, parsers, |s| {
            let (mut p, mut found) = build_package(&s.read, s.yml, s.sh, sources, &with_build_sh);
            p.audit_override = s.over;
            // An override that cannot be read says why, rather than pass for invalid JSON.
            if let (Some(Err((kind, message))), Some(over)) = (&s.read.audit_override, s.over) {
                found.push(LoadProblem { kind: *kind, message: format!(".audit-override: {message}"), span: Span::new(over, 0, 0) });
            }
            s.problems = found;
            p
        })
    };
    for mut s in staged {
        problems.append(&mut s.problems);
    }

    let mut builder_lists = vec![];
    let builders_rel = if builders_dir == root.join("builders") { "builders" } else { "packages/builders" };
    let mut list_files: Vec<String> = vec![];
    let mut odd_lists: Vec<String> = vec![];
    let listing = match input::list_dir(&builders_dir) {
        Err(e) if e.is_missing() => vec![],
        listing => listing.map_err(unusable_input)?,
    };
    for e in listing {
        match e.file_name().into_string() {
            Ok(n) if n.ends_with(".list") => list_files.push(n),
            Ok(_) => {}
            Err(raw) if raw.to_string_lossy().ends_with(".list") => odd_lists.push(raw.to_string_lossy().into_owned()),
            Err(_) => {}
        }
    }
    list_files.sort();
    odd_lists.sort();
    for name in odd_lists {
        let shown = format!("{builders_rel}/{name}");
        let id = sources.add(SourceFile::new(shown.clone(), ""));
        let message = format!("{shown}: a builder list whose name is not UTF-8: it cannot be named in a rule");
        problems.push(LoadProblem { kind: ProblemKind::Skipped, message, span: Span::new(id, 0, 0) });
    }
    for f in list_files {
        let display = format!("{builders_rel}/{f}");
        match input::read_text(&builders_dir.join(&f), input::Kind::List) {
            Err(e) if refused(&e.problem) => return Err(unusable(e)),
            Err(e) => {
                let (kind, message) = problem(e.problem);
                let id = sources.add(SourceFile::new(display, ""));
                problems.push(LoadProblem { kind, message, span: Span::new(id, 0, 0) });
            }
            Ok(text) => {
                let id = sources.add(SourceFile::new(display, text.as_str()));
                builder_lists.push(parse_list(&f, id, &text));
            }
        }
    }
    problems.sort_by_key(|p| p.span);
    Ok(Tree { root: root.to_path_buf(), packages, builder_lists, problems })
}

/// One recipe from its texts, exactly as [`load_tree`] reads a recipe directory (for
/// fuzzing and tests: no filesystem). Registers the texts in `sources`.
pub fn recipe_from_text(
    tier: &str,
    name: &str,
    yml: &str,
    build_sh: Option<&str>,
    sources: &mut SourceMap,
) -> (Package, Vec<LoadProblem>) {
    let r = Read {
        tier: tier.to_string(),
        name: name.to_string(),
        yml: Ok(Arc::from(yml)),
        build_sh: build_sh.map(|t| Ok(Arc::from(t))),
        patches: vec![],
        audit_override: None,
        refused: vec![],
    };
    let yml_id = sources.add(SourceFile::new(format!("packages/{tier}/{name}/package.yml"), yml));
    let sh_id = build_sh.map(|t| sources.add(SourceFile::new(format!("packages/{tier}/{name}/build.sh"), t)));
    build_package(&r, yml_id, sh_id, sources, &Default::default())
}

/// One recipe file from disk, read as [`load_tree`] reads a recipe (the engine's one
/// reader with the recipes' size cap; the same parse; wrong types as positioned problems),
/// with the values of `extra` top-level fields the tree does not keep (`igos pack`'s
/// `release:` and `description:`; None when absent or null). The recipe's directory names
/// its name and tier directory; its path is the source's name, so a problem's position
/// names the file the user gave.
pub fn read_recipe_file<const N: usize>(file: &Path, extra: [&str; N], sources: &mut SourceMap) -> Result<RecipeFile<N>, input::InputError> {
    let text = input::read_text(file, input::Kind::Recipe)?;
    let dir_name = |p: Option<&Path>| p.and_then(Path::file_name).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let r = Read {
        tier: dir_name(file.parent().and_then(Path::parent)),
        name: dir_name(file.parent()),
        yml: Ok(Arc::from(text.as_str())),
        build_sh: None,
        patches: vec![],
        audit_override: None,
        refused: vec![],
    };
    let id = sources.add(SourceFile::new(file.display().to_string(), text.as_str()));
    let (p, problems) = build_package(&r, id, None, sources, &Default::default());
    let mut values: [Option<serde_yaml::Value>; N] = std::array::from_fn(|_| None);
    if p.parsed {
        // The same two paths as Recipe::parse: the block-YAML reader, else serde_yaml.
        let read = block_yaml::fields(&text, extra).or_else(|| {
            let map: serde_yaml::Mapping = serde_yaml::from_str(&text).ok()?;
            Some(extra.map(|k| map.get(k).cloned()))
        });
        if let Some(read) = read {
            values = read.map(|v| v.filter(|v| !v.is_null()));
        }
    }
    Ok(RecipeFile { package: p, problems, extra: values })
}

/// One recipe file as [`read_recipe_file`] reads it.
pub struct RecipeFile<const N: usize> {
    pub package: Package,
    /// What `igos check` reports as load problems, positioned.
    pub problems: Vec<LoadProblem>,
    /// The extra fields asked for, in the order asked.
    pub extra: [Option<serde_yaml::Value>; N],
}

/// One builder list from its text, as [`load_tree`] reads `builders/<file_name>`.
pub fn builder_list_from_text(file_name: &str, text: &str, sources: &mut SourceMap) -> BuilderList {
    let id = sources.add(SourceFile::new(format!("builders/{file_name}"), text));
    parse_list(file_name, id, text)
}

/// `recipes-with-build-sh.txt` (the corpus): recipes whose build.sh exists but is not shipped.
fn known_build_sh(root: &Path) -> Result<std::collections::HashSet<String>, TreeError> {
    let text = input::read_text_if_present(&root.join("recipes-with-build-sh.txt"), input::Kind::List).map_err(unusable_input)?;
    Ok(text.map(|t| t.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()).unwrap_or_default())
}

fn read_recipe(tier_dir: Option<&std::fs::File>, tier: String, name: String) -> Read {
    use dir_at::{Dir, Kind};
    // One listing of the recipe directory instead of a stat per optional file, and every
    // open relative to it (see dir_at). What the system refuses (permission, I/O) is kept
    // apart in `refused`: it makes the tree unusable, it never just lists nothing.
    let mut refused_here: Vec<(String, String)> = vec![];
    let rel = |file: &str| if file.is_empty() { format!("packages/{tier}/{name}") } else { format!("packages/{tier}/{name}/{file}") };
    let mut dir = match tier_dir.map(|t| Dir::open_at(dir_at::raw(t), std::ffi::OsStr::new(&name), false)) {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            let p = input::Problem::Io(e);
            if refused(&p) {
                refused_here.push((rel(""), p.to_string()));
            }
            None
        }
        None => None,
    };
    let (mut yml, mut sh, mut patch_dir, mut over) = (None, None, None, None);
    if let Some(d) = &mut dir {
        d.for_each(|entry, kind| match entry {
            b"package.yml" => yml = Some(kind),
            b"build.sh" => sh = Some(kind),
            b"patches" => patch_dir = Some(kind),
            b".audit-override" => over = Some(kind),
            _ => {}
        });
    }
    let mut shared = |file: &str, t: Result<String, input::Problem>| {
        t.map(Arc::from).map_err(|p| {
            if refused(&p) {
                refused_here.push((rel(file), p.to_string()));
            }
            problem(p)
        })
    };
    let open = |file: &str| dir.as_ref().map_or_else(|| Err(std::io::Error::from(std::io::ErrorKind::NotFound)), |d| d.open_file(file));
    let yml = match yml {
        Some(kind) => shared("package.yml", read_open(open("package.yml"), kind == Kind::File)),
        None => Err((ProblemKind::MissingRecipe, format!("packages/{tier}/{name}/ has no package.yml"))),
    };
    // An optional file: read when it is a file (a FIFO or device is reported as such), a
    // link only when it leads to a regular file, absent when it is a directory.
    let mut optional = |kind: Option<Kind>, file: &str| match kind {
        Some(Kind::File) => Some(shared(file, read_open(open(file), true))),
        Some(Kind::Other) => Some(shared(file, read_open(open(file), false))),
        // A link is followed; one that leads nowhere is no file, one to a device or a FIFO
        // is reported as such (never silently taken for absent).
        Some(Kind::Symlink) => match open(file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ELOOP) => None,
            Ok(f) if f.metadata().is_ok_and(|m| m.is_dir()) => None,
            opened => Some(shared(file, read_open(opened, false))),
        },
        Some(Kind::Dir) | None => None,
    };
    let build_sh = optional(sh, "build.sh");
    let audit_override = optional(over, ".audit-override");
    let mut patches: Vec<String> = vec![];
    if let (Some(kind @ (Kind::Dir | Kind::Symlink)), Some(d)) = (patch_dir, &dir) {
        match Dir::open_at(d.fd(), std::ffi::OsStr::new("patches"), kind == Kind::Symlink) {
            Ok(mut p) => p.for_each(|entry, _| patches.extend(std::str::from_utf8(entry).ok().map(str::to_string))),
            Err(e) => {
                let p = input::Problem::Io(e);
                if refused(&p) && !matches!(&p, input::Problem::Io(e) if e.raw_os_error() == Some(libc::ENOTDIR)) {
                    refused_here.push((rel("patches"), p.to_string()));
                }
            }
        }
    }
    patches.sort();
    let refused = refused_here;
    Read { tier, name, yml, build_sh, patches, audit_override, refused }
}

/// The top-level fields the rules read. Absent and `null` are both None.
#[derive(serde::Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Recipe {
    name: Option<serde_yaml::Value>,
    version: Option<serde_yaml::Value>,
    tier: Option<serde_yaml::Value>,
    build_style: Option<serde_yaml::Value>,
    source: Option<serde_yaml::Value>,
    dependencies: Option<serde_yaml::Value>,
    verify_paths: Option<serde_yaml::Value>,
    pending_acquisition: Option<serde_yaml::Value>,
    supersedes: Option<serde_yaml::Value>,
}

impl Recipe {
    /// The recipe's fields: by the block-YAML reader when the file is in its subset (nearly
    /// every recipe; only these fields' values are built), else by serde_yaml, which also
    /// gives every error. An explicit null is absent, as serde fills an Option.
    fn parse(text: &str) -> Result<Recipe, serde_yaml::Error> {
        let fields = ["name", "version", "tier", "build_style", "source", "dependencies", "verify_paths", "pending_acquisition", "supersedes"];
        let Some(values) = block_yaml::fields(text, fields) else { return serde_yaml::from_str(text) };
        let [name, version, tier, build_style, source, dependencies, verify_paths, pending_acquisition, supersedes] =
            values.map(|v| v.filter(|v| !v.is_null()));
        Ok(Recipe { name, version, tier, build_style, source, dependencies, verify_paths, pending_acquisition, supersedes })
    }
}

/// "a number", "a list"...: what a YAML value is, for a wrong-type message.
fn kind_of(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Null => "empty",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

fn is_scalar(v: &serde_yaml::Value) -> bool {
    matches!(v, serde_yaml::Value::String(_) | serde_yaml::Value::Number(_) | serde_yaml::Value::Bool(_))
}

/// Every field the rules read, checked for the shape the build expects. A wrong shape is
/// a problem at the key (the rules would otherwise see the field as absent or empty and
/// say nothing, or say something misleading).
fn wrong_types(r: &Recipe) -> Vec<(&'static str, String)> {
    use serde_yaml::Value;
    let mut out = vec![];
    fn want(out: &mut Vec<(&'static str, String)>, key: &'static str, v: &serde_yaml::Value, ok: bool, expected: &str) {
        if !ok {
            out.push((key, format!("`{key}:` is {}; expected {expected}", kind_of(v))));
        }
    }
    let list_of_scalars = |v: &Value| match v {
        Value::Sequence(items) => items.iter().all(is_scalar),
        Value::Null => true,
        _ => false,
    };
    for (key, v) in [("name", &r.name), ("tier", &r.tier), ("build_style", &r.build_style)] {
        if let Some(v) = v {
            want(&mut out, key, v, matches!(v, Value::String(_)), "a string");
        }
    }
    if let Some(v) = &r.version {
        want(&mut out, "version", v, is_scalar(v), "a version string");
    }
    if let Some(v) = &r.pending_acquisition {
        want(&mut out, "pending_acquisition", v, is_scalar(v) || v.is_null(), "a string (the reason)");
    }
    if let Some(v) = &r.source {
        let ok = match v {
            Value::Sequence(items) => items.iter().all(Value::is_mapping),
            Value::Null => true,
            _ => false,
        };
        want(&mut out, "source", v, ok, "a list of entries with url: and sha256:");
    }
    if let Some(v) = &r.dependencies {
        match v {
            Value::Mapping(m) => {
                for kind in ["build", "host", "runtime"] {
                    if let Some(list) = m.get(kind) {
                        if !list_of_scalars(list) {
                            let message = format!("`dependencies.{kind}` is {}; expected a list of package names", kind_of(list));
                            out.push(("dependencies", message));
                        }
                    }
                }
            }
            Value::Null => {}
            _ => want(&mut out, "dependencies", v, false, "a mapping with build, host and runtime lists"),
        }
    }
    if let Some(v) = &r.verify_paths {
        want(&mut out, "verify_paths", v, list_of_scalars(v), "a list of paths");
    }
    if let Some(v) = &r.supersedes {
        want(&mut out, "supersedes", v, list_of_scalars(v) || is_scalar(v), "a list of package names");
    }
    out
}

/// Top-level keys recipes commonly write (the corpus's, by frequency), kept as static
/// text: a key costs no allocation of its own (twelve per recipe, 1.2 million on a large
/// tree). Any other key is owned. Which keys are *allowed* is the rules' business
/// (`known_fields`), not this list's.
const COMMON_KEYS: [&str; 24] = [
    "name", "version", "release", "description", "license", "homepage", "tier", "build_style", "source",
    "dependencies", "verify_paths", "install_func", "configure_flags", "tests", "patches", "build_artifacts",
    "target_triple", "supersedes", "iso_include", "payload_license", "direct_install", "pass_number",
    "pending_acquisition", "working_dir",
];

fn key_name(key: &str) -> std::borrow::Cow<'static, str> {
    match COMMON_KEYS.iter().find(|k| **k == key) {
        Some(k) => std::borrow::Cow::Borrowed(k),
        None => std::borrow::Cow::Owned(key.to_string()),
    }
}

/// A scalar as text, taking the string rather than copying it.
fn yaml_string(v: serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn build_package(
    r: &Read,
    file: SourceId,
    sh_id: Option<SourceId>,
    sources: &SourceMap,
    with_build_sh: &std::collections::HashSet<String>,
) -> (Package, Vec<LoadProblem>) {
    let mut problems = vec![];
    let text = sources.get(file).text.clone();
    let whole = Span::new(file, 0, 0);
    let mut p = Package {
        dir_tier: r.tier.clone(),
        dir_name: r.name.clone(),
        file,
        parsed: false,
        tier: None,
        build_style: None,
        keys: vec![],
        empty_keys: vec![],
        name: r.name.clone(),
        version_text: None,
        version_is_string: false,
        deps: vec![],
        sources: vec![],
        source_is_empty_list: false,
        verify_paths: None,
        pending: None,
        supersedes: vec![],
        build_sh: match (&r.build_sh, sh_id) {
            (Some(Ok(t)), Some(id)) => BuildSh::Parsed(build_sh::parse(id, t)),
            (Some(Err((kind, message))), _) => {
                problems.push(LoadProblem { kind: *kind, message: format!("build.sh: {message}"), span: whole });
                BuildSh::Unknown
            }
            _ if with_build_sh.contains(&format!("{}/{}", r.tier, r.name)) || with_build_sh.contains(&r.name) => BuildSh::Unknown,
            _ => BuildSh::Absent,
        },
        patches: r.patches.clone(),
        audit_override: None,
    };
    if let Err((kind, message)) = &r.yml {
        problems.push(LoadProblem { kind: *kind, message: message.clone(), span: whole });
        return (p, problems);
    }
    if text.trim().is_empty() {
        problems.push(LoadProblem {
            kind: ProblemKind::NotAMapping,
            message: "the file is empty; a package.yml is a mapping of fields (name:, version:, ...)".into(),
            span: whole,
        });
        return (p, problems);
    }
    // The fields rules read, typed.
    let recipe = match Recipe::parse(&text) {
        Ok(v) => v,
        Err(e) if e.to_string().starts_with("invalid type") && e.location().is_some_and(|l| l.index() == 0) => {
            problems.push(LoadProblem {
                kind: ProblemKind::NotAMapping,
                message: "a package.yml is a mapping of fields (name:, version:, ...), this is not".into(),
                span: whole,
            });
            return (p, problems);
        }
        Err(e) => {
            let span = match e.location() {
                Some(loc) => {
                    // libyaml counts the column in characters, not bytes: walk the line.
                    let line_start = sources.get(file).line_offset(loc.line()).min(text.len());
                    let line = text.get(line_start..).unwrap_or("").split('\n').next().unwrap_or("");
                    let col = line.char_indices().nth(loc.column().saturating_sub(1)).map_or(line.len(), |(i, _)| i);
                    Span::new(file, line_start + col, line_start + line.len())
                }
                None => whole,
            };
            let message = if e.to_string().contains("repetition limit exceeded") {
                format!("YAML aliases expand to too many values (a \"billion laughs\" file?): {e}")
            } else {
                format!("YAML does not parse: {e}")
            };
            problems.push(LoadProblem { kind: ProblemKind::YamlSyntax, message, span });
            return (p, problems);
        }
    };
    let pos = positions::scan(&text);
    let span = |r: (usize, usize)| Span::new(file, r.0, r.1);
    p.keys = pos.keys.iter().map(|(k, r)| (key_name(k), span(*r))).collect();
    p.empty_keys = pos.empty.iter().map(|k| key_name(k)).collect();
    let key_span = |k: &str| pos.keys.iter().find(|(x, _)| *x == k).map(|(_, r)| span(*r)).unwrap_or(whole);
    for (key, message) in wrong_types(&recipe) {
        problems.push(LoadProblem { kind: ProblemKind::WrongType, message, span: key_span(key) });
    }
    // Items with positions: matched by order, then by text, then the key itself.
    let items = |(key, sub): (&str, &str), values: Vec<String>| -> Vec<(String, Span)> {
        let found = pos.items(key, sub);
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let s = match found.get(i) {
                    Some((t, r)) if *t == v => span(*r),
                    _ => found.iter().find(|(t, _)| *t == v).map(|(_, r)| span(*r)).unwrap_or_else(|| key_span(key)),
                };
                (v, s)
            })
            .collect()
    };
    // The values are moved out of the parsed recipe, never copied.
    let Recipe { name, version, tier, build_style, source, dependencies, verify_paths, pending_acquisition, supersedes } = recipe;
    let strings = |v: Option<serde_yaml::Value>| -> Vec<String> {
        match v {
            Some(serde_yaml::Value::Sequence(seq)) => seq.into_iter().filter_map(yaml_string).collect(),
            Some(other) => yaml_string(other).into_iter().collect(),
            None => vec![],
        }
    };
    if let Some(serde_yaml::Value::String(n)) = name {
        p.name = n;
    }
    if let Some(serde_yaml::Value::String(t)) = tier {
        p.tier = Some(t);
    }
    if let Some(serde_yaml::Value::String(b)) = build_style {
        p.build_style = Some(b);
    }
    if let Some(v) = version {
        p.version_is_string = matches!(v, serde_yaml::Value::String(_));
        // As written: the scalar text from the file, so 46.0 stays 46.0 (not 46).
        let written = text
            .lines()
            .find_map(|l| l.strip_prefix("version:"))
            .map(|s| s.split(" #").next().unwrap_or("").trim().trim_matches(|c| c == '"' || c == '\'').to_string());
        p.version_text = written.filter(|s| !s.is_empty()).or_else(|| yaml_string(v));
    }
    if let Some(serde_yaml::Value::Mapping(mut deps)) = dependencies {
        for (key, kind) in [("build", DepKind::Build), ("host", DepKind::Host), ("runtime", DepKind::Runtime)] {
            let names = strings(deps.remove(key));
            for (name, s) in items(("dependencies", key), names) {
                p.deps.push(Dep { name, kind, span: s });
            }
        }
    }
    // Anything but a list is a wrong-type problem (above), not a source entry.
    if let Some(serde_yaml::Value::Sequence(seq)) = source {
        p.source_is_empty_list = seq.is_empty();
        let spots = pos.items("source", "");
        for (i, mut entry) in seq.into_iter().enumerate() {
            let mut field = |k: &str| entry.as_mapping_mut().and_then(|m| m.remove(k)).and_then(yaml_string);
            let at = |k: &str| pos.source_key(i, k).map(span);
            p.sources.push(SourceEntry {
                url: field("url"),
                sha256: field("sha256"),
                span: spots.get(i).map(|(_, r)| span(*r)).unwrap_or_else(|| key_span("source")),
                url_span: at("url"),
                sha256_span: at("sha256"),
            });
        }
    }
    if pos.keys.iter().any(|(k, _)| *k == "verify_paths") {
        p.verify_paths = Some(items(("verify_paths", ""), strings(verify_paths)));
    }
    if let Some(v) = pending_acquisition {
        let reason = yaml_string(v).unwrap_or_default();
        let s = pos.items("pending_acquisition", "").first().map(|(_, r)| span(*r)).unwrap_or_else(|| key_span("pending_acquisition"));
        p.pending = Some((reason, s));
    }
    p.supersedes = items(("supersedes", ""), strings(supersedes));
    p.parsed = true;
    (p, problems)
}

fn parse_list(file_name: &str, source: SourceId, text: &str) -> BuilderList {
    let mut entries = vec![];
    let mut extra = vec![];
    let mut invokes_tier = None;
    let mut off = 0;
    for raw in text.split_inclusive('\n') {
        let line = raw.trim_end_matches(['\n', '\r']);
        let start = off;
        off += raw.len();
        let t = line.trim();
        if let Some(c) = t.strip_prefix('#') {
            if let Some(rest) = c.trim().strip_prefix("invokes:") {
                if let Some(i) = rest.find("--tier") {
                    let tier = rest[i + 6..].split_whitespace().next().unwrap_or("");
                    if let Some(at) = line.find(&rest[i..]) {
                        invokes_tier = Some((tier.to_string(), Span::new(source, start + at, start + line.len())));
                    }
                }
            }
            continue;
        }
        if t.is_empty() {
            continue;
        }
        let name = t.split_whitespace().next().unwrap_or(t);
        let at = line.find(name).unwrap_or(0);
        let after = &line[at + name.len()..];
        let rest = after.find(" #").or_else(|| after.find("\t#")).map_or(after, |c| &after[..c]);
        if !rest.trim().is_empty() {
            let lead = rest.len() - rest.trim_start().len();
            let from = start + at + name.len() + lead;
            extra.push((entries.len(), rest.trim().to_string(), Span::new(source, from, from + rest.trim().len())));
        }
        entries.push((name.to_string(), Span::new(source, start + at, start + at + name.len())));
    }
    BuilderList { file_name: file_name.to_string(), source, entries, extra, invokes_tier }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file reads whole whatever its size against the first read's buffer (a short
    /// first read ends it; a full one reads on), listed or stat-ed, up to the cap.
    #[test]
    fn files_read_whole_around_the_first_buffer() {
        let tmp = std::env::temp_dir().join(format!("igos-read-open-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        for len in [0usize, 1, 4095, 4096, 4097, 8192, 100_000] {
            let path = tmp.join(format!("f{len}"));
            let text: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            std::fs::write(&path, &text).unwrap();
            for listed in [true, false] {
                assert_eq!(read_open(std::fs::File::open(&path), listed).unwrap(), text, "{len} bytes, listed {listed}");
            }
        }
        let big = tmp.join("big");
        std::fs::write(&big, vec![b'x'; MAX_FILE_BYTES as usize + 1]).unwrap();
        for listed in [true, false] {
            assert_eq!(problem(read_open(std::fs::File::open(&big), listed).unwrap_err()).0, ProblemKind::TooLarge);
        }
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    /// The two roads to a recipe's fields give the same fields, on every recipe of the
    /// embedded tree and on the shapes the loader reports as wrong types.
    #[test]
    fn block_yaml_and_serde_yaml_give_the_same_recipe() {
        let mut texts: Vec<String> = vec![
            "name: x\ntier: 5\nsource: a\ndependencies: [] # none\nsupersedes: old\nversion: 1.2.3\n".into(),
            "name: ~\nversion: ''\npending_acquisition:\nverify_paths: []\ndependencies:\n  build: x\n".into(),
            "name: x\nsource:\n- url: u\n  sha256: 00ab\n- x\nversion: 7\nrelease: 007\n".into(),
        ];
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packages");
        for tier in std::fs::read_dir(&root).unwrap().flatten() {
            for recipe in std::fs::read_dir(tier.path()).into_iter().flatten().flatten() {
                if let Ok(t) = std::fs::read_to_string(recipe.path().join("package.yml")) {
                    texts.push(t);
                }
            }
        }
        assert!(texts.len() > 50);
        for text in &texts {
            assert!(block_yaml::parse(text).is_some(), "not in the subset:\n{text}");
            let fast = Recipe::parse(text).unwrap();
            let serde: Recipe = serde_yaml::from_str(text).unwrap();
            assert_eq!(fast, serde, "{text}");
        }
    }
}
