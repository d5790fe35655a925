//! The schema registry: every component, platform and action, read once from the declarative
//! files in `schema/` (embedded at build time), and the engine that validates against them.

pub mod engine;
pub mod model;
pub mod scalar;

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

/// All schemas, by name: `wifi`, `ota`, `ota.esphome` (platform `esphome` of `ota`).
#[derive(Debug)]
pub struct Registry {
    pub components: Vec<Component>,
    pub actions: Vec<Action>,
}

impl Registry {
    /// The registry built from the embedded `schema/` files, parsed on first use.
    pub fn get() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| match Registry::load(SCHEMA_FILES) {
            Ok(r) => r,
            // The files are part of the program and checked by the test suite.
            Err(SchemaError(e)) => panic!("invalid file in schema/: {e}"),
        })
    }

    /// Builds a registry from `(name, text)` pairs: `actions` is the action table, `a/b` is
    /// platform `b` of component `a`, anything else a component.
    pub fn load(files: &[(&str, &str)]) -> Result<Registry, SchemaError> {
        let mut components = Vec::new();
        let mut actions = Vec::new();
        for (name, text) in files {
            let mut sources = Sources::default();
            let loaded = crate::yaml::parse_str(&mut sources, Path::new(&format!("schema/{name}.yaml")), text);
            if let Some(d) = loaded.diagnostics.iter().find(|d| d.is_error()) {
                return Err(SchemaError(format!("schema/{name}.yaml: {}", d.message)));
            }
            let with_file = |e: SchemaError| SchemaError(format!("schema/{name}.yaml: {}", e.0));
            if *name == "actions" {
                for entry in loaded.root.as_map().unwrap_or_default() {
                    let action_name = entry.key.key_text();
                    let key = KeySchema::parse(&action_name, &entry.value).map_err(with_file)?;
                    let text = |k: &str| entry.value.get(k).and_then(|n| n.as_str()).map(str::to_string);
                    let (simple_key, requires) = (text("simple"), text("requires"));
                    actions.push(Action { name: action_name, simple_key, requires, ty: key.ty, doc: key.doc });
                }
            } else {
                let name = name.replace('/', ".");
                components.push(Component::from_node(&name, &loaded.root).map_err(with_file)?);
            }
        }
        Ok(Registry { components, actions })
    }

    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    /// The platforms of a platform component, e.g. `esphome` and `web_server` for `ota`.
    pub fn platforms<'a>(&'a self, component: &'a str) -> impl Iterator<Item = &'a Component> + 'a {
        self.components.iter().filter(move |c| c.name.strip_prefix(component).is_some_and(|p| p.starts_with('.')))
    }

    /// Top-level component names (no platforms), for did-you-mean.
    pub fn top_level(&self) -> impl Iterator<Item = &str> {
        self.components.iter().map(|c| c.name.as_str()).filter(|n| !n.contains('.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_file_loads() {
        let registry = Registry::load(SCHEMA_FILES).unwrap_or_else(|e| panic!("{}", e.0));
        assert!(registry.component("ota.esphome").is_some());
        assert!(registry.actions.iter().any(|a| a.name == "logger.log"));
    }
}
