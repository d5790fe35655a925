//! Why a session ended badly, and the one ESPHome error byte each reason is sent as.

/// A failure of the flash backend; each maps to the byte ESPHome's backends send.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashError {
    /// The update cannot be prepared (staging failed, image too large): `81`.
    UpdatePrepare,
    /// The update partition is too small for the image: `89`.
    NotEnoughSpace,
    /// There is no partition to write the update to: `8A`.
    NoUpdatePartition,
    /// Writing the image failed: `83`.
    Write,
    /// Finishing failed, e.g. the image is not an executable for this target: `84`.
    UpdateEnd,
    /// Anything else: `FF`.
    Unknown,
}

impl FlashError {
    /// The error byte sent to the client.
    pub const fn code(self) -> u8 {
        match self {
            FlashError::UpdatePrepare => 0x81,
            FlashError::NotEnoughSpace => 0x89,
            FlashError::NoUpdatePartition => 0x8A,
            FlashError::Write => 0x83,
            FlashError::UpdateEnd => 0x84,
            FlashError::Unknown => 0xFF,
        }
    }

    /// Why, in words for the person who sent the image.
    pub const fn reason(self) -> &'static str {
        match self {
            FlashError::UpdatePrepare => "the device could not prepare the update",
            FlashError::NotEnoughSpace => "the image does not fit this device's update slot",
            FlashError::NoUpdatePartition => "this device has no slot to write an update to",
            FlashError::Write => "writing the image to the device's flash failed",
            FlashError::UpdateEnd => "the file is not a firmware image for this device, or it is incomplete",
            FlashError::Unknown => "the device failed to take the image",
        }
    }
}

/// Why an OTA session failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtaError {
    /// The first five bytes were not the magic: `80`.
    InvalidMagic,
    /// The auth response did not match: `82`.
    AuthInvalid,
    /// A password is set but the client cannot do SHA-256 (ESPHome 2026 refuses MD5): `82`.
    Sha256Required,
    /// An extended client asked for something other than an app image: `8E`.
    UnsupportedOtaType(u8),
    /// The flash backend failed: its own code.
    Flash(FlashError),
    /// The deflate stream was corrupt, too long, or inflated to the wrong size: `FF`.
    InvalidDeflateStream,
    /// The MD5 of the written image differs from the announced one: `8B`.
    Md5Mismatch,
    /// Magic through auth took longer than 20 s: `FF`.
    HandshakeTimeout,
    /// No byte arrived for 90 s after auth: `FF`.
    DataTimeout,
    /// The client closed the connection before the image was committed: `FF` (not sendable).
    PeerClosed,
    /// ferrota's delta updates: the patch is for another build than the running one: `F0`
    /// (sent before anything is written; ESPHome has no such code).
    PatchBaseMismatch,
    /// ferrota's delta updates: the patch is malformed, or makes another length than announced,
    /// or reads outside the running build: `F1`.
    InvalidPatch,
}

impl OtaError {
    /// The error byte ESPHome sends for this failure (also the `on_error` argument).
    pub const fn code(self) -> u8 {
        match self {
            OtaError::InvalidMagic => 0x80,
            OtaError::AuthInvalid | OtaError::Sha256Required => 0x82,
            OtaError::UnsupportedOtaType(_) => 0x8E,
            OtaError::Flash(e) => e.code(),
            OtaError::Md5Mismatch => 0x8B,
            OtaError::PatchBaseMismatch => 0xF0,
            OtaError::InvalidPatch => 0xF1,
            OtaError::InvalidDeflateStream
            | OtaError::HandshakeTimeout
            | OtaError::DataTimeout
            | OtaError::PeerClosed => 0xFF,
        }
    }
}

impl core::fmt::Display for OtaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            OtaError::InvalidMagic => "invalid magic bytes",
            OtaError::AuthInvalid => "authentication invalid",
            OtaError::Sha256Required => "a password is set and the client does not offer SHA-256 auth",
            OtaError::UnsupportedOtaType(_) => "unsupported OTA type",
            OtaError::Flash(FlashError::UpdatePrepare) => "cannot prepare the update",
            OtaError::Flash(FlashError::NotEnoughSpace) => "the update partition is too small",
            OtaError::Flash(FlashError::NoUpdatePartition) => "no update partition",
            OtaError::Flash(FlashError::Write) => "writing the image failed",
            OtaError::Flash(FlashError::UpdateEnd) => "finishing the update failed",
            OtaError::Flash(FlashError::Unknown) => "flash error",
            OtaError::InvalidDeflateStream => "invalid deflate stream",
            OtaError::Md5Mismatch => "image MD5 mismatch",
            OtaError::HandshakeTimeout => "handshake timed out",
            OtaError::DataTimeout => "no data for 90 s",
            OtaError::PeerClosed => "the client closed the connection",
            OtaError::PatchBaseMismatch => "the patch is for another build than the one running",
            OtaError::InvalidPatch => "invalid patch",
        };
        write!(f, "{text} (0x{:02X})", self.code())
    }
}
