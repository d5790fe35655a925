//! ferrota: ESPHome's OTA update system in Rust.
//!
//! The compiler reads a device YAML ([`yaml`]), validates it against the declarative schemas in
//! `schema/` ([`schema`], [`components`]) and reports every problem as a [`diagnostics::Diagnostic`].

pub mod diagnostics;
pub mod source;
pub mod yaml;
