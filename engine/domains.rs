//! The fact domains igos serves, assembled in one place: every record kind, field,
//! relation and function a rule may use is registered by the domain that owns it
//! (`igos_distro::facts::tree::TREE`, `crate::facts::pkm::PKM`,
//! `crate::facts::image::IMAGE`) and listed here. The compiler checks rules against
//! [`schema`]; the schema documentation is generated from [`registrations`].

use igos_policy::eval::schema::{DomainDef, Schema};

/// Every registration, in the order suggestions and the documentation list them.
pub fn registrations() -> [&'static DomainDef; 3] {
    [&crate::facts::tree::TREE, &crate::facts::pkm::PKM, &crate::facts::image::IMAGE]
}

/// The schema rules are compiled against.
pub fn schema() -> Schema {
    Schema::new(&registrations())
}

/// Rule loading (`igos_distro::rules`) for igos's domains.
pub mod rules {
    use std::path::Path;

    use crate::source::SourceMap;
    pub use igos_distro::rules::{read, Registered, Rules, BUILT_IN, EXTENSION};

    /// Read every `*.pol` file of `dir` (sorted by name), or the built-in rules when `dir`
    /// is None, and compile them for every domain igos serves.
    pub fn load(dir: Option<&Path>, sources: &mut SourceMap) -> Result<Rules, String> {
        igos_distro::rules::load(dir, &super::schema(), sources)
    }

    /// The rules `pkm install` evaluates: the built-in rules compiled for every domain
    /// (igos-pkm cannot compile them: they name the tree's and the image's relations too).
    pub fn for_pkm() -> igos_pkm::error::Result<igos_pkm::invariants::Rules> {
        let mut sources = SourceMap::new();
        let loaded = load(None, &mut sources);
        igos_pkm::invariants::Rules::compiled(loaded, sources)
    }

    /// Parse and compile named rule texts (also used by tests and tools).
    pub fn compile_texts(texts: Vec<(String, Result<String, String>)>, sources: &mut SourceMap) -> Rules {
        igos_distro::rules::compile_texts(texts, &super::schema(), sources)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_registrations_are_sound() {
        assert_eq!(super::schema().problems(), Vec::<String>::new());
    }
}
