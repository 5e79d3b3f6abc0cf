//! Findings for CI systems: SARIF 2.1.0 (code scanning) and GitHub workflow annotations.

use serde_json::{json, Value as Json};

use crate::check::Outcome;
use crate::finding::{Finding, WaiverState};
use crate::lang::ast::Severity;
use crate::lang::compile::Policy;
use crate::source::{SourceMap, Span};

fn region(sources: &SourceMap, span: Span) -> Json {
    let file = sources.get(span.source);
    let (start_line, start_col) = file.line_col(span.start);
    let (end_line, end_col) = file.line_col(span.end.max(span.start));
    json!({
        "artifactLocation": { "uri": file.name },
        "region": { "startLine": start_line, "startColumn": start_col, "endLine": end_line, "endColumn": end_col.max(start_col) }
    })
}

fn level(f: &Finding) -> &'static str {
    match f.severity {
        Severity::Halt => "error",
        Severity::Advisory => "warning",
    }
}

/// SARIF 2.1.0: one rule per check id, one result per finding, the deciding entry and the
/// check as related locations, waivers as suppressions.
pub fn sarif(outcome: &Outcome, policy: &Policy, sources: &SourceMap) -> String {
    let mut rule_ids: Vec<&str> = outcome.findings().map(|f| f.check.as_str()).collect();
    rule_ids.sort();
    rule_ids.dedup();
    let rules: Vec<Json> = rule_ids
        .iter()
        .map(|id| {
            let check = policy.check(id).map(|i| &policy.checks[i]);
            let about = check.and_then(|c| c.about.clone()).unwrap_or_else(|| id.replace('-', " "));
            let lvl = match check.map(|c| c.severity) {
                Some(Severity::Halt) => "error",
                _ => "warning",
            };
            json!({ "id": id, "shortDescription": { "text": about }, "defaultConfiguration": { "level": lvl } })
        })
        .collect();
    let results: Vec<Json> = outcome
        .findings()
        .map(|f| {
            let mut r = json!({
                "ruleId": f.check,
                "ruleIndex": rule_ids.iter().position(|x| *x == f.check).unwrap_or(0),
                "level": level(f),
                "message": { "text": f.message },
            });
            if let Some(at) = f.at {
                r["locations"] = json!([{ "physicalLocation": region(sources, at) }]);
            }
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
                    "justification": reason,
                    "location": { "physicalLocation": region(sources, *span) },
                });
                if let Some(approver) = approver {
                    suppression["properties"] = json!({ "approver": approver });
                }
                r["suppressions"] = json!([suppression]);
            }
            r
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "igos", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "results": results,
        }]
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// GitHub Actions workflow commands: `::error file=...,line=...,col=...,title=...::message`.
pub fn github(outcome: &Outcome, sources: &SourceMap) -> String {
    let escape = |s: &str| s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    let prop = |s: &str| escape(s).replace(':', "%3A").replace(',', "%2C");
    let mut out = String::new();
    for f in outcome.findings().filter(|f| !f.is_waived()) {
        let cmd = match f.severity {
            Severity::Halt => "error",
            Severity::Advisory => "warning",
        };
        let mut props = vec![];
        if let Some(at) = f.at {
            let file = sources.get(at.source);
            let (line, col) = file.line_col(at.start);
            props.push(format!("file={}", prop(&file.name)));
            props.push(format!("line={line}"));
            props.push(format!("col={col}"));
        }
        props.push(format!("title={}", prop(&f.check)));
        out.push_str(&format!("::{cmd} {}::{}\n", props.join(","), escape(&f.message)));
    }
    out
}
