//! Where the image goes: the backend a platform implements (flash partition, staging file).

use crate::delta::ImageId;
use crate::error::FlashError;

/// An update partition that receives one image at a time.
///
/// The session calls `begin` once, `write` for every byte of the image in order, then either
/// `finish` (only after the image's MD5 matched) or `abort`. Until `finish` returns `Ok` the
/// running image must stay the one that boots.
pub trait Flash {
    /// Prepares for an image of `size` bytes (erase, open a staging file, check space).
    fn begin(&mut self, size: u32) -> Result<(), FlashError>;
    /// Stores the next bytes of the image.
    fn write(&mut self, data: &[u8]) -> Result<(), FlashError>;
    /// Validates the complete image and makes it the one that boots next.
    fn finish(&mut self) -> Result<(), FlashError>;
    /// Drops a partial image; the running image stays bootable.
    fn abort(&mut self);
    /// Keeps a partial image for [`Flash::resume`] after the connection that sent it dropped:
    /// every byte written so far must be stored (buffers flushed) and stay where it is even
    /// when this value is dropped. `Err` when it can't: the session aborts instead.
    fn suspend(&mut self) -> Result<(), FlashError> {
        Err(FlashError::Write)
    }
    /// Continues the partial image of `size` bytes an earlier session suspended after
    /// `written` bytes, as if those had just been written. `Err` when it is gone or differs:
    /// the session begins afresh.
    fn resume(&mut self, size: u32, written: u32) -> Result<(), FlashError> {
        let _ = (size, written);
        Err(FlashError::UpdatePrepare)
    }
    /// The image the device runs, for delta updates: its SHA-256 and length (worth caching:
    /// it is asked once per session). `None` when it can't be told: no patch is accepted then.
    fn running_image(&mut self) -> Option<ImageId> {
        None
    }
    /// Fills `buf` with the running image's bytes at `offset`, for a patch's base.
    fn read_running(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        let _ = (offset, buf);
        Err(FlashError::Unknown)
    }
}

impl<F: Flash + ?Sized> Flash for &mut F {
    fn begin(&mut self, size: u32) -> Result<(), FlashError> {
        (**self).begin(size)
    }
    fn write(&mut self, data: &[u8]) -> Result<(), FlashError> {
        (**self).write(data)
    }
    fn finish(&mut self) -> Result<(), FlashError> {
        (**self).finish()
    }
    fn abort(&mut self) {
        (**self).abort()
    }
    fn suspend(&mut self) -> Result<(), FlashError> {
        (**self).suspend()
    }
    fn resume(&mut self, size: u32, written: u32) -> Result<(), FlashError> {
        (**self).resume(size, written)
    }
    fn running_image(&mut self) -> Option<ImageId> {
        (**self).running_image()
    }
    fn read_running(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        (**self).read_running(offset, buf)
    }
}

/// The update slot of a platform with a bootloader that keeps the previous build: the image
/// writer plus the running build's confirmation (ESP-IDF's `otadata` state, embassy-boot's
/// state page, the host's slot file).
pub trait UpdateSlot: Flash {
    /// True while the running build was just installed and has not confirmed itself: the
    /// bootloader would go back to the previous build.
    fn unconfirmed(&mut self) -> bool;
    /// Marks the running build as good, so the bootloader keeps it.
    fn confirm(&mut self);
    /// Gives up on the running (unconfirmed) build; the reset that follows boots the previous one.
    fn roll_back(&mut self);
}

/// The slot as a session writes to it, with a confirmation that came due while the session
/// held the slot (`device::Action::Confirm` during a session): the update it begins confirms
/// the running build first, since a slot refuses updates while the running build is
/// unconfirmed (there would be no good build left to go back to).
pub struct ConfirmFirst<'a, S: UpdateSlot> {
    slot: &'a mut S,
    confirm_due: &'a core::cell::Cell<bool>,
}

impl<'a, S: UpdateSlot> ConfirmFirst<'a, S> {
    /// `confirm_due` is set by whoever sees the device's `Confirm` while the session runs.
    pub fn new(slot: &'a mut S, confirm_due: &'a core::cell::Cell<bool>) -> Self {
        ConfirmFirst { slot, confirm_due }
    }
}

impl<S: UpdateSlot> Flash for ConfirmFirst<'_, S> {
    fn begin(&mut self, size: u32) -> Result<(), FlashError> {
        if self.confirm_due.take() {
            self.slot.confirm();
        }
        self.slot.begin(size)
    }
    fn write(&mut self, data: &[u8]) -> Result<(), FlashError> {
        self.slot.write(data)
    }
    fn finish(&mut self) -> Result<(), FlashError> {
        self.slot.finish()
    }
    fn abort(&mut self) {
        self.slot.abort()
    }
    fn suspend(&mut self) -> Result<(), FlashError> {
        self.slot.suspend()
    }
    fn resume(&mut self, size: u32, written: u32) -> Result<(), FlashError> {
        self.slot.resume(size, written)
    }
    fn running_image(&mut self) -> Option<ImageId> {
        self.slot.running_image()
    }
    fn read_running(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        self.slot.read_running(offset, buf)
    }
}
