//! Raw trees to the [`Node`] tree: scalar types, mappings (duplicate keys, `<<` merge keys),
//! aliases, and the dispatch to the tag handlers. [`Loader`] holds everything one load shares:
//! the file cache, secrets, the include chain, substitutions and the work budgets.

use super::packages::{Found, Walk};
use super::parse::{Raw, RawKind};
use super::substitute::Substitutions;
use super::{scalar, LoadOptions, Loaded, MAX_DEPTH};
use crate::diagnostics::{self, Diagnostic};
use crate::source::{FileId, FileSystem, Sources, Span};
use saphyr_parser::ScalarStyle;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::rc::Rc;

use super::node::{python_float_repr, Entry, Node, Value};

/// How many nodes one load may produce in total. Far above any real configuration; it stops
/// alias and include bombs (`a: &a [*b, *b, …]`, a file including another ten times, …).
const NODE_BUDGET: usize = 250_000;

pub(super) struct Loader<'a> {
    pub fs: &'a dyn FileSystem,
    pub sources: &'a mut Sources,
    pub diagnostics: Vec<Diagnostic>,
    pub main_file: FileId,
    /// Every file read, by normalized path: its id and tree, or the read error's text.
    pub files: HashMap<PathBuf, Result<(FileId, Rc<Raw>), String>>,
    /// Each remote package repository fetched once per load (by url and ref): its folder, or why not.
    pub remotes: HashMap<String, Result<PathBuf, String>>,
    /// Each `secrets.yaml` converted once, or why it couldn't be.
    pub secrets: HashMap<PathBuf, Result<Rc<Node>, String>>,
    /// The files being converted, main file first (to refuse include cycles).
    pub active: Vec<PathBuf>,
    pub subst: Substitutions,
    /// Inside `!literal`/`!force`: no substitution.
    pub literal: usize,
    /// Above zero: converting a value under a `password:` key (undeclared substitutions are not
    /// reported there, as in ESPHome).
    pub under_password: usize,
    /// Above zero: undeclared substitutions are not reported (the first walk over packages,
    /// which runs before every substitution is known).
    pub quiet: usize,
    depth: usize,
    nodes_left: usize,
    too_deep_reported: bool,
}

impl<'a> Loader<'a> {
    pub fn new(fs: &'a dyn FileSystem, sources: &'a mut Sources, main_file: FileId) -> Loader<'a> {
        Loader {
            fs,
            sources,
            diagnostics: Vec::new(),
            main_file,
            files: HashMap::new(),
            remotes: HashMap::new(),
            secrets: HashMap::new(),
            active: Vec::new(),
            subst: Substitutions::default(),
            literal: 0,
            quiet: 0,
            under_password: 0,
            depth: 0,
            nodes_left: NODE_BUDGET,
            too_deep_reported: false,
        }
    }

    /// Loads the main file (already in `sources`): substitutions (with those of its packages)
    /// first, then the whole tree, then its packages merged in and `!extend`/`!remove` applied.
    pub fn load_main(mut self, options: &LoadOptions) -> Loaded {
        let path = crate::source::normalize(&self.sources.get(self.main_file).path);
        let raw = self.parse_file(path.clone(), self.main_file);
        self.active.push(path);

        let substitutions = self.main_key(&raw, "substitutions");
        let mut values = match substitutions.as_ref().map(Found::pair) {
            Some((key, value)) => {
                // The values refer to each other: the table below resolves them.
                self.literal += 1;
                let node = self.node(value);
                self.literal -= 1;
                self.declared_substitutions(key.span, node)
            }
            None => Vec::new(),
        };
        let packages = self.main_key(&raw, "packages");
        let packages = packages.as_ref().map(|found| &found.pair().1);
        if let Some(packages) = packages {
            // First walk: the packages' substitutions, each evaluated with what is known so far;
            // what can't be resolved yet is resolved with the complete table below.
            self.quiet += 1;
            let known = self.substitution_table(values.clone(), &options.substitutions);
            self.subst.push(known);
            let mut walk = Walk::Collect(Vec::new());
            self.walk_packages(packages, &mut walk);
            self.subst.pop();
            self.quiet -= 1;
            if let Walk::Collect(found) = walk {
                values.extend(found);
            }
        }
        if !values.is_empty() || !options.substitutions.is_empty() {
            let table = self.substitution_table(values, &options.substitutions);
            self.subst.push(table);
        }
        let mut root = match &raw.kind {
            // `substitutions:` and `packages:` have done their job: ESPHome drops them.
            RawKind::Map(pairs) => {
                let mut entries = self.map(pairs, &["substitutions", "packages"]);
                // (They may also have come in through a `<<:` merge.)
                entries.retain(|e| !matches!(e.key.as_str(), Some("substitutions" | "packages")));
                Node::new(raw.span, Value::Map(entries))
            }
            _ => or_empty_map(self.node(&raw)),
        };
        if let Some(packages) = packages {
            let mut walk = Walk::Build(Vec::new());
            self.walk_packages(packages, &mut walk);
            if let Walk::Build(built) = walk {
                for package in built {
                    root = super::merge::merge(package, root);
                }
            }
        }
        super::merge::resolve_extend_remove(&mut root, &mut self.diagnostics);

        let mut seen = HashSet::new();
        let sources = &*self.sources;
        let mut diagnostics: Vec<Diagnostic> = std::mem::take(&mut self.diagnostics)
            .into_iter()
            // An alias or a twice-included file repeats the same problem: say it once.
            .filter(|d| seen.insert((d.code, d.span, d.message.clone())))
            .map(|d| diagnostics::with_include_chain(sources, d))
            .collect();
        diagnostics::sort(&mut diagnostics);
        Loaded { root, diagnostics }
    }

    /// Parses a file already in `sources` and caches its tree under `path`.
    pub fn parse_file(&mut self, path: PathBuf, file: FileId) -> Rc<Raw> {
        let parsed = super::parse::parse(file, &self.sources.get(file).text);
        self.diagnostics.extend(parsed.diagnostics);
        let root = Rc::new(parsed.root);
        self.files.insert(path, Ok((file, root.clone())));
        root
    }

    pub fn error(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Converts one node, within the depth and size limits.
    pub fn node(&mut self, raw: &Raw) -> Node {
        if self.nodes_left == 0 {
            return Node::new(raw.span, Value::Null);
        }
        self.nodes_left -= 1;
        if self.nodes_left == 0 {
            self.error(
                Diagnostic::error("yaml::too-large", raw.span, format!("The configuration has more than {NODE_BUDGET} values"))
                    .with_help("this is far beyond any real configuration: look for aliases or includes that repeat each other"),
            );
        }
        if self.depth >= MAX_DEPTH {
            if !std::mem::replace(&mut self.too_deep_reported, true) {
                self.error(
                    Diagnostic::error("yaml::too-deep", raw.span, format!("Nesting deeper than {MAX_DEPTH} levels"))
                        .with_help("look for an include or alias that nests the configuration in itself"),
                );
            }
            return Node::new(raw.span, Value::Null);
        }
        self.depth += 1;
        let node = self.node_inner(raw);
        self.depth -= 1;
        node
    }

    fn node_inner(&mut self, raw: &Raw) -> Node {
        match &raw.tag {
            Some(tag) => self.tagged(raw, tag),
            None => self.untagged(raw),
        }
    }

    /// A node as if it had no tag (the tag handlers use this for the content they keep).
    pub fn untagged(&mut self, raw: &Raw) -> Node {
        match &raw.kind {
            RawKind::Ref { target, alias } => {
                if *alias && target.size > self.nodes_left {
                    self.error(
                        Diagnostic::error("yaml::alias-expansion", raw.span, "This alias expands to too many values")
                            .with_label(format!("{} values", target.size))
                            .with_help("aliases that contain aliases multiply; reduce the nesting"),
                    );
                    return Node::new(raw.span, Value::Null);
                }
                // The node stands where the alias is written; its children keep their own spans.
                Node { span: raw.span, ..self.node(target) }
            }
            RawKind::Scalar { text, style } => self.scalar(raw.span, text, *style),
            RawKind::Seq(items) => Node::new(raw.span, Value::Seq(items.iter().map(|i| self.node(i)).collect())),
            RawKind::Map(entries) => Node::new(raw.span, Value::Map(self.map(entries, &[]))),
        }
    }

    /// An untagged scalar: quoted and block scalars are strings; plain ones are resolved.
    fn scalar(&mut self, span: Span, text: &str, style: ScalarStyle) -> Node {
        if style != ScalarStyle::Plain {
            return self.string(span, text.to_string());
        }
        match scalar::resolve_plain(text) {
            Ok(Value::Str(s)) => self.string(span, s),
            Ok(value) => Node::new(span, value),
            Err(e) => {
                let why = match e {
                    scalar::NumberError::OutOfRange => "has more digits than Python can handle (4300)",
                    scalar::NumberError::NoDigits => "has no digits",
                };
                self.error(
                    Diagnostic::error("yaml::invalid-number", span, if text.len() > 40 { format!("The number {why}") } else { format!("The number {text} {why}") })
                        .with_help("put the value in quotes if it is meant as text"),
                );
                Node::new(span, Value::Str(text.to_string()))
            }
        }
    }

    /// A string value, with substitutions applied. A leftover `REPLACEME` from a sample config
    /// is an error, as in ESPHome (`!literal REPLACEME` is the way to mean it).
    pub fn string(&mut self, span: Span, text: String) -> Node {
        let text = self.substitute(span, text);
        if text == "REPLACEME" && self.literal == 0 {
            self.error(
                Diagnostic::error(
                    "yaml::replaceme",
                    span,
                    "Found 'REPLACEME' in configuration, this is most likely an error. Please make sure you have replaced all fields from the sample configuration.",
                )
                .with_help("put your own value here; if you mean the text REPLACEME, write `!literal REPLACEME`"),
            );
        }
        Node::new(span, Value::Str(text))
    }

    /// The entries of a mapping, ESPHome's way: keys are stringified (`on:` is the key `"True"`),
    /// every duplicate is reported and dropped, `<<` merges come after the explicit keys and
    /// never override them. `applied` names keys whose values were already used and are dropped
    /// (`substitutions:` and `packages:`, `defaults:` in an included file).
    pub fn map(&mut self, pairs: &[(Raw, Raw)], applied: &[&str]) -> Vec<Entry> {
        let mut entries = Vec::with_capacity(pairs.len());
        let mut seen: HashMap<String, Span> = HashMap::with_capacity(pairs.len());
        let mut merges = Vec::new();
        for (raw_key, raw_value) in pairs {
            if raw_key.plain_text() == Some("<<") {
                merges.push(self.node(raw_value));
                continue;
            }
            let Some(key) = self.key(raw_key) else { continue };
            let text = key.as_str().unwrap_or_default().to_string();
            if let Some(&first) = seen.get(&text) {
                self.error(
                    Diagnostic::error("yaml::duplicate-key", key.span, format!("Duplicate key \"{text}\""))
                        .with_label("defined again here")
                        .with_related(first, "first defined here")
                        .with_help("a key can appear only once in a mapping; remove or merge one of them"),
                );
                // Still convert the value, so problems inside it are reported too.
                self.node(raw_value);
                continue;
            }
            seen.insert(text.clone(), key.span);
            if applied.contains(&text.as_str()) {
                continue;
            }
            let password = text == "password";
            self.under_password += usize::from(password);
            let value = self.node(raw_value);
            self.under_password -= usize::from(password);
            entries.push(Entry { key, value });
        }
        for merge in merges {
            self.merge_into(&mut entries, &mut seen, merge);
        }
        entries
    }

    /// Adds the entries of a `<<:` value (a mapping or a list of mappings) whose keys are new.
    fn merge_into(&mut self, entries: &mut Vec<Entry>, seen: &mut HashMap<String, Span>, merge: Node) {
        let sources = match merge.value {
            Value::Map(map) => vec![map],
            Value::Seq(items) => {
                let mut maps = Vec::with_capacity(items.len());
                for item in items {
                    match item.value {
                        Value::Map(map) => maps.push(map),
                        other => self.error(
                            Diagnostic::error(
                                "yaml::merge",
                                item.span,
                                format!("Expected a mapping for merging, but found {}", other.kind()),
                            )
                            .with_help("every item of a `<<:` list must be a mapping, e.g. `<<: [*defaults, *more]`"),
                        ),
                    }
                }
                maps
            }
            other => {
                self.error(
                    Diagnostic::error(
                        "yaml::merge",
                        merge.span,
                        format!("Expected a mapping or list of mappings for merging, but found {}", other.kind()),
                    )
                    .with_help("`<<:` merges a mapping into this one, e.g. `<<: *defaults` where `defaults` is an anchored mapping"),
                );
                return;
            }
        };
        for entry in sources.into_iter().flatten() {
            let text = entry.key.as_str().unwrap_or_default();
            if !seen.contains_key(text) {
                seen.insert(text.to_string(), entry.key.span);
                entries.push(entry);
            }
        }
    }

    /// A mapping key as ESPHome keeps it: `str()` of the value. Lists and mappings can't be keys.
    fn key(&mut self, raw: &Raw) -> Option<Node> {
        let node = self.node(raw);
        let text = match &node.value {
            Value::Str(_) => return Some(node),
            Value::Null => "None".to_string(),
            Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => python_float_repr(*f),
            Value::Lambda(s) => s.clone(),
            Value::Extend(id) => format!("!extend {id}"),
            Value::Remove(id) => format!("!remove {id}"),
            Value::Seq(_) | Value::Map(_) => {
                self.error(
                    Diagnostic::error("yaml::invalid-key", node.span, format!("Invalid key: {} can't be a key", node.value.kind()))
                        .with_help("mapping keys must be plain values such as names"),
                );
                return None;
            }
        };
        Some(Node { value: Value::Str(text), ..node })
    }
}

/// ESPHome reads an empty file (or any falsy document) as an empty mapping.
pub(super) fn or_empty_map(node: Node) -> Node {
    let falsy = match &node.value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Int(i) => *i == 0,
        Value::Float(f) => *f == 0.0,
        Value::Str(s) => s.is_empty(),
        Value::Seq(items) => items.is_empty(),
        Value::Map(_) | Value::Lambda(_) | Value::Extend(_) | Value::Remove(_) => false,
    };
    if falsy {
        Node { value: Value::Map(Vec::new()), ..node }
    } else {
        node
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn scalars_resolve_like_pyyaml_and_keep_exact_spans() {
        let (s, l) = load_text("a: yes\nb: 0x1F\nc: 1e3\nd: '5'\ne:\nf: 1.5\ng: |\n  text\nh: ~\n");
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        let r = &l.root;
        assert_eq!(get(r, &["a"]).value, Value::Bool(true));
        assert_eq!(get(r, &["b"]).value, Value::Int(31));
        assert_eq!(get(r, &["c"]).value, Value::Str("1e3".into()));
        assert_eq!(get(r, &["d"]).value, Value::Str("5".into()));
        assert_eq!(get(r, &["e"]).value, Value::Null);
        assert_eq!(get(r, &["f"]).value, Value::Float(1.5));
        assert_eq!(get(r, &["g"]).value, Value::Str("text\n".into()));
        assert_eq!(get(r, &["h"]).value, Value::Null);
        assert_eq!(at(&s, get(r, &["b"]).span), "device.yaml:2:4");
        assert_eq!(s.text(get(r, &["d"]).span), "'5'");
        let e = r.entry("f").unwrap();
        assert_eq!(at(&s, e.key.span), "device.yaml:6:1");
        assert_eq!(at(&s, e.value.span), "device.yaml:6:4");
    }

    #[test]
    fn keys_are_stringified_like_esphome() {
        let (s, l) = load_text("on: 1\n2: b\n~: c\n1.5: d\n");
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        assert_eq!(keys(&l.root), ["True", "2", "None", "1.5"]);
    }

    #[test]
    fn every_duplicate_key_is_reported_and_the_first_kept() {
        let (s, l) = load_text("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n'a': 4\n");
        assert_eq!(
            problems(&s, &l),
            [
                "yaml::duplicate-key device.yaml:4:3 Duplicate key \"c\"",
                "yaml::duplicate-key device.yaml:5:1 Duplicate key \"a\"",
                "yaml::duplicate-key device.yaml:6:1 Duplicate key \"a\"",
            ]
        );
        let d = &l.diagnostics[1];
        assert_eq!(d.related.len(), 1);
        assert_eq!(at(&s, d.related[0].span), "device.yaml:1:1");
        assert_eq!(d.related[0].message, "first defined here");
        assert_eq!(get(&l.root, &["a"]).value, Value::Int(1));
        assert_eq!(keys(&l.root), ["a", "b"]);
    }

    #[test]
    fn duplicates_compare_stringified_keys() {
        let (s, l) = load_text("1: a\n\"1\": b\n");
        assert_eq!(problems(&s, &l), ["yaml::duplicate-key device.yaml:2:1 Duplicate key \"1\""]);
    }

    #[test]
    fn merge_keys_explicit_keys_win_and_earlier_merges_win() {
        let text = "base: &base {a: 1, b: 2}\nmore: &more {b: 20, c: 30}\nx:\n  <<: [*base, *more]\n  a: 10\ny:\n  <<: *base\n";
        let (s, l) = load_text(text);
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        let x = get(&l.root, &["x"]);
        assert_eq!(keys(x), ["a", "b", "c"]);
        assert_eq!(get(x, &["a"]).value, Value::Int(10));
        assert_eq!(get(x, &["b"]).value, Value::Int(2));
        assert_eq!(get(x, &["c"]).value, Value::Int(30));
        // Merged entries keep the spans where they were written.
        assert_eq!(at(&s, x.entry("b").unwrap().key.span), "device.yaml:1:20");
        assert_eq!(keys(get(&l.root, &["y"])), ["a", "b"]);
    }

    #[test]
    fn merging_something_else_is_an_error() {
        let (s, l) = load_text("a:\n  <<: 5\nb:\n  <<: [{x: 1}, 2]\n");
        assert_eq!(
            problems(&s, &l),
            [
                "yaml::merge device.yaml:2:7 Expected a mapping or list of mappings for merging, but found an integer",
                "yaml::merge device.yaml:4:16 Expected a mapping for merging, but found an integer",
            ]
        );
        assert_eq!(keys(get(&l.root, &["b"])), ["x"]);
    }

    #[test]
    fn aliases_take_the_span_of_their_use() {
        let (s, l) = load_text("a: &x\n  k: v\nb: *x\n");
        let b = get(&l.root, &["b"]);
        assert_eq!(at(&s, b.span), "device.yaml:3:4");
        assert_eq!(at(&s, get(b, &["k"]).span), "device.yaml:2:6");
        assert_eq!(get(&l.root, &["a"]), &Node { span: get(&l.root, &["a"]).span, ..b.clone() });
    }

    #[test]
    fn billion_laughs_is_cut_off() {
        let mut text = String::from("l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n");
        for i in 1..10 {
            let refs = vec![format!("*l{}", i - 1); 10].join(", ");
            text.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
        }
        let start = std::time::Instant::now();
        let (_, l) = load_text(&text);
        assert!(start.elapsed().as_secs() < 5);
        assert!(l.diagnostics.iter().any(|d| d.code == "yaml::alias-expansion"), "{:?}", l.diagnostics);
    }

    #[test]
    fn collections_can_not_be_keys() {
        let (s, l) = load_text("? [a]\n: 1\nb: 2\n");
        assert_eq!(problems(&s, &l), ["yaml::invalid-key device.yaml:1:3 Invalid key: a list can't be a key"]);
        assert_eq!(keys(&l.root), ["b"]);
    }

    #[test]
    fn empty_file_is_an_empty_mapping() {
        let (_, l) = load_text("# nothing\n");
        assert_eq!(l.root.value, Value::Map(vec![]));
        assert!(l.diagnostics.is_empty());
    }

    #[test]
    fn a_bad_number_is_reported() {
        let long = format!("a: 0x{}\nb: 99999999999999999999\nc: 0xFFFFFFFFFFFFFFFFFF\n", "F".repeat(4400));
        let (s, l) = load_text(&long);
        assert_eq!(problems(&s, &l), ["yaml::invalid-number device.yaml:1:4 The number has more digits than Python can handle (4300)"]);
        // Beyond 64 bits, integers stay exact (as Python's text for them).
        assert_eq!(l.root.get("c").map(|n| &n.value), Some(&Value::Str("4722366482869645213695".into())));
        assert_eq!(l.root.get("b").map(|n| &n.value), Some(&Value::Str("99999999999999999999".into())), "a big decimal stays exact as text");
    }

    #[test]
    fn syntax_errors_keep_the_tree_read_so_far() {
        let (s, l) = load_text("a: 1\nb: [\n");
        assert_eq!(problems(&s, &l).len(), 1);
        assert_eq!(get(&l.root, &["a"]).value, Value::Int(1));
    }
}
