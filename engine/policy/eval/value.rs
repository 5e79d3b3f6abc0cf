//! Runtime values. Strings borrow from the facts; nothing is copied on the hot path.

use std::sync::Arc;

use crate::eval::schema::Kind;
use crate::source::Span;

/// A reference to one fact record: its kind and its index in the domain's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rec {
    pub kind: Kind,
    pub idx: u32,
}

#[derive(Debug, Clone)]
pub enum Value<'a> {
    None,
    Bool(bool),
    Int(i64),
    Str(&'a str),
    Owned(Arc<str>),
    /// A tier (None: unclear) and the rule position that decided it, when known.
    Tier(Option<u16>, Option<Span>),
    Loc(Span),
    Rec(Rec),
    Set(usize),
    List(Arc<Vec<Value<'a>>>),
}

impl<'a> Value<'a> {
    pub fn str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Owned(s) => Some(s),
            _ => None,
        }
    }
    pub fn truthy(&self) -> bool {
        matches!(self, Value::Bool(true))
    }
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }
    pub fn opt_str(s: Option<&'a str>) -> Value<'a> {
        s.map(Value::Str).unwrap_or(Value::None)
    }
    pub fn list(items: Vec<Value<'a>>) -> Value<'a> {
        Value::List(Arc::new(items))
    }
}
