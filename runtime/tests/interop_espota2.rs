//! The real ESPHome 2026.10 client (`esphome.espota2.run_ota`) against our host device.
//!
//! Needs the cached venv from `scripts/esphome-venv`. Without it the tests print `SKIPPED: …`
//! and pass, unless `FERROTA_REQUIRE_ESPHOME=1` (CI) makes that a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::host::*;

const RUN_OTA: &str = r#"
import logging, sys
from pathlib import Path
logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(message)s")
from esphome.espota2 import run_ota
password = sys.argv[3] if len(sys.argv) > 3 else None
rc, _ = run_ota("127.0.0.1", int(sys.argv[1]), password, Path(sys.argv[2]))
sys.exit(rc)
"#;

/// The reference venv's Python, or `None` when the test is skipped.
fn esphome_python(test: &str) -> Option<PathBuf> {
    Some(ferrota_test_support::esphome_venv(test)?.join("bin/python"))
}

/// Runs `run_ota`; returns its exit code and its log.
fn run_ota(python: &Path, port: u16, password: Option<&str>, image: &Path) -> (i32, String) {
    let mut cmd = Command::new(python);
    cmd.args(["-c", RUN_OTA, &port.to_string(), image.to_str().unwrap()]);
    if let Some(pw) = password {
        cmd.arg(pw);
    }
    let out = cmd.output().unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), log)
}

/// Uploads a new build with `password` to a device started with `args`, and checks that the
/// device then runs it. Returns the client's log.
fn upload_and_check(name: &str, args: &[&str], password: Option<&str>) -> Option<String> {
    let python = esphome_python(name)?;
    let dir = TempDir::new(name);
    let (device, factory) = start(&dir, args);
    assert_eq!(device.image_of_boot(1), factory);
    let image = dir.path("new.bin");
    let new_id = make_image(&image, name);
    let (rc, log) = run_ota(&python, device.port, password, &image);
    assert_eq!(rc, 0, "run_ota failed:\n{log}\ndevice:\n{}", device.output());
    assert!(log.contains("OTA successful"), "{log}");
    assert_eq!(device.image_of_boot(2), new_id, "device:\n{}", device.output());
    Some(log)
}

#[test]
fn sha256_password_with_deflate() {
    let Some(log) = upload_and_check("esp-sha256", &["--password", "s3cret pass"], Some("s3cret pass")) else { return };
    assert!(log.contains("SHA256"), "{log}");
    assert!(log.contains("(deflate)"), "{log}");
}

#[test]
fn no_password_version_2_without_deflate() {
    let Some(log) = upload_and_check("esp-v2", &["--no-deflate"], None) else { return };
    assert!(log.contains("device supports OTA version 2"), "{log}");
    assert!(!log.contains("Compressed to"), "{log}");
}

#[test]
fn version_1() {
    let Some(log) = upload_and_check("esp-v1", &["--version", "1", "--no-deflate"], None) else { return };
    assert!(log.contains("device supports OTA version 1"), "{log}");
}

#[test]
fn version_1_with_deflate_and_password() {
    let Some(log) = upload_and_check("esp-v1-deflate", &["--version", "1", "--password", "pw"], Some("pw")) else { return };
    assert!(log.contains("(deflate)") && log.contains("device supports OTA version 1"), "{log}");
}

#[test]
fn on_boot_set_auth_password_replaces_the_yaml_password() {
    upload_and_check("esp-onboot", &["--password", "old", "--on-boot-set-password", "new"], Some("new"));
}

#[test]
fn wrong_password_fails_with_esphomes_message_and_the_device_keeps_serving() {
    let Some(python) = esphome_python("wrong_password_fails_with_esphomes_message_and_the_device_keeps_serving") else { return };
    let dir = TempDir::new("esp-wrongpw");
    let (device, factory) = start(&dir, &["--password", "right"]);
    let image = dir.path("new.bin");
    make_image(&image, "wrong-pw");
    let (rc, log) = run_ota(&python, device.port, Some("wrong"), &image);
    assert_eq!(rc, 1, "{log}");
    assert!(log.contains("Authentication invalid. Is the password correct?"), "{log}");
    device.wait_for("[automation] on_error x=0x82", 1);
    assert_eq!(device.count("ferrota-host-device name="), 1);
    assert_eq!(device.image_of_boot(1), factory);
    let (rc, log) = run_ota(&python, device.port, Some("right"), &image);
    assert_eq!(rc, 0, "{log}");
}

#[test]
fn an_image_for_another_machine_is_refused_with_84() {
    let Some(python) = esphome_python("an_image_for_another_machine_is_refused_with_84") else { return };
    let dir = TempDir::new("esp-notelf");
    let (device, factory) = start(&dir, &[]);
    let image = dir.path("foreign.bin");
    let mut bytes = std::fs::read(built_binary()).unwrap();
    bytes[18] ^= 0x40; // e_machine: some other CPU
    std::fs::write(&image, bytes).unwrap();
    let (rc, log) = run_ota(&python, device.port, None, &image);
    assert_eq!(rc, 1, "{log}");
    assert!(log.contains("Finishing update failed"), "{log}");
    assert_eq!(device.image_of_boot(1), factory);
}
