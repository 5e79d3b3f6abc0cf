//! The image domain: the built root's files, what pkm's database in it records, and the
//! recipes' verify_paths joined to both. `rules/image.pol` is evaluated over these facts,
//! by `igos check --image DIR` and by the build's `builtin image-audit` phase.
//!
//! Everything is indexed once here; the one thing read on demand is a file's SHA-256
//! (engine/image hashes a path the first time a check asks for it).

use crate::outcome::{GateResult, Outcome};
use crate::eval::domain::Domain;
use crate::eval::schema::Kind;
use crate::facts::tree::TreeFacts;
use crate::finding::Finding;
use crate::image::{Image, DATABASE};
use crate::lang::compile::{CExpr, Policy, Step};
use crate::source::Span;
use crate::tree::Tree;

/// One verify_paths entry of one recipe.
struct VerifyFact<'a> {
    path: &'a str,
    package: &'a str,
    tier: Option<&'a str>,
    phase: Option<&'a str>,
    built: bool,
    pending: bool,
    installed: bool,
    image: Option<u32>,
    span: Span,
}

pub struct ImageFacts<'a> {
    image: &'a Image,
    verify: Vec<VerifyFact<'a>>,
    /// Per image file: pkm's record of its path (a file's or link's before a directory's).
    recorded: Vec<Option<u32>>,
    /// Per recorded path: the image file at that path.
    image_of: Vec<Option<u32>>,
    modes: Vec<String>,
    recorded_modes: Vec<String>,
}

impl<'a> ImageFacts<'a> {
    /// `built_phases`: the phases whose recipes count as built (see [`built_phases`]).
    pub fn new(image: &'a Image, tree: &'a Tree, policy: &'a Policy, built_phases: &[&str]) -> ImageFacts<'a> {
        let db_files: &[crate::image::InstalledFile] = image.database.as_ref().map_or(&[], |d| &d.files);
        let installed: std::collections::HashSet<&str> =
            image.database.iter().flat_map(|d| d.packages.iter().map(String::as_str)).collect();
        // pkm deploys through the root's directory links (`lib/x` lands in `usr/lib/x` when
        // lib -> usr/lib), so a recorded path is looked up the same way.
        let image_of: Vec<Option<u32>> = db_files.iter().map(|f| image.resolve(&f.path, false).map(|i| i as u32)).collect();
        let mut recorded: Vec<Option<u32>> = vec![None; image.files.len()];
        for (d, at) in image_of.iter().enumerate() {
            let Some(at) = at else { continue };
            let slot = &mut recorded[*at as usize];
            if slot.is_none_or(|was| db_files[was as usize].kind == "dir" && db_files[d].kind != "dir") {
                *slot = Some(d as u32);
            }
        }
        let tree_facts = TreeFacts::new(tree, policy);
        let mut verify = vec![];
        for (idx, p) in tree.packages.iter().enumerate() {
            let phase = tree_facts.build_phase(idx as u32).and_then(|s| policy.phase_index(s)).map(|i| policy.phases[i].name.as_str());
            for (path, span) in p.verify_paths.iter().flatten() {
                verify.push(VerifyFact {
                    path,
                    package: &p.name,
                    tier: p.tier.as_deref(),
                    phase,
                    built: phase.is_some_and(|ph| built_phases.contains(&ph)),
                    pending: p.pending.as_ref().is_some_and(|(r, _)| !r.trim().is_empty()),
                    installed: installed.contains(p.name.as_str()),
                    image: image.resolve(path, true).map(|i| i as u32),
                    span: *span,
                });
            }
        }
        let modes = image.files.iter().map(|f| format!("{:04o}", f.mode)).collect();
        let recorded_modes = db_files.iter().map(|f| format!("{:04o}", f.mode)).collect();
        ImageFacts { image, verify, recorded, image_of, modes, recorded_modes }
    }

    fn db_file(&self, i: u32) -> Option<&'a crate::image::InstalledFile> {
        self.image.database.as_ref()?.files.get(i as usize)
    }
}

igos_policy::domain! {
    pub static IMAGE = "image", "a built root, pkm's database in it and the recipes' verify_paths, read by `igos check --image`";
    impl<'a> ImageFacts<'a>;
    kinds {
        IMAGE_FILE "image_file" "a path of the built root" {
            @show |f, i| f.image.files.get(i as usize).map(|x| format!("/{}", x.path)).unwrap_or_default();
            path: Str = "the path in the image, relative to its root", |f, i| f.image.files[i as usize].path.as_str();
            r#type: Str = "file, dir, symlink or other", |f, i| f.image.files[i as usize].kind;
            mode: Str = "the permission bits in octal, setuid/setgid/sticky included (`4755`)", |f, i| f.modes[i as usize].as_str();
            setuid: Bool = "the setuid or setgid bit is set", |f, i| { let x = &f.image.files[i as usize]; x.kind == "file" && x.mode & 0o6000 != 0 };
            uid: Int = "the owner's user id", |f, i| f.image.files[i as usize].uid;
            gid: Int = "the owner's group id", |f, i| f.image.files[i as usize].gid;
            target: Str = "a symlink's target, none otherwise", |f, i| f.image.files[i as usize].target.as_deref();
            sha256: Str = "a regular file's SHA-256 (computed when a check asks), none otherwise", |f, i| f.image.sha256(i as usize);
            package: Str = "the package pkm records for the path, none when no package owns it", |f, i| f.recorded_file(i).map(|d| d.package.as_str());
            recorded: Rec(INSTALLED_FILE) = "pkm's record of the path, none when no package owns it", |f, i| f.recorded[i as usize];
            declared_setuid: Bool = "pkm's record of the path has the setuid or setgid bit (its package ships it so)", |f, i| f.recorded_file(i).is_some_and(|d| d.mode & 0o6000 != 0);
        }
        INSTALLED_FILE "installed_file" "a path pkm's database in the image records" {
            @show |f, i| f.db_file(i).map(|d| format!("/{}", d.path)).unwrap_or_default();
            path: Str = "the path pkm records, relative to the root", |f, i| f.db_file(i).map(|d| d.path.as_str());
            package: Str = "the package that owns it", |f, i| f.db_file(i).map(|d| d.package.as_str());
            r#type: Str = "file, dir or symlink, as recorded", |f, i| f.db_file(i).map(|d| d.kind.as_str());
            mode: Str = "the recorded permission bits in octal", |f, i| f.recorded_modes[i as usize].as_str();
            sha256: Str = "the recorded SHA-256 of a file, none otherwise", |f, i| f.db_file(i).and_then(|d| d.sha256.as_deref());
            target: Str = "the recorded target of a symlink, none otherwise", |f, i| f.db_file(i).and_then(|d| d.target.as_deref());
            config: Bool = "pkm records it as a configuration file", |f, i| f.db_file(i).is_some_and(|d| d.config);
            image: Rec(IMAGE_FILE) = "what the image has at the path, none when nothing", |f, i| f.image_of[i as usize];
        }
        IMAGE_VERIFY_PATH "image_verify_path" "a verify_paths entry of a recipe, with what the image has there" {
            @show |f, i| f.verify[i as usize].package.to_string();
            @at |f, i| f.verify.get(i as usize).map(|v| v.span);
            path: Str = "the declared path, as written in verify_paths", |f, i| f.verify[i as usize].path;
            package: Str = "the recipe's name", |f, i| f.verify[i as usize].package;
            tier: Str = "the recipe's declared tier", |f, i| f.verify[i as usize].tier;
            phase: Str = "the build phase that builds the recipe, none when no builder reaches it", |f, i| f.verify[i as usize].phase;
            built: Bool = "that phase runs before the image audit (so the recipe was built)", |f, i| f.verify[i as usize].built;
            pending: Bool = "the recipe has a non-empty pending_acquisition reason", |f, i| f.verify[i as usize].pending;
            installed: Bool = "pkm's database in the image records a package of that name", |f, i| f.verify[i as usize].installed;
            image: Rec(IMAGE_FILE) = "what the image has at the path, none when nothing", |f, i| f.verify[i as usize].image;
        }
        IMAGE_DATABASE "image_database" "pkm's database in the image" {
            @show |f, i| DATABASE.to_string();
            present: Bool = "the image has pkm's database (var/lib/igos/pkm.db)", |f, i| f.image.database.is_some();
            path: Str = "where it is in the image", |f, i| DATABASE;
            packages: Int = "installed packages it records", |f, i| f.image.database.as_ref().map_or(0, |d| d.packages.len());
            files: Int = "paths it records", |f, i| f.image.database.as_ref().map_or(0, |d| d.files.len());
        }
    }
    relations {
        image_files: IMAGE_FILE = "every path of the built root (`--image`), by path", |f| f.image.files.len();
        installed_files: INSTALLED_FILE = "every path pkm's database in the image records, by package and path", |f| f.image_of.len();
        image_verify_paths: IMAGE_VERIFY_PATH = "every verify_paths entry of every recipe, with what the image has there", |f| f.verify.len();
        image_database: IMAGE_DATABASE = "pkm's database in the image (one record)", |f| 1;
    }
    functions {}
}

impl ImageFacts<'_> {
    /// pkm's record of image file `i`, if any.
    fn recorded_file(&self, i: u32) -> Option<&crate::image::InstalledFile> {
        self.recorded[i as usize].and_then(|d| self.db_file(d))
    }
}

// Everything the engine asks is the registration's dispatch (domain!).
impl Domain for ImageFacts<'_> {}

/// The phases whose recipes the image audit counts as built: the required phases that run
/// before the first `builtin image-audit` phase (all of them when there is none).
pub fn built_phases(policy: &Policy) -> Vec<&str> {
    let (graph, _) = crate::phases::graph::PhaseGraph::build(policy);
    let mut out = vec![];
    for &i in graph.order() {
        let p = &policy.phases[i];
        if p.builtin.as_deref() == Some("image-audit") {
            break;
        }
        if !p.optional {
            out.push(p.name.as_str());
        }
    }
    out
}

/// Evaluate the image checks of `policy`, grouped into their gates as the validate phase's
/// are (gates without image checks left out).
pub fn evaluate(policy: &Policy, facts: &ImageFacts<'_>, today: &str) -> Outcome {
    prefetch(policy, facts);
    let mut engine = crate::eval::run::Engine::new(policy, facts);
    engine.today = today.into();
    let mut all = engine.run_all(policy.waivers.len());
    crate::eval::run::apply_waivers(policy, &mut all, today, IMAGE.id);
    let is_image = |c: &usize| policy.checks[*c].domain == IMAGE.id;
    let mut gates: Vec<GateResult> = policy
        .gates
        .iter()
        .filter(|g| g.checks.iter().any(is_image))
        .map(|g| GateResult { id: g.id.clone(), title: g.title.clone(), findings: vec![], skipped: None })
        .collect();
    let mut rest = GateResult { id: "rules".into(), title: "Rule files".into(), findings: vec![], skipped: None };
    for f in all {
        match gates.iter_mut().find(|g| f.gate.as_ref() == Some(&g.id)) {
            Some(g) => g.findings.push(f),
            None => rest.findings.push(f),
        }
    }
    let rank = |f: &Finding| policy.check(&f.check).unwrap_or(usize::MAX);
    for g in gates.iter_mut().chain(std::iter::once(&mut rest)) {
        g.findings.sort_by(|a, b| (rank(a), &a.subject, &a.object, a.at).cmp(&(rank(b), &b.subject, &b.object, b.at)));
    }
    gates.push(rest);
    let packages = facts.image.database.as_ref().map_or(0, |d| d.packages.len());
    Outcome { packages, gates }
}

/// When a check reads an image file's `sha256`, hash the files pkm records on every core
/// first (the engine evaluates one check on one thread; the hashes are what takes time).
pub fn prefetch(policy: &Policy, facts: &ImageFacts<'_>) {
    let file = Kind(&IMAGE_FILE);
    let field = file.field("sha256").map_or(usize::MAX, |(i, _)| i);
    let reads = policy.checks.iter().filter(|c| c.domain == IMAGE.id).any(|c| {
        c.steps.iter().any(|s| match s {
            Step::For(_, e) | Step::Where(e) | Step::Let(_, e) => reads_field(e, file, field),
            Step::Join { source, keys, probes, .. } => std::iter::once(source).chain(keys).chain(probes).any(|e| reads_field(e, file, field)),
        })
    });
    if !reads {
        return;
    }
    let wanted: Vec<usize> = facts
        .image_of
        .iter()
        .enumerate()
        .filter(|(d, _)| facts.db_file(*d as u32).is_some_and(|f| f.kind == "file"))
        .filter_map(|(_, i)| i.map(|i| i as usize))
        .collect();
    facts.image.prefetch_hashes(&wanted);
}

fn reads_field(e: &CExpr, kind: Kind, field: usize) -> bool {
    match e {
        CExpr::Field(inner, k, f) => (*k == kind && *f == field) || reads_field(inner, kind, field),
        CExpr::List(v) | CExpr::Call(_, v) => v.iter().any(|x| reads_field(x, kind, field)),
        CExpr::Classify(_, x) | CExpr::Not(x) => reads_field(x, kind, field),
        CExpr::Bin(_, a, b) => reads_field(a, kind, field) || reads_field(b, kind, field),
        CExpr::Const(_) | CExpr::Var(_) | CExpr::Set(_) | CExpr::Relation(_) => false,
    }
}
