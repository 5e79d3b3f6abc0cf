//! What the engine needs from a fact domain. The engine never reads files: a domain
//! adapter holds facts already loaded and answers these questions. Most of the answers are
//! generated from the domain's registration (see [`crate::domain!`]): the trait's
//! implementation forwards `relation`, `field`, `call`, `display` and `location` to the
//! `registered_*` dispatch.

use crate::eval::schema::DomainDef;
use crate::eval::value::{Rec, Value};
use crate::source::Span;

/// The graph a classification runs over.
pub struct ClassifyInput<'a> {
    /// Per record: name and the directory it is filed under. Index = the record index.
    pub packages: Vec<(&'a str, &'a str)>,
    /// (consumer, dependency, edge kind, where the dependency is written)
    pub edges: Vec<(u32, u32, &'a str, Span)>,
}

pub trait Domain: Sync {
    /// The domain's registration.
    fn def(&self) -> &'static DomainDef;
    /// Every record of a relation (its position in the registration), in a deterministic order.
    fn relation(&self, rel: usize) -> Vec<Value<'_>>;
    /// A field of a record, by its position in the kind's registration.
    fn field(&self, rec: Rec, field: usize) -> Value<'_>;
    /// A function of this domain, by its position in the registration.
    fn call<'s>(&'s self, f: usize, args: &[Value<'s>]) -> Value<'s>;
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
