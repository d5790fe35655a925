//! End to end on this computer: `ferrota compile` a host config, run the firmware, update it
//! over the air with `ferrota upload` (and ESPHome's own espota2), and watch the device
//! re-exec into the new build; ESPHome's password rotation recipe; safe mode after a boot loop.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes `device.yaml` (a host device on a free port) into `dir`; returns its path and port.
fn write_config(dir: &TempDir, name: &str, body: &str) -> (PathBuf, u16) {
    let port = free_port();
    let path = dir.path("device.yaml");
    let yaml = body.replace("{name}", name).replace("{port}", &port.to_string());
    std::fs::write(&path, yaml).unwrap();
    (path, port)
}

/// `ferrota compile CONFIG`; returns the image path (the last stdout line) and the log.
fn compile(config: &Path, extra: &[&str]) -> (PathBuf, String) {
    // No rustc warning in the generated code may slip through (lambda warnings stay warnings).
    let out = Command::new(env!("CARGO_BIN_EXE_ferrota")).arg("compile").arg(config).arg("--deny-warnings").args(extra).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let log = format!("{}{stdout}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "ferrota compile failed:\n{log}");
    let last = stdout.lines().last().unwrap_or_default();
    (PathBuf::from(last), log)
}

/// `ferrota upload CONFIG --device 127.0.0.1 --file IMAGE [extra]`: (exit code, log).
fn upload(config: &Path, image: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["upload", config.to_str().unwrap(), "--device", "127.0.0.1", "--file", image.to_str().unwrap()];
    args.extend_from_slice(extra);
    ferrota(&args)
}

/// Starts a built firmware (it supervises itself) and waits for its OTA port.
fn start(image: &Path, port: u16) -> Device {
    let device = Device::spawn(image, &[], &[], port);
    device.wait_for("listening on port", 1);
    device
}

const DEVICE: &str = "esphome:
  name: {name}
  on_boot:
    - priority: 600
      then:
        - logger.log:
            format: \"build %s booted\"
            args: ['\"one\"']
host:
logger:
ota:
  - platform: esphome
    port: {port}
    password: \"s3cret\"
    on_end:
      - logger.log: \"OTA done\"
";

#[test]
fn compile_run_upload_and_the_device_reexecs_into_the_new_build() {
    let dir = TempDir::new("cg-e2e");
    let (config, port) = write_config(&dir, "cg-e2e", DEVICE);
    let (image, log) = compile(&config, &[]);
    assert_eq!(image, dir.path(".ferrota/build/cg-e2e/firmware.bin"), "{log}");
    assert!(image.is_file());

    // Regenerating an unchanged config rewrites nothing.
    let (project, log) = compile(&config, &["--only-generate"]);
    assert_eq!(project, dir.path(".ferrota/build/cg-e2e"));
    assert!(log.contains("(0 files written, 4 unchanged)"), "{log}");

    let device = start(&image, port);
    device.wait_for("[D][main]: build one booted", 1);

    // A changed build: only the text of the boot message differs.
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap().replace("'\"one\"'", "'\"two\"'")).unwrap();
    let (new_image, log) = compile(&config, &[]);
    assert!(log.contains("1 file written"), "{log}");
    let (code, log) = upload(&config, &new_image, &[]);
    assert_eq!(code, 0, "{log}\ndevice:\n{}", device.output());
    device.wait_for("[D][main]: OTA done", 1);
    device.wait_for("[D][main]: build two booted", 1);
    assert_eq!(device.count("is running"), 2, "{}", device.output());
}

const ROTATION: &str = "esphome:
  name: {name}
  on_boot:
    - lambda: |-
        id(my_ota).set_auth_password(\"{new}\");
host:
ota:
  - platform: esphome
    id: my_ota
    port: {port}
    password: \"Old password\"
";

/// A device built from ESPHome's rotation recipe with `new` as the on_boot password.
fn rotation_device(dir: &TempDir, name: &str, new: &str) -> (PathBuf, PathBuf, Device) {
    let (config, port) = write_config(dir, name, &ROTATION.replace("{new}", new));
    let (image, _) = compile(&config, &[]);
    let device = start(&image, port);
    (config, image, device)
}

#[test]
fn password_rotation_with_our_client() {
    let dir = TempDir::new("cg-rotate");
    let (config, image, device) = rotation_device(&dir, "cg-rotate", "New password");
    let (code, log) = upload(&config, &image, &["--password", "Old password"]);
    assert_eq!(code, 1, "the old password must be refused:\n{log}");
    assert!(log.contains("ERROR_AUTH_INVALID"), "{log}");
    let (code, log) = upload(&config, &image, &["--password", "New password"]);
    assert_eq!(code, 0, "{log}\ndevice:\n{}", device.output());
    device.wait_for("is running", 2);
}

#[test]
fn password_rotation_with_esphomes_espota2() {
    let Some(venv) = esphome_venv("password_rotation_with_esphomes_espota2") else { return };
    let dir = TempDir::new("cg-rotate-esp");
    let (_, image, device) = rotation_device(&dir, "cg-rotate-esp", "New password");
    let (rc, log) = espota2(&venv, device.port, Some("Old password"), &image);
    assert_eq!(rc, 1, "the old password must be refused:\n{log}");
    assert!(log.contains("Authentication invalid. Is the password correct?"), "{log}");
    let (rc, log) = espota2(&venv, device.port, Some("New password"), &image);
    assert_eq!(rc, 0, "{log}\ndevice:\n{}", device.output());
    assert!(log.contains("OTA successful"), "{log}");
    device.wait_for("is running", 2);
}

#[test]
fn set_auth_password_to_empty_turns_auth_off() {
    let dir = TempDir::new("cg-nopw");
    let (config, image, device) = rotation_device(&dir, "cg-nopw", "");
    let (code, log) = upload(&config, &image, &["--password", ""]);
    assert_eq!(code, 0, "{log}\ndevice:\n{}", device.output());
    assert!(log.contains("Handshake complete (no password)"), "{log}");
    device.wait_for("is running", 2);
}

/// ESPHome 2026.10's `espota2.run_ota` against our device: (exit code, log).
fn espota2(venv: &Path, port: u16, password: Option<&str>, image: &Path) -> (i32, String) {
    const RUN_OTA: &str = "import logging, sys
from pathlib import Path
logging.basicConfig(level=logging.DEBUG, format='%(levelname)s %(message)s')
from esphome.espota2 import run_ota
password = sys.argv[3] if len(sys.argv) > 3 else None
rc, _ = run_ota('127.0.0.1', int(sys.argv[1]), password, Path(sys.argv[2]))
sys.exit(rc)
";
    let mut cmd = Command::new(venv.join("bin/python"));
    cmd.args(["-c", RUN_OTA, &port.to_string(), image.to_str().unwrap()]);
    cmd.args(password);
    let out = cmd.output().unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), log)
}

const CRASHING: &str = "esphome:
  name: {name}
  on_boot:
    - lambda: |-
        {boot}
host:
logger:
ota:
  - platform: esphome
    port: {port}
safe_mode:
  num_attempts: 3
  boot_is_good_after: 2s
";

#[test]
fn a_boot_loop_ends_in_safe_mode_which_takes_a_good_build() {
    let dir = TempDir::new("cg-safe");
    let (config, port) = write_config(&dir, "cg-safe", &CRASHING.replace("{boot}", "panic!(\"broken build\");"));
    let (bad, _) = compile(&config, &[]);
    let device = Device::spawn(&bad, &[], &[], port);
    // Boots 1 to num_attempts crash in on_boot; the next one is in safe mode with only OTA.
    device.wait_for("SAFE MODE IS ACTIVE", 1);
    device.wait_for("listening on port", 1);
    assert_eq!(device.count("panicked"), 3, "{}", device.output());
    assert_eq!(device.count("is running"), 4);

    // A good build over the air: it boots (on_boot runs) and stays up past boot_is_good_after.
    let good_dir = TempDir::new("cg-safe-good");
    let good_config = good_dir.path("device.yaml");
    let good = std::fs::read_to_string(&config).unwrap().replace("panic!(\"broken build\");", "println!(\"good build booted\");");
    std::fs::write(&good_config, good).unwrap();
    let (good_image, _) = compile(&good_config, &[]);
    let (code, log) = upload(&config, &good_image, &[]);
    assert_eq!(code, 0, "{log}\ndevice:\n{}", device.output());
    device.wait_for("good build booted", 1);
    device.wait_for("build confirmed", 1);
    assert_eq!(device.count("panicked"), 3, "{}", device.output());
    assert_eq!(device.count("SAFE MODE IS ACTIVE"), 1);
}

/// `ferrota compile` that should fail, run in the config's folder with a relative path (as a
/// user types it): (exit code, log).
fn compile_failing(config: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrota"))
        .current_dir(config.parent().unwrap())
        .arg("compile")
        .arg(config.file_name().unwrap())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn a_rust_error_in_a_lambda_is_shown_at_its_yaml_line() {
    let dir = TempDir::new("cg-rustc");
    let body = "esphome:\n  name: {name}\n  on_boot:\n    - lambda: |-\n        let ok = 1;\n        let level: u8 = \"high\";\nhost:\nota:\n  - platform: esphome\n    port: {port}\n";
    let (config, _) = write_config(&dir, "cg-rustc", body);
    let (code, log) = compile_failing(&config);
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("mismatched types"), "{log}");
    assert!(log.contains("device.yaml:6:25"), "the error points at the string on YAML line 6:\n{log}");
}

#[test]
fn an_unknown_id_in_a_lambda_is_a_config_error_before_any_rust() {
    let dir = TempDir::new("cg-unknown-id");
    let body = "esphome:\n  name: {name}\n  on_boot:\n    - lambda: id(my_otaa).set_auth_password(\"x\");\nhost:\nota:\n  - platform: esphome\n    id: my_ota\n    port: {port}\n";
    let (config, _) = write_config(&dir, "cg-unknown-id", body);
    let (code, log) = compile_failing(&config);
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("Couldn't find ID 'my_otaa'"), "{log}");
    assert!(log.contains("device.yaml:4:"), "{log}");
    assert!(!log.contains("Compiling"), "no cargo run for an invalid config:\n{log}");
}

#[test]
fn every_unusable_id_in_a_lambda_is_reported_at_its_own_reference() {
    let dir = TempDir::new("cg-id-spans");
    let body = "esphome:\n  name: {name}\n  on_boot:\n    - lambda: |-\n        let _ = id(guard);\n        id(my_ota).set_auth_password(\"x\");\n        let _ = id( x );\nhost:\nlogger:\n  id: x\nsafe_mode:\n  id: guard\nota:\n  - platform: esphome\n    id: my_ota\n    port: {port}\n    on_progress:\n      - lambda: 'let _ = (x, id(x));'\n";
    let (config, _) = write_config(&dir, "cg-id-spans", body);
    let (code, log) = compile_failing(&config);
    assert_eq!(code, 2, "{log}");
    // Line 5 `id(guard)` (safe_mode), line 7 `id( x )` (logger), line 18 `id(x)` (shadowed by
    // on_progress's `x`): each at its column, all in one run.
    for (place, message) in [
        ("device.yaml:5:17", "`id(guard)` names a `safe_mode` component"),
        ("device.yaml:7:17", "`id(x)` names a `logger` component"),
        ("device.yaml:18:30", "the ID `x` has the name of this trigger's variable `x`"),
    ] {
        assert!(log.contains(place) && log.contains(message), "{place}: {message}\n{log}");
    }
    assert!(log.contains("3 errors"), "{log}");
}

#[test]
fn ota_encryption_is_refused_not_ignored() {
    let dir = TempDir::new("cg-encryption");
    let body = "esphome:\n  name: {name}\nhost:\napi:\n  encryption:\n    key: \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\"\nota:\n  - platform: esphome\n    port: {port}\n    encryption:\n";
    let (config, _) = write_config(&dir, "cg-encryption", body);
    let (code, log) = compile_failing(&config);
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("does not implement Noise encryption"), "{log}");
    assert!(!log.contains("Compiling"), "no cargo run for a refused config:\n{log}");
}

#[test]
fn run_compiles_builds_and_becomes_the_host_device() {
    let dir = TempDir::new("cg-run");
    let (config, port) = write_config(&dir, "cg-run", DEVICE);
    let ferrota = PathBuf::from(env!("CARGO_BIN_EXE_ferrota"));
    let config_arg = config.to_string_lossy().to_string();
    // No --file and no earlier compile: `run` compiles and builds first, then the process
    // becomes the device (dropping it stops the device).
    let device = Device::spawn(&ferrota, &["run", &config_arg], &[], port);
    device.wait_for("[D][main]: build one booted", 1);
    device.wait_for("listening on port", 1);
    assert!(dir.path(".ferrota/build/cg-run/firmware.bin").is_file());
    let (code, log) = upload(&config, &dir.path(".ferrota/build/cg-run/firmware.bin"), &["--device", "127.0.0.1"]);
    assert_eq!(code, 0, "{log}");
    device.wait_for("[D][main]: build one booted", 2);
}

#[test]
fn a_password_the_device_cant_keep_is_refused_up_front() {
    let dir = TempDir::new("cg-long-pw");
    let long = "x".repeat(129);
    let body = format!(
        "esphome:\n  name: {{name}}\n  on_boot:\n    - lambda: id(my_ota).set_auth_password(\"{long}\");\nhost:\nota:\n  - platform: esphome\n    id: my_ota\n    port: {{port}}\n    password: \"{long}\"\n"
    );
    let (config, _) = write_config(&dir, "cg-long-pw", &body);
    let (code, log) = compile_failing(&config);
    assert_eq!(code, 2, "{log}");
    assert_eq!(log.matches("codegen::password-length").count(), 2, "{log}");
    assert!(!log.contains("Compiling"), "{log}");
}
