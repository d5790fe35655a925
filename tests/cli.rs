//! The command line as ESPHome users type it: global options before the command, several
//! configs at once, and ESPHome's commands and flags ferrota can't honour.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn ferrota(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrota")).args(args).output().expect("running ferrota")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

const BASE: &str = "tests/corpus/packages/base.esp32-idf.yaml";
const OTA_TEST: &str = "components/ota/test.esp32-idf.yaml";

#[test]
fn substitutions_go_before_or_after_the_command() {
    let before = ferrota(&["-s", "component_name", "ota", "-s", "component_test_file", OTA_TEST, "config", BASE]);
    assert_eq!(before.status.code(), Some(0), "{}", text(&before));
    let stdout = String::from_utf8_lossy(&before.stdout);
    assert!(stdout.contains("friendly_name: ota"), "{stdout}");
    let after = ferrota(&["config", BASE, "-s", "component_name", "ota", "-s", "component_test_file", OTA_TEST]);
    assert_eq!(after.stdout, before.stdout);
    // Without them the package's file name is the unresolved `$component_test_file`.
    let without = ferrota(&["config", BASE]);
    assert_eq!(without.status.code(), Some(2), "{}", text(&without));
}

#[test]
fn quiet_and_verbose() {
    let args = ["-s", "component_name", "ota", "-s", "component_test_file", OTA_TEST];
    let quiet = ferrota(&[&args[..], &["-q", "config", BASE]].concat());
    assert_eq!(quiet.status.code(), Some(0));
    assert!(quiet.stderr.is_empty(), "{}", String::from_utf8_lossy(&quiet.stderr));
    let verbose = ferrota(&[&args[..], &["-v", "config", BASE]].concat());
    let plain = ferrota(&[&args[..], &["config", BASE]].concat());
    let (v, p) = (String::from_utf8_lossy(&verbose.stdout), String::from_utf8_lossy(&plain.stdout));
    assert!(v.contains("wifi_wificomponent") && !p.contains("wifi_wificomponent"), "-v shows generated ids:\n{v}");
}

#[test]
fn no_defaults_prints_only_what_the_config_says() {
    let out = ferrota(&["config", "--no-defaults", "tests/corpus/valid/host-minimal.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let yaml = String::from_utf8_lossy(&out.stdout);
    assert_eq!(yaml, "esphome:\n  name: test-device\nhost: {}\nota:\n  - platform: esphome\n");
    let full = ferrota(&["config", "tests/corpus/valid/host-minimal.yaml"]);
    assert!(String::from_utf8_lossy(&full.stdout).contains("safe_mode:"), "the full output has the defaults");
}

#[test]
fn several_configs_give_a_result_each_and_a_summary() {
    let valid = "tests/corpus/valid/host-minimal.yaml";
    let invalid = "tests/corpus/invalid/unknown-key.yaml";
    let out = ferrota(&["config", valid, invalid]);
    assert_eq!(out.status.code(), Some(2));
    let all = text(&out);
    assert!(all.contains(&format!("{valid} is valid")), "{all}");
    assert!(all.contains(&format!("{invalid} is invalid: 1 error")), "{all}");
    assert!(all.contains("2 configs: 1 valid, 1 invalid"), "{all}");
    let ok = ferrota(&["config", valid, valid]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
}

#[test]
fn esphome_commands_ferrota_lacks_get_a_clear_message() {
    let out = ferrota(&["logs", "x.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let all = text(&out);
    assert!(all.contains("ferrota has no `logs` command (ESPHome has one; ferrota doesn't yet)"), "{all}");
    let speed = ferrota(&["upload", "x.yaml", "--upload_speed", "460800"]);
    assert_eq!(speed.status.code(), Some(2));
    assert!(text(&speed).contains("ferrota uploads over the network only"), "{}", text(&speed));
    let reset = ferrota(&["run", "x.yaml", "--reset"]);
    assert!(text(&reset).contains("--reset is for ESPHome's serial uploads"), "{}", text(&reset));
    let testing = ferrota(&["--testing-mode", "config", "x.yaml"]);
    assert_eq!(testing.status.code(), Some(2));
    assert!(text(&testing).contains("--testing-mode"), "{}", text(&testing));
    let version = ferrota(&["version"]);
    assert!(text(&version).starts_with("Version: ferrota "), "{}", text(&version));
}

#[test]
fn clean_removes_the_build_folder() {
    let dir = common::TempDir::new("cli-clean");
    let config = dir.path("device.yaml");
    std::fs::write(&config, "esphome:\n  name: cleanme\nhost:\n").unwrap();
    let build = dir.path(".ferrota/build/cleanme");
    std::fs::create_dir_all(build.join("src")).unwrap();
    std::fs::write(build.join("src/main.rs"), "fn main() {}").unwrap();
    let out = ferrota(&["clean", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!build.exists());
    assert!(Path::new(&config).exists(), "the config itself stays");
    let again = ferrota(&["clean", config.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0));
    assert!(text(&again).contains("Nothing to clean"));
}
