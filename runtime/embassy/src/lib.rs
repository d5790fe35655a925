//! ferrota's device firmware on embassy: everything a chip firmware does that is not the chip.
//!
//! [`Server`] is the device's main loop over embassy-net: it listens on the OTA port (and on
//! the web server's, for `/update`), runs one session at a time through ferrota-ota's sans-IO
//! `Session` / `WebUpdate`, and does what ferrota-ota's `device::Device` decides (confirm the
//! build, reboot into an update, roll back, drop a client when safe mode's time is up).
//! [`wifi::keep_joined`] is the one WiFi join loop of every chip. The chip crates
//! (`ferrota-ota-esp32`, `ferrota-ota-rp2040`) supply the flash, the radio and the reset; the
//! generated firmware supplies the config and its automations.
#![no_std]

mod server;
pub mod wifi;

pub use ferrota_ota::web_update::WebServer;
pub use server::Server;
