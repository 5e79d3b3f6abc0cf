//! The shape of the facts rules can talk about: record kinds with typed fields, the
//! relations a `for` can range over, and the functions a condition can call. Rules are
//! type-checked against this before anything runs, so a typo in a rule file is an error
//! pointing at the typo, not a silent "no findings".
//!
//! Each domain (tree, pkm, ...) implements these kinds in its fact adapter.

/// A record kind. The numbers are indices into [`KINDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind(pub u16);

/// Static types of expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Int,
    Str,
    Tier,
    Loc,
    Rec(Kind),
    ListStr,
    ListRec(Kind),
    /// A named set (only the right side of `in`, or a `for` source).
    Set,
    /// The `none` literal, and optional values.
    None,
}

impl Ty {
    pub fn name(self) -> String {
        match self {
            Ty::Bool => "bool".into(),
            Ty::Int => "number".into(),
            Ty::Str => "string".into(),
            Ty::Tier => "tier".into(),
            Ty::Loc => "location".into(),
            Ty::Rec(k) => k.def().name.to_string(),
            Ty::ListStr => "list of strings".into(),
            Ty::ListRec(k) => format!("list of {}", k.def().name),
            Ty::Set => "set".into(),
            Ty::None => "none".into(),
        }
    }
}

pub struct FieldDef {
    pub name: &'static str,
    pub ty: Ty,
    pub doc: &'static str,
}

pub struct KindDef {
    pub name: &'static str,
    pub fields: &'static [FieldDef],
}

/// Which front door provides a relation's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DomainId {
    Tree,
    Pkm,
    /// The built root: its files, pkm's database in it, the recipes' verify_paths.
    Image,
}

pub struct RelationDef {
    pub name: &'static str,
    pub kind: Kind,
    pub domain: DomainId,
    pub doc: &'static str,
}

/// A function. `receiver` functions are written as methods: `p.field("tier")`.
pub struct FnDef {
    pub name: &'static str,
    pub params: &'static [Ty],
    pub ret: Ty,
    pub method: bool,
    /// None: generic (every domain); Some: only where that domain's facts are loaded.
    pub domain: Option<DomainId>,
    pub doc: &'static str,
}

impl Kind {
    pub fn def(self) -> &'static KindDef {
        &KINDS[self.0 as usize]
    }
    pub fn field(self, name: &str) -> Option<(usize, &'static FieldDef)> {
        self.def().fields.iter().enumerate().find(|(_, f)| f.name == name)
    }
}

macro_rules! fields {
    ($($name:literal : $ty:expr => $doc:literal),* $(,)?) => {
        &[$(FieldDef { name: $name, ty: $ty, doc: $doc }),*]
    };
}

pub const PACKAGE: Kind = Kind(0);
pub const DEP: Kind = Kind(1);
pub const SOURCE: Kind = Kind(2);
pub const VERIFY_PATH: Kind = Kind(3);
pub const KEY: Kind = Kind(4);
pub const BUILD_SCRIPT: Kind = Kind(5);
pub const SH_FUNCTION: Kind = Kind(6);
pub const ENTRY: Kind = Kind(7);
pub const BUILDER: Kind = Kind(8);
pub const TIER: Kind = Kind(9);
pub const PROBLEM: Kind = Kind(10);
pub const QUEUED: Kind = Kind(11);
pub const ARCHIVE_ENTRY: Kind = Kind(12);
pub const SUPERSEDE: Kind = Kind(13);
pub const AUDIT: Kind = Kind(14);
pub const AUDIT_DB: Kind = Kind(15);
pub const OVERRIDE: Kind = Kind(16);
pub const UPSTREAM_DEP: Kind = Kind(17);
pub const SCAN: Kind = Kind(18);
pub const SCAN_SOURCES: Kind = Kind(19);
pub const DIVERGENCE: Kind = Kind(20);
pub const BUILD_LOG: Kind = Kind(21);
pub const LOG_HIT: Kind = Kind(22);
pub const SET_ENTRY: Kind = Kind(23);
pub const IMAGE_FILE: Kind = Kind(24);
pub const INSTALLED_FILE: Kind = Kind(25);
pub const IMAGE_VERIFY_PATH: Kind = Kind(26);
pub const IMAGE_DATABASE: Kind = Kind(27);

pub static KINDS: &[KindDef] = &[
    KindDef {
        name: "package",
        fields: fields! {
            "name": Ty::Str => "the recipe's name (yml `name:`, else its directory name)",
            "dirname": Ty::Str => "the recipe's directory name",
            "dir": Ty::Str => "the tier directory it lives in",
            "tier": Ty::Str => "the declared `tier:` (none when absent)",
            "version": Ty::Str => "the version as written",
            "version_is_string": Ty::Bool => "true when the version is a YAML string, not a number",
            "build_style": Ty::Str => "the declared build_style",
            "pending": Ty::Bool => "has a non-empty pending_acquisition reason",
            "pending_reason": Ty::Str => "the pending_acquisition text, none when absent",
            "parsed": Ty::Bool => "the package.yml parsed as a YAML mapping",
            "deps": Ty::ListRec(DEP) => "build, host and runtime dependencies in file order",
            "sources": Ty::ListRec(SOURCE) => "the source: entries",
            "source_is_empty": Ty::Bool => "declares `source: []`",
            "verify_paths": Ty::ListRec(VERIFY_PATH) => "the verify_paths: entries",
            "has_verify_paths": Ty::Bool => "declares verify_paths:",
            "keys": Ty::ListRec(KEY) => "top-level keys in file order",
            "build_sh": Ty::Rec(BUILD_SCRIPT) => "its build.sh, none when absent",
            "same_name": Ty::ListRec(PACKAGE) => "every recipe declaring this name (itself included)",
            "audit": Ty::Rec(AUDIT) => "its record in the audit database, none when absent",
            "audit_override": Ty::Rec(OVERRIDE) => "its .audit-override file, none when absent",
            "file": Ty::Loc => "the package.yml",
            "first_of_name": Ty::Bool => "no recipe earlier in the tree declares this name (a duplicate is reported once, at its first copy)",
            "same_name_dirs": Ty::ListStr => "the directories (packages/<tier>/<dir>) of every recipe declaring this name",
        },
    },
    KindDef {
        name: "dep",
        fields: fields! {
            "name": Ty::Str => "the dependency as written",
            "kind": Ty::Str => "build, host or runtime",
            "consumer": Ty::Rec(PACKAGE) => "the package that declares it",
            "target": Ty::Rec(PACKAGE) => "the recipe it names, none when no recipe has that name",
        },
    },
    KindDef {
        name: "source",
        fields: fields! {
            "url": Ty::Str => "the url, none when absent",
            "sha256": Ty::Str => "the pinned sha256, none when absent",
            "package": Ty::Rec(PACKAGE) => "the recipe",
            "url_at": Ty::Loc => "where the url is written",
            "sha256_at": Ty::Loc => "where the sha256 is written",
        },
    },
    KindDef {
        name: "verify_path",
        fields: fields! {
            "path": Ty::Str => "the declared path",
            "package": Ty::Rec(PACKAGE) => "the recipe",
        },
    },
    KindDef {
        name: "key",
        fields: fields! {
            "name": Ty::Str => "the top-level key",
            "package": Ty::Rec(PACKAGE) => "the recipe",
        },
    },
    KindDef {
        name: "build_script",
        fields: fields! {
            "known": Ty::Bool => "its text is available (the corpus lists build.sh files without their text)",
            "header": Ty::Str => "the leading comment block",
            "functions": Ty::ListRec(SH_FUNCTION) => "the shell functions it defines",
            "package": Ty::Rec(PACKAGE) => "the recipe",
        },
    },
    KindDef {
        name: "sh_function",
        fields: fields! {
            "name": Ty::Str => "the function name",
            "stub": Ty::Bool => "its body does nothing (`:`, `true`, empty)",
        },
    },
    KindDef {
        name: "entry",
        fields: fields! {
            "name": Ty::Str => "the package name listed",
            "index": Ty::Int => "its position in the list (0-based)",
            "builder": Ty::Rec(BUILDER) => "the builder whose list it is in",
            "package": Ty::Rec(PACKAGE) => "the recipe it names, none when absent",
            "extra": Ty::Str => "what follows the name on its line (a line names one package), none when nothing does",
            "extra_at": Ty::Loc => "where that text is written, none when nothing follows",
        },
    },
    KindDef {
        name: "builder",
        fields: fields! {
            "name": Ty::Str => "the builder's name in the rules",
            "phase": Ty::Str => "the build phase that runs it",
            "tier": Ty::Str => "the tier it builds",
            "kind": Ty::Str => "static, topological or named",
            "available": Ty::Bool => "its list file exists (and, for a topological builder, invokes its tier)",
            "entries": Ty::ListRec(ENTRY) => "its static list, in order",
        },
    },
    KindDef {
        name: "tier",
        fields: fields! {
            "name": Ty::Str => "the tier",
            "package_count": Ty::Int => "recipes declaring this tier",
            "builders": Ty::ListRec(BUILDER) => "available builders that build this tier",
        },
    },
    KindDef {
        name: "problem",
        fields: fields! {
            "kind": Ty::Str => "what went wrong reading the file (yaml-syntax, not-a-mapping, ...)",
            "message": Ty::Str => "the reader's message",
        },
    },
    KindDef {
        name: "queued",
        fields: fields! {
            "name": Ty::Str => "the package name in the archive's manifest",
            "position": Ty::Int => "its place in the install queue (0-based)",
            "archive": Ty::Str => "the archive file",
            "supersedes": Ty::ListStr => "the package names its SUPERSEDES declares",
            "entries": Ty::ListRec(ARCHIVE_ENTRY) => "the files, directories and links it ships",
            "installed": Ty::Bool => "a package of this name is installed",
            "superseded_by": Ty::Str => "the installed package of this name was superseded by these packages (comma-separated); none when not",
        },
    },
    KindDef {
        name: "archive_entry",
        fields: fields! {
            "path": Ty::Str => "the path, relative to the root",
            "type": Ty::Str => "file, dir or symlink",
            "package": Ty::Rec(QUEUED) => "the queued package that ships it",
            "root_type": Ty::Str => "what the root has at that path now: absent, file, dir, symlink-to-dir, symlink",
            "owner": Ty::Str => "who owns the path when this package installs: an earlier package of the queue, else the installed owner; none when unowned",
            "in_state_dir": Ty::Bool => "the path, or where it resolves to, is pkm's state (var/lib/igos) or download cache (var/cache/igos/pkm) or inside it",
            "state_ancestor": Ty::Bool => "the path, or where it resolves to, is a directory on the way to pkm's state or download cache (var, var/lib, var/cache, var/cache/igos)",
            "resolved": Ty::Str => "where the path lands, its parents' symlinks followed through the root as it will be",
            "link": Ty::Str => "the last symlink crossed on the way to the entry's parent; none when none",
            "link_owner": Ty::Str => "the package owning that symlink (an earlier queue member, else installed); none when unowned",
            "link_target_owners": Ty::ListStr => "the packages owning the directory that symlink leads to",
            "escapes": Ty::Bool => "a symlink whose target, followed through the root as it will be, leaves the root",
            "config": Ty::Bool => "declared a config file (an edited one is kept, the new one written beside it)",
            "overwrite": Ty::Bool => "matched by an --overwrite glob of this install",
            "same_as_root": Ty::Bool => "the root already has exactly this entry (same content, or same link target)",
        },
    },
    KindDef {
        name: "supersede",
        fields: fields! {
            "name": Ty::Str => "the predecessor named by SUPERSEDES",
            "successor": Ty::Rec(QUEUED) => "the queued package that supersedes it",
            "installed": Ty::Bool => "a package of that name is installed (superseded or not)",
            "queue_position": Ty::Int => "its place in the queue, none when not queued",
            "state": Ty::Str => "where the predecessor is: installed, earlier, later, itself or absent",
        },
    },
    KindDef {
        name: "audit",
        fields: fields! {
            "version": Ty::Str => "the audited version",
            "tier": Ty::Str => "the audited tier",
            "build_deps": Ty::ListStr => "the audited build dependencies, sorted",
            "added": Ty::ListStr => "build dependencies the recipe declares that the audit does not have",
            "removed": Ty::ListStr => "build dependencies the audit has that the recipe no longer declares",
        },
    },
    KindDef {
        name: "audit_database",
        fields: fields! {
            "present": Ty::Bool => "the audit database exists",
            "path": Ty::Str => "where the database is",
            "store": Ty::Str => "where the audit store is",
            "pending": Ty::ListStr => "store records not in the database (audited but not aggregated)",
        },
    },
    KindDef {
        name: "audit_override",
        fields: fields! {
            "reason": Ty::Str => "why the package's audit checks are skipped",
            "approved_by": Ty::Str => "who approved it",
            "expires_at": Ty::Str => "YYYY-MM-DD after which it no longer applies",
            "valid": Ty::Bool => "the file is a JSON object with a reason, an approver and a valid date",
            "problem": Ty::Str => "why it is not valid",
        },
    },
    KindDef {
        name: "upstream_dep",
        fields: fields! {
            "name": Ty::Str => "the upstream name as written (pkg-config module, library, header, program, cmake package)",
            "kind": Ty::Str => "pkg-config, lib, header, meson-dep, program or cmake-package",
            "required": Ty::Bool => "upstream fails without it (no soft fallback)",
            "conditional": Ty::Bool => "the check is inside if/fi, AS_IF, AS_CASE, AC_ARG_WITH/ENABLE, meson if/endif or cmake if()/endif()",
            "strength": Ty::Str => "required, soft, conditional or soft, conditional",
            "file": Ty::Str => "the build file inside the tarball, e.g. configure.ac",
            "line": Ty::Int => "the line in that file",
            "package": Ty::Rec(PACKAGE) => "the recipe whose tarball it was found in",
            "recipe": Ty::Rec(PACKAGE) => "the first recipe that provides the name (equal name, a set alias_<recipe>, a normalised name), none when unresolved",
            "recipes": Ty::ListRec(PACKAGE) => "every recipe that provides the name",
            "provided_by": Ty::Loc => "why the recipe provides it: the alias set item that admits the name, else the recipe's package.yml",
            "declared": Ty::Bool => "one of those recipes is the package itself or in its build or host dependencies",
            "divergence": Ty::Rec(DIVERGENCE) => "the divergence record for this package and dependency, none when absent",
        },
    },
    KindDef {
        name: "scan",
        fields: fields! {
            "package": Ty::Rec(PACKAGE) => "the recipe",
            "tarball": Ty::Str => "its first source's tarball name, none without a source url",
            "status": Ty::Str => "scanned, missing, unsupported, failed or no-source",
            "problem": Ty::Str => "why it was not scanned",
        },
    },
    KindDef {
        name: "scan_sources",
        fields: fields! {
            "dir": Ty::Str => "the sources directory",
            "present": Ty::Bool => "at least one recipe's tarball is there",
            "missing": Ty::ListStr => "recipes whose tarball is not there",
            "missing_first": Ty::ListStr => "the first ten of them (for a short message)",
            "scanned": Ty::Int => "tarballs scanned",
            "cached": Ty::Int => "of those, read from the scan cache",
        },
    },
    KindDef {
        name: "divergence",
        fields: fields! {
            "package": Ty::Str => "the package (a name or glob)",
            "dependency": Ty::Str => "the dependency it drops (a recipe or upstream name, or a glob)",
            "reason": Ty::Str => "the inline justification",
            "approver": Ty::Str => "who approved it, none when not given",
            "scanned": Ty::Bool => "a package it names had its tarball scanned",
            "used": Ty::Bool => "it matched an upstream dependency the package does not declare",
        },
    },
    KindDef {
        name: "build_log",
        fields: fields! {
            "package": Ty::Str => "the package of the reference (the last good build)",
            "version": Ty::Str => "its version in the reference",
            "log": Ty::Str => "its build log, as recorded",
            "present": Ty::Bool => "the log file can be read",
            "recipe": Ty::Rec(PACKAGE) => "the recipe of that name in the tree, none when gone",
        },
    },
    KindDef {
        name: "log_hit",
        fields: fields! {
            "package": Ty::Str => "the package whose build log it is",
            "log": Ty::Rec(BUILD_LOG) => "the build log",
            "group": Ty::Str => "the `patterns` block of the matching pattern (autotools, meson, ...)",
            "kind": Ty::Str => "the matching pattern's kind",
            "class": Ty::Str => "detection (`{name}`: something not found) or summary (`{feature}`: a feature off)",
            "name": Ty::Str => "the captured name or feature, as written in the log",
            "normalized": Ty::Str => "the capture lowercased without `-`, `_`, `.` and blanks (for noise sets)",
            "line": Ty::Int => "the line in the log",
            "text": Ty::Str => "the log line, trimmed (at most 200 characters)",
            "pattern": Ty::Loc => "the pattern in the rules that matched",
            "dep": Ty::Str => "the declared build/host dependency the name is, none when not declared (detection lines)",
            "recipe": Ty::Rec(PACKAGE) => "the recipe of the tree the name is (equal name, alias_<recipe>, normalised), none when not ours",
            "declared": Ty::Bool => "the name is a declared dependency or the package itself",
            "divergence": Ty::Rec(DIVERGENCE) => "the divergence record for this package and name, none when absent",
        },
    },
    KindDef {
        name: "set_entry",
        fields: fields! {
            "name": Ty::Str => "the name as written (exact names only: globs and exclusions are not entries)",
            "set": Ty::Str => "the set it is listed in",
            "classifies": Ty::Bool => "the set is a layer of a classification (a tier list), so its entries name recipes",
            "package": Ty::Rec(PACKAGE) => "the recipe of that name, none when the tree has none",
        },
    },
    KindDef {
        name: "image_file",
        fields: fields! {
            "path": Ty::Str => "the path in the image, relative to its root",
            "type": Ty::Str => "file, dir, symlink or other",
            "mode": Ty::Str => "the permission bits in octal, setuid/setgid/sticky included (`4755`)",
            "setuid": Ty::Bool => "the setuid or setgid bit is set",
            "uid": Ty::Int => "the owner's user id",
            "gid": Ty::Int => "the owner's group id",
            "target": Ty::Str => "a symlink's target, none otherwise",
            "sha256": Ty::Str => "a regular file's SHA-256 (computed when a check asks), none otherwise",
            "package": Ty::Str => "the package pkm records for the path, none when no package owns it",
            "recorded": Ty::Rec(INSTALLED_FILE) => "pkm's record of the path, none when no package owns it",
            "declared_setuid": Ty::Bool => "pkm's record of the path has the setuid or setgid bit (its package ships it so)",
        },
    },
    KindDef {
        name: "installed_file",
        fields: fields! {
            "path": Ty::Str => "the path pkm records, relative to the root",
            "package": Ty::Str => "the package that owns it",
            "type": Ty::Str => "file, dir or symlink, as recorded",
            "mode": Ty::Str => "the recorded permission bits in octal",
            "sha256": Ty::Str => "the recorded SHA-256 of a file, none otherwise",
            "target": Ty::Str => "the recorded target of a symlink, none otherwise",
            "config": Ty::Bool => "pkm records it as a configuration file",
            "image": Ty::Rec(IMAGE_FILE) => "what the image has at the path, none when nothing",
        },
    },
    KindDef {
        name: "image_verify_path",
        fields: fields! {
            "path": Ty::Str => "the declared path, as written in verify_paths",
            "package": Ty::Str => "the recipe's name",
            "tier": Ty::Str => "the recipe's declared tier",
            "phase": Ty::Str => "the build phase that builds the recipe, none when no builder reaches it",
            "built": Ty::Bool => "that phase runs before the image audit (so the recipe was built)",
            "pending": Ty::Bool => "the recipe has a non-empty pending_acquisition reason",
            "installed": Ty::Bool => "pkm's database in the image records a package of that name",
            "image": Ty::Rec(IMAGE_FILE) => "what the image has at the path, none when nothing",
        },
    },
    KindDef {
        name: "image_database",
        fields: fields! {
            "present": Ty::Bool => "the image has pkm's database (var/lib/igos/pkm.db)",
            "path": Ty::Str => "where it is in the image",
            "packages": Ty::Int => "installed packages it records",
            "files": Ty::Int => "paths it records",
        },
    },
];

pub static RELATIONS: &[RelationDef] = &[
    RelationDef { name: "packages", kind: PACKAGE, domain: DomainId::Tree, doc: "every recipe in the tree" },
    RelationDef { name: "deps", kind: DEP, domain: DomainId::Tree, doc: "every declared dependency" },
    RelationDef { name: "entries", kind: ENTRY, domain: DomainId::Tree, doc: "every static builder list entry" },
    RelationDef { name: "builders", kind: BUILDER, domain: DomainId::Tree, doc: "the builders declared in the rules" },
    RelationDef { name: "tiers", kind: TIER, domain: DomainId::Tree, doc: "the declared tiers" },
    RelationDef { name: "problems", kind: PROBLEM, domain: DomainId::Tree, doc: "files that could not be read as facts" },
    RelationDef { name: "audit_database", kind: AUDIT_DB, domain: DomainId::Tree, doc: "the audit database (one record)" },
    RelationDef { name: "upstream_deps", kind: UPSTREAM_DEP, domain: DomainId::Tree, doc: "dependencies upstream build files check for (Scan A.2; empty unless sources are scanned)" },
    RelationDef { name: "scans", kind: SCAN, domain: DomainId::Tree, doc: "per recipe, what the source scan made of its tarball" },
    RelationDef { name: "scan_sources", kind: SCAN_SOURCES, domain: DomainId::Tree, doc: "the sources directory of the scan (one record when scanning)" },
    RelationDef { name: "build_logs", kind: BUILD_LOG, domain: DomainId::Tree, doc: "the packages of the reference build and their logs (Scan B; empty without a reference)" },
    RelationDef { name: "log_hits", kind: LOG_HIT, domain: DomainId::Tree, doc: "build log lines a `patterns` template matched (Scan B; empty without a reference)" },
    RelationDef { name: "divergences", kind: DIVERGENCE, domain: DomainId::Tree, doc: "the divergence records of the rules" },
    RelationDef { name: "set_entries", kind: SET_ENTRY, domain: DomainId::Tree, doc: "every exact name listed in a set of the rules" },
    RelationDef { name: "queue", kind: QUEUED, domain: DomainId::Pkm, doc: "the install queue, in order" },
    RelationDef { name: "archive_entries", kind: ARCHIVE_ENTRY, domain: DomainId::Pkm, doc: "every entry of every queued archive" },
    RelationDef { name: "supersedes", kind: SUPERSEDE, domain: DomainId::Pkm, doc: "every SUPERSEDES declaration in the queue" },
    RelationDef { name: "image_files", kind: IMAGE_FILE, domain: DomainId::Image, doc: "every path of the built root (`--image`), by path" },
    RelationDef { name: "installed_files", kind: INSTALLED_FILE, domain: DomainId::Image, doc: "every path pkm's database in the image records, by package and path" },
    RelationDef { name: "image_verify_paths", kind: IMAGE_VERIFY_PATH, domain: DomainId::Image, doc: "every verify_paths entry of every recipe, with what the image has there" },
    RelationDef { name: "image_database", kind: IMAGE_DATABASE, domain: DomainId::Image, doc: "pkm's database in the image (one record)" },
];

pub static FUNCTIONS: &[FnDef] = &[
    // generic
    FnDef { name: "count", params: &[Ty::ListStr], ret: Ty::Int, method: false, domain: None, doc: "number of items in a list" },
    FnDef { name: "len", params: &[Ty::Str], ret: Ty::Int, method: false, domain: None, doc: "length of a string in characters" },
    FnDef { name: "is_hex", params: &[Ty::Str], ret: Ty::Bool, method: false, domain: None, doc: "only lowercase hex digits (and not empty)" },
    FnDef { name: "starts_with", params: &[Ty::Str, Ty::Str], ret: Ty::Bool, method: false, domain: None, doc: "prefix test" },
    FnDef { name: "ends_with", params: &[Ty::Str, Ty::Str], ret: Ty::Bool, method: false, domain: None, doc: "suffix test" },
    FnDef { name: "contains", params: &[Ty::Str, Ty::Str], ret: Ty::Bool, method: false, domain: None, doc: "substring test" },
    FnDef { name: "segments", params: &[Ty::Str], ret: Ty::Int, method: false, domain: None, doc: "non-empty `/`-separated parts of a path" },
    FnDef { name: "exists", params: &[Ty::None], ret: Ty::Bool, method: false, domain: None, doc: "the value is not none" },
    FnDef { name: "today", params: &[], ret: Ty::Str, method: false, domain: None, doc: "today's date, YYYY-MM-DD" },
    // tree
    FnDef { name: "package", params: &[Ty::Str], ret: Ty::Rec(PACKAGE), method: false, domain: Some(DomainId::Tree), doc: "the recipe with this name, none when absent" },
    FnDef { name: "builders_of", params: &[Ty::Rec(PACKAGE)], ret: Ty::ListRec(BUILDER), method: false, domain: Some(DomainId::Tree), doc: "the available builders that reach the package" },
    FnDef { name: "entry_in", params: &[Ty::Rec(BUILDER), Ty::Str], ret: Ty::Rec(ENTRY), method: false, domain: Some(DomainId::Tree), doc: "the first entry with this name in the builder's list, none when absent" },
    FnDef { name: "build_phase", params: &[Ty::Rec(PACKAGE)], ret: Ty::Str, method: false, domain: Some(DomainId::Tree), doc: "the phase of the earliest builder that reaches the package" },
    FnDef { name: "phase_index", params: &[Ty::Str], ret: Ty::Int, method: false, domain: Some(DomainId::Tree), doc: "the position of a phase in the declared phase order" },
    FnDef { name: "field", params: &[Ty::Rec(PACKAGE), Ty::Str], ret: Ty::Loc, method: true, domain: Some(DomainId::Tree), doc: "where a top-level key is written (the file when absent)" },
    FnDef { name: "has", params: &[Ty::Rec(PACKAGE), Ty::Str], ret: Ty::Bool, method: true, domain: Some(DomainId::Tree), doc: "the package.yml has this top-level key" },
    FnDef { name: "empty", params: &[Ty::Rec(PACKAGE), Ty::Str], ret: Ty::Bool, method: true, domain: Some(DomainId::Tree), doc: "the package.yml writes this top-level key with no value (`key:` alone, `null`, `~`, `\"\"`)" },
    FnDef { name: "has_function", params: &[Ty::Rec(BUILD_SCRIPT), Ty::Str], ret: Ty::Bool, method: true, domain: Some(DomainId::Tree), doc: "the build.sh defines this function" },
];

pub fn relation(name: &str) -> Option<(usize, &'static RelationDef)> {
    RELATIONS.iter().enumerate().find(|(_, r)| r.name == name)
}

pub fn function(name: &str) -> Option<(usize, &'static FnDef)> {
    FUNCTIONS.iter().enumerate().find(|(_, f)| f.name == name)
}

/// The values a closed field can take: listed here, or the declared tiers (a tier-valued
/// string field). A rule comparing such a field with a string literal outside the set never
/// matches anything, so the compiler refuses it (with did-you-mean).
pub enum Values {
    Listed(&'static [&'static str]),
    Tiers,
}

/// Closed fields: (record kind, field, its values). Must name every value the fact
/// adapters produce (engine/facts/tree.rs, engine/facts/pkm.rs).
pub static ENUMS: &[(Kind, &str, Values)] = &[
    (PACKAGE, "tier", Values::Tiers),
    (PACKAGE, "dir", Values::Tiers),
    (DEP, "kind", Values::Listed(&["build", "host", "runtime"])),
    (BUILDER, "kind", Values::Listed(&["static", "topological", "named"])),
    (BUILDER, "tier", Values::Tiers),
    (TIER, "name", Values::Tiers),
    (AUDIT, "tier", Values::Tiers),
    (ARCHIVE_ENTRY, "type", Values::Listed(&["file", "dir", "symlink"])),
    (ARCHIVE_ENTRY, "root_type", Values::Listed(&["absent", "file", "dir", "symlink-to-dir", "symlink", "other"])),
    (
        SUPERSEDE,
        "state",
        Values::Listed(&[
            "itself",
            "earlier in the install queue",
            "later in the install queue",
            "installed",
            "neither installed nor earlier in the install queue",
        ]),
    ),
    (SCAN, "status", Values::Listed(&["scanned", "pending", "missing", "unsupported", "failed", "no-source"])),
    (LOG_HIT, "class", Values::Listed(&["detection", "summary"])),
];

/// The closed value set of a record field, if it has one.
pub fn enum_of(kind: Kind, field: usize) -> Option<&'static Values> {
    let name = kind.def().fields.get(field)?.name;
    ENUMS.iter().find(|(k, f, _)| *k == kind && *f == name).map(|(_, _, v)| v)
}

/// The recipe schema: the top-level keys of a package.yml that igos and the build know.
/// `p.has("...")` and `p.field("...")` name one of these (or an item of the rules'
/// `known_fields` set), so a misspelt key is a rule error, not a check that flags everything.
pub static RECIPE_KEYS: &[&str] = &[
    "build_artifacts", "build_style", "bundled_deps", "configure_flags", "dependencies", "description",
    "direct_install", "homepage", "install_func", "iso_include", "license", "name", "pass_number", "patches",
    "payload_license", "pending_acquisition", "release", "skip_tracking", "source", "supersedes", "target_triple",
    "tests", "tier", "validation", "verify_paths", "version", "working_dir",
];
