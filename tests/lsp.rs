//! `ferrota lsp` end to end over an in-memory connection: open a broken config, get its
//! diagnostics with editor positions; fix it, get them cleared.

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use lsp_types::notification::{DidChangeTextDocument, DidOpenTextDocument, Initialized, Notification as _, PublishDiagnostics};
use lsp_types::{PublishDiagnosticsParams, Uri};
use std::str::FromStr;
use std::time::Duration;

fn notify<N: lsp_types::notification::Notification>(conn: &Connection, params: N::Params) {
    conn.sender.send(Message::Notification(Notification::new(N::METHOD.to_string(), params))).unwrap();
}

fn next_diagnostics(conn: &Connection) -> PublishDiagnosticsParams {
    loop {
        match conn.receiver.recv_timeout(Duration::from_secs(10)).expect("the server answers") {
            Message::Notification(n) if n.method == PublishDiagnostics::METHOD => return serde_json::from_value(n.params).unwrap(),
            _ => {}
        }
    }
}

fn start() -> (Connection, std::thread::JoinHandle<Result<(), String>>) {
    let (client, server) = Connection::memory();
    let handle = std::thread::spawn(move || ferrota::lsp::serve(&server).map_err(|e| e.to_string()));
    let init = Request::new(RequestId::from(1), "initialize".into(), serde_json::json!({"capabilities": {}}));
    client.sender.send(Message::Request(init)).unwrap();
    assert!(matches!(client.receiver.recv_timeout(Duration::from_secs(10)).unwrap(), Message::Response(_)));
    notify::<Initialized>(&client, lsp_types::InitializedParams {});
    (client, handle)
}

fn stop(client: Connection, handle: std::thread::JoinHandle<Result<(), String>>) {
    let shutdown = Request::new(RequestId::from(2), "shutdown".into(), serde_json::Value::Null);
    client.sender.send(Message::Request(shutdown)).unwrap();
    client.sender.send(Message::Notification(Notification::new("exit".into(), serde_json::Value::Null))).unwrap();
    handle.join().unwrap().unwrap();
}

/// A config made of packages: the problem inside a package (an unsaved buffer too) is published
/// on the package's own file, with the place it was included from.
#[test]
fn follows_packages_into_their_files() {
    let dir = std::env::temp_dir().join(format!("ferrota-lsp-packages-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let main = dir.join("device.yaml");
    let package = dir.join("common.yaml");
    std::fs::write(&package, "esphome:\n  name: from-package\n").unwrap();
    let (client, handle) = start();
    let uri = |p: &std::path::Path| Uri::from_str(&format!("file://{}", p.display())).unwrap();
    notify::<DidOpenTextDocument>(&client, lsp_types::DidOpenTextDocumentParams {
        text_document: lsp_types::TextDocumentItem::new(uri(&package), "yaml".into(), 1, "esphome:\n  name: from-package\nhost:\nota:\n  - platform: esphome\n    pasword: x\n".into()),
    });
    notify::<DidOpenTextDocument>(&client, lsp_types::DidOpenTextDocumentParams {
        text_document: lsp_types::TextDocumentItem::new(uri(&main), "yaml".into(), 1, "packages:\n  common: !include common.yaml\n".into()),
    });
    // The package (a config of its own too) is published on open (1), then both files once the
    // main config is open (2, 3): the last one for the package has the main config's view.
    let included = |d: &lsp_types::Diagnostic| {
        d.message.contains("[pasword]")
            && d.related_information.as_ref().is_some_and(|r| r.iter().any(|l| l.message.contains("common.yaml included from here")))
    };
    let mut found = None;
    for _ in 0..3 {
        let published = next_diagnostics(&client);
        if published.uri == uri(&package) {
            found = published.diagnostics.into_iter().find(included).or(found);
        }
    }
    let d = found.expect("the typo on the package's file, with where it was included from");
    assert_eq!(d.range.start.line, 5);
    stop(client, handle);
}

#[test]
fn publishes_and_clears_diagnostics_for_unsaved_buffers() {
    let dir = std::env::temp_dir().join(format!("ferrota-lsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("device.yaml");
    let uri = Uri::from_str(&format!("file://{}", path.display())).unwrap();
    let (client, handle) = start();

    // Never saved to disk: the server must read the buffer, not the file.
    let broken = "esphome:\n  name: test-device\nhost:\nota:\n  - platform: esphome\n    pasword: x\n";
    notify::<DidOpenTextDocument>(&client, lsp_types::DidOpenTextDocumentParams {
        text_document: lsp_types::TextDocumentItem::new(uri.clone(), "yaml".into(), 1, broken.into()),
    });
    let published = next_diagnostics(&client);
    assert_eq!(published.uri, uri);
    assert_eq!(published.diagnostics.len(), 1, "{:?}", published.diagnostics);
    let d = &published.diagnostics[0];
    assert_eq!((d.range.start.line, d.range.start.character, d.range.end.character), (5, 4, 11));
    assert!(d.message.starts_with("[pasword] is an invalid option for [ota.esphome]. Did you mean [password]?"));
    assert!(d.message.contains("help: rename `pasword` to `password`"));

    let hover = Request::new(
        RequestId::from(3),
        "textDocument/hover".into(),
        serde_json::json!({"textDocument": {"uri": uri.as_str()}, "position": {"line": 4, "character": 8}}),
    );
    client.sender.send(Message::Request(hover)).unwrap();
    let answer = loop {
        if let Message::Response(r) = client.receiver.recv_timeout(Duration::from_secs(10)).unwrap() {
            break r;
        }
    };
    let text = answer.response_result.unwrap()["contents"]["value"].as_str().unwrap().to_string();
    assert!(text.starts_with("**`platform`** · one of `esphome`, `web_server`"), "{text}");
    assert!(text.contains("ESPHome's native OTA protocol"), "{text}");

    let fixed = broken.replace("pasword", "password");
    notify::<DidChangeTextDocument>(&client, lsp_types::DidChangeTextDocumentParams {
        text_document: lsp_types::VersionedTextDocumentIdentifier::new(uri.clone(), 2),
        content_changes: vec![lsp_types::TextDocumentContentChangeEvent { range: None, range_length: None, text: fixed }],
    });
    let cleared = next_diagnostics(&client);
    assert_eq!(cleared.uri, uri);
    assert!(cleared.diagnostics.is_empty(), "{:?}", cleared.diagnostics);

    stop(client, handle);
}

/// What `ferrota compile` would stop on shows in the editor as the user types, as a warning at
/// its place (the config is valid for ESPHome).
#[test]
fn shows_what_compile_would_refuse() {
    let dir = std::env::temp_dir().join(format!("ferrota-lsp-compile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("device.yaml");
    let uri = Uri::from_str(&format!("file://{}", path.display())).unwrap();
    let (client, handle) = start();
    let text = "esphome:\n  name: test-device\nesp8266:\n  board: esp01_1m\n";
    notify::<DidOpenTextDocument>(&client, lsp_types::DidOpenTextDocumentParams {
        text_document: lsp_types::TextDocumentItem::new(uri.clone(), "yaml".into(), 1, text.into()),
    });
    let published = next_diagnostics(&client);
    let d = published.diagnostics.iter().find(|d| d.code == Some(lsp_types::NumberOrString::String("codegen::target".into()))).unwrap_or_else(|| panic!("{:?}", published.diagnostics));
    assert_eq!(d.severity, Some(lsp_types::DiagnosticSeverity::WARNING));
    assert!(d.message.starts_with("`ferrota compile` will refuse this: ferrota can't generate firmware for esp8266"), "{}", d.message);
    assert_eq!(d.range.start.line, 2, "at the target block");
    stop(client, handle);
    let _ = std::fs::remove_dir_all(&dir);
}
