//! `ferrota compile` on a machine without the chip's Rust target: it installs it with rustup
//! (saying so), and without rustup it says what to install instead of failing inside cargo.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs `ferrota compile` of the ESP32-C3 example with only `bin` on PATH and a rustc whose
/// sysroot has no targets.
fn compile_with(bin: &Path, dir: &common::TempDir) -> (Option<i32>, String) {
    let sysroot = dir.path("sysroot");
    std::fs::create_dir_all(sysroot.join("lib/rustlib")).unwrap();
    script(&bin.join("rustc"), &format!("echo {}", sysroot.display()));
    let out = Command::new(env!("CARGO_BIN_EXE_ferrota"))
        .args(["compile", "examples/esp32/esp32-c3-sensor.yaml", "--build-dir"])
        .arg(dir.path("build"))
        .env("PATH", bin)
        .env("RUSTC", bin.join("rustc"))
        .env("CARGO", bin.join("cargo"))
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn without_rustup_it_says_what_to_install() {
    let dir = common::TempDir::new("no-rustup");
    let bin = dir.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let (code, stderr) = compile_with(&bin, &dir);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("there is no rustup to install it") && stderr.contains("rustup target add riscv32imc-unknown-none-elf"), "{stderr}");
}

#[test]
fn with_rustup_it_installs_the_target_and_says_so() {
    let dir = common::TempDir::new("fake-rustup");
    let bin = dir.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.path("rustup.log");
    script(&bin.join("rustup"), &format!("echo \"$@\" >> {}", log.display()));
    // A cargo that fails at once: the test is about what happens before it.
    script(&bin.join("cargo"), "exit 101");
    let (code, stderr) = compile_with(&bin, &dir);
    assert!(stderr.contains("INFO Installing the Rust target riscv32imc-unknown-none-elf"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&log).unwrap().trim(), "target add riscv32imc-unknown-none-elf");
    assert_eq!(code, Some(1), "the fake cargo fails: {stderr}");
}
