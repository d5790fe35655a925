//! Why an upload failed, in words that tell the user what to do next.
//!
//! Device error bytes (spec §1.2) are reported with their meaning and a remedy; network
//! failures say which step they hit and, once the whole image was delivered, that the device
//! may already have committed the update (so it must not be re-sent blindly).

use std::fmt;
use std::io;

/// One step of the session, named like ESPHome 2026.10's client names it in its messages.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Connect,
    Magic,
    Version,
    FeatureByte,
    Features,
    FeatureFlags,
    Auth,
    AuthNonce,
    AuthResponse,
    AuthResult,
    RunningImage,
    OtaType,
    Size,
    Prepare,
    Checksum,
    ChecksumResult,
    ResumeOffset,
    Data,
    Chunk,
    Receive,
    End,
    EndAck,
}

impl Step {
    /// What is exchanged at this step, with its direction: "receiving chunk result".
    pub fn label(self) -> &'static str {
        match self {
            Step::Connect => "connecting",
            Step::Magic => "sending magic bytes",
            Step::Version => "receiving version",
            Step::FeatureByte => "sending features",
            Step::Features => "receiving features",
            Step::FeatureFlags => "receiving feature flags",
            Step::Auth => "receiving auth",
            Step::AuthNonce => "receiving auth nonce",
            Step::AuthResponse => "sending auth result",
            Step::AuthResult => "receiving auth result",
            Step::RunningImage => "receiving running image",
            Step::OtaType => "sending ota type",
            Step::Size => "sending binary size",
            Step::Prepare => "receiving update prepare result",
            Step::Checksum => "sending file checksum",
            Step::ChecksumResult => "receiving file checksum result",
            Step::ResumeOffset => "receiving resume offset",
            Step::Data => "sending data",
            Step::Chunk => "receiving chunk result",
            Step::Receive => "receiving update receive result",
            Step::End => "receiving update end result",
            Step::EndAck => "sending end acknowledgement",
        }
    }
}

/// What an error byte means and what the user should do about it.
pub struct DeviceErrorText {
    pub name: &'static str,
    pub meaning: &'static str,
    pub remedy: &'static str,
}

/// The device error bytes (ESPHome's `OTAResponseTypes`, 0x80 and up). The device crate
/// only knows the few it sends itself, so the client's full table lives here, once.
pub const DEVICE_ERRORS: &[(u8, DeviceErrorText)] = &[
    (0x80, DeviceErrorText {
        name: "ERROR_MAGIC",
        meaning: "the device did not accept the OTA magic bytes, or (ESP-IDF) the image failed validation",
        remedy: "check that the port is the device's ESPHome OTA port and that the image was built for this chip",
    }),
    (0x81, DeviceErrorText {
        name: "ERROR_UPDATE_PREPARE",
        meaning: "the device could not prepare its flash for the update",
        remedy: "is the image too big? Restart the device and try again",
    }),
    (0x82, DeviceErrorText {
        name: "ERROR_AUTH_INVALID",
        meaning: "authentication failed",
        remedy: "check the OTA password (`ota: - platform: esphome password:`, or --password); it must be the one the device runs with",
    }),
    (0x83, DeviceErrorText {
        name: "ERROR_WRITING_FLASH",
        meaning: "writing the update to flash failed",
        remedy: "see the device's USB logs; try again, and flash over USB if it keeps failing",
    }),
    (0x84, DeviceErrorText {
        name: "ERROR_UPDATE_END",
        meaning: "the device could not finish the update (the image failed its final check)",
        remedy: "check that the image was built for this device (chip and platform), see the device logs, then upload again",
    }),
    (0x85, DeviceErrorText {
        name: "ERROR_INVALID_BOOTSTRAPPING",
        meaning: "invalid bootstrapping: the first OTA update after a serial flash needs a manual reset",
        remedy: "power-cycle the board once (unplug it, or press its reset button), then upload again",
    }),
    (0x86, DeviceErrorText {
        name: "ERROR_WRONG_CURRENT_FLASH_CONFIG",
        meaning: "the device was flashed with the wrong flash size",
        remedy: "choose the correct `board:` (esp01_1m always works) and flash over USB",
    }),
    (0x87, DeviceErrorText {
        name: "ERROR_WRONG_NEW_FLASH_CONFIG",
        meaning: "the device does not have the flash size the new image asks for (wrong board)",
        remedy: "choose the correct `board:` (esp01_1m always works), rebuild and upload again",
    }),
    (0x88, DeviceErrorText {
        name: "ERROR_ESP8266_NOT_ENOUGH_SPACE",
        meaning: "the ESP8266 does not have enough space to store the update",
        remedy: "flash a minimal firmware first (remove everything except ota), then upload this one",
    }),
    (0x89, DeviceErrorText {
        name: "ERROR_ESP32_NOT_ENOUGH_SPACE",
        meaning: "the device's OTA partition is too small for this image",
        remedy: "make the image smaller, or flash over USB with a partition table that has room",
    }),
    (0x8A, DeviceErrorText {
        name: "ERROR_NO_UPDATE_PARTITION",
        meaning: "the device has no OTA partition to write the update to",
        remedy: "flash over USB once with a partition table that has OTA partitions",
    }),
    (0x8B, DeviceErrorText {
        name: "ERROR_MD5_MISMATCH",
        meaning: "the image the device received does not match its MD5",
        remedy: "upload again; if it keeps failing, check the network, or flash over USB with a good cable",
    }),
    (0x8C, DeviceErrorText {
        name: "ERROR_RP2040_NOT_ENOUGH_SPACE",
        meaning: "the RP2040 does not have enough space to store the update",
        remedy: "make the image smaller, or flash over USB",
    }),
    (0x8D, DeviceErrorText {
        name: "ERROR_SIGNATURE_INVALID",
        meaning: "the firmware signature check failed: the image was not signed with the device's key",
        remedy: "build with the signing key that the firmware running on the device was built with",
    }),
    (0x8E, DeviceErrorText {
        name: "ERROR_UNSUPPORTED_OTA_TYPE",
        meaning: "the device does not support the requested OTA type",
        remedy: "upload an application image, or update the device's firmware first",
    }),
    (0x8F, DeviceErrorText {
        name: "ERROR_PARTITION_TABLE_VERIFY",
        meaning: "the partition table update could not be verified; nothing was changed",
        remedy: "check the device logs and retry",
    }),
    (0x90, DeviceErrorText {
        name: "ERROR_PARTITION_TABLE_UPDATE",
        meaning: "updating the partition table failed; the device may not boot",
        remedy: "retry without rebooting the device; if it does not boot, recover it with a serial flash",
    }),
    (0x91, DeviceErrorText {
        name: "ERROR_BOOTLOADER_VERIFY",
        meaning: "the bootloader update could not be verified; nothing was changed",
        remedy: "check the device logs and retry",
    }),
    (0x92, DeviceErrorText {
        name: "ERROR_BOOTLOADER_UPDATE",
        meaning: "updating the bootloader failed; the device may not boot",
        remedy: "retry without rebooting the device; if it does not boot, recover it with a serial flash",
    }),
    (0x93, DeviceErrorText {
        name: "ERROR_VERSION_DOWNGRADE",
        meaning: "the device has OTA downgrade protection and this image is not newer than the one it runs",
        remedy: "build the image with a newer project version",
    }),
    (0x94, DeviceErrorText {
        name: "ERROR_ENCRYPTION_REQUIRED",
        meaning: "the device requires an encrypted OTA connection, which ferrota does not offer yet",
        remedy: "upload with ESPHome's own client, or flash a build without `ota: encryption:`",
    }),
    (0xF0, DeviceErrorText {
        name: "FERROTA_PATCH_BASE_MISMATCH",
        meaning: "the device runs another build than the one the delta was made from; nothing was written",
        remedy: "upload again: ferrota asks the device what it runs each time and sends the whole image when it has no patch for it",
    }),
    (0xF1, DeviceErrorText {
        name: "FERROTA_INVALID_PATCH",
        meaning: "the device could not apply the delta (malformed, or it makes another image than announced); the running build is untouched",
        remedy: "upload again; if it happens again, delete the config's .ferrota/images/ folder so the whole image is sent, and report it",
    }),
    (0xFF, DeviceErrorText {
        name: "ERROR_UNKNOWN",
        meaning: "the device reported an unknown error (often a timeout on its side)",
        remedy: "see the device logs and upload again",
    }),
];

/// The text for an error byte; `None` for a byte ESPHome has not assigned.
pub fn device_error_text(code: u8) -> Option<&'static DeviceErrorText> {
    DEVICE_ERRORS.iter().find(|(c, _)| *c == code).map(|(_, text)| text)
}

/// Why an upload failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadError {
    /// The device answered with an error byte (0x80 and up).
    Device { step: Step, code: u8 },
    /// The device sent a byte that has no meaning at this step.
    Unexpected { step: Step, byte: u8 },
    /// The device speaks a protocol version other than 1 or 2.
    UnsupportedVersion(u8),
    /// The device asks for a password and none was configured.
    PasswordRequired,
    /// The image is empty or does not fit the protocol's 32-bit size field.
    BadImageSize(u64),
    /// The device closed the connection.
    Closed { step: Step, committed: bool },
    /// A network failure (including timeouts).
    Network { step: Step, kind: io::ErrorKind, message: String, committed: bool },
    /// No address could be found for a device name.
    Resolve { host: String, message: String },
    /// Every attempt failed with a network error; the last one is kept.
    AttemptsExhausted { attempts: usize, last: Box<UploadError> },
    /// The web_server upload failed (HTTP status, body or auth).
    WebServer(String),
    /// Compressing the image failed (a compressor bug; nothing was sent of it).
    Compress(String),
    /// The device would resume at or past the payload's end (a device bug: a complete
    /// upload is committed, never kept for a resume).
    BadResumeOffset { offset: u64, size: u64 },
}

impl UploadError {
    /// A network-type failure before the device had the whole image: another attempt may work.
    /// Device error bytes are never retried, and nothing is retried once the image was sent.
    pub fn is_retryable(&self) -> bool {
        match self {
            UploadError::Closed { committed, .. } | UploadError::Network { committed, .. } => !committed,
            _ => false,
        }
    }

    /// A network error at `step`; `committed` when the device already had the whole image.
    pub fn network(step: Step, err: &io::Error, committed: bool) -> UploadError {
        let message = match err.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".to_string(),
            _ => err.to_string(),
        };
        UploadError::Network { step, kind: err.kind(), message, committed }
    }
}

const COMMITTED_NOTE: &str = " (the device had the whole image and may have already committed the update and be \
                              rebooting; check whether it comes back with the new firmware before uploading again)";

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadError::Device { step, code } => match device_error_text(*code) {
                Some(text) => write!(
                    f,
                    "{}: the device reported error 0x{code:02X} ({}): {}. What to do: {}.",
                    step.label(),
                    text.name,
                    text.meaning,
                    text.remedy
                ),
                None => write!(
                    f,
                    "{}: the device reported error 0x{code:02X}, which this version of ferrota does not know; \
                     see the device logs",
                    step.label()
                ),
            },
            UploadError::Unexpected { step, byte } => write!(
                f,
                "{}: unexpected response from the device: 0x{byte:02X}; is this port an ESPHome OTA server?",
                step.label()
            ),
            UploadError::UnsupportedVersion(v) => write!(
                f,
                "the device uses OTA protocol version {v}; ferrota supports 1 and 2. Update ferrota, or flash the device over USB"
            ),
            UploadError::PasswordRequired => write!(
                f,
                "the device requires an OTA password but none was given: set `password:` under `ota: - platform: esphome` or pass --password"
            ),
            UploadError::BadResumeOffset { offset, size } => write!(
                f,
                "receiving resume offset: the device would continue at byte {offset} of a {size}-byte upload; \
                 upload again after restarting the device, which drops what it kept"
            ),
            UploadError::BadImageSize(n) => write!(f, "the image has {n} bytes; an OTA image must have 1 to 4294967295 bytes"),
            UploadError::Closed { step, committed } => {
                write!(
                    f,
                    "{}: the device closed the connection without responding (it may be busy with another upload, \
                     out of memory, or the network dropped)",
                    step.label()
                )?;
                if *committed {
                    f.write_str(COMMITTED_NOTE)?;
                }
                Ok(())
            }
            UploadError::Network { step: Step::Connect, message, .. } => write!(f, "connecting to {message}"),
            UploadError::Network { step, message, committed, .. } => {
                write!(f, "{}: {message}", step.label())?;
                if *committed {
                    f.write_str(COMMITTED_NOTE)?;
                }
                Ok(())
            }
            UploadError::Resolve { host, message } => write!(
                f,
                "cannot resolve {host}: {message}. Is it connected to WiFi? If you know its IP, pass --device <IP>"
            ),
            UploadError::AttemptsExhausted { attempts, last } => {
                write!(f, "upload failed after {attempts} attempt{}: {last}", if *attempts == 1 { "" } else { "s" })
            }
            UploadError::WebServer(message) => f.write_str(message),
            UploadError::Compress(message) => write!(f, "compressing the image for the device failed: {message}"),
        }
    }
}

impl std::error::Error for UploadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_entry_is_an_error_byte_and_unique() {
        for (i, (code, text)) in DEVICE_ERRORS.iter().enumerate() {
            assert!(*code >= 0x80, "{code:02X}");
            assert!(!text.meaning.is_empty() && !text.remedy.is_empty());
            assert!(DEVICE_ERRORS[i + 1..].iter().all(|(c, _)| c != code), "duplicate {code:02X}");
        }
        // ESPHome 2026.10's 22, and ferrota's two for delta updates (F0, F1).
        assert_eq!(DEVICE_ERRORS.len(), 24);
    }

    #[test]
    fn bootstrapping_says_power_cycle() {
        let e = UploadError::Device { step: Step::Prepare, code: 0x85 };
        let text = e.to_string();
        assert!(text.starts_with("receiving update prepare result: the device reported error 0x85"), "{text}");
        assert!(text.contains("power-cycle the board once"), "{text}");
        assert!(!e.is_retryable());
    }

    #[test]
    fn committed_network_errors_are_not_retried_and_say_so() {
        let err = io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by peer");
        let before = UploadError::network(Step::Chunk, &err, false);
        let after = UploadError::network(Step::End, &err, true);
        assert!(before.is_retryable());
        assert!(!after.is_retryable());
        assert!(after.to_string().contains("may have already committed the update"));
        assert!(!before.to_string().contains("committed"));
    }

    #[test]
    fn unknown_codes_still_read_well() {
        let text = UploadError::Device { step: Step::End, code: 0xA7 }.to_string();
        assert!(text.contains("0xA7") && text.contains("does not know"), "{text}");
    }
}
