//! Validates a whole device config: the top-level components, their platforms, auto-loads and
//! dependencies, then the rules a schema can't say. Each component ferrota builds firmware from
//! is one module here (its [`Component`]) beside its `schema/<name>.yaml`; `boards`,
//! `frameworks` and `ids` hold the rules across components.

pub mod boards;
pub mod core;
pub mod esp32;
pub mod frameworks;
pub mod host;
pub mod ids;
pub mod logger;
pub mod mdns;
pub mod network;
pub mod ota;
pub mod rp2040;
pub mod safe_mode;
pub mod web_server;
pub mod wifi;

use crate::codegen::model::Firmware;
use crate::config::{Config, Field, Item, TypeError, Val};
use crate::diagnostics::Diagnostic;
use crate::schema::engine::Engine;
use crate::schema::scalar::Invalid;
use crate::schema::Registry;
use crate::source::{Sources, Span};
use crate::yaml::{Entry, Node, Value};

/// The components' checks the schema engine runs (see `schema::engine::Checks`).
pub const CHECKS: crate::schema::engine::Checks =
    crate::schema::engine::Checks { string: check_string, id_name: ids::check_id_name, entity_reference: crate::lambda::entity_id_reference, action: check_action };

/// One component as ferrota builds it. Its schema (`schema/<name>.yaml`) says which keys it
/// takes, their types and defaults; its module says the rest: the rules a schema can't say,
/// its typed config, and what it adds to the firmware. Adding a component is its schema file,
/// a module implementing this, and its entry in [`COMPONENTS`].
pub trait Component: Sync {
    /// Its top-level key.
    fn name(&self) -> &'static str;
    /// The keys its typed config reads: `config::field_names::<T>()` (a test holds them to its
    /// schema's keys).
    fn keys(&self) -> &'static [&'static str];
    /// The keys its firmware leaves out, each with why: written ones warn at their line.
    fn ignored(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// Rules across its keys and other components that a schema can't say (ESPHome's final
    /// validation), after the schema engine.
    fn validate(&self, _engine: &mut Engine, _config: &mut Config) {}
    /// Its part of the firmware, from its typed config; called for every config, with the
    /// component or without it (e.g. to say that a chip firmware needs it).
    fn firmware(&self, _firmware: &mut Firmware<'_>) -> Result<(), TypeError> {
        Ok(())
    }
}

/// The components ferrota's firmware is made of, in the order they are validated and built
/// (the logger's level first: the automations of the others compile `logger.log` against it).
/// A component not listed is left out of the firmware, with a warning.
pub const COMPONENTS: &[&dyn Component] = &[
    &logger::Logger,
    &core::Esphome,
    &safe_mode::SafeMode,
    &ota::Ota,
    &web_server::WebServer,
    &wifi::Wifi,
    &network::Network,
    &mdns::Mdns,
    &esp32::Esp32,
    &rp2040::Rp2040,
    &host::Host,
];

/// The outcome of validation: the config (complete only when there are no errors), every
/// diagnostic, and where each ID is declared and used (for editors' navigation).
#[derive(Debug)]
pub struct Validated {
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
    pub ids: Ids,
}

/// Every ID declaration (`id:` keys) and every use (`use_id` keys, actions, `id(x)` in lambdas).
#[derive(Debug, Clone, Default)]
pub struct Ids {
    pub declared: Vec<crate::schema::engine::Declared>,
    pub references: Vec<crate::schema::engine::Reference>,
}

impl Validated {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Validates the loaded tree of a device config.
pub fn validate(root: &Node, sources: &Sources) -> Validated {
    let registry = Registry::get();
    let empty = Vec::new();
    let entries = match &root.value {
        Value::Map(entries) => entries,
        Value::Null => &empty,
        other => {
            let d = Diagnostic::error(
                "config::not-a-mapping",
                root.span,
                format!("A device config must be a mapping of components, got {}", other.kind()),
            )
            .with_help("start with `esphome:` and a platform block such as `esp32:`");
            return Validated { config: Config::default(), diagnostics: vec![d], ids: Ids::default() };
        }
    };
    let target = core::find_target(root, entries);
    let mut engine = Engine::new(registry, &CHECKS, sources, target.as_ref().ok().map(|t| t.to_string()));
    if let Err(d) = target {
        engine.diagnostics.push(*d);
    }
    (engine.loaded, engine.components) = loaded_integrations(registry, entries);

    let mut config = Config::default();
    for entry in entries.iter().filter(|e| !is_hidden(e)) {
        let name = registry.canonical(&entry.key.key_text()).to_string();
        let Some(component) = registry.component(&name).filter(|_| !name.contains('.')) else {
            if let Some(value) = unchecked_component(&mut engine, entry, &name) {
                config.components.push(Field { key: name, key_span: Some(entry.key.span), value });
            }
            continue;
        };
        if let Some(invalid) = engine.not_on_this_target(&component.only_on, &name) {
            engine.error("config::only-on", entry.key.span, invalid);
            continue;
        }
        let value = if component.platforms {
            platform_list(&mut engine, &entry.value, &name)
        } else {
            engine.at(name.clone(), |e| e.map(&entry.value, &component.config, &name))
        };
        if let Some(value) = value {
            config.components.push(Field { key: name, key_span: Some(entry.key.span), value });
        }
    }
    if !entries.iter().any(|e| e.key.as_str() == Some("esphome")) {
        let d = Diagnostic::error("config::missing-esphome", root.span, "'esphome' section missing from configuration.")
            .with_help("add an `esphome:` block with at least `name: my-device`");
        engine.diagnostics.push(d);
    }

    let written: Vec<String> = entries.iter().map(|e| registry.canonical(&e.key.key_text()).to_string()).collect();
    auto_load(&mut engine, &mut config, &written, root.span);
    check_dependencies(&mut engine, &config);
    boards::check(&mut engine, &mut config);
    frameworks::check(&mut engine, &config);
    for component in COMPONENTS {
        component.validate(&mut engine, &mut config);
    }
    ids::check(&mut engine, &mut config);

    let mut diagnostics = engine.diagnostics;
    crate::diagnostics::sort(&mut diagnostics);
    Validated { config, diagnostics, ids: Ids { declared: engine.declared, references: engine.references } }
}

/// Top-level keys starting with `.` hold YAML anchors for reuse; ESPHome ignores them.
fn is_hidden(entry: &Entry) -> bool {
    entry.key.as_str().is_some_and(|k| k.starts_with('.'))
}

/// Every component ESPHome 2026.10 has, so a typo can be told from a real component that
/// ferrota does not check yet.
const ESPHOME_COMPONENTS: &str = include_str!("data/esphome-components.txt");

pub fn esphome_components() -> impl Iterator<Item = &'static str> {
    ESPHOME_COMPONENTS.lines().filter(|l| !l.starts_with('#'))
}

/// The warning at a component ferrota keeps as written without checking it; `left_out`: its
/// firmware leaves the component out too (one warning says both).
pub fn unchecked_warning(name: &str, span: Option<Span>, left_out: bool) -> Diagnostic {
    const HELP: &str = "ESPHome validates it; ferrota checks only the IDs and lambdas inside it";
    if left_out {
        Diagnostic::warning("config::unchecked", span, format!("ferrota does not check `{name}:` yet, and its firmware leaves it out"))
            .with_help(format!("{HELP} (its keys are kept as written); remove it, or build this device with ESPHome if you need it"))
    } else {
        Diagnostic::warning("config::unchecked", span, format!("ferrota does not check `{name}:` yet; its keys are kept as written")).with_help(HELP)
    }
}

/// A component without a schema here: one ESPHome knows is kept as written, with a warning
/// (its IDs still count, so lambdas may refer to them); anything else is an error.
fn unchecked_component(engine: &mut Engine, entry: &Entry, name: &str) -> Option<Item> {
    if !esphome_components().any(|c| c == name) {
        unknown_component(engine, entry, name);
        return None;
    }
    engine.diagnostics.push(unchecked_warning(name, Some(entry.key.span), false));
    engine.at(name.to_string(), |e| e.collect_ids(&entry.value));
    engine.value(&entry.value, &crate::schema::model::Type::Any, name)
}

fn unknown_component(engine: &mut Engine, entry: &Entry, name: &str) {
    let mut known: Vec<&str> = engine.registry.top_level().collect();
    for name in esphome_components() {
        known.push(name);
    }
    let close = crate::suggest::close_matches(name, known.iter().copied());
    let help = match close.first() {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!(
            "ferrota supports these components: {}",
            engine.registry.top_level().collect::<Vec<_>>().join(", ")
        ),
    };
    let mut d = Diagnostic::error("config::unknown-component", entry.key.span, format!("Component not found: {name}."))
        .with_help(help);
    if let Some(best) = close.first() {
        d = d.replace_with(entry.key.span, *best);
    }
    engine.diagnostics.push(d);
}

/// A platform component (`ota:`): a list of entries, each validated against its platform's
/// schema plus the keys every platform of the component shares.
fn platform_list(engine: &mut Engine, node: &Node, component: &str) -> Option<Item> {
    let registry = engine.registry;
    // A single mapping (the pre-2024.6 style) or scalar counts as a one-entry list, as in ESPHome.
    let items = node.as_list();
    let old_style = matches!(node.value, Value::Map(_));
    if old_style && node.get("platform").is_some() {
        let d = Diagnostic::warning(
            "config::platform-mapping",
            node.span,
            format!("`{component}:` takes a list of platform entries; this single mapping is read as a list of one"),
        )
        .with_help(format!("write `- platform: …` under `{component}:`, as ESPHome has since 2024.6"));
        engine.diagnostics.push(d);
    }
    let shared = registry.component(component).map(|c| c.config.clone()).unwrap_or_default();
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let validated = engine.at(format!("{component}->{i}"), |e| platform_entry(e, item, component, &shared, old_style));
        match validated {
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    ok.then(|| Item::new(Val::List(out), Some(node.span)))
}

/// One platform entry. `old_style` when it was written as a single mapping instead of a list.
fn platform_entry(
    engine: &mut Engine,
    item: &Node,
    component: &str,
    shared: &crate::schema::model::MapSchema,
    old_style: bool,
) -> Option<Item> {
    let registry = engine.registry;
    let Some(entries) = item.as_map() else {
        let invalid = Invalid::new("Platform schemas must be key-value pairs.")
            .help("each list item needs `platform:` and that platform's keys");
        engine.error("config::platform-list", item.span, invalid);
        return None;
    };
    let Some(platform) = item.entry("platform").filter(|p| !p.value.is_null()) else {
        let example = registry.platforms(component).next().map_or("…", |p| platform_name(p));
        let help = if old_style {
            format!("since ESPHome 2024.6 `{component}:` is a list of platforms; write:\n\n  {component}:\n    - platform: {example}\n      …the keys you have now…")
        } else {
            format!("add `platform: {example}` to this entry")
        };
        let mut d = Diagnostic::error(
            "config::missing-platform",
            item.span,
            format!("'{component}' requires a 'platform' key but it was not specified."),
        )
        .with_help(help);
        if old_style && example != "…" {
            d = d.with_fix(crate::diagnostics::Fix::ToPlatformList { value: item.span, platform: example.to_string() });
        }
        engine.diagnostics.push(d);
        return None;
    };
    let name = match crate::schema::scalar::string(&platform.value) {
        Ok(n) => n,
        Err(invalid) => {
            engine.error("config::platform", platform.value.span, invalid);
            return None;
        }
    };
    let full = format!("{component}.{name}");
    let Some(schema) = registry.component(&full) else {
        let names: Vec<&str> = registry.platforms(component).map(platform_name).collect();
        let close = crate::suggest::close_matches(&name, names.iter().copied());
        let help = match close.first() {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("platforms of `{component}`: {}", names.join(", ")),
        };
        let mut d = Diagnostic::error("config::unknown-platform", platform.value.span, format!("Platform not found: '{full}'"))
            .with_help(help);
        if let Some(best) = close.first() {
            d = d.replace_with(platform.value.span, *best);
        }
        engine.diagnostics.push(d);
        return None;
    };
    let mut keys = schema.config.clone();
    keys.keys.extend(shared.keys.iter().cloned());
    let without_platform = Node::new(
        item.span,
        Value::Map(entries.iter().filter(|e| e.key.as_str() != Some("platform")).cloned().collect()),
    );
    let mut validated = engine.map(&without_platform, &keys, &full)?;
    if let Val::Map(fields) = &mut validated.value {
        let mut platform_item = Item::new(Val::Str(name), Some(platform.value.span));
        platform_item.secret = platform.value.secret.clone();
        fields.insert(0, Field { key: "platform".into(), key_span: Some(platform.key.span), value: platform_item });
    }
    Some(validated)
}

fn platform_name(c: &crate::schema::model::Component) -> &str {
    c.name.split_once('.').map_or(c.name.as_str(), |(_, p)| p)
}

/// Every integration the config loads: its components, their platforms, and what they
/// auto-load (transitively). An ID may not take one of these names.
/// The integrations a config loads, two ways: every name (components, bare platform names
/// such as `esphome` or `web_server`, auto-loads), which an ID may not take; and the
/// components themselves (platforms as `ota.web_server`) with what they auto-load,
/// transitively, which satisfy DEPENDENCIES. A platform named like a component (`web_server`)
/// does not load that component.
fn loaded_integrations(registry: &Registry, entries: &[Entry]) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = vec!["esphome".into()];
    let mut components: Vec<String> = vec!["esphome".into()];
    for entry in entries.iter().filter(|e| !is_hidden(e)) {
        let name = registry.canonical(&entry.key.key_text()).to_string();
        names.push(name.clone());
        components.push(name.clone());
        for item in entry.value.as_list().iter() {
            if let Some(p) = item.get("platform").and_then(Node::as_str) {
                names.push(p.to_string());
                components.push(format!("{name}.{p}"));
            }
        }
    }
    let mut i = 0;
    while i < components.len() {
        if let Some(c) = registry.component(&components[i]) {
            for auto in &c.auto_load {
                if !components.contains(auto) {
                    components.push(auto.clone());
                }
                if !names.contains(auto) {
                    names.push(auto.clone());
                }
            }
        }
        i += 1;
    }
    (names, components)
}

/// Adds auto-loaded components that have a schema (e.g. `safe_mode` for `ota`) with their
/// defaults, after the user's components. `written` are the user's own top-level keys (a
/// component that failed validation is absent from `config` but must not be loaded again).
fn auto_load(engine: &mut Engine, config: &mut Config, written: &[String], root_span: Span) {
    let registry = engine.registry;
    let mut i = 0;
    while i < engine.components.len() {
        let name = engine.components[i].clone();
        i += 1;
        if written.contains(&name) || config.get(&name).is_some() || name.contains('.') {
            continue;
        }
        let Some(component) = registry.component(&name) else { continue };
        let pulled_in = engine.components.iter().filter_map(|l| registry.component(l)).any(|c| c.auto_load.contains(&name));
        if component.platforms || component.target || !pulled_in {
            continue;
        }
        let empty = Node::new(root_span, Value::Map(Vec::new()));
        if let Some(mut value) = engine.at(name.clone(), |e| e.map(&empty, &component.config, &name)) {
            value.span = None;
            config.components.push(Field { key: name, key_span: None, value });
        }
    }
}

/// ESPHome's DEPENDENCIES: `Component ota.esphome requires component network.`
fn check_dependencies(engine: &mut Engine, config: &Config) {
    let registry = engine.registry;
    let mut users: Vec<(String, Span)> = Vec::new();
    for field in &config.components {
        let span = field.key_span.or(field.value.span);
        users.push((field.key.clone(), span.unwrap_or(Span::point(crate::source::FileId(0), 0))));
        for item in field.value.items() {
            if let Some(p) = item.get("platform").and_then(Item::as_str) {
                users.push((format!("{}.{p}", field.key), item.span.unwrap_or(Span::point(crate::source::FileId(0), 0))));
            }
        }
    }
    for (user, span) in users {
        let Some(component) = registry.component(&user) else { continue };
        for dep in &component.dependencies {
            if !engine.components.contains(dep) {
                let providers: Vec<String> = registry
                    .components()
                    .filter(|c| c.auto_load.contains(dep) && !c.name.contains('.') && !c.target)
                    .map(|c| format!("`{}:`", c.name))
                    .collect();
                let provider = match providers.as_slice() {
                    [] => format!("add `{dep}:`"),
                    [one] => format!("add {one} (it provides `{dep}`)"),
                    many => format!("add one of {} (they provide `{dep}`)", many.join(", ")),
                };
                let d = Diagnostic::error("config::missing-dependency", span, format!("Component {user} requires component {dep}."))
                    .with_help(provider);
                engine.diagnostics.push(d);
            }
        }
    }
}

/// Rules an action's schema can't say, by action name; the error may point into the action.
pub fn check_action(name: &str, action: &Item) -> Result<(), (Invalid, Option<Span>)> {
    match name {
        "logger.log" => logger::check_log_action(action),
        _ => Ok(()),
    }
}

/// Named string checks that schema files refer to with `check:`.
pub fn check_string(check: &str, value: &str) -> Result<String, Invalid> {
    match check {
        "name" => core::valid_name(value),
        "no_slash" => core::no_slash(value),
        "ssid" => wifi::valid_ssid(value),
        "wifi_password" => wifi::valid_password(value),
        "mac_address" => core::mac_address(value),
        "ipv4" => core::ipv4(value),
        "api_key" => core::api_key(value),
        "esphome_version" => core::esphome_version(value),
        other => Err(Invalid::new(format!("internal error: unknown check `{other}` in schema/"))),
    }
}
