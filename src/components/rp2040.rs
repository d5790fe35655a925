//! `rp2040:` as ferrota's Pico W firmware reads it: the chip (`board`/`variant`, which
//! `codegen::target` maps) and the watchdog's timeout. The flash layout is the Pico W's.

use crate::codegen::model::{Firmware, Rp2040Flash};
use crate::codegen::target::Family;
use crate::config::TypeError;

/// `rp2040:` (also spelt `rp2:`).
pub struct Rp2040;

impl super::Component for Rp2040 {
    fn name(&self) -> &'static str {
        "rp2040"
    }
    fn keys(&self) -> &'static [&'static str] {
        crate::config::field_names::<Rp2040Config>()
    }
    fn firmware(&self, firmware: &mut Firmware<'_>) -> Result<(), TypeError> {
        let Some(item) = firmware.config.get("rp2040").filter(|_| firmware.family() == Family::Rp2040) else { return Ok(()) };
        let rp2040: Rp2040Config = crate::config::read(item)?;
        firmware.model.rp2040_flash = Some(Rp2040Flash::pico_w());
        firmware.model.watchdog_timeout_ms = rp2040.watchdog_timeout;
        Ok(())
    }
}

/// The validated `rp2040:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rp2040Config<'a> {
    pub board: Option<&'a str>,
    pub variant: Option<&'a str>,
    /// Chooses ESPHome's Arduino core; ferrota's firmware is Rust on embassy-rp either way
    /// (read, nothing to change).
    #[serde(borrow)]
    pub framework: Option<Framework<'a>>,
    /// Milliseconds; the schema's default is 8388 (the RP2040's longest).
    pub watchdog_timeout: u64,
    /// Rust's formatting always prints floats in full: what `true` asks for is what there is.
    pub enable_full_printf: bool,
}

/// `rp2040: framework:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Framework<'a> {
    pub version: Option<&'a str>,
    pub source: Option<&'a str>,
    pub platform_version: Option<&'a str>,
}
