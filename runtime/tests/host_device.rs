//! The host device binary end to end (no Python needed): A/B fall-back, confirmation,
//! safe mode, and that garbage or a disconnect at any step leaves it serving its old image.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::host::*;

fn boot_state(dir: &TempDir) -> String {
    std::fs::read_to_string(dir.path("state/boot-state")).unwrap()
}

#[test]
fn upload_switches_to_the_new_build_and_keeps_the_old_one() {
    let dir = TempDir::new("switch");
    let (device, factory) = start(&dir, &[]);
    assert_eq!(device.image_of_boot(1), factory);
    let image = dir.path("new.bin");
    let new_id = make_image(&image, "build-2");
    upload(device.port, &std::fs::read(&image).unwrap()).unwrap();
    assert_eq!(device.image_of_boot(2), new_id);
    let state = boot_state(&dir);
    assert!(state.contains("current=a\nprevious=factory\nconfirmed=0"), "{state}");
    assert!(device.output().contains("[automation] on_end"));
}

#[test]
fn a_new_build_that_crashes_before_confirming_falls_back_to_the_old_one() {
    let dir = TempDir::new("fallback");
    let (device, factory) = start(&dir, &[]);
    let image = dir.path("broken.bin");
    let broken_id = make_image(&image, "FERROTA-TEST-CRASH-ON-BOOT");
    upload(device.port, &std::fs::read(&image).unwrap()).unwrap();
    assert_eq!(device.image_of_boot(2), broken_id);
    // The broken build aborts; the supervisor boots the old one again.
    assert_eq!(device.image_of_boot(3), factory);
    device.wait_serving(2);
    assert!(device.output().contains("falling back to slot Factory"), "{}", device.output());
    assert!(boot_state(&dir).starts_with("current=factory\nprevious=none\nconfirmed=1"));
    // And it still takes updates.
    let good = dir.path("good.bin");
    let good_id = make_image(&good, "build-3");
    upload(device.port, &std::fs::read(&good).unwrap()).unwrap();
    assert_eq!(device.image_of_boot(4), good_id);
}

#[test]
fn a_confirmed_build_that_dies_is_restarted_not_rolled_back() {
    let dir = TempDir::new("confirm");
    let (device, _) = start(&dir, &["--boot-is-good-after", "300ms"]);
    let image = dir.path("new.bin");
    let new_id = make_image(&image, "build-2");
    upload(device.port, &std::fs::read(&image).unwrap()).unwrap();
    assert_eq!(device.image_of_boot(2), new_id);
    device.wait_for("build confirmed", 1);
    assert!(boot_state(&dir).starts_with("current=a\nprevious=none\nconfirmed=1"));
    let pid = device.device_pid_of_boot(2);
    assert!(std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    assert_eq!(device.image_of_boot(3), new_id);
}

#[test]
fn safe_mode_keeps_ota_reachable_when_a_boot_automation_crashes() {
    let dir = TempDir::new("safemode");
    let crash = dir.path("crash-on-boot");
    std::fs::write(&crash, b"").unwrap();
    let (device, _) = start(&dir, &["--num-attempts", "2", "--boot-crash-file", crash.to_str().unwrap()]);
    // Boots 1 and 2 crashed in on_boot; boot 3 is in safe mode and serves.
    assert_eq!(device.count("on_boot crashes"), 2, "{}", device.output());
    assert!(device.output().contains("SAFE MODE IS ACTIVE"));
    // The fixed build: the crash condition is gone.
    std::fs::remove_file(&crash).unwrap();
    let image = dir.path("fixed.bin");
    let fixed_id = make_image(&image, "fixed");
    upload(device.port, &std::fs::read(&image).unwrap()).unwrap();
    assert_eq!(device.image_of_boot(4), fixed_id);
    device.wait_serving(2);
    assert!(device.output().contains("there have been 0 suspected unsuccessful boot attempts"));
}

/// The client's bytes of a whole legacy v2 upload, up to and including the image.
fn client_script(image: &[u8]) -> Vec<u8> {
    let mut script = vec![0x6C, 0x26, 0xF7, 0x5C, 0x45, 0x01];
    script.extend((image.len() as u32).to_be_bytes());
    script.extend(common::md5_hex(image).as_bytes());
    script.extend(image);
    script
}

#[test]
fn garbage_or_a_disconnect_at_any_step_leaves_the_device_serving_its_old_image() {
    let dir = TempDir::new("garbage");
    let (device, factory) = start(&dir, &[]);
    let image = common::sample(20_000, 9);
    let script = client_script(&image);
    // Cut points: inside the magic, after the features, inside the size, inside the MD5,
    // inside and at the end of the data. The sample image is no executable, so even the
    // complete upload must be refused (84) and leave the old build in place.
    for cut in [3usize, 6, 8, 20, 5000, script.len()] {
        for garbage in [false, true] {
            let mut s = TcpStream::connect(("127.0.0.1", device.port)).unwrap();
            s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = s.write_all(&script[..cut]);
            if garbage {
                let _ = s.write_all(&[0xA5; 300]);
            }
            drop(s);
        }
    }
    // Still on the old image, still serving, nothing staged.
    let real = dir.path("real.bin");
    let real_id = make_image(&real, "after-garbage");
    assert_eq!(device.count("ferrota-host-device name="), 1);
    assert_eq!(device.image_of_boot(1), factory);
    assert!(!dir.path("state/image.ota.new").exists());
    upload(device.port, &std::fs::read(&real).unwrap()).unwrap();
    assert_eq!(device.image_of_boot(2), real_id);
}

#[test]
fn an_image_that_is_not_an_executable_is_refused_with_84() {
    let dir = TempDir::new("notelf");
    let (device, factory) = start(&dir, &[]);
    assert_eq!(upload(device.port, b"#!/bin/sh\necho not a build\n"), Err(0x84));
    assert_eq!(device.image_of_boot(1), factory);
    assert!(boot_state(&dir).starts_with("current=factory"));
    device.wait_for("[automation] on_error x=0x84", 1);
}

#[test]
fn a_new_build_that_exits_cleanly_before_confirming_falls_back_to_the_old_one() {
    let dir = TempDir::new("exit0");
    let (device, factory) = start(&dir, &[]);
    // A native executable that exits 0 at once: it passes the image check but never confirms.
    let exits = std::fs::read("/bin/true").unwrap();
    upload(device.port, &exits).unwrap();
    assert_eq!(device.image_of_boot(2), factory);
    device.wait_serving(2);
    assert!(device.output().contains("falling back to slot Factory"), "{}", device.output());
    assert!(boot_state(&dir).starts_with("current=factory\nprevious=none\nconfirmed=1"));
}

#[test]
fn safe_mode_keeps_its_clock_while_a_client_is_connected() {
    let dir = TempDir::new("slowclient");
    let (device, _) = start(&dir, &["--boot-is-good-after", "1s"]);
    // A client that sends one byte now and then: far from any session timeout.
    let mut s = TcpStream::connect(("127.0.0.1", device.port)).unwrap();
    device.wait_for("connected", 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(6);
    for &byte in &client_script(&common::sample(1000, 3)) {
        if device.count("boot seems successful") == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no boot-good while the client is connected:\n{}", device.output());
        s.write_all(&[byte]).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(device.count("boot seems successful"), 1, "{}", device.output());
    assert_eq!(device.count("update failed"), 0, "the session is still open:\n{}", device.output());
}

#[test]
fn safe_mode_reboots_on_time_while_a_client_is_connected() {
    let dir = TempDir::new("slowclient-safemode");
    let crash = dir.path("crash-on-boot");
    std::fs::write(&crash, b"").unwrap();
    let args = ["--num-attempts", "1", "--reboot-timeout", "1s", "--boot-crash-file", crash.to_str().unwrap()];
    let (device, _) = start(&dir, &args);
    // Boot 1 crashed in on_boot; boot 2 is in safe mode for one second.
    assert!(device.output().contains("SAFE MODE IS ACTIVE"), "{}", device.output());
    let mut s = TcpStream::connect(("127.0.0.1", device.port)).unwrap();
    device.wait_for("connected", 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(6);
    for &byte in &client_script(&common::sample(1000, 3)) {
        if device.count("safe mode enable time has elapsed") == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no safe-mode reboot while the client is connected:\n{}", device.output());
        // The device may already be gone; only the log matters.
        let _ = s.write_all(&[byte]);
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(device.count("safe mode enable time has elapsed"), 1, "{}", device.output());
    device.wait_for("ferrota-host-device name=", 3);
}

#[test]
fn safe_mode_lets_an_upload_under_way_finish_then_the_new_build_boots() {
    let dir = TempDir::new("safemode-upload-under-way");
    let crash = dir.path("crash-on-boot");
    std::fs::write(&crash, b"").unwrap();
    // The fixed build is ready before the device starts: safe mode's 4 s must not be spent on it.
    let image = dir.path("fixed");
    let fixed_id = make_image(&image, "fixed-in-safe-mode");
    let script = client_script(&std::fs::read(&image).unwrap());
    let args = ["--num-attempts", "1", "--reboot-timeout", "4s", "--boot-crash-file", crash.to_str().unwrap()];
    let (device, _) = start(&dir, &args);
    assert!(device.output().contains("SAFE MODE IS ACTIVE"), "{}", device.output());
    std::fs::remove_file(&crash).unwrap();
    // The handshake at once, the data spread over 8 s: safe mode's time runs out in the middle.
    let (handshake, data) = script.split_at(42);
    let mut s = TcpStream::connect(("127.0.0.1", device.port)).unwrap();
    s.write_all(handshake).unwrap();
    for piece in data.chunks(data.len().div_ceil(20)) {
        s.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(400));
    }
    device.wait_for("update complete", 1);
    assert_eq!(device.image_of_boot(3), fixed_id, "{}", device.output());
    let log = device.output();
    let deferred = log.find("restarting once the upload under way ends").expect("safe mode's time ran out during the upload");
    assert!(deferred < log.find("update complete").unwrap(), "{log}");
}

