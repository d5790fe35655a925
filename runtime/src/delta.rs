//! Delta updates (a ferrota extension, `docs/ota-extensions.md`): the patch format and its
//! streaming applier.
//!
//! A patch is a plain header naming the base it applies to (the image the device runs) and
//! the image it makes, then a raw deflate stream (4 KiB window, like spec §1.5b) of bsdiff-style
//! records. The applier reads the base at random places through [`PatchIo::read_base`] and
//! hands the new image, in order, to [`PatchIo::write`]: memory stays at the inflater plus a
//! few hundred bytes whatever the image's size, and nothing is written before the header
//! matched the running image.

use crate::deflate::Inflater;
use crate::error::OtaError;

/// The first bytes of every patch.
pub const MAGIC: [u8; 4] = *b"FDLT";
/// The format version this applier reads.
pub const VERSION: u8 = 1;
/// Bytes of the plain header: magic, version, the base's SHA-256 and length, the new length.
pub const HEADER_LEN: usize = 4 + 1 + 32 + 4 + 4;

/// An image as delta updates name it: its SHA-256 and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageId {
    /// SHA-256 of the image's bytes.
    pub sha256: [u8; 32],
    /// Its length in bytes.
    pub len: u32,
}

impl ImageId {
    /// What a device that can't tell what it runs reports: no patch can match it.
    pub const UNKNOWN: ImageId = ImageId { sha256: [0; 32], len: 0 };

    /// The 36 bytes the device sends after `41`: the SHA-256, then the length big-endian.
    pub fn to_bytes(&self) -> [u8; 36] {
        let mut out = [0u8; 36];
        out[..32].copy_from_slice(&self.sha256);
        out[32..].copy_from_slice(&self.len.to_be_bytes());
        out
    }

    /// Reads what [`ImageId::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8; 36]) -> ImageId {
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&bytes[..32]);
        ImageId { sha256, len: u32::from_be_bytes([bytes[32], bytes[33], bytes[34], bytes[35]]) }
    }

    /// The SHA-256 and length of `image`.
    pub fn of(image: &[u8]) -> ImageId {
        use sha2::{Digest, Sha256};
        ImageId { sha256: Sha256::digest(image).into(), len: u32::try_from(image.len()).unwrap_or(u32::MAX) }
    }
}

/// The plain start of a patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The image the patch applies to.
    pub base: ImageId,
    /// Length of the image it makes.
    pub new_len: u32,
}

impl Header {
    /// The header's bytes.
    pub fn emit(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5..37].copy_from_slice(&self.base.sha256);
        out[37..41].copy_from_slice(&self.base.len.to_be_bytes());
        out[41..45].copy_from_slice(&self.new_len.to_be_bytes());
        out
    }

    /// Reads a header; `None` for another format or version.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Option<Header> {
        if bytes[..4] != MAGIC || bytes[4] != VERSION {
            return None;
        }
        let word = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&bytes[5..37]);
        Some(Header { base: ImageId { sha256, len: word(37) }, new_len: word(41) })
    }
}

/// Where a patch is applied: the base to read, the new image to write.
pub trait PatchIo {
    /// Fills `buf` with the base's bytes at `offset` (always within the base's length).
    fn read_base(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), OtaError>;
    /// Appends bytes to the new image.
    fn write(&mut self, data: &[u8]) -> Result<(), OtaError>;
}

/// The most bytes of the base read at once (a stack buffer).
const CHUNK: usize = 256;

/// Applies one patch as it arrives.
pub struct Applier {
    running: ImageId,
    new_len: u64,
    header: [u8; HEADER_LEN],
    header_len: usize,
    inflater: Inflater,
    records: Records,
}

impl Applier {
    /// An applier for a device running `running` that was told the new image has `new_len`
    /// bytes (the size field): a patch that says otherwise is refused.
    pub fn new(running: ImageId, new_len: u32) -> Self {
        Applier {
            running,
            new_len: u64::from(new_len),
            header: [0; HEADER_LEN],
            header_len: 0,
            inflater: Inflater::new(),
            records: Records::new(u64::from(running.len), u64::from(new_len)),
        }
    }

    /// Applies the next `input` bytes of the patch; `more_input` is false for its last bytes.
    ///
    /// Errors: [`OtaError::PatchBaseMismatch`] when the patch is for another image than the
    /// running one (before anything is written), [`OtaError::InvalidPatch`] for anything that
    /// is not a well-formed patch making exactly the announced number of bytes from in-bounds
    /// reads, and whatever `io` returns.
    pub fn feed(&mut self, mut input: &[u8], more_input: bool, io: &mut impl PatchIo) -> Result<(), OtaError> {
        if self.header_len < HEADER_LEN {
            let take = input.len().min(HEADER_LEN - self.header_len);
            self.header[self.header_len..self.header_len + take].copy_from_slice(&input[..take]);
            self.header_len += take;
            input = &input[take..];
            if self.header_len < HEADER_LEN {
                return if more_input { Ok(()) } else { Err(OtaError::InvalidPatch) };
            }
            let header = Header::parse(&self.header).ok_or(OtaError::InvalidPatch)?;
            if header.base != self.running || self.running == ImageId::UNKNOWN {
                return Err(OtaError::PatchBaseMismatch);
            }
            if u64::from(header.new_len) != self.new_len {
                return Err(OtaError::InvalidPatch);
            }
        }
        let Applier { inflater, records, .. } = self;
        let result = inflater.feed(input, more_input, &mut |run| records.take(run, io));
        match result {
            Err(OtaError::InvalidDeflateStream) => Err(OtaError::InvalidPatch),
            other => other,
        }
    }

    /// True once the patch ended where it should: the whole new image made, nothing left over.
    pub fn is_done(&self) -> bool {
        self.inflater.is_done() && self.records.is_done()
    }
}

/// Where the record parser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Reading the varint of field 0 (add), 1 (copy) or 2 (seek).
    Field(u8),
    /// Adding the next `n` bytes to the base.
    Adding(u64),
    /// Copying the next `n` bytes as they are.
    Copying(u64),
}

/// The inflated record stream: `add × 2 + same`, `copy`, `seek` as LEB128 varints (seek
/// zigzag-encoded), then the `add` bytes to add to the base (none when `same`: the base's
/// bytes go unchanged, the common case that would otherwise be runs of zeros), then `copy`
/// bytes to copy.
struct Records {
    step: Step,
    varint: u64,
    shift: u32,
    fields: [u64; 3],
    cursor: u64,
    /// Where the cursor goes once this record's bytes are done.
    next_cursor: u64,
    produced: u64,
    base_len: u64,
    new_len: u64,
}

impl Records {
    fn new(base_len: u64, new_len: u64) -> Self {
        Records { step: Step::Field(0), varint: 0, shift: 0, fields: [0; 3], cursor: 0, next_cursor: 0, produced: 0, base_len, new_len }
    }

    fn is_done(&self) -> bool {
        self.step == Step::Field(0) && self.shift == 0 && self.produced == self.new_len
    }

    fn take(&mut self, mut run: &[u8], io: &mut impl PatchIo) -> Result<(), OtaError> {
        while !run.is_empty() {
            match self.step {
                Step::Field(i) => {
                    let byte = run[0];
                    run = &run[1..];
                    if self.shift > 63 || (self.shift == 63 && byte > 1) {
                        return Err(OtaError::InvalidPatch);
                    }
                    self.varint |= u64::from(byte & 0x7F) << self.shift;
                    self.shift += 7;
                    if byte & 0x80 != 0 {
                        continue;
                    }
                    self.fields[usize::from(i)] = core::mem::take(&mut self.varint);
                    self.shift = 0;
                    if i < 2 {
                        self.step = Step::Field(i + 1);
                    } else {
                        self.start_record(io)?;
                    }
                }
                Step::Adding(left) => {
                    let n = run.len().min(CHUNK).min(left as usize);
                    let mut buf = [0u8; CHUNK];
                    // In bounds: `start_record` checked cursor + add <= base_len (32-bit).
                    io.read_base(self.cursor as u32, &mut buf[..n])?;
                    for (b, d) in buf[..n].iter_mut().zip(&run[..n]) {
                        *b = b.wrapping_add(*d);
                    }
                    io.write(&buf[..n])?;
                    run = &run[n..];
                    self.cursor += n as u64;
                    self.produced += n as u64;
                    self.step = Step::Adding(left - n as u64);
                    self.end_part();
                }
                Step::Copying(left) => {
                    let n = run.len().min(left as usize);
                    io.write(&run[..n])?;
                    run = &run[n..];
                    self.produced += n as u64;
                    self.step = Step::Copying(left - n as u64);
                    self.end_part();
                }
            }
        }
        Ok(())
    }

    /// All three fields are in: check the record against the base and the new length; a run
    /// of the base's bytes that go unchanged is written at once (no input follows for it).
    fn start_record(&mut self, io: &mut impl PatchIo) -> Result<(), OtaError> {
        let [add, copy, seek] = self.fields;
        let (add, same) = (add >> 1, add & 1 == 1);
        let seek = (seek >> 1) as i64 ^ -((seek & 1) as i64);
        let after_add = self.cursor.checked_add(add).filter(|&c| c <= self.base_len).ok_or(OtaError::InvalidPatch)?;
        let made = self.produced.checked_add(add).and_then(|p| p.checked_add(copy)).filter(|&p| p <= self.new_len);
        made.ok_or(OtaError::InvalidPatch)?;
        let next = i128::from(after_add) + i128::from(seek);
        if next < 0 || next > i128::from(self.base_len) {
            return Err(OtaError::InvalidPatch);
        }
        self.next_cursor = next as u64;
        if same {
            let mut buf = [0u8; CHUNK];
            while self.cursor < after_add {
                let n = CHUNK.min((after_add - self.cursor) as usize);
                io.read_base(self.cursor as u32, &mut buf[..n])?;
                io.write(&buf[..n])?;
                self.cursor += n as u64;
                self.produced += n as u64;
            }
            self.step = Step::Adding(0);
        } else {
            self.step = Step::Adding(add);
        }
        self.end_part();
        Ok(())
    }

    /// Moves past parts of the record that are done (an empty add or copy included).
    fn end_part(&mut self) {
        if self.step == Step::Adding(0) {
            self.step = Step::Copying(self.fields[1]);
        }
        if self.step == Step::Copying(0) {
            self.cursor = self.next_cursor;
            self.step = Step::Field(0);
        }
    }
}
