//! Deflates the samples the inflate checks use (`deflated(len, seed)`), as ESPHome 2026.10
//! compresses an image: raw deflate, level 9, a 4 KiB window. The device has no compressor, so
//! the streams are made here, on the build machine, and compiled in.

extern crate alloc;

#[path = "src/sample.rs"]
mod sample;

use flate2::{Compress, Compression, FlushCompress};
use std::fmt::Write;

/// Every `(len, seed)` a check deflates.
const SAMPLES: &[(usize, u32)] = &[(5_000, 3), (50_000, 3), (10_000, 12345), (100_000, 12345)];

fn main() {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut table = String::from("&[\n");
    for &(len, seed) in SAMPLES {
        let data = sample::sample(len, seed);
        let mut c = Compress::new_with_window_bits(Compression::new(9), false, 12);
        let mut stream = Vec::with_capacity(data.len() + 1024);
        c.compress_vec(&data, &mut stream, FlushCompress::Finish).expect("deflate");
        let file = format!("deflated-{len}-{seed}.bin");
        std::fs::write(out.join(&file), stream).expect("OUT_DIR is writable");
        writeln!(table, "    ({len}, {seed}, include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{file}\"))),").unwrap();
    }
    table.push(']');
    std::fs::write(out.join("deflated.rs"), table).expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed=src/sample.rs");
}
