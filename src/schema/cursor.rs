//! Where a byte offset is in a config, in the schema's terms: on a component's name, on a key
//! of some mapping, on a value, on a `platform:`, on an action. Hover and completion both
//! start here, so they agree on what the cursor is on.

use super::model::{KeySchema, MapSchema, Type};
use super::Registry;
use crate::yaml::{Node, Value};

/// What the schema says about the place under the cursor.
#[derive(Debug, Clone)]
pub enum At {
    /// A top-level key: a component's name. `written`: the config's top-level keys.
    Component { key: String, written: Vec<String> },
    /// A key of a mapping that takes `keys` (for a platform entry: the platform's own keys, the
    /// ones every platform shares, and `platform`). `written`: the keys already there.
    Key { keys: MapSchema, key: String, written: Vec<String> },
    /// The value of `key`.
    Value(KeySchema),
    /// The value of `platform:` in an entry of the platform component `component` (`ota`).
    Platform { component: String },
    /// An action's name in an automation.
    Action { name: String },
}

/// The place at `offset` (a byte offset in the file of `root`), or `None` where the schema
/// knows nothing (a component ferrota does not check, a free-form value).
pub fn at(registry: &Registry, root: &Node, offset: usize) -> Option<At> {
    let entries = root.as_map()?;
    let entry = entries.iter().find(|e| contains(&e.key, offset) || contains(&e.value, offset))?;
    if contains(&entry.key, offset) {
        return Some(At::Component { key: entry.key.key_text(), written: written(entries) });
    }
    let name = registry.canonical(&entry.key.key_text()).to_string();
    let component = registry.component(&name)?;
    let walk = Walk { registry, offset };
    if !component.platforms {
        return walk.value(&entry.value, &named(&name, Type::Map(component.config.clone())));
    }
    let item = entry.value.as_list().into_owned().into_iter().find(|i| contains(i, offset))?;
    let platform = item.entry("platform");
    if platform.is_some_and(|p| contains(&p.value, offset)) {
        return Some(At::Platform { component: name });
    }
    let chosen = platform.and_then(|p| p.value.as_str()).and_then(|p| registry.component(&format!("{name}.{p}")));
    let mut keys = MapSchema { keys: vec![platform_key(registry, &name)] };
    keys.keys.extend(chosen.into_iter().flat_map(|c| c.config.keys.iter().cloned()));
    keys.keys.extend(component.config.keys.iter().cloned());
    walk.map(&item, &keys)
}

/// The `platform` key of a platform component's entries, documented with its platforms.
fn platform_key(registry: &Registry, component: &str) -> KeySchema {
    let platforms: Vec<_> = registry.platforms(component).collect();
    let names: Vec<String> = platforms.iter().map(|p| platform_name(&p.name).to_string()).collect();
    let docs: Vec<String> = platforms.iter().map(|p| format!("- `{}`: {}", platform_name(&p.name), p.doc)).collect();
    KeySchema {
        name: "platform".into(),
        required: true,
        default: None,
        ty: Type::OneOf { values: names, conv: super::model::OneOfConv::None },
        doc: format!("Which {component} platform this entry is.\n\n{}", docs.join("\n")),
        only_on: Vec::new(),
    }
}

/// `esphome` of `ota.esphome`.
pub fn platform_name(full: &str) -> &str {
    full.split_once('.').map_or(full, |(_, p)| p)
}

fn written(entries: &[crate::yaml::Entry]) -> Vec<String> {
    entries.iter().map(|e| e.key.key_text()).collect()
}

fn named(name: &str, ty: Type) -> KeySchema {
    KeySchema { name: name.into(), required: false, default: None, ty, doc: String::new(), only_on: Vec::new() }
}

fn contains(node: &Node, offset: usize) -> bool {
    (node.span.start as usize..=node.span.end as usize).contains(&offset)
}

struct Walk<'a> {
    registry: &'a Registry,
    offset: usize,
}

impl Walk<'_> {
    fn map(&self, node: &Node, keys: &MapSchema) -> Option<At> {
        let entries = node.as_map()?;
        let entry = entries.iter().find(|e| contains(&e.key, self.offset) || contains(&e.value, self.offset))?;
        if contains(&entry.key, self.offset) {
            return Some(At::Key { keys: keys.clone(), key: entry.key.key_text(), written: written(entries) });
        }
        self.value(&entry.value, keys.key(&entry.key.key_text())?)
    }

    fn value(&self, node: &Node, key: &KeySchema) -> Option<At> {
        let with = |ty: &Type| KeySchema { ty: ty.clone(), ..key.clone() };
        match &key.ty {
            Type::Templatable(inner) => self.value(node, &with(inner)),
            Type::Map(keys) if node.as_map().is_some() => self.map(node, keys),
            Type::List(item) => {
                let items = node.as_list();
                self.value(items.iter().find(|n| contains(n, self.offset))?, &with(item))
            }
            Type::StringMap(item) => {
                let entry = node.as_map()?.iter().find(|e| contains(&e.value, self.offset))?;
                self.value(&entry.value, &with(item))
            }
            Type::Automation { config, .. } => self.automation(node, config),
            _ => Some(At::Value(key.clone())),
        }
    }

    /// An automation: a list of actions, or trigger mappings with `then:` and their own keys.
    fn automation(&self, node: &Node, config: &MapSchema) -> Option<At> {
        let trigger = |item: &Node| -> Option<At> {
            match item.get("then") {
                Some(then) if contains(then, self.offset) => self.actions(then),
                _ => self.map(item, &config.with_then()),
            }
        };
        match &node.value {
            Value::Seq(items) if items.iter().any(|i| i.get("then").is_some()) => trigger(items.iter().find(|i| contains(i, self.offset))?),
            Value::Map(_) if node.get("then").is_some() => trigger(node),
            _ => self.actions(node),
        }
    }

    /// A list of actions, each a mapping with one action's name.
    fn actions(&self, node: &Node) -> Option<At> {
        let items = node.as_list();
        let item = items.iter().find(|n| contains(n, self.offset))?;
        let entry = item.as_map()?.iter().find(|e| contains(&e.key, self.offset) || contains(&e.value, self.offset))?;
        let name = entry.key.key_text();
        if contains(&entry.key, self.offset) {
            return Some(At::Action { name });
        }
        let action = self.registry.actions().iter().find(|a| a.name == name)?;
        match (&action.simple_key, &action.ty) {
            // `logger.log: "text"` stands for `logger.log: {format: "text"}`.
            (Some(simple), Type::Map(keys)) if entry.value.as_map().is_none() => Some(At::Value(keys.key(simple)?.clone())),
            _ => self.value(&entry.value, &named(&name, action.ty.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Sources;
    use std::path::Path;

    fn place(text: &str, needle: &str) -> Option<At> {
        let mut sources = Sources::default();
        let loaded = crate::yaml::parse_str(&mut sources, Path::new("device.yaml"), text);
        at(Registry::get(), &loaded.root, text.find(needle)? + 1)
    }

    const CONFIG: &str = "esphome:\n  name: x\n  on_boot:\n    - logger.log: hi\n    - lambda: |-\n        id(u).set_auth_password(\"p\");\nesp32:\n  board: esp32dev\nota:\n  - platform: esphome\n    id: u\n    port: 3232\n    on_end:\n      then:\n        - delay: 1s\n";

    #[test]
    fn finds_components_keys_values_and_actions() {
        assert!(matches!(place(CONFIG, "esp32:"), Some(At::Component { key, written }) if key == "esp32" && written.len() == 3));
        let Some(At::Key { keys, key, written }) = place(CONFIG, "port:") else { panic!() };
        assert_eq!(key, "port");
        assert!(keys.key("password").is_some() && keys.key("on_begin").is_some() && keys.key("platform").is_some());
        assert_eq!(written, ["platform", "id", "port", "on_end"]);
        assert!(matches!(place(CONFIG, "esphome\n    id"), Some(At::Platform { component }) if component == "ota"));
        assert!(matches!(place(CONFIG, "3232"), Some(At::Value(k)) if k.name == "port"));
        assert!(matches!(place(CONFIG, "logger.log"), Some(At::Action { name }) if name == "logger.log"));
        assert!(matches!(place(CONFIG, "delay"), Some(At::Action { name }) if name == "delay"));
        assert!(matches!(place(CONFIG, "hi"), Some(At::Value(k)) if k.name == "format"));
        assert!(matches!(place(CONFIG, "esp32dev"), Some(At::Value(k)) if k.name == "board"));
        assert!(matches!(place(CONFIG, "then"), Some(At::Key { key, .. }) if key == "then"));
    }
}
