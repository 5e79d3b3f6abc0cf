//! A domain registered from outside the engine, as any domain is: its kinds, fields,
//! relations and functions are what rules can use, its closed values are checked when the
//! rules compile, and its accessors are what checks read.

use igos_policy::eval::domain::Domain;
use igos_policy::eval::run::Engine;
use igos_policy::eval::schema::{DomainDef, Kind, Schema, Ty};
use igos_policy::eval::value::{Rec, Value};
use igos_policy::lang::compile::{compile, Policy};
use igos_policy::lang::error::RuleError;
use igos_policy::lang::syntax;
use igos_policy::source::{SourceFile, SourceMap, Span};

igos_policy::closed! {
    /// A shelf's state.
    pub enum Shelf { Full = "full", Empty = "empty" }
}

struct Book {
    title: String,
    pages: u32,
    shelf: Shelf,
    sequel: Option<u32>,
}

struct Library {
    books: Vec<Book>,
    at: Span,
}

igos_policy::domain! {
    pub static LIBRARY = "library", "books on shelves";
    impl<> Library;
    kinds {
        BOOK "book" "a book" {
            @show |f, i| format!("«{}»", f.books[i as usize].title);
            @at |f, i| Some(f.at);
            title: Str = "its title", |f, i| f.books[i as usize].title.as_str();
            pages: Int = "how many pages", |f, i| f.books[i as usize].pages;
            shelf: Enum(Shelf) = "where it stands", |f, i| f.books[i as usize].shelf;
            sequel: Rec(BOOK) = "the book that follows it, none when none", |f, i| f.books[i as usize].sequel;
            r#type: Str = "what it is (a raw name: `type` is a keyword in Rust)", |f, i| "novel";
        }
    }
    relations {
        books: BOOK = "every book", |f| f.books.len();
    }
    functions {
        function titled(title: Str) -> Rec(BOOK) = "the book with this title, none when absent", |f| f.books.iter().position(|b| b.title == title).map(|i| i as u32);
        method longer_than(b: Rec(BOOK), pages: Str) -> Bool = "more pages than this many", |f| pages.parse::<u32>().is_ok_and(|p| f.books[b as usize].pages > p);
    }
}

impl Domain for Library {
    fn def(&self) -> &'static DomainDef {
        &LIBRARY
    }
    fn relation(&self, rel: usize) -> Vec<Value<'_>> {
        self.registered_relation(rel)
    }
    fn field(&self, r: Rec, field: usize) -> Value<'_> {
        self.registered_field(r, field)
    }
    fn call<'s>(&'s self, f: usize, args: &[Value<'s>]) -> Value<'s> {
        self.registered_call(f, args)
    }
    fn display(&self, r: Rec) -> String {
        self.registered_display(r)
    }
    fn location(&self, r: Rec) -> Option<Span> {
        self.registered_location(r)
    }
}

fn compiled(text: &str) -> (Policy, Vec<RuleError>) {
    let mut sources = SourceMap::new();
    let id = sources.add(SourceFile::new("rules/library.pol", text));
    let (file, mut errors) = syntax::parse_recovering(id, text);
    let (policy, more) = compile(&[file], &Schema::new(&[&LIBRARY]));
    errors.extend(more);
    (policy, errors)
}

fn library() -> Library {
    let book = |title: &str, pages, shelf, sequel| Book { title: title.into(), pages, shelf, sequel };
    Library {
        books: vec![book("Dune", 412, Shelf::Full, Some(1)), book("Dune Messiah", 256, Shelf::Empty, None), book("Emma", 474, Shelf::Full, None)],
        at: Span::new(igos_policy::source::SourceId(0), 0, 0),
    }
}

#[test]
fn the_registration_describes_the_kind() {
    let book = Kind(&BOOK);
    let names: Vec<&str> = book.def().fields.iter().map(|f| f.name).collect();
    assert_eq!(names, ["title", "pages", "shelf", "sequel", "type"]);
    assert_eq!(book.field("sequel").map(|(_, f)| f.ty), Some(Ty::Rec(book)));
    assert!(matches!(book.field("shelf").and_then(|(_, f)| f.values), Some(igos_policy::eval::schema::Values::Listed(["full", "empty"]))));
    assert_eq!(LIBRARY.functions.iter().map(|f| (f.name, f.method)).collect::<Vec<_>>(), [("titled", false), ("longer_than", true)]);
    assert!(Schema::new(&[&LIBRARY]).problems().is_empty());
}

#[test]
fn checks_read_the_registered_accessors() {
    let (policy, errors) = compiled(
        r#"policy 1
check long-full-book advisory {
  for b in books
  where b.shelf == "full" and b.longer_than("400") and b.type == "novel"
  message "{b} ({b.pages} pages) is followed by {b.sequel.title}"
}
check by-title advisory {
  for b in books
  where titled("Emma") == b
  message "found {b.title}"
}
"#,
    );
    assert!(errors.is_empty(), "{errors:?}");
    let facts = library();
    let engine = Engine::new(&policy, &facts);
    let found: Vec<String> = engine.run_all(0).into_iter().map(|f| f.message).collect();
    assert_eq!(found, ["«Dune» (412 pages) is followed by Dune Messiah", "«Emma» (474 pages) is followed by none", "found Emma"]);
}

#[test]
fn a_misspelt_closed_value_or_field_is_a_compile_error() {
    let (_, errors) = compiled(
        r#"policy 1
check misspelt advisory {
  for b in books
  where b.shelf == "ful" or b.colour == "red"
  message "{b}"
}
"#,
    );
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("never \"ful\"")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("has no field `colour`")), "{messages:?}");
    assert!(errors.iter().any(|e| e.help.as_deref() == Some("did you mean `full`?")), "{errors:?}");
}
