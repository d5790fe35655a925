//! `packages:`: config fragments merged into the config, as ESPHome 2026.10's `packages`
//! component does it (`do_packages_pass`, then `merge_packages`).
//!
//! A package is a local file (`!include`, with `vars:` and the file's own `defaults:`), a
//! mapping written in place, or a git repository ([`super::remote`]). Packages are walked
//! highest priority first (the last one declared first, each followed by its own nested
//! packages), twice over the same tree:
//! 1. [`Walk::Collect`] gathers each package's `substitutions:`; a name already known (from
//!    the command line, the main file or a higher-priority package) keeps its value;
//! 2. [`Walk::Build`] converts each package's content with the complete table in effect (a
//!    package may use a substitution another one declares), under its own `vars:`.
//!
//! The caller then merges the built packages under the main config ([`super::merge::merge`]):
//! the main config wins over every package, a later package over an earlier one, a package
//! over the packages it pulls in.

use super::compose::Loader;
use super::include::IncludeTarget;
use super::node::{Node, Value};
use super::parse::{Raw, RawKind};
use crate::diagnostics::Diagnostic;
use crate::source::Span;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

/// Keys of a package's content that are used by the package pass, not merged.
const PACKAGE_KEYS: &[&str] = &["substitutions", "packages"];

/// What a walk over the packages does at each package.
pub(super) enum Walk {
    /// Gathers substitutions: `(name, value, where)` in priority order.
    Collect(Vec<(String, String, Option<Span>)>),
    /// Converts each package's content: the merge list, highest priority first.
    Build(Vec<Node>),
}

/// ESPHome's "Package contents must be a dict", with what a package can be.
fn not_a_package(at: Span) -> Diagnostic {
    Diagnostic::error("packages::invalid", at, "Package contents must be a dict").with_help(
        "a package is `!include file.yaml`, a mapping of components, or a git repository (`url:` or `github://owner/repo/file.yaml@ref`)",
    )
}

/// A raw node with a YAML alias followed to its target.
fn deref(raw: &Raw) -> &Raw {
    match &raw.kind {
        RawKind::Ref { target, .. } => target,
        _ => raw,
    }
}

fn is_include(raw: &Raw) -> bool {
    raw.tag.as_ref().is_some_and(|t| t.handle == "!" && t.suffix == "include")
}

/// The value of `key` in a raw mapping.
pub(super) fn raw_entry<'r>(pairs: &'r [(Raw, Raw)], key: &str) -> Option<&'r (Raw, Raw)> {
    pairs.iter().find(|(k, _)| k.scalar_text() == Some(key))
}

/// Where a key of the main mapping was found: the mapping (the main file's root, or a file or
/// anchor merged into it with `<<:`) and the index of the key's pair in it.
pub(super) struct Found {
    map: Rc<Raw>,
    index: usize,
}

impl Found {
    pub fn pair(&self) -> &(Raw, Raw) {
        match &deref(&self.map).kind {
            RawKind::Map(pairs) => &pairs[self.index],
            _ => unreachable!("Found always points into a mapping"),
        }
    }
}

impl Loader<'_> {
    /// A key of the main file's mapping (`substitutions`, `packages`), also when it comes in
    /// through a `<<:` merge key (`<<: !include common.yaml`): PyYAML resolves merges first, so
    /// ESPHome sees such keys as the config's own. Explicit keys win, then earlier merges.
    pub(super) fn main_key(&mut self, root: &Rc<Raw>, key: &str) -> Option<Found> {
        self.key_with_merges(root, key, 0)
    }

    fn key_with_merges(&mut self, map: &Rc<Raw>, key: &str, depth: usize) -> Option<Found> {
        let RawKind::Map(pairs) = &deref(map).kind else { return None };
        if let Some(index) = pairs.iter().position(|(k, _)| k.scalar_text() == Some(key)) {
            return Some(Found { map: map.clone(), index });
        }
        if depth > 8 {
            return None;
        }
        for (_, value) in pairs.iter().filter(|(k, _)| k.plain_text() == Some("<<")) {
            let sources: Vec<&Raw> = match &value.kind {
                RawKind::Seq(items) => items.iter().collect(),
                _ => vec![value],
            };
            for source in sources {
                let merged = match &source.kind {
                    RawKind::Ref { target, .. } => Some(target.clone()),
                    _ if is_include(source) => {
                        self.quiet += 1;
                        let target = self.include_target(source);
                        self.quiet -= 1;
                        match target {
                            IncludeTarget::File(path, _) => self.read_file(&path).ok().map(|(_, raw)| raw),
                            IncludeTarget::Skipped | IncludeTarget::Failed => None,
                        }
                    }
                    _ => None,
                };
                if let Some(found) = merged.and_then(|m| self.key_with_merges(&m, key, depth + 1)) {
                    return Some(found);
                }
            }
        }
        None
    }

    /// Walks the value of a `packages:` key.
    pub(super) fn walk_packages(&mut self, packages: &Raw, walk: &mut Walk) {
        let packages = deref(packages);
        if is_include(packages) {
            // `packages: !include packages.yaml`: the block itself comes from a file.
            let IncludeTarget::File(path, vars) = self.include_target(packages) else { return };
            let Some(raw) = self.enter_file(packages.span, &path) else { return };
            let scoped = !vars.is_empty();
            if scoped {
                self.subst.push(vars);
            }
            self.walk_package_list(&raw, walk);
            if scoped {
                self.subst.pop();
            }
            self.active.pop();
            return;
        }
        self.walk_package_list(packages, walk);
    }

    /// The packages of a mapping (`name: package`) or a list, highest priority (last) first.
    fn walk_package_list(&mut self, packages: &Raw, walk: &mut Walk) {
        let packages = deref(packages);
        match &packages.kind {
            RawKind::Map(pairs) => pairs.iter().rev().for_each(|(_, package)| self.package(package, walk)),
            RawKind::Seq(items) => items.iter().rev().for_each(|package| self.package(package, walk)),
            _ => {
                let kind = if packages.scalar_text().is_some_and(str::is_empty) { "nothing" } else { "a single value" };
                self.error(
                    Diagnostic::error("packages::invalid", packages.span, format!("Packages must be a key to value mapping or list, got {kind} instead"))
                        .with_help("list the packages, e.g.\n\npackages:\n  common: !include common.yaml\n  wifi: !include wifi.yaml"),
                );
            }
        }
    }

    /// One package definition.
    fn package(&mut self, definition: &Raw, walk: &mut Walk) {
        let definition = deref(definition);
        if is_include(definition) {
            let IncludeTarget::File(path, vars) = self.include_target(definition) else { return };
            self.package_file(definition.span, path, vars, walk);
            return;
        }
        if definition.tag.is_some() {
            // Another tag (`!include_dir_named`…) yields the content: convert it as written.
            let node = self.node(definition);
            self.package_node(node, walk);
            return;
        }
        match &definition.kind {
            RawKind::Map(pairs) if raw_entry(pairs, "url").is_some() => self.remote_package(definition, walk),
            RawKind::Map(pairs) => self.package_content(definition.span, pairs, &PACKAGE_KEYS[..], walk),
            RawKind::Scalar { text, .. } if text.contains("://") || text.contains('$') => {
                let text = self.substitute(definition.span, text.clone());
                self.remote_shorthand(definition.span, &text, walk);
            }
            _ => self.error(not_a_package(definition.span)),
        }
    }

    /// A package in a local file: its content under the include's `vars:` and its `defaults:`.
    pub(super) fn package_file(&mut self, at: Span, path: PathBuf, vars: HashMap<String, String>, walk: &mut Walk) {
        let Some(raw) = self.enter_file(at, &path) else { return };
        let raw = deref(&raw);
        match &raw.kind {
            RawKind::Map(pairs) => {
                let scoped = self.push_file_scope(pairs, vars);
                self.package_content(at, pairs, &["substitutions", "packages", "defaults"], walk);
                if scoped {
                    self.subst.pop();
                }
            }
            RawKind::Scalar { text, .. } if text.is_empty() && raw.tag.is_none() => {}
            _ => {
                let d = not_a_package(at)
                    .with_label(format!("{} is not a mapping of components", path.display()))
                    .with_help("a package file holds top-level components, like a device config (`wifi:`, `sensor:` …)");
                self.error(d);
            }
        }
        self.active.pop();
    }

    /// A package's content: its substitutions (collecting) or its components (building),
    /// then its own nested packages. `skip` are the keys not merged.
    fn package_content(&mut self, at: Span, pairs: &[(Raw, Raw)], skip: &[&str], walk: &mut Walk) {
        match walk {
            Walk::Collect(found) => {
                if let Some((key, value)) = raw_entry(pairs, "substitutions") {
                    let node = self.node(value);
                    for (name, value, span) in self.declared_substitutions(key.span, node) {
                        if !self.subst.is_global(&name) {
                            self.subst.define_global(name.clone(), value.clone());
                            found.push((name, value, span));
                        }
                    }
                }
            }
            Walk::Build(built) => {
                let entries = self.map(pairs, skip);
                built.push(Node::new(at, Value::Map(entries)));
            }
        }
        if let Some((_, nested)) = raw_entry(pairs, "packages") {
            self.walk_packages(nested, walk);
        }
    }

    /// A package that is already a node (from another tag): only its components count.
    fn package_node(&mut self, node: Node, walk: &mut Walk) {
        match node.value {
            Value::Map(entries) => {
                if let Walk::Build(built) = walk {
                    let entries = entries.into_iter().filter(|e| !e.key.as_str().is_some_and(|k| PACKAGE_KEYS.contains(&k))).collect();
                    built.push(Node::new(node.span, Value::Map(entries)));
                }
            }
            Value::Null => {}
            _ => self.error(not_a_package(node.span)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::LoadOptions;
    use super::*;

    #[test]
    fn the_config_wins_and_later_packages_win_over_earlier() {
        let files = [
            ("device.yaml", "packages:\n  a: !include a.yaml\n  b: !include b.yaml\nesphome:\n  name: main\nsensor:\n  - id: m\n"),
            ("a.yaml", "esphome:\n  name: a\n  comment: from a\nwifi:\n  ssid: a\nsensor:\n  - id: a\n"),
            ("b.yaml", "wifi:\n  ssid: b\nsensor:\n  - id: b\n"),
        ];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        assert_eq!(keys(&l.root), ["esphome", "wifi", "sensor"]);
        assert_eq!(get(&l.root, &["esphome", "name"]).value, Value::Str("main".into()));
        assert_eq!(get(&l.root, &["esphome", "comment"]).value, Value::Str("from a".into()));
        assert_eq!(get(&l.root, &["wifi", "ssid"]).value, Value::Str("b".into()));
        let ids: Vec<_> = get(&l.root, &["sensor"]).as_seq().unwrap().iter().map(|n| get(n, &["id"]).value.clone()).collect();
        assert_eq!(ids, ["a", "b", "m"].map(|s| Value::Str(s.into())));
        // Values keep the place they were written, in the package's own file.
        assert_eq!(at(&s, get(&l.root, &["wifi", "ssid"]).span), "b.yaml:2:9");
    }

    #[test]
    fn list_form_inline_content_and_nesting() {
        let files = [
            ("device.yaml", "packages:\n  - !include common.yaml\n  - logger:\n      level: INFO\nlogger:\n  baud_rate: 0\n"),
            ("common.yaml", "packages:\n  net: !include net/wifi.yaml\nlogger:\n  level: DEBUG\n"),
            ("net/wifi.yaml", "wifi:\n  ssid: nested\n"),
        ];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        assert_eq!(get(&l.root, &["wifi", "ssid"]).value, Value::Str("nested".into()));
        assert_eq!(get(&l.root, &["logger", "level"]).value, Value::Str("INFO".into()));
        assert_eq!(get(&l.root, &["logger", "baud_rate"]).value, Value::Int(0));
        assert!(l.root.get("packages").is_none());
    }

    #[test]
    fn substitutions_from_packages_the_main_file_winning() {
        let files = [
            ("device.yaml", "substitutions:\n  name: main\npackages:\n  a: !include a.yaml\n  b: !include {file: b.yaml, vars: {room: kitchen}}\nesphome:\n  name: $name\n"),
            ("a.yaml", "substitutions:\n  name: from_a\n  ssid: a_ssid\nwifi:\n  ssid: $ssid\n  password: ${pw}\n"),
            ("b.yaml", "defaults:\n  room: hall\nsubstitutions:\n  pw: ${room}_pw\nsensor:\n  - name: ${room} ${name}\n"),
        ];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        assert_eq!(get(&l.root, &["esphome", "name"]).value, Value::Str("main".into()));
        assert_eq!(get(&l.root, &["wifi", "ssid"]).value, Value::Str("a_ssid".into()));
        // b's substitution used b's vars; a used it.
        assert_eq!(get(&l.root, &["wifi", "password"]).value, Value::Str("kitchen_pw".into()));
        assert_eq!(get(&l.root, &["sensor", "0", "name"]).value, Value::Str("kitchen main".into()));
        assert!(l.root.get("substitutions").is_none());

        let cli = LoadOptions { substitutions: vec![("ssid".into(), "cli".into())] };
        let (_, l) = load_files(&files, &cli);
        assert_eq!(get(&l.root, &["wifi", "ssid"]).value, Value::Str("cli".into()));
    }

    #[test]
    fn extend_and_remove_across_packages() {
        let files = [
            ("device.yaml", "packages:\n  base: !include base.yaml\nsensor:\n  - id: !extend temp\n    name: Renamed\n  - id: !remove hum\ncaptive_portal: !remove\n"),
            ("base.yaml", "captive_portal:\nsensor:\n  - id: temp\n    name: Temp\n    platform: dht\n  - id: hum\n    name: Hum\n"),
        ];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        assert_eq!(keys(&l.root), ["sensor"]);
        let sensors = get(&l.root, &["sensor"]).as_seq().unwrap();
        assert_eq!(sensors.len(), 1);
        assert_eq!(get(&sensors[0], &["name"]).value, Value::Str("Renamed".into()));
        assert_eq!(get(&sensors[0], &["platform"]).value, Value::Str("dht".into()));
    }

    #[test]
    fn problems_in_a_package_point_into_its_file() {
        let files = [
            ("device.yaml", "packages:\n  a: !include a.yaml\n  b: !include missing.yaml\n  c: 5\n"),
            ("a.yaml", "wifi:\n  ssid: $nope\n  ssid: twice\n"),
        ];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(
            problems(&s, &l),
            [
                "yaml::include device.yaml:3:6 Error reading file missing.yaml: No such file or directory",
                "packages::invalid device.yaml:4:6 Package contents must be a dict",
                "yaml::undeclared-substitution a.yaml:2:9 The string '$nope' looks like an expression, but could not resolve all the variables: 'nope' is undefined",
                "yaml::duplicate-key a.yaml:3:3 Duplicate key \"ssid\"",
            ]
        );
        let dup = l.diagnostics.iter().find(|d| d.code == "yaml::duplicate-key").unwrap();
        assert_eq!(dup.related.len(), 2, "first defined here, and the include chain");
        assert_eq!(at(&s, dup.related[1].span), "device.yaml:2:6");
        assert_eq!(dup.related[1].message, "a.yaml included from here");
    }

    #[test]
    fn packages_and_substitutions_from_a_merge_key() {
        let files = [
            ("device.yaml", "<<: !include base.yaml
esphome:
  name: $name
"),
            ("base.yaml", "substitutions:\n  name: merged\npackages:\n  wifi: !include wifi.yaml\nlogger:\n"),
            ("wifi.yaml", "wifi:
  ssid: x
"),
        ];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        assert_eq!(keys(&l.root), ["wifi", "esphome", "logger"]);
        assert_eq!(get(&l.root, &["esphome", "name"]).value, Value::Str("merged".into()));
    }

    #[test]
    fn the_packages_block_from_a_file_and_remote_definitions_without_git() {
        let files = [
            ("device.yaml", "packages: !include list.yaml
"),
            ("list.yaml", "- !include a.yaml
- github://esphome/firmware/wifi.yaml@v1
- url: https://example.com/r.git
  files: [x.txt]
"),
            ("a.yaml", "logger:
"),
        ];
        let (s, l) = load_files(&files, &LoadOptions::default());
        // The in-memory file system can't fetch: each remote package says so at its definition.
        assert_eq!(
            problems(&s, &l),
            [
                "packages::remote list.yaml:2:3 fetching https://github.com/esphome/firmware.git failed: git repositories can't be fetched here",
                "packages::remote list.yaml:4:11 Only YAML (.yaml / .yml) files are supported.",
            ]
        );
        assert_eq!(keys(&l.root), ["logger"]);
    }

    #[test]
    fn a_package_including_itself_is_a_cycle() {
        let files = [("device.yaml", "packages:\n  a: !include a.yaml\n"), ("a.yaml", "packages:\n  again: !include a.yaml\n")];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(problems(&s, &l), ["yaml::include-cycle a.yaml:2:10 Include cycle: a.yaml → a.yaml"]);
    }
}
