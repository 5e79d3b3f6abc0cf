//! `igos lsp` against a hostile client, over its real stdio, byte by byte: garbage JSON,
//! requests before `initialize`, unknown methods, wrong parameters, positions outside the
//! text and inside a surrogate pair, a document far over the size cap, deep nesting.
//! The server answers each with an LSP error or a diagnostic and goes on; it never dies.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Server {
    child: Child,
    stdin: ChildStdin,
    from: Receiver<Value>,
    /// Notifications seen while waiting for responses.
    notes: Vec<Value>,
}

impl Server {
    fn start(dir: &std::path::Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_igos"))
            .arg("lsp")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("igos lsp starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, from) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = None;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; len.expect("the server frames its messages")];
                if r.read_exact(&mut body).is_err() {
                    return;
                }
                let v: Value = serde_json::from_slice(&body).expect("the server writes JSON");
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Server { child, stdin, from, notes: vec![] }
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).unwrap();
        self.stdin.flush().unwrap();
    }

    fn send(&mut self, v: Value) {
        let body = v.to_string();
        self.raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response(json!(id))
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next response with this id (notifications are kept aside).
    fn response(&mut self, id: Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.from.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(v) if v.get("method").is_none() && v["id"] == id => return v,
                Ok(v) => self.notes.push(v),
                Err(RecvTimeoutError::Timeout) => panic!("no response to id {id} within 60 s"),
                Err(RecvTimeoutError::Disconnected) => panic!("the server died before answering id {id}; notes: {:?}", self.notes),
            }
        }
    }

    /// The diagnostics published for the editor's `version` of a URI ending in `file`; those
    /// of earlier versions (or of the file before it was opened), still on their way, are
    /// skipped.
    fn diagnostics_of(&mut self, file: &str, version: i64) -> Vec<Value> {
        loop {
            let d = self.next_publish(file);
            if d["version"] == version {
                return d["diagnostics"].as_array().unwrap().clone();
            }
        }
    }

    fn next_publish(&mut self, file: &str) -> Value {
        if let Some(i) = self.notes.iter().position(|n| n["method"] == "textDocument/publishDiagnostics" && n["params"]["uri"].as_str().unwrap().ends_with(file)) {
            return self.notes.remove(i)["params"].clone();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.from.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("diagnostics within 60 s");
            if v["method"] == "textDocument/publishDiagnostics" && v["params"]["uri"].as_str().unwrap().ends_with(file) {
                return v["params"].clone();
            }
            self.notes.push(v);
        }
    }

    fn initialize(&mut self, dir: &std::path::Path) {
        let r = self.request(1, "initialize", json!({"processId": null, "rootUri": url(dir), "capabilities": {}}));
        assert!(r["result"]["capabilities"]["hoverProvider"] == true, "{r}");
        self.notify("initialized", json!({}));
    }

    fn exit_code(mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        None
    }
}

fn url(p: &std::path::Path) -> String {
    format!("file://{}", p.display())
}

fn code(v: &Value) -> i64 {
    v["error"]["code"].as_i64().unwrap_or_else(|| panic!("an error response: {v}"))
}

/// A small project: rules and a tree of one recipe.
fn project(tag: &str) -> support::TempDir {
    let t = support::valid_tree(tag);
    t.write("rules/r.pol", "policy 1\nset s {\n  a\n}\n");
    t
}

#[test]
fn protocol_errors_are_answered_and_the_server_goes_on() {
    let t = project("lsp-protocol");
    let mut s = Server::start(t.path());
    // Before initialize: ServerNotInitialized.
    assert_eq!(code(&s.request(7, "textDocument/hover", json!({}))), -32002);
    // Garbage: not JSON, a header block without a length, JSON that is no message, bytes
    // that are not UTF-8. Each is answered (id null), none ends the server.
    s.raw(b"Content-Length: 9\r\n\r\n{\"oops\": ");
    assert_eq!(code(&s.response(Value::Null)), -32700);
    s.raw(b"hello there\r\n\r\n");
    assert_eq!(code(&s.response(Value::Null)), -32700);
    s.raw(b"Content-Length: 4\r\n\r\n[1,2");
    assert_eq!(code(&s.response(Value::Null)), -32700);
    s.raw(b"Content-Length: 2\r\n\r\n{}");
    assert_eq!(code(&s.response(Value::Null)), -32600);
    s.raw(b"Content-Length: 3\r\n\r\n\xff\xfe\xfd");
    assert_eq!(code(&s.response(Value::Null)), -32700);
    // A request whose id JSON-RPC allows but the server cannot use: answered with that id.
    s.send(json!({"jsonrpc": "2.0", "id": 2.5, "method": "initialize", "params": {}}));
    assert_eq!(code(&s.response(json!(2.5))), -32600);
    s.initialize(t.path());
    // Unknown methods, wrong parameters, a second initialize.
    assert_eq!(code(&s.request(3, "textDocument/teleport", json!({}))), -32601);
    assert_eq!(code(&s.request(4, "textDocument/hover", json!(5))), -32602);
    assert_eq!(code(&s.request(5, "initialize", json!({"capabilities": {}}))), -32600);
    s.notify("$/unknownNotification", json!({"x": 1}));
    s.notify("textDocument/didOpen", json!("not an object"));
    // Still answering.
    let uri = url(&t.path().join("rules/r.pol"));
    let h = s.request(6, "textDocument/hover", json!({"textDocument": {"uri": uri}, "position": {"line": 2, "character": 2}}));
    assert!(h.get("error").is_none(), "{h}");
    // The protocol's end: shutdown, then any request refused, then exit with 0.
    assert!(s.request(8, "shutdown", Value::Null)["result"].is_null());
    assert_eq!(code(&s.request(9, "textDocument/hover", json!({}))), -32600);
    s.notify("exit", Value::Null);
    assert_eq!(s.exit_code(), Some(0));
}

#[test]
fn exit_without_shutdown_is_code_1_and_end_of_input_ends_the_server() {
    let t = project("lsp-exit");
    let mut s = Server::start(t.path());
    s.initialize(t.path());
    s.notify("exit", Value::Null);
    assert_eq!(s.exit_code(), Some(1));
    let mut s = Server::start(t.path());
    s.initialize(t.path());
    drop(std::mem::replace(&mut s.stdin, Command::new("true").stdin(Stdio::piped()).spawn().unwrap().stdin.take().unwrap()));
    assert_eq!(s.exit_code(), Some(1));
}

#[test]
fn positions_outside_the_text_and_hostile_documents() {
    let t = project("lsp-positions");
    let mut s = Server::start(t.path());
    s.initialize(t.path());
    let uri = url(&t.path().join("rules/r.pol"));
    // A surrogate pair (😀) in a comment: positions inside it, past the line, past the file.
    let text = "policy 1\n# 😀😀\nset s {\n  a\n}\n";
    s.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "igos-policy", "version": 1, "text": text}}));
    assert_eq!(s.diagnostics_of("r.pol", 1), Vec::<Value>::new());
    for (i, (line, character)) in [(1, 3), (1, 99), (99, 0), (4_000_000_000u64, 4_000_000_000u64)].into_iter().enumerate() {
        let pos = json!({"line": line, "character": character});
        for method in ["textDocument/hover", "textDocument/definition", "textDocument/completion", "textDocument/references"] {
            let mut params = json!({"textDocument": {"uri": uri}, "position": pos});
            if method == "textDocument/references" {
                params["context"] = json!({"includeDeclaration": true});
            }
            let r = s.request(100 + i as i64, method, params);
            assert!(r.get("error").is_none(), "{method} at {pos}: {r}");
        }
    }
    // An edit with a range backwards and outside the text: clamped, the text stays usable.
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"range": {"start": {"line": 50, "character": 0}, "end": {"line": 1, "character": 2}}, "text": "\ncheck c halt {\n  for p in packages\n  message \"{p.nme}\"\n}\n"}]}),
    );
    let d = s.diagnostics_of("r.pol", 2);
    assert!(d.iter().any(|d| d["message"].as_str().unwrap().contains("nme")), "{d:?}");
    // Ten thousand nested parentheses: the too-deep diagnostic, not a stack overflow.
    let deep = format!("policy 1\ncheck c halt {{\n  for p in packages\n  where {}true{}\n  message \"x\"\n}}\n", "(".repeat(10_000), ")".repeat(10_000));
    s.notify("textDocument/didChange", json!({"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": deep}]}));
    let d = s.diagnostics_of("r.pol", 3);
    assert!(d.iter().any(|d| d["code"] == "too-deep"), "{d:?}");
    // A document over the 32 MiB cap of rule files: one diagnostic, nothing parsed.
    let huge = format!("policy 1\n#{}\n", "x".repeat(33 << 20));
    s.notify("textDocument/didChange", json!({"textDocument": {"uri": uri, "version": 4}, "contentChanges": [{"text": huge}]}));
    let d = s.diagnostics_of("r.pol", 4);
    assert_eq!(d.len(), 1, "{:?}", d.iter().map(|d| &d["message"]).collect::<Vec<_>>());
    assert_eq!(d[0]["code"], "too-large");
    let f = s.request(200, "textDocument/formatting", json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}));
    assert_eq!(code(&f), -32803, "formatting refuses, the server stays");
    assert!(s.request(201, "shutdown", Value::Null).get("error").is_none());
    s.notify("exit", Value::Null);
    assert_eq!(s.exit_code(), Some(0));
}
