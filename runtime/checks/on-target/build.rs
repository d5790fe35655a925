//! Links for the QEMU machine of the target: its memory map as `memory.x`, then the runtime
//! crate's `link.x` (riscv-rt or cortex-m-rt).

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets the target arch");
    let map = match arch.as_str() {
        "riscv32" => "link/riscv32.x",
        "arm" => "link/arm.x",
        other => panic!("no QEMU machine for {other}: build for riscv32imc-unknown-none-elf or thumbv6m-none-eabi"),
    };
    std::fs::copy(map, out.join("memory.x")).expect("the memory map is beside build.rs");
    println!("cargo:rustc-link-search={}", out.display());
    // riscv-rt's link.x does not include memory.x itself; cortex-m-rt's does.
    if arch == "riscv32" {
        println!("cargo:rustc-link-arg=-Tmemory.x");
    }
    println!("cargo:rustc-link-arg=-Tlink.x");
    println!("cargo:rerun-if-changed={map}");
}
