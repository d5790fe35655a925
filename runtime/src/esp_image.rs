//! ESP-IDF app images (the payload of an ESP32 OTA update), checked before the device is told
//! to boot one, as ESP-IDF's `esp_ota_end` does with `esp_image_verify`: the header's magic and
//! chip, every segment's length, the XOR checksum and, when the header says it is there, the
//! appended SHA-256. A build for another chip (a C6 image sent to a C3) or a corrupted one is
//! refused while the running image is still the one that boots.
//!
//! [`EspImageCheck`] is fed the image as it is written (sans-IO), so nothing is read back.
//!
//! Layout: a 24-byte header (magic `0xE9`, segment count, flash settings, entry point, then the
//! extended header with the chip id at bytes 12..14 and "hash appended" at byte 23); per
//! segment a load address, a length (a multiple of 4) and the data; padding so that the
//! checksum byte (`0xEF` XOR every data byte) ends a 16-byte block; then the SHA-256 of all of
//! that when appended.

use sha2::{Digest, Sha256};

/// The first byte of every ESP image.
pub const MAGIC: u8 = 0xE9;
const HEADER_LEN: usize = 24;
const SEGMENT_HEADER_LEN: usize = 8;
const HASH_LEN: usize = 32;
/// ESP-IDF's `ESP_IMAGE_MAX_SEGMENTS`.
const MAX_SEGMENTS: u8 = 16;
/// No ESP32 maps more than this much in one segment.
const MAX_SEGMENT_LEN: u32 = 16 << 20;
const CHECKSUM_SEED: u8 = 0xEF;

/// Why an image is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageError {
    /// Not an ESP image at all (first byte).
    Magic(u8),
    /// Built for another chip (ESP-IDF chip ids: 5 is the ESP32-C3, 13 the C6 …).
    Chip {
        /// The running chip's id.
        expected: u16,
        /// The image's.
        found: u16,
    },
    /// No segments, or more than ESP-IDF's 16.
    SegmentCount(u8),
    /// A segment whose length is not a multiple of 4 or beyond any chip's memory.
    SegmentLength {
        /// The segment, from 0.
        index: u8,
        /// Its length in bytes.
        len: u32,
    },
    /// The XOR of the segments' data differs from the stored checksum byte.
    Checksum {
        /// What the data gives.
        computed: u8,
        /// What the image says.
        stored: u8,
    },
    /// The appended SHA-256 does not match: the image was corrupted on the way.
    Hash,
    /// The image ended before its last segment, checksum or hash.
    Truncated,
    /// Bytes after the end the header describes.
    TrailingData,
}

/// The ESP-IDF chip id of an esp-hal chip name (`esp32c3` → 5), as written in image headers.
pub fn chip_id(chip: &str) -> Option<u16> {
    Some(match chip {
        "esp32" => 0x0000,
        "esp32s2" => 0x0002,
        "esp32c3" => 0x0005,
        "esp32s3" => 0x0009,
        "esp32c2" => 0x000C,
        "esp32c6" => 0x000D,
        "esp32h2" => 0x0010,
        "esp32p4" => 0x0012,
        "esp32c61" => 0x0014,
        "esp32c5" => 0x0017,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Header,
    SegmentHeader,
    SegmentData,
    Padding,
    Checksum,
    Hash,
    Done,
}

/// Checks an ESP app image fed in pieces of any size. The first problem is kept and returned
/// by [`EspImageCheck::finish`].
pub struct EspImageCheck {
    chip: u16,
    part: Part,
    /// The fixed-size part being collected (header, segment header, hash).
    buf: [u8; HASH_LEN],
    filled: usize,
    /// Bytes seen so far.
    pos: u32,
    segments_left: u8,
    segment: u8,
    segment_left: u32,
    checksum: u8,
    hash_appended: bool,
    sha: Sha256,
    error: Option<ImageError>,
}

impl EspImageCheck {
    /// A check for images built for the chip named `chip` (`esp32c3` …, as esp-hal names it).
    /// A chip without a known id refuses every image rather than let a wrong one boot.
    pub fn for_chip(chip: &str) -> Self {
        Self::new(chip_id(chip).unwrap_or(u16::MAX))
    }

    /// A check for images that must be built for the chip with ESP-IDF id `chip` ([`chip_id`]).
    pub fn new(chip: u16) -> Self {
        EspImageCheck {
            chip,
            part: Part::Header,
            buf: [0; HASH_LEN],
            filled: 0,
            pos: 0,
            segments_left: 0,
            segment: 0,
            segment_left: 0,
            checksum: CHECKSUM_SEED,
            hash_appended: false,
            sha: Sha256::new(),
            error: None,
        }
    }

    /// Feeds the next bytes of the image.
    pub fn update(&mut self, data: &[u8]) {
        let used = self.take(data);
        if used < data.len() && self.error.is_none() {
            self.error = Some(ImageError::TrailingData);
        }
    }

    /// Feeds bytes that may run past the image's end (a slot read back from flash); returns how
    /// many belong to the image.
    pub fn take(&mut self, mut data: &[u8]) -> usize {
        let total = data.len();
        while !data.is_empty() && self.error.is_none() {
            let part = self.part;
            let used = match part {
                Part::Header => self.collect(data, HEADER_LEN),
                Part::SegmentHeader => self.collect(data, SEGMENT_HEADER_LEN),
                Part::SegmentData => {
                    let n = data.len().min(self.segment_left as usize);
                    self.checksum = data[..n].iter().fold(self.checksum, |c, b| c ^ b);
                    self.segment_left -= n as u32;
                    if self.segment_left == 0 {
                        self.next_segment();
                    }
                    n
                }
                Part::Padding => {
                    // The checksum byte ends a 16-byte block.
                    let need = 15 - (self.pos as usize % 16);
                    let n = data.len().min(need);
                    if n == need {
                        self.part = Part::Checksum;
                    }
                    n
                }
                Part::Checksum => {
                    if data[0] != self.checksum {
                        self.error = Some(ImageError::Checksum { computed: self.checksum, stored: data[0] });
                    }
                    self.part = if self.hash_appended { Part::Hash } else { Part::Done };
                    1
                }
                Part::Hash => self.collect(data, HASH_LEN),
                Part::Done => return total - data.len(),
            };
            // The appended hash covers everything before it.
            if part != Part::Hash {
                self.sha.update(&data[..used]);
            }
            self.pos += used as u32;
            data = &data[used..];
        }
        total - data.len()
    }

    /// Whether the image's last byte (its checksum, or its hash when appended) was fed.
    pub fn is_done(&self) -> bool {
        self.part == Part::Done
    }

    /// The verdict, once the whole image was fed.
    pub fn finish(self) -> Result<(), ImageError> {
        match (self.error, self.part) {
            (Some(e), _) => Err(e),
            (None, Part::Done) => Ok(()),
            (None, _) => Err(ImageError::Truncated),
        }
    }

    /// Gathers a fixed-size part into `buf`; handles it once complete. Returns the bytes used.
    fn collect(&mut self, data: &[u8], len: usize) -> usize {
        let n = data.len().min(len - self.filled);
        self.buf[self.filled..self.filled + n].copy_from_slice(&data[..n]);
        self.filled += n;
        if self.filled == len {
            self.filled = 0;
            self.complete();
        }
        n
    }

    fn complete(&mut self) {
        let b = self.buf;
        match self.part {
            Part::Header => {
                if b[0] != MAGIC {
                    self.error = Some(ImageError::Magic(b[0]));
                    return;
                }
                let found = u16::from_le_bytes([b[12], b[13]]);
                if found != self.chip {
                    self.error = Some(ImageError::Chip { expected: self.chip, found });
                    return;
                }
                if b[1] == 0 || b[1] > MAX_SEGMENTS {
                    self.error = Some(ImageError::SegmentCount(b[1]));
                    return;
                }
                self.segments_left = b[1];
                self.hash_appended = b[23] == 1;
                self.part = Part::SegmentHeader;
            }
            Part::SegmentHeader => {
                let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                if len % 4 != 0 || len > MAX_SEGMENT_LEN {
                    self.error = Some(ImageError::SegmentLength { index: self.segment, len });
                    return;
                }
                self.segment_left = len;
                self.part = Part::SegmentData;
                if len == 0 {
                    self.next_segment();
                }
            }
            Part::Hash => {
                if self.sha.clone().finalize()[..] != b[..HASH_LEN] {
                    self.error = Some(ImageError::Hash);
                }
                self.part = Part::Done;
            }
            Part::SegmentData | Part::Padding | Part::Checksum | Part::Done => {}
        }
    }

    fn next_segment(&mut self) {
        self.segment += 1;
        self.segments_left -= 1;
        self.part = if self.segments_left == 0 { Part::Padding } else { Part::SegmentHeader };
    }
}
