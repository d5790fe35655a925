//! Where the image goes: the backend a platform implements (flash partition, staging file).

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
}
