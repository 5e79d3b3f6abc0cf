//! The image domain: the built root's files, what pkm's database in it records, and the
//! recipes' verify_paths joined to both. `rules/image.pol` is evaluated over these facts,
//! by `igos check --image DIR` and by the build's `builtin image-audit` phase.
//!
//! Everything is indexed once here; the one thing read on demand is a file's SHA-256
//! (engine/image hashes a path the first time a check asks for it).

use crate::check::{GateResult, Outcome};
use crate::eval::domain::Domain;
use crate::eval::schema::{self, DomainId, Kind};
use crate::eval::value::{Rec, Value};
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
            let phase = match tree_facts.call("build_phase", &[Value::Rec(Rec { kind: schema::PACKAGE, idx: idx as u32 })]) {
                Value::Str(s) => policy.phase_index(s).map(|i| policy.phases[i].name.as_str()),
                _ => None,
            };
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

    fn rec(kind: Kind, idx: Option<u32>) -> Value<'static> {
        idx.map_or(Value::None, |idx| Value::Rec(Rec { kind, idx }))
    }
}

impl Domain for ImageFacts<'_> {
    fn id(&self) -> DomainId {
        DomainId::Image
    }

    fn relation(&self, rel: usize) -> Vec<Value<'_>> {
        let recs = |kind, n: usize| (0..n as u32).map(|idx| Value::Rec(Rec { kind, idx })).collect();
        match schema::RELATIONS[rel].name {
            "image_files" => recs(schema::IMAGE_FILE, self.image.files.len()),
            "installed_files" => recs(schema::INSTALLED_FILE, self.image_of.len()),
            "image_verify_paths" => recs(schema::IMAGE_VERIFY_PATH, self.verify.len()),
            "image_database" => recs(schema::IMAGE_DATABASE, 1),
            _ => vec![],
        }
    }

    fn field(&self, r: Rec, field: usize) -> Value<'_> {
        let name = r.kind.def().fields.get(field).map(|f| f.name).unwrap_or("");
        let i = r.idx as usize;
        match r.kind {
            schema::IMAGE_FILE => {
                let Some(f) = self.image.files.get(i) else { return Value::None };
                let rec = self.recorded[i].and_then(|d| self.db_file(d));
                match name {
                    "path" => Value::Str(&f.path),
                    "type" => Value::Str(f.kind),
                    "mode" => Value::Str(&self.modes[i]),
                    "setuid" => Value::Bool(f.kind == "file" && f.mode & 0o6000 != 0),
                    "uid" => Value::Int(i64::from(f.uid)),
                    "gid" => Value::Int(i64::from(f.gid)),
                    "target" => Value::opt_str(f.target.as_deref()),
                    "sha256" => Value::opt_str(self.image.sha256(i)),
                    "package" => Value::opt_str(rec.map(|d| d.package.as_str())),
                    "recorded" => Self::rec(schema::INSTALLED_FILE, self.recorded[i]),
                    "declared_setuid" => Value::Bool(rec.is_some_and(|d| d.mode & 0o6000 != 0)),
                    _ => Value::None,
                }
            }
            schema::INSTALLED_FILE => {
                let Some(d) = self.db_file(r.idx) else { return Value::None };
                match name {
                    "path" => Value::Str(&d.path),
                    "package" => Value::Str(&d.package),
                    "type" => Value::Str(&d.kind),
                    "mode" => Value::Str(&self.recorded_modes[i]),
                    "sha256" => Value::opt_str(d.sha256.as_deref()),
                    "target" => Value::opt_str(d.target.as_deref()),
                    "config" => Value::Bool(d.config),
                    "image" => Self::rec(schema::IMAGE_FILE, self.image_of[i]),
                    _ => Value::None,
                }
            }
            schema::IMAGE_VERIFY_PATH => {
                let Some(v) = self.verify.get(i) else { return Value::None };
                match name {
                    "path" => Value::Str(v.path),
                    "package" => Value::Str(v.package),
                    "tier" => Value::opt_str(v.tier),
                    "phase" => Value::opt_str(v.phase),
                    "built" => Value::Bool(v.built),
                    "pending" => Value::Bool(v.pending),
                    "installed" => Value::Bool(v.installed),
                    "image" => Self::rec(schema::IMAGE_FILE, v.image),
                    _ => Value::None,
                }
            }
            schema::IMAGE_DATABASE => {
                let db = self.image.database.as_ref();
                match name {
                    "present" => Value::Bool(db.is_some()),
                    "path" => Value::Str(DATABASE),
                    "packages" => Value::Int(db.map_or(0, |d| d.packages.len() as i64)),
                    "files" => Value::Int(db.map_or(0, |d| d.files.len() as i64)),
                    _ => Value::None,
                }
            }
            _ => Value::None,
        }
    }

    fn call<'s>(&'s self, _name: &str, _args: &[Value<'s>]) -> Value<'s> {
        Value::None
    }

    fn display(&self, r: Rec) -> String {
        let i = r.idx as usize;
        match r.kind {
            schema::IMAGE_FILE => self.image.files.get(i).map(|f| format!("/{}", f.path)).unwrap_or_default(),
            schema::INSTALLED_FILE => self.db_file(r.idx).map(|d| format!("/{}", d.path)).unwrap_or_default(),
            schema::IMAGE_VERIFY_PATH => self.verify.get(i).map(|v| v.package.to_string()).unwrap_or_default(),
            schema::IMAGE_DATABASE => DATABASE.to_string(),
            _ => String::new(),
        }
    }

    fn location(&self, r: Rec) -> Option<Span> {
        match r.kind {
            schema::IMAGE_VERIFY_PATH => self.verify.get(r.idx as usize).map(|v| v.span),
            _ => None,
        }
    }
}

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
    crate::eval::run::apply_waivers(policy, &mut all, today, DomainId::Image);
    let is_image = |c: &usize| policy.checks[*c].domain == DomainId::Image;
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
    let (field, _) = schema::IMAGE_FILE.field("sha256").unwrap_or((usize::MAX, &schema::KINDS[0].fields[0]));
    let reads = policy.checks.iter().filter(|c| c.domain == DomainId::Image).any(|c| {
        c.steps.iter().any(|s| match s {
            Step::For(_, e) | Step::Where(e) | Step::Let(_, e) => reads_field(e, schema::IMAGE_FILE, field),
            Step::Join { source, keys, probes, .. } => {
                std::iter::once(source).chain(keys).chain(probes).any(|e| reads_field(e, schema::IMAGE_FILE, field))
            }
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
