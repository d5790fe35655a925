//! `safe_mode:`: loaded with its defaults whenever `ota:` is present (see schema/ota.yaml);
//! a disabled safe mode has no component, so it has no ID either (as in ESPHome).

use crate::config::{Config, Item, Val};

pub fn finish(config: &mut Config) {
    let Some(field) = config.components.iter_mut().find(|f| f.key == "safe_mode") else { return };
    if field.value.get("disabled").and_then(Item::as_bool) == Some(true) {
        if let Val::Map(fields) = &mut field.value.value {
            fields.retain(|f| f.key != "id");
        }
    }
}

/// The validated `safe_mode:`, as codegen reads it (the schema fills every default).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafeMode<'a> {
    pub id: Option<&'a str>,
    pub disabled: bool,
    pub num_attempts: u32,
    /// Milliseconds.
    pub boot_is_good_after: u64,
    /// Milliseconds.
    pub reboot_timeout: u64,
    pub boot_is_good_on_shutdown: crate::config::Unused,
    pub storage: crate::config::Unused,
    pub setup_priority: crate::config::Unused,
    /// Read from the tree by codegen.
    pub on_safe_mode: crate::config::Unused,
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

/// `safe_mode:` of a validated config, if present.
pub fn of(config: &Config) -> Option<Result<SafeMode<'_>, crate::config::TypeError>> {
    config.get("safe_mode").map(crate::config::read)
}
