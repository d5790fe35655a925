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
