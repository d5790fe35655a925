//! Fleets (`--jobs N`: one result line per device, a summary, a failing device never stops the
//! others) and `ferrota run --file`.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::*;

/// A device that answers every connection with error byte `code` right after the magic.
fn failing_device(code: u8) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().map_while(Result::ok) {
            let mut magic = [0u8; 5];
            let _ = s.read_exact(&mut magic);
            let _ = s.write_all(&[code]);
        }
    });
    port
}

fn host_config(dir: &TempDir, file: &str, name: &str, port: u16) -> String {
    let path = dir.path(file);
    std::fs::write(&path, format!("esphome:\n  name: {name}\nhost:\nota:\n  - platform: esphome\n    port: {port}\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn several_configs_with_jobs_one_line_each_and_a_summary() {
    let dir_a = TempDir::new("fleet-a");
    let dir_b = TempDir::new("fleet-b");
    let a = start_ours(&dir_a, &[]);
    let b = start_ours(&dir_b, &[]);
    let broken = failing_device(0x89);
    let dir = TempDir::new("fleet");
    let image = dir.path("new.bin");
    let new_id = make_image(&host_device_binary(), &image, "fleet");
    let configs = [
        host_config(&dir, "a.yaml", "dev-a", a.port),
        host_config(&dir, "broken.yaml", "dev-broken", broken),
        host_config(&dir, "b.yaml", "dev-b", b.port),
    ];
    let mut args = vec!["upload"];
    args.extend(configs.iter().map(String::as_str));
    args.extend(["--device", "127.0.0.1", "--file", image.to_str().unwrap(), "--jobs", "2"]);
    let (code, log) = ferrota(&args);
    assert_eq!(code, 1, "one device failed:\n{log}");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.iter().filter(|l| l.starts_with("OK    dev-")).count(), 2, "{log}");
    let fail: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FAIL  dev-broken -> 127.0.0.1: ")).collect();
    assert_eq!(fail.len(), 1, "{log}");
    assert!(fail[0].contains("0x89") && fail[0].contains("partition is too small"), "{log}");
    assert_eq!(lines.last(), Some(&"2 of 3 devices updated, 1 failed"), "{log}");
    assert_eq!(a.image_of_boot(2), new_id);
    assert_eq!(b.image_of_boot(2), new_id);
}

#[test]
fn one_config_several_devices_with_jobs() {
    let dir_a = TempDir::new("fleet-dev-a");
    let dir_b = TempDir::new("fleet-dev-b");
    let a = start_ours(&dir_a, &["--password", "pw"]);
    let b = start_ours(&dir_b, &["--password", "pw"]);
    let dir = TempDir::new("fleet-devs");
    let image = dir.path("new.bin");
    let new_id = make_image(&host_device_binary(), &image, "fleet-devices");
    let config = host_config(&dir, "plug.yaml", "plug", 1);
    let (dev_a, dev_b) = (format!("127.0.0.1:{}", a.port), format!("127.0.0.1:{}", b.port));
    let (code, log) = ferrota(&[
        "upload", &config, "--device", &dev_a, "--device", &dev_b, "--password", "pw", "--file", image.to_str().unwrap(), "--jobs", "2",
    ]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains(&format!("OK    plug -> {dev_a} ({dev_a})")), "{log}");
    assert!(log.contains(&format!("OK    plug -> {dev_b} ({dev_b})")), "{log}");
    assert!(log.ends_with("2 of 2 devices updated, 0 failed\n"), "{log}");
    assert_eq!(a.image_of_boot(2), new_id);
    assert_eq!(b.image_of_boot(2), new_id);
}

#[test]
fn run_starts_a_host_image_here() {
    let dir = TempDir::new("run-host");
    let config = host_config(&dir, "here.yaml", "here", 8082);
    let script = dir.path("program");
    std::fs::write(&script, "#!/bin/sh\necho device running\nexit 3\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (code, log) = ferrota(&["run", &config, "--file", script.to_str().unwrap()]);
    assert_eq!(code, 3, "the device's exit code:\n{log}");
    assert!(log.contains("Running program from path") && log.contains("device running"), "{log}");
}

#[test]
fn run_uploads_to_a_device_that_is_not_a_host() {
    let dir = TempDir::new("run-remote");
    let device = start_ours(&dir, &[]);
    let config = dir.path("esp.yaml");
    std::fs::write(
        &config,
        format!("esphome:\n  name: remote\nesp32:\n  board: esp32dev\nwifi:\n  ssid: x\n  password: yyyyyyyy\nota:\n  - platform: esphome\n    port: {}\n", device.port),
    )
    .unwrap();
    let image = dir.path("new.bin");
    let new_id = make_image(&host_device_binary(), &image, "run-remote");
    let (code, log) = ferrota(&["run", config.to_str().unwrap(), "--device", "127.0.0.1", "--file", image.to_str().unwrap()]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(device.image_of_boot(2), new_id);
}

#[test]
fn run_refuses_an_invalid_config() {
    let dir = TempDir::new("run-invalid");
    let config = dir.path("bad.yaml");
    std::fs::write(&config, "esphome:\n  name: bad\nhost:\nota:\n  - platform: esphome\n    port: nope\n").unwrap();
    let (code, log) = ferrota(&["run", config.to_str().unwrap(), "--file", "/nonexistent"]);
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("the config is invalid"), "{log}");
}
