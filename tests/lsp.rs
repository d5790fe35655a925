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

fn request(client: &Connection, id: i32, method: &str, params: serde_json::Value) -> serde_json::Value {
    client.sender.send(Message::Request(Request::new(RequestId::from(id), method.into(), params))).unwrap();
    loop {
        if let Message::Response(r) = client.receiver.recv_timeout(Duration::from_secs(10)).expect("the server answers") {
            assert_eq!(r.id, RequestId::from(id));
            return r.response_result.unwrap_or_else(|e| panic!("{method} failed: {e:?}"));
        }
    }
}

/// The labels completion offers at `line`/`character` of `uri`.
fn completions(client: &Connection, id: i32, uri: &Uri, line: u32, character: u32) -> Vec<serde_json::Value> {
    let params = serde_json::json!({"textDocument": {"uri": uri.as_str()}, "position": {"line": line, "character": character}});
    let answer = request(client, id, "textDocument/completion", params);
    answer.as_array().cloned().unwrap_or_default()
}

fn labels(items: &[serde_json::Value]) -> Vec<&str> {
    items.iter().map(|i| i["label"].as_str().unwrap()).collect()
}

/// Completion in context: top-level components, a platform entry's keys (typed, with defaults
/// and docs), `platform:` and enum values, actions, declared IDs in `id(…)` and in ID-typed
/// keys, `!secret` names from the secrets file the loader reads, and files after `!include`.
#[test]
fn completes_what_fits_at_the_cursor() {
    let dir = std::env::temp_dir().join(format!("ferrota-lsp-complete-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("common")).unwrap();
    std::fs::write(dir.join("secrets.yaml"), "ota_password: hunter2\nwifi_ssid: home\n").unwrap();
    std::fs::write(dir.join("common/base.yaml"), "logger:\n").unwrap();
    std::fs::write(dir.join("extra.yaml"), "wifi:\n").unwrap();
    let path = dir.join("device.yaml");
    let uri = Uri::from_str(&format!("file://{}", path.display())).unwrap();
    let (client, handle) = start();
    // A whole config; each case below puts one half-written line in it, as a user would.
    let lines = [
        "esphome:",                                  // 0
        "  name: test-device",                       // 1
        "  on_boot:",                                // 2
        "    - lambda: |-",                          // 3
        "        id(my_ota).set_auth_password(\"x\");", // 4
        "    - logger.log: booted",                  // 5
        "host:",                                     // 6
        "logger:",                                   // 7
        "  level: DEBUG",                            // 8
        "ota:",                                      // 9
        "  - platform: esphome",                     // 10
        "    id: my_ota",                            // 11
        "    password: !secret ota_password",        // 12
        "  - platform: web_server",                  // 13
        "packages:",                                 // 14
        "  base: !include common/base.yaml",         // 15
    ];
    let mut version = 1;
    let mut typing = |line: usize, text: &str, character: u32| {
        let mut all: Vec<&str> = lines.to_vec();
        if line == all.len() {
            all.push(text);
        } else {
            all[line] = text;
        }
        version += 1;
        if version == 2 {
            notify::<DidOpenTextDocument>(&client, lsp_types::DidOpenTextDocumentParams {
                text_document: lsp_types::TextDocumentItem::new(uri.clone(), "yaml".into(), 1, lines.join("\n") + "\n"),
            });
            next_diagnostics(&client);
        }
        notify::<DidChangeTextDocument>(&client, lsp_types::DidChangeTextDocumentParams {
            text_document: lsp_types::VersionedTextDocumentIdentifier::new(uri.clone(), version),
            content_changes: vec![lsp_types::TextDocumentContentChangeEvent { range: None, range_length: None, text: all.join("\n") + "\n" }],
        });
        next_diagnostics(&client);
        completions(&client, version, &uri, line as u32, character)
    };

    let top = typing(16, "wi", 2);
    assert!(labels(&top).contains(&"wifi") && labels(&top).contains(&"web_server"), "{:?}", labels(&top));
    assert!(!labels(&top).contains(&"captive_portal"), "not on host: {:?}", labels(&top));
    assert!(!labels(&top).contains(&"esphome"), "already written");
    let wifi = top.iter().find(|i| i["label"] == "wifi").unwrap();
    assert_eq!(wifi["textEdit"]["newText"], "wifi:");
    assert_eq!(wifi["textEdit"]["range"]["start"], serde_json::json!({"line": 16, "character": 0}), "replaces the typed word");

    let keys = typing(13, "    pa", 6);
    assert!(labels(&keys).contains(&"port") && labels(&keys).contains(&"on_begin"), "{:?}", labels(&keys));
    for written in ["platform", "id", "password"] {
        assert!(!labels(&keys).contains(&written), "{written} is already there");
    }
    assert!(!labels(&keys).contains(&"safe_mode"), "moved keys are not offered");
    let port = keys.iter().find(|i| i["label"] == "port").unwrap();
    assert_eq!(port["detail"], "port (1–65535) · default 8266 on esp8266, 3232 on esp32, 2040 on rp2040, 8892 on bk72xx, 8820 on ln882x, 8892 on rtl87xx, 8082 on host");
    assert!(port["documentation"]["value"].as_str().unwrap().contains("The TCP port"));
    assert_eq!(port["textEdit"]["newText"], "port: ");

    assert_eq!(labels(&typing(13, "  - platform: ", 14)), ["esphome", "web_server"]);
    assert!(labels(&typing(8, "  level: ", 9)).starts_with(&["NONE", "ERROR", "WARN", "INFO", "DEBUG"]));
    let actions = typing(5, "    - ", 6);
    assert!(labels(&actions).contains(&"logger.log") && labels(&actions).contains(&"delay"), "{:?}", labels(&actions));
    assert_eq!(labels(&typing(12, "    password: !secret ", 22)), ["ota_password", "wifi_ssid"]);
    assert_eq!(labels(&typing(15, "  base: !include ", 17)), ["common/", "extra.yaml"]);
    assert_eq!(labels(&typing(15, "  base: !include common/", 24)), ["base.yaml"]);
    let ids = typing(4, "        id(my_ota).set_auth_password(\"x\");", 11);
    assert_eq!(labels(&ids), ["my_ota"]);
    assert_eq!(ids[0]["textEdit"]["range"]["end"], serde_json::json!({"line": 4, "character": 17}), "the whole name under the cursor");
    assert_eq!(ids[0]["detail"], "esphome::ESPHomeOTAComponent");

    stop(client, handle);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Quick fixes come from the diagnostics' own help: a misspelt key renamed, a key that moved
/// out of `ota:` moved, the old `ota:` mapping written as a list. Each applied edit clears
/// its diagnostic.
#[test]
fn offers_quick_fixes() {
    let dir = std::env::temp_dir().join(format!("ferrota-lsp-fixes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let uri = Uri::from_str(&format!("file://{}", dir.join("device.yaml").display())).unwrap();
    let (client, handle) = start();
    let mut text = "esphome:\n  name: fixes\nhost:\nota:\n  password: abc\n".to_string();
    notify::<DidOpenTextDocument>(&client, lsp_types::DidOpenTextDocumentParams {
        text_document: lsp_types::TextDocumentItem::new(uri.clone(), "yaml".into(), 1, text.clone()),
    });
    let mut published = next_diagnostics(&client);
    let mut version = 1;
    for (id, expected_title) in [
        (20, "Write it as a list entry: `- platform: esphome`"),
        (21, "Change `pasword` to `password`"),
        (22, "Move `num_attempts` to the top-level `safe_mode:`"),
    ] {
        assert_eq!(published.diagnostics.len(), 1, "{:?}", published.diagnostics);
        let range = published.diagnostics[0].range;
        let params = serde_json::json!({
            "textDocument": {"uri": uri.as_str()},
            "range": range,
            "context": {"diagnostics": [published.diagnostics[0]]},
        });
        let actions = request(&client, id, "textDocument/codeAction", params);
        let action = &actions[0];
        assert_eq!(action["title"], expected_title);
        assert_eq!(action["kind"], "quickfix");
        let edits: Vec<lsp_types::TextEdit> = serde_json::from_value(action["edit"]["changes"][uri.as_str()].clone()).unwrap();
        text = apply(&text, &edits);
        // The next problem, as a user would make it.
        text = match id {
            20 => text.replace("password: abc", "pasword: abc"),
            21 => text + "    num_attempts: 3\n",
            _ => text,
        };
        version += 1;
        notify::<DidChangeTextDocument>(&client, lsp_types::DidChangeTextDocumentParams {
            text_document: lsp_types::VersionedTextDocumentIdentifier::new(uri.clone(), version),
            content_changes: vec![lsp_types::TextDocumentContentChangeEvent { range: None, range_length: None, text: text.clone() }],
        });
        published = next_diagnostics(&client);
    }
    assert!(published.diagnostics.is_empty(), "{:?}", published.diagnostics);
    assert_eq!(text, "esphome:\n  name: fixes\nhost:\nota:\n  - platform: esphome\n    password: abc\nsafe_mode:\n  num_attempts: 3\n");
    stop(client, handle);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `text` with LSP edits applied (last first, so earlier positions stay valid).
fn apply(text: &str, edits: &[lsp_types::TextEdit]) -> String {
    let offset = |p: lsp_types::Position| {
        let line_start: usize = text.split_inclusive('\n').take(p.line as usize).map(str::len).sum();
        line_start + p.character as usize
    };
    let mut sorted = edits.to_vec();
    sorted.sort_by_key(|e| std::cmp::Reverse((e.range.start.line, e.range.start.character)));
    let mut out = text.to_string();
    for e in sorted {
        out.replace_range(offset(e.range.start)..offset(e.range.end), &e.new_text);
    }
    out
}

/// A package open on its own gets its problems from the configs on disk that use it; a change
/// to `secrets.yaml` on disk re-checks the open config; go to definition follows `!secret` to
/// its line and `!include` to its file.
#[test]
fn follows_fragments_secrets_and_includes() {
    let dir = std::env::temp_dir().join(format!("ferrota-lsp-fragments-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let uri = |name: &str| Uri::from_str(&format!("file://{}", dir.join(name).display())).unwrap();
    std::fs::write(dir.join("device.yaml"), "esphome:\n  name: fragments\nhost:\npackages:\n  common: !include common.yaml\n").unwrap();
    std::fs::write(dir.join("secrets.yaml"), "wifi_ssid: home\n").unwrap();
    let (client, handle) = start();

    // Only the package is open, with a typo: the config on disk that loads it finds it.
    notify::<DidOpenTextDocument>(&client, lsp_types::DidOpenTextDocumentParams {
        text_document: lsp_types::TextDocumentItem::new(uri("common.yaml"), "yaml".into(), 1, "ota:\n  - platform: esphome\n    prot: 8082\n    password: !secret ota_password\n".into()),
    });
    let mut on_package = None;
    for _ in 0..2 {
        let published = next_diagnostics(&client);
        if published.uri == uri("common.yaml") {
            on_package = Some(published.diagnostics);
        }
    }
    let on_package = on_package.expect("diagnostics on the package itself");
    let messages: Vec<&str> = on_package.iter().map(|d| d.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.starts_with("[prot] is an invalid option")), "{messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("Secret 'ota_password' not defined")), "{messages:?}");

    // The secret is added on disk: the editor says so, and the error goes.
    std::fs::write(dir.join("secrets.yaml"), "wifi_ssid: home\nota_password: hunter2\n").unwrap();
    let changes = serde_json::json!({"changes": [{"uri": uri("secrets.yaml").as_str(), "type": 2}]});
    client.sender.send(Message::Notification(Notification::new("workspace/didChangeWatchedFiles".into(), changes))).unwrap();
    let published = loop {
        let p = next_diagnostics(&client);
        if p.uri == uri("common.yaml") {
            break p;
        }
    };
    let messages: Vec<&str> = published.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(!messages.iter().any(|m| m.contains("Secret")), "{messages:?}");

    let at = |name: &str, line: u32, character: u32| serde_json::json!({"textDocument": {"uri": uri(name).as_str()}, "position": {"line": line, "character": character}});
    let secret = request(&client, 30, "textDocument/definition", at("common.yaml", 3, 25));
    assert_eq!(secret["uri"], uri("secrets.yaml").as_str());
    assert_eq!(secret["range"]["start"], serde_json::json!({"line": 1, "character": 0}));
    notify::<DidOpenTextDocument>(&client, lsp_types::DidOpenTextDocumentParams {
        text_document: lsp_types::TextDocumentItem::new(uri("device.yaml"), "yaml".into(), 1, std::fs::read_to_string(dir.join("device.yaml")).unwrap()),
    });
    let include = request(&client, 31, "textDocument/definition", at("device.yaml", 4, 22));
    assert_eq!(include["uri"], uri("common.yaml").as_str());
    stop(client, handle);
    let _ = std::fs::remove_dir_all(&dir);
}
