//! What the engine needs from a fact domain. The engine never reads files: a domain
//! adapter holds facts already loaded and answers these questions.

use crate::eval::schema::DomainId;
use crate::eval::value::{Rec, Value};
use crate::source::Span;

/// The package graph a classification runs over.
pub struct ClassifyInput<'a> {
    /// Per package: name and tier directory. Index = the package record index.
    pub packages: Vec<(&'a str, &'a str)>,
    /// (consumer, dependency, kind, where the dependency is written)
    pub edges: Vec<(u32, u32, &'a str, Span)>,
}

pub trait Domain: Sync {
    fn id(&self) -> DomainId;
    /// Every record of a relation, in a deterministic order.
    fn relation(&self, rel: usize) -> Vec<Value<'_>>;
    fn field(&self, rec: Rec, field: usize) -> Value<'_>;
    /// A domain function (see `schema::FUNCTIONS`); generic ones are handled by the engine.
    fn call<'s>(&'s self, name: &str, args: &[Value<'s>]) -> Value<'s>;
    /// How a record is named in messages and waivers.
    fn display(&self, rec: Rec) -> String;
    /// Where a record is written.
    fn location(&self, rec: Rec) -> Option<Span>;
    /// The names of a builder list file, for `set x from builder y`.
    fn builder_list(&self, _builder: usize) -> Option<Vec<(&str, Span)>> {
        None
    }
    fn classify_input(&self) -> Option<ClassifyInput<'_>> {
        None
    }
}
