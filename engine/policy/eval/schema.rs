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

use std::sync::Arc;

use crate::eval::value::Value;
use crate::source::Span;

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

/// The typed side of a registration: what an accessor of each declared type returns, made
/// a [`Value`]. A field declared `Str` whose accessor returns a number does not compile.
pub mod conv {
    use super::*;

    pub trait StrValue<'s> {
        fn value(self) -> Value<'s>;
    }
    impl<'s> StrValue<'s> for &'s str {
        fn value(self) -> Value<'s> {
            Value::Str(self)
        }
    }
    impl<'s> StrValue<'s> for &'s String {
        fn value(self) -> Value<'s> {
            Value::Str(self)
        }
    }
    impl<'s> StrValue<'s> for Option<&'s str> {
        fn value(self) -> Value<'s> {
            Value::opt_str(self)
        }
    }
    impl<'s> StrValue<'s> for String {
        fn value(self) -> Value<'s> {
            Value::Owned(self.into())
        }
    }
    impl<'s> StrValue<'s> for Option<String> {
        fn value(self) -> Value<'s> {
            self.map_or(Value::None, |s| Value::Owned(s.into()))
        }
    }
    impl<'s> StrValue<'s> for Arc<str> {
        fn value(self) -> Value<'s> {
            Value::Owned(self)
        }
    }

    pub trait IntValue {
        fn value(self) -> Value<'static>;
    }
    impl IntValue for i64 {
        fn value(self) -> Value<'static> {
            Value::Int(self)
        }
    }
    impl IntValue for u32 {
        fn value(self) -> Value<'static> {
            Value::Int(i64::from(self))
        }
    }
    impl IntValue for usize {
        fn value(self) -> Value<'static> {
            Value::Int(self as i64)
        }
    }
    impl<T: IntValue> IntValue for Option<T> {
        fn value(self) -> Value<'static> {
            self.map_or(Value::None, IntValue::value)
        }
    }

    pub fn str<'s>(v: impl StrValue<'s>) -> Value<'s> {
        v.value()
    }
    pub fn bool(b: bool) -> Value<'static> {
        Value::Bool(b)
    }
    pub fn int(n: impl IntValue) -> Value<'static> {
        n.value()
    }
    pub fn loc(at: impl Into<Option<Span>>) -> Value<'static> {
        at.into().map_or(Value::None, Value::Loc)
    }
    pub fn rec(kind: Kind, idx: impl Into<Option<u32>>) -> Value<'static> {
        idx.into().map_or(Value::None, |idx| Value::Rec(crate::eval::value::Rec { kind, idx }))
    }
    pub fn recs(kind: Kind, idxs: impl IntoIterator<Item = u32>) -> Value<'static> {
        Value::list(idxs.into_iter().map(|idx| Value::Rec(crate::eval::value::Rec { kind, idx })).collect())
    }
    pub fn strs<'s, S: StrValue<'s>>(items: impl IntoIterator<Item = S>) -> Value<'s> {
        Value::list(items.into_iter().map(StrValue::value).collect())
    }
    pub fn closed<T: Closed>(v: impl Into<Option<T>>) -> Value<'static> {
        v.into().map_or(Value::None, |v| Value::Str(v.name()))
    }

    /// A record argument of this kind, by index.
    pub fn rec_arg(v: &Value<'_>, kind: Kind) -> Option<u32> {
        match v {
            Value::Rec(r) if r.kind == kind => Some(r.idx),
            _ => None,
        }
    }
    pub fn str_arg<'v>(v: &'v Value<'_>) -> Option<&'v str> {
        v.str()
    }

    /// `r#type` as the rules write it: `type`.
    pub const fn unraw(name: &'static str) -> &'static str {
        match name.as_bytes() {
            [b'r', b'#', ..] => name.split_at(2).1,
            _ => name,
        }
    }
}

/// Declare a fact domain: its record kinds (each field with its type, documentation and
/// accessor), its relations and its functions, in one place. Generates the [`DomainDef`]
/// (a `static`), one `static` [`KindDef`] per kind (`@show` and `@at` name and place a
/// record of it), and on the facts type the dispatch the
/// [`crate::eval::domain::Domain`] implementation calls: `registered_field`,
/// `registered_relation`, `registered_call`, `registered_display`, `registered_location`.
///
/// Types: `Bool`, `Int`, `Str`, `Loc`, `Strs` (list of strings), `Rec(KIND)`,
/// `List(KIND)` (list of records), `Enum(T)` (a string out of the [`Closed`] type `T`);
/// `Str [Values::Tiers]` declares a string field's closed values. Accessors are written
/// `|facts, index| expression` and return what the type asks for (see [`conv`]).
#[macro_export]
macro_rules! domain {
    (
        $vis:vis static $D:ident = $id:literal, $ddoc:literal;
        impl<$($lt:lifetime),*> $ty:ty;
        kinds {
            $(
                $K:ident $kname:literal $kdoc:literal {
                    $( @show |$sf:ident, $si:ident| $show:expr; )?
                    $( @at |$af:ident, $ai:ident| $at:expr; )?
                    $(
                        $fname:ident : $fty:ident $( ( $fk:path ) )? $( [ $values:expr ] )?
                            = $fdoc:literal, |$ff:ident, $fi:ident| $fbody:expr;
                    )*
                }
            )*
        }
        relations {
            $( $rname:ident : $rk:ident = $rdoc:literal, |$rf:ident| $rbody:expr; )*
        }
        functions {
            $(
                $how:ident $fnname:ident ( $( $pname:ident : $pty:ident $( ( $pk:path ) )? $( [ $pkeys:expr ] )? ),* )
                    -> $retty:ident $( ( $retk:path ) )? = $fndoc:literal, |$fnf:ident| $fnbody:expr;
            )*
        }
        $( classifies $ck:ident [ $($edge:literal),* ]; )?
    ) => {
        $(
            $vis static $K: $crate::eval::schema::KindDef = $crate::eval::schema::KindDef {
                name: $kname,
                domain: $crate::eval::schema::DomainId($id),
                doc: $kdoc,
                fields: &[$(
                    $crate::eval::schema::FieldDef {
                        name: $crate::eval::schema::conv::unraw(stringify!($fname)),
                        ty: $crate::__domain_ty!($fty $( ( $fk ) )?),
                        doc: $fdoc,
                        values: $crate::__domain_values!($fty $( ( $fk ) )? $( [ $values ] )?),
                    }
                ),*],
            };
        )*

        $vis static $D: $crate::eval::schema::DomainDef = $crate::eval::schema::DomainDef {
            id: $crate::eval::schema::DomainId($id),
            doc: $ddoc,
            kinds: &[$($crate::eval::schema::Kind(&$K)),*],
            relations: &[$(
                $crate::eval::schema::RelationDef {
                    name: stringify!($rname),
                    kind: $crate::eval::schema::Kind(&$rk),
                    domain: $crate::eval::schema::DomainId($id),
                    doc: $rdoc,
                }
            ),*],
            functions: &[$(
                $crate::eval::schema::FnDef {
                    name: stringify!($fnname),
                    params: &[$($crate::__domain_ty!($pty $( ( $pk ) )?)),*],
                    ret: $crate::__domain_ty!($retty $( ( $retk ) )?),
                    method: $crate::__domain_method!($how),
                    domain: Some($crate::eval::schema::DomainId($id)),
                    doc: $fndoc,
                    keys: {
                        #[allow(unused_mut)]
                        let mut keys: Option<&'static $crate::eval::schema::KeySet> = None;
                        $($( keys = Some(&$pkeys); )?)*
                        keys
                    },
                }
            ),*],
            classifies: $crate::__domain_classifies!($( $ck [ $($edge),* ] )?),
        };

        #[allow(clippy::redundant_closure_call, unused_variables, unused_assignments, unreachable_code)]
        impl<$($lt),*> $ty {
            /// A field of a record of this domain, by its position in the kind's registration.
            pub fn registered_field<'__s>(&'__s self, r: $crate::eval::value::Rec, field: usize) -> $crate::eval::value::Value<'__s> {
                $(
                    if r.kind == $crate::eval::schema::Kind(&$K) {
                        let mut at = 0usize;
                        $(
                            if field == at {
                                let $ff = self;
                                let $fi = r.idx;
                                return $crate::__domain_value!($fty $( ( $fk ) )?, $fbody);
                            }
                            at += 1;
                        )*
                        return $crate::eval::value::Value::None;
                    }
                )*
                $crate::eval::value::Value::None
            }

            /// Every record of a relation, by its position in the registration.
            pub fn registered_relation(&self, rel: usize) -> Vec<$crate::eval::value::Value<'_>> {
                let mut at = 0usize;
                $(
                    if rel == at {
                        let $rf = self;
                        let n: usize = $rbody;
                        return (0..n as u32)
                            .map(|idx| $crate::eval::value::Value::Rec($crate::eval::value::Rec { kind: $crate::eval::schema::Kind(&$rk), idx }))
                            .collect();
                    }
                    at += 1;
                )*
                vec![]
            }

            /// A function of this domain, by its position in the registration. An argument
            /// that is none (or not a record of the declared kind) gives none, or false for
            /// a yes/no function.
            pub fn registered_call<'__s>(&'__s self, f: usize, args: &[$crate::eval::value::Value<'__s>]) -> $crate::eval::value::Value<'__s> {
                let mut at = 0usize;
                $(
                    if f == at {
                        let [$($pname),*] = args else { return $crate::__domain_default!($retty) };
                        $(
                            let Some($pname) = $crate::__domain_arg!($pty $( ( $pk ) )?, $pname) else {
                                return $crate::__domain_default!($retty);
                            };
                        )*
                        let $fnf = self;
                        return $crate::__domain_value!($retty $( ( $retk ) )?, $fnbody);
                    }
                    at += 1;
                )*
                $crate::eval::value::Value::None
            }

            /// How a record is named in messages and waivers (its first field when the
            /// kind registers no `show`).
            pub fn registered_display(&self, r: $crate::eval::value::Rec) -> String {
                $(
                    if r.kind == $crate::eval::schema::Kind(&$K) {
                        $( return { let $sf = self; let $si = r.idx; $show }; )?
                        return match self.registered_field(r, 0) {
                            $crate::eval::value::Value::Str(s) => s.to_string(),
                            _ => String::new(),
                        };
                    }
                )*
                String::new()
            }

            /// Where a record is written, when its kind registers `at`.
            pub fn registered_location(&self, r: $crate::eval::value::Rec) -> Option<$crate::source::Span> {
                $(
                    if r.kind == $crate::eval::schema::Kind(&$K) {
                        $( return { let $af = self; let $ai = r.idx; $at }; )?
                        return None;
                    }
                )*
                None
            }
        }

        // What `Domain`'s methods default to: a domain's `impl Domain` writes only its own.
        impl<$($lt),*> $crate::eval::domain::Registered for $ty {
            fn registration(&self) -> &'static $crate::eval::schema::DomainDef {
                &$D
            }
            fn dispatch_relation(&self, rel: usize) -> Vec<$crate::eval::value::Value<'_>> {
                <$ty>::registered_relation(self, rel)
            }
            fn dispatch_field(&self, r: $crate::eval::value::Rec, field: usize) -> $crate::eval::value::Value<'_> {
                <$ty>::registered_field(self, r, field)
            }
            fn dispatch_call<'__s>(&'__s self, f: usize, args: &[$crate::eval::value::Value<'__s>]) -> $crate::eval::value::Value<'__s> {
                <$ty>::registered_call(self, f, args)
            }
            fn dispatch_display(&self, r: $crate::eval::value::Rec) -> String {
                <$ty>::registered_display(self, r)
            }
            fn dispatch_location(&self, r: $crate::eval::value::Rec) -> Option<$crate::source::Span> {
                <$ty>::registered_location(self, r)
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __domain_ty {
    (Bool) => { $crate::eval::schema::Ty::Bool };
    (Int) => { $crate::eval::schema::Ty::Int };
    (Str) => { $crate::eval::schema::Ty::Str };
    (Loc) => { $crate::eval::schema::Ty::Loc };
    (Strs) => { $crate::eval::schema::Ty::ListStr };
    (Any) => { $crate::eval::schema::Ty::None };
    (Enum($t:path)) => { $crate::eval::schema::Ty::Str };
    (Rec($k:path)) => { $crate::eval::schema::Ty::Rec($crate::eval::schema::Kind(&$k)) };
    (List($k:path)) => { $crate::eval::schema::Ty::ListRec($crate::eval::schema::Kind(&$k)) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __domain_values {
    (Enum($t:path)) => { Some($crate::eval::schema::Values::Listed(<$t as $crate::eval::schema::Closed>::VALUES)) };
    ($ty:ident $( ( $k:path ) )? [ $values:expr ]) => { Some($values) };
    ($ty:ident $( ( $k:path ) )?) => { None };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __domain_value {
    (Bool, $e:expr) => { $crate::eval::schema::conv::bool($e) };
    (Int, $e:expr) => { $crate::eval::schema::conv::int($e) };
    (Str, $e:expr) => { $crate::eval::schema::conv::str($e) };
    (Loc, $e:expr) => { $crate::eval::schema::conv::loc($e) };
    (Strs, $e:expr) => { $crate::eval::schema::conv::strs($e) };
    (Enum($t:path), $e:expr) => { $crate::eval::schema::conv::closed::<$t>($e) };
    (Rec($k:path), $e:expr) => { $crate::eval::schema::conv::rec($crate::eval::schema::Kind(&$k), $e) };
    (List($k:path), $e:expr) => { $crate::eval::schema::conv::recs($crate::eval::schema::Kind(&$k), $e) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __domain_arg {
    (Str, $v:expr) => { $crate::eval::schema::conv::str_arg($v) };
    (Rec($k:path), $v:expr) => { $crate::eval::schema::conv::rec_arg($v, $crate::eval::schema::Kind(&$k)) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __domain_default {
    (Bool) => { $crate::eval::value::Value::Bool(false) };
    ($other:ident) => { $crate::eval::value::Value::None };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __domain_method {
    (method) => { true };
    (function) => { false };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __domain_classifies {
    () => { None };
    ($k:ident [ $($edge:literal),* ]) => {
        Some($crate::eval::schema::Classified { kind: $crate::eval::schema::Kind(&$k), edges: &[$($edge),*] })
    };
}
