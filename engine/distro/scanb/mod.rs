//! Scan B (Gate 5), silent feature loss: each package's build log of the last good build
//! (the reference, `reference.rs`) read line by line against the rules' `patterns` blocks.
//! A detection line (`{name}`) is resolved to a declared dependency or a recipe of the
//! tree; a summary line (`{feature}`) names a disabled feature. Which of these halt is the
//! rules' decision (`rules/scanb.pol`); this module only loads facts.
//!
//! With no reference there are no facts: the gate says `skipped: no previous build`.

pub use crate::lang::pattern;
pub mod reference;

use std::path::Path;

use crate::lang::compile::Policy;
use crate::source::{SourceFile, SourceMap, Span};
use crate::tree::Tree;
use crate::upstream::{self, Resolver};

pub use reference::Reference;

/// A build log larger than this is read only up to it.
const MAX_LOG: usize = 64 << 20;

/// One package of the reference and its log.
#[derive(Debug, Clone)]
pub struct BuildLog {
    pub package: String,
    pub version: String,
    /// The log path as recorded.
    pub log: String,
    pub present: bool,
    /// The log file (when present), else the reference file.
    pub span: Span,
    /// The recipe of that name in today's tree.
    pub recipe: Option<u32>,
}

/// One log line a pattern matched.
#[derive(Debug, Clone)]
pub struct LogHit {
    pub log: u32,
    pub pattern: u32,
    /// The captured name or feature, as written in the log.
    pub name: String,
    pub line: u32,
    /// The matched line, trimmed (at most 200 characters).
    pub text: String,
    /// The captured text in the log.
    pub span: Span,
    /// The declared dependency the name is (detection lines).
    pub dep: Option<String>,
    /// The recipe of the tree the name is (detection lines).
    pub recipe: Option<u32>,
    pub declared: bool,
    pub divergence: Option<u32>,
}

#[derive(Debug, Default)]
pub struct ScanBFacts {
    /// The reference file, as shown.
    pub path: String,
    /// None: no previous build (the gate is skipped).
    pub reference: Option<Reference>,
    pub logs: Vec<BuildLog>,
    pub hits: Vec<LogHit>,
}

impl ScanBFacts {
    pub fn skipped(&self) -> Option<String> {
        self.reference.is_none().then(|| {
            format!("skipped: no previous build (no reference at {}; `igos reference save` records one after a good build)", self.path)
        })
    }
}

/// A capture lowercased without `-`, `_`, `.` and blanks: `X11 backend` → `x11backend`.
pub use crate::upstream::normalize;

/// Read the reference at `path` and every log it names. Ok with no reference when the
/// file does not exist; Err (exit 2) when it exists but cannot be used.
pub fn load(tree: &Tree, policy: &Policy, path: &Path, map: &mut SourceMap) -> Result<ScanBFacts, String> {
    let shown = path.strip_prefix(&tree.root).unwrap_or(path).display().to_string();
    let mut facts = ScanBFacts { path: shown.clone(), ..ScanBFacts::default() };
    // Through the one reader: a FIFO or a link to a device is refused, never waited on.
    let text = match crate::input::read_text_if_present(path, crate::input::Kind::Reference) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(facts),
        Err(e) => return Err(format!("cannot read the reference: {e}")),
    };
    let reference = Reference::parse(&text).map_err(|e| format!("the reference {} cannot be used: {e}", path.display()))?;
    // Where each package is written in the reference (its key), for findings about it.
    let key_span = |name: &str| -> (usize, usize) {
        let key = serde_json::to_string(name).unwrap_or_default();
        match text.find(&format!("{key}: {{")) {
            Some(i) => (i, i + key.len()),
            None => (0, 0),
        }
    };
    let key_spans: Vec<(usize, usize)> = reference.packages.keys().map(|n| key_span(n)).collect();
    let ref_id = map.add(SourceFile::new(shown, text));
    let resolver = Resolver::new(tree, policy);
    for ((name, rp), (ks, ke)) in reference.packages.iter().zip(key_spans) {
        let file = Path::new(&rp.log);
        let full = if file.is_absolute() { file.to_path_buf() } else { tree.root.join(file) };
        let recipe = resolver.recipe_named(name);
        let log_index = facts.logs.len() as u32;
        // A log up to its cap; a missing one is a finding, one the system refuses to read (or a
        // FIFO, a device) an error naming it.
        let bytes = match crate::input::read_head(&full, crate::input::Kind::Log) {
            Ok(b) => b,
            Err(e) if !e.is_missing() => return Err(format!("cannot read a build log the reference names: {e}")),
            Err(_) => {
            facts.logs.push(BuildLog { package: name.clone(), version: rp.version.clone(), log: rp.log.clone(), present: false, span: Span::new(ref_id, ks, ke), recipe });
            continue;
            }
        };
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_LOG)]).into_owned();
        let id = map.add(SourceFile::new(rp.log.clone(), text.clone()));
        facts.logs.push(BuildLog { package: name.clone(), version: rp.version.clone(), log: rp.log.clone(), present: true, span: Span::new(id, 0, 0), recipe });
        // Each declared dependency's names, once per package.
        let dep_names: Vec<(String, Vec<String>)> = rp.deps.iter().map(|d| (d.clone(), resolver.names_of(d, policy))).collect();
        let mut offset = 0usize;
        for (ln, raw) in text.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let start = offset;
            offset += raw.len() + 1;
            let line = line.trim_end();
            if line.is_empty() || line.len() > pattern::MAX_LINE {
                continue;
            }
            let lowered = line.to_ascii_lowercase();
            // The first pattern that matches a line wins.
            let Some((pi, (s, e))) = policy.log_patterns.iter().enumerate().find_map(|(i, p)| p.template.matches_lower(line, &lowered).map(|m| (i, m))) else {
                continue;
            };
            let captured = &line[s..e];
            let lower = captured.to_ascii_lowercase();
            let detection = policy.log_patterns[pi].template.capture == pattern::Capture::Name;
            let (mut dep, mut hit_recipe, mut declared) = (None, None, false);
            if detection {
                hit_recipe = resolver.resolve(captured, false).recipes.first().copied();
                dep = dep_names.iter().find(|(_, v)| v.contains(&lower)).map(|(d, _)| d.clone());
                if dep.is_none() {
                    if let Some(r) = hit_recipe {
                        let rn = &tree.packages[r as usize].name;
                        dep = rp.deps.iter().find(|d| *d == rn).cloned();
                    }
                }
                declared = dep.is_some() || (hit_recipe.is_some() && hit_recipe == recipe);
            }
            let recipe_name = hit_recipe.map(|r| tree.packages[r as usize].name.as_str());
            let divergence = upstream::divergence(policy, name, [Some(captured), dep.as_deref(), recipe_name].into_iter().flatten());
            let trimmed = line.trim();
            let text: String = trimmed.chars().take(200).collect();
            facts.hits.push(LogHit {
                log: log_index,
                pattern: pi as u32,
                name: captured.to_string(),
                line: ln as u32 + 1,
                text,
                span: Span::new(id, start + s, start + e),
                dep,
                recipe: hit_recipe,
                declared,
                divergence,
            });
        }
    }
    facts.reference = Some(reference);
    Ok(facts)
}
