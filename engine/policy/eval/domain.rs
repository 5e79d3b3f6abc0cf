//! What the engine needs from a fact domain. The engine never reads files: a domain
//! adapter holds facts already loaded and answers these questions. Most of the answers are
//! generated from the domain's registration (see [`crate::domain!`]), which implements
//! [`Registered`]; [`Domain`]'s methods default to that dispatch, so a domain's
//! `impl Domain` writes only what is its own (a builder list, the classification's input).

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

/// The dispatch `domain!` generates from a registration: positions to accessors.
pub trait Registered: Sync {
    fn registration(&self) -> &'static DomainDef;
    fn dispatch_relation(&self, rel: usize) -> Vec<Value<'_>>;
    fn dispatch_field(&self, rec: Rec, field: usize) -> Value<'_>;
    fn dispatch_call<'s>(&'s self, f: usize, args: &[Value<'s>]) -> Value<'s>;
    fn dispatch_display(&self, rec: Rec) -> String;
    fn dispatch_location(&self, rec: Rec) -> Option<Span>;
}

pub trait Domain: Registered {
    /// The domain's registration.
    fn def(&self) -> &'static DomainDef {
        self.registration()
    }
    /// Every record of a relation (its position in the registration), in a deterministic order.
    fn relation(&self, rel: usize) -> Vec<Value<'_>> {
        self.dispatch_relation(rel)
    }
    /// A field of a record, by its position in the kind's registration.
    fn field(&self, rec: Rec, field: usize) -> Value<'_> {
        self.dispatch_field(rec, field)
    }
    /// A function of this domain, by its position in the registration.
    fn call<'s>(&'s self, f: usize, args: &[Value<'s>]) -> Value<'s> {
        self.dispatch_call(f, args)
    }
    /// How a record is named in messages and waivers.
    fn display(&self, rec: Rec) -> String {
        self.dispatch_display(rec)
    }
    /// Where a record is written.
    fn location(&self, rec: Rec) -> Option<Span> {
        self.dispatch_location(rec)
    }
    /// The names of a builder list file, for `set x from builder y`.
    fn builder_list(&self, _builder: usize) -> Option<Vec<(&str, Span)>> {
        None
    }
    fn classify_input(&self) -> Option<ClassifyInput<'_>> {
        None
    }
}
