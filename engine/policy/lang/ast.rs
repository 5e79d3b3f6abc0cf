//! The syntax tree of a rule file, exactly as written (names not yet resolved).

use crate::source::Span;

/// A name with the place it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct RuleFile {
    pub version: Option<(u32, Span)>,
    pub decls: Vec<Decl>,
    /// Names declared by declarations that did not parse (reported as syntax errors):
    /// their uses elsewhere report nothing more.
    pub broken: Vec<String>,
}

#[derive(Debug)]
pub enum Decl {
    Tiers(TiersDecl),
    Set(SetDecl),
    Builder(BuilderDecl),
    Classify(ClassifyDecl),
    Check(CheckDecl),
    Gate(GateDecl),
    Waive(WaiveDecl),
    Divergence(DivergenceDecl),
    Phase(PhaseDecl),
    Patterns(PatternsDecl),
    Pred(PredDecl),
    Alias(AliasDecl),
    ScanIgnore(ScanIgnoreDecl),
}

/// `alias <name> { <names and globs> }`: the other names one thing goes by (a domain
/// decides what they mean, e.g. the names another project uses for it).
#[derive(Debug)]
pub struct AliasDecl {
    pub target: Name,
    pub items: Vec<SetItem>,
    pub span: Span,
}

/// `scan ignore { ... }`: names a scan meets that are never one of ours.
#[derive(Debug)]
pub struct ScanIgnoreDecl {
    pub items: Vec<SetItem>,
    pub span: Span,
}

/// `pred <name>(<param>: <type>, ...) = <condition>`: a named condition, inlined at each use.
#[derive(Debug, Clone)]
pub struct PredDecl {
    pub name: Name,
    /// (parameter, its type's name)
    pub params: Vec<(Name, Name)>,
    pub body: Expr,
    pub span: Span,
}

/// `patterns <group> { <kind> "<template>" ... }`: log line patterns (Scan B), in order.
#[derive(Debug)]
pub struct PatternsDecl {
    pub name: Name,
    /// (kind, template as written, the template's span)
    pub entries: Vec<(Name, String, Span)>,
}

/// `tiers a < b < c | d`: groups in order; names inside one group are peers.
#[derive(Debug)]
pub struct TiersDecl {
    pub groups: Vec<Vec<Name>>,
    pub span: Span,
}

#[derive(Debug)]
pub struct SetItem {
    pub pattern: Name,
    pub exclude: bool,
}

#[derive(Debug)]
pub enum SetBody {
    Items(Vec<SetItem>),
    FromBuilder(Name),
}

#[derive(Debug)]
pub struct SetDecl {
    pub name: Name,
    pub body: SetBody,
}

#[derive(Debug)]
pub enum BuilderReach {
    /// A static ordered list file (relative to the tree's builders directory).
    List(String, Span),
    /// A topological builder: reaches every package of its tier, if its list file says it invokes it.
    Topological(String, Span),
    /// Names given inline in the rules.
    Names(Vec<Name>),
}

#[derive(Debug)]
pub struct BuilderDecl {
    pub name: Name,
    pub phase: Option<Name>,
    pub tier: Option<Name>,
    pub reach: Vec<BuilderReach>,
    pub span: Span,
}

#[derive(Debug)]
pub enum Layer {
    Dir { tier: Name, dir: Name },
    InSet { tier: Name, set: Name },
    Infer { kinds: Vec<Name>, span: Span },
    Else { tier: Name },
}

#[derive(Debug)]
pub struct ClassifyDecl {
    pub name: Name,
    pub layers: Vec<Layer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Halt,
    Advisory,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Halt => "halt",
            Severity::Advisory => "advisory",
        }
    }
}

#[derive(Debug)]
pub enum Clause {
    For(Vec<(Name, Expr)>),
    Where(Expr),
    Let(Name, Expr),
    Message(Template),
    Help(Template),
    At(Expr),
    Subject(Expr),
    /// What else the finding is about (e.g. the path of an archive entry).
    Object(Expr),
    /// The rule fact that decided (e.g. the list entry behind `natural_tier(p)`).
    Because(Expr),
    About(String, Span),
    /// `stable` (default), `experimental` or `deprecated`.
    Stability(String),
}

#[derive(Debug)]
pub struct CheckDecl {
    pub id: Name,
    pub severity: Severity,
    pub clauses: Vec<Clause>,
    pub span: Span,
}

#[derive(Debug)]
pub struct GateDecl {
    pub id: Name,
    pub title: String,
    pub checks: Vec<Name>,
}

#[derive(Debug, Default)]
pub struct RecordFields {
    pub reason: Option<(String, Span)>,
    pub approver: Option<(String, Span)>,
    pub expires: Option<(String, Span)>,
}

#[derive(Debug)]
pub struct WaiveDecl {
    pub check: Name,
    pub subject: Name,
    pub fields: RecordFields,
    pub span: Span,
}

#[derive(Debug)]
pub struct DivergenceDecl {
    pub package: Name,
    pub dependency: Name,
    pub fields: RecordFields,
    pub span: Span,
}

#[derive(Debug)]
pub struct PhaseDecl {
    pub name: Name,
    pub title: Option<String>,
    pub run: Option<(String, Span)>,
    pub builtin: Option<Name>,
    pub after: Vec<Name>,
    pub checkpoint: bool,
    pub optional: bool,
    pub span: Span,
}

/// A message or help text: literal pieces and `{expr}` holes.
#[derive(Debug, Clone)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum TemplatePart {
    Text(String),
    Hole(Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Glob,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::NotIn => "not in",
            BinOp::Glob => "~",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Int(i64),
    Str(String),
    List(Vec<Expr>),
    /// A bare name: a variable, a set, a tier, a relation, or a constant like `none`.
    Ident(String),
    /// `f(args)`
    Call(Name, Vec<Expr>),
    /// `e.field` or `e.method(args)`
    Access(Box<Expr>, Name, Option<Vec<Expr>>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}
