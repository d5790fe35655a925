//! ferrota: ESPHome's OTA update system in Rust.
//!
//! The compiler reads a device YAML ([`yaml`]), validates it against the declarative schemas in
//! `schema/` ([`schema`], [`components`]) and reports every problem as a [`diagnostics::Diagnostic`].

pub mod cli;
pub mod codegen;
pub mod compiler;
pub mod dashboard;
pub mod components;
pub mod config;
pub mod diagnostics;
pub mod fixes;
pub mod lambda;
pub mod lsp;
pub mod schema;
pub mod source;
pub mod suggest;
pub mod upload;
pub mod yaml;
