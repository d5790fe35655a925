//! Editor latency on a 300-line config: `ferrota lsp` (a process over stdio, as editors run
//! it) from a one-character change to its diagnostics, and completion; against the backend of
//! ESPHome's own VS Code extension (`esphome vscode`, also a long-running process) from a
//! validate request to its result. Prints medians and the ratio; asserts nothing
//! (run: `cargo bench --bench lsp`). Targets: each ferrota median under 2 ms.

use ferrota_test_support::LspProcess;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A valid host device of 300 lines: the host example's components and an `on_boot` of many
/// log actions (ESPHome validates it fully, so both sides do the same work).
fn config(marker: char) -> String {
    let mut text = String::from("esphome:\n  name: bench-device\n  friendly_name: Bench\n  on_boot:\n    - priority: 600\n      then:\n");
    let mut i = 0;
    while text.lines().count() < 287 {
        text.push_str(&format!("        - logger.log:\n            format: \"step {i} {marker}\"\n            level: INFO\n"));
        i += 1;
    }
    text.push_str("host:\nlogger:\n  level: DEBUG\nota:\n  - platform: esphome\n    id: my_ota\n    password: hunter2\n");
    text.push_str("    on_begin:\n      - logger.log: \"OTA starting\"\n    on_end:\n      - logger.log: \"OTA done\"\n");
    text.push_str("safe_mode:\n  num_attempts: 5\n  reboot_timeout: 1min\n");
    text
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

fn main() {
    let dir = std::env::temp_dir().join(format!("ferrota-bench-lsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench-device.yaml");
    std::fs::write(&path, config('a')).unwrap();
    let uri = format!("file://{}", path.display());
    println!("config: {} lines", config('a').lines().count());

    let mut server = LspProcess::start(Command::new(env!("CARGO_BIN_EXE_ferrota")).arg("lsp"));
    server.request(1, "initialize", json!({"capabilities": {}, "processId": null, "rootUri": null}));
    server.notify("initialized", json!({}));
    server.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": config('a')}}));
    let published = |server: &LspProcess| server.next(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri.as_str());
    let first = published(&server);
    assert_eq!(first["params"]["diagnostics"], json!([]), "the bench config is valid");

    const RUNS: usize = 200;
    let mut changes = Vec::new();
    for version in 2..RUNS as i64 + 2 {
        let text = config(if version % 2 == 0 { 'b' } else { 'a' });
        let start = Instant::now();
        server.notify("textDocument/didChange", json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}));
        published(&server);
        changes.push(start.elapsed());
    }
    let mut completions = Vec::new();
    let line = config('a').lines().position(|l| l == "    id: my_ota").unwrap();
    for id in 0..RUNS as i64 {
        let start = Instant::now();
        let reply = server.request(100 + id, "textDocument/completion", json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 4}}));
        completions.push(start.elapsed());
        assert!(reply["result"].as_array().is_some_and(|items| !items.is_empty()), "{reply}");
    }
    server.request(9999, "shutdown", Value::Null);
    server.notify("exit", Value::Null);
    let (change, completion) = (median(changes), median(completions));
    println!("ferrota lsp: diagnostics {change:.2} ms after a one-character change (median of {RUNS}; target under 2 ms)");
    println!("ferrota lsp: completion {completion:.2} ms (median of {RUNS}; target under 2 ms)");

    if let Some(venv) = ferrota_test_support::esphome_venv("esphome vscode comparison") {
        let theirs = esphome_vscode(&venv, &path);
        println!("esphome vscode (the backend of ESPHome's VS Code extension): validation {theirs:.1} ms (median of 20)");
        println!("ratio: ferrota's diagnostics arrive {:.0}x sooner", theirs / change);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `esphome vscode`: one process; each `validate` asks for the file's content, then answers.
fn esphome_vscode(venv: &Path, path: &Path) -> f64 {
    let mut child = Command::new(venv.join("bin/esphome"))
        .arg("vscode")
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut read = || -> Value {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    };
    assert_eq!(read()["type"], "version");
    let mut times = Vec::new();
    for i in 0..21 {
        let text = config(if i % 2 == 0 { 'b' } else { 'a' });
        let start = Instant::now();
        writeln!(stdin, "{}", json!({"type": "validate", "file": path})).unwrap();
        let result = loop {
            let message = read();
            match message["type"].as_str() {
                Some("read_file") => writeln!(stdin, "{}", json!({"type": "file_response", "content": text})).unwrap(),
                _ => break message,
            }
        };
        assert_eq!(result["validation_errors"], json!([]), "{result}");
        if i > 0 {
            times.push(start.elapsed());
        }
    }
    writeln!(stdin, "{}", json!({"type": "exit"})).unwrap();
    let _ = child.wait();
    median(times)
}
