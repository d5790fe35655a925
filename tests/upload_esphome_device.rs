//! Interop: `ferrota upload` updates a REAL ESPHome 2026.10 host device, built by
//! `esphome compile` of a `host:` config (g++, offline, ~15 s; cached under the target dir keyed
//! by the config text) and started on loopback. The device must re-exec into the uploaded image.
//!
//! Needs the reference venv (`scripts/esphome-venv`); skipped without it unless
//! `FERROTA_REQUIRE_ESPHOME=1`.

mod common;

use std::path::Path;
use std::sync::Mutex;

use common::*;

/// A `host:` device config. The port is compiled in, so each config gets its own, below the
/// ephemeral ports and outside `free_port`'s range.
fn config(name: &str, port: u16, password: Option<&str>, version: u8) -> String {
    let password = password.map(|p| format!("    password: \"{p}\"\n")).unwrap_or_default();
    format!(
        "esphome:\n  name: {name}\nhost:\nlogger:\n  level: DEBUG\nota:\n  - platform: esphome\n    port: {port}\n    version: {version}\n{password}"
    )
}

/// Uploads a new image with the CLI (port and password from the config unless `extra` says
/// otherwise); returns the exit code, the log and the image.
fn upload(dir: &TempDir, exe: &Path, marker: &str, extra: &[&str]) -> (i32, String, Vec<u8>) {
    let image = dir.path("new.bin");
    make_image(exe, &image, marker);
    let config = dir.path("device.yaml");
    let mut args = vec!["upload", config.to_str().unwrap(), "--device", "127.0.0.1", "--file", image.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, log) = ferrota(&args);
    (code, log, std::fs::read(&image).unwrap())
}

/// Checks that the device re-exec'd into `image`: its executable is now the image, and it
/// ran setup a second time after "Rebooting safely".
fn assert_rebooted_into(device: &Device, exe: &Path, image: &[u8]) {
    device.wait_for("Rebooting safely", 1);
    device.wait_for("setup() finished successfully", 2);
    assert!(std::fs::read(exe).unwrap() == image, "the device's executable is not the uploaded image");
}

fn case(test: &str, name: &str, port: u16, password: Option<&str>, version: u8) -> Option<String> {
    let venv = esphome_venv(test)?;
    let dir = TempDir::new(name);
    let yaml = config(name, port, password, version);
    let (device, exe) = start_esphome(&venv, &dir, name, &yaml, port);
    let (code, log, image) = upload(&dir, &exe, name, &[]);
    assert_eq!(code, 0, "ferrota upload failed:\n{log}\ndevice:\n{}", device.output());
    assert!(log.contains("OTA successful"), "{log}");
    assert_rebooted_into(&device, &exe, &image);
    Some(log)
}

/// The two tests on port 19261 must not run at the same time.
static PORT_19261: Mutex<()> = Mutex::new(());

#[test]
fn esphome_device_with_password() {
    let _port = PORT_19261.lock().unwrap_or_else(|p| p.into_inner());
    let Some(log) = case("esphome_device_with_password", "ferrota-interop-pw", 19261, Some("interop pass"), 2) else { return };
    assert!(log.contains("Handshake complete (SHA-256 auth)"), "{log}");
    assert!(log.contains("(deflate)"), "ESPHome 2026.10's host device offers deflate:\n{log}");
}

#[test]
fn esphome_device_with_wrong_password() {
    let Some(venv) = esphome_venv("esphome_device_with_wrong_password") else { return };
    let (name, port) = ("ferrota-interop-pw", 19261);
    let dir = TempDir::new("esphome-wrong-pw");
    let yaml = config(name, port, Some("interop pass"), 2);
    // Same config as the password case, so the same (cached) build; serialise on the port.
    let _port = PORT_19261.lock().unwrap_or_else(|p| p.into_inner());
    let (device, exe) = start_esphome(&venv, &dir, name, &yaml, port);
    let before = std::fs::read(&exe).unwrap();
    let (code, log, _) = upload(&dir, &exe, "wrong", &["--password", "not it"]);
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("error 0x82 (ERROR_AUTH_INVALID)") && log.contains("check the OTA password"), "{log}");
    assert_eq!(log.matches("Connecting to").count(), 1, "a device error is never retried:\n{log}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(device.count("Rebooting safely"), 0, "{}", device.output());
    assert!(std::fs::read(&exe).unwrap() == before);
}

#[test]
fn esphome_device_without_password() {
    let Some(log) = case("esphome_device_without_password", "ferrota-interop-open", 19262, None, 2) else { return };
    assert!(log.contains("Handshake complete (no password)"), "{log}");
    assert!(log.contains("device supports OTA version 2"), "{log}");
}

#[test]
fn esphome_device_version_1() {
    let Some(log) = case("esphome_device_version_1", "ferrota-interop-v1", 19263, Some("v1 pass"), 1) else { return };
    assert!(log.contains("device supports OTA version 1"), "{log}");
}

/// Blocks in flight against the real device: 8 MiB of random data after the program (still an
/// executable it re-execs into), sent as it is (no compression can shrink it) with many 8 KiB
/// blocks ahead of the device's acks.
#[test]
fn esphome_device_takes_an_incompressible_image_in_flight() {
    let Some(venv) = esphome_venv("esphome_device_takes_an_incompressible_image_in_flight") else { return };
    let (name, port) = ("ferrota-interop-raw", 19264);
    let dir = TempDir::new(name);
    let (device, exe) = start_esphome(&venv, &dir, name, &config(name, port, Some("raw pass"), 2), port);
    let image = dir.path("new.bin");
    make_image(&exe, &image, name);
    let mut bytes = std::fs::read(&image).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..(8 << 20) / 8 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    std::fs::write(&image, &bytes).unwrap();
    let config = dir.path("device.yaml");
    let (code, log) = ferrota(&["upload", config.to_str().unwrap(), "--device", "127.0.0.1", "--file", image.to_str().unwrap()]);
    assert_eq!(code, 0, "ferrota upload failed:\n{log}\ndevice:\n{}", device.output());
    assert!(log.contains("device supports OTA version 2") && !log.contains("Compressed to"), "{log}");
    assert_rebooted_into(&device, &exe, &bytes);
}
