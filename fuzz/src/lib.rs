//! What the fuzz targets share: a flash that records what it was asked to do and asserts that
//! it is driven in order (begin, writes, then finish or abort).

use ferrota_ota::{Flash, FlashError};

/// Flash in memory; its writes can fail past a byte count, its finish can refuse the image.
#[derive(Default)]
pub struct RecordingFlash {
    pub begun: bool,
    pub data: Vec<u8>,
    /// The image that would boot: set only by a successful `finish`.
    pub committed: Option<Vec<u8>>,
    pub fail_write_after: Option<usize>,
    pub refuse: bool,
}

impl Flash for RecordingFlash {
    fn begin(&mut self, _size: u32) -> Result<(), FlashError> {
        assert!(!self.begun && self.committed.is_none(), "begin twice");
        self.begun = true;
        Ok(())
    }
    fn write(&mut self, data: &[u8]) -> Result<(), FlashError> {
        assert!(self.begun, "write outside begin/finish");
        if self.fail_write_after.is_some_and(|limit| self.data.len() + data.len() > limit) {
            return Err(FlashError::Write);
        }
        self.data.extend_from_slice(data);
        Ok(())
    }
    fn finish(&mut self) -> Result<(), FlashError> {
        assert!(self.begun, "finish without begin");
        self.begun = false;
        if self.refuse {
            return Err(FlashError::UpdateEnd);
        }
        self.committed = Some(std::mem::take(&mut self.data));
        Ok(())
    }
    fn abort(&mut self) {
        assert!(self.begun, "abort without begin");
        self.begun = false;
        self.data.clear();
    }
}
