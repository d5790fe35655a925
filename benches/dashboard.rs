//! "Update all" of a fleet of 20 running host devices whose configs all changed: `ferrota
//! dashboard` (one job, 4 at a time, compiling each firmware once in the shared build cache)
//! against doing what ESPHome's dashboard does, for each device in turn compile then upload:
//! with ferrota's own commands, and with the real ESPHome 2026.10 (`esphome compile` then
//! `esphome upload`). Prints times and ratios; asserts nothing but that every update landed
//! (run: `cargo bench --bench dashboard`; `FERROTA_BENCH_DEVICES=N` for another fleet size).
//! Target: at least 10x faster than ESPHome's way.

use ferrota_test_support::{free_port, start_device, Dashboard, Device, TempDir};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn config(name: &str, build: u32, port: u16) -> String {
    format!(
        "esphome:\n  name: {name}\n  on_boot:\n    - logger.log: \"{name} build {build} booted\"\nhost:\nlogger:\n\
         ota:\n  - platform: esphome\n    port: {port}\n    password: !secret ota_password\n"
    )
}

struct Fleet {
    folder: PathBuf,
    devices: Vec<(String, u16, Device)>,
}

impl Fleet {
    /// Every config moves to `build`.
    fn write(&self, build: u32) {
        for (name, port, _) in &self.devices {
            std::fs::write(self.folder.join(format!("{name}.yaml")), config(name, build, *port)).unwrap();
        }
    }

    /// Waits until every device booted `build`.
    fn booted(&self, build: u32) {
        for (name, _, device) in &self.devices {
            device.wait_for(&format!("{name} build {build} booted"), 1);
        }
    }
}

fn run(command: &mut Command) {
    let out = command.output().unwrap();
    assert!(out.status.success(), "{command:?} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn main() {
    let count: usize = std::env::var("FERROTA_BENCH_DEVICES").ok().and_then(|n| n.parse().ok()).unwrap_or(20);
    let ferrota = Path::new(env!("CARGO_BIN_EXE_ferrota"));
    let dir = TempDir::new("bench-dashboard");
    let folder = dir.0.canonicalize().unwrap();
    std::fs::write(folder.join("secrets.yaml"), "ota_password: bench-secret\n").unwrap();
    let mut devices = Vec::new();
    for i in 0..count {
        let (name, port) = (format!("bench-fleet-{i:02}"), free_port());
        let path = folder.join(format!("{name}.yaml"));
        std::fs::write(&path, config(&name, 1, port)).unwrap();
        let device = start_device(ferrota, &dir, &path, &name, port);
        devices.push((name, port, device));
    }
    let fleet = Fleet { folder: folder.clone(), devices };
    println!("{count} host devices running build 1");

    // ferrota dashboard: update all.
    fleet.write(2);
    let dashboard = Dashboard::start(ferrota, &folder, &["--jobs", "4"]);
    dashboard.wait_devices("every device online and outdated", |ds| ds.iter().filter(|d| d["online"] == true && d["needs_update"] == true).count() == count);
    let started = Instant::now();
    let job = dashboard.run_job("/api/update-all", Some(json!({})));
    let ours = started.elapsed();
    assert_eq!(job["state"], "succeeded", "{job:#}");
    fleet.booted(2);
    println!("ferrota dashboard, update all (4 at a time): {:.1} s", ours.as_secs_f64());
    drop(dashboard);

    // ESPHome's dashboard's way with ferrota's commands: each device in turn, compile then upload.
    fleet.write(3);
    let started = Instant::now();
    for (name, _, _) in &fleet.devices {
        let path = folder.join(format!("{name}.yaml"));
        run(Command::new(ferrota).arg("compile").arg(&path));
        run(Command::new(ferrota).arg("upload").arg(&path).args(["--device", "127.0.0.1"]));
    }
    let sequential = started.elapsed();
    fleet.booted(3);
    println!("ferrota compile + upload, one device after another: {:.1} s", sequential.as_secs_f64());

    // The real ESPHome, the same way.
    if let Some(venv) = ferrota_test_support::esphome_venv("esphome dashboard comparison") {
        fleet.write(4);
        let esphome = venv.join("bin/esphome");
        let started = Instant::now();
        for (name, _, _) in &fleet.devices {
            let path = folder.join(format!("{name}.yaml"));
            run(Command::new(&esphome).arg("compile").arg(&path));
            run(Command::new(&esphome).arg("upload").arg(&path).args(["--device", "127.0.0.1"]));
        }
        let theirs = started.elapsed();
        // Our devices took ESPHome's builds (host executables too) and now run them.
        fleet.booted(4);
        println!("esphome compile + upload, one device after another (what its dashboard does): {:.1} s", theirs.as_secs_f64());
        println!("ratio: ferrota's update all is {:.0}x faster than ESPHome's way (target: at least 10x)", theirs.as_secs_f64() / ours.as_secs_f64());
    }
    println!("ratio: {:.1}x faster than ferrota's own commands one after another", sequential.as_secs_f64() / ours.as_secs_f64());
}
