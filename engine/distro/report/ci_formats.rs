//! Findings for CI systems: SARIF 2.1.0 that GitHub code scanning accepts, and GitHub
//! workflow annotations within what GitHub shows.
//!
//! GitHub's documented limits (docs.github.com, "SARIF results exceed limit"): 25,000
//! results per run (the upload is refused above), 1,000 locations per result, 20 tags per
//! rule; a step shows 10 error and 10 warning annotations. Every SARIF result carries a
//! physical location (code scanning refuses an upload with one that has none): its data,
//! else its check in `rules/`.

use std::collections::HashMap;
use std::io::{self, Write};

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::{json, Value as Json};

use crate::outcome::Outcome;
use crate::finding::{self, Finding, WaiverState};
use crate::lang::ast::Severity;
use crate::lang::compile::{CPart, Policy};
use crate::source::{SourceMap, Span};
use crate::visible::visible;

/// Results per SARIF run GitHub accepts; above, the most important are kept.
pub const MAX_RESULTS: usize = 25_000;
/// Annotations of each kind a GitHub step shows.
pub const MAX_ANNOTATIONS: usize = 10;
/// The key of igos's fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "igosFindingId/v1";

/// The base relative artifact URIs are resolved against: the checked tree's root (on
/// GitHub, the checkout), declared in the run's `originalUriBaseIds`.
const SRCROOT: &str = "SRCROOT";

/// An artifact's location: the file name as the report names it, relative to the tree
/// (`packages/...`, `rules/...`) against [`SRCROOT`]; a file outside (an absolute
/// `--rules DIR`) as a `file://` URI, since a relative reference may not start with `/`.
fn artifact(name: &str) -> Json {
    if !name.starts_with('/') {
        return json!({ "uri": percent_encode(name), "uriBaseId": SRCROOT });
    }
    json!({ "uri": format!("file://{}", percent_encode(name)) })
}

/// Characters a URI reference cannot hold as they are (RFC 3986), percent-encoded.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b'+' | b'@' | b'=' | b',' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn region(sources: &SourceMap, span: Span) -> Json {
    let file = sources.get(span.source);
    let (start_line, start_col) = file.line_col(span.start);
    let (end_line, end_col) = file.line_col(span.end.max(span.start));
    json!({
        "artifactLocation": artifact(&file.name),
        "region": { "startLine": start_line, "startColumn": start_col, "endLine": end_line, "endColumn": end_col.max(start_col) }
    })
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Halt => "error",
        Severity::Advisory => "warning",
    }
}

/// Where a finding is shown: its data, else its check in the rules, else the check's
/// declaration in the policy (every finding of a check has one).
fn primary(f: &Finding, policy: &Policy) -> Option<Span> {
    f.at.or(f.rule).or_else(|| policy.check(&f.check).map(|i| policy.checks[i].span))
}

/// The review's judgement of a result (`--baseline`): SARIF's `baselineState`.
pub type BaselineStates<'a> = Option<&'a HashMap<&'a str, &'static str>>;

fn result(f: &Finding, fp: &str, rule_index: usize, policy: &Policy, sources: &SourceMap, baseline: BaselineStates) -> Json {
    let mut r = json!({
        "ruleId": f.check,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": { "text": visible(&f.message) },
        "partialFingerprints": { FINGERPRINT_KEY: fp },
    });
    r["locations"] = match primary(f, policy) {
        Some(at) => json!([{ "physicalLocation": region(sources, at) }]),
        None => json!([{ "physicalLocation": { "artifactLocation": artifact("rules") } }]),
    };
    // The entry that decided (a layer, a list entry, a waiver), then the check itself.
    let related: Vec<Json> = [(f.because, "the entry that decided"), (f.rule, "the check in the rule files")]
        .into_iter()
        .filter_map(|(span, what)| span.map(|s| (s, what)))
        .enumerate()
        .map(|(i, (s, what))| json!({ "id": i, "physicalLocation": region(sources, s), "message": { "text": what } }))
        .collect();
    if !related.is_empty() {
        r["relatedLocations"] = json!(related);
    }
    if let WaiverState::Waived { span, reason, approver } = &f.waiver {
        let mut suppression = json!({
            "kind": "external",
            "status": "accepted",
            "justification": visible(reason),
            "location": { "physicalLocation": region(sources, *span) },
        });
        if let Some(approver) = approver {
            suppression["properties"] = json!({ "approver": visible(approver) });
        }
        r["suppressions"] = json!([suppression]);
    }
    if let Some(state) = baseline.and_then(|b| b.get(fp)) {
        r["baselineState"] = json!(state);
    }
    r
}

/// One rule per check that has a finding: its description, help and tags (gate, severity).
fn rules(ids: &[&str], policy: &Policy, outcome: &Outcome) -> Vec<Json> {
    // Each check's first finding, for the severity and gate of checks outside the policy
    // (shadowed-entry, waiver findings): one pass, not one per rule.
    let mut first: HashMap<&str, &Finding> = HashMap::new();
    for f in outcome.findings() {
        first.entry(f.check.as_str()).or_insert(f);
    }
    ids.iter()
        .map(|id| {
            let check = policy.check(id).map(|i| &policy.checks[i]);
            let about = check.and_then(|c| c.about.clone()).unwrap_or_else(|| id.replace('-', " "));
            let severity = check.map(|c| c.severity).or_else(|| first.get(id).map(|f| f.severity)).unwrap_or(Severity::Advisory);
            let gate = first.get(id).and_then(|f| f.gate.clone()).unwrap_or_else(|| "rules".into());
            // The help of the check as written in the rules, its `{…}` holes shown as `…`
            // (each result's message says the specific case).
            let template = check.and_then(|c| c.help.as_ref()).map(|parts| {
                parts.iter().map(|p| match p { CPart::Text(t) => t.as_str(), CPart::Hole(_) => "…" }).collect::<String>()
            });
            let explain = format!("`igos explain {id} SUBJECT` shows one finding, the entry that decided and the fix.");
            let help = match template {
                Some(t) => format!("{}\n\n{explain}", visible(&t)),
                None => explain,
            };
            json!({
                "id": id,
                "shortDescription": { "text": visible(&about) },
                "fullDescription": { "text": visible(&about) },
                "help": { "text": help, "markdown": help },
                "defaultConfiguration": { "level": level(severity) },
                "properties": { "tags": [format!("gate:{gate}"), format!("severity:{}", severity.as_str())] },
            })
        })
        .collect()
}

struct Results<'a> {
    outcome: &'a Outcome,
    policy: &'a Policy,
    sources: &'a SourceMap,
    fingerprints: &'a [String],
    rule_ids: &'a [&'a str],
    baseline: BaselineStates<'a>,
}

impl Serialize for Results<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let all: Vec<(&Finding, &String)> = self.outcome.findings().zip(self.fingerprints).collect();
        let mut seq = s.serialize_seq(None)?;
        let mut emit = |f: &Finding, fp: &str| {
            let index = self.rule_ids.binary_search(&f.check.as_str()).unwrap_or(0);
            seq.serialize_element(&result(f, fp, index, self.policy, self.sources, self.baseline))
        };
        if all.len() <= MAX_RESULTS {
            for (f, fp) in &all {
                emit(f, fp)?;
            }
        } else {
            // Over GitHub's limit: halting findings first, then the rest, up to the limit.
            let ranked = all.iter().filter(|(f, _)| f.halts()).chain(all.iter().filter(|(f, _)| !f.halts()));
            for (f, fp) in ranked.take(MAX_RESULTS) {
                emit(f, fp)?;
            }
        }
        seq.end()
    }
}

/// SARIF 2.1.0: one rule per check id, one result per finding (each with a location and
/// igos's fingerprint), the deciding entry and the check as related locations, waivers as
/// suppressions. With `baseline`, each result's `baselineState` (new, unchanged).
pub fn write_sarif(out: &mut dyn Write, outcome: &Outcome, policy: &Policy, sources: &SourceMap, baseline: BaselineStates) -> io::Result<()> {
    let mut rule_ids: Vec<&str> = outcome.findings().map(|f| f.check.as_str()).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let fingerprints = finding::fingerprints(outcome.findings());
    let total = fingerprints.len();
    #[derive(Serialize)]
    struct Run<'a> {
        tool: Json,
        #[serde(rename = "originalUriBaseIds")]
        original_uri_base_ids: Json,
        results: Results<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        properties: Option<Json>,
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        #[serde(rename = "$schema")]
        schema: &'static str,
        version: &'static str,
        runs: [Run<'a>; 1],
    }
    let doc = Doc {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: [Run {
            tool: json!({ "driver": {
                "name": "igos",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/InterGenJLU/intergenos",
                "rules": rules(&rule_ids, policy, outcome),
            } }),
            original_uri_base_ids: json!({ SRCROOT: { "description": { "text": "The root of the checked tree (igos check --root), which the repository's checkout is on GitHub." } } }),
            results: Results { outcome, policy, sources, fingerprints: &fingerprints, rule_ids: &rule_ids, baseline },
            properties: (total > MAX_RESULTS).then(|| json!({ "omittedResults": total - MAX_RESULTS })),
        }],
    };
    let mut ser = serde_json::Serializer::pretty(&mut *out);
    doc.serialize(&mut ser).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// The SARIF report as one string.
pub fn sarif(outcome: &Outcome, policy: &Policy, sources: &SourceMap) -> String {
    let mut buf = vec![];
    let _ = write_sarif(&mut buf, outcome, policy, sources, None);
    String::from_utf8(buf).unwrap_or_default()
}

/// A workflow command's message: visible, then `%`, CR and LF escaped.
fn escape_data(s: &str) -> String {
    visible(s).replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn annotation(f: &Finding, sources: &SourceMap) -> String {
    let cmd = match f.severity {
        Severity::Halt => "error",
        Severity::Advisory => "warning",
    };
    let mut props = vec![];
    if let Some(at) = f.at.or(f.rule) {
        let file = sources.get(at.source);
        let (line, col) = file.line_col(at.start);
        props.push(format!("file={}", escape_property(&file.name)));
        props.push(format!("line={line}"));
        props.push(format!("col={col}"));
    }
    props.push(format!("title={}", escape_property(&f.check)));
    format!("::{cmd} {}::{}\n", props.join(","), escape_data(&f.message))
}

/// GitHub Actions workflow commands for `findings` (waived ones left out): halting
/// findings first, at most 10 errors and 10 warnings (what a step shows), then one notice
/// saying how many were not shown.
pub fn github_annotations<'a>(findings: impl Iterator<Item = (&'a Finding, &'a SourceMap)>) -> String {
    let shown: Vec<(&Finding, &SourceMap)> = findings.filter(|(f, _)| !f.is_waived()).collect();
    let mut out = String::new();
    let (mut halts_left, mut advisories_left) = (0, 0);
    for severity in [Severity::Halt, Severity::Advisory] {
        for (i, (f, sources)) in shown.iter().filter(|(f, _)| f.severity == severity).enumerate() {
            if i < MAX_ANNOTATIONS {
                out.push_str(&annotation(f, sources));
            } else if severity == Severity::Halt {
                halts_left += 1;
            } else {
                advisories_left += 1;
            }
        }
    }
    if halts_left + advisories_left > 0 {
        out.push_str(&format!(
            "::notice title=igos::{} more finding(s) not shown as annotations ({halts_left} halting, {advisories_left} advisory): GitHub shows 10 errors and 10 warnings per step; the step summary and `igos check --format concise` list them\n",
            halts_left + advisories_left
        ));
    }
    out
}

/// Annotations for every finding of a check.
pub fn github(outcome: &Outcome, sources: &SourceMap) -> String {
    github_annotations(outcome.findings().map(|f| (f, sources)))
}
