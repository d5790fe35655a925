//! ferrota in real editors: the committed JSON Schema is what `ferrota schema` prints; Red Hat's
//! yaml-language-server (VS Code's YAML extension) with that schema accepts every example and
//! real-world config ESPHome accepts, and flags a misspelt key; headless Neovim with `ferrota
//! lsp` shows a diagnostic on its line, applies the quick fix, and sees it cleared.
//!
//! yaml-language-server comes from npm and Neovim from Debian; without them these tests say
//! SKIPPED, unless `FERROTA_REQUIRE_EDITORS=1` (CI installs them).

use ferrota_test_support::LspProcess;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const SCHEMA: &str = "schema/ferrota.schema.json";

#[test]
fn the_committed_json_schema_is_current() {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrota")).arg("schema").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read_to_string(root().join(SCHEMA)).unwrap();
    assert!(
        committed == String::from_utf8(out.stdout).unwrap(),
        "{SCHEMA} is out of date with schema/: run `cargo run -- schema > {SCHEMA}` and commit it"
    );
}

/// The YAML extension's settings the README shows: the schema and ESPHome's tags.
fn yaml_settings() -> Value {
    let schema = format!("file://{}", root().join(SCHEMA).display());
    json!({"yaml": {
        "schemas": {schema: ["*.yaml"]},
        "customTags": ["!secret scalar", "!include scalar", "!include mapping", "!lambda scalar", "!env_var scalar", "!extend scalar", "!remove scalar"],
        "validate": true,
        "schemaStore": {"enable": false},
        "yamlVersion": "1.1",
    }})
}

/// Every `device.yaml`-like config the repository and the real-world corpus hold that ESPHome
/// accepts (the corpus records ESPHome's verdict).
fn accepted_configs() -> Vec<PathBuf> {
    let mut configs = Vec::new();
    for dir in std::fs::read_dir(root().join("examples")).unwrap().flatten() {
        for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let name = file.file_name().to_string_lossy().to_string();
            if name.ends_with(".yaml") && name != "secrets.yaml" {
                configs.push(file.path());
            }
        }
    }
    let corpus = root().join("../shared/corpus/real-world");
    for case in std::fs::read_dir(&corpus).unwrap().flatten() {
        if std::fs::read_to_string(case.path().join("esphome.rc")).is_ok_and(|rc| rc.trim() == "0") {
            configs.push(case.path().join("device.yaml"));
        }
    }
    configs.sort();
    configs
}

fn uri(path: &Path) -> String {
    let folder = path.parent().unwrap().canonicalize().unwrap();
    format!("file://{}", folder.join(path.file_name().unwrap()).display())
}

/// Opens `path` with `text` and returns the errors the server publishes for it.
fn errors_for(server: &mut LspProcess, path: &Path, text: &str) -> Vec<Value> {
    let uri = uri(path);
    server.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}));
    let published = server.next(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri.as_str());
    published["params"]["diagnostics"].as_array().unwrap().iter().filter(|d| d["severity"] == 1).cloned().collect()
}

#[test]
fn yaml_language_server_with_the_schema_accepts_real_configs_and_flags_a_typo() {
    let Some(server_js) = ferrota_test_support::yaml_language_server("yaml_language_server") else { return };
    let mut server = LspProcess::start(Command::new("node").arg(&server_js).arg("--stdio"));
    let capabilities = json!({"textDocument": {"publishDiagnostics": {}}, "workspace": {"configuration": false}});
    let reply = server.request(1, "initialize", json!({"processId": null, "rootUri": null, "capabilities": capabilities}));
    assert!(reply.get("result").is_some(), "{reply}");
    server.notify("initialized", json!({}));
    // yaml-language-server pulls its settings with a `workspace/configuration` request.
    server.notify("workspace/didChangeConfiguration", json!({"settings": null}));
    let pull = server.next(|m| m["method"] == "workspace/configuration");
    let sections: Vec<Value> = pull["params"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| if item["section"] == "yaml" { yaml_settings()["yaml"].clone() } else { json!({}) })
        .collect();
    server.send(json!({"jsonrpc": "2.0", "id": pull["id"], "result": sections}));

    let configs = accepted_configs();
    assert!(configs.len() >= 20, "{configs:?}");
    let mut rejected = Vec::new();
    for config in &configs {
        let text = std::fs::read_to_string(config).unwrap();
        let errors = errors_for(&mut server, config, &text);
        if !errors.is_empty() {
            let lines: Vec<String> = errors.iter().map(|e| format!("{}: {}", e["range"]["start"]["line"], e["message"])).collect();
            rejected.push(format!("{}: {lines:?}", config.display()));
        }
    }
    assert!(rejected.is_empty(), "the JSON Schema rejects configs ESPHome accepts:\n{}", rejected.join("\n"));

    // A misspelt key in a real config: flagged on its line.
    let config = configs.iter().find(|c| std::fs::read_to_string(c).unwrap().contains("  - platform: esphome\n")).expect("a config with ESPHome OTA");
    let text = std::fs::read_to_string(config).unwrap();
    let typo = text.replacen("  - platform: esphome\n", "  - platform: esphome\n    pasword: hunter2\n", 1);
    let line = typo.lines().position(|l| l.contains("pasword")).unwrap();
    // Another name: the server already has the config open.
    let errors = errors_for(&mut server, &config.with_file_name("device-with-typo.yaml"), &typo);
    assert!(
        errors.iter().any(|e| e["range"]["start"]["line"] == line && e["message"].as_str().unwrap().contains("pasword")),
        "{}: expected the misspelt key flagged on line {line}: {errors:?}",
        config.display()
    );
    server.request(2, "shutdown", Value::Null);
    server.notify("exit", Value::Null);
    server.wait();
}

/// Headless Neovim 0.7 runs `ferrota lsp` as its language server for a config with a typo:
/// the diagnostic is on the typo's line, completion answers, the quick fix applied through
/// Neovim clears it, and stopping the client ends the server.
#[test]
fn neovim_shows_fixes_and_clears_a_diagnostic() {
    let Some(nvim) = ferrota_test_support::neovim("neovim") else { return };
    let dir = std::env::temp_dir().join(format!("ferrota-neovim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("device.yaml");
    std::fs::write(&config, "esphome:\n  name: in-neovim\nhost:\nlogger:\nota:\n  - platform: esphome\n    pasword: hunter2\n").unwrap();
    let script = dir.join("test.lua");
    std::fs::write(&script, NEOVIM_SCRIPT).unwrap();
    let result = dir.join("result.json");
    let mut child = Command::new(nvim)
        .args(["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c"])
        .arg(format!("luafile {}", script.display()))
        .env("FERROTA_BIN", env!("CARGO_BIN_EXE_ferrota"))
        .env("FERROTA_CONFIG", &config)
        .env("FERROTA_RESULT", &result)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("Neovim did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let result: Value = serde_json::from_str(&std::fs::read_to_string(&result).expect("the script wrote its result")).unwrap();
    assert_eq!(result["error"], Value::Null, "{result}");
    assert_eq!(result["before"]["lnum"], 6, "the typo's line (0-based): {result}");
    assert!(result["before"]["message"].as_str().unwrap().contains("[pasword] is an invalid option"), "{result}");
    assert!(result["completion"].as_array().unwrap().iter().any(|l| l == "password"), "{result}");
    assert_eq!(result["action"], "Change `pasword` to `password`", "{result}");
    assert_eq!(result["after"]["count"], 0, "{result}");
    assert_eq!(result["line"], "    password: hunter2", "{result}");
    assert_eq!(result["stopped"], true, "{result}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Drives Neovim's own LSP client (0.7 API); writes what it saw as JSON and quits.
const NEOVIM_SCRIPT: &str = r#"
local out = {}
local function finish()
  vim.fn.writefile({ vim.fn.json_encode(out) }, os.getenv("FERROTA_RESULT"))
  vim.cmd("qa!")
end
local ok, err = pcall(function()
  vim.cmd("edit " .. os.getenv("FERROTA_CONFIG"))
  local buf = vim.api.nvim_get_current_buf()
  local id = vim.lsp.start_client({ name = "ferrota", cmd = { os.getenv("FERROTA_BIN"), "lsp" }, root_dir = vim.fn.getcwd() })
  vim.lsp.buf_attach_client(buf, id)
  local uri = vim.uri_from_bufnr(buf)
  assert(vim.wait(15000, function() return #vim.diagnostic.get(buf) > 0 end, 20), "no diagnostics within 15 s")
  local d = vim.diagnostic.get(buf)[1]
  out.before = { lnum = d.lnum, message = d.message, count = #vim.diagnostic.get(buf) }

  local answers = vim.lsp.buf_request_sync(buf, "textDocument/completion", { textDocument = { uri = uri }, position = { line = 6, character = 6 } }, 5000)
  out.completion = {}
  for _, answer in pairs(answers or {}) do
    for _, item in ipairs(answer.result or {}) do table.insert(out.completion, item.label) end
  end

  local range = { start = { line = d.lnum, character = d.col }, ["end"] = { line = d.end_lnum, character = d.end_col } }
  local actions = vim.lsp.buf_request_sync(buf, "textDocument/codeAction", { textDocument = { uri = uri }, range = range, context = { diagnostics = vim.lsp.diagnostic.get_line_diagnostics(buf, d.lnum) } }, 5000)
  local client = vim.lsp.get_client_by_id(id)
  for _, answer in pairs(actions or {}) do
    local action = (answer.result or {})[1]
    if action then
      out.action = action.title
      vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding)
    end
  end
  assert(vim.wait(15000, function() return #vim.diagnostic.get(buf) == 0 end, 20), "the diagnostic stayed after the fix")
  out.after = { count = #vim.diagnostic.get(buf) }
  out.line = vim.api.nvim_buf_get_lines(buf, 6, 7, false)[1]

  vim.lsp.stop_client(id)
  out.stopped = vim.wait(10000, function() return vim.lsp.client_is_stopped(id) end, 20)
end)
if not ok then out.error = tostring(err) end
finish()
"#;

/// The VS Code extension packages to a `.vsix` with Microsoft's `vsce`, with what it needs to
/// start `ferrota lsp`: its manifest, its script and the language client library.
#[test]
fn the_vscode_extension_packages() {
    let have_npm = Command::new("npm").arg("--version").output().is_ok_and(|o| o.status.success());
    if !have_npm {
        let why = "no node and npm";
        assert!(std::env::var("FERROTA_REQUIRE_EDITORS").as_deref() != Ok("1"), "the VS Code extension: {why}");
        eprintln!("SKIPPED the_vscode_extension_packages: {why}");
        return;
    }
    let vsix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ferrota-vscode.vsix");
    let _ = std::fs::remove_file(&vsix);
    let out = Command::new(root().join("scripts/package-vscode")).arg(&vsix).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = Command::new("python3")
        .args(["-c", "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))"])
        .arg(&vsix)
        .output()
        .unwrap();
    let files = String::from_utf8(list.stdout).unwrap();
    for needed in ["extension/package.json", "extension/extension.js", "extension/node_modules/vscode-languageclient/node.js", "extension.vsixmanifest"] {
        assert!(files.lines().any(|f| f == needed), "{needed} is not in the .vsix:\n{files}");
    }
}
