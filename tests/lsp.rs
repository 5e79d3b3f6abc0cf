//! `igos lsp` end to end: an independent client (Microsoft's vscode-languageserver-protocol,
//! the JSON-RPC layer of VS Code's language client, run by node) speaks to the real binary
//! over stdio, as an editor does (tests/lsp/client.mjs plays the scenarios). Without node or
//! the client library each test says `skipped:` and passes, except under CI=true, where
//! .ci/run installs the library and its absence fails.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// node and the client library's node_modules, or None (with a `skipped:` line).
fn client() -> Option<(PathBuf, PathBuf)> {
    let modules = std::env::var_os("LSP_CLIENT_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::project_dir().join("target/lsp-client/node_modules"));
    let node = std::env::var_os("NODE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("node"));
    let has_node = Command::new(&node).arg("--version").output().is_ok_and(|o| o.status.success());
    let has_lib = modules.join("vscode-languageserver-protocol/package.json").is_file();
    if has_node && has_lib {
        return Some((node, modules));
    }
    let missing = if has_node { format!("the LSP client library at {}", modules.display()) } else { "node".to_string() };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{missing} is missing (required under CI=true; .ci/run installs vscode-languageserver-protocol with npm)");
    }
    println!("skipped: {missing} is not installed (.ci/run installs it: npm install --prefix target/lsp-client vscode-languageserver-protocol@3.17.5)");
    None
}

/// Play one scenario of tests/lsp/client.mjs with the workspace at the project root.
fn play(scenario: &str, server_args: &[&str]) -> Option<Value> {
    play_in(&support::project_dir(), scenario, server_args)
}

fn play_in(project: &std::path::Path, scenario: &str, server_args: &[&str]) -> Option<Value> {
    let (node, modules) = client()?;
    let out = Command::new(node)
        .arg(support::project_dir().join("tests/lsp/client.mjs"))
        .arg(env!("CARGO_BIN_EXE_igos"))
        .arg(project)
        .arg(scenario)
        .arg("--")
        .args(server_args)
        .env("LSP_CLIENT_MODULES", modules)
        // Waivers' expiry dates are computed from today.
        .env("IGOS_TODAY", "2026-12-20")
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("the client's output is not JSON ({e}):\n{text}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(v.get("error").is_none(), "the scenario failed: {}", v["error"].as_str().unwrap_or_default());
    // `shutdown` then `exit`: the protocol's clean end, exit code 0.
    assert_eq!(v["exit_code"], 0, "{v:#}");
    Some(v)
}

/// (line, column, check, message) of every finding `igos check ARGS` locates in
/// rules/tiers.pol, 0-based as LSP positions are.
fn located_in_tiers(args: &[&str]) -> Vec<(u64, u64, String, String)> {
    let check = Command::new(env!("CARGO_BIN_EXE_igos")).args(args).current_dir(support::project_dir()).output().unwrap();
    let mut v: Vec<(u64, u64, String, String)> = String::from_utf8_lossy(&check.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("rules/tiers.pol:"))
        .map(|l| {
            let mut it = l.splitn(3, ':');
            let (line, col, rest) = (it.next().unwrap().parse::<u64>().unwrap(), it.next().unwrap().parse::<u64>().unwrap(), it.next().unwrap());
            let (head, message) = rest.split_once(": ").unwrap();
            (line - 1, col - 1, head.split_whitespace().last().unwrap().to_string(), message.to_string())
        })
        .collect();
    v.sort();
    v
}

/// The same of the diagnostics the client received.
fn as_located(diags: &Value) -> Vec<(u64, u64, String, String)> {
    let mut v: Vec<(u64, u64, String, String)> = diags
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["line"].as_u64().unwrap(), d["character"].as_u64().unwrap(), d["code"].as_str().unwrap().to_string(), d["message"].as_str().unwrap().to_string()))
        .collect();
    v.sort();
    v
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

#[test]
fn an_editor_session_on_the_embedded_tree() {
    let Some(v) = play("embedded", &[]) else { return };
    let caps = strings(&v["init"]["capabilities"]);
    for c in ["hoverProvider", "definitionProvider", "completionProvider", "renameProvider", "documentFormattingProvider", "semanticTokensProvider", "codeLensProvider", "inlayHintProvider", "codeActionProvider"] {
        assert!(caps.contains(&c.to_string()), "{c} missing: {caps:?}");
    }
    // Diagnostics on open: exactly the findings `igos check` locates in tiers.pol, at the
    // same lines and columns, with the same checks and messages.
    let project = support::project_dir();
    let expected = located_in_tiers(&["check", "--format", "concise"]);
    assert!(!expected.is_empty());
    assert_eq!(as_located(&v["tiers_diagnostics"]), expected);
    assert_eq!(v["tiers_version"], 1);
    let tiers = std::fs::read_to_string(project.join("rules/tiers.pol")).unwrap();
    let gates = std::fs::read_to_string(project.join("rules/gates.pol")).unwrap();
    let line_of = |text: &str, needle: &str| text[..text.find(needle).unwrap_or_else(|| panic!("{needle}"))].matches('\n').count() as u64;

    // Hover: a set entry explains its package's natural tier as `igos explain` does.
    let entry = v["hover_entry"].as_str().unwrap();
    assert!(entry.contains("htop: declared tier base (packages/base/htop/package.yml:7:1)"), "{entry}");
    assert!(entry.contains("listed in set `base_cli` (layer 11 of 24), entry at rules/tiers.pol:273:3"), "{entry}");
    let check = v["hover_check"].as_str().unwrap();
    assert!(check.starts_with("**check `tier-move`** (halt, gate `tier-validation`: Gate 3: tier validation)"), "{check}");
    assert!(check.contains("the declared tier differs from the natural tier") && check.contains("help: check the tier source of truth first"), "{check}");
    assert_eq!(v["hover_field"], "```\npackage.pending: bool\n```\nhas a non-empty pending_acquisition reason");
    assert!(v["hover_function"].as_str().unwrap().starts_with("```\nbuilders_of(package) -> list of builder\n```"));

    // Definition: set → its declaration, package → its package.yml, check in a gate → the check,
    // phase → the phase, list file → the builder list.
    assert_eq!(v["def_set"], serde_json::json!({"uri": "rules/tiers.pol", "line": line_of(&tiers, "set base_cli {")}));
    assert_eq!(v["def_package"], serde_json::json!({"uri": "packages/base/htop/package.yml", "line": 0}));
    assert_eq!(v["def_check"], serde_json::json!({"uri": "rules/gates.pol", "line": line_of(&gates, "check tier-move ")}));
    assert_eq!(v["def_phase"]["uri"], "rules/phases.pol");
    assert_eq!(v["def_list"], serde_json::json!({"uri": "packages/builders/chroot-build-base.list", "line": 0}));
    assert_eq!(strings(&v["refs_set"]), [format!("tiers.pol:{}", line_of(&tiers, "set base_cli {")), format!("tiers.pol:{}", line_of(&tiers, "if name in base_cli\n"))]);

    // Completion: the fields and methods of `p` (a package) while the clause is being typed.
    let fields = strings(&v["complete_field"]);
    for f in ["name", "tier", "deps", "pending", "field", "has"] {
        assert!(fields.contains(&f.to_string()), "{f} not offered: {fields:?}");
    }
    assert_eq!(v["complete_field_detail"], "package.tier: string");
    assert_eq!(strings(&v["complete_package"]), ["htop"]);
    assert_eq!(strings(&v["complete_check"]), ["tier-dir-mismatch", "tier-move", "tier-unclear", "tier-without-builder"]);

    // Errors as you type, with their range; then gone when fixed.
    let errs = v["error_diagnostics"].as_array().unwrap();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0]["code"], "unknown-name");
    assert_eq!(errs[0]["message"], "unknown name `bilders`");
    assert_eq!((errs[0]["line"].as_u64(), errs[0]["character"].as_u64()), (Some(line_of(&gates, "for b in builders")), Some(11)));

    // Rename: a set (declaration and the classification's layer), a check (and its gate).
    assert_eq!(v["rename_set"], serde_json::json!({"tiers.pol": 2}));
    assert_eq!(v["rename_check"], serde_json::json!({"gates.pol": 2}));
    // A check declared in recipes.pol and listed in gates.pol: both files change.
    assert_eq!(v["rename_across"], serde_json::json!({"recipes.pol": 1, "gates.pol": 1}));
    assert_eq!(v["rename_taken"], "`missing-field` is already declared");
    assert_eq!(v["rename_refused"], "only a set or a check can be renamed");

    // Formatting: igos fmt's layout, as an edit of the one line that differs.
    let edits = v["format"].as_array().unwrap();
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(edits[0]["newText"], "policy 1\n");

    assert!(v["symbols"].as_u64().unwrap() >= 20);
    assert_eq!(v["symbol_tier_move"], 12, "a check is a function symbol");
    assert_eq!(strings(&v["workspace_symbols"]), ["base_cli", "base_cli_extra"]);
    assert!(v["folds"].as_u64().unwrap() >= 20);
    assert!(v["semantic_tokens"].as_u64().unwrap() > 500);
    assert_eq!(v["code_lens"]["tier-move"], "flags nothing on the tree now");
    // An entry whose natural tier differs from its set's: the hint says which.
    assert_eq!(v["inlay_example"]["label"], "→ toolchain");
    // A waiver skeleton for a finding, appended to rules/waivers.pol, with an expiry.
    assert_eq!(strings(&v["code_actions"]), ["Waive `shadowed-entry` for `networkmanager` until 2027-03-20"]);
    let edit = &v["waiver_edit"]["changes"];
    let (uri, e) = edit.as_object().unwrap().iter().next().unwrap();
    assert!(uri.ends_with("/rules/waivers.pol"), "{uri}");
    assert_eq!(e[0]["newText"], "\nwaive shadowed-entry for networkmanager {\n  reason \"TODO: why this is acceptable for now\"\n  expires 2027-03-20\n}\n");
    assert_eq!(v["findings_command"], 11);
}

#[test]
fn an_editor_session_on_the_corpus() {
    let Some(corpus) = support::corpus() else { return };
    let Some(v) = play("corpus", &["--root", corpus.to_str().unwrap()]) else { return };
    // What igos check locates in tiers.pol on that tree, the server shows there; and the
    // findings about recipes whose deciding rule is a set entry there (tier-move) besides.
    let expected = located_in_tiers(&["check", "--format", "concise", "--rules", "rules", "--root", corpus.to_str().unwrap()]);
    let got = as_located(&v["tiers_all"]);
    assert!(!expected.is_empty());
    let missing: Vec<_> = expected.iter().filter(|e| !got.contains(e)).collect();
    assert!(missing.is_empty(), "igos check's findings in tiers.pol the server does not show: {missing:?}");
    let besides: Vec<&str> = got.iter().filter(|g| !expected.contains(g)).map(|g| g.2.as_str()).collect();
    assert_eq!(besides, ["tier-move"; 4]);
    // tier-move located at the set entry that decided (rules/tiers.pol:265 is line 264).
    let moves = v["tier_moves"].as_array().unwrap();
    let bat = moves.iter().find(|d| d["message"].as_str().unwrap().starts_with("bat is declared extra")).expect("bat's tier-move");
    assert_eq!((bat["line"].as_u64(), bat["character"].as_u64(), bat["severity"].as_u64()), (Some(264), Some(2), Some(1)));
    assert_eq!(bat["related"], 2, "the recipe's tier: line and the check");
    let hover = v["hover_bat"].as_str().unwrap();
    assert!(hover.contains("bat: declared tier extra (packages/extra/bat/package.yml:7:1)"), "{hover}");
    assert!(hover.contains("natural_tier: base"), "{hover}");
    // The documented fixes: list it in its declared tier's set, or waive it.
    let actions = strings(&v["bat_actions"]);
    assert!(actions.contains(&"Move `bat` to set `user_facing_apps` (tier extra, as its recipe declares)".to_string()), "{actions:?}");
    assert!(actions.contains(&"Waive `tier-move` for `bat` until 2027-03-20".to_string()), "{actions:?}");
    let moved = &v["bat_move_edit"]["tiers.pol"];
    assert_eq!(moved[0]["text"], "", "the entry's line removed");
    assert_eq!(moved[1]["text"], "  bat\n");
    // Findings about the data only: one diagnostic on the check, with the data as related places.
    let orphan = v["gate_summaries"].as_array().unwrap().iter().find(|d| d["code"] == "orphan").expect("orphan summary");
    assert!(orphan["message"].as_str().unwrap().starts_with("3 findings on the tree now (3 subjects): ca-certificates (tier core) is reached by no builder"), "{orphan}");
    assert_eq!(v["code_lens"]["orphan"], "flags 3 subjects on the tree now");
    let orphan_actions = strings(&v["orphan_actions"]);
    assert!(orphan_actions.contains(&"Add `ca-certificates` to chroot-build-ch8.list (builder `ch8`, tier core)".to_string()), "{orphan_actions:?}");
    assert_eq!(v["edit_to_diagnostics_ms"].as_array().unwrap().len(), 5);
}

#[test]
fn the_facts_reload_when_a_recipe_changes_on_disk() {
    if client().is_none() {
        return;
    }
    let t = support::valid_tree("lsp-reload");
    for e in std::fs::read_dir(support::project_dir().join("rules")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "pol") {
            t.write(&format!("rules/{}", p.file_name().unwrap().to_str().unwrap()), &std::fs::read_to_string(&p).unwrap());
        }
    }
    let Some(v) = play_in(t.path(), "reload", &[]) else { return };
    assert_eq!(v["before"], serde_json::json!([]), "{v:#}");
    let after = v["after"].as_array().unwrap();
    assert_eq!(after.len(), 1, "{v:#}");
    assert_eq!(after[0]["message"], "bat is declared extra but its natural tier is base (MOVE→base)");
}
