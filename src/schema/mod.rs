//! The schema registry: every component, platform and action, read once from the declarative
//! files in `schema/` (embedded at build time), and the engine that validates against them.

pub mod docs;
pub mod engine;
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
    /// `(name, text)` of each component file, `a/b` named `a.b`.
    files: Vec<(String, &'static str)>,
    parsed: Vec<OnceLock<Component>>,
    actions_text: &'static str,
    actions: OnceLock<Vec<Action>>,
}

impl Registry {
    /// The registry of the embedded `schema/` files.
    pub fn get() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| Registry::new(SCHEMA_FILES))
    }

    /// A registry over `(name, text)` pairs: `actions` is the action table, `a/b` is platform
    /// `b` of component `a`, anything else a component.
    pub fn new(files: &[(&str, &'static str)]) -> Registry {
        let actions_text = files.iter().find(|(n, _)| *n == "actions").map_or("", |(_, t)| *t);
        let files: Vec<(String, &'static str)> =
            files.iter().filter(|(n, _)| *n != "actions").map(|(n, t)| (n.replace('/', "."), *t)).collect();
        let parsed = files.iter().map(|_| OnceLock::new()).collect();
        Registry { files, parsed, actions_text, actions: OnceLock::new() }
    }

    /// Parses every file, reporting the first broken one (the test suite calls this).
    pub fn check_all(&self) -> Result<(), SchemaError> {
        for (name, text) in &self.files {
            parse_component(name, text)?;
        }
        parse_actions(self.actions_text).map(|_| ())
    }

    pub fn component(&self, name: &str) -> Option<&Component> {
        let i = self.files.iter().position(|(n, _)| n == name)?;
        Some(self.parsed[i].get_or_init(|| {
            let (name, text) = &self.files[i];
            // The files are part of the program; `check_all` in the test suite proves them.
            parse_component(name, text).unwrap_or_else(|SchemaError(e)| panic!("invalid file in schema/: {e}"))
        }))
    }

    /// Every component (parses them all; for error paths and tooling).
    pub fn components(&self) -> impl Iterator<Item = &Component> {
        self.files.iter().filter_map(|(n, _)| self.component(n))
    }

    pub fn actions(&self) -> &[Action] {
        self.actions.get_or_init(|| {
            parse_actions(self.actions_text).unwrap_or_else(|SchemaError(e)| panic!("invalid file in schema/: {e}"))
        })
    }

    /// The platforms of a platform component, e.g. `esphome` and `web_server` for `ota`.
    pub fn platforms<'a>(&'a self, component: &'a str) -> impl Iterator<Item = &'a Component> + 'a {
        self.files
            .iter()
            .filter(move |(n, _)| n.strip_prefix(component).is_some_and(|p| p.starts_with('.')))
            .filter_map(|(n, _)| self.component(n))
    }

    /// Top-level component names (no platforms), for did-you-mean.
    pub fn top_level(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(n, _)| n.as_str()).filter(|n| !n.contains('.'))
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

fn parse_component(name: &str, text: &str) -> Result<Component, SchemaError> {
    let root = parse_yaml(name, text)?;
    Component::from_node(name, &root).map_err(|e| SchemaError(format!("schema/{name}.yaml: {}", e.0)))
}

fn parse_actions(text: &str) -> Result<Vec<Action>, SchemaError> {
    let root = parse_yaml("actions", text)?;
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
