//! ESPHome's native OTA update protocol on the device side, plus safe mode.
//!
//! The core (everything outside [`host`]) is `no_std`, allocation-free and sans-IO: sockets,
//! clocks, randomness, flash and preference storage are the caller's. The `std` feature adds
//! the host platform, the device every end-to-end test runs against.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod base64;
pub mod component;
pub mod deflate;
pub mod delta;
pub mod device;
pub mod error;
pub mod esp_image;
#[cfg(feature = "nor-flash")]
pub mod esp_otadata;
pub mod events;
pub mod exchange;
pub mod flash;
pub mod hex;
pub mod image_len;
#[cfg(feature = "nor-flash")]
pub mod nor;
mod outbox;
pub mod protocol;
pub mod safe_mode;
pub mod vector_table;
pub mod wire;
pub mod web_page;
pub mod web_update;

#[cfg(all(feature = "std", unix))]
pub mod host;

pub use auth::Rng;
pub use component::{OtaComponent, OtaConfig, Password, PasswordTooLong};
pub use error::{FlashError, OtaError};
pub use events::{Event, OtaListener, OtaState};
pub use flash::{ConfirmFirst, Flash, UpdateSlot};
pub use protocol::{ProtocolVersion, Session};
pub use safe_mode::{BootCounterStore, SafeMode, SafeModeConfig};
