//! `safe_mode:`: loaded with its defaults whenever `ota:` is present (see schema/ota.yaml);
//! a disabled safe mode has no component, so it has no ID either (as in ESPHome). In the
//! firmware: the boot counter's limits and the `on_safe_mode` automations.

use crate::codegen::model::{self, Firmware};
use crate::config::{Config, Item, TypeError, Unused, Val};
use crate::schema::engine::Engine;

/// `safe_mode:`.
pub struct SafeMode;

impl super::Component for SafeMode {
    fn name(&self) -> &'static str {
        "safe_mode"
    }
    fn keys(&self) -> &'static [&'static str] {
        crate::config::field_names::<SafeModeConfig>()
    }
    fn ignored(&self) -> &'static [(&'static str, &'static str)] {
        IGNORED
    }
    fn validate(&self, _engine: &mut Engine, config: &mut Config) {
        let Some(field) = config.components.iter_mut().find(|f| f.key == "safe_mode") else { return };
        if field.value.get("disabled").and_then(Item::as_bool) == Some(true) {
            if let Val::Map(fields) = &mut field.value.value {
                fields.retain(|f| f.key != "id");
            }
        }
    }
    /// Without `safe_mode:` (no `ota:` loads it) the model keeps safe mode off.
    fn firmware(&self, firmware: &mut Firmware<'_>) -> Result<(), TypeError> {
        let Some(item) = firmware.config.get("safe_mode") else { return Ok(()) };
        let s: SafeModeConfig = crate::config::read(item)?;
        firmware.model.safe_mode = model::SafeMode {
            disabled: s.disabled,
            num_attempts: s.num_attempts,
            boot_is_good_after_ms: s.boot_is_good_after,
            reboot_timeout_ms: s.reboot_timeout,
        };
        firmware.model.on_safe_mode = firmware.hooks(Some(item), "on_safe_mode", "safe_mode", &[]);
        firmware.ignored_keys(item, "safe_mode", IGNORED);
        Ok(())
    }
}

/// The validated `safe_mode:` (the schema fills every default).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafeModeConfig<'a> {
    pub id: Option<&'a str>,
    pub disabled: bool,
    pub num_attempts: u32,
    /// Milliseconds.
    pub boot_is_good_after: u64,
    /// Milliseconds.
    pub reboot_timeout: u64,
    pub boot_is_good_on_shutdown: Unused,
    pub storage: Unused,
    pub setup_priority: Unused,
    /// Its automations keep their YAML places: `Firmware::hooks` reads them from the tree.
    pub on_safe_mode: Unused,
}

/// What ferrota's firmware leaves out of `safe_mode:`, and why.
pub const IGNORED: &[(&str, &str)] = &[
    ("storage", "ferrota's firmware keeps the boot counter in a flash sector of its own (ESP32: `nvs`, Pico W: the last sector)"),
    (
        "boot_is_good_on_shutdown",
        "ferrota's firmware never reboots into an update from an unconfirmed build, so confirming the running build at shutdown changes nothing",
    ),
    ("setup_priority", "ferrota's firmware has no setup order to change"),
];
