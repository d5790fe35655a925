//! `web_server:` in the chip firmware: the page and `/update` are served (with `web_server: auth:`) exactly
//! when `ota: - platform: web_server` is configured and `web_server: ota:` is not false, and
//! the warnings say what of the web server is left out.

mod common;

use ferrota::codegen::{self, Options};
use ferrota::compiler;
use ferrota::source::RealFs;
use ferrota::yaml::LoadOptions;
use std::path::PathBuf;

const BASE: &str = "esphome:\n  name: ws\nesp32:\n  board: esp32-c3-devkitm-1\nwifi:\n  ssid: home\n  password: \"12345678\"\n";

/// Generates a project for `BASE` + `extra`; returns firmware.rs, main.rs and the warnings.
fn generate(name: &str, extra: &str) -> (String, String, Vec<String>) {
    let (server, main, _, warnings) = generate_all(name, extra);
    (server, main, warnings)
}

/// Like [`generate`], with automations.rs too.
fn generate_all(name: &str, extra: &str) -> (String, String, String, Vec<String>) {
    let dir = common::TempDir::new(&format!("codegen-ws-{name}"));
    let config = dir.0.join("ws.yaml");
    std::fs::write(&config, format!("{BASE}{extra}")).unwrap();
    let checked = compiler::check(&RealFs, &config, &LoadOptions::default()).unwrap();
    let out = dir.0.join("out");
    let options = Options { out_dir: out.clone(), runtime: PathBuf::from("/path/to/ferrota/runtime") };
    let generated = codegen::generate(&checked, &options).unwrap_or_else(|d| panic!("{d:?}"));
    let warnings = generated.warnings.iter().map(|d| d.message.clone()).collect();
    let server = std::fs::read_to_string(out.join("src/firmware.rs")).unwrap();
    let main = std::fs::read_to_string(out.join("src/main.rs")).unwrap();
    let automations = std::fs::read_to_string(out.join("src/automations.rs")).unwrap();
    (server, main, automations, warnings)
}

#[test]
fn update_with_basic_auth_on_the_configured_port() {
    let (server, main, warnings) = generate(
        "auth",
        "web_server:\n  port: 8080\n  auth:\n    username: admin\n    password: hunter2\nota:\n  - platform: esphome\n  - platform: web_server\n",
    );
    assert!(server.contains("let credentials = Some(ferrota_ota::web_update::Credentials { username: \"admin\", password: \"hunter2\" });"), "{server}");
    assert!(server.contains("WebServer { port: 8080, credentials, info, automations }"), "{server}");
    assert!(server.contains("let web = Some(web_server(&mut web_automations, image_md5));"), "{server}");
    assert!(main.contains("firmware::serve(&mut server, stack, components, image_md5)"), "{main}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("serves the device's page and `/update`") && warnings[0].contains("entity pages"), "{warnings:?}");
}

#[test]
fn no_auth_and_the_default_port() {
    let (server, _, _) = generate("noauth", "web_server:\nota:\n  - platform: esphome\n  - platform: web_server\n");
    assert!(server.contains("let credentials = None;"), "{server}");
    assert!(server.contains("WebServer { port: 80, credentials,"), "{server}");
}

#[test]
fn without_the_web_server_ota_platform_or_with_ota_false_there_is_no_update() {
    for (name, extra) in [
        ("noplatform", "web_server:\nota:\n  - platform: esphome\n"),
        ("otafalse", "web_server:\n  ota: false\nota:\n  - platform: esphome\n  - platform: web_server\n"),
    ] {
        let (server, _, warnings) = generate(name, extra);
        assert!(!server.contains("WebServer {") && server.contains("let web = None;"), "{name}: {server}");
        assert!(warnings.iter().any(|w| w.contains("uploads are off here")), "{name}: {warnings:?}");
    }
}

/// The body of `impl OtaListener for <name>` in firmware.rs.
fn listener<'a>(server: &'a str, name: &str) -> &'a str {
    let start = server.find(&format!("impl OtaListener for {name} {{")).unwrap_or_else(|| panic!("no {name}:\n{server}"));
    let len = server[start..].find("\n}\n").unwrap();
    &server[start..start + len]
}

#[test]
fn web_uploads_fire_the_web_server_entrys_automations() {
    let (server, main, automations, warnings) = generate_all(
        "hooks",
        "logger:\nweb_server:\nota:\n  - platform: esphome\n    on_begin:\n      - logger.log: native begin\n  - platform: web_server\n    on_begin:\n      - logger.log: web begin\n    on_progress:\n      - lambda: 'let _ = x;'\n    on_end:\n      - logger.log: web end\n    on_abort:\n      - logger.log: web abort\n    on_error:\n      - logger.log:\n          format: web error %d\n          args: [x]\n",
    );
    let native = listener(&server, "Automations");
    let web = listener(&server, "WebAutomations");
    assert!(native.contains("ota_on_begin_1(self.components)") && !native.contains("web_server"), "{native}");
    for call in ["ota_web_server_on_begin_1(self.components)", "ota_web_server_on_progress_1(self.components, x)", "ota_web_server_on_end_1(self.components)", "ota_web_server_on_abort_1(self.components)", "ota_web_server_on_error_1(self.components, x)"] {
        assert!(web.contains(call), "{call} in\n{web}");
    }
    assert!(automations.contains("web error {}\", x)"), "{automations}");
    // The web listener serves `/update` (ferrota-ota-embassy's loop mutes both in safe mode).
    assert!(server.contains("let mut web_automations = WebAutomations { components };") && server.contains("web_server(&mut web_automations"), "{server}");
    assert!(main.contains("firmware::serve("), "{main}");
    assert!(!warnings.iter().any(|w| w.contains("on_abort")), "{warnings:?}");
}

#[test]
fn on_abort_of_the_native_platform_is_left_out_with_a_warning() {
    let (server, _, automations, warnings) = generate_all("abort", "logger:\nota:\n  - platform: esphome\n    on_abort:\n      - logger.log: never\n");
    assert!(!server.contains("fn on_abort") && !automations.contains("never"), "{server}");
    assert!(warnings.iter().any(|w| w.contains("`on_abort` never fires with `platform: esphome`")), "{warnings:?}");
}
