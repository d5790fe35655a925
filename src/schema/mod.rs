//! The schema registry: every component, platform and action, read once from the declarative
//! files in `schema/` (embedded at build time), and the engine that validates against them.

pub mod compiled;
pub mod cursor;
pub mod docs;
pub mod engine;
pub mod json_schema;
pub mod model;
pub mod scalar;
pub mod unchecked;

use crate::source::Sources;
use model::{Component, KeySchema, SchemaError, Type};
use std::path::Path;
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/schema_files.rs"));

/// An automation action (`lambda`, `logger.log`, …).
#[derive(Debug, Clone)]
pub struct Action {
    pub name: String,
    /// `maybe_simple_value`: a non-mapping value stands for this key.
    pub simple_key: Option<String>,
    /// A component the action needs (e.g. `logger.log` needs `logger:`).
    pub requires: Option<String>,
    pub ty: Type,
    pub doc: String,
}

/// All schemas, by name: `wifi`, `ota`, `ota.esphome` (platform `esphome` of `ota`). Each
/// file is parsed the first time it is needed, so a run pays only for the components its config
/// uses.
#[derive(Debug)]
pub struct Registry {
    /// `(name, text, compact tree)` of each component file, `a/b` named `a.b`.
    files: Vec<(String, &'static str, &'static str)>,
    parsed: Vec<OnceLock<Component>>,
    actions_file: (&'static str, &'static str),
    actions: OnceLock<Vec<Action>>,
    /// The target platform names and every `(alias, component)`, found once.
    targets: OnceLock<(Vec<String>, Vec<(String, String)>)>,
}

impl Registry {
    /// The registry of the embedded `schema/` files.
    pub fn get() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| Registry::new(SCHEMA_FILES))
    }

    /// A registry over `(name, text, compact tree)` (see [`compiled`]): `actions` is the action
    /// table, `a/b` is platform `b` of component `a`, anything else a component.
    pub fn new(files: &[(&str, &'static str, &'static str)]) -> Registry {
        let actions_file = files.iter().find(|(n, _, _)| *n == "actions").map_or(("", "P0;"), |(_, t, c)| (*t, *c));
        let files: Vec<(String, &'static str, &'static str)> =
            files.iter().filter(|(n, _, _)| *n != "actions").map(|(n, t, c)| (n.replace('/', "."), *t, *c)).collect();
        let parsed = files.iter().map(|_| OnceLock::new()).collect();
        Registry { files, parsed, actions_file, actions: OnceLock::new(), targets: OnceLock::new() }
    }

    /// Loads every file with the full YAML loader, reporting the first broken one, and checks
    /// that the pre-parsed tree the program uses is the same (the test suite calls this).
    pub fn check_all(&self) -> Result<(), SchemaError> {
        // The loader's tree of a file, once it is proven equal to the pre-parsed one.
        let loaded = |name: &str, text: &str, tree: &str| -> Result<crate::yaml::Node, SchemaError> {
            let loaded = parse_yaml(name, text)?;
            let compiled = compiled::node(tree).ok_or_else(|| SchemaError(format!("{name}: the pre-parsed tree is unreadable")))?;
            if compiled::without_spans(&loaded) != compiled::without_spans(&compiled) {
                return Err(SchemaError(format!("{name}: the pre-parsed tree differs from the loader's")));
            }
            Ok(loaded)
        };
        for (name, text, tree) in &self.files {
            component_from(name, &loaded(name, text, tree)?)?;
        }
        actions_from(&loaded("actions", self.actions_file.0, self.actions_file.1)?).map(|_| ())
    }

    pub fn component(&self, name: &str) -> Option<&Component> {
        let i = self.files.iter().position(|(n, _, _)| n == name)?;
        Some(self.parsed[i].get_or_init(|| {
            let (name, _, tree) = &self.files[i];
            // The files are part of the program; `check_all` in the test suite proves them.
            compiled::node(tree)
                .ok_or_else(|| SchemaError(format!("{name}: unreadable pre-parsed tree")))
                .and_then(|root| component_from(name, &root))
                .unwrap_or_else(|SchemaError(e)| panic!("invalid file in schema/: {e}"))
        }))
    }

    /// Every component (parses them all; for error paths and tooling).
    pub fn components(&self) -> impl Iterator<Item = &Component> {
        self.files.iter().filter_map(|(n, _, _)| self.component(n))
    }

    pub fn actions(&self) -> &[Action] {
        self.actions.get_or_init(|| {
            compiled::node(self.actions_file.1)
                .ok_or_else(|| SchemaError("actions: unreadable pre-parsed tree".into()))
                .and_then(|root| actions_from(&root))
                .unwrap_or_else(|SchemaError(e)| panic!("invalid file in schema/: {e}"))
        })
    }

    /// The platforms of a platform component, e.g. `esphome` and `web_server` for `ota`.
    pub fn platforms<'a>(&'a self, component: &'a str) -> impl Iterator<Item = &'a Component> + 'a {
        self.files
            .iter()
            .filter(move |(n, _, _)| n.strip_prefix(component).is_some_and(|p| p.starts_with('.')))
            .filter_map(|(n, _, _)| self.component(n))
    }

    /// The target platform blocks (`esp32`, `host`, …), of which a config has exactly one.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.target_table().0.iter().map(String::as_str)
    }

    /// A component's own name for a key that may be one of its aliases (`rp2` → `rp2040`).
    pub fn canonical<'a>(&'a self, key: &'a str) -> &'a str {
        self.target_table().1.iter().find(|(alias, _)| alias == key).map_or(key, |(_, name)| name.as_str())
    }

    /// The targets and aliases, read from the top-level schemas the first time they are needed.
    fn target_table(&self) -> &(Vec<String>, Vec<(String, String)>) {
        self.targets.get_or_init(|| {
            let components: Vec<&Component> = self.top_level().filter_map(|n| self.component(n)).collect();
            let targets = components.iter().filter(|c| c.target).map(|c| c.name.clone()).collect();
            let aliases = components.iter().flat_map(|c| c.aliases.iter().map(|a| (a.clone(), c.name.clone()))).collect();
            (targets, aliases)
        })
    }

    /// Top-level component names (no platforms), for did-you-mean.
    pub fn top_level(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(n, _, _)| n.as_str()).filter(|n| !n.contains('.'))
    }
}

fn parse_yaml(name: &str, text: &str) -> Result<crate::yaml::Node, SchemaError> {
    let mut sources = Sources::default();
    let path = format!("schema/{}.yaml", name.replace('.', "/"));
    let loaded = crate::yaml::parse_str(&mut sources, Path::new(&path), text);
    match loaded.diagnostics.iter().find(|d| d.is_error()) {
        Some(d) => Err(SchemaError(format!("{path}: {}", d.message))),
        None => Ok(loaded.root),
    }
}

fn component_from(name: &str, root: &crate::yaml::Node) -> Result<Component, SchemaError> {
    Component::from_node(name, root).map_err(|e| SchemaError(format!("schema/{name}.yaml: {}", e.0)))
}

fn actions_from(root: &crate::yaml::Node) -> Result<Vec<Action>, SchemaError> {
    let mut actions = Vec::new();
    for entry in root.as_map().unwrap_or_default() {
        let name = entry.key.key_text();
        let key = KeySchema::parse(&name, &entry.value).map_err(|e| SchemaError(format!("schema/actions.yaml: {}", e.0)))?;
        let text = |k: &str| entry.value.get(k).and_then(|n| n.as_str()).map(str::to_string);
        let (simple_key, requires) = (text("simple"), text("requires"));
        actions.push(Action { name, simple_key, requires, ty: key.ty, doc: key.doc });
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_file_loads() {
        let registry = Registry::new(SCHEMA_FILES);
        registry.check_all().unwrap_or_else(|e| panic!("{}", e.0));
        assert!(registry.component("ota.esphome").is_some());
        assert!(registry.actions().iter().any(|a| a.name == "logger.log"));
    }
}
