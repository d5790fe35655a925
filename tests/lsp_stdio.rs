//! `ferrota lsp` as editors run it: a process speaking LSP over stdin and stdout. It answers
//! initialize, publishes diagnostics for an opened and a changed buffer, hovers, and after
//! `shutdown` and `exit` the process ends with status 0 (it used to keep running); with stdin
//! closed and no `exit`, it ends too.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: mpsc::Receiver<Value>,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferrota"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || read_messages(stdout, tx));
        Server { child, stdin, messages }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        let stdin = self.stdin.as_mut().unwrap();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        stdin.flush().unwrap();
    }

    fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.next(|m| m["id"] == id)
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next message that `wanted` accepts (others are skipped).
    fn next(&self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let message = self.messages.recv_timeout(Duration::from_secs(10)).expect("the server answers");
            if wanted(&message) {
                return message;
            }
        }
    }

    /// Waits for the process to end; its exit status code.
    fn wait(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("`ferrota lsp` is still running 10 s after it was told to stop");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// LSP's framing: `Content-Length` headers, then the JSON body.
fn read_messages(stdout: ChildStdout, tx: mpsc::Sender<Value>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() || tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
            return;
        }
    }
}

const URI: &str = "file:///tmp/ferrota-lsp-stdio/device.yaml";

fn diagnostics(server: &Server) -> Vec<Value> {
    let note = server.next(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == URI);
    note["params"]["diagnostics"].as_array().unwrap().clone()
}

fn initialized() -> Server {
    let mut server = Server::start();
    let reply = server.request(1, "initialize", json!({"capabilities": {}, "processId": null, "rootUri": null}));
    assert!(reply["result"]["capabilities"]["hoverProvider"] == true, "{reply}");
    server.notify("initialized", json!({}));
    server
}

#[test]
fn a_session_over_stdio_ends_with_exit_status_0() {
    let mut server = initialized();
    let broken = "esphome:\n  name: Bad Name\nhost:\n";
    server.notify("textDocument/didOpen", json!({"textDocument": {"uri": URI, "languageId": "yaml", "version": 1, "text": broken}}));
    let found = diagnostics(&server);
    assert!(found.iter().any(|d| d["range"]["start"]["line"] == 1 && d["severity"] == 1), "{found:?}");

    let fixed = "esphome:\n  name: good-name\nhost:\n";
    server.notify("textDocument/didChange", json!({"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": fixed}]}));
    let found = diagnostics(&server);
    assert!(found.iter().all(|d| d["severity"] != 1), "{found:?}");

    let hover = server.request(2, "textDocument/hover", json!({"textDocument": {"uri": URI}, "position": {"line": 1, "character": 3}}));
    assert!(hover["result"]["contents"]["value"].as_str().is_some_and(|v| v.contains("name")), "{hover}");

    // A misspelt component: completion offers the right one, and so does the quick fix.
    let typo = "esphome:\n  name: good-name\nhost:\nloger:\n";
    server.notify("textDocument/didChange", json!({"textDocument": {"uri": URI, "version": 3}, "contentChanges": [{"text": typo}]}));
    let found = diagnostics(&server);
    assert_eq!(found.len(), 1, "{found:?}");
    let completion = server.request(4, "textDocument/completion", json!({"textDocument": {"uri": URI}, "position": {"line": 3, "character": 2}}));
    let labels: Vec<&str> = completion["result"].as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"logger") && !labels.contains(&"host"), "{labels:?}");
    let context = json!({"diagnostics": found});
    let actions = server.request(5, "textDocument/codeAction", json!({"textDocument": {"uri": URI}, "range": found[0]["range"], "context": context}));
    assert_eq!(actions["result"][0]["title"], "Change `loger` to `logger`", "{actions}");
    assert_eq!(actions["result"][0]["edit"]["changes"][URI][0]["newText"], "logger", "{actions}");

    let reply = server.request(3, "shutdown", Value::Null);
    assert!(reply.get("error").is_none(), "{reply}");
    server.notify("exit", Value::Null);
    assert_eq!(server.wait(), Some(0));
}

#[test]
fn closing_stdin_ends_the_server() {
    let mut server = initialized();
    server.stdin = None;
    assert!(server.wait().is_some());
}

#[test]
fn ids_lead_to_their_declaration_and_uses_and_the_outline_lists_components() {
    let mut server = initialized();
    let config = "esphome:\n  name: nav\n  on_boot:\n    - lambda: 'id(my_ota).set_auth_password(\"x\");'\nhost:\nota:\n  - platform: esphome\n    id: my_ota\n";
    server.notify("textDocument/didOpen", json!({"textDocument": {"uri": URI, "languageId": "yaml", "version": 1, "text": config}}));
    diagnostics(&server);
    let at = |line: u32, character: u32| json!({"textDocument": {"uri": URI}, "position": {"line": line, "character": character}});

    // From `id(my_ota)` in the lambda to `id: my_ota`.
    let definition = server.request(2, "textDocument/definition", at(3, 20));
    assert_eq!(definition["result"]["uri"], URI, "{definition}");
    assert_eq!(definition["result"]["range"]["start"], json!({"line": 7, "character": 8}), "{definition}");

    // From the declaration to every place that names it.
    let mut params = at(7, 10);
    params["context"] = json!({"includeDeclaration": true});
    let references = server.request(3, "textDocument/references", params);
    let lines: Vec<&Value> = references["result"].as_array().unwrap().iter().map(|l| &l["range"]["start"]["line"]).collect();
    assert_eq!(lines, [&json!(7), &json!(3)], "{references}");
    // Nowhere near an ID: nothing.
    assert_eq!(server.request(4, "textDocument/definition", at(4, 1))["result"], Value::Null);

    let symbols = server.request(5, "textDocument/documentSymbol", json!({"textDocument": {"uri": URI}}));
    let names: Vec<&str> = symbols["result"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["esphome", "host", "ota"], "{symbols}");
    assert_eq!(symbols["result"][0]["children"][0]["name"], "on_boot", "{symbols}");
    assert_eq!(symbols["result"][2]["children"][0]["name"], "platform: esphome", "{symbols}");

    server.request(6, "shutdown", Value::Null);
    server.notify("exit", Value::Null);
    assert_eq!(server.wait(), Some(0));
}
