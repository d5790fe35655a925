//! embassy-boot's DFU region as the update slot (the bootloader swaps it in), and safe mode's
//! boot counter in a flash sector outside embassy-boot's regions.

use core::cell::RefCell;
use embassy_boot_rp::{BlockingFirmwareUpdater, FirmwareUpdaterConfig, State};
use embassy_embedded_hal::flash::partition::BlockingPartition;
use embassy_rp::flash::{Blocking, Flash, ERASE_SIZE};
use embassy_rp::peripherals::FLASH;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use embedded_storage::nor_flash::ReadNorFlash;
use ferrota_ota::nor::{NorBootCounter, NorImageWriter};
use ferrota_ota::delta::ImageId;
use ferrota_ota::{FlashError, UpdateSlot};

/// The Pico W's flash (W25Q16JV).
pub const FLASH_SIZE: usize = 2 * 1024 * 1024;
/// Where flash is mapped (XIP).
const XIP_BASE: u32 = 0x1000_0000;
/// The SRAM an application's initial stack pointer points into (the top of its RAM).
const RAM: core::ops::RangeInclusive<u32> = 0x2000_0000..=0x2004_2000;

/// The flash, shared by the updater and the boot counter (one task uses both).
pub type SharedFlash = Mutex<NoopRawMutex, RefCell<Flash<'static, FLASH, Blocking, FLASH_SIZE>>>;
type Partition = BlockingPartition<'static, NoopRawMutex, Flash<'static, FLASH, Blocking, FLASH_SIZE>>;

/// This build's length, which `ferrota compile` writes into the image (see
/// `ferrota_ota::image_len`): the flat image has no other end to hash up to.
#[used]
static IMAGE_LEN: [u8; 16] = ferrota_ota::image_len::SLOT;

/// The MD5 of the running build, as `ferrota upload` computes it for the file it sends (for
/// the web page); `None` for a build `ferrota compile` did not make.
pub fn running_image_md5(flash: &SharedFlash, layout: FlashLayout) -> Option<[u8; 16]> {
    let len = running_image_len(layout)?;
    ferrota_ota::image_len::md5_of(len, |at, buf| read_active(flash, layout, at, buf))
}

/// How long the running build is (`ferrota compile` wrote it into the image).
fn running_image_len(layout: FlashLayout) -> Option<u32> {
    // Volatile: the value is patched into the image after the build.
    let slot = unsafe { core::ptr::read_volatile(&IMAGE_LEN) };
    ferrota_ota::image_len::read(&slot).filter(|len| *len <= layout.active_size)
}

/// Reads the ACTIVE region (the running build) at `at`.
fn read_active(flash: &SharedFlash, layout: FlashLayout, at: u32, buf: &mut [u8]) -> bool {
    flash.lock(|f| f.borrow_mut().blocking_read(layout.active + at, buf).is_ok())
}

/// Where the firmware's regions are (offsets in flash, from the generated `memory.x`).
#[derive(Debug, Clone, Copy)]
pub struct FlashLayout {
    /// The running build's region.
    pub active: u32,
    /// Its size: the largest image an update may be.
    pub active_size: u32,
    /// Safe mode's sector.
    pub safe_mode: u32,
}

/// An update written into DFU as it arrives (ferrota-ota's `NorImageWriter` erases each
/// sector as the image reaches it); `finish` checks it can boot and marks it for the
/// bootloader to swap in.
pub struct DfuSlot {
    /// embassy-boot's state: whether the running build is confirmed, and the swap request.
    updater: BlockingFirmwareUpdater<'static, Partition, Partition>,
    dfu: NorImageWriter<Partition>,
    layout: FlashLayout,
    flash: &'static SharedFlash,
    /// The running build's id, worked out at the first delta update (`None` before).
    running: Option<Option<ImageId>>,
}

impl DfuSlot {
    /// `state` is the one-byte buffer embassy-boot reads the state page through.
    pub fn new(flash: &'static SharedFlash, state: &'static mut [u8; 1], layout: FlashLayout) -> Self {
        let dfu = FirmwareUpdaterConfig::from_linkerfile_blocking(flash, flash).dfu;
        let config = FirmwareUpdaterConfig::from_linkerfile_blocking(flash, flash);
        DfuSlot { updater: BlockingFirmwareUpdater::new(config, state), dfu: NorImageWriter::new(dfu), layout, flash, running: None }
    }
}

impl UpdateSlot for DfuSlot {
    /// True while the running build was just swapped in and has not confirmed itself: if it
    /// resets now, the bootloader swaps the previous build back.
    fn unconfirmed(&mut self) -> bool {
        matches!(self.updater.get_state(), Ok(State::Swap))
    }

    fn confirm(&mut self) {
        if self.unconfirmed() {
            let _ = self.updater.mark_booted();
        }
    }

    /// Nothing to write: the reset that follows makes embassy-boot swap the previous build back.
    fn roll_back(&mut self) {}
}

impl ferrota_ota::Flash for DfuSlot {
    fn begin(&mut self, size: u32) -> Result<(), FlashError> {
        if size > self.layout.active_size {
            return Err(FlashError::NotEnoughSpace);
        }
        // embassy-boot takes no update while the running build is unconfirmed (it could not
        // go back to a good one).
        if self.unconfirmed() {
            return Err(FlashError::UpdatePrepare);
        }
        self.dfu.begin(size)
    }

    fn write(&mut self, data: &[u8]) -> Result<(), FlashError> {
        self.dfu.write(data)
    }

    fn finish(&mut self) -> Result<(), FlashError> {
        // An image that could never boot here is refused before embassy-boot swaps it in.
        self.dfu.finish()?;
        let mut vectors = [0u8; 16];
        self.dfu.flash().read(0, &mut vectors).map_err(|_| FlashError::UpdateEnd)?;
        let active = XIP_BASE + self.layout.active..XIP_BASE + self.layout.active + self.layout.active_size;
        if let Err(problem) = ferrota_ota::vector_table::check(&vectors, RAM, active) {
            log::error!("[E][ota]: the image can't boot here: {problem:?}");
            return Err(FlashError::UpdateEnd);
        }
        self.updater.mark_updated().map_err(|_| FlashError::UpdateEnd)
    }

    fn abort(&mut self) {
        // A partial image in DFU is never marked, so the bootloader ignores it; the next
        // `begin` starts over (and erases again).
        self.dfu.abort();
    }

    /// The writer keeps its place; the partial image stays unmarked in DFU.
    fn suspend(&mut self) -> Result<(), FlashError> {
        Ok(())
    }

    fn resume(&mut self, size: u32, written: u32) -> Result<(), FlashError> {
        self.dfu.resume(size, written)
    }

    /// The ACTIVE region up to the length `ferrota compile` wrote into the build, hashed once.
    fn running_image(&mut self) -> Option<ImageId> {
        let (flash, layout) = (self.flash, self.layout);
        *self.running.get_or_insert_with(|| {
            let len = running_image_len(layout)?;
            ferrota_ota::image_len::id_of(len, |at, buf| read_active(flash, layout, at, buf))
        })
    }

    fn read_running(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        let len = self.running_image().ok_or(FlashError::Unknown)?.len;
        if offset.checked_add(buf.len() as u32).is_none_or(|end| end > len) || !read_active(self.flash, self.layout, offset, buf) {
            return Err(FlashError::Unknown);
        }
        Ok(())
    }
}

/// Safe mode's boot counter: ferrota-ota's record log in its own sector, erased only when full.
pub type BootCounter = NorBootCounter<Partition>;

/// The boot counter in `layout`'s safe-mode sector.
pub fn boot_counter(flash: &'static SharedFlash, layout: FlashLayout) -> BootCounter {
    NorBootCounter::new(BlockingPartition::new(flash, layout.safe_mode, ERASE_SIZE as u32))
}
