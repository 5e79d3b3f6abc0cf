// TEMPORARY STUB (not committed): the loader helper writes the real module.
use std::path::PathBuf;
use crate::source::{SourceId, Span};
pub struct Tree { pub root: PathBuf, pub packages: Vec<Package>, pub builder_lists: Vec<BuilderList>, pub problems: Vec<LoadProblem> }
pub enum ProblemKind { YamlSyntax }
impl ProblemKind { pub fn id(&self) -> &'static str { "yaml-syntax" } }
pub struct LoadProblem { pub kind: ProblemKind, pub message: String, pub span: Span }
pub struct Package {
  pub dir_tier: String, pub dir_name: String, pub file: SourceId,
  pub yaml: Option<serde_yaml::Mapping>, pub keys: Vec<(String, Span)>, pub name: String,
  pub version_text: Option<String>, pub version_is_string: bool, pub deps: Vec<Dep>,
  pub sources: Vec<SourceEntry>, pub source_is_empty_list: bool,
  pub verify_paths: Option<Vec<(String, Span)>>, pub pending: Option<(String, Span)>,
  pub supersedes: Vec<(String, Span)>, pub build_sh: BuildSh, pub patches: Vec<String>,
}
pub enum DepKind { Build, Host, Runtime }
pub struct Dep { pub name: String, pub kind: DepKind, pub span: Span }
pub struct SourceEntry { pub url: Option<String>, pub sha256: Option<String>, pub span: Span, pub url_span: Option<Span>, pub sha256_span: Option<Span> }
pub enum BuildSh { Absent, Unknown, Parsed(BuildScript) }
pub struct BuildScript { pub file: SourceId, pub functions: Vec<ShFunction>, pub header_comment: String }
pub struct ShFunction { pub name: String, pub span: Span, pub is_stub: bool }
pub struct BuilderList { pub file_name: String, pub source: SourceId, pub entries: Vec<(String, Span)>, pub invokes_tier: Option<(String, Span)> }
impl Package { pub fn key_span(&self, _key: &str) -> Option<Span> { None } pub fn file_span(&self) -> Span { Span::new(self.file, 0, 0) } }
#[derive(Debug)] pub struct TreeError(pub String);
impl std::fmt::Display for TreeError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.0) } }
pub fn load_tree(_root: &std::path::Path, _s: &mut crate::source::SourceMap) -> Result<Tree, TreeError> { Err(TreeError("stub".into())) }
