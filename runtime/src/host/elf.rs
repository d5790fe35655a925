//! "Is this an executable for this machine?": the check behind `84` on the host.

/// True when `header` (the first 64 bytes or more of a file) starts an executable this
/// operating system and CPU can run: an ELF on Linux and the BSDs, a Mach-O on macOS.
pub fn is_native_executable(header: &[u8]) -> bool {
    #[cfg(target_os = "macos")]
    {
        is_native_macho(header)
    }
    #[cfg(not(target_os = "macos"))]
    {
        is_native_elf(header)
    }
}

#[cfg(not(target_os = "macos"))]
fn is_native_elf(header: &[u8]) -> bool {
    const CLASS: u8 = if cfg!(target_pointer_width = "64") { 2 } else { 1 };
    const DATA: u8 = if cfg!(target_endian = "little") { 1 } else { 2 };
    const MACHINE: u16 = if cfg!(target_arch = "x86_64") {
        62
    } else if cfg!(target_arch = "aarch64") {
        183
    } else if cfg!(target_arch = "riscv64") {
        243
    } else if cfg!(target_arch = "arm") {
        40
    } else if cfg!(target_arch = "x86") {
        3
    } else {
        // An architecture this check does not know: accept any machine rather than none.
        0
    };
    let Some(ident) = header.get(..20) else { return false };
    let machine = if DATA == 1 { u16::from_le_bytes([ident[18], ident[19]]) } else { u16::from_be_bytes([ident[18], ident[19]]) };
    let file_type = if DATA == 1 { u16::from_le_bytes([ident[16], ident[17]]) } else { u16::from_be_bytes([ident[16], ident[17]]) };
    // ET_EXEC or ET_DYN (position-independent executables).
    ident[..4] == *b"\x7fELF"
        && ident[4] == CLASS
        && ident[5] == DATA
        && (file_type == 2 || file_type == 3)
        && (MACHINE == 0 || machine == MACHINE)
}

#[cfg(target_os = "macos")]
fn is_native_macho(header: &[u8]) -> bool {
    const CPU: u32 = if cfg!(target_arch = "aarch64") { 0x0100_000C } else { 0x0100_0007 };
    let Some(h) = header.get(..8) else { return false };
    h[..4] == [0xCF, 0xFA, 0xED, 0xFE] && u32::from_le_bytes([h[4], h[5], h[6], h[7]]) == CPU
}

#[cfg(all(test, target_os = "linux", target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn accepts_this_test_binary_and_rejects_others() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(is_native_executable(&me[..64]));
        let mut arm = me[..64].to_vec();
        arm[18] = 183;
        assert!(!is_native_executable(&arm));
        assert!(!is_native_executable(b"#!/bin/sh\necho hi\n"));
        assert!(!is_native_executable(&me[..10]));
    }
}
