//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The config files of the corpus (and examples) under `dir`, sorted; secrets, included
/// parts and package cases (`packages/`, checked with `-s` substitutions) are not configs of
/// their own.
pub fn configs(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walk(Path::new(dir))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "secrets.yaml"))
        .filter(|p| !p.components().any(|c| c.as_os_str() == "parts" || c.as_os_str() == "packages"))
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())).flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

pub use ferrota_test_support::*;

/// The target directory of this build (`target/debug`), from the test executable's path.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf()
}

/// Our device binary (`ferrota-host-device` from runtime/), built on first use: `cargo test -p
/// ferrota` does not build other packages' binaries (`cargo test --workspace` does).
pub fn host_device_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "-q", "-p", "ferrota-ota", "--bin", "ferrota-host-device"]);
            if target_dir().file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("running cargo build for the host device");
            let binary = target_dir().join("ferrota-host-device");
            // The workspace is shared: a half-edited runtime/ must not fail upload tests when an
            // earlier build of the device is there (CI builds it before the tests anyway).
            assert!(status.success() || binary.is_file(), "building ferrota-host-device failed");
            if !status.success() {
                eprintln!("warning: building ferrota-host-device failed; using the existing {}", binary.display());
            }
            binary
        })
        .clone()
}

/// Our host device (`ferrota-host-device`) started from a copy in `dir`, once it listens.
pub fn start_ours(dir: &TempDir, args: &[&str]) -> Device {
    Device::ours(&host_device_binary(), dir, args).0
}

/// Runs the `ferrota` CLI; returns (exit code, stderr + stdout).
pub fn ferrota(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrota")).args(args).output().unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    (out.status.code().unwrap_or(-1), log)
}

/// One compile at a time: they share two cores and ESPHome's build cache.
static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The ESPHome program for `yaml`, compiled once per config text and ESPHome version.
pub fn esphome_program(venv: &Path, name: &str, yaml: &str) -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let key = md5_hex(format!("esphome 2026.10.0\n{yaml}").as_bytes());
    let dir = target_dir().join("esphome-host-devices").join(format!("{name}-{}", &key[..12]));
    let program = dir.join("program");
    if program.is_file() {
        return program;
    }
    let work = dir.join("build");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("device.yaml"), yaml).unwrap();
    let out = Command::new(venv.join("bin/esphome"))
        .args(["compile", "device.yaml"])
        .current_dir(&work)
        .output()
        .expect("running esphome compile");
    assert!(
        out.status.success(),
        "esphome compile failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let built = work.join(format!(".esphome/build/{name}/.pioenvs/{name}/program"));
    std::fs::copy(&built, &program).unwrap_or_else(|e| panic!("{}: {e}", built.display()));
    let _ = std::fs::remove_dir_all(&work);
    program
}

/// A running ESPHome device from `yaml`, as a copy in `dir` (an update replaces the copy).
pub fn start_esphome(venv: &Path, dir: &TempDir, name: &str, yaml: &str, port: u16) -> (Device, PathBuf) {
    let program = esphome_program(venv, name, yaml);
    let exe = dir.path("device");
    std::fs::copy(&program, &exe).unwrap();
    std::fs::write(dir.path("device.yaml"), yaml).unwrap();
    let prefs = dir.path("prefs");
    std::fs::create_dir_all(&prefs).unwrap();
    let device = Device::spawn(&exe, &[], &[("ESPHOME_PREFDIR", &prefs)], port);
    device.wait_for("setup() finished successfully", 1);
    (device, exe)
}

