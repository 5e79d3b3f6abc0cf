//! `igos lsp`: a Language Server Protocol server for rule files (`.pol`) over stdio.
//!
//! The server keeps the tree's facts in memory (loaded once; again when a recipe or a
//! builder list changes on disk) and the rule files' texts (the editor's for open files,
//! the disk's for the others). After an edit it compiles the rules again and evaluates
//! every check on the tree, then publishes the rule errors and the tree's findings located
//! in the rule files. Everything it asks of the engine goes through `engine_api.rs`.
//!
//! One thread answers messages in order; edits that arrive together are applied together
//! before the rules are analysed again.

pub mod actions;
pub mod complete;
pub mod engine_api;
pub mod nav;
pub mod text;
pub mod tokens;
pub mod transport;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::Arc;

use lsp_server::{ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::{self as lt, Url};

use engine_api::{Analysis, Facts, RuleText};
use text::{Doc, Encoding, Lines};
use transport::{Incoming, Outgoing};

/// Where the server reads from: set on the command line, by the client's
/// `initializationOptions` (`root`, `rules`), or from the workspace folder.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The tree whose findings are shown (holds packages/).
    pub root: Option<PathBuf>,
    /// The rules directory being edited.
    pub rules: Option<PathBuf>,
}

/// Run the server on stdin/stdout until the client says `exit` (or goes away).
/// 0 after a `shutdown` request, 1 otherwise, as the protocol asks.
pub fn run(options: Options) -> i32 {
    let (incoming, outgoing, writer) = transport::stdio();
    // Parsing recurses as deep as the grammar allows: the main thread's stack is not enough.
    let server = std::thread::Builder::new().name("igos-lsp".into()).stack_size(64 << 20).spawn(move || {
        let mut s = Server::new(options, outgoing);
        s.main_loop(&incoming)
    });
    let code = match server {
        Ok(h) => h.join().unwrap_or(1),
        Err(_) => 1,
    };
    // Let the writer send what is queued (the shutdown answer) before the process ends.
    let _ = writer.join();
    code
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Uninitialized,
    Running,
    ShutDown,
}

/// A failed request: an LSP error code and a message.
pub type Failure = (i32, String);

fn invalid_params(e: impl std::fmt::Display) -> Failure {
    (ErrorCode::InvalidParams as i32, e.to_string())
}

/// The current analysis with what the features need to answer about it.
pub struct World<'a> {
    pub analysis: &'a Analysis,
    pub facts: Option<&'a Facts>,
    pub enc: Encoding,
    /// Per analysed file: its URI and its line index.
    pub files: &'a [(Url, Lines)],
    /// Where waivers go (rules/waivers.pol).
    pub rules_dir: &'a Path,
}

impl World<'_> {
    pub fn text(&self, file: usize) -> &str {
        &self.analysis.rules[file].text
    }
    pub fn range(&self, file: usize, at: std::ops::Range<usize>) -> lt::Range {
        self.files[file].1.range(self.text(file), at, self.enc)
    }
    pub fn location(&self, file: usize, at: std::ops::Range<usize>) -> lt::Location {
        lt::Location::new(self.files[file].0.clone(), self.range(file, at))
    }
    pub fn file_of(&self, uri: &Url) -> Option<usize> {
        self.files.iter().position(|(u, _)| u == uri).or_else(|| self.analysis.file_of(&normalize(&uri.to_file_path().ok()?)))
    }
    /// A place in the rules or the tree as an LSP location.
    pub fn place(&self, p: &engine_api::Place) -> Option<lt::Location> {
        match p {
            engine_api::Place::Rule { file, at } => Some(self.location(*file, at.clone())),
            engine_api::Place::Data { path, text, at } => {
                let lines = Lines::new(text);
                Some(lt::Location::new(Url::from_file_path(path).ok()?, lines.range(text, at.clone(), self.enc)))
            }
        }
    }
    /// The file and byte offset a client position names.
    pub fn offset(&self, tdp: &lt::TextDocumentPositionParams) -> Option<(usize, usize)> {
        let file = self.file_of(&tdp.text_document.uri)?;
        Some((file, self.files[file].1.offset(self.text(file), tdp.position, self.enc)))
    }
    pub fn uri(&self, file: usize) -> &Url {
        &self.files[file].0
    }
}

/// A path made absolute and free of `..` and links where the file system knows it (an
/// unsaved file's directory still resolves).
pub fn normalize(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    match (p.parent().and_then(|d| d.canonicalize().ok()), p.file_name()) {
        (Some(d), Some(n)) => d.join(n),
        _ => p.to_path_buf(),
    }
}

struct Server {
    out: Sender<Outgoing>,
    phase: Phase,
    enc: Encoding,
    options: Options,
    root: PathBuf,
    rules_dir: PathBuf,
    /// Open documents by normalized path, with the URI the client used.
    docs: HashMap<PathBuf, (Url, Doc)>,
    /// The rule files of the rules directory as the disk has them.
    disk: BTreeMap<PathBuf, Arc<str>>,
    facts: Option<Facts>,
    facts_error: Option<String>,
    facts_loaded: bool,
    analysis: Option<Analysis>,
    files: Vec<(Url, Lines)>,
    /// Open `.pol` files outside the rules directory: their syntax only.
    loose: HashMap<PathBuf, (Url, engine_api::FileIndex, Vec<engine_api::Diag>, Lines)>,
    /// What was last published per URI (version, diagnostics): unchanged files are not sent again.
    published: HashMap<Url, (Option<i32>, Vec<lt::Diagnostic>)>,
    /// The rules changed since the last analysis.
    dirty: bool,
    /// The tree changed on disk since the facts were loaded.
    facts_stale: bool,
    next_id: i32,
    /// The client can register file watchers.
    dynamic_watch: bool,
    /// Each check's findings with what they depend on, reused after an edit that does not touch it.
    memo: engine_api::Memo,
}

impl Server {
    fn new(options: Options, out: Sender<Outgoing>) -> Server {
        Server {
            out,
            phase: Phase::Uninitialized,
            enc: Encoding::Utf16,
            options,
            root: PathBuf::from("."),
            rules_dir: PathBuf::from("rules"),
            docs: HashMap::new(),
            disk: BTreeMap::new(),
            facts: None,
            facts_error: None,
            facts_loaded: false,
            analysis: None,
            files: vec![],
            loose: HashMap::new(),
            published: HashMap::new(),
            dirty: false,
            facts_stale: false,
            next_id: 1,
            dynamic_watch: false,
            memo: engine_api::Memo::default(),
        }
    }

    fn send(&self, m: impl Into<Message>) {
        let _ = self.out.send(Outgoing::Message(m.into()));
    }

    fn notify<N: lt::notification::Notification>(&self, params: N::Params) {
        self.send(Notification::new(N::METHOD.to_string(), params));
    }

    fn show(&self, typ: lt::MessageType, message: String) {
        self.notify::<lt::notification::ShowMessage>(lt::ShowMessageParams { typ, message });
    }

    fn main_loop(&mut self, incoming: &Receiver<Incoming>) -> i32 {
        loop {
            let next = if self.dirty || self.facts_stale {
                match incoming.try_recv() {
                    Ok(m) => m,
                    Err(TryRecvError::Empty) => {
                        self.refresh();
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => return 1,
                }
            } else {
                match incoming.recv() {
                    Ok(m) => m,
                    Err(_) => return 1,
                }
            };
            match next {
                Incoming::Bad { id, code, message } => {
                    let _ = self.out.send(Outgoing::Error { id, code, message });
                }
                Incoming::Message(Message::Request(r)) => self.request(r),
                Incoming::Message(Message::Notification(n)) => {
                    if n.method == "exit" {
                        return i32::from(self.phase != Phase::ShutDown);
                    }
                    self.notification(n);
                }
                Incoming::Message(Message::Response(_)) => {}
            }
        }
    }

    fn reply(&self, id: RequestId, result: Result<serde_json::Value, Failure>) {
        let r = match result {
            Ok(v) => Response::new_ok(id, v),
            Err((code, message)) => Response::new_err(id, code, message),
        };
        self.send(r);
    }

    fn request(&mut self, r: Request) {
        match (self.phase, r.method.as_str()) {
            (Phase::Uninitialized, "initialize") => {
                let result = self.initialize(r.params);
                self.reply(r.id, result);
            }
            (Phase::Uninitialized, _) => {
                self.reply(r.id, Err((ErrorCode::ServerNotInitialized as i32, format!("`{}` before `initialize`", r.method))))
            }
            (Phase::ShutDown, _) => self.reply(r.id, Err((ErrorCode::InvalidRequest as i32, "the server is shut down: only `exit` is left".into()))),
            (Phase::Running, "initialize") => self.reply(r.id, Err((ErrorCode::InvalidRequest as i32, "already initialized".into()))),
            (Phase::Running, "shutdown") => {
                self.phase = Phase::ShutDown;
                self.reply(r.id, Ok(serde_json::Value::Null));
            }
            (Phase::Running, _) => {
                let id = r.id.clone();
                // A bug must cost one answer, not the editor's server: the panic becomes an error.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.dispatch(r)))
                    .unwrap_or_else(|_| Err((ErrorCode::InternalError as i32, "igos lsp failed on this request (a bug: please report it)".into())));
                self.reply(id, result);
            }
        }
    }

    fn initialize(&mut self, params: serde_json::Value) -> Result<serde_json::Value, Failure> {
        let p: lt::InitializeParams = serde_json::from_value(params).map_err(invalid_params)?;
        let offered = p.capabilities.general.as_ref().and_then(|g| g.position_encodings.clone()).unwrap_or_default();
        self.enc = if offered.contains(&lt::PositionEncodingKind::UTF8) { Encoding::Utf8 } else { Encoding::Utf16 };
        self.dynamic_watch = p
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|d| d.dynamic_registration)
            .unwrap_or(false);
        #[allow(deprecated)]
        let workspace = p
            .workspace_folders
            .as_ref()
            .and_then(|f| f.first())
            .map(|f| f.uri.clone())
            .or(p.root_uri.clone())
            .and_then(|u| u.to_file_path().ok())
            .unwrap_or_else(|| PathBuf::from("."));
        let opt = |key: &str| p.initialization_options.as_ref().and_then(|o| o.get(key)).and_then(|v| v.as_str()).map(PathBuf::from);
        let under = |d: PathBuf| if d.is_absolute() { d } else { workspace.join(d) };
        self.root = normalize(&self.options.root.clone().or_else(|| opt("root").map(under)).unwrap_or_else(|| workspace.clone()));
        self.rules_dir = normalize(&self.options.rules.clone().or_else(|| opt("rules").map(under)).unwrap_or_else(|| workspace.join("rules")));
        self.phase = Phase::Running;
        let caps = capabilities(self.enc);
        Ok(serde_json::json!({
            "capabilities": caps,
            "serverInfo": { "name": "igos lsp", "version": env!("CARGO_PKG_VERSION") },
        }))
    }

    fn notification(&mut self, n: Notification) {
        use lt::notification::*;
        if self.phase != Phase::Running {
            return;
        }
        match n.method.as_str() {
            Initialized::METHOD => {
                self.watch();
                self.load();
            }
            DidOpenTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lt::DidOpenTextDocumentParams>(n.params) else { return };
                let Ok(path) = p.text_document.uri.to_file_path() else { return };
                self.docs.insert(normalize(&path), (p.text_document.uri, Doc::new(p.text_document.text, p.text_document.version)));
                self.dirty = true;
            }
            DidChangeTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lt::DidChangeTextDocumentParams>(n.params) else { return };
                let Ok(path) = p.text_document.uri.to_file_path() else { return };
                if let Some((_, doc)) = self.docs.get_mut(&normalize(&path)) {
                    for c in p.content_changes {
                        doc.apply(c, self.enc);
                    }
                    doc.version = p.text_document.version;
                    self.dirty = true;
                }
            }
            DidCloseTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lt::DidCloseTextDocumentParams>(n.params) else { return };
                let Ok(path) = p.text_document.uri.to_file_path() else { return };
                let path = normalize(&path);
                self.docs.remove(&path);
                if self.loose.remove(&path).is_some() {
                    self.published.remove(&p.text_document.uri);
                    self.publish(p.text_document.uri, vec![], None);
                }
                self.read_disk_rule(&path);
                self.dirty = true;
            }
            DidSaveTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lt::DidSaveTextDocumentParams>(n.params) else { return };
                let Ok(path) = p.text_document.uri.to_file_path() else { return };
                self.changed_on_disk(&normalize(&path));
            }
            DidChangeWatchedFiles::METHOD => {
                let Ok(p) = serde_json::from_value::<lt::DidChangeWatchedFilesParams>(n.params) else { return };
                for c in p.changes {
                    if let Ok(path) = c.uri.to_file_path() {
                        self.changed_on_disk(&normalize(&path));
                    }
                }
            }
            _ => {}
        }
    }

    /// A file changed on disk: a rule file is read again, a file of the tree marks the
    /// facts for reloading.
    fn changed_on_disk(&mut self, path: &Path) {
        if self.is_rule_file(path) {
            self.read_disk_rule(path);
            self.dirty = true;
            // Scan B reads the rules' log patterns: read again with the saved rules.
            if let Some(f) = self.facts.as_mut() {
                let rules: Vec<RuleText> = self.disk.iter().map(|(p, t)| rule_text(&self.root, p, t.clone())).collect();
                f.reload_scan_b(&rules);
            }
        } else if path.starts_with(&self.root) && Facts::is_fact_file(path) {
            self.facts_stale = true;
        }
    }

    fn is_rule_file(&self, path: &Path) -> bool {
        path.parent() == Some(self.rules_dir.as_path()) && path.extension().is_some_and(|x| x == engine_api_ext())
    }

    fn read_disk_rule(&mut self, path: &Path) {
        if !self.is_rule_file(path) {
            return;
        }
        match engine_api::read_rule_file(path) {
            Some(t) => {
                self.disk.insert(path.to_path_buf(), t);
            }
            None => {
                self.disk.remove(path);
            }
        }
    }

    /// Ask the client to tell us about changes to rule files and to the tree's recipes.
    fn watch(&mut self) {
        if !self.dynamic_watch {
            return;
        }
        let watchers = ["**/*.pol", "**/package.yml", "**/*.list", "**/build.sh", "**/.audit-override"]
            .iter()
            .map(|g| lt::FileSystemWatcher { glob_pattern: lt::GlobPattern::String(g.to_string()), kind: None })
            .collect();
        let reg = lt::Registration {
            id: "igos-watch".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(lt::DidChangeWatchedFilesRegistrationOptions { watchers }).ok(),
        };
        let id = self.next_id;
        self.next_id += 1;
        self.send(Request::new(RequestId::from(id), "client/registerCapability".into(), lt::RegistrationParams { registrations: vec![reg] }));
    }

    /// Read the rules directory and the tree.
    fn load(&mut self) {
        self.disk.clear();
        for p in engine_api::rule_files(&self.rules_dir) {
            self.read_disk_rule(&normalize(&p));
        }
        self.load_facts();
        self.facts_loaded = true;
        self.dirty = true;
    }

    fn load_facts(&mut self) {
        self.facts_stale = false;
        let rules = self.rule_texts();
        match Facts::load(&self.root, &rules) {
            Ok(f) => {
                for n in &f.notes {
                    self.show(lt::MessageType::WARNING, format!("igos: {n}"));
                }
                self.facts = Some(f);
                self.facts_error = None;
            }
            Err(e) => {
                if self.facts_error.as_deref() != Some(e.as_str()) {
                    self.show(lt::MessageType::WARNING, format!("igos: no tree findings: {e}"));
                }
                self.facts = None;
                self.facts_error = Some(e);
            }
        }
    }

    /// The project's rule files: the editor's text for open ones, the disk's for the rest.
    fn rule_texts(&self) -> Vec<RuleText> {
        let mut texts: BTreeMap<PathBuf, Arc<str>> = self.disk.clone();
        for (p, (_, d)) in &self.docs {
            if self.is_rule_file(p) {
                texts.insert(p.clone(), Arc::from(d.text.as_str()));
            }
        }
        // A path no file URI can name (relative, not UTF-8 on some systems) is no editor's file.
        texts.into_iter().filter(|(p, _)| Url::from_file_path(p).is_ok()).map(|(p, t)| rule_text(&self.root, &p, t)).collect()
    }

    /// Analyse again what changed and publish the diagnostics.
    fn refresh(&mut self) {
        if !self.facts_loaded {
            self.load();
        }
        if self.facts_stale {
            self.load_facts();
            self.dirty = true;
        }
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let analysis = engine_api::analyze_with(self.facts.as_ref(), self.rule_texts(), &mut self.memo);
        // Every analysed file has a URI (rule_texts keeps only those): its editor's, else its path's.
        self.files = analysis
            .rules
            .iter()
            .filter_map(|r| {
                let uri = self.docs.get(&r.path).map(|(u, _)| u.clone()).or_else(|| Url::from_file_path(&r.path).ok())?;
                Some((uri, Lines::new(&r.text)))
            })
            .collect();
        if self.files.len() != analysis.rules.len() {
            self.files.clear();
            self.analysis = None;
            return;
        }
        // Open .pol files outside the rules directory: their syntax only.
        self.loose.clear();
        for (p, (uri, d)) in &self.docs {
            if !self.is_rule_file(p) && p.extension().is_some_and(|x| x == engine_api_ext()) {
                let (ix, diags) = engine_api::syntax_only(&d.text);
                self.loose.insert(p.clone(), (uri.clone(), ix, diags, Lines::new(&d.text)));
            }
        }
        let mut by_file: Vec<Vec<lt::Diagnostic>> = vec![vec![]; analysis.rules.len()];
        {
            let w = World { analysis: &analysis, facts: self.facts.as_ref(), enc: self.enc, files: &self.files, rules_dir: &self.rules_dir };
            for d in &analysis.diags {
                by_file[d.file].push(diagnostic(&w, d));
            }
        }
        let mut now: Vec<(Url, Option<i32>, Vec<lt::Diagnostic>)> = vec![];
        for (i, diags) in by_file.into_iter().enumerate() {
            let version = self.docs.get(&analysis.rules[i].path).map(|(_, d)| d.version);
            now.push((self.files[i].0.clone(), version, diags));
        }
        for (uri, _, diags, lines) in self.loose.values() {
            let text = self.docs.values().find(|(u, _)| u == uri).map(|(_, d)| d.text.as_str()).unwrap_or("");
            let list = diags
                .iter()
                .map(|d| lt::Diagnostic {
                    range: lines.range(text, d.at.clone(), self.enc),
                    severity: Some(lt::DiagnosticSeverity::ERROR),
                    code: Some(lt::NumberOrString::String(d.code.clone())),
                    source: Some("igos".into()),
                    message: d.message.clone(),
                    ..Default::default()
                })
                .collect();
            now.push((uri.clone(), None, list));
        }
        // Files that had diagnostics and are no longer analysed: cleared.
        let gone: Vec<Url> = self.published.keys().filter(|u| !now.iter().any(|(n, ..)| n == *u)).cloned().collect();
        for uri in gone {
            self.published.remove(&uri);
            self.publish(uri, vec![], None);
        }
        for (uri, version, diags) in now {
            // Sent again only when they changed, or when the editor's version moved on
            // (a client may wait for the diagnostics of the version it sent).
            if self.published.get(&uri).is_some_and(|(v, d)| *v == version && *d == diags) {
                continue;
            }
            self.publish(uri.clone(), diags.clone(), version);
            self.published.insert(uri, (version, diags));
        }
        self.analysis = Some(analysis);
    }

    fn publish(&self, uri: Url, diagnostics: Vec<lt::Diagnostic>, version: Option<i32>) {
        self.notify::<lt::notification::PublishDiagnostics>(lt::PublishDiagnosticsParams { uri, diagnostics, version });
    }

    fn dispatch(&mut self, r: Request) -> Result<serde_json::Value, Failure> {
        use lt::request::*;
        if self.dirty || self.facts_stale || !self.facts_loaded {
            self.refresh();
        }
        let method = r.method.clone();
        macro_rules! params {
            ($t:ty) => {
                serde_json::from_value::<$t>(r.params).map_err(invalid_params)?
            };
        }
        // Requests about files outside the rules directory: what their own text says.
        if let Some(out) = self.loose_request(&method, &r.params) {
            return out;
        }
        let Some(analysis) = self.analysis.as_ref() else { return Ok(serde_json::Value::Null) };
        let w = World { analysis, facts: self.facts.as_ref(), enc: self.enc, files: &self.files, rules_dir: &self.rules_dir };
        let v = match method.as_str() {
            HoverRequest::METHOD => to_json(nav::hover(&w, &params!(lt::HoverParams))),
            GotoDefinition::METHOD => to_json(nav::definition(&w, &params!(lt::GotoDefinitionParams))),
            References::METHOD => to_json(nav::references(&w, &params!(lt::ReferenceParams))),
            PrepareRenameRequest::METHOD => to_json(nav::prepare_rename(&w, &params!(lt::TextDocumentPositionParams))),
            Rename::METHOD => to_json(nav::rename(&w, &params!(lt::RenameParams))?),
            DocumentSymbolRequest::METHOD => to_json(nav::document_symbols(&w, &params!(lt::DocumentSymbolParams))),
            WorkspaceSymbolRequest::METHOD => to_json(nav::workspace_symbols(&w, &params!(lt::WorkspaceSymbolParams))),
            FoldingRangeRequest::METHOD => to_json(tokens::folding(&w, &params!(lt::FoldingRangeParams))),
            SemanticTokensFullRequest::METHOD => to_json(tokens::semantic_tokens(&w, &params!(lt::SemanticTokensParams))),
            Completion::METHOD => to_json(complete::completion(&w, &params!(lt::CompletionParams))),
            Formatting::METHOD => to_json(self.formatting(&params!(lt::DocumentFormattingParams))?),
            CodeLensRequest::METHOD => to_json(actions::code_lens(&w, &params!(lt::CodeLensParams))),
            InlayHintRequest::METHOD => to_json(actions::inlay_hints(&w, &params!(lt::InlayHintParams))),
            CodeActionRequest::METHOD => to_json(actions::code_actions(&w, &params!(lt::CodeActionParams))),
            ExecuteCommand::METHOD => to_json(actions::execute(&w, &params!(lt::ExecuteCommandParams))?),
            _ => return Err((ErrorCode::MethodNotFound as i32, format!("igos lsp does not answer `{method}`"))),
        };
        Ok(v)
    }

    /// Formatting, symbols and folding of a `.pol` file outside the rules directory.
    fn loose_request(&self, method: &str, params: &serde_json::Value) -> Option<Result<serde_json::Value, Failure>> {
        use lt::request::*;
        let uri: Url = serde_json::from_value(params.get("textDocument")?.get("uri")?.clone()).ok()?;
        let path = normalize(&uri.to_file_path().ok()?);
        let (_, ix, _, lines) = self.loose.get(&path)?;
        let text = &self.docs.get(&path)?.1.text;
        Some(match method {
            Formatting::METHOD => serde_json::from_value(params.clone()).map_err(invalid_params).and_then(|p| self.formatting(&p)).map(to_json),
            DocumentSymbolRequest::METHOD => Ok(to_json(nav::symbols_of(ix, text, lines, self.enc))),
            _ => Ok(serde_json::Value::Null),
        })
    }

    fn formatting(&self, p: &lt::DocumentFormattingParams) -> Result<Option<Vec<lt::TextEdit>>, Failure> {
        let path = p.text_document.uri.to_file_path().map_err(|_| invalid_params("not a file URI"))?;
        let Some((_, doc)) = self.docs.get(&normalize(&path)) else { return Ok(None) };
        match engine_api::format(&doc.text) {
            Ok(formatted) => Ok(Some(nav::minimal_edits(&doc.text, &formatted, &doc.lines, self.enc))),
            Err(e) => Err((ErrorCode::RequestFailed as i32, format!("igos fmt: {e}"))),
        }
    }
}

fn engine_api_ext() -> &'static str {
    engine_api::RULE_EXTENSION
}

fn rule_text(root: &Path, path: &Path, text: Arc<str>) -> RuleText {
    // Shown relative to the project (the rules directory's parent), as `igos check` does.
    let shown = path
        .parent()
        .and_then(Path::parent)
        .and_then(|base| path.strip_prefix(base).ok())
        .or_else(|| path.strip_prefix(root).ok())
        .unwrap_or(path)
        .display()
        .to_string();
    RuleText { path: path.to_path_buf(), shown, text }
}

fn to_json<T: serde::Serialize>(v: T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn diagnostic(w: &World, d: &engine_api::Diag) -> lt::Diagnostic {
    use engine_api::Severity as S;
    let related: Vec<lt::DiagnosticRelatedInformation> = d
        .related
        .iter()
        .filter_map(|(p, m)| Some(lt::DiagnosticRelatedInformation { location: w.place(p)?, message: m.clone() }))
        .collect();
    lt::Diagnostic {
        range: w.range(d.file, d.at.clone()),
        severity: Some(match d.severity {
            S::Error => lt::DiagnosticSeverity::ERROR,
            S::Warning => lt::DiagnosticSeverity::WARNING,
            S::Information => lt::DiagnosticSeverity::INFORMATION,
            S::Hint => lt::DiagnosticSeverity::HINT,
        }),
        code: Some(lt::NumberOrString::String(d.code.clone())),
        source: Some("igos".into()),
        message: d.message.clone(),
        related_information: (!related.is_empty()).then_some(related),
        data: (!d.findings.is_empty())
            .then(|| serde_json::json!(d.findings.iter().take(50).map(|f| [&f.check, &f.subject]).collect::<Vec<_>>())),
        ..Default::default()
    }
}

fn capabilities(enc: Encoding) -> lt::ServerCapabilities {
    lt::ServerCapabilities {
        position_encoding: Some(match enc {
            Encoding::Utf8 => lt::PositionEncodingKind::UTF8,
            Encoding::Utf16 => lt::PositionEncodingKind::UTF16,
        }),
        text_document_sync: Some(lt::TextDocumentSyncCapability::Options(lt::TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(lt::TextDocumentSyncKind::INCREMENTAL),
            save: Some(lt::TextDocumentSyncSaveOptions::Supported(true)),
            ..Default::default()
        })),
        hover_provider: Some(lt::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lt::OneOf::Left(true)),
        references_provider: Some(lt::OneOf::Left(true)),
        rename_provider: Some(lt::OneOf::Right(lt::RenameOptions { prepare_provider: Some(true), work_done_progress_options: Default::default() })),
        completion_provider: Some(lt::CompletionOptions { trigger_characters: Some(vec![".".into()]), ..Default::default() }),
        document_formatting_provider: Some(lt::OneOf::Left(true)),
        document_symbol_provider: Some(lt::OneOf::Left(true)),
        workspace_symbol_provider: Some(lt::OneOf::Left(true)),
        folding_range_provider: Some(lt::FoldingRangeProviderCapability::Simple(true)),
        semantic_tokens_provider: Some(lt::SemanticTokensServerCapabilities::SemanticTokensOptions(lt::SemanticTokensOptions {
            legend: tokens::legend(),
            full: Some(lt::SemanticTokensFullOptions::Bool(true)),
            range: None,
            work_done_progress_options: Default::default(),
        })),
        code_lens_provider: Some(lt::CodeLensOptions { resolve_provider: Some(false) }),
        inlay_hint_provider: Some(lt::OneOf::Left(true)),
        code_action_provider: Some(lt::CodeActionProviderCapability::Options(lt::CodeActionOptions {
            code_action_kinds: Some(vec![lt::CodeActionKind::QUICKFIX]),
            ..Default::default()
        })),
        execute_command_provider: Some(lt::ExecuteCommandOptions { commands: vec![actions::FINDINGS_COMMAND.into()], ..Default::default() }),
        ..Default::default()
    }
}
