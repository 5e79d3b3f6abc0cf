//! The shape of the facts rules can talk about: record kinds with typed fields, the
//! relations a `for` can range over, and the functions a condition can call. Rules are
//! type-checked against this before anything runs, so a typo in a rule file is an error
//! pointing at the typo, not a silent "no findings".
//!
//! The engine knows none of them: each domain registers its own ([`DomainDef`], written
//! with [`crate::domain!`]): every kind, field, relation and function with its type, its
//! documentation and its accessor, in one declaration. The front door assembles the
//! domains it serves into a [`Schema`]; the compiler resolves `p.tier` against it once,
//! to the field's position, and the domain's generated dispatch jumps from that position
//! to the accessor: no name is looked up while checks run.



/// A fact domain, by the name it registers under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainId(pub &'static str);

/// A record kind: its registered definition. Two kinds are the same when they are the
/// same registration (compared by address: a field access compares kinds on every call).
#[derive(Clone, Copy)]
pub struct Kind(pub &'static KindDef);

impl Kind {
    pub fn def(self) -> &'static KindDef {
        self.0
    }
    pub fn field(self, name: &str) -> Option<(usize, &'static FieldDef)> {
        self.0.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }
}

impl PartialEq for Kind {
    fn eq(&self, other: &Kind) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}
impl Eq for Kind {}
impl std::hash::Hash for Kind {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (self.0 as *const KindDef as usize).hash(h)
    }
}
impl PartialOrd for Kind {
    fn partial_cmp(&self, other: &Kind) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kind {
    fn cmp(&self, other: &Kind) -> std::cmp::Ordering {
        (self.0.domain, self.0.name).cmp(&(other.0.domain, other.0.name))
    }
}
impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0.domain.0, self.0.name)
    }
}

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

/// The values a closed field can take: listed, or the declared tiers (a tier-valued
/// string field). A rule comparing such a field with a string literal outside the set never
/// matches anything, so the compiler refuses it (with did-you-mean).
#[derive(Debug, Clone, Copy)]
pub enum Values {
    Listed(&'static [&'static str]),
    Tiers,
}

/// A closed set of values a field takes, declared once: the accessor returns one of these
/// and the compiler checks literals against [`Closed::VALUES`], so a value the rules
/// compare with and a value the facts produce cannot drift apart.
pub trait Closed: Copy + 'static {
    const VALUES: &'static [&'static str];
    fn name(self) -> &'static str;
}

/// Declare a closed value set: a new enum, or `impl` for an existing one.
/// ```ignore
/// closed! { pub enum State { Itself = "itself", Installed = "installed" } }
/// closed! { impl DepKind { Build = "build", Host = "host", Runtime = "runtime" } }
/// ```
#[macro_export]
macro_rules! closed {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name { $($(#[$vm])* $v),* }
        $crate::closed! { impl $name { $($v = $s),* } }
    };
    (impl $name:ty { $($v:ident = $s:literal),* $(,)? }) => {
        impl $crate::eval::schema::Closed for $name {
            const VALUES: &'static [&'static str] = &[$($s),*];
            fn name(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
        }
    };
}

pub struct FieldDef {
    pub name: &'static str,
    pub ty: Ty,
    pub doc: &'static str,
    /// Its closed value set, when it has one.
    pub values: Option<Values>,
}

pub struct KindDef {
    pub name: &'static str,
    pub domain: DomainId,
    pub doc: &'static str,
    pub fields: &'static [FieldDef],
}

pub struct RelationDef {
    pub name: &'static str,
    pub kind: Kind,
    pub domain: DomainId,
    pub doc: &'static str,
}

/// The keys a string argument may name (`p.has("...")`): a misspelt key would be absent
/// from every record, so the compiler refuses it. A rule set may add keys of its own.
pub struct KeySet {
    pub keys: &'static [&'static str],
    /// A set of the rules whose exact names are keys too.
    pub extended_by: Option<&'static str>,
    /// What a key is, in the error: "`x` is not a {what}, so `has` would ask {each} for nothing".
    pub what: &'static str,
    pub each: &'static str,
    pub label: &'static str,
    /// The help when no key is near the misspelt one.
    pub help: &'static str,
}

/// A function. `method` functions are written as methods: `p.field("tier")`.
pub struct FnDef {
    pub name: &'static str,
    pub params: &'static [Ty],
    pub ret: Ty,
    pub method: bool,
    /// None: built into the engine (every domain); Some: only where that domain's facts are loaded.
    pub domain: Option<DomainId>,
    pub doc: &'static str,
    /// The last parameter names a key of this set.
    pub keys: Option<&'static KeySet>,
}

/// What a domain's classifications (`classify natural_tier { ... }`) range over: the kind
/// of record they place, and the edge kinds `infer` may follow.
pub struct Classified {
    pub kind: Kind,
    pub edges: &'static [&'static str],
}

/// Everything one domain registers.
pub struct DomainDef {
    pub id: DomainId,
    pub doc: &'static str,
    pub kinds: &'static [Kind],
    pub relations: &'static [RelationDef],
    pub functions: &'static [FnDef],
    pub classifies: Option<Classified>,
}

/// A relation, resolved: its domain and its position there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelRef {
    pub domain: DomainId,
    pub index: usize,
}

/// The functions built into the engine (every domain has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Count,
    Len,
    IsHex,
    StartsWith,
    EndsWith,
    Contains,
    Segments,
    Exists,
    Today,
}

/// A function, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FnRef {
    Builtin(Builtin),
    Domain(DomainId, usize),
}

const fn builtin(name: &'static str, params: &'static [Ty], ret: Ty, doc: &'static str) -> FnDef {
    FnDef { name, params, ret, method: false, domain: None, doc, keys: None }
}

pub static BUILTINS: &[(Builtin, FnDef)] = &[
    (Builtin::Count, builtin("count", &[Ty::ListStr], Ty::Int, "number of items in a list")),
    (Builtin::Len, builtin("len", &[Ty::Str], Ty::Int, "length of a string in characters")),
    (Builtin::IsHex, builtin("is_hex", &[Ty::Str], Ty::Bool, "only lowercase hex digits (and not empty)")),
    (Builtin::StartsWith, builtin("starts_with", &[Ty::Str, Ty::Str], Ty::Bool, "prefix test")),
    (Builtin::EndsWith, builtin("ends_with", &[Ty::Str, Ty::Str], Ty::Bool, "suffix test")),
    (Builtin::Contains, builtin("contains", &[Ty::Str, Ty::Str], Ty::Bool, "substring test")),
    (Builtin::Segments, builtin("segments", &[Ty::Str], Ty::Int, "non-empty `/`-separated parts of a path")),
    (Builtin::Exists, builtin("exists", &[Ty::None], Ty::Bool, "the value is not none")),
    (Builtin::Today, builtin("today", &[], Ty::Str, "today's date, YYYY-MM-DD")),
];

/// The domains a front door serves, as the compiler sees them.
pub struct Schema {
    domains: Vec<&'static DomainDef>,
}

impl Schema {
    /// The schema of these domains (in this order: it is the order of suggestions and of
    /// the generated documentation). Two registrations of one name are a bug of the
    /// registering code, reported by [`Schema::problems`].
    pub fn new(domains: &[&'static DomainDef]) -> Schema {
        Schema { domains: domains.to_vec() }
    }

    pub fn domains(&self) -> &[&'static DomainDef] {
        &self.domains
    }

    pub fn relations(&self) -> impl Iterator<Item = &'static RelationDef> + '_ {
        self.domains.iter().flat_map(|d| d.relations.iter())
    }

    pub fn relation(&self, name: &str) -> Option<(RelRef, &'static RelationDef)> {
        self.domains.iter().find_map(|d| {
            d.relations.iter().enumerate().find(|(_, r)| r.name == name).map(|(index, r)| (RelRef { domain: d.id, index }, r))
        })
    }

    /// Every function: the engine's, then each domain's.
    pub fn functions(&self) -> impl Iterator<Item = &'static FnDef> + '_ {
        BUILTINS.iter().map(|(_, f)| f).chain(self.domains.iter().flat_map(|d| d.functions.iter()))
    }

    pub fn function(&self, name: &str) -> Option<(FnRef, &'static FnDef)> {
        if let Some((b, f)) = BUILTINS.iter().find(|(_, f)| f.name == name) {
            return Some((FnRef::Builtin(*b), f));
        }
        self.domains.iter().find_map(|d| {
            d.functions.iter().enumerate().find(|(_, f)| f.name == name).map(|(i, f)| (FnRef::Domain(d.id, i), f))
        })
    }

    /// What classifications place (the first domain that has classifications).
    pub fn classified(&self) -> Option<&'static Classified> {
        self.domains.iter().find_map(|d| d.classifies.as_ref())
    }

    /// Mistakes of the registrations themselves: two kinds, relations or functions of one
    /// name, a field registered twice, a kind no domain lists. Empty for a sound schema
    /// (a test of every front door's schema keeps it so).
    pub fn problems(&self) -> Vec<String> {
        let mut out = vec![];
        let mut seen = std::collections::HashSet::new();
        for name in self.relations().map(|r| r.name).chain(self.functions().map(|f| f.name)) {
            if !seen.insert(name) {
                out.push(format!("`{name}` is registered twice"));
            }
        }
        for d in &self.domains {
            let mut kinds = std::collections::HashSet::new();
            for k in d.kinds {
                if !kinds.insert(k.def().name) {
                    out.push(format!("kind `{}` is registered twice in {}", k.def().name, d.id.0));
                }
                if k.def().domain != d.id {
                    out.push(format!("kind `{}` says it is of {}, but {} lists it", k.def().name, k.def().domain.0, d.id.0));
                }
                let mut fields = std::collections::HashSet::new();
                for f in k.def().fields {
                    if !fields.insert(f.name) {
                        out.push(format!("field `{}.{}` is registered twice", k.def().name, f.name));
                    }
                    if let Ty::Rec(r) | Ty::ListRec(r) = f.ty {
                        if !d.kinds.contains(&r) {
                            out.push(format!("field `{}.{}` is of kind `{}`, which {} does not list", k.def().name, f.name, r.def().name, d.id.0));
                        }
                    }
                }
            }
            for r in d.relations {
                if !d.kinds.contains(&r.kind) {
                    out.push(format!("relation `{}` is of kind `{}`, which {} does not list", r.name, r.kind.def().name, d.id.0));
                }
            }
        }
        out
    }
}
