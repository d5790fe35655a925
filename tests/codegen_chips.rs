//! `ferrota compile` cross-builds the chip examples for real and leaves an OTA payload the
//! chip's bootloader accepts: checked structurally, byte by byte, since no board is attached.
//! The first build of a target triple takes minutes (its dependencies land in the shared
//! `target/firmware/<triple>/`); later ones seconds.

mod common;

use common::TempDir;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `ferrota compile CONFIG --build-dir DIR --deny-warnings` (no leftovers in the templates):
/// the image path (the last stdout line) and the log.
fn compile(config: &str, build_dir: &Path) -> (PathBuf, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrota"))
        .arg("compile")
        .arg(config)
        .arg("--build-dir")
        .arg(build_dir)
        .arg("--deny-warnings")
        .output()
        .unwrap();
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

    the_device_checks_the_image_before_booting_it(&data);
}

/// An open network (no `wifi: password:`): the ESP32 joins it as the Pico W does, and the
/// firmware still builds without a warning.
#[test]
fn esp32_open_network_builds() {
    let dir = TempDir::new("chips-esp32-open");
    let example = std::fs::read_to_string("examples/esp32/esp32-c3-sensor.yaml").unwrap();
    // An open network with a static address: both of the join loop's other paths.
    let open = example.replace("password: !secret wifi_password", "password: \"\"\n  manual_ip:\n    static_ip: 192.168.1.50\n    gateway: 192.168.1.1\n    subnet: 255.255.255.0");
    assert_ne!(open, example, "the example has a WiFi password to take away");
    std::fs::write(dir.path("open.yaml"), open).unwrap();
    std::fs::copy("examples/esp32/secrets.yaml", dir.path("secrets.yaml")).unwrap();
    let (image, log) = compile(dir.path("open.yaml").to_str().unwrap(), &dir.path("build"));
    assert!(image.is_file(), "{log}");
    let firmware = std::fs::read_to_string(dir.path("build/src/firmware.rs")).unwrap();
    assert!(firmware.contains("Security::Open,") && firmware.contains("Some(StaticIp {"), "open network, static address: {firmware}");
}

/// What the firmware's `OtaFlash::finish` asks of an image before it activates the slot
/// (ferrota-ota's `EspImageCheck`, fed as the upload arrives): this real image passes in any
/// pieces, and each way it could be wrong is refused.
fn the_device_checks_the_image_before_booting_it(data: &[u8]) {
    use ferrota_ota::esp_image::{chip_id, EspImageCheck, ImageError};
    let c3 = chip_id("esp32c3").unwrap();
    let check = |bytes: &[u8], chip: u16| {
        let mut c = EspImageCheck::new(chip);
        bytes.chunks(1460).for_each(|piece| c.update(piece));
        c.finish()
    };
    assert_eq!(check(data, c3), Ok(()));
    // The same build sent to a C6.
    let c6 = chip_id("esp32c6").unwrap();
    assert_eq!(check(data, c6), Err(ImageError::Chip { expected: c6, found: c3 }));
    // A byte changed in the middle of the code: the checksum (or the hash) refuses it.
    let mut corrupted = data.to_vec();
    corrupted[data.len() / 2] ^= 0x40;
    assert!(matches!(check(&corrupted, c3), Err(ImageError::Checksum { .. } | ImageError::Hash)));
    // The upload stopped early, or something was appended.
    assert_eq!(check(&data[..data.len() - 100], c3), Err(ImageError::Truncated));
    let mut longer = data.to_vec();
    longer.extend_from_slice(&[0; 16]);
    assert_eq!(check(&longer, c3), Err(ImageError::TrailingData));
}

/// The Pico W's OTA payload is the application's flat binary, linked for embassy-boot's ACTIVE
/// region (0x1000_7000, 1004 KiB): it starts with the Cortex-M vector table. The bootloader's
/// image (for the first USB flash) is built beside it.
#[test]
fn pico_w_example_becomes_a_flat_binary_for_embassy_boot() {
    let dir = TempDir::new("chips-pico-w");
    let (image, log) = compile("examples/rp2040/pico-w.yaml", &dir.0);
    assert_eq!(image, dir.path("firmware.bin"), "{log}");
    assert!(dir.path("firmware.elf").is_file(), "the ELF stays beside the image for debugging");
    let data = std::fs::read(&image).unwrap();
    // The image carries its own length, which the device hashes its running build up to.
    let slot = data.windows(12).position(|w| w == ferrota_ota::image_len::MARKER).expect("a length slot");
    assert_eq!(u32_at(&data, slot + 12) as usize, data.len());
    assert_eq!(data.windows(12).filter(|w| *w == ferrota_ota::image_len::MARKER).count(), 1);
    const ACTIVE: std::ops::Range<u32> = 0x1000_7000..0x1000_7000 + 0xFB000;
    assert!(data.len() > 1024 && data.len() <= (ACTIVE.end - ACTIVE.start) as usize, "{} bytes", data.len());

    // What the firmware's `finish` asks of an image before embassy-boot may swap it in (the
    // initial SP in SRAM; reset, NMI and HardFault handlers Thumb addresses in ACTIVE): this one
    // passes, and a plain Pico build (linked for the start of flash) would not.
    use ferrota_ota::vector_table::{check, VectorTableError};
    const RAM: std::ops::RangeInclusive<u32> = 0x2000_0000..=0x2004_2000;
    assert_eq!(check(&data[..16], RAM, ACTIVE), Ok(()));
    let mut elsewhere = data[..16].to_vec();
    let reset = u32_at(&data, 4) - 0x7000;
    elsewhere[4..8].copy_from_slice(&reset.to_le_bytes());
    assert_eq!(check(&elsewhere, RAM, ACTIVE), Err(VectorTableError::Handler { index: 1, address: reset }));

    // The bootloader: embassy-rp's second-stage boot code in the first 256 bytes, then its own
    // vector table, reset handler inside its 24 KiB.
    let bootloader = std::fs::read(dir.path("bootloader.bin")).unwrap();
    assert!(log.contains("bootloader.bin"), "{log}");
    assert!(bootloader.len() > 0x100 && bootloader.len() <= 0x6000, "{} bytes", bootloader.len());
    let reset = u32_at(&bootloader, 0x104);
    assert!(reset & 1 == 1 && (0x1000_0100..0x1000_6000).contains(&(reset & !1)), "bootloader reset vector {reset:#x}");
}
