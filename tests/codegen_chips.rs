//! `ferrota compile` cross-builds the chip examples for real and leaves an OTA payload the
//! chip's bootloader accepts: checked structurally, byte by byte, since no board is attached.
//! The first build of a target triple takes minutes (its dependencies land in the shared
//! `target/firmware/<triple>/`); later ones seconds.

mod common;

use common::TempDir;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `ferrota compile CONFIG --build-dir DIR`: the image path (the last stdout line) and the log.
fn compile(config: &str, build_dir: &Path) -> (PathBuf, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrota")).arg("compile").arg(config).arg("--build-dir").arg(build_dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let log = format!("{}{stdout}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "ferrota compile {config} failed:\n{log}");
    (PathBuf::from(stdout.lines().last().unwrap_or_default()), log)
}

fn u16_at(data: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([data[at], data[at + 1]])
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// The ESP-IDF app image format (esptool's `elf2image`, ESP-IDF's `esp_image_header_t`): a
/// 24-byte header, segments of (load address, length, data), zero padding so that the XOR
/// checksum byte ends a 16-byte block, then the SHA-256 of everything before it.
#[test]
fn esp32_c3_example_becomes_an_esp_app_image() {
    let dir = TempDir::new("chips-esp32c3");
    let (image, log) = compile("examples/esp32/esp32-c3-sensor.yaml", &dir.0);
    assert_eq!(image, dir.path("firmware.bin"), "{log}");
    assert!(dir.path("firmware.elf").is_file(), "the ELF stays beside the image for debugging");
    let data = std::fs::read(&image).unwrap();

    assert_eq!(data[0], 0xE9, "image magic");
    let segments = usize::from(data[1]);
    assert!((2..=16).contains(&segments), "segment count {segments}");
    assert_eq!(u16_at(&data, 12), 5, "chip id of the ESP32-C3 in the extended header");
    assert_eq!(data[23], 1, "hash_appended");
    // Flash size nibble (upper half of byte 3): 2 = 4MB, ESPHome's default.
    assert_eq!(data[3] >> 4, 2, "flash size in the header");

    let mut at = 24;
    let mut checksum = 0xEFu8;
    for _ in 0..segments {
        let length = u32_at(&data, at + 4) as usize;
        at += 8;
        assert!(at + length <= data.len(), "segment runs past the end");
        checksum = data[at..at + length].iter().fold(checksum, |c, b| c ^ b);
        at += length;
    }
    at += 15 - at % 16;
    assert_eq!(data[at], checksum, "XOR checksum of the segment data");
    at += 1;
    assert_eq!(data.len(), at + 32, "exactly the SHA-256 follows the checksum");
    assert_eq!(Sha256::digest(&data[..at]).as_slice(), &data[at..], "appended SHA-256");

    // esp_app_desc!: the first segment starts with the app descriptor (its magic word).
    assert_eq!(u32_at(&data, 32), 0xABCD_5432, "app descriptor magic at the start of the first segment");
}
