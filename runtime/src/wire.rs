//! Byte values of ESPHome's native OTA protocol (spec §1.2), for both ends: the device here and
//! the client in `ferrota upload`. Values only a client meets (MD5 auth, gzip) are here too, so
//! every byte of the protocol is defined once.

/// The five bytes every client opens with.
pub const MAGIC: [u8; 5] = [0x6C, 0x26, 0xF7, 0x5C, 0x45];

/// The client sends the image in blocks of this size; version 2 acks each one.
pub const BLOCK_SIZE: u64 = 8192;

/// The OTA-type byte of the extended protocol for an application image.
pub const OTA_TYPE_APP: u8 = 0x00;
/// ferrota: the OTA-type byte for a patch against the running image (only after the delta
/// flag was agreed; `docs/ota-extensions.md`). Two sizes follow: the patch's, the image's.
pub const OTA_TYPE_APP_PATCH: u8 = 0x80;

/// Status bytes the device sends (`OTAResponseTypes`); error codes live on the error types.
pub mod response {
    /// First byte of the magic ack.
    pub const OK: u8 = 0x00;
    /// The device asks for MD5 challenge/response; a 32-hex nonce follows (devices before
    /// 2025.10; this device never asks for it).
    pub const REQUEST_AUTH: u8 = 0x01;
    /// The device asks for SHA-256 challenge/response; a 64-hex nonce follows.
    pub const REQUEST_SHA256_AUTH: u8 = 0x02;
    /// Feature ack without compression (legacy, non-extended clients).
    pub const HEADER_OK: u8 = 0x40;
    /// Auth passed, or no password is set.
    pub const AUTH_OK: u8 = 0x41;
    /// The flash backend accepted `begin(size)`.
    pub const UPDATE_PREPARE_OK: u8 = 0x42;
    /// The image MD5 was received.
    pub const BIN_MD5_OK: u8 = 0x43;
    /// All announced bytes arrived.
    pub const RECEIVE_OK: u8 = 0x44;
    /// The image was verified and made bootable.
    pub const UPDATE_END_OK: u8 = 0x45;
    /// Version 2: one per 8192 received bytes, plus one for a final partial block.
    pub const CHUNK_OK: u8 = 0x47;
    /// Legacy feature ack: the device wants a gzip image (ESP8266; this device never asks).
    pub const SUPPORTS_COMPRESSION: u8 = 0x46;
    /// Extended feature ack marker; a server flags byte follows.
    pub const FEATURE_FLAGS: u8 = 0x48;
}

/// Bits of the client feature byte.
pub mod client_feature {
    /// The client can send a gzip image when the device asks for it.
    pub const COMPRESSION: u8 = 0x01;
    /// The client can do SHA-256 challenge/response.
    pub const SHA256_AUTH: u8 = 0x02;
    /// The client understands `48` + flags and sends an OTA-type byte.
    pub const EXTENDED_PROTOCOL: u8 = 0x04;
    /// The client can send a raw deflate stream with a 4 KiB window (spec §1.5b).
    pub const DEFLATE: u8 = 0x10;
    /// ferrota: the client continues a dropped upload where the device says
    /// (`docs/ota-extensions.md`); the highest bits, which ESPHome assigns last.
    pub const RESUME: u8 = 0x40;
    /// ferrota: the client can send a patch against the image the device runs.
    pub const DELTA: u8 = 0x80;
}

/// Bits of the server flags byte that follows `48`.
pub mod server_feature {
    /// The device wants a gzip image (ESP8266; this device never sets it).
    pub const COMPRESSION: u8 = 0x01;
    /// Binding: the device expects two sizes and a raw deflate stream.
    pub const DEFLATE: u8 = 0x08;
    /// ferrota: binding; after `43` the device sends 4 bytes (big-endian): how many payload
    /// bytes it already has, where the client continues (`docs/ota-extensions.md`).
    pub const RESUME: u8 = 0x40;
    /// ferrota: binding; after `41` the device sends the SHA-256 (32 bytes) and the length
    /// (4 bytes, big-endian) of the image it runs, and takes OTA type 0x80, a patch against it.
    pub const DELTA: u8 = 0x80;
}
