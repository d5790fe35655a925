//! `esp32:` as ferrota's ESP32 firmware reads it: the chip (`board`/`variant`, which
//! `codegen::target` maps to a HAL) and the flash size its two app slots are cut from. The
//! board table and framework version rules are in `boards` and `frameworks`.

use crate::codegen::model::{Esp32Flash, Firmware};
use crate::codegen::target::Family;
use crate::config::{Config, TypeError, Unused};

/// `esp32:`.
pub struct Esp32;

impl super::Component for Esp32 {
    fn name(&self) -> &'static str {
        "esp32"
    }
    fn keys(&self) -> &'static [&'static str] {
        crate::config::field_names::<Esp32Config>()
    }
    fn ignored(&self) -> &'static [(&'static str, &'static str)] {
        IGNORED
    }
    fn firmware(&self, firmware: &mut Firmware<'_>) -> Result<(), TypeError> {
        let Some(item) = firmware.config.get("esp32").filter(|_| firmware.family() == Family::Esp32) else { return Ok(()) };
        let esp32: Esp32Config = crate::config::read(item)?;
        firmware.model.esp32_flash = Some(Esp32Flash::of(esp32.flash_size));
        firmware.ignored_keys(item, "esp32", IGNORED);
        if let Some(framework) = item.get("framework") {
            firmware.ignored_keys(framework, "esp32: framework", FRAMEWORK_IGNORED);
        }
        Ok(())
    }
}

/// `esp32: flash_size` of a validated config, as ESPHome spells it (`4MB`).
pub fn flash_size(config: &Config) -> Result<String, TypeError> {
    let item = config.get("esp32").ok_or_else(|| TypeError("no `esp32:` block".into()))?;
    Ok(crate::config::read::<Esp32Config>(item)?.flash_size.to_uppercase())
}

/// The validated `esp32:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Esp32Config<'a> {
    /// Sets the variant (see `boards`).
    pub board: Option<&'a str>,
    /// The chip: `codegen::target` picks the HAL and Rust target from it.
    pub variant: Option<&'a str>,
    /// The schema's default is `4MB`.
    pub flash_size: &'a str,
    #[serde(borrow)]
    pub framework: Option<Framework<'a>>,
    pub cpu_frequency: Unused,
    pub engineering_sample: Unused,
    pub flash_mode: Unused,
    pub flash_frequency: Unused,
    pub partitions: Unused,
}

/// `esp32: framework:`. Its type and version choose ESPHome's C framework; ferrota's firmware
/// is Rust on esp-hal either way, so there is nothing for them to change (read, not used). Its
/// settings of that framework are another matter: they warn.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Framework<'a> {
    #[serde(rename = "type")]
    pub kind: Option<&'a str>,
    pub version: Option<&'a str>,
    pub release: Option<&'a str>,
    pub source: Option<&'a str>,
    pub platform_version: Option<&'a str>,
    pub sdkconfig_options: Unused,
    pub advanced: Unused,
    pub components: Unused,
    pub log_level: Unused,
}

/// What ferrota's ESP32 firmware leaves out of `esp32:`, and why.
pub const IGNORED: &[(&str, &str)] = &[
    ("cpu_frequency", "ferrota's ESP32 firmware runs the CPU at its highest clock"),
    ("engineering_sample", "esp-hal supports production chips only"),
    ("flash_mode", "the bootloader's flash settings are used"),
    ("flash_frequency", "the bootloader's flash settings are used"),
    ("partitions", "ferrota's ESP32 firmware has its own partition table with two app slots (`partitions.csv` in the build folder)"),
];

/// What ferrota's ESP32 firmware leaves out of `esp32: framework:`, and why.
pub const FRAMEWORK_IGNORED: &[(&str, &str)] = &[
    ("sdkconfig_options", "ferrota builds Rust on esp-hal, without ESP-IDF's sdkconfig"),
    ("advanced", "ferrota builds Rust on esp-hal, without ESP-IDF's settings"),
    ("components", "ferrota builds Rust on esp-hal, without ESP-IDF components"),
    ("log_level", "ferrota builds Rust on esp-hal, without ESP-IDF's log"),
];
