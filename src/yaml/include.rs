//! Other files: reading each once, `!include` (with `vars:` and the included file's
//! `defaults:`), the four `!include_dir_*` tags, and include cycles.
//!
//! A node that comes from another file keeps the span of its `!include` tag, where it is used;
//! everything inside keeps its own span in the included file.

use super::compose::{or_empty_map, Loader};
use super::node::{Entry, Node, Value};
use super::parse::{Raw, RawKind};
use super::MAX_DEPTH;
use crate::diagnostics::Diagnostic;
use crate::source::{normalize, FileId, Span};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// What an `!include_dir_*` tag makes of the files it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DirKind {
    /// `!include_dir_list`: one item per file.
    List,
    /// `!include_dir_merge_list`: the items of every file that is a list.
    MergeList,
    /// `!include_dir_named`: a mapping from file stem to content.
    Named,
    /// `!include_dir_merge_named`: the entries of every file that is a mapping.
    MergeNamed,
}

/// What an `!include` asks for.
pub(super) enum IncludeTarget {
    /// This file, with these `vars:`.
    File(PathBuf, HashMap<String, String>),
    /// Nothing: its `condition:` is false.
    Skipped,
    /// Nothing: the tag is wrong, and that was reported.
    Failed,
}

impl Loader<'_> {
    /// Reads and parses a file, once per load.
    pub fn read_file(&mut self, path: &Path) -> Result<(FileId, Rc<Raw>), String> {
        let path = normalize(path);
        if let Some(cached) = self.files.get(&path) {
            return cached.clone();
        }
        match self.fs.read_to_string(&path) {
            Ok(text) => {
                let file = self.sources.add(path.clone(), text);
                Ok((file, self.parse_file(path, file)))
            }
            Err(e) => {
                let message = format!("Error reading file {}: {e}", path.display());
                self.files.insert(path, Err(message.clone()));
                Err(message)
            }
        }
    }

    /// The directory of the file `span` is in: relative paths in tags start there.
    pub fn dir_of(&self, span: Span) -> PathBuf {
        self.sources.get(span.file).path.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    /// `!include file` or `!include {file: …, vars: {…}, condition: …}`.
    pub fn include(&mut self, raw: &Raw) -> Node {
        match self.include_target(raw) {
            IncludeTarget::File(path, vars) => self.include_file(raw.span, &path, Some(vars)),
            // A false `condition:` includes nothing, an empty mapping (as in ESPHome).
            IncludeTarget::Skipped => Node::new(raw.span, Value::Map(Vec::new())),
            IncludeTarget::Failed => Node::new(raw.span, Value::Null),
        }
    }

    /// What an `!include` names: the file (relative to the including file, substitutions
    /// applied) and its `vars:`.
    pub fn include_target(&mut self, raw: &Raw) -> IncludeTarget {
        let span = raw.span;
        match &raw.kind {
            RawKind::Scalar { text, .. } => {
                let file = self.substitute(span, text.clone());
                IncludeTarget::File(self.dir_of(span).join(file), HashMap::new())
            }
            RawKind::Map(pairs) => {
                let fields = self.map(pairs, &[]);
                let field = |name: &str| fields.iter().find(|e| e.key.as_str() == Some(name)).map(|e| &e.value);
                let Some(file) = field("file").and_then(|f| f.value.to_python_str()) else {
                    self.error(
                        Diagnostic::error("yaml::include", span, "Must include 'file'")
                            .with_help("write `!include {file: other.yaml, vars: {name: value}}`"),
                    );
                    return IncludeTarget::Failed;
                };
                let vars = match field("vars") {
                    None => HashMap::new(),
                    Some(vars) => self.vars(vars),
                };
                if let Some(condition) = field("condition") {
                    match include_condition(condition, &file) {
                        Ok(true) => {}
                        Ok(false) => return IncludeTarget::Skipped,
                        Err(message) => {
                            self.error(
                                Diagnostic::error("yaml::include", condition.span, message)
                                    .with_help("write `condition: true` or `false`, or a substitution that gives one of them"),
                            );
                            return IncludeTarget::Failed;
                        }
                    }
                }
                IncludeTarget::File(self.dir_of(span).join(file), vars)
            }
            _ => {
                self.error(
                    Diagnostic::error("yaml::include", span, "`!include` needs a file name, but found a list")
                        .with_help("write `!include other.yaml` or `!include {file: other.yaml, vars: {…}}`"),
                );
                IncludeTarget::Failed
            }
        }
    }

    /// An `!include`'s `vars:`, stringified as ESPHome does.
    pub fn vars(&mut self, vars: &Node) -> HashMap<String, String> {
        let Some(entries) = vars.as_map() else {
            if !vars.is_null() {
                self.error(
                    Diagnostic::error("yaml::include", vars.span, format!("`vars` must be a mapping, but found {}", vars.value.kind()))
                        .with_help("write `vars: {name: value, other: value}`"),
                );
            }
            return HashMap::new();
        };
        let mut out = HashMap::new();
        for Entry { key, value } in entries {
            match value.value.to_python_str() {
                Some(text) => {
                    out.insert(key.as_str().unwrap_or_default().to_string(), text);
                }
                None => self.error(
                    Diagnostic::error("yaml::include", value.span, format!("The variable '{}' must be a plain value, but found {}", key.key_text(), value.value.kind()))
                        .with_help("include variables are text substituted into the included file"),
                ),
            }
        }
        out
    }

    /// Loads `path` for a tag at `at`. `vars` is `Some` for `!include` (whose content also gets
    /// its own `defaults:`), `None` for the files of `!include_dir_*`.
    fn include_file(&mut self, at: Span, path: &Path, vars: Option<HashMap<String, String>>) -> Node {
        let Some(raw) = self.enter_file(at, path) else { return Node::new(at, Value::Null) };
        let node = match (&raw.kind, vars) {
            (RawKind::Map(pairs), Some(vars)) => {
                let scoped = self.push_file_scope(pairs, vars);
                let entries = self.map(pairs, &["defaults"]);
                if scoped {
                    self.subst.pop();
                }
                Node::new(raw.span, Value::Map(entries))
            }
            (_, Some(vars)) if !vars.is_empty() => {
                self.subst.push(vars);
                let node = self.node(&raw);
                self.subst.pop();
                node
            }
            _ => self.node(&raw),
        };
        self.active.pop();
        Node { span: at, ..or_empty_map(node) }
    }

    /// Starts reading the file a tag at `at` names: refuses an include cycle, reads and parses
    /// it (once per load), and puts it on the include chain. The caller pops `self.active`
    /// when done. `None` after reporting why the file can't be had.
    pub fn enter_file(&mut self, at: Span, path: &Path) -> Option<Rc<Raw>> {
        let path = normalize(path);
        if let Some(i) = self.active.iter().position(|a| *a == path) {
            let chain: Vec<String> =
                self.active[i..].iter().map(|a| a.display().to_string()).chain([path.display().to_string()]).collect();
            let d = Diagnostic::error("yaml::include-cycle", at, format!("Include cycle: {}", chain.join(" → ")))
                .with_label("includes a file that is already being included")
                .with_help("a file can't include itself, directly or through other files");
            self.error(d);
            return None;
        }
        let raw = match self.read_file(&path) {
            Ok((file, raw)) => {
                self.sources.set_included_from(file, at);
                raw
            }
            Err(message) => {
                let d = Diagnostic::error("yaml::include", at, message).with_label("can't read this file").with_help(format!(
                    "the path is relative to the directory of {}",
                    self.sources.get(at.file).path.display()
                ));
                self.error(d);
                return None;
            }
        };
        self.active.push(path);
        Some(raw)
    }

    /// Pushes the substitution scope of an included mapping: its own `defaults:` under the
    /// include's `vars:`. Returns whether a scope was pushed (the caller pops it).
    pub fn push_file_scope(&mut self, pairs: &[(Raw, Raw)], vars: HashMap<String, String>) -> bool {
        let defaults = super::packages::raw_entry(pairs, "defaults");
        let mut scope = match defaults {
            Some((_, value)) => {
                let node = self.node(value);
                self.vars(&node)
            }
            None => HashMap::new(),
        };
        scope.extend(vars);
        let scoped = !scope.is_empty();
        if scoped {
            self.subst.push(scope);
        }
        scoped
    }

    /// `!include_dir_*`: every `*.yaml` below `dir` (sorted, no dot-files or dot-dirs, no
    /// `secrets.yaml`), each loaded like an include.
    pub fn include_dir(&mut self, at: Span, dir: &str, kind: DirKind) -> Node {
        let dir = normalize(&self.dir_of(at).join(dir));
        let mut files = Vec::new();
        if let Err(e) = self.find_yaml_files(&dir, &mut files, 0) {
            let d = Diagnostic::error("yaml::include", at, format!("Error reading directory {}: {e}", dir.display()))
                .with_label("can't read this directory")
                .with_help(format!("the path is relative to the directory of {}", self.sources.get(at.file).path.display()));
            self.error(d);
            return Node::new(at, Value::Null);
        }
        let value = match kind {
            DirKind::List => Value::Seq(files.iter().map(|f| self.include_file(at, f, None)).collect()),
            DirKind::MergeList => {
                let mut items = Vec::new();
                for f in &files {
                    if let Value::Seq(more) = self.include_file(at, f, None).value {
                        items.extend(more);
                    }
                }
                Value::Seq(items)
            }
            DirKind::Named => {
                let mut map = Dict::default();
                for f in &files {
                    let stem = f.file_stem().unwrap_or_default().to_string_lossy().into_owned();
                    let value = self.include_file(at, f, None);
                    map.set(Entry { key: Node::new(at, Value::Str(stem)), value });
                }
                Value::Map(map.entries)
            }
            DirKind::MergeNamed => {
                let mut map = Dict::default();
                for f in &files {
                    if let Value::Map(more) = self.include_file(at, f, None).value {
                        for entry in more {
                            map.set(entry);
                        }
                    }
                }
                Value::Map(map.entries)
            }
        };
        Node::new(at, value)
    }

    /// Like Python's `os.walk`: this directory's files first, then each subdirectory's.
    fn find_yaml_files(&self, dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> std::io::Result<()> {
        let mut entries = self.fs.read_dir(dir)?;
        entries.sort();
        let mut subdirs = Vec::new();
        for entry in entries {
            let name = entry.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            if depth < MAX_DEPTH && self.fs.read_dir(&entry).is_ok() {
                subdirs.push(entry);
            } else if name.ends_with(".yaml") && name != "secrets.yaml" {
                out.push(entry);
            }
        }
        for sub in subdirs {
            // A subdirectory that vanished or can't be read is skipped, as `os.walk` does.
            let _ = self.find_yaml_files(&sub, out, depth + 1);
        }
        Ok(())
    }
}

/// ESPHome's `IncludeFile.should_load`: a boolean, or a text that is one once substituted.
fn include_condition(condition: &Node, file: &str) -> Result<bool, String> {
    let text = match &condition.value {
        Value::Bool(b) => return Ok(*b),
        Value::Str(text) => text,
        _ => return Err("Include 'condition' must be a boolean or string".into()),
    };
    match text.to_lowercase().as_str() {
        "true" | "yes" | "on" | "enable" => Ok(true),
        "false" | "no" | "off" | "disable" => Ok(false),
        _ if text.contains('$') => Err(format!("Cannot evaluate include condition for '{file}' with unresolved substitutions: {text}")),
        _ => Err(format!("Cannot convert include condition for '{file}' to a boolean, please use 'true' or 'false': {text}")),
    }
}

/// Entries with Python's `dict[key] = value`: a known key keeps its place and takes the new value.
#[derive(Default)]
struct Dict {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

impl Dict {
    fn set(&mut self, entry: Entry) {
        let key = entry.key.as_str().unwrap_or_default().to_string();
        match self.index.get(&key) {
            Some(&i) => self.entries[i].value = entry.value,
            None => {
                self.index.insert(key, self.entries.len());
                self.entries.push(entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::LoadOptions;
    use super::*;

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(normalize(Path::new("a/./b/../c.yaml")), Path::new("a/c.yaml"));
        assert_eq!(normalize(Path::new("../x/../y")), Path::new("../y"));
        assert_eq!(normalize(Path::new("./d.yaml")), Path::new("d.yaml"));
    }

    #[test]
    fn include_relative_to_the_including_file() {
        let files = [
            ("conf/device.yaml", "wifi: !include common/wifi.yaml\n"),
            ("conf/common/wifi.yaml", "ssid: home\nap: !include ap.yaml\n"),
            ("conf/common/ap.yaml", "password: x\n"),
        ];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        let wifi = get(&l.root, &["wifi"]);
        assert_eq!(at(&s, wifi.span), "conf/device.yaml:1:7");
        assert_eq!(at(&s, get(wifi, &["ssid"]).span), "conf/common/wifi.yaml:1:7");
        assert_eq!(at(&s, get(wifi, &["ap", "password"]).span), "conf/common/ap.yaml:1:11");
    }

    #[test]
    fn missing_file_shows_the_include_chain() {
        let files = [("device.yaml", "a: !include b.yaml\n"), ("b.yaml", "x: 1\nc: !include missing.yaml\n")];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(problems(&s, &l), ["yaml::include b.yaml:2:4 Error reading file missing.yaml: No such file or directory"]);
        let related = &l.diagnostics[0].related;
        assert_eq!(related.len(), 1);
        assert_eq!(at(&s, related[0].span), "device.yaml:1:4");
        assert_eq!(related[0].message, "b.yaml included from here");
        assert_eq!(get(&l.root, &["a", "x"]).value, Value::Int(1));
    }

    #[test]
    fn include_cycle_is_an_error() {
        let files = [("device.yaml", "a: !include b.yaml\n"), ("b.yaml", "c: !include device.yaml\n")];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(problems(&s, &l), ["yaml::include-cycle b.yaml:1:4 Include cycle: device.yaml → b.yaml → device.yaml"]);
        assert_eq!(at(&s, l.diagnostics[0].related[0].span), "device.yaml:1:4");
    }

    #[test]
    fn include_with_vars_and_defaults() {
        let files = [
            ("device.yaml", "a: !include {file: light.yaml, vars: {name: kitchen, pin: 5}}\nb: !include light.yaml\nc: $name\n"),
            ("light.yaml", "defaults:\n  name: default\n  pin: 1\nlabel: ${name} light\npin: $pin\n"),
        ];
        let (s, l) = load_files(&files, &LoadOptions::default());
        // Outside the included file, `$name` is not defined (ESPHome warns too).
        assert_eq!(
            problems(&s, &l),
            ["yaml::undeclared-substitution device.yaml:3:4 The string '$name' looks like an expression, but could not resolve all the variables: 'name' is undefined"]
        );
        assert_eq!(keys(get(&l.root, &["a"])), ["label", "pin"]);
        assert_eq!(get(&l.root, &["a", "label"]).value, Value::Str("kitchen light".into()));
        assert_eq!(get(&l.root, &["a", "pin"]).value, Value::Str("5".into()));
        assert_eq!(get(&l.root, &["b", "label"]).value, Value::Str("default light".into()));
        // Vars apply inside the included file only.
        assert_eq!(get(&l.root, &["c"]).value, Value::Str("$name".into()));
    }

    #[test]
    fn include_condition() {
        let files = [
            ("device.yaml", "substitutions:\n  debug: 'off'\na: !include {file: x.yaml, condition: true}\nb: !include {file: x.yaml, condition: $debug}\nc: !include {file: x.yaml, condition: maybe}\nd: !include {file: x.yaml, condition: '${nope}'}\n"),
            ("x.yaml", "k: v\n"),
        ];
        let (s, l) = load_files(&files, &LoadOptions::default());
        assert_eq!(get(&l.root, &["a", "k"]).value, Value::Str("v".into()));
        assert_eq!(get(&l.root, &["b"]).value, Value::Map(vec![]), "a false condition includes an empty mapping");
        let p = problems(&s, &l);
        assert!(p.iter().any(|p| p.ends_with("Cannot convert include condition for 'x.yaml' to a boolean, please use 'true' or 'false': maybe")), "{p:?}");
        assert!(p.iter().any(|p| p.ends_with("Cannot evaluate include condition for 'x.yaml' with unresolved substitutions: ${nope}")), "{p:?}");
    }

    #[test]
    fn include_mapping_form_needs_file() {
        let (s, l) = load_text("a: !include {vars: {x: 1}}\n");
        assert_eq!(problems(&s, &l), ["yaml::include device.yaml:1:4 Must include 'file'"]);
    }

    #[test]
    fn include_dir_variants() {
        let fs = crate::source::MemoryFs::default()
            .with("device.yaml", "list: !include_dir_list d\nmlist: !include_dir_merge_list d\nnamed: !include_dir_named d\nmnamed: !include_dir_merge_named d\n")
            .with("d/b.yaml", "[1, 2]\n")
            .with("d/a.yaml", "k: v\n")
            .with("d/sub/c.yaml", "k: w\nz: 1\n")
            .with("d/.hidden.yaml", "h: 1\n")
            .with("d/.git/x.yaml", "h: 1\n")
            .with("d/secrets.yaml", "h: 1\n")
            .with("d/notes.txt", "h: 1\n");
        let (s, l) = load_fs(&fs, "device.yaml", &LoadOptions::default());
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        let list = get(&l.root, &["list"]).as_seq().unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(get(&list[1], &["0"]).value, Value::Int(1));
        assert_eq!(get(&l.root, &["mlist"]).as_seq().unwrap().len(), 2);
        assert_eq!(keys(get(&l.root, &["named"])), ["a", "b", "c"]);
        let mnamed = get(&l.root, &["mnamed"]);
        assert_eq!(keys(mnamed), ["k", "z"]);
        assert_eq!(get(mnamed, &["k"]).value, Value::Str("w".into()));
    }

    #[test]
    fn include_dir_missing_directory() {
        let (s, l) = load_text("a: !include_dir_list nowhere\n");
        assert_eq!(problems(&s, &l), ["yaml::include device.yaml:1:4 Error reading directory nowhere: No such file or directory"]);
    }
}
