//! The configured `ota: - platform: esphome` entry: port, version, password, deflate.

use core::cell::Cell;

use crate::auth::Rng;
use crate::flash::Flash;
use crate::protocol::{ProtocolVersion, Session, SessionConfig};

/// Longest password the device stores (a fixed buffer, so no allocation on the device).
pub const MAX_PASSWORD_LEN: usize = 128;

/// A password that does not fit in [`MAX_PASSWORD_LEN`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordTooLong;

impl core::fmt::Display for PasswordTooLong {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "the OTA password is longer than {MAX_PASSWORD_LEN} bytes")
    }
}

/// An OTA password in a fixed buffer; empty means "no auth".
#[derive(Clone, Copy)]
pub struct Password {
    bytes: [u8; MAX_PASSWORD_LEN],
    len: u8,
}

impl Password {
    /// No password: clients get `41` straight away.
    pub const EMPTY: Password = Password { bytes: [0; MAX_PASSWORD_LEN], len: 0 };

    /// Copies `password` (UTF-8, as the client hashes it).
    pub fn new(password: &str) -> Result<Self, PasswordTooLong> {
        let src = password.as_bytes();
        if src.len() > MAX_PASSWORD_LEN {
            return Err(PasswordTooLong);
        }
        let mut bytes = [0; MAX_PASSWORD_LEN];
        bytes[..src.len()].copy_from_slice(src);
        Ok(Password { bytes, len: src.len() as u8 })
    }

    /// The password's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// True when auth is off.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl core::fmt::Debug for Password {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(if self.is_empty() { "Password(none)" } else { "Password(***)" })
    }
}

/// The static part of the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtaConfig {
    /// TCP port (ESPHome's host default is 8082).
    pub port: u16,
    /// The version byte announced to clients (`version:`, default 2).
    pub version: ProtocolVersion,
    /// Offer streaming deflate (spec §1.5b); only for targets that inflate into flash.
    pub deflate: bool,
}

impl OtaConfig {
    /// Version 2 on `port`, deflate offered.
    pub const fn new(port: u16) -> Self {
        OtaConfig { port, version: ProtocolVersion::V2, deflate: true }
    }
}

/// The OTA component a firmware owns; hand it `&self` from `on_boot` to change the password.
///
/// The password lives in a `Cell`, so `set_auth_password` works through a shared reference
/// on a single-threaded device with no locking and no chance of a borrow panic. Each session
/// copies the password when the client connects, as ESPHome's "next OTA session" rule says.
pub struct OtaComponent {
    config: OtaConfig,
    password: Cell<Password>,
}

impl OtaComponent {
    /// A component with no password.
    pub const fn new(config: OtaConfig) -> Self {
        OtaComponent { config, password: Cell::new(Password::EMPTY) }
    }

    /// The static configuration.
    pub fn config(&self) -> &OtaConfig {
        &self.config
    }

    /// Replaces the password for the next session; `""` turns auth off. ESPHome's call, as
    /// lambdas use it: a password longer than [`MAX_PASSWORD_LEN`] bytes is refused and the
    /// current one stays, so the device never ends up unprotected (`ferrota compile` rejects
    /// such passwords up front; [`OtaComponent::try_set_auth_password`] reports it).
    pub fn set_auth_password(&self, password: &str) {
        let _ = self.try_set_auth_password(password);
    }

    /// [`OtaComponent::set_auth_password`], telling whether the password fitted.
    pub fn try_set_auth_password(&self, password: &str) -> Result<(), PasswordTooLong> {
        self.password.set(Password::new(password)?);
        Ok(())
    }

    /// True when a session would ask for auth.
    pub fn has_password(&self) -> bool {
        !self.password.get().is_empty()
    }

    /// Starts the session for a client that connected at `now` (milliseconds).
    pub fn start_session<F: Flash>(&self, flash: F, rng: &mut impl Rng, now: u64) -> Session<F> {
        let config = SessionConfig {
            version: self.config.version,
            password: self.password.get(),
            deflate: self.config.deflate,
            resume: true,
            delta: true,
        };
        Session::new(config, flash, rng, now)
    }
}
