//! Streaming an image into a NOR flash region (`embedded-storage`'s [`NorFlash`]), for
//! platforms whose update area is raw flash, such as embassy-boot's DFU partition.
//!
//! NOR flash can only clear bits: a sector must be erased before it is written again. The
//! writer erases each sector just before the image first reaches it, tracking that per image,
//! so an update that follows an aborted one never writes over the leftovers of the first (a
//! tracker that outlives the image would skip erasing the sector the first one stopped in).
//! Writes are buffered to the flash's `WRITE_SIZE`; the tail is padded with erased bytes.
//!
//! [`NorBootCounter`] keeps safe mode's boot counter in a NOR flash region the same careful way.

use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};

use crate::error::FlashError;
use crate::safe_mode::BootCounterStore;

/// The largest `WRITE_SIZE` supported (RP2040: 1, ESP32: 4, STM32H7: 32).
pub const MAX_WRITE_SIZE: usize = 32;

/// Erased NOR flash reads as ones.
const ERASED: u8 = 0xFF;

/// Writes one image at a time from the start of a NOR flash region.
pub struct NorImageWriter<F: NorFlash> {
    flash: F,
    /// The size announced for the image under way; `None` once it is finished or aborted.
    size: Option<u32>,
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
        NorImageWriter { flash, size: None, len: 0, erased_end: 0, pending: [ERASED; MAX_WRITE_SIZE], pending_len: 0 }
    }

    /// Starts a new image of `size` bytes; nothing is erased yet.
    pub fn begin(&mut self, size: u32) -> Result<(), FlashError> {
        if size as usize > self.flash.capacity() {
            return Err(FlashError::NotEnoughSpace);
        }
        self.size = Some(size);
        self.len = 0;
        self.erased_end = 0;
        self.pending_len = 0;
        Ok(())
    }

    /// Goes on with the image under way (see `Flash::resume`): `Ok` only if it is still
    /// unfinished, announced as `size` bytes and `written` bytes long. The writer never lost
    /// its place (a partial write unit waits in RAM), so nothing is read back.
    pub fn resume(&mut self, size: u32, written: u32) -> Result<(), FlashError> {
        if self.size == Some(size) && self.len == written {
            Ok(())
        } else {
            Err(FlashError::UpdatePrepare)
        }
    }

    /// Drops the image under way: it can't be resumed; the next `begin` erases again.
    pub fn abort(&mut self) {
        self.size = None;
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

    /// Writes the buffered tail (padded with erased bytes); returns the image's length. An
    /// empty image is an error: the region would still hold whatever was there before.
    pub fn finish(&mut self) -> Result<u32, FlashError> {
        if self.len == 0 {
            return Err(FlashError::UpdateEnd);
        }
        if self.pending_len > 0 {
            let mut unit = [ERASED; MAX_WRITE_SIZE];
            unit[..self.pending_len].copy_from_slice(&self.pending[..self.pending_len]);
            let at = self.len - self.pending_len as u32;
            self.program(at, &unit[..F::WRITE_SIZE])?;
            self.pending_len = 0;
        }
        self.size = None;
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

/// Marks a boot-counter record as ferrota's ("FOTA").
const RECORD_TAG: u32 = 0x4154_4F46;
/// A record: the tag, the value and its complement (a torn write does not pass), little-endian,
/// padded to the flash's `WRITE_SIZE` and `READ_SIZE`.
const RECORD_DATA: usize = 12;

/// Safe mode's boot counter in a NOR flash region (e.g. one sector) as an append-only log of
/// tagged records: a save writes the next record and only a full region is erased, so a
/// device that keeps rebooting wears the sector hundreds of times more slowly than rewriting
/// one word would (ESPHome's NVS levels wear the same way). Anything that is not a record of
/// ours, such as another firmware's data left in the region, reads as 0 rather than as a huge
/// count that would start the first boot in safe mode; a record torn by a power cut leaves the
/// value before it, and old records an interrupted erase left behind are never read after the
/// log's end. One limit: a power cut during the erase of a full region (once every ~340 saves)
/// loses the count (it reads 0, or an older count when the erase left the region's start).
/// `tests/nor.rs` cuts power before every flash operation of a save, whole and torn.
pub struct NorBootCounter<F: NorFlash> {
    flash: F,
}

impl<F: NorFlash> NorBootCounter<F> {
    /// The counter in the region `flash` (its whole capacity is the log).
    pub fn new(flash: F) -> Self {
        assert!(Self::record_len() <= MAX_WRITE_SIZE, "WRITE_SIZE above MAX_WRITE_SIZE");
        NorBootCounter { flash }
    }

    /// The flash region, e.g. for tests.
    pub fn flash(&mut self) -> &mut F {
        &mut self.flash
    }

    fn record_len() -> usize {
        RECORD_DATA.next_multiple_of(F::WRITE_SIZE.max(F::READ_SIZE))
    }

    /// The log starts one record in: the first word stays erased, which ferrota builds that
    /// kept a bare counter word there read as 0 (one that is rolled back to must not start in
    /// safe mode because of a record it cannot read).
    fn first_record() -> usize {
        Self::record_len()
    }

    /// The last valid value (0 without one) and where the next record goes; `None` for the
    /// place when the region is full or holds something else (it must be erased first). The
    /// log is only appended to while everything after its end is erased: an erase cut short by
    /// power can leave old records further on, which must never be read as newer ones.
    fn scan(&mut self) -> (u32, Option<u32>) {
        let len = Self::record_len();
        let mut value = 0;
        let mut at = Self::first_record();
        while at + len <= self.flash.capacity() {
            let mut record = [0u8; MAX_WRITE_SIZE];
            if self.flash.read(at as u32, &mut record[..len]).is_err() {
                return (value, None);
            }
            if record[..len].iter().all(|&b| b == ERASED) {
                let rest_erased = self.erased_from(at + len);
                return (value, rest_erased.then_some(at as u32));
            }
            let word = |i: usize| u32::from_le_bytes([record[i], record[i + 1], record[i + 2], record[i + 3]]);
            if word(0) != RECORD_TAG || word(4) != !word(8) {
                return (value, None);
            }
            value = word(4);
            at += len;
        }
        (value, None)
    }
}

impl<F: NorFlash> NorBootCounter<F> {
    /// Whether the region reads erased from `from` to its end.
    fn erased_from(&mut self, from: usize) -> bool {
        let mut chunk = [0u8; MAX_WRITE_SIZE];
        let step = Self::record_len();
        let mut at = from;
        while at < self.flash.capacity() {
            let n = step.min(self.flash.capacity() - at);
            if self.flash.read(at as u32, &mut chunk[..n]).is_err() || chunk[..n].iter().any(|&b| b != ERASED) {
                return false;
            }
            at += n;
        }
        true
    }
}

impl<F: NorFlash> BootCounterStore for NorBootCounter<F> {
    fn load(&mut self) -> u32 {
        self.scan().0
    }

    fn save(&mut self, value: u32) {
        let at = match self.scan() {
            (_, Some(at)) => at,
            (_, None) => {
                let capacity = self.flash.capacity() as u32;
                if self.flash.erase(0, capacity).is_err() {
                    return;
                }
                Self::first_record() as u32
            }
        };
        let mut record = [ERASED; MAX_WRITE_SIZE];
        record[..4].copy_from_slice(&RECORD_TAG.to_le_bytes());
        record[4..8].copy_from_slice(&value.to_le_bytes());
        record[8..12].copy_from_slice(&(!value).to_le_bytes());
        let _ = self.flash.write(at, &record[..Self::record_len()]);
    }
}

/// Reads `buf.len()` bytes at any `offset`, however the flash aligns its reads (`READ_SIZE`
/// up to 64): through a bounce buffer that may read up to `READ_SIZE - 1` bytes past the end.
/// For a patch's base, read wherever the patch says.
pub fn read_unaligned<F: ReadNorFlash>(flash: &mut F, offset: u32, buf: &mut [u8]) -> Result<(), F::Error> {
    const BOUNCE: usize = 512;
    let align = F::READ_SIZE.max(1) as u32;
    if align == 1 {
        return flash.read(offset, buf);
    }
    let mut bounce = [0u8; BOUNCE];
    let mut done = 0;
    while done < buf.len() {
        let at = offset + done as u32;
        let start = at - at % align;
        let skip = (at - start) as usize;
        let len = (skip + buf.len() - done).next_multiple_of(align as usize).min(BOUNCE - BOUNCE % align as usize);
        flash.read(start, &mut bounce[..len])?;
        let n = (len - skip).min(buf.len() - done);
        buf[done..done + n].copy_from_slice(&bounce[skip..skip + n]);
        done += n;
    }
    Ok(())
}

/// A window `[start, start + len)` of a NOR flash as a flash of its own (a partition).
#[derive(Clone)]
pub struct Region<F> {
    flash: F,
    start: u32,
    len: u32,
}

impl<F: NorFlash> Region<F> {
    /// The `len` bytes of `flash` from `start`; offsets past the end are refused.
    pub fn new(flash: F, start: u32, len: u32) -> Self {
        Region { flash, start, len }
    }

    fn at(&self, offset: u32, len: usize) -> Result<u32, RegionError<F::Error>> {
        match offset.checked_add(len as u32) {
            Some(end) if end <= self.len => Ok(self.start + offset),
            _ => Err(RegionError::OutOfBounds),
        }
    }
}

/// A region's error: outside the window, or the flash's own.
#[derive(Debug)]
pub enum RegionError<E> {
    /// The access falls outside the region.
    OutOfBounds,
    /// What the flash said.
    Flash(E),
}

impl<E: NorFlashError> NorFlashError for RegionError<E> {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            RegionError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            RegionError::Flash(e) => e.kind(),
        }
    }
}

impl<F: NorFlash> ErrorType for Region<F> {
    type Error = RegionError<F::Error>;
}

impl<F: NorFlash> ReadNorFlash for Region<F> {
    const READ_SIZE: usize = F::READ_SIZE;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let at = self.at(offset, bytes.len())?;
        self.flash.read(at, bytes).map_err(RegionError::Flash)
    }
    fn capacity(&self) -> usize {
        self.len as usize
    }
}

impl<F: NorFlash> NorFlash for Region<F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let len = to.checked_sub(from).ok_or(RegionError::OutOfBounds)?;
        let at = self.at(from, len as usize)?;
        self.flash.erase(at, at + len).map_err(RegionError::Flash)
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let at = self.at(offset, bytes.len())?;
        self.flash.write(at, bytes).map_err(RegionError::Flash)
    }
}

/// One NOR flash shared by several users on one task (the update slot, the boot counter):
/// each access borrows it for that access only.
pub struct Shared<'a, F>(pub &'a core::cell::RefCell<F>);

impl<F> Clone for Shared<'_, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F> Copy for Shared<'_, F> {}

impl<F: NorFlash> ErrorType for Shared<'_, F> {
    type Error = F::Error;
}

impl<F: NorFlash> ReadNorFlash for Shared<'_, F> {
    const READ_SIZE: usize = F::READ_SIZE;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), F::Error> {
        self.0.borrow_mut().read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.0.borrow().capacity()
    }
}

impl<F: NorFlash> NorFlash for Shared<'_, F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), F::Error> {
        self.0.borrow_mut().erase(from, to)
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), F::Error> {
        self.0.borrow_mut().write(offset, bytes)
    }
}
