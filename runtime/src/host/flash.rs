//! The host's "flash": a staging file that becomes the next A/B slot once verified.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

use super::elf;
use super::slots::Slots;
use crate::delta::ImageId;
use crate::error::FlashError;
use crate::flash::Flash;

/// ESPHome's host backend refuses images over 256 MiB with `81`.
pub const MAX_IMAGE_SIZE: u32 = 256 * 1024 * 1024;

/// Writes the upload to `image.ota.new`; `finish` checks it and installs it as the next slot.
pub struct FileFlash {
    slots: Slots,
    file: Option<BufWriter<File>>,
    /// The executable this process runs (a patch's base), opened when a patch first reads it.
    running: Option<File>,
}

/// The running executable's id, worked out once per process (it never changes under it).
static RUNNING: OnceLock<Option<ImageId>> = OnceLock::new();

impl FileFlash {
    /// A backend staging into `slots`.
    pub fn new(slots: Slots) -> Self {
        FileFlash { slots, file: None, running: None }
    }

    fn check_and_install(&mut self) -> Result<(), FlashError> {
        let file = self.file.take().ok_or(FlashError::UpdateEnd)?;
        let file = file.into_inner().map_err(|_| FlashError::Write)?;
        file.sync_all().map_err(|_| FlashError::Write)?;
        drop(file);
        let mut header = Vec::with_capacity(64);
        File::open(self.slots.staging_path())
            .and_then(|f| f.take(64).read_to_end(&mut header))
            .map_err(|_| FlashError::UpdateEnd)?;
        if !elf::is_native_executable(&header) {
            eprintln!("[ota] the image is not an executable for this machine");
            return Err(FlashError::UpdateEnd);
        }
        let state = self.slots.install_staged().map_err(|e| {
            eprintln!("[ota] installing the image failed: {e}");
            FlashError::UpdateEnd
        })?;
        eprintln!("[ota] installed the new build as slot {:?}", state.current);
        Ok(())
    }
}

impl Flash for FileFlash {
    fn begin(&mut self, size: u32) -> Result<(), FlashError> {
        if size > MAX_IMAGE_SIZE {
            return Err(FlashError::NotEnoughSpace);
        }
        let file = File::create(self.slots.staging_path()).map_err(|e| {
            eprintln!("[ota] cannot create the staging file: {e}");
            FlashError::UpdatePrepare
        })?;
        self.file = Some(BufWriter::with_capacity(64 * 1024, file));
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> Result<(), FlashError> {
        let file = self.file.as_mut().ok_or(FlashError::Write)?;
        file.write_all(data).map_err(|_| FlashError::Write)
    }

    fn finish(&mut self) -> Result<(), FlashError> {
        let result = self.check_and_install();
        if result.is_err() {
            self.abort();
        }
        result
    }

    fn abort(&mut self) {
        self.file = None;
        let _ = std::fs::remove_file(self.slots.staging_path());
    }

    /// The staging file keeps what was written (flushed, not synced: a parked upload lives in
    /// the device's memory, so a power cut loses it anyway).
    fn suspend(&mut self) -> Result<(), FlashError> {
        let mut file = self.file.take().ok_or(FlashError::Write)?;
        file.flush().map_err(|_| FlashError::Write)
    }

    fn resume(&mut self, size: u32, written: u32) -> Result<(), FlashError> {
        if size > MAX_IMAGE_SIZE {
            return Err(FlashError::NotEnoughSpace);
        }
        let mut file = OpenOptions::new().write(true).open(self.slots.staging_path()).map_err(|_| FlashError::UpdatePrepare)?;
        let len = file.metadata().map_err(|_| FlashError::UpdatePrepare)?.len();
        if len != u64::from(written) {
            return Err(FlashError::UpdatePrepare);
        }
        file.seek(SeekFrom::End(0)).map_err(|_| FlashError::UpdatePrepare)?;
        self.file = Some(BufWriter::with_capacity(64 * 1024, file));
        Ok(())
    }

    /// The executable this process runs: the image `ferrota upload` sent (slots are installed
    /// by renaming the staging file) or the one the supervisor started first.
    fn running_image(&mut self) -> Option<ImageId> {
        *RUNNING.get_or_init(|| hash_executable(|len, read| crate::image_len::id_of(len, read)))
    }

    fn read_running(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        if self.running.is_none() {
            self.running = Some(std::env::current_exe().and_then(File::open).map_err(|_| FlashError::Unknown)?);
        }
        let file = self.running.as_ref().ok_or(FlashError::Unknown)?;
        file.read_exact_at(buf, u64::from(offset)).map_err(|_| FlashError::Unknown)
    }
}

/// A hash (`image_len::md5_of`, `image_len::id_of`) of the executable this process runs,
/// read in pieces; `None` when it can't be read.
pub(super) fn hash_executable<T>(hash: impl FnOnce(u32, &mut dyn FnMut(u32, &mut [u8]) -> bool) -> Option<T>) -> Option<T> {
    let mut file = std::env::current_exe().and_then(File::open).ok()?;
    let len = u32::try_from(file.metadata().ok()?.len()).ok()?;
    hash(len, &mut |_, buf| file.read_exact(buf).is_ok())
}

impl Drop for FileFlash {
    /// A session dropped mid-upload (safe mode's reboot) leaves no staging file behind.
    fn drop(&mut self) {
        if self.file.is_some() {
            self.abort();
        }
    }
}
