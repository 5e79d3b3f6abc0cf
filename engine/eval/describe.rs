//! The schema as data for tools: every relation, record kind, field, function,
//! enumeration and constant a rule may use, with its type and documentation, read from the
//! definitions the compiler type-checks rules against ([`super::schema`]). `igos schema`
//! renders it; editor tooling reads it. This is the one place that walks those
//! definitions for tools, so when they change shape only [`describe`] changes.

use serde::Serialize;

use super::schema::{self, DomainId, Ty, Values};

/// Version of the JSON form (`igos schema --format json`).
pub const FORMAT: &str = "igos-schema/1";

#[derive(Debug, Serialize)]
pub struct Schema {
    pub schema: &'static str,
    pub domains: Vec<Domain>,
    pub relations: Vec<Relation>,
    pub kinds: Vec<RecordKind>,
    pub functions: Vec<Function>,
    pub enumerations: Vec<Enumeration>,
    pub constants: Vec<Constant>,
    /// The top-level keys of a package.yml that `p.has`, `p.field` and `p.empty` accept
    /// (besides the items of the rules' `known_fields` set).
    pub recipe_keys: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct Domain {
    pub name: &'static str,
    pub doc: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Relation {
    pub name: &'static str,
    /// The record kind of its items.
    pub kind: &'static str,
    pub domain: &'static str,
    pub doc: &'static str,
}

/// A type as rule authors read it (`list of dep`), and the record kind it holds, if any.
#[derive(Debug, Serialize, Clone)]
pub struct Type {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<&'static str>,
    pub list: bool,
}

#[derive(Debug, Serialize)]
pub struct Field {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub ty: Type,
    pub doc: &'static str,
    /// The closed set of values it takes, when it has one (see `enumerations`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<&'static str>>,
    /// Its values are the tiers the rules declare.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tiers: bool,
}

#[derive(Debug, Serialize)]
pub struct RecordKind {
    pub name: &'static str,
    /// The domains whose relations hold records of this kind (directly or through fields).
    pub domains: Vec<&'static str>,
    pub fields: Vec<Field>,
}

#[derive(Debug, Serialize)]
pub struct Function {
    pub name: &'static str,
    /// Written as a method of its first parameter: `p.field("tier")`.
    pub method: bool,
    pub params: Vec<Type>,
    pub returns: Type,
    /// `every` (generic) or the domain whose facts it needs.
    pub domain: &'static str,
    /// How a call is written, e.g. `p.field(string) -> location`.
    pub signature: String,
    pub doc: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Enumeration {
    pub kind: &'static str,
    pub field: &'static str,
    /// The values, or empty with `tiers` set: the declared tiers.
    pub values: Vec<&'static str>,
    pub tiers: bool,
}

#[derive(Debug, Serialize)]
pub struct Constant {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub doc: &'static str,
}

fn domain_name(d: DomainId) -> &'static str {
    match d {
        DomainId::Tree => "tree",
        DomainId::Pkm => "pkm",
        DomainId::Image => "image",
    }
}

fn domain_doc(d: DomainId) -> &'static str {
    match d {
        DomainId::Tree => "the package tree and the rules' builders, read by `igos check` (the validate gates) and `igos test`",
        DomainId::Pkm => "an install queue of archives and the root they go into, read by `pkm install` before it writes anything",
        DomainId::Image => "a built root, pkm's database in it and the recipes' verify_paths, read by `igos check --image`",
    }
}

fn ty(t: Ty) -> Type {
    let (record, list) = match t {
        Ty::Rec(k) => (Some(k.def().name), false),
        Ty::ListRec(k) => (Some(k.def().name), true),
        Ty::ListStr => (None, true),
        _ => (None, false),
    };
    Type { name: t.name(), record, list }
}

/// A parameter's type as the compiler accepts it: `count` takes any list and `exists` any
/// value (the two exceptions `compile.rs` makes to its declared parameter types).
fn param(f: &schema::FnDef, t: Ty) -> Type {
    match f.name {
        "count" => Type { name: "list".into(), record: None, list: true },
        "exists" => Type { name: "any value".into(), record: None, list: false },
        _ => ty(t),
    }
}

fn signature(f: &schema::FnDef, params: &[Type], returns: &Type) -> String {
    let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    match (f.method, names.split_first()) {
        (true, Some((recv, rest))) => format!("{recv}.{}({}) -> {}", f.name, rest.join(", "), returns.name),
        _ => format!("{}({}) -> {}", f.name, names.join(", "), returns.name),
    }
}

/// Every definition rules are checked against, in the order they are declared.
pub fn describe() -> Schema {
    let domains = [DomainId::Tree, DomainId::Pkm, DomainId::Image];
    let relations = schema::RELATIONS
        .iter()
        .map(|r| Relation { name: r.name, kind: r.kind.def().name, domain: domain_name(r.domain), doc: r.doc })
        .collect();
    let kinds = schema::KINDS
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let kind = schema::Kind(i as u16);
            let fields = k
                .fields
                .iter()
                .enumerate()
                .map(|(fi, f)| {
                    let (values, tiers) = match schema::enum_of(kind, fi) {
                        Some(Values::Listed(v)) => (Some(v.to_vec()), false),
                        Some(Values::Tiers) => (None, true),
                        None => (None, false),
                    };
                    Field { name: f.name, ty: ty(f.ty), doc: f.doc, values, tiers }
                })
                .collect();
            RecordKind { name: k.name, domains: kind_domains(kind), fields }
        })
        .collect();
    let functions = schema::FUNCTIONS
        .iter()
        .map(|f| {
            let params: Vec<Type> = f.params.iter().map(|&t| param(f, t)).collect();
            let returns = ty(f.ret);
            let signature = signature(f, &params, &returns);
            Function { name: f.name, method: f.method, params, returns, domain: f.domain.map(domain_name).unwrap_or("every"), signature, doc: f.doc }
        })
        .collect();
    let enumerations = schema::ENUMS
        .iter()
        .map(|(k, field, v)| match v {
            Values::Listed(values) => Enumeration { kind: k.def().name, field, values: values.to_vec(), tiers: false },
            Values::Tiers => Enumeration { kind: k.def().name, field, values: vec![], tiers: true },
        })
        .collect();
    Schema {
        schema: FORMAT,
        domains: domains.iter().map(|&d| Domain { name: domain_name(d), doc: domain_doc(d) }).collect(),
        relations,
        kinds,
        functions,
        enumerations,
        constants: CONSTANTS.iter().map(|&(name, ty, doc)| Constant { name, ty, doc }).collect(),
        recipe_keys: schema::RECIPE_KEYS.to_vec(),
    }
}

/// The names every expression knows (`compile.rs` resolves them before sets and tiers).
pub const CONSTANTS: &[(&str, &str, &str)] = &[
    ("none", "none", "no value: an absent field, a recipe that does not exist; field access on none is none"),
    ("true", "bool", "true"),
    ("false", "bool", "false"),
    ("unclear", "tier", "the tier a classification gives a package no layer places"),
];

/// The domains whose relations reach records of `kind`, following record fields.
fn kind_domains(kind: schema::Kind) -> Vec<&'static str> {
    let mut out = vec![];
    for d in [DomainId::Tree, DomainId::Pkm, DomainId::Image] {
        let mut seen = vec![];
        let mut stack: Vec<schema::Kind> = schema::RELATIONS.iter().filter(|r| r.domain == d).map(|r| r.kind).collect();
        while let Some(k) = stack.pop() {
            if seen.contains(&k) {
                continue;
            }
            seen.push(k);
            for f in k.def().fields {
                if let Ty::Rec(n) | Ty::ListRec(n) = f.ty {
                    stack.push(n);
                }
            }
        }
        if seen.contains(&kind) {
            out.push(domain_name(d));
        }
    }
    out
}
