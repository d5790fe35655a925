//! `ferrota upload` (the real CLI) against our own host device (`ferrota-host-device` from
//! runtime/): the device must boot the uploaded image afterwards.

mod common;

use common::*;

/// A `host:` config with this OTA block; secrets beside it.
fn write_config(dir: &TempDir, ota: &str, secrets: &str) -> String {
    let path = dir.path("device.yaml");
    std::fs::write(&path, format!("esphome:\n  name: upload-test\nhost:\nlogger:\nota:\n  - platform: esphome\n{ota}")).unwrap();
    std::fs::write(dir.path("secrets.yaml"), secrets).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Uploads a new build to a device started with `device_args`; returns the CLI log.
fn upload_and_check(name: &str, device_args: &[&str], ota: &str, extra: &[&str]) -> String {
    let dir = TempDir::new(name);
    let device = start_ours(&dir, device_args);
    let factory = device.image_of_boot(1);
    let image = dir.path("new.bin");
    let new_id = make_image(&host_device_binary(), &image, name);
    assert_ne!(factory, new_id);
    let config = write_config(&dir, ota, "ota_password: s3cret pass\n");
    let port = device.port.to_string();
    let mut args = vec!["upload", &config, "--device", "127.0.0.1", "--port", &port, "--file", image.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, log) = ferrota(&args);
    assert_eq!(code, 0, "ferrota upload failed:\n{log}\ndevice:\n{}", device.output());
    assert!(log.contains("OTA successful"), "{log}");
    assert_eq!(device.image_of_boot(2), new_id, "device:\n{}", device.output());
    log
}

#[test]
fn password_from_a_secret_with_sha256_and_deflate() {
    let log = upload_and_check("up-sha", &["--password", "s3cret pass"], "    password: !secret ota_password\n", &[]);
    assert!(log.contains("SHA-256"), "{log}");
    assert!(log.contains("(deflate)"), "{log}");
}

#[test]
fn without_password_version_2_no_deflate() {
    let log = upload_and_check("up-v2", &["--no-deflate"], "", &[]);
    assert!(log.contains("device supports OTA version 2"), "{log}");
    assert!(!log.contains("Compressed to"), "{log}");
    assert!(log.contains("Handshake complete (no password)"), "{log}");
}

#[test]
fn version_1_streaming() {
    let log = upload_and_check("up-v1", &["--version", "1", "--password", "pw"], "", &["--password", "pw"]);
    assert!(log.contains("device supports OTA version 1"), "{log}");
}

#[test]
fn wrong_password_is_a_clear_error_and_the_device_keeps_its_image() {
    let dir = TempDir::new("up-wrong");
    let device = start_ours(&dir, &["--password", "right"]);
    let factory = device.image_of_boot(1);
    let image = dir.path("new.bin");
    make_image(&host_device_binary(), &image, "wrong");
    let config = write_config(&dir, "    password: wrong\n", "");
    let port = device.port.to_string();
    let (code, log) = ferrota(&["upload", &config, "--device", "127.0.0.1", "--port", &port, "--file", image.to_str().unwrap()]);
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("error 0x82 (ERROR_AUTH_INVALID)"), "{log}");
    assert!(log.contains("check the OTA password"), "{log}");
    assert_eq!(log.matches("Connecting to").count(), 1, "device errors are never retried:\n{log}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(device.count("ferrota-host-device name="), 1, "no reboot");
    assert_eq!(device.image_of_boot(1), factory);
}

#[test]
fn port_from_the_config_and_the_default_image_path() {
    let dir = TempDir::new("up-defaults");
    let device = start_ours(&dir, &[]);
    let port = device.port;
    let config = write_config(&dir, &format!("    port: {port}\n"), "");
    // Without --file: the image `ferrota compile` would have built.
    let (code, log) = ferrota(&["upload", &config, "--device", "127.0.0.1"]);
    assert_eq!(code, 1);
    assert!(log.contains(".ferrota/build/upload-test/firmware.bin: run `ferrota compile"), "{log}");
    let built = dir.path(".ferrota/build/upload-test/firmware.bin");
    std::fs::create_dir_all(built.parent().unwrap()).unwrap();
    let new_id = make_image(&host_device_binary(), &built, "default-path");
    let (code, log) = ferrota(&["upload", &config, "--device", "127.0.0.1", "--quiet"]);
    assert_eq!(code, 0, "{log}");
    assert!(!log.contains("Connecting"), "--quiet prints only errors:\n{log}");
    assert_eq!(device.image_of_boot(2), new_id);
}

#[test]
fn a_connection_cut_mid_image_is_resumed_not_restarted() {
    let dir = TempDir::new("up-resume");
    let device = start_ours(&dir, &["--no-deflate"]);
    let image = dir.path("new.bin");
    let new_id = make_image(&host_device_binary(), &image, "resume");
    let size = std::fs::metadata(&image).unwrap().len() as usize;
    let cut = size / 2;
    let proxy = ferrota_test_support::CuttingProxy::start("127.0.0.1", device.port, cut);
    let config = write_config(&dir, "", "");
    let port = proxy.port.to_string();
    let (code, log) = ferrota(&["upload", &config, "--device", "127.0.0.1", "--port", &port, "--file", image.to_str().unwrap()]);
    assert_eq!(code, 0, "ferrota upload failed:\n{log}\ndevice:\n{}", device.output());
    assert_eq!(proxy.connections.load(std::sync::atomic::Ordering::SeqCst), 2, "{log}");
    // The device has everything the proxy let through but the handshake's bytes.
    let from: usize = log.split("Resuming at byte ").nth(1).and_then(|rest| rest.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no resume:\n{log}"));
    assert!(from > cut - 200 && from < cut, "resumed at {from} after a cut at {cut}:\n{log}");
    assert!(device.output().contains(&format!("keeping the {from} bytes received")), "{}", device.output());
    assert_eq!(device.image_of_boot(2), new_id, "device:\n{}", device.output());
}

#[test]
fn the_build_an_upload_sent_is_the_base_of_the_next_delta() {
    let dir = TempDir::new("up-delta");
    let device = start_ours(&dir, &[]);
    let config = write_config(&dir, "", "");
    let port = device.port.to_string();
    let upload = |file: &std::path::Path| ferrota(&["upload", &config, "--device", "127.0.0.1", "--port", &port, "--file", file.to_str().unwrap()]);
    // The factory build was never kept: the whole image goes (and is kept).
    let b = dir.path("b.bin");
    let b_id = make_image(&host_device_binary(), &b, "build B");
    let (code, log) = upload(&b);
    assert_eq!(code, 0, "{log}\ndevice:\n{}", device.output());
    assert!(log.contains("runs a build ferrota has not kept"), "{log}");
    assert_eq!(device.image_of_boot(2), b_id, "device:\n{}", device.output());
    // The device runs B now, which the store has: build C goes as a patch against it.
    let c = dir.path("c.bin");
    let c_id = make_image(&host_device_binary(), &c, "build C, one string changed");
    let (code, log) = upload(&c);
    assert_eq!(code, 0, "{log}\ndevice:\n{}", device.output());
    let sizes = log.split("Sending a delta against the build the device runs: ").nth(1).unwrap_or_else(|| panic!("no delta:\n{log}"));
    let patch: usize = sizes.split(' ').next().unwrap().parse().unwrap();
    assert!(patch < 1_000, "{patch} bytes:\n{log}");
    assert_eq!(device.image_of_boot(3), c_id, "device:\n{}", device.output());
    assert!(std::fs::read_dir(dir.path(".ferrota/images")).unwrap().count() >= 2, "both builds kept");
}
