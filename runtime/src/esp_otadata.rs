//! ESP-IDF's `otadata` partition: which OTA app slot the bootloader boots, and the running
//! build's state, written so that a power cut at any flash operation leaves a choice the
//! bootloader reads as before or as after, never neither.
//!
//! The partition is two sectors, each holding one 32-byte `esp_ota_select_entry_t`
//! (`ota_seq`, a 20-byte label, `ota_state`, the CRC-32 of `ota_seq`). The bootloader takes the
//! valid entry with the highest sequence (a tie goes to the first sector) and boots slot
//! `(seq - 1) % slots`; with both entries blank it boots the factory app (or `ota_0`).
//!
//! Every change here writes a *new* entry with a higher sequence into the sector that does
//! not hold the chosen one, so the chosen entry is never erased: a cut before the new entry
//! is complete (its CRC is its last word) leaves the old one in charge. A state change of the
//! running build (confirm, invalidate) is a new entry for the same slot, `slots` higher.
//! (esp-bootloader-esp-idf rewrites the chosen entry in place: a cut between its erase and its
//! write would boot the previous build.)

use crate::error::FlashError;
use crate::esp_image::EspImageCheck;
use crate::delta::ImageId;
use crate::flash::{Flash, UpdateSlot};
use crate::nor::{NorImageWriter, Region};
use embedded_storage::nor_flash::NorFlash;

/// Where the second entry is: the start of the partition's second sector.
const SECOND: u32 = 0x1000;
/// The size of an entry.
const ENTRY: usize = 32;

/// `esp_ota_img_states_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageState {
    /// Just activated, not booted yet (the bootloader makes it `PendingVerify` when rollback
    /// is on).
    New,
    /// Booted once, not confirmed.
    PendingVerify,
    /// Confirmed by the running build.
    Valid,
    /// Given up on by the running build.
    Invalid,
    /// Given up on by the bootloader (never confirmed).
    Aborted,
    /// No state (what a serial flash or an updater without rollback leaves).
    Undefined,
}

impl ImageState {
    fn to_word(self) -> u32 {
        match self {
            ImageState::New => 0,
            ImageState::PendingVerify => 1,
            ImageState::Valid => 2,
            ImageState::Invalid => 3,
            ImageState::Aborted => 4,
            ImageState::Undefined => u32::MAX,
        }
    }

    fn from_word(word: u32) -> Option<Self> {
        Some(match word {
            0 => ImageState::New,
            1 => ImageState::PendingVerify,
            2 => ImageState::Valid,
            3 => ImageState::Invalid,
            4 => ImageState::Aborted,
            u32::MAX => ImageState::Undefined,
            _ => return None,
        })
    }

    /// True for a build that has not confirmed itself: the previous one is still needed.
    pub fn is_unconfirmed(self) -> bool {
        matches!(self, ImageState::New | ImageState::PendingVerify)
    }
}

/// One valid entry: the slot it selects, its sequence and state, and which sector holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// The OTA app slot (`ota_N`).
    pub slot: u32,
    /// The entry's sequence number.
    pub seq: u32,
    /// The selected build's state.
    pub state: ImageState,
    /// 0 or 1: the sector the entry is in.
    pub sector: u32,
}

/// Why `otadata` could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtadataError {
    /// The flash refused a read, erase or write.
    Flash,
    /// The partition table has no OTA app slots.
    NoSlots,
}

/// CRC-32 as the ESP ROM's `crc32_le(UINT32_MAX, …)` computes it (reflected 0x04C11DB7,
/// register starting at 0, result inverted).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The 32 bytes of an entry selecting `seq` with `state`.
pub fn encode(seq: u32, state: ImageState) -> [u8; ENTRY] {
    let mut entry = [0xFF; ENTRY];
    entry[0..4].copy_from_slice(&seq.to_le_bytes());
    entry[24..28].copy_from_slice(&state.to_word().to_le_bytes());
    entry[28..32].copy_from_slice(&crc32(&seq.to_le_bytes()).to_le_bytes());
    entry
}

/// The entry's sequence and state, if the bootloader would take it (a blank, torn or
/// corrupted entry is not).
pub fn decode(entry: &[u8; ENTRY]) -> Option<(u32, ImageState)> {
    let word = |at: usize| u32::from_le_bytes([entry[at], entry[at + 1], entry[at + 2], entry[at + 3]]);
    let (seq, state, crc) = (word(0), word(24), word(28));
    if seq == u32::MAX || crc != crc32(&seq.to_le_bytes()) {
        return None;
    }
    Some((seq, ImageState::from_word(state)?))
}

/// The bootloader's choice from the two entries: the valid one with the highest sequence (a
/// tie goes to the first). With `rollback` (ESP-IDF's `CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE`),
/// an `Invalid` or `Aborted` entry is not valid. `None`: boot the factory app or `ota_0`.
pub fn choose(entries: [&[u8; ENTRY]; 2], slots: u32, rollback: bool) -> Option<Selection> {
    let mut best: Option<Selection> = None;
    for (sector, entry) in (0u32..).zip(entries) {
        let Some((seq, state)) = decode(entry) else { continue };
        if rollback && matches!(state, ImageState::Invalid | ImageState::Aborted) {
            continue;
        }
        if best.is_none_or(|b| seq > b.seq) {
            best = Some(Selection { slot: (seq - 1) % slots.max(1), seq, state, sector });
        }
    }
    best
}

/// The `otadata` partition over its flash region (two 4 KiB sectors), for `slots` OTA app
/// slots.
pub struct Otadata<F: NorFlash> {
    flash: F,
    slots: u32,
}

impl<F: NorFlash> Otadata<F> {
    /// `flash` is the partition (offset 0 is its start).
    pub fn new(flash: F, slots: u32) -> Result<Self, OtadataError> {
        if slots == 0 {
            return Err(OtadataError::NoSlots);
        }
        Ok(Otadata { flash, slots })
    }

    /// What the bootloader boots (`None`: blank, the factory app or `ota_0`).
    pub fn selected(&mut self) -> Result<Option<Selection>, OtadataError> {
        let (first, second) = self.entries()?;
        Ok(choose([&first, &second], self.slots, false))
    }

    /// Makes `slot` the one that boots next, in `state` (`New` for a fresh update, `Valid` to
    /// adopt or go back to a build known good).
    pub fn select(&mut self, slot: u32, state: ImageState) -> Result<(), OtadataError> {
        let current = self.selected()?;
        let after = current.map_or(0, |c| c.seq);
        // The smallest sequence above the current one that selects `slot`.
        let seq = (after / self.slots) * self.slots + slot % self.slots + 1;
        let seq = if seq > after { seq } else { seq + self.slots };
        self.write_entry(current, seq, state)
    }

    /// Records the running build's new state (confirmed, given up) without changing the slot.
    /// Nothing to do without a selection.
    pub fn set_state(&mut self, state: ImageState) -> Result<(), OtadataError> {
        match self.selected()? {
            Some(current) if current.state != state => self.write_entry(Some(current), current.seq + self.slots, state),
            _ => Ok(()),
        }
    }

    /// Writes the entry into the sector the current choice is not in.
    fn write_entry(&mut self, current: Option<Selection>, seq: u32, state: ImageState) -> Result<(), OtadataError> {
        let sector = match current {
            Some(c) if c.sector == 0 => SECOND,
            _ => 0,
        };
        self.flash.erase(sector, sector + SECOND).map_err(|_| OtadataError::Flash)?;
        self.flash.write(sector, &encode(seq, state)).map_err(|_| OtadataError::Flash)
    }

    fn entries(&mut self) -> Result<([u8; ENTRY], [u8; ENTRY]), OtadataError> {
        let (mut first, mut second) = ([0; ENTRY], [0; ENTRY]);
        self.flash.read(0, &mut first).map_err(|_| OtadataError::Flash)?;
        self.flash.read(SECOND, &mut second).map_err(|_| OtadataError::Flash)?;
        Ok((first, second))
    }
}

/// The most OTA app slots a partition table has (`ota_0` … `ota_15`).
pub const MAX_SLOTS: usize = 16;

/// Where the update machinery is in flash, from the partition table and the MMU.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layout {
    /// The `otadata` partition's offset (two sectors); `None`: no updates possible.
    pub otadata: Option<u32>,
    /// The OTA app slots in order, `(offset, size)`; the first `slot_count` are real.
    pub slots: [(u32, u32); MAX_SLOTS],
    /// How many OTA app slots the table has.
    pub slot_count: u32,
    /// The slot this build runs from (`None`: the factory app, or unknown).
    pub booted: Option<u32>,
}

/// The ESP32's update slot: an image goes into the OTA app slot after the running one,
/// erased sector by sector as it arrives and checked as it passes (chip, segments, checksum,
/// SHA-256); only a complete image that passed is selected in `otadata`, as `New` until the
/// build confirms itself (ESP-IDF's `esp_ota_write` / `esp_ota_end` / `esp_ota_set_boot_partition`).
pub struct EspSlots<F: NorFlash + Clone> {
    flash: F,
    layout: Layout,
    chip: &'static str,
    /// The image being written and the slot it goes to.
    writing: Option<(u32, NorImageWriter<Region<F>>, EspImageCheck)>,
    /// The running image's id, worked out at the first delta update (`None` before).
    running: Option<Option<ImageId>>,
}

impl<F: NorFlash + Clone> EspSlots<F> {
    /// The slots of `layout` in `flash` (the whole flash), taking images for `chip` (as
    /// `EspImageCheck::for_chip` names it). A device fresh from a serial flash runs `ota_0`
    /// with a blank `otadata`, which reads as "factory": its slot is recorded as the current,
    /// good one (ESP-IDF's first OTA does the same), so the next image never goes over it.
    pub fn new(flash: F, layout: Layout, chip: &'static str) -> Self {
        let slots = EspSlots { flash, layout, chip, writing: None, running: None };
        if let (Some(mut otadata), Some(0)) = (slots.otadata(), layout.booted) {
            if otadata.selected().is_ok_and(|s| s.is_none()) {
                let _ = otadata.select(0, ImageState::Valid);
            }
        }
        slots
    }

    /// The `otadata` partition, if the table has one and OTA app slots.
    pub fn otadata(&self) -> Option<Otadata<Region<F>>> {
        let at = self.layout.otadata?;
        Otadata::new(Region::new(self.flash.clone(), at, 2 * SECOND), self.layout.slot_count).ok()
    }

    /// What the bootloader boots next.
    pub fn selected(&self) -> Option<Selection> {
        self.otadata()?.selected().ok().flatten()
    }

    /// The MD5 of the image the device runs, as `ferrota upload` computes it for the file it
    /// sends: read back from the running slot up to the image's end (which its header and
    /// segments say). `None` when the slot holds no complete image.
    pub fn running_image_md5(&self) -> Option<[u8; 16]> {
        use md5::{Digest, Md5};
        let mut md5 = Md5::new();
        self.walk_running_image(|bytes| md5.update(bytes))?;
        Some(md5.finalize().into())
    }

    /// The running build's slot (the partition it boots from).
    fn running_slot(&self) -> Option<Region<F>> {
        let (offset, capacity) = self.layout.slots[self.layout.booted? as usize];
        Some(Region::new(self.flash.clone(), offset, capacity))
    }

    /// Hands the running image's bytes to `each` in order, up to the end its header and
    /// segments say; its length, or `None` when the slot holds no complete image.
    fn walk_running_image(&self, mut each: impl FnMut(&[u8])) -> Option<u32> {
        use embedded_storage::nor_flash::ReadNorFlash;
        let mut slot = self.running_slot()?;
        let capacity = slot.capacity() as u32;
        let mut check = EspImageCheck::for_chip(self.chip);
        let mut buf = [0u8; 1024];
        let (mut at, mut len) = (0, 0);
        while at < capacity && !check.is_done() {
            let n = buf.len().min((capacity - at) as usize);
            slot.read(at, &mut buf[..n]).ok()?;
            let used = check.take(&buf[..n]);
            each(&buf[..used]);
            len += used as u32;
            at += n as u32;
        }
        check.finish().ok()?;
        Some(len)
    }

    /// The slot an update goes to: the one after the running build's, never the running one.
    fn next_slot(&self) -> Option<u32> {
        let count = self.layout.slot_count;
        let booted = self.layout.booted?;
        let next = (booted + 1) % count;
        (count >= 2 && next != booted).then_some(next)
    }
}

impl<F: NorFlash + Clone> Flash for EspSlots<F> {
    fn begin(&mut self, size: u32) -> Result<(), FlashError> {
        self.writing = None;
        // Until the running build confirmed itself, the other slot holds the last good one:
        // writing there would leave nothing to go back to (ESP-IDF refuses this too).
        if self.unconfirmed() {
            return Err(FlashError::UpdatePrepare);
        }
        // A blank `otadata` that `new` could not adopt: which slot runs is unknown.
        if self.selected().is_none() {
            return Err(FlashError::NoUpdatePartition);
        }
        let Some(slot) = self.next_slot() else { return Err(FlashError::NoUpdatePartition) };
        let (offset, capacity) = self.layout.slots[slot as usize];
        if size > capacity {
            return Err(FlashError::NotEnoughSpace);
        }
        let mut writer = NorImageWriter::new(Region::new(self.flash.clone(), offset, capacity));
        writer.begin(size)?;
        self.writing = Some((slot, writer, EspImageCheck::for_chip(self.chip)));
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> Result<(), FlashError> {
        let Some((_, writer, check)) = self.writing.as_mut() else { return Err(FlashError::Write) };
        check.update(data);
        writer.write(data)
    }

    fn finish(&mut self) -> Result<(), FlashError> {
        let Some((slot, mut writer, check)) = self.writing.take() else { return Err(FlashError::UpdateEnd) };
        // An empty image would leave the slot's previous content to be selected.
        writer.finish()?;
        // Refused before the bootloader is pointed at it: the running build stays the one that boots.
        check.finish().map_err(|_| FlashError::UpdateEnd)?;
        let mut otadata = self.otadata().ok_or(FlashError::UpdateEnd)?;
        otadata.select(slot, ImageState::New).map_err(|_| FlashError::UpdateEnd)
    }

    fn abort(&mut self) {
        self.writing = None;
    }

    /// The writer (and the image check) keep their place in `writing`.
    fn suspend(&mut self) -> Result<(), FlashError> {
        if self.writing.is_some() { Ok(()) } else { Err(FlashError::Write) }
    }

    fn resume(&mut self, size: u32, written: u32) -> Result<(), FlashError> {
        let Some((_, writer, _)) = self.writing.as_mut() else { return Err(FlashError::UpdatePrepare) };
        writer.resume(size, written)
    }

    /// The running app partition's image, hashed once (a second or so of flash reads).
    fn running_image(&mut self) -> Option<ImageId> {
        if self.running.is_none() {
            use sha2::{Digest, Sha256};
            let mut sha = Sha256::new();
            let len = self.walk_running_image(|bytes| sha.update(bytes));
            self.running = Some(len.map(|len| ImageId { sha256: sha.finalize().into(), len }));
        }
        self.running.flatten()
    }

    fn read_running(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        let len = self.running_image().ok_or(FlashError::Unknown)?.len;
        if offset.checked_add(buf.len() as u32).is_none_or(|end| end > len) {
            return Err(FlashError::Unknown);
        }
        let mut slot = self.running_slot().ok_or(FlashError::Unknown)?;
        crate::nor::read_unaligned(&mut slot, offset, buf).map_err(|_| FlashError::Unknown)
    }
}

impl<F: NorFlash + Clone> UpdateSlot for EspSlots<F> {
    fn unconfirmed(&mut self) -> bool {
        self.selected().is_some_and(|s| s.state.is_unconfirmed())
    }

    fn confirm(&mut self) {
        if self.unconfirmed() {
            if let Some(mut otadata) = self.otadata() {
                let _ = otadata.set_state(ImageState::Valid);
            }
        }
    }

    /// Selects the slot before the running one again: the build an update was written over
    /// from (updates go to the slot after the running one). Worked out from the slot numbers,
    /// not read from the other `otadata` sector, which the new entry's erase may already have
    /// cleared when a power cut interrupted an earlier rollback.
    fn roll_back(&mut self) {
        let count = self.layout.slot_count;
        let Some(current) = self.selected() else { return };
        if let Some(mut otadata) = self.otadata().filter(|_| count >= 2) {
            let _ = otadata.select((current.slot + count - 1) % count, ImageState::Valid);
        }
    }
}
