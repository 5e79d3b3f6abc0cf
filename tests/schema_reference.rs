//! `igos schema` is generated from the definitions the compiler checks rules against: every
//! relation and every field it lists compiles in a rule, and its Markdown is kept in a
//! snapshot. `grammar/LANGUAGE.md` names every rule of `grammar/policy.pest`.

mod support;

use std::collections::{BTreeSet, VecDeque};
use std::process::Command;

use serde_json::Value;

fn igos(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_igos")).args(args).output().expect("igos runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn compiles(rule: &str) -> Result<(), String> {
    let mut sources = igos::source::SourceMap::new();
    let rules = igos::rules::compile_texts(vec![("t.pol".into(), Ok(format!("policy 1\n\n{rule}")))], &mut sources);
    if rules.errors.is_empty() {
        Ok(())
    } else {
        Err(rules.errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; "))
    }
}

#[test]
fn the_markdown_reference() {
    let md = igos(&["schema"]);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("schema-markdown", md);
    });
}

/// Every relation, and every field of every record kind (reached from a relation through
/// generators and field access), compiles in a rule exactly as the JSON says; a name the
/// schema does not list does not.
#[test]
fn every_relation_and_field_the_schema_lists_compiles() {
    let json: Value = serde_json::from_str(&igos(&["schema", "--format", "json"])).expect("JSON");
    assert_eq!(json["schema"], "igos-schema/1");
    let kinds: Vec<&Value> = json["kinds"].as_array().expect("kinds").iter().collect();
    let kind = |name: &str| kinds.iter().find(|k| k["name"] == name).copied().expect("kind listed");
    // A way to reach each kind: generators, then an expression of that kind.
    // (generators so far, expression of the record, depth)
    let mut reach: std::collections::BTreeMap<String, (Vec<String>, String)> = Default::default();
    let mut queue = VecDeque::new();
    for r in json["relations"].as_array().expect("relations") {
        let (name, k) = (r["name"].as_str().expect("name"), r["kind"].as_str().expect("kind"));
        assert!(compiles(&format!("check t advisory {{\n  for x in {name}\n  message \"m\"\n}}\n")).is_ok(), "relation {name}");
        if !reach.contains_key(k) {
            let gens = vec![format!("x0 in {name}")];
            reach.insert(k.to_string(), (gens.clone(), "x0".into()));
            queue.push_back((k.to_string(), gens, "x0".to_string()));
        }
    }
    let mut fields_checked = 0;
    while let Some((k, gens, var)) = queue.pop_front() {
        for f in kind(&k)["fields"].as_array().expect("fields") {
            let name = f["name"].as_str().expect("field name");
            let access = format!("{var}.{name}");
            let rule = format!("check t advisory {{\n  for {}\n  where exists({access})\n  message \"m\"\n}}\n", gens.join(", "));
            compiles(&rule).unwrap_or_else(|e| panic!("{k}.{name}: {e}\n{rule}"));
            fields_checked += 1;
            let ty = &f["type"];
            if let Some(rec) = ty["record"].as_str() {
                if reach.contains_key(rec) {
                    continue;
                }
                let (g, v) = if ty["list"] == true {
                    let v = format!("x{}", gens.len());
                    let mut g = gens.clone();
                    g.push(format!("{v} in {access}"));
                    (g, v)
                } else {
                    (gens.clone(), access.clone())
                };
                reach.insert(rec.to_string(), (g.clone(), v.clone()));
                queue.push_back((rec.to_string(), g, v));
            }
        }
    }
    let all: BTreeSet<&str> = kinds.iter().map(|k| k["name"].as_str().expect("name")).collect();
    let reached: BTreeSet<&str> = reach.keys().map(String::as_str).collect();
    assert_eq!(all, reached, "every record kind is reachable from a relation");
    assert!(fields_checked > 150, "{fields_checked}");
    // Not a mirror that accepts anything: an unlisted field is refused.
    assert!(compiles("check t advisory {\n  for p in packages\n  where exists(p.colour)\n  message \"m\"\n}\n").is_err());
}

/// Every function compiles with arguments of the types the JSON gives, and the enumerations
/// refuse a value they do not list.
#[test]
fn every_function_compiles_with_its_listed_types() {
    let json: Value = serde_json::from_str(&igos(&["schema", "--format", "json"])).expect("JSON");
    // An expression of each type, inside `for p in packages, b in builders`.
    let expr = |t: &Value| -> String {
        match (t["name"].as_str().expect("type name"), t["record"].as_str()) {
            ("string", _) => "\"x\"".into(),
            ("number", _) => "1".into(),
            ("list", _) | ("list of strings", _) => "p.same_name_dirs".into(),
            ("any value", _) => "p.tier".into(),
            (_, Some("package")) => "p".into(),
            (_, Some("builder")) => "b".into(),
            (_, Some("build_script")) => "p.build_sh".into(),
            (other, _) => panic!("no test expression for {other}"),
        }
    };
    for f in json["functions"].as_array().expect("functions") {
        let name = f["name"].as_str().expect("name");
        let args: Vec<String> = f["params"].as_array().expect("params").iter().map(expr).collect();
        let call = if f["method"] == true { format!("{}.{name}({})", args[0], args[1..].join(", ")) } else { format!("{name}({})", args.join(", ")) };
        let use_it = match f["returns"]["name"].as_str().expect("returns") {
            "bool" => call.clone(),
            _ => format!("exists({call})"),
        };
        let key = if ["field", "has", "empty"].contains(&name) { call.replace("\"x\"", "\"tier\"") } else { call.clone() };
        let use_it = use_it.replace(&call, &key);
        let rule = format!("check t advisory {{\n  for p in packages, b in builders\n  where {use_it}\n  message \"m\"\n}}\n");
        compiles(&rule).unwrap_or_else(|e| panic!("{name}: {e}\n{rule}"));
    }
    for e in json["enumerations"].as_array().expect("enumerations") {
        if e["tiers"] == true || e["kind"] != "dep" {
            continue;
        }
        for v in e["values"].as_array().expect("values") {
            assert!(compiles(&format!("check t advisory {{\n  for d in deps\n  where d.kind == {v}\n  message \"m\"\n}}\n")).is_ok());
        }
        assert!(compiles("check t advisory {\n  for d in deps\n  where d.kind == \"biuld\"\n  message \"m\"\n}\n").is_err());
    }
}

/// The language reference names every rule of the grammar (in backquotes), so a rule added
/// to `grammar/policy.pest` without a word in `grammar/LANGUAGE.md` fails here.
#[test]
fn the_language_reference_names_every_grammar_rule() {
    let dir = support::project_dir();
    let grammar = std::fs::read_to_string(dir.join("grammar/policy.pest")).expect("grammar");
    let reference = std::fs::read_to_string(dir.join("grammar/LANGUAGE.md")).expect("grammar/LANGUAGE.md");
    let rules: Vec<&str> = grammar
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once('=')?;
            let name = name.trim();
            let rest = rest.trim_start();
            let is_rule = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && ["{", "_{", "@{", "${", "!{"].iter().any(|o| rest.starts_with(o));
            is_rule.then_some(name)
        })
        .collect();
    assert!(rules.len() > 80, "{} rules read from the grammar", rules.len());
    let missing: Vec<&&str> = rules.iter().filter(|r| !reference.contains(&format!("`{r}`"))).collect();
    assert!(missing.is_empty(), "grammar rules not in grammar/LANGUAGE.md: {missing:?}");
    // And the reference names no rule the grammar lacks (a renamed rule left behind).
    let named: BTreeSet<&str> = reference
        .split("grammar: ")
        .skip(1)
        .flat_map(|rest| rest.split(')').next().unwrap_or("").split(',').map(|s| s.trim().trim_matches('`')))
        .filter(|s| !s.is_empty())
        .collect();
    let stale: Vec<&&str> = named.iter().filter(|n| !rules.contains(n)).collect();
    assert!(stale.is_empty(), "grammar/LANGUAGE.md names rules the grammar does not have: {stale:?}");
}
