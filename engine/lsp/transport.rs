//! JSON-RPC over stdio with LSP's `Content-Length` framing. Our own reader, because a
//! server must survive what a client sends: a body that is not JSON is answered with a
//! parse error (id null), a message that is not a request, response or notification with
//! an invalid-request error, an oversized body is skipped and answered; only the end of
//! the input ends the server. Messages themselves are lsp-server's types.

use std::io::{BufRead, Read, Write};
use std::sync::mpsc::{self, Receiver, Sender};

use lsp_server::{ErrorCode, Message};

/// The largest body read (a rule file is capped at 32 MiB; JSON escaping can double it).
pub const MAX_BODY: usize = 128 << 20;
/// The longest header line.
const MAX_HEADER: usize = 8 << 10;

/// What the reader hands the server.
#[derive(Debug)]
pub enum Incoming {
    Message(Message),
    /// A message that could not be read: answer it with this error (`id` null when unknown).
    Bad { id: serde_json::Value, code: i32, message: String },
}

/// What the server hands the writer.
#[derive(Debug)]
pub enum Outgoing {
    Message(Message),
    Error { id: serde_json::Value, code: i32, message: String },
}

/// Read framed messages from `input` until it ends, sending each to `to`.
pub fn read_loop(input: &mut impl BufRead, to: &Sender<Incoming>) {
    loop {
        let length = match headers(input) {
            Ok(Some(n)) => n,
            Ok(None) => return,
            Err(message) => {
                if to.send(Incoming::Bad { id: serde_json::Value::Null, code: ErrorCode::ParseError as i32, message }).is_err() {
                    return;
                }
                continue;
            }
        };
        if length > MAX_BODY {
            // Skip the body without holding it.
            if std::io::copy(&mut input.take(length as u64), &mut std::io::sink()).map_or(true, |n| n < length as u64) {
                return;
            }
            let message = format!("a message of {length} bytes is larger than the {MAX_BODY} bytes igos lsp reads");
            if to.send(Incoming::Bad { id: serde_json::Value::Null, code: ErrorCode::InvalidRequest as i32, message }).is_err() {
                return;
            }
            continue;
        }
        let mut body = vec![0; length];
        if input.read_exact(&mut body).is_err() {
            return;
        }
        if to.send(decode(&body)).is_err() {
            return;
        }
    }
}

/// A body as a message, or the error to answer it with.
pub fn decode(body: &[u8]) -> Incoming {
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Incoming::Bad { id: serde_json::Value::Null, code: ErrorCode::ParseError as i32, message: format!("not JSON: {e}") },
    };
    let id = value.get("id").cloned().unwrap_or(serde_json::Value::Null);
    // Decided by the fields present, not by trying each shape in turn: a request whose id
    // is unusable (1.5, an object) must be answered, not taken for a notification.
    let parsed = match (value.get("method").is_some(), !id.is_null()) {
        (true, true) => serde_json::from_value::<lsp_server::Request>(value).map(Message::Request),
        (true, false) => serde_json::from_value::<lsp_server::Notification>(value).map(Message::Notification),
        (false, true) => serde_json::from_value::<lsp_server::Response>(value).map(Message::Response),
        (false, false) => serde_json::from_value::<Message>(value),
    };
    match parsed {
        Ok(m) => Incoming::Message(m),
        Err(e) => Incoming::Bad { id, code: ErrorCode::InvalidRequest as i32, message: format!("not a JSON-RPC request, response or notification: {e}") },
    }
}

/// The headers of one message: its Content-Length, None at the end of the input, Err for
/// a header block without a usable length (the block is consumed; reading goes on).
fn headers(input: &mut impl BufRead) -> Result<Option<usize>, String> {
    let mut length: Option<Result<usize, String>> = None;
    let mut any = false;
    loop {
        let mut line = Vec::new();
        let n = input.by_ref().take(MAX_HEADER as u64).read_until(b'\n', &mut line).map_err(|e| e.to_string());
        // The input ended (or failed): no more messages, whatever was half read.
        if matches!(n, Ok(0) | Err(_)) {
            return Ok(None);
        }
        if !line.ends_with(b"\n") {
            // A header line too long: drop the rest of it.
            let mut rest = Vec::new();
            let _ = input.read_until(b'\n', &mut rest);
            length = Some(Err("a header line longer than 8 KiB".into()));
            any = true;
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if !any {
                // Blank lines between messages: tolerated.
                continue;
            }
            return match length {
                Some(Ok(n)) => Ok(Some(n)),
                Some(Err(e)) => Err(e),
                None => Err("a message without a Content-Length header".into()),
            };
        }
        any = true;
        if let Some((name, value)) = text.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<usize>().map_err(|_| format!("Content-Length `{}` is not a length", value.trim())));
            }
        } else {
            length = Some(Err(format!("`{}` is not a header", text.chars().take(80).collect::<String>())));
        }
    }
}

/// Write one message with its framing.
pub fn write(out: &mut impl Write, msg: &Outgoing) -> std::io::Result<()> {
    let text = match msg {
        Outgoing::Message(m) => {
            let mut buf = Vec::new();
            m.write(&mut buf)?;
            return out.write_all(&buf).and_then(|_| out.flush());
        }
        Outgoing::Error { id, code, message } => {
            serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string()
        }
    };
    write!(out, "Content-Length: {}\r\n\r\n{text}", text.len())?;
    out.flush()
}

/// The stdio transport: a reader thread and a writer thread.
pub fn stdio() -> (Receiver<Incoming>, Sender<Outgoing>, std::thread::JoinHandle<()>) {
    let (in_tx, in_rx) = mpsc::channel();
    let (out_tx, out_rx) = mpsc::channel::<Outgoing>();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        read_loop(&mut stdin.lock(), &in_tx);
    });
    let writer = std::thread::spawn(move || {
        let stdout = std::io::stdout();
        let mut stdout = stdout.lock();
        for m in out_rx {
            if write(&mut stdout, &m).is_err() {
                return;
            }
        }
    });
    (in_rx, out_tx, writer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8]) -> Vec<Incoming> {
        let (tx, rx) = mpsc::channel();
        read_loop(&mut std::io::Cursor::new(input), &tx);
        drop(tx);
        rx.into_iter().collect()
    }

    #[test]
    fn garbage_is_answered_and_reading_goes_on() {
        let good = r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
        let input = format!(
            "Content-Length: 5\r\n\r\n{{oops\r\nnonsense\r\n\r\nContent-Length: 2\r\n\r\n[]Content-Length: {}\r\n\r\n{good}Content-Length: 99999999999\r\n\r\n{good}",
            good.len()
        );
        let got = read_all(input.as_bytes());
        let codes: Vec<i32> = got
            .iter()
            .map(|m| match m {
                Incoming::Bad { code, .. } => *code,
                Incoming::Message(_) => 0,
            })
            .collect();
        // not JSON, a header block without length, JSON that is not a message, a good one;
        // then a body larger than the rest of the input (which ends while it is skipped).
        assert_eq!(codes, [-32700, -32700, -32600, 0], "{got:?}");
    }

    #[test]
    fn a_request_with_an_unusable_id_is_answered_with_that_id() {
        match decode(br#"{"jsonrpc":"2.0","id":1.5,"method":"hover"}"#) {
            Incoming::Bad { id, code, .. } => {
                assert_eq!(code, -32600);
                assert_eq!(id, serde_json::json!(1.5));
            }
            m => panic!("{m:?}"),
        }
    }
}
