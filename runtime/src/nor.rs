//! Streaming an image into a NOR flash region (`embedded-storage`'s [`NorFlash`]), for
//! platforms whose update area is raw flash, such as embassy-boot's DFU partition.
//!
//! NOR flash can only clear bits: a sector must be erased before it is written again. The
//! writer erases each sector just before the image first reaches it, tracking that per image,
//! so an update that follows an aborted one never writes over the leftovers of the first (a
//! tracker that outlives the image would skip erasing the sector the first one stopped in).
//! Writes are buffered to the flash's `WRITE_SIZE`; the tail is padded with erased bytes.

use embedded_storage::nor_flash::NorFlash;

use crate::error::FlashError;

/// The largest `WRITE_SIZE` supported (RP2040: 1, ESP32: 4, STM32H7: 32).
pub const MAX_WRITE_SIZE: usize = 32;

/// Erased NOR flash reads as ones.
const ERASED: u8 = 0xFF;

/// Writes one image at a time from the start of a NOR flash region.
pub struct NorImageWriter<F: NorFlash> {
    flash: F,
    /// Bytes of the image written or buffered so far.
    len: u32,
    /// Everything below this offset has been erased for the current image.
    erased_end: u32,
    /// Bytes waiting for a whole `WRITE_SIZE` unit.
    pending: [u8; MAX_WRITE_SIZE],
    pending_len: usize,
}

impl<F: NorFlash> NorImageWriter<F> {
    /// A writer for the region `flash` (offset 0 is where the image starts).
    pub fn new(flash: F) -> Self {
        assert!(F::WRITE_SIZE <= MAX_WRITE_SIZE, "WRITE_SIZE above MAX_WRITE_SIZE");
        assert!(F::ERASE_SIZE % F::WRITE_SIZE == 0, "ERASE_SIZE is a multiple of WRITE_SIZE");
        NorImageWriter { flash, len: 0, erased_end: 0, pending: [ERASED; MAX_WRITE_SIZE], pending_len: 0 }
    }

    /// Starts a new image of `size` bytes; nothing is erased yet.
    pub fn begin(&mut self, size: u32) -> Result<(), FlashError> {
        if size as usize > self.flash.capacity() {
            return Err(FlashError::NotEnoughSpace);
        }
        self.len = 0;
        self.erased_end = 0;
        self.pending_len = 0;
        Ok(())
    }

    /// Appends `data` to the image.
    pub fn write(&mut self, mut data: &[u8]) -> Result<(), FlashError> {
        if self.len as usize + data.len() > self.flash.capacity() {
            return Err(FlashError::NotEnoughSpace);
        }
        // Complete a partial unit first.
        if self.pending_len > 0 {
            let take = data.len().min(F::WRITE_SIZE - self.pending_len);
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&data[..take]);
            self.pending_len += take;
            self.len += take as u32;
            data = &data[take..];
            if self.pending_len < F::WRITE_SIZE {
                return Ok(());
            }
            let unit = self.pending;
            self.program(self.len - F::WRITE_SIZE as u32, &unit[..F::WRITE_SIZE])?;
            self.pending_len = 0;
        }
        let whole = data.len() - data.len() % F::WRITE_SIZE;
        if whole > 0 {
            self.program(self.len, &data[..whole])?;
            self.len += whole as u32;
        }
        let rest = &data[whole..];
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
        self.len += rest.len() as u32;
        Ok(())
    }

    /// Writes the buffered tail (padded with erased bytes); returns the image's length.
    pub fn finish(&mut self) -> Result<u32, FlashError> {
        if self.pending_len > 0 {
            let mut unit = [ERASED; MAX_WRITE_SIZE];
            unit[..self.pending_len].copy_from_slice(&self.pending[..self.pending_len]);
            let at = self.len - self.pending_len as u32;
            self.program(at, &unit[..F::WRITE_SIZE])?;
            self.pending_len = 0;
        }
        Ok(self.len)
    }

    /// The flash region, e.g. to read the image back.
    pub fn flash(&mut self) -> &mut F {
        &mut self.flash
    }

    /// Erases the sectors `bytes` at `offset` reaches that this image has not erased yet, then
    /// writes them.
    fn program(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        let end = offset + bytes.len() as u32;
        if end > self.erased_end {
            let to = end.next_multiple_of(F::ERASE_SIZE as u32);
            self.flash.erase(self.erased_end, to).map_err(|_| FlashError::Write)?;
            self.erased_end = to;
        }
        self.flash.write(offset, bytes).map_err(|_| FlashError::Write)
    }
}
