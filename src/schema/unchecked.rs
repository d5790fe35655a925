//! What ferrota does not validate yet but still reads: components kept as written, and the
//! actions and conditions of ESPHome that have no schema in `schema/`. Their ids and lambdas
//! are still checked the way ESPHome sees them: an `id:` of a component declares an id, an `id:`
//! inside an action or condition refers to one (`cv.use_id`), as ESPHome's own table of actions
//! and conditions (`components/data/esphome-automations.tsv`) says key by key.

use super::engine::{Declared, Engine, Reference};
use super::scalar::Invalid;
use crate::diagnostics::Diagnostic;
use crate::yaml::{Entry, Node, Value};
use std::sync::OnceLock;

/// Every action and condition of ESPHome 2026.10 (`scripts/esphome-automations.py` writes it).
const TABLE: &str = include_str!("../components/data/esphome-automations.tsv");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Action,
    Condition,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Action => "action",
            Kind::Condition => "condition",
        }
    }
}

/// One action or condition of ESPHome's.
#[derive(Debug)]
pub struct Automation {
    pub kind: Kind,
    pub name: &'static str,
    /// For `- light.turn_on: kitchen`: the key a plain value stands for when it is an id
    /// reference (ESPHome's `maybe_simple_id`).
    pub plain_refers: Option<&'static str>,
    /// Keys whose values refer to ids.
    pub uses: Vec<&'static str>,
    /// Keys whose values declare ids.
    pub declares: Vec<&'static str>,
}

fn table() -> &'static [Automation] {
    static PARSED: OnceLock<Vec<Automation>> = OnceLock::new();
    PARSED.get_or_init(|| {
        let list = |field: &'static str| if field == "-" { Vec::new() } else { field.split(',').collect() };
        TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|line| {
                let mut f = line.split('\t');
                let kind = match f.next()? {
                    "action" => Kind::Action,
                    _ => Kind::Condition,
                };
                let name = f.next()?;
                let plain_refers = f.next()?.strip_prefix("use:");
                Some(Automation { kind, name, plain_refers, uses: list(f.next()?), declares: list(f.next()?) })
            })
            .collect()
    })
}

/// The ESPHome action or condition with this name.
pub fn esphome_automation(kind: Kind, name: &str) -> Option<&'static Automation> {
    table().iter().find(|a| a.kind == kind && a.name == name)
}

/// Every ESPHome action or condition name, for did-you-mean.
pub fn esphome_names(kind: Kind) -> impl Iterator<Item = &'static str> {
    table().iter().filter(move |a| a.kind == kind).map(|a| a.name)
}

/// Conditions that hold a list of conditions.
const COMBINATORS: &[&str] = &["and", "or", "all", "any", "xor", "not"];

impl Engine<'_> {
    /// In a part of the config kept as written: every `id:` declares an id, every lambda's
    /// `id(x)` refers to one; `then:`/`else:` hold actions and `on_…:` keys automations.
    pub fn collect_ids(&mut self, node: &Node) {
        match &node.value {
            Value::Map(entries) => {
                for e in entries {
                    let key = e.key.key_text();
                    match (key.as_str(), &e.value.value) {
                        ("id", Value::Str(_)) => self.declare_unchecked(&e.value),
                        // ESPHome takes a plain string as a lambda under a `lambda:` key.
                        ("lambda", Value::Str(_)) => self.unchecked_lambda(&e.value),
                        ("then" | "else", _) => self.at(key, |en| en.unchecked_actions(&e.value)),
                        (k, _) if k.starts_with("on_") => self.at(key, |en| en.unchecked_automation(&e.value)),
                        _ => self.at(key, |en| en.collect_ids(&e.value)),
                    }
                }
            }
            Value::Seq(items) => items.iter().enumerate().for_each(|(i, n)| self.at(i.to_string(), |e| e.collect_ids(n))),
            Value::Lambda(_) => self.unchecked_lambda(node),
            _ => {}
        }
    }

    /// An id declared where ferrota has no schema: its class is unknown.
    fn declare_unchecked(&mut self, node: &Node) {
        if let Value::Str(name) = &node.value {
            let declared = Declared { name: name.clone(), class: String::new(), span: node.span, path: self.path_text() };
            self.declared.push(declared);
        }
    }

    fn unchecked_lambda(&mut self, node: &Node) {
        if let Err(invalid) = self.lambda(node) {
            self.error("schema::invalid-value", node.span, invalid);
        }
    }

    /// An `on_…:` value kept as written: automations (items with `then:`, whose other keys are
    /// the trigger's) or actions.
    fn unchecked_automation(&mut self, node: &Node) {
        let automations = match &node.value {
            Value::Seq(items) => items.iter().any(|i| i.get("then").is_some()),
            Value::Map(_) => node.get("then").is_some(),
            _ => false,
        };
        if automations {
            self.collect_ids(node);
        } else {
            self.unchecked_actions(node);
        }
    }

    /// A list of actions (or one) inside a part kept as written: each is validated as any
    /// action is ([`Engine::actions`]), with no typed lambda arguments.
    fn unchecked_actions(&mut self, node: &Node) {
        for (i, item) in node.as_list().iter().enumerate() {
            self.at(i.to_string(), |e| e.action(item, &[]));
        }
    }

    /// An ESPHome action or condition ferrota has no schema for: one warning per name, then
    /// its ids and lambdas.
    pub fn unchecked_automation_entry(&mut self, entry: &Entry, automation: &Automation) {
        let name = automation.name;
        if !self.warned_unchecked.iter().any(|w| w == name) {
            self.warned_unchecked.push(name.to_string());
            let kind = automation.kind.name();
            let d = Diagnostic::warning("config::unchecked", entry.key.span, format!("ferrota does not check the {kind} `{name}` yet"))
                .with_help(format!("ESPHome validates it; ferrota checks only the ids and lambdas inside it (every `{name}` in this config)"));
            self.diagnostics.push(d);
        }
        self.at(name, |e| e.unchecked_body(&entry.value, automation));
    }

    fn unchecked_body(&mut self, value: &Node, automation: &Automation) {
        match &value.value {
            // `wait_until: {binary_sensor.is_on: door}`: the condition itself.
            Value::Map(_) if automation.name == "wait_until" && value.get("condition").is_none() => self.conditions(value),
            Value::Map(entries) => {
                for e in entries {
                    let key = e.key.key_text();
                    self.at(key.clone(), |en| {
                        if automation.uses.contains(&key.as_str()) {
                            en.refer(&e.value);
                        } else if automation.declares.contains(&key.as_str()) {
                            en.declare_unchecked(&e.value);
                        } else {
                            en.action_setting(&key, &e.value);
                        }
                    });
                }
            }
            Value::Lambda(_) => self.unchecked_lambda(value),
            Value::Str(_) if automation.plain_refers.is_some() => self.refer(value),
            _ => {}
        }
    }

    /// A setting inside an action or condition: ids here are settings, not declarations;
    /// nested actions, conditions, automations and lambdas are walked.
    fn action_setting(&mut self, key: &str, node: &Node) {
        match (key, &node.value) {
            ("then" | "else", _) => self.unchecked_actions(node),
            ("condition" | "conditions", _) => self.conditions(node),
            ("lambda", Value::Str(_)) => self.unchecked_lambda(node),
            (k, _) if k.starts_with("on_") => self.unchecked_automation(node),
            (_, Value::Lambda(_)) => self.unchecked_lambda(node),
            (_, Value::Map(entries)) => {
                for e in entries {
                    let key = e.key.key_text();
                    self.at(key.clone(), |en| en.action_setting(&key, &e.value));
                }
            }
            (_, Value::Seq(items)) => {
                for (i, item) in items.iter().enumerate() {
                    self.at(i.to_string(), |en| en.action_setting("", item));
                }
            }
            _ => {}
        }
    }

    /// A `cv.use_id` value: the id it names must be declared somewhere.
    fn refer(&mut self, node: &Node) {
        match &node.value {
            Value::Str(name) => self.references.push(Reference { name: name.clone(), span: node.span, class: None }),
            Value::Seq(items) => items.iter().for_each(|i| self.refer(i)),
            Value::Lambda(_) => self.unchecked_lambda(node),
            _ => {}
        }
    }

    /// ESPHome's `validate_potentially_and_condition`: one condition, or a list that must all hold.
    fn conditions(&mut self, node: &Node) {
        match &node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.at(i.to_string(), |e| e.condition(item));
                }
            }
            Value::Lambda(_) => self.unchecked_lambda(node),
            _ => self.condition(node),
        }
    }

    /// One condition: `{name: settings}` (or just `name`).
    fn condition(&mut self, node: &Node) {
        let entry = match &node.value {
            // A plain `- wifi.connected`: the name alone.
            Value::Str(_) => Entry { key: node.clone(), value: Node::new(node.span, Value::Null) },
            Value::Map(entries) if entries.len() == 1 => entries[0].clone(),
            Value::Map(entries) if entries.len() > 1 => {
                let (a, b) = (entries[0].key.key_text(), entries[1].key.key_text());
                let d = Diagnostic::error(
                    "schema::condition",
                    entries[1].key.span,
                    format!("Cannot have two conditions in one item. Key '{a}' overrides '{b}'! Did you forget to indent the block inside the {a}?"),
                )
                .with_help("start each condition with its own `- ` list item, or indent the block under the first");
                self.diagnostics.push(d);
                return;
            }
            _ => {
                let invalid = Invalid::new(format!("Condition must consist of key-value mapping! Got {}", node.value.kind()))
                    .help("write a condition such as `binary_sensor.is_on: my_button` or `lambda: return true;`");
                self.error("schema::condition", node.span, invalid);
                return;
            }
        };
        let name = entry.key.key_text();
        self.at(name.clone(), |e| match name.as_str() {
            "lambda" => e.unchecked_lambda(&entry.value),
            n if COMBINATORS.contains(&n) => e.conditions(&entry.value),
            n => match esphome_automation(Kind::Condition, n) {
                Some(automation) => e.unchecked_automation_entry(&entry, automation),
                None => {
                    let close = crate::suggest::close_matches(n, esphome_names(Kind::Condition));
                    let help = match close.first() {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => "write a condition such as `binary_sensor.is_on: my_button`, `lambda: return true;` or `and: [...]`".into(),
                    };
                    let mut d = Diagnostic::error("schema::unknown-condition", entry.key.span, format!("Unable to find condition with the name '{n}'."))
                        .with_help(help);
                    if let Some(best) = close.first() {
                        d = d.replace_with(entry.key.span, *best);
                    }
                    e.diagnostics.push(d);
                }
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_knows_esphome_actions_and_their_id_keys() {
        let turn_on = esphome_automation(Kind::Action, "light.turn_on").expect("light.turn_on");
        assert_eq!(turn_on.plain_refers, Some("id"));
        assert!(turn_on.uses.contains(&"id"));
        let set = esphome_automation(Kind::Action, "globals.set").expect("globals.set");
        assert!(set.uses.contains(&"id") && set.plain_refers.is_none());
        assert!(esphome_automation(Kind::Condition, "binary_sensor.is_on").is_some());
        assert!(esphome_automation(Kind::Action, "binary_sensor.is_on").is_none());
        assert!(esphome_automation(Kind::Action, "light.turn_onn").is_none());
    }

    fn errors(config: &str) -> Vec<String> {
        let fs = crate::source::MemoryFs::default().with("device.yaml", config);
        let checked = crate::compiler::check(&fs, std::path::Path::new("device.yaml"), &Default::default()).unwrap();
        checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect()
    }

    #[test]
    fn ids_in_actions_refer_and_declare_as_esphome_says() {
        let head = "esphome:\n  name: t\nhost:\nscript:\n  - id: blink\n    then:\n";
        // `code_storage_id` declares; lambdas may use it; `script.execute` refers.
        let ok = format!("{head}      - remote_transmitter.transmit_raw:\n          code: [1, -1]\n          code_storage_id: stored\n      - lambda: return id(stored);\n      - script.execute: blink\n");
        assert_eq!(errors(&ok), Vec::<String>::new());
        let missing = format!("{head}      - script.execute:\n          id: blinc\n");
        assert_eq!(errors(&missing).len(), 1);
        assert!(errors(&missing)[0].starts_with("Couldn't find ID 'blinc'."), "{:?}", errors(&missing));
        // Used twice, declared once: not "redefined".
        let twice = format!("{head}      - script.execute: blink\n      - script.stop: blink\n");
        assert_eq!(errors(&twice), Vec::<String>::new());
    }
}
