//! ferrota-ota's device-side checks, written once as `no_std` code (with `alloc`) so they run
//! in two places: as ordinary unit tests on the host (`cargo test`), and as a no_std binary
//! under QEMU on the chips' instruction sets (`scripts/test-on-target`: riscv32imc like the
//! ESP32-C3, thumbv6m like the RP2040), where integer widths, alignment, missing atomics and a
//! small stack are the real ones.
//!
//! Each module declares its checks with [`checks!`], which makes every one a `#[test]` on the
//! host and lists it in the module's `ALL`; [`ALL`] is every module's list, in order.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

/// Declares checks: each `fn name() { … }` becomes a public function, a `#[test]` under
/// `cargo test`, and an entry `("module::name", name)` of the module's `ALL`.
macro_rules! checks {
    ($($(#[$meta:meta])* fn $name:ident() $body:block)*) => {
        $(
            $(#[$meta])*
            #[cfg_attr(test, test)]
            pub fn $name() $body
        )*
        /// Every check of this module, by name.
        pub const ALL: &[(&str, fn())] = &[$((concat!(module_path!(), "::", stringify!($name)), $name as fn())),*];
    };
}

pub mod nor_model;
mod sample;
pub mod support;

pub mod boot_counter;
pub mod device;
pub mod esp_image;
pub mod esp_slots;
pub mod image_len;
pub mod inflate;
pub mod nor_writer;
pub mod safe_mode;
pub mod transcripts;
pub mod web_update;

/// Every check, module by module.
pub const ALL: &[&[(&str, fn())]] = &[
    transcripts::ALL,
    device::ALL,
    safe_mode::ALL,
    esp_image::ALL,
    web_update::ALL,
    inflate::ALL,
    nor_writer::ALL,
    boot_counter::ALL,
    esp_slots::ALL,
    image_len::ALL,
];
