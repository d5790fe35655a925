//! Which firmware stack a config's target block maps to (design.md §4), or why none can.

use crate::config::{Config, Item};
use crate::diagnostics::Diagnostic;
use serde::Serialize;

/// The firmware stacks ferrota generates, one template folder each (serialized as the folder's
/// name, which the templates compare).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// std on this computer.
    Host,
    /// esp-hal, every ESP32 with WiFi.
    Esp32,
    /// embassy-rp on the Pico W.
    Rp2040,
}

impl Family {
    /// The template folder under `templates/`.
    pub fn folder(self) -> &'static str {
        match self {
            Family::Host => "host",
            Family::Esp32 => "esp32",
            Family::Rp2040 => "rp2040",
        }
    }
}

/// A chip ferrota generates a Rust project for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// Its firmware stack (the template folder).
    pub templates: Family,
    /// The chip as its HAL names it (`esp32c3`, `rp2040`, `host`): a cargo feature, a comment.
    pub chip: &'static str,
    /// The Rust target triple; `None` builds for this computer.
    pub triple: Option<&'static str>,
    /// Whether this machine can build it (the Xtensa chips need Espressif's toolchain fork).
    pub buildable: bool,
}

/// The target of a validated config, or the diagnostic that says why ferrota can't build it.
pub fn of(config: &Config) -> Result<Target, Box<Diagnostic>> {
    let name = config.target().unwrap_or("");
    let block = config.components.iter().find(|f| f.key == name);
    let span = block.and_then(|f| f.key_span.or(f.value.span));
    let variant = block.and_then(|f| f.value.get("variant")).and_then(Item::as_str).unwrap_or("");
    let esp32 = |chip, triple, templates, buildable| Ok(Target { templates, chip, triple: Some(triple), buildable });
    match (name, variant) {
        ("host", _) => Ok(Target { templates: Family::Host, chip: "host", triple: None, buildable: true }),
        ("esp32", "ESP32C2") => esp32("esp32c2", "riscv32imc-unknown-none-elf", Family::Esp32, true),
        ("esp32", "ESP32C3") => esp32("esp32c3", "riscv32imc-unknown-none-elf", Family::Esp32, true),
        ("esp32", "ESP32C6") => esp32("esp32c6", "riscv32imac-unknown-none-elf", Family::Esp32, true),
        ("esp32", "ESP32") => esp32("esp32", "xtensa-esp32-none-elf", Family::Esp32, false),
        ("esp32", "ESP32S2") => esp32("esp32s2", "xtensa-esp32s2-none-elf", Family::Esp32, false),
        ("esp32", "ESP32S3") => esp32("esp32s3", "xtensa-esp32s3-none-elf", Family::Esp32, false),
        ("esp32", other) => Err(Box::new(Diagnostic::error(
            "codegen::target",
            span,
            format!("ferrota can't generate firmware for the {other}: esp-hal's WiFi (esp-radio) supports only the ESP32, S2, S3, C2, C3 and C6"),
        )
        .with_help("pick a board with one of those chips, or build this device with ESPHome"))),
        ("rp2040", "RP2350") => Err(Box::new(Diagnostic::error(
            "codegen::target",
            span,
            "ferrota generates firmware for the Pico W (RP2040 + CYW43) only; the RP2350 (Pico 2 W) stack is not done yet",
        )
        .with_help("use `board: rpipicow`, or build this device with ESPHome"))),
        ("rp2040", _) => Ok(Target { templates: Family::Rp2040, chip: "rp2040", triple: Some("thumbv6m-none-eabi"), buildable: true }),
        (chip @ ("esp8266" | "bk72xx" | "ln882x" | "rtl87xx"), _) => Err(Box::new(Diagnostic::error(
            "codegen::target",
            span,
            format!("ferrota can't generate firmware for {chip}: no Rust HAL with WiFi exists for it"),
        )
        .with_help(format!(
            "the honest route is ESPHome's own C++ build for {chip} (its vendor SDK), with ferrota-ota linked in as a `no_std` staticlib behind a small C ABI; \
             that SDK build can't run here, so ferrota refuses instead of emitting a project that would not work. \
             `ferrota upload` still updates {chip} devices flashed with ESPHome"
        )))),
        (other, _) => Err(Box::new(Diagnostic::error("codegen::target", span, format!("ferrota can't generate firmware for `{other}`"))
            .with_help("supported: host, esp32 (C2, C3, C6; ESP32/S2/S3 with Espressif's toolchain) and rp2040 (Pico W)"))),
    }
}
