//! `ferrota lsp` as editors run it: a process speaking LSP over stdin and stdout. It answers
//! initialize, publishes diagnostics for an opened and a changed buffer, hovers, completes, offers quick fixes, and after
//! `shutdown` and `exit` the process ends with status 0 (it used to keep running); with stdin
//! closed and no `exit`, it ends too.

use serde_json::{json, Value};
use std::process::Command;
use ferrota_test_support::LspProcess as Server;

const URI: &str = "file:///tmp/ferrota-lsp-stdio/device.yaml";

fn diagnostics(server: &Server) -> Vec<Value> {
    let note = server.next(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == URI);
    note["params"]["diagnostics"].as_array().unwrap().clone()
}

fn initialized() -> Server {
    let mut server = Server::start(Command::new(env!("CARGO_BIN_EXE_ferrota")).arg("lsp"));
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
