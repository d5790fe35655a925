//! Test doubles the checks share: an in-memory flash, a repeatable RNG, hex transcripts,
//! sample images and their deflate streams.

use alloc::string::String;
use alloc::vec::Vec;
use alloc::{format, vec};
use ferrota_ota::delta::{Header, ImageId};
use ferrota_ota::{Event, Flash, FlashError, OtaError, Rng, Session, UpdateSlot};

pub use crate::sample::sample;

/// Flash in RAM that records what the session did to it.
#[derive(Debug, Default, Clone)]
pub struct MemFlash {
    pub begun_with: Option<u32>,
    pub data: Vec<u8>,
    /// The image that boots: only set by `finish`.
    pub committed: Option<Vec<u8>>,
    pub aborted: bool,
    pub fail_begin: Option<FlashError>,
    pub fail_write_after: Option<usize>,
    pub fail_finish: Option<FlashError>,
    /// How many `write` calls there were.
    pub writes: usize,
    /// How many times a session parked its image here.
    pub suspended: usize,
    /// The image the device runs (a patch's base); empty: the device can't tell.
    pub running: Vec<u8>,
    /// As an update slot: the running build has not confirmed itself (refuses `begin`).
    pub unconfirmed: bool,
}

impl Flash for MemFlash {
    fn begin(&mut self, size: u32) -> Result<(), FlashError> {
        if let Some(e) = self.fail_begin {
            return Err(e);
        }
        if self.unconfirmed {
            return Err(FlashError::UpdatePrepare);
        }
        self.begun_with = Some(size);
        self.aborted = false;
        self.data.clear();
        Ok(())
    }
    fn write(&mut self, data: &[u8]) -> Result<(), FlashError> {
        assert!(self.begun_with.is_some(), "write before begin");
        self.writes += 1;
        if let Some(limit) = self.fail_write_after {
            if self.data.len() + data.len() > limit {
                return Err(FlashError::Write);
            }
        }
        self.data.extend_from_slice(data);
        Ok(())
    }
    fn finish(&mut self) -> Result<(), FlashError> {
        if let Some(e) = self.fail_finish {
            return Err(e);
        }
        self.committed = Some(self.data.clone());
        Ok(())
    }
    fn abort(&mut self) {
        self.aborted = true;
        self.data.clear();
    }
    fn suspend(&mut self) -> Result<(), FlashError> {
        self.suspended += 1;
        Ok(())
    }
    fn resume(&mut self, size: u32, written: u32) -> Result<(), FlashError> {
        if self.begun_with == Some(size) && !self.aborted && self.data.len() == written as usize {
            Ok(())
        } else {
            Err(FlashError::UpdatePrepare)
        }
    }
    fn running_image(&mut self) -> Option<ImageId> {
        (!self.running.is_empty()).then(|| ImageId::of(&self.running))
    }
    fn read_running(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        let at = offset as usize;
        // The applier checks its reads itself: one outside the image is a bug.
        buf.copy_from_slice(self.running.get(at..at + buf.len()).expect("a read outside the running image"));
        Ok(())
    }
}

impl UpdateSlot for MemFlash {
    fn unconfirmed(&mut self) -> bool {
        self.unconfirmed
    }
    fn confirm(&mut self) {
        self.unconfirmed = false;
    }
    fn roll_back(&mut self) {}
}

/// Always the same bytes, so the nonce is a known constant.
pub struct ZeroRng;

/// A device as the web page shows it, for the web server's checks (`<`, `&` and quotes in the
/// friendly name prove the escaping).
pub const INFO: ferrota_ota::web_page::DeviceInfo<'static> = ferrota_ota::web_page::DeviceInfo {
    name: "kitchen",
    friendly_name: "Kitchen <Lights> & \"Fan\"",
    version: "0.1.0",
    build_time: "2026-12-02 21:30 UTC",
    image_md5: "0123456789abcdef0123456789abcdef",
    safe_mode: false,
};
impl Rng for ZeroRng {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        buf.fill(0);
    }
}

/// SHA-256 hex of 8 zero bytes: the nonce a session makes with [`ZeroRng`].
pub const ZERO_NONCE: &str = "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc";

/// Parses hex, ignoring spaces.
pub fn h(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Lowercase hex of bytes.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Everything the device owes right now.
pub fn drain<F: Flash>(s: &mut Session<F>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        let n = s.poll_transmit(&mut buf);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

pub fn events<F: Flash>(s: &mut Session<F>) -> Vec<Event> {
    core::iter::from_fn(|| s.poll_event()).collect()
}

/// One line of a transcript.
#[derive(Clone, Copy)]
pub enum Line<'a> {
    /// Client to device, as hex.
    C(&'a str),
    /// Client to device, as ASCII.
    Ca(&'a str),
    /// Client to device, raw bytes.
    Cb(&'a [u8]),
    /// Device to client, as hex.
    D(&'a str),
}

/// Plays a transcript: after each client line the device's output must equal the device lines
/// that follow it. Returns the session for further checks.
pub fn play<F: Flash>(mut s: Session<F>, now: u64, lines: &[Line]) -> Session<F> {
    let mut expected = Vec::new();
    let mut pending: Option<Vec<u8>> = None;
    let flush = |s: &mut Session<F>, pending: &mut Option<Vec<u8>>, expected: &mut Vec<u8>| {
        if let Some(input) = pending.take() {
            s.handle_input(now, &input);
        }
        assert_eq!(to_hex(&drain(s)), to_hex(expected), "device output");
        expected.clear();
    };
    for line in lines {
        let input = match line {
            Line::D(hex) => {
                expected.extend(h(hex));
                continue;
            }
            Line::C(hex) => h(hex),
            Line::Ca(text) => text.as_bytes().to_vec(),
            Line::Cb(bytes) => bytes.to_vec(),
        };
        flush(&mut s, &mut pending, &mut expected);
        pending = Some(input);
    }
    flush(&mut s, &mut pending, &mut expected);
    s
}

/// The outcome, asserting the session closed.
pub fn outcome<F: Flash>(s: &Session<F>) -> Result<(), OtaError> {
    s.outcome().expect("session should be closed")
}

/// Lowercase hex MD5 of `data`, as the protocol sends it.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    to_hex(&md5::Md5::digest(data))
}

/// The raw deflate stream (4 KiB window, as ESPHome 2026.10 sends it) of `sample(len, seed)`,
/// made by build.rs; only the samples build.rs lists exist.
pub fn deflated(len: usize, seed: u32) -> &'static [u8] {
    const STREAMS: &[(usize, u32, &[u8])] = include!(concat!(env!("OUT_DIR"), "/deflated.rs"));
    let found = STREAMS.iter().find(|s| s.0 == len && s.1 == seed);
    found.unwrap_or_else(|| panic!("build.rs deflates no sample({len}, {seed}): add it to SAMPLES")).2
}

/// A small ESP-IDF app image for chip id `chip`: `segments` of the given lengths, checksum, optional hash.
pub fn esp_image(chip: u16, segments: &[usize], hash: bool) -> Vec<u8> {
    let mut out = vec![0u8; 24];
    out[0] = 0xE9;
    out[1] = segments.len() as u8;
    out[12..14].copy_from_slice(&chip.to_le_bytes());
    out[23] = u8::from(hash);
    let mut checksum = 0xEFu8;
    for (i, &len) in segments.iter().enumerate() {
        out.extend_from_slice(&(0x4200_0000u32 + i as u32 * 0x1000).to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        for j in 0..len {
            let byte = (j * 7 + i) as u8;
            checksum ^= byte;
            out.push(byte);
        }
    }
    while out.len() % 16 != 15 {
        out.push(0);
    }
    out.push(checksum);
    if hash {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&out);
        out.extend_from_slice(&digest);
    }
    out
}

/// A raw deflate stream of `data` in stored blocks (no compression): what a compressor may
/// send, made without one, so the checks can build patches on the target too.
pub fn stored_deflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(65_535).collect() };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out
}

/// One patch record (`docs/ota-extensions.md`): `add` bytes added to the base at the cursor,
/// `copy` bytes as they are, then the cursor moves by `seek`. (Runs of the base kept as they
/// are, `same` records, come from the client's encoder and its tests.)
pub fn record(add: &[u8], copy: &[u8], seek: i64) -> Vec<u8> {
    let mut out = Vec::new();
    let zigzag = ((seek << 1) ^ (seek >> 63)) as u64;
    for mut v in [(add.len() as u64) << 1, copy.len() as u64, zigzag] {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    out.extend_from_slice(add);
    out.extend_from_slice(copy);
    out
}

/// A patch from `base` to `new` with the header for `base` and `records` stored as they are.
pub fn patch_with(base: &[u8], new_len: usize, records: &[u8]) -> Vec<u8> {
    let mut patch = Header { base: ImageId::of(base), new_len: new_len as u32 }.emit().to_vec();
    patch.extend(stored_deflate(records));
    patch
}

/// The plainest patch from `base` to `new`: the common length as differences, the rest copied.
pub fn simple_patch(base: &[u8], new: &[u8]) -> Vec<u8> {
    let common = base.len().min(new.len());
    let add: Vec<u8> = (0..common).map(|i| new[i].wrapping_sub(base[i])).collect();
    patch_with(base, new.len(), &record(&add, &new[common..], 0))
}
