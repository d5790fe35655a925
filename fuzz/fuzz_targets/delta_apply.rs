//! Fuzzes the device's patch applier (delta updates, `docs/ota-extensions.md`): whatever the
//! patch, it must never panic, never read outside the running image, never write more than the
//! announced image, and only report done with exactly that many bytes written.
//!
//! Input layout: bytes 0-1 the base's length (little-endian, the base is the next bytes),
//! bytes 2-3 the announced new length, byte 4 the mode: bit 0 set means the rest is the record
//! stream, wrapped here in stored deflate blocks (so the record parser gets every byte); clear
//! means the rest is the deflate body as sent. Bits 1-7 pick the size of the pieces fed in.
#![no_main]

use ferrota_ota::delta::{Applier, Header, ImageId, PatchIo};
use ferrota_ota::OtaError;
use ferrota_ota_checks::support::stored_deflate;
use libfuzzer_sys::fuzz_target;

struct Io<'a> {
    base: &'a [u8],
    written: usize,
    limit: usize,
}

impl PatchIo for Io<'_> {
    fn read_base(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), OtaError> {
        let at = offset as usize;
        let slice = self.base.get(at..at + buf.len()).expect("the applier read outside the running image");
        buf.copy_from_slice(slice);
        Ok(())
    }
    fn write(&mut self, data: &[u8]) -> Result<(), OtaError> {
        self.written += data.len();
        assert!(self.written <= self.limit, "wrote more than the announced image");
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let base_len = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 5);
    let new_len = u32::from(u16::from_le_bytes([data[2], data[3]]));
    let mode = data[4];
    let (base, rest) = data[5..].split_at(base_len);
    let mut patch = Header { base: ImageId::of(base), new_len }.emit().to_vec();
    patch.extend(if mode & 1 != 0 { stored_deflate(rest) } else { rest.to_vec() });
    let mut applier = Applier::new(ImageId::of(base), new_len);
    let mut io = Io { base, written: 0, limit: new_len as usize };
    let piece = usize::from(mode >> 1) + 1;
    let count = patch.len().div_ceil(piece);
    let mut result = Ok(());
    for (i, chunk) in patch.chunks(piece).enumerate() {
        result = applier.feed(chunk, i + 1 < count, &mut io);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() && applier.is_done() {
        assert_eq!(io.written, new_len as usize, "done with the wrong length");
    }
});
