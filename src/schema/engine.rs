//! Checks a YAML node against a schema type and builds the validated [`Item`], reporting every
//! problem instead of stopping at the first.

use super::model::{Default, KeySchema, MapSchema, Type};
use super::scalar::{self, Invalid};
use super::Registry;
use crate::config::{Field, Item, Val};
use crate::diagnostics::Diagnostic;
use crate::source::{Sources, Span};
use crate::yaml::{Node, Value};

/// An ID declared in the config.
#[derive(Debug, Clone)]
pub struct Declared {
    pub name: String,
    pub class: String,
    pub span: Span,
    /// Where it is, e.g. `ota->0->id`, for "ID x redefined! Check …".
    pub path: String,
}

/// A place that refers to an ID: a `use_id` key, an id in an action, or an `id(x)` in a lambda.
#[derive(Debug, Clone)]
pub struct Reference {
    pub name: String,
    pub span: Span,
    /// The class the ID must have (`use_id` keys of a schema); `None` when any will do.
    pub class: Option<String>,
}

/// Validation state shared by every component.
/// The checks a schema names but the engine doesn't implement: the components' own (given by
/// `components::CHECKS`), so the generic engine calls no component.
pub struct Checks {
    /// A string key's `check:` (`name`, `ssid`, …): the value, normalized, or why not.
    pub string: fn(check: &str, value: &str) -> Result<String, Invalid>,
    /// Whether an ID may have this name, given the integrations the config loads.
    pub id_name: fn(name: &str, loaded: &[String]) -> Result<(), Invalid>,
    /// An entity-style ID (`sensor.kitchen`) a lambda names with `id(...)`, which is refused.
    pub entity_reference: fn(code: &str) -> Option<&str>,
    /// The rules of an action beyond its schema, on its validated config.
    pub action: fn(name: &str, action: &Item) -> Result<(), (Invalid, Option<Span>)>,
}

pub struct Engine<'a> {
    pub registry: &'a Registry,
    checks: &'a Checks,
    pub sources: &'a Sources,
    /// The target platform (`esp32`, `host`, …), for per-target defaults.
    pub target: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
    pub declared: Vec<Declared>,
    pub references: Vec<Reference>,
    /// Every integration name this config loads; IDs may not take them.
    pub loaded: Vec<String>,
    /// The components it loads (platforms as `ota.esphome`) and their auto-loads.
    pub components: Vec<String>,
    /// Names handed out as automatic IDs so far.
    auto_ids: Vec<String>,
    /// ESPHome actions and conditions without a schema here that were warned about (once each).
    pub(super) warned_unchecked: Vec<String>,
    path: Vec<String>,
}

impl<'a> Engine<'a> {
    pub fn new(registry: &'a Registry, checks: &'a Checks, sources: &'a Sources, target: Option<String>) -> Engine<'a> {
        Engine {
            registry,
            checks,
            sources,
            target,
            diagnostics: Vec::new(),
            declared: Vec::new(),
            references: Vec::new(),
            loaded: Vec::new(),
            components: Vec::new(),
            auto_ids: Vec::new(),
            warned_unchecked: Vec::new(),
            path: Vec::new(),
        }
    }

    pub fn error(&mut self, code: &'static str, span: Span, invalid: Invalid) {
        let mut d = Diagnostic::error(code, span, invalid.message);
        d.help = invalid.help;
        d.fix = invalid.replacement.map(|text| crate::diagnostics::Fix::Replace { span, text });
        self.diagnostics.push(d);
    }

    /// Runs `f` with `segment` appended to the config path.
    pub fn at<T>(&mut self, segment: impl Into<String>, f: impl FnOnce(&mut Self) -> T) -> T {
        self.path.push(segment.into());
        let out = f(self);
        self.path.pop();
        out
    }

    pub fn path_text(&self) -> String {
        self.path.join("->")
    }

    /// Validates a mapping: unknown keys (with did-you-mean), required keys, each value, then
    /// the defaults of the keys the user left out, after the user's own keys.
    pub fn map(&mut self, node: &Node, schema: &MapSchema, parent: &str) -> Option<Item> {
        let empty = Vec::new();
        let entries = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &empty,
            other => {
                let help = format!("`{parent}` takes keys such as {}", key_examples(schema));
                self.error(
                    "schema::expected-mapping",
                    node.span,
                    Invalid::new(format!("expected a dictionary, got {}", other.kind())).help(help),
                );
                return None;
            }
        };
        let mut fields = Vec::new();
        let mut ok = true;
        for entry in entries {
            let key = entry.key.key_text();
            let Some(key_schema) = schema.key(&key) else {
                self.unknown_key(&entry.key, &key, schema, parent);
                ok = false;
                continue;
            };
            let before = self.diagnostics.len();
            match self.at(key.clone(), |e| e.key_value(&entry.value, key_schema)) {
                Some(value) => fields.push(Field { key, key_span: Some(entry.key.span), value }),
                None => ok = false,
            }
            // A key that moved to a component of its own: the fix moves it there.
            if let Type::Invalid { moved_to: Some(to), .. } = &key_schema.ty {
                let entry_span = Span::new(entry.key.span.file, entry.key.span.start as usize, entry.value.span.end as usize);
                for d in &mut self.diagnostics[before..] {
                    d.help = Some(format!("move it to the top-level `{to}:` component"));
                    d.fix = Some(crate::diagnostics::Fix::Move { entry: entry_span, to: to.clone() });
                }
            }
        }
        for key_schema in &schema.keys {
            if entries.iter().any(|e| e.key.key_text() == key_schema.name) {
                continue;
            }
            if key_schema.required {
                let d = Diagnostic::error(
                    "schema::missing-key",
                    node.span,
                    format!("'{}' is a required option for [{parent}].", key_schema.name),
                )
                .with_help(format!("add `{}:` to `{parent}`{}", key_schema.name, doc_suffix(&key_schema.doc)));
                self.diagnostics.push(d);
                ok = false;
            } else if let Some(value) = self.default_value(key_schema, node.span) {
                fields.push(Field { key: key_schema.name.clone(), key_span: None, value });
            }
        }
        ok.then(|| Item::new(Val::Map(fields), Some(node.span)))
    }

    fn unknown_key(&mut self, key_node: &Node, key: &str, schema: &MapSchema, parent: &str) {
        let names = schema.keys.iter().filter(|k| !matches!(k.ty, Type::Invalid { .. })).map(|k| k.name.as_str());
        let close = crate::suggest::close_matches(key, names);
        let (message, help) = match close.first() {
            Some(best) => (
                format!("[{key}] is an invalid option for [{parent}]. Did you mean [{best}]?"),
                format!("rename `{key}` to `{best}`"),
            ),
            None => (
                format!("[{key}] is an invalid option for [{parent}]. Please check the indentation."),
                format!("valid keys of `{parent}`: {}", key_examples(schema)),
            ),
        };
        let mut d = Diagnostic::error("schema::unknown-key", key_node.span, message).with_help(help);
        if let Some(best) = close.first() {
            d = d.replace_with(key_node.span, *best);
        }
        self.diagnostics.push(d);
    }

    /// ESPHome's `cv.only_on`: why `name` can't be used on this config's target, if it can't.
    pub fn not_on_this_target(&self, only_on: &[String], name: &str) -> Option<Invalid> {
        let target = self.target.as_deref().filter(|t| !only_on.is_empty() && !only_on.iter().any(|o| o == t))?;
        Some(
            Invalid::new(format!("This feature is only available on [{}]", only_on.join(", ")))
                .help(format!("`{name}` does not work on `{target}:`; remove it")),
        )
    }

    fn key_value(&mut self, node: &Node, key: &KeySchema) -> Option<Item> {
        if let Some(invalid) = self.not_on_this_target(&key.only_on, &key.name) {
            self.error("schema::only-on", node.span, invalid);
            return None;
        }
        self.value(node, &key.ty, &key.name)
    }

    /// A filled-in default; `None` when the key has none (or none for this target).
    fn default_value(&mut self, key: &KeySchema, at: Span) -> Option<Item> {
        if let Type::Id { class } = &key.ty {
            let name = self.auto_id(class);
            return Some(Item::new(Val::Id { name, auto: true }, None));
        }
        let node = match key.default.as_ref()? {
            Default::Value(n) => n.clone(),
            Default::ByTarget(by) => by.iter().find(|(t, _)| Some(t.as_str()) == self.target.as_deref())?.1.clone(),
        };
        // Defaults are validated like user values; their span is the config's, so a broken
        // default (a bug in schema/) still points somewhere. They are marked as defaults.
        let node = Node { span: at, ..node };
        let mut item = self.value(&node, &key.ty, &key.name)?;
        clear_spans(&mut item);
        Some(item)
    }

    /// An automatic ID as ESPHome makes them: the class lowercased with `::` → `_`, made unique.
    pub fn auto_id(&mut self, class: &str) -> String {
        let mut base: String =
            class.replace("::", "_").to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if base == class || base.is_empty() {
            base.push_str("_id");
        }
        let mut name = base.clone();
        let mut n = 2;
        while self.auto_ids.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.auto_ids.push(name.clone());
        name
    }

    /// Validates any value against its type.
    pub fn value(&mut self, node: &Node, ty: &Type, name: &str) -> Option<Item> {
        let span = Some(node.span);
        let result = match ty {
            Type::String { strict, sensitive, max_len, check } => {
                let r = if *strict { scalar::string_strict(node) } else { scalar::string(node) };
                let r = r.and_then(|s| match max_len {
                    Some(max) if s.len() > *max => Err(Invalid::new(format!(
                        "String must be no more than {max} bytes long (got {} bytes)",
                        s.len()
                    ))
                    .help(format!("shorten it to at most {max} bytes"))),
                    _ => Ok(s),
                });
                let r = r.and_then(|s| match check {
                    Some(check) => (self.checks.string)(check, &s),
                    None => Ok(s),
                });
                match r {
                    Ok(s) => {
                        let mut item = Item::new(Val::Str(s), span);
                        item.sensitive = *sensitive;
                        item.secret = node.secret.clone();
                        return Some(item);
                    }
                    Err(e) => Err(e),
                }
            }
            Type::Boolean { only, message } => scalar::boolean(node).and_then(|b| match only {
                Some(allowed) if *allowed != b => Err(Invalid::new(message.clone().unwrap_or_else(|| format!("only `{allowed}` is allowed here")))
                    .help(format!("write `{name}: {allowed}` or remove the key"))),
                _ => Ok(Val::Bool(b)),
            }),
            Type::Int { min, max } => scalar::int(node).and_then(|i| scalar::int_range(i, *min, *max)).map(Val::Int),
            Type::Float { min, max, units } => {
                let f = if units.is_empty() { scalar::float(node) } else { scalar::float_with_unit(node, units) };
                f.and_then(|f| float_range(f, *min, *max)).map(Val::Float)
            }
            Type::Templatable(inner) => match node.value {
                Value::Lambda(_) => self.lambda(node),
                _ => return self.value(node, inner, name),
            },
            Type::OneOf { values, conv } => scalar::one_of(node, values, *conv),
            Type::TimePeriod { min_ms, max_ms } => scalar::time_period_ms(node).and_then(|ms| {
                let too_small = min_ms.is_some_and(|m| ms < m);
                let too_big = max_ms.is_some_and(|m| ms > m);
                if too_small || too_big {
                    let fmt = |v: Option<u64>| v.map(crate::config::format_millis).unwrap_or_else(|| "-".into());
                    Err(Invalid::new(format!("value must be between {} and {}.", fmt(*min_ms), fmt(*max_ms))))
                } else {
                    Ok(Val::Millis(ms))
                }
            }),
            Type::Id { class } => self.declare_id(node, class),
            Type::UseId { class } => scalar::string(node).and_then(|s| {
                (self.checks.id_name)(&s, &self.loaded)?;
                let class = (!class.is_empty()).then(|| class.clone());
                self.references.push(Reference { name: s.clone(), span: node.span, class });
                Ok(Val::Id { name: s, auto: false })
            }),
            Type::Lambda => self.lambda(node),
            Type::Map(schema) => return self.map(node, schema, name),
            Type::List(item_ty) => return self.list(node, item_ty, name),
            Type::StringMap(item_ty) => return self.string_map(node, item_ty, name),
            Type::Automation { args, config } => return self.automation(node, args, config, name),
            Type::Invalid { message, .. } => Err(Invalid::new(message.clone()).help(format!("remove `{name}` from here"))),
            Type::Any => Ok(plain(node)),
        };
        match result {
            Ok(value) => {
                let mut item = Item::new(value, span);
                item.secret = node.secret.clone();
                Some(item)
            }
            Err(invalid) => {
                self.error("schema::invalid-value", node.span, invalid);
                None
            }
        }
    }

    fn declare_id(&mut self, node: &Node, class: &str) -> Result<Val, Invalid> {
        let name = scalar::string(node)?;
        (self.checks.id_name)(&name, &self.loaded)?;
        self.declared.push(Declared {
            name: name.clone(),
            class: class.to_string(),
            span: node.span,
            path: self.path_text(),
        });
        Ok(Val::Id { name, auto: false })
    }

    /// `cv.lambda_`: a `!lambda` or a plain string; records every `id(x)` it mentions.
    pub(super) fn lambda(&mut self, node: &Node) -> Result<Val, Invalid> {
        let code = match &node.value {
            Value::Lambda(code) => code.clone(),
            _ => scalar::string_strict(node)?,
        };
        if let Some(entity) = (self.checks.entity_reference)(&code) {
            return Err(Invalid::new(format!(
                "Lambda contains reference to entity-id-style ID '{entity}'. The id() wrapper only works for ESPHome-internal types. For importing states from Home Assistant use the 'homeassistant' sensor platforms."
            ))
            .help("give the component an `id:` and use that, or import the Home Assistant entity with a `homeassistant` sensor"));
        }
        // Each `id(x)` at its own place in the YAML (the lambda module maps the code back
        // through quoting and block indentation).
        for (name, span) in crate::lambda::references(self.sources, node.span, &code) {
            self.references.push(Reference { name, span, class: None });
        }
        Ok(Val::Lambda(code))
    }

    fn list(&mut self, node: &Node, item_ty: &Type, name: &str) -> Option<Item> {
        let items = node.as_list();
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.at(i.to_string(), |e| e.value(item, item_ty, name)) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then(|| Item::new(Val::List(out), Some(node.span)))
    }

    fn string_map(&mut self, node: &Node, item_ty: &Type, name: &str) -> Option<Item> {
        let Some(entries) = node.as_map() else {
            if node.is_null() {
                return Some(Item::new(Val::Map(Vec::new()), Some(node.span)));
            }
            let invalid = Invalid::new(format!("expected a dictionary, got {}", node.value.kind()));
            self.error("schema::expected-mapping", node.span, invalid);
            return None;
        };
        let mut fields = Vec::new();
        let mut ok = true;
        for e in entries {
            let key = e.key.key_text();
            match self.at(key.clone(), |en| en.value(&e.value, item_ty, name)) {
                Some(value) => fields.push(Field { key, key_span: Some(e.key.span), value }),
                None => ok = false,
            }
        }
        ok.then(|| Item::new(Val::Map(fields), Some(node.span)))
    }

    /// ESPHome's `validate_automation`: a list of actions, a list of automations (items with
    /// `then:`), one automation (`{then: …}`), or a single action. Always a list of automations.
    fn automation(&mut self, node: &Node, args: &[(String, String)], config: &MapSchema, name: &str) -> Option<Item> {
        // The trigger's own keys (e.g. `priority`) plus `then`, whose actions are checked below.
        let trigger = config.with_then();
        let one = |e: &mut Self, n: &Node| -> Option<Item> {
            let mut item = e.map(n, &trigger, name)?;
            let actions = e.at("then", |e| e.actions(n.get("then")?, args))?;
            if let Val::Map(fields) = &mut item.value {
                if let Some(then) = fields.iter_mut().find(|f| f.key == "then") {
                    then.value = actions;
                }
            }
            Some(item)
        };
        let automations = match &node.value {
            Value::Seq(items) if items.iter().any(|i| i.get("then").is_some()) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.at(i.to_string(), |e| one(e, item)) {
                        Some(a) => out.push(a),
                        None => ok = false,
                    }
                }
                return ok.then(|| Item::new(Val::List(out), Some(node.span)));
            }
            Value::Map(_) if node.get("then").is_some() => one(self, node)?,
            Value::Null => {
                let invalid = Invalid::new(format!("expected a dictionary, got {}", node.value.kind()))
                    .help(format!("list the actions under `{name}:`, e.g. `- logger.log: \"hello\"`"));
                self.error("schema::automation", node.span, invalid);
                return None;
            }
            _ => {
                // A list of actions or a single action: one automation with default trigger keys.
                let actions = self.actions(node, args)?;
                let mut item = self.map(&Node::new(node.span, Value::Map(Vec::new())), config, name)?;
                clear_spans(&mut item);
                if let Val::Map(fields) = &mut item.value {
                    fields.insert(0, Field { key: "then".into(), key_span: None, value: actions });
                }
                item.span = Some(node.span);
                item
            }
        };
        Some(Item::new(Val::List(vec![automations]), Some(node.span)))
    }

    /// A list of actions (or one action), each a mapping with exactly one action name.
    pub fn actions(&mut self, node: &Node, args: &[(String, String)]) -> Option<Item> {
        let items = node.as_list();
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.at(i.to_string(), |e| e.action(item, args)) {
                Some(a) => out.push(a),
                None => ok = false,
            }
        }
        ok.then(|| Item::new(Val::List(out), Some(node.span)))
    }

    pub(super) fn action(&mut self, node: &Node, args: &[(String, String)]) -> Option<Item> {
        let registry = self.registry;
        // `- wifi.disable`: an action with nothing to set.
        let named;
        let node = match &node.value {
            Value::Str(_) => {
                named = Node::new(node.span, Value::Map(vec![crate::yaml::Entry { key: node.clone(), value: Node::new(node.span, Value::Null) }]));
                &named
            }
            _ => node,
        };
        let entries = match node.as_map() {
            Some(entries) if entries.len() == 1 => entries,
            Some([]) => {
                self.error("schema::action", node.span, Invalid::new("Action is empty.").help(action_help(registry)));
                return None;
            }
            Some(entries) => {
                let names: Vec<String> = entries.iter().map(|e| e.key.key_text()).collect();
                let d = Diagnostic::error(
                    "schema::action",
                    entries[1].key.span,
                    format!(
                    "Cannot have two actions in one item. Key '{}' overrides '{}'! Did you forget to indent the block inside the {}?",
                    names[0], names[1], names[0]
                ),
                )
                .with_help("start each action with its own `- ` list item");
                self.diagnostics.push(d);
                return None;
            }
            None => {
                let invalid = Invalid::new(format!("expected an action, got {}", node.value.kind())).help(action_help(registry));
                self.error("schema::action", node.span, invalid);
                return None;
            }
        };
        let entry = &entries[0];
        let name = entry.key.key_text();
        let Some(action) = registry.actions().iter().find(|a| a.name == name) else {
            if let Some(automation) = super::unchecked::esphome_automation(super::unchecked::Kind::Action, &name) {
                self.unchecked_automation_entry(entry, automation);
                return Some(Item::new(plain(node), Some(node.span)));
            }
            let esphome = super::unchecked::esphome_names(super::unchecked::Kind::Action);
            let known: Vec<String> = registry.actions().iter().map(|a| a.name.clone()).chain(esphome.map(String::from)).collect();
            let close = crate::suggest::close_matches(&name, known.iter().map(String::as_str));
            let mut d = Diagnostic::error(
                "schema::unknown-action",
                entry.key.span,
                format!("Unable to find action with the name '{name}'."),
            );
            d.help = Some(match close.first() {
                Some(c) => format!("did you mean `{c}`?"),
                None => action_help(registry),
            });
            if let Some(best) = close.first() {
                d = d.replace_with(entry.key.span, *best);
            }
            self.diagnostics.push(d);
            return None;
        };
        let _ = args; // Lambda arguments are typed at code generation; validation only needs the ids.
        if let Some(needed) = action.requires.as_deref().filter(|c| !self.components.iter().any(|l| l == c)) {
            let d = Diagnostic::error(
                "schema::action-requires",
                entry.key.span,
                format!("Couldn't find any component that can be used for '{name}': it needs `{needed}:`."),
            )
            .with_help(format!("add `{needed}:` to the config"));
            self.diagnostics.push(d);
            return None;
        }
        // `maybe_simple_value`: `logger.log: "text"` means `logger.log: {format: "text"}`.
        let value = match (&action.simple_key, &entry.value.value) {
            (Some(key), v) if !matches!(v, Value::Map(_)) => Node::new(
                entry.value.span,
                Value::Map(vec![crate::yaml::Entry {
                    key: Node::new(entry.value.span, Value::Str(key.clone())),
                    value: entry.value.clone(),
                }]),
            ),
            _ => entry.value.clone(),
        };
        let validated = self.at(name.clone(), |e| e.value(&value, &action.ty, &name))?;
        if let Err((invalid, at)) = (self.checks.action)(&name, &validated) {
            self.error("schema::action", at.unwrap_or(entry.value.span), invalid);
            return None;
        }
        let field = Field { key: name, key_span: Some(entry.key.span), value: validated };
        Some(Item::new(Val::Map(vec![field]), Some(node.span)))
    }
}

fn action_help(registry: &Registry) -> String {
    let names: Vec<&str> = registry.actions().iter().map(|a| a.name.as_str()).collect();
    format!("write an action such as `- {}: …`; available: {}", names.first().copied().unwrap_or("lambda"), names.join(", "))
}

fn float_range(f: f64, min: Option<f64>, max: Option<f64>) -> Result<f64, Invalid> {
    if let Some(min) = min.filter(|m| f < *m) {
        return Err(Invalid::new(format!("value must be at least {min}.")));
    }
    if let Some(max) = max.filter(|m| f > *m) {
        return Err(Invalid::new(format!("value must be at most {max}.")));
    }
    Ok(f)
}

/// A YAML node kept as written (for `any` keys).
fn plain(node: &Node) -> Val {
    match &node.value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Int(i) => Val::Int(*i),
        Value::Float(f) => Val::Float(*f),
        Value::Str(s) => Val::Str(s.clone()),
        Value::Lambda(s) => Val::Lambda(s.clone()),
        // The loader resolves these; none reaches validation.
        Value::Extend(_) | Value::Remove(_) => Val::Null,
        Value::Seq(items) => Val::List(items.iter().map(|n| Item::new(plain(n), Some(n.span))).collect()),
        Value::Map(entries) => Val::Map(
            entries
                .iter()
                .map(|e| Field { key: e.key.key_text(), key_span: Some(e.key.span), value: Item::new(plain(&e.value), Some(e.value.span)) })
                .collect(),
        ),
    }
}

/// Marks a value (and everything in it) as a default: no span.
fn clear_spans(item: &mut Item) {
    item.span = None;
    match &mut item.value {
        Val::List(items) => items.iter_mut().for_each(clear_spans),
        Val::Map(fields) => fields.iter_mut().for_each(|f| {
            f.key_span = None;
            clear_spans(&mut f.value)
        }),
        _ => {}
    }
}

fn key_examples(schema: &MapSchema) -> String {
    let names: Vec<String> = schema
        .keys
        .iter()
        .filter(|k| !matches!(k.ty, Type::Invalid { .. }))
        .map(|k| format!("`{}`", k.name))
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn doc_suffix(doc: &str) -> String {
    if doc.is_empty() {
        String::new()
    } else {
        format!(" ({})", doc.trim_end_matches('.'))
    }
}
