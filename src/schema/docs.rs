//! Documentation of the key under the cursor, straight from `schema/`: what `ferrota lsp`
//! shows on hover.

use super::cursor::{self, At};
use super::model::{Default, KeySchema, Type};
use super::Registry;
use crate::yaml::Node;

/// Markdown describing the config key (or action) whose name spans `offset` (a byte offset in
/// the file of `root`), or `None` when the cursor is not on a name ferrota knows.
pub fn key_at(registry: &Registry, root: &Node, offset: usize) -> Option<String> {
    match cursor::at(registry, root, offset)? {
        At::Component { key, .. } => {
            let name = registry.canonical(&key);
            Some(format!("**`{name}:`**\n\n{}", registry.component(name)?.doc))
        }
        At::Key { keys, key, .. } => Some(describe(keys.key(&key)?)),
        At::Action { name } => {
            let action = registry.actions().iter().find(|a| a.name == name)?;
            Some(format!("**`{name}`** · action · {}\n\n{}", type_name(&action.ty), action.doc))
        }
        At::Value(_) | At::Platform { .. } => None,
    }
}

/// `**port** · integer 1–65535 · default 3232 on esp32, …` followed by the doc text.
pub fn describe(key: &KeySchema) -> String {
    let mut parts = vec![format!("**`{}`**", key.name), type_name(&key.ty)];
    if key.required {
        parts.push("required".into());
    }
    match &key.default {
        Some(Default::Value(v)) => parts.push(format!("default `{}`", v.value.to_python_str().unwrap_or_default())),
        Some(Default::ByTarget(by)) => {
            let list: Vec<String> = by
                .iter()
                .map(|(t, v)| format!("`{}` on {t}", v.value.to_python_str().unwrap_or_default()))
                .collect();
            parts.push(format!("default {}", list.join(", ")));
        }
        None => {}
    }
    let mut text = parts.join(" · ");
    if let Type::Invalid { message, .. } = &key.ty {
        text = format!("**`{}`** is not allowed here: {message}", key.name);
    }
    if !key.doc.is_empty() {
        text.push_str("\n\n");
        text.push_str(&key.doc);
    }
    text
}

pub fn type_name(ty: &Type) -> String {
    match ty {
        Type::String { sensitive: true, .. } => "secret text".into(),
        Type::String { .. } => "text".into(),
        Type::Boolean { .. } => "true or false".into(),
        Type::Int { min: Some(1), max: Some(65535) } => "port (1–65535)".into(),
        Type::Int { min, max } => match (min, max) {
            (Some(a), Some(b)) => format!("integer {a}–{b}"),
            (Some(a), None) => format!("integer ≥ {a}"),
            (None, Some(b)) => format!("integer ≤ {b}"),
            (None, None) => "integer".into(),
        },
        Type::Float { units, .. } if !units.is_empty() => format!("number, optionally in {}", units[0]),
        Type::Float { .. } => "number".into(),
        Type::Templatable(inner) => format!("{}, or a lambda", type_name(inner)),
        Type::OneOf { values, .. } => format!("one of {}", values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")),
        Type::TimePeriod { .. } => "duration (e.g. `60s`, `5min`)".into(),
        Type::Id { .. } => "ID".into(),
        Type::UseId { .. } => "ID of another component".into(),
        Type::Lambda => "lambda (Rust)".into(),
        Type::Map(_) | Type::StringMap(_) => "mapping".into(),
        Type::List(_) => "list".into(),
        Type::Automation { args, .. } if args.is_empty() => "automation".into(),
        Type::Automation { args, .. } => {
            let vars: Vec<String> = args.iter().map(|(n, t)| format!("`{n}: {t}`")).collect();
            format!("automation with {}", vars.join(", "))
        }
        Type::Invalid { .. } => "not allowed".into(),
        Type::Any => "any value".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Sources;
    use std::path::Path;

    fn hover(text: &str, needle: &str) -> Option<String> {
        let mut sources = Sources::default();
        let loaded = crate::yaml::parse_str(&mut sources, Path::new("device.yaml"), text);
        key_at(Registry::get(), &loaded.root, text.find(needle)? + 1)
    }

    #[test]
    fn documents_keys_from_the_schema() {
        let text = "esphome:\n  name: x\nesp32:\n  board: esp32dev\nota:\n  - platform: esphome\n    port: 3232\n    on_progress:\n      - priority: 1\nsafe_mode:\n  num_attempts: 3\n";
        let port = hover(text, "port:").unwrap();
        assert!(port.starts_with("**`port`** · port (1–65535) · default `8266` on esp8266, `3232` on esp32"), "{port}");
        assert!(port.contains("The TCP port"), "{port}");
        assert!(hover(text, "on_progress").unwrap().contains("automation with `x: float`"));
        assert!(hover(text, "num_attempts").unwrap().contains("integer ≥ 1 · default `10`"));
        assert!(hover(text, "ota:").unwrap().contains("list of platform entries"));
        assert_eq!(hover(text, "3232"), None, "values have no hover");
        let platform = hover(text, "platform").unwrap();
        assert!(platform.contains("- `esphome`: ") && platform.contains("- `web_server`: "), "{platform}");
        assert!(hover(text, "priority").is_none(), "not a key of on_progress");
        let action = hover("esphome:\n  name: x\n  on_boot:\n    - logger.log: hi\n", "logger.log").unwrap();
        assert!(action.starts_with("**`logger.log`** · action"), "{action}");
    }
}
