//! Running the real host device binary in tests, and a minimal scripted uploader.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use ferrota_test_support::{Device, TempDir};

pub fn built_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ferrota-host-device"))
}

/// Writes a copy of the device binary with `marker` appended (still a valid executable, but a
/// different image) and returns its MD5, which the device prints as `image=` when it runs it.
pub fn make_image(path: &Path, marker: &str) -> String {
    ferrota_test_support::make_image(&built_binary(), path, marker)
}

/// Starts the device binary from `dir/fw` (the factory build) with `args`; returns it with the
/// factory image's MD5.
pub fn start(dir: &TempDir, args: &[&str]) -> (Device, String) {
    Device::ours(&built_binary(), dir, args)
}

/// Uploads `image` without auth, the legacy way (feature byte 01, version 1 or 2 as the
/// device says). Returns the first unexpected device byte as the error.
pub fn upload(port: u16, image: &[u8]) -> Result<(), u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|_| 0xFF)?;
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let read1 = |s: &mut TcpStream| -> u8 {
        let mut b = [0u8];
        s.read_exact(&mut b).map_or(0xFF, |()| b[0])
    };
    let send = |s: &mut TcpStream, b: &[u8]| s.write_all(b).map_err(|_| 0xFF);
    let expect = |got: u8, want: u8| if got == want { Ok(()) } else { Err(got) };
    send(&mut s, &[0x6C, 0x26, 0xF7, 0x5C, 0x45])?;
    expect(read1(&mut s), 0x00)?;
    let version = read1(&mut s);
    send(&mut s, &[0x01])?;
    expect(read1(&mut s), 0x40)?;
    expect(read1(&mut s), 0x41)?;
    send(&mut s, &(image.len() as u32).to_be_bytes())?;
    expect(read1(&mut s), 0x42)?;
    send(&mut s, super::md5_hex(image).as_bytes())?;
    expect(read1(&mut s), 0x43)?;
    for block in image.chunks(8192) {
        send(&mut s, block)?;
        if version == 2 {
            expect(read1(&mut s), 0x47)?;
        }
    }
    expect(read1(&mut s), 0x44)?;
    expect(read1(&mut s), 0x45)?;
    send(&mut s, &[0x00])
}
