//! How a domain registers itself: `domain!` writes, from one declaration, the static
//! [`DomainDef`] the compiler reads and the dispatch from a field's position to its
//! accessor; [`conv`] makes each accessor's result the [`Value`] its declared type promises.
//! The shapes it fills in are in [`crate::eval::schema`].

#[cfg(doc)]
use crate::eval::schema::DomainDef;

/// The typed side of a registration: what an accessor of each declared type returns, made
/// a [`Value`]. A field declared `Str` whose accessor returns a number does not compile.
pub mod conv {
    use std::sync::Arc;

    use crate::eval::schema::{Closed, Kind};
    use crate::eval::value::Value;
    use crate::source::Span;

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
                        name: $crate::eval::register::conv::unraw(stringify!($fname)),
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
    (Bool, $e:expr) => { $crate::eval::register::conv::bool($e) };
    (Int, $e:expr) => { $crate::eval::register::conv::int($e) };
    (Str, $e:expr) => { $crate::eval::register::conv::str($e) };
    (Loc, $e:expr) => { $crate::eval::register::conv::loc($e) };
    (Strs, $e:expr) => { $crate::eval::register::conv::strs($e) };
    (Enum($t:path), $e:expr) => { $crate::eval::register::conv::closed::<$t>($e) };
    (Rec($k:path), $e:expr) => { $crate::eval::register::conv::rec($crate::eval::schema::Kind(&$k), $e) };
    (List($k:path), $e:expr) => { $crate::eval::register::conv::recs($crate::eval::schema::Kind(&$k), $e) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __domain_arg {
    (Str, $v:expr) => { $crate::eval::register::conv::str_arg($v) };
    (Rec($k:path), $v:expr) => { $crate::eval::register::conv::rec_arg($v, $crate::eval::schema::Kind(&$k)) };
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
