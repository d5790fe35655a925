//! The validated config: every value converted to its type, every default filled in, and
//! each value still pointing at where it came from (defaults point nowhere).

mod de;

pub use de::{field_names, read, TypeError, Unused};

use crate::source::Span;
use std::fmt::Write as _;

/// One validated value.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub value: Val,
    /// Where the user wrote it; `None` for a filled-in default.
    pub span: Option<Span>,
    /// `Some(name)` when it came from `!secret name`.
    pub secret: Option<String>,
    /// Passwords and keys: masked in output unless `--show-secrets`.
    pub sensitive: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Lambda(String),
    /// A time period in milliseconds.
    Millis(u64),
    /// An ID; `auto` ones were generated and are not printed.
    Id { name: String, auto: bool },
    List(Vec<Item>),
    Map(Vec<Field>),
}

/// One `key: value` of a validated mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub key: String,
    pub key_span: Option<Span>,
    pub value: Item,
}

impl Item {
    pub fn new(value: Val, span: Option<Span>) -> Item {
        Item { value, span, secret: None, sensitive: false }
    }

    pub fn get(&self, key: &str) -> Option<&Item> {
        self.field(key).map(|f| &f.value)
    }

    pub fn field(&self, key: &str) -> Option<&Field> {
        match &self.value {
            Val::Map(fields) => fields.iter().find(|f| f.key == key),
            _ => None,
        }
    }

    pub fn fields(&self) -> &[Field] {
        match &self.value {
            Val::Map(fields) => fields,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Item] {
        match &self.value {
            Val::List(items) => items,
            _ => &[],
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Val::Str(s) | Val::Lambda(s) => Some(s),
            Val::Id { name, .. } => Some(name),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self.value {
            Val::Int(i) => Some(i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Val::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_millis(&self) -> Option<u64> {
        match self.value {
            Val::Millis(ms) => Some(ms),
            _ => None,
        }
    }

    /// The manual ID written by the user, if any.
    pub fn manual_id(&self) -> Option<&str> {
        match &self.get("id")?.value {
            Val::Id { name, auto: false } => Some(name),
            _ => None,
        }
    }

    /// The ID, manual or generated.
    pub fn id(&self) -> Option<&str> {
        match &self.get("id")?.value {
            Val::Id { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// The whole validated device config: top-level components in the user's order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub components: Vec<Field>,
}

impl Config {
    pub fn get(&self, component: &str) -> Option<&Item> {
        self.components.iter().find(|f| f.key == component).map(|f| &f.value)
    }

    /// The target platform block's name (`esp32`, `host`, …).
    pub fn target(&self) -> Option<&str> {
        let registry = crate::schema::Registry::get();
        self.components.iter().map(|f| f.key.as_str()).find(|k| registry.targets().any(|t| t == *k))
    }

    /// Renders the config as YAML, the way `esphome config` shows it.
    pub fn to_yaml(&self, show_secrets: bool) -> String {
        self.to_yaml_with(show_secrets, false)
    }

    /// Only what the user wrote: filled-in defaults and auto-loaded components left out
    /// (`esphome config --no-defaults`).
    pub fn without_defaults(&self) -> Config {
        fn keep_written(fields: &[Field]) -> Vec<Field> {
            fields.iter().filter(|f| f.key_span.is_some()).map(|f| Field { value: written(&f.value), ..f.clone() }).collect()
        }
        fn written(item: &Item) -> Item {
            let value = match &item.value {
                Val::Map(fields) => Val::Map(keep_written(fields)),
                Val::List(items) => Val::List(items.iter().map(written).collect()),
                other => other.clone(),
            };
            Item { value, ..item.clone() }
        }
        Config { components: keep_written(&self.components) }
    }

    /// [`Config::to_yaml`], with the generated IDs too when `show_auto_ids` (ESPHome's `-v`).
    pub fn to_yaml_with(&self, show_secrets: bool, show_auto_ids: bool) -> String {
        let mut out = String::new();
        let mut config = self.clone();
        if show_auto_ids {
            config.components.iter_mut().for_each(|f| mark_manual(&mut f.value));
        }
        for field in &config.components {
            write_field(&mut out, field, 0, show_secrets);
        }
        out
    }
}

/// Turns generated IDs into shown ones (a copy for `-v` output).
fn mark_manual(item: &mut Item) {
    match &mut item.value {
        Val::Id { auto, .. } => *auto = false,
        Val::List(items) => items.iter_mut().for_each(mark_manual),
        Val::Map(fields) => fields.iter_mut().for_each(|f| mark_manual(&mut f.value)),
        _ => {}
    }
}

fn visible(item: &Item) -> bool {
    !matches!(item.value, Val::Id { auto: true, .. })
}

fn write_field(out: &mut String, field: &Field, indent: usize, show_secrets: bool) {
    if !visible(&field.value) {
        return;
    }
    let pad = " ".repeat(indent);
    let _ = write!(out, "{pad}{}:", yaml_key(&field.key));
    write_value(out, &field.value, indent, show_secrets);
}

fn write_value(out: &mut String, item: &Item, indent: usize, show_secrets: bool) {
    let pad = " ".repeat(indent);
    match &item.value {
        Val::Map(fields) if fields.iter().any(|f| visible(&f.value)) => {
            out.push('\n');
            for f in fields {
                write_field(out, f, indent + 2, show_secrets);
            }
        }
        Val::Map(_) => out.push_str(" {}\n"),
        Val::List(items) if !items.is_empty() => {
            out.push('\n');
            for it in items {
                let _ = write!(out, "{pad}  -");
                match &it.value {
                    Val::Map(fields) if fields.iter().any(|f| visible(&f.value)) => {
                        // First field on the dash line, the rest aligned under it.
                        let mut first = true;
                        for f in fields.iter().filter(|f| visible(&f.value)) {
                            if first {
                                let mut line = String::new();
                                write_field(&mut line, f, indent + 4, show_secrets);
                                out.push(' ');
                                out.push_str(&line[indent + 4..]);
                                first = false;
                            } else {
                                write_field(out, f, indent + 4, show_secrets);
                            }
                        }
                    }
                    _ => write_value(out, it, indent + 2, show_secrets),
                }
            }
        }
        Val::List(_) => out.push_str(" []\n"),
        // A lambda from `!secret` shows as `!secret name` unless secrets are shown.
        Val::Lambda(code) if show_secrets || item.secret.is_none() => {
            out.push_str(" !lambda |-\n");
            for line in code.lines() {
                let _ = writeln!(out, "{pad}  {line}");
            }
        }
        _ => {
            let _ = writeln!(out, " {}", scalar_text(item, show_secrets));
        }
    }
}

/// A scalar as YAML text: secrets as `!secret name`, sensitive values masked.
fn scalar_text(item: &Item, show_secrets: bool) -> String {
    if !show_secrets {
        if let Some(name) = &item.secret {
            return format!("!secret {name}");
        }
        if item.sensitive {
            return "'********'".into();
        }
    }
    match &item.value {
        Val::Null => "null".into(),
        Val::Bool(b) => b.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Float(f) => crate::yaml::python_float_repr(*f),
        Val::Str(s) => yaml_string(s),
        Val::Lambda(s) => yaml_string(s),
        Val::Millis(ms) => format_millis(*ms),
        Val::Id { name, .. } => name.clone(),
        Val::List(_) | Val::Map(_) => String::new(),
    }
}

/// A time period in its largest exact unit, as ESPHome prints it (`1min`, `500ms`).
pub fn format_millis(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "min"), (1_000, "s")];
    for (size, unit) in UNITS {
        if ms != 0 && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

fn yaml_key(key: &str) -> String {
    yaml_string(key)
}

/// A string plain when YAML 1.1 would read it back as the same string, else single-quoted.
fn yaml_string(s: &str) -> String {
    let reads_as_other = matches!(
        s.to_ascii_lowercase().as_str(),
        "" | "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    ) || s.parse::<f64>().is_ok()
        || s.starts_with("0x");
    let special = s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c))
        || s.ends_with(' ')
        || s.contains(": ")
        || s.contains(" #")
        || s.contains(['\n', '\t', '\\'])
        || s.chars().any(char::is_control);
    if reads_as_other || special {
        if s.contains('\n') || s.chars().any(char::is_control) {
            return serde_json::to_string(s).unwrap_or_default();
        }
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_use_the_largest_exact_unit() {
        assert_eq!(format_millis(60_000), "1min");
        assert_eq!(format_millis(300_000), "5min");
        assert_eq!(format_millis(1_500), "1500ms");
        assert_eq!(format_millis(0), "0ms");
    }

    #[test]
    fn secrets_stay_hidden_unless_asked_for() {
        let secret = |value| Item { secret: Some("token".into()), ..Item::new(value, None) };
        let config = Config {
            components: vec![Field {
                key: "x".into(),
                key_span: None,
                value: Item::new(
                    Val::Map(vec![
                        Field { key: "code".into(), key_span: None, value: secret(Val::Lambda("return 42;".into())) },
                        Field { key: "pw".into(), key_span: None, value: secret(Val::Str("hunter2".into())) },
                        Field { key: "key".into(), key_span: None, value: Item { sensitive: true, ..Item::new(Val::Str("k".into()), None) } },
                    ]),
                    None,
                ),
            }],
        };
        let hidden = config.to_yaml(false);
        assert_eq!(hidden, "x:\n  code: !secret token\n  pw: !secret token\n  key: '********'\n");
        let shown = config.to_yaml(true);
        assert!(shown.contains("return 42;") && shown.contains("hunter2") && shown.contains("key: k"), "{shown}");
    }

    #[test]
    fn strings_are_quoted_only_when_needed() {
        assert_eq!(yaml_string("esphome"), "esphome");
        assert_eq!(yaml_string("on"), "'on'");
        assert_eq!(yaml_string("3232"), "'3232'");
        assert_eq!(yaml_string("it's: x"), "'it''s: x'");
        assert_eq!(yaml_string("a\nb"), "\"a\\nb\"");
    }
}
