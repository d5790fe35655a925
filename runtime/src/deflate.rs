//! Streaming raw-deflate inflation through a 4 KiB ring (spec §1.5b), without allocation.
//!
//! The ESPHome 2026.10 client compresses with `wbits = -12`, so no back reference reaches
//! further than 4 KiB: the ring doubles as the output buffer and the history.

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use crate::error::OtaError;

/// The window the client promises (2^12 bytes).
pub const WINDOW_SIZE: usize = 4096;

/// One deflate stream being inflated as it arrives.
pub struct Inflater {
    state: DecompressorOxide,
    window: [u8; WINDOW_SIZE],
    pos: usize,
    done: bool,
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Inflater {
    /// A fresh decoder for one raw deflate stream.
    pub fn new() -> Self {
        Inflater { state: DecompressorOxide::new(), window: [0; WINDOW_SIZE], pos: 0, done: false }
    }

    /// True once the stream's final block has been decoded.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Inflates `input`, handing every run of output to `sink` in order.
    ///
    /// `more_input` says whether further compressed bytes will follow; when it is false the
    /// stream must end within `input`. Bytes after the end of the stream are an error.
    pub fn feed(
        &mut self,
        mut input: &[u8],
        more_input: bool,
        sink: &mut impl FnMut(&[u8]) -> Result<(), OtaError>,
    ) -> Result<(), OtaError> {
        let flags = if more_input { inflate_flags::TINFL_FLAG_HAS_MORE_INPUT } else { 0 };
        loop {
            if self.done {
                return if input.is_empty() { Ok(()) } else { Err(OtaError::InvalidDeflateStream) };
            }
            let (status, consumed, produced) =
                decompress(&mut self.state, input, &mut self.window, self.pos, flags);
            input = input.get(consumed..).ok_or(OtaError::InvalidDeflateStream)?;
            if produced > 0 {
                let run = self
                    .window
                    .get(self.pos..self.pos + produced)
                    .ok_or(OtaError::InvalidDeflateStream)?;
                sink(run)?;
                self.pos = (self.pos + produced) & (WINDOW_SIZE - 1);
            }
            match status {
                TINFLStatus::Done => self.done = true,
                // The ring filled up to its end: continue at its start.
                TINFLStatus::HasMoreOutput => {}
                TINFLStatus::NeedsMoreInput if more_input && input.is_empty() => return Ok(()),
                TINFLStatus::NeedsMoreInput if consumed > 0 || produced > 0 => {}
                _ => return Err(OtaError::InvalidDeflateStream),
            }
        }
    }
}
