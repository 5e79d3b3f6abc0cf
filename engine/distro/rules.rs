//! Loading rule files: from a directory a maintainer edits, or the copies built into the
//! binary so `igos check` works anywhere. Every file is parsed and every error collected.

use std::path::Path;
use std::sync::Arc;

use crate::eval::schema::Schema;
use crate::lang::compile::{self, Policy};
use crate::lang::error::RuleError;
use crate::lang::syntax;
use crate::source::{SourceFile, SourceId, SourceMap, Span};

/// The project's `rules/`, compiled in. A test keeps this list equal to the directory.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("rules/audit.pol", include_str!("../../rules/audit.pol")),
    ("rules/builders.pol", include_str!("../../rules/builders.pol")),
    ("rules/gates.pol", include_str!("../../rules/gates.pol")),
    ("rules/image.pol", include_str!("../../rules/image.pol")),
    ("rules/phases.pol", include_str!("../../rules/phases.pol")),
    ("rules/pkm.pol", include_str!("../../rules/pkm.pol")),
    ("rules/recipes.pol", include_str!("../../rules/recipes.pol")),
    ("rules/scan.pol", include_str!("../../rules/scan.pol")),
    ("rules/scanb.pol", include_str!("../../rules/scanb.pol")),
    ("rules/tiers.pol", include_str!("../../rules/tiers.pol")),
    ("rules/waivers.pol", include_str!("../../rules/waivers.pol")),
];

pub const EXTENSION: &str = "pol";

pub struct Rules {
    pub policy: Policy,
    pub errors: Vec<RuleError>,
    pub files: usize,
}

/// Read every `*.pol` file of `dir` (sorted by name), or the built-in rules when `dir` is
/// None, and compile them for the domains of `schema`.
pub fn load(dir: Option<&Path>, schema: &Schema, sources: &mut SourceMap) -> Result<Rules, String> {
    Ok(read(dir, sources)?.compile(schema))
}

/// Rule files read and registered in the source map, not yet parsed: compiling needs no
/// access to the map, so `igos check` compiles them while the tree loads.
pub struct Registered {
    texts: Vec<(SourceId, Result<Arc<str>, String>)>,
}

/// Read and register every `*.pol` file of `dir` (sorted by name), or the built-in rules.
pub fn read(dir: Option<&Path>, sources: &mut SourceMap) -> Result<Registered, String> {
    let mut texts: Vec<(String, Result<String, String>)> = vec![];
    match dir {
        None => texts.extend(BUILT_IN.iter().map(|(n, t)| (n.to_string(), Ok(t.to_string())))),
        Some(dir) => {
            let entries = crate::input::list_dir(dir).map_err(|e| format!("cannot read the rules directory: {e}"))?;
            let paths: Vec<_> =
                entries.iter().map(|e| e.path()).filter(|p| p.extension().and_then(|x| x.to_str()) == Some(EXTENSION)).collect();
            if paths.is_empty() {
                return Err(format!("no rule files (*.{EXTENSION}) in {}", dir.display()));
            }
            for p in paths {
                // Through the one reader: a FIFO or a link to a device is refused, not waited
                // on or read forever; the reason is the error, the file its position.
                let text = crate::input::read_text(&p, crate::input::Kind::RuleFile).map_err(|e| e.problem.to_string());
                texts.push((p.display().to_string(), text));
            }
        }
    }
    Ok(register(texts, sources))
}

/// Parse and compile named rule texts (also used by tests and tools).
pub fn compile_texts(texts: Vec<(String, Result<String, String>)>, schema: &Schema, sources: &mut SourceMap) -> Rules {
    register(texts, sources).compile(schema)
}

fn register(texts: Vec<(String, Result<String, String>)>, sources: &mut SourceMap) -> Registered {
    let texts = texts
        .into_iter()
        .map(|(name, text)| match text {
            Ok(text) => {
                let id = sources.add(SourceFile::new(name, text));
                (id, Ok(sources.get(id).text.clone()))
            }
            Err(msg) => (sources.add(SourceFile::new(name, "")), Err(msg)),
        })
        .collect();
    Registered { texts }
}

impl Registered {
    /// One more file to compile with the rules (a test case's waivers): its source id.
    pub fn add(&mut self, name: String, text: String, sources: &mut SourceMap) -> SourceId {
        let id = sources.add(SourceFile::new(name, text));
        self.texts.push((id, Ok(sources.get(id).text.clone())));
        id
    }

    /// Parse every file and compile the policy, collecting every error.
    pub fn compile(self, schema: &Schema) -> Rules {
        let mut errors = vec![];
        let mut parsed = vec![];
        let files = self.texts.len();
        for (id, text) in self.texts {
            match text {
                Ok(text) => {
                    // Recovers at the next declaration: one diagnostic per broken one.
                    let (f, mut broken) = syntax::parse_recovering(id, &text);
                    errors.append(&mut broken);
                    parsed.push(f);
                }
                Err(msg) => errors.push(RuleError::new("unreadable", msg, Span::new(id, 0, 0)).with_label("this file")),
            }
        }
        let (mut policy, mut semantic) = compile::compile(&parsed, schema);
        errors.append(&mut semantic);
        policy.lints = crate::lints::constant_conditions(&parsed, &policy, schema);
        policy.lints.extend(crate::lints::unused_preds(&policy));
        // The phase graph is part of the rules: a cycle is a rule error in every command. It
        // is judged only on rules that compiled clean: a builder lost to a syntax error would
        // otherwise leave its tier "unbuilt", a second diagnostic for one mistake.
        let compiled_clean = errors.is_empty();
        if compiled_clean {
            errors.extend(crate::phases::graph::PhaseGraph::build(&policy).1);
        }
        Rules { policy, errors, files }
    }
}
