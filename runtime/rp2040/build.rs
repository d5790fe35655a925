//! Packs the Pico W's CYW43439 NVRAM settings (`cyw43/nvram.txt`) into the blob the driver
//! uploads: `key=value` entries, each ended by a NUL, and one more NUL at the end.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let text = std::fs::read_to_string("cyw43/nvram.txt").expect("cyw43/nvram.txt is beside build.rs");
    let mut blob = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        blob.extend_from_slice(line.as_bytes());
        blob.push(0);
    }
    blob.push(0);
    std::fs::write(out.join("nvram.bin"), blob).expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed=cyw43/nvram.txt");
}
