//! `substitutions:`: `$name` and `${name}` in strings, keys and lambdas.
//!
//! Unlike ESPHome, which runs a pass over the loaded config, substitution happens while the tree
//! is built: that is how `!literal` subtrees are skipped and how an `!include`'s `vars:` apply
//! to the included content only (a scope on a stack). The main file's top-level
//! `substitutions:` (with the CLI's `-s KEY VALUE` on top) is the outermost scope.

use super::compose::Loader;
use super::node::{Node, Value};
use super::MAX_DEPTH;
use crate::diagnostics::Diagnostic;
use crate::source::Span;
use std::collections::HashMap;
use std::ops::Range;

/// Total bytes substitution may insert in one load: stops `a: $b$b`, `b: $c$c`, … from
/// filling memory, while no real configuration comes near it.
const INSERT_BUDGET: usize = 16 << 20;
/// Longest value a substitution may resolve to.
const MAX_VALUE_LEN: usize = 64 << 10;

/// The substitution scopes in effect, innermost last.
#[derive(Debug)]
pub(super) struct Substitutions {
    scopes: Vec<HashMap<String, String>>,
    bytes_left: usize,
}

impl Default for Substitutions {
    fn default() -> Self {
        Substitutions { scopes: Vec::new(), bytes_left: INSERT_BUDGET }
    }
}

impl Substitutions {
    pub fn push(&mut self, scope: HashMap<String, String>) {
        self.scopes.push(scope);
    }

    pub fn pop(&mut self) {
        self.scopes.pop();
    }

    /// Takes every scope away (for `secrets.yaml`, which is never substituted); see [`Self::restore`].
    pub fn suspend(&mut self) -> Vec<HashMap<String, String>> {
        std::mem::take(&mut self.scopes)
    }

    pub fn restore(&mut self, scopes: Vec<HashMap<String, String>>) {
        self.scopes = scopes;
    }

    /// Whether the outermost scope (the whole config's table) has `name`.
    pub fn is_global(&self, name: &str) -> bool {
        self.scopes.first().is_some_and(|s| s.contains_key(name))
    }

    /// Adds `name` to the outermost scope (a package's substitution, found while the package's
    /// own scopes are pushed).
    pub fn define_global(&mut self, name: String, value: String) {
        if let Some(first) = self.scopes.first_mut() {
            first.insert(name, value);
        }
    }

    fn lookup(&self, name: &str) -> Option<&str> {
        self.scopes.iter().rev().find_map(|s| s.get(name)).map(String::as_str)
    }
}

/// One `$name` or `${name}` in a text: the whole reference and the name's range.
struct Reference {
    whole: Range<usize>,
    name: Range<usize>,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The references in `text`, left to right, as ESPHome's `\$([A-Za-z0-9_]+|\{[A-Za-z0-9_]*\})`
/// finds them (note `${}` is a reference to the empty name).
fn references(text: &str) -> impl Iterator<Item = Reference> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while let Some(offset) = bytes[i..].iter().position(|&b| b == b'$') {
            let dollar = i + offset;
            let after = dollar + 1;
            let name_len = |from: usize| bytes[from..].iter().take_while(|&&b| is_name_byte(b)).count();
            if bytes.get(after) == Some(&b'{') {
                let n = name_len(after + 1);
                if bytes.get(after + 1 + n) == Some(&b'}') {
                    i = after + n + 2;
                    return Some(Reference { whole: dollar..i, name: after + 1..after + 1 + n });
                }
            } else {
                let n = name_len(after);
                if n > 0 {
                    i = after + n;
                    return Some(Reference { whole: dollar..i, name: after..i });
                }
            }
            i = after;
        }
        None
    })
}

/// Replaces each reference `lookup` knows; returns the new text (if anything changed) and the
/// references it didn't know. Inserted text is not scanned again, as in ESPHome.
fn expand(text: &str, mut lookup: impl FnMut(&str) -> Option<String>) -> (Option<String>, Vec<(&str, Range<usize>)>) {
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut unknown = Vec::new();
    for r in references(text) {
        let name = &text[r.name.clone()];
        match lookup(name) {
            Some(value) => {
                let out = out.get_or_insert_with(String::new);
                out.push_str(&text[copied..r.whole.start]);
                out.push_str(&value);
                copied = r.whole.end;
            }
            None => unknown.push((name, r.whole)),
        }
    }
    if let Some(out) = &mut out {
        out.push_str(&text[copied..]);
    }
    (out, unknown)
}

impl Loader<'_> {
    /// Applies the substitutions in effect to a string from the config.
    pub fn substitute(&mut self, span: Span, text: String) -> String {
        if self.literal > 0 || !text.contains('$') {
            return text;
        }
        let mut overflow = false;
        let subst = &mut self.subst;
        let (out, unknown) = expand(&text, |name| {
            let value = subst.lookup(name)?.to_string();
            if value.len() > subst.bytes_left {
                overflow = true;
                return None;
            }
            subst.bytes_left -= value.len();
            Some(value)
        });
        for (name, range) in unknown {
            if overflow {
                break;
            }
            self.undeclared(Some(span), &text, name, range);
        }
        if overflow {
            self.error(
                Diagnostic::error("yaml::substitution-too-long", span, "Substitutions produce too much text here")
                    .with_help("substitution values that repeat other substitutions multiply; simplify them"),
            );
        }
        out.unwrap_or(text)
    }

    /// Warns about `$name` when `name` is not declared (ESPHome warns too, and keeps the text).
    fn undeclared(&mut self, span: Option<Span>, text: &str, name: &str, range: Range<usize>) {
        // ESPHome says nothing under a `password:` key, where a `$` is usually meant.
        if self.quiet > 0 || self.under_password > 0 {
            return;
        }
        // When the source spells the value exactly (a plain scalar), point at the reference itself.
        let span = span.map(|span| {
            if self.sources.text(span) == text {
                Span::new(span.file, span.start as usize + range.start, span.start as usize + range.end)
            } else {
                span
            }
        });
        self.error(
            Diagnostic::warning(
                "yaml::undeclared-substitution",
                span,
                format!("The string '{text}' looks like an expression, but could not resolve all the variables: '{name}' is undefined"),
            )
            .with_label("not declared")
            .with_help(format!(
                "declare `{name}` under `substitutions:` (or pass `-s {name} VALUE`); if the `$` is meant literally, tag the value with `!literal`"
            )),
        );
    }

    /// The `name: value` pairs of a `substitutions:` block (its key span and converted value),
    /// with names checked and values stringified; problems are reported and the pair dropped.
    pub fn declared_substitutions(&mut self, key_span: Span, node: Node) -> Vec<(String, String, Option<Span>)> {
        let mut values = Vec::new();
        match node.value {
            Value::Map(entries) => {
                for entry in entries {
                    let key = entry.key.as_str().unwrap_or_default();
                    let Some(name) = self.substitution_name(key, Some(entry.key.span)) else { continue };
                    if let Some(value) = self.substitution_value(&name, &entry.value) {
                        values.push((name, value, Some(entry.value.span)));
                    }
                }
            }
            Value::Null => {}
            other => self.error(
                Diagnostic::error(
                    "yaml::substitutions",
                    node.span,
                    format!("Substitutions must be a key to value mapping, got {}", other.kind()),
                )
                .with_related(key_span, "in this block")
                .with_help("write one `name: value` per line under `substitutions:`"),
            ),
        }
        values
    }

    /// The outermost scope: the declared substitutions (the main file's first, then those
    /// packages add) with the command line's on top, every value resolved against the others.
    pub fn substitution_table(&mut self, mut values: Vec<(String, String, Option<Span>)>, cli: &[(String, String)]) -> HashMap<String, String> {
        for (key, value) in cli {
            if let Some(name) = self.substitution_name(key, None) {
                values.retain(|(n, _, _)| *n != name);
                values.push((name, value.clone(), None));
            }
        }
        let mut resolver = TableResolver {
            index: values.iter().enumerate().map(|(i, (n, _, _))| (n.clone(), i)).collect(),
            state: values.iter().map(|_| State::Pending).collect(),
            values: &values,
            problems: Vec::new(),
        };
        for i in 0..values.len() {
            resolver.resolve(i, 0);
        }
        let resolved: Vec<String> = resolver
            .state
            .into_iter()
            .zip(&values)
            .map(|(s, (_, raw, _))| match s {
                State::Done(v) => v,
                _ => raw.clone(),
            })
            .collect();
        for problem in resolver.problems {
            match problem {
                Problem::Undeclared { span, text, name, range } => self.undeclared(span, &text, &name, range),
                Problem::Error { span, message } => self.error(
                    Diagnostic::error("yaml::substitution-cycle", span, message)
                        .with_help("a substitution can't refer to itself, directly or through others"),
                ),
            }
        }
        values.into_iter().zip(resolved).map(|((name, _, _), v)| (name, v)).collect()
    }

    /// ESPHome's `validate_substitution_key`: an optional leading `$` is dropped.
    fn substitution_name(&mut self, key: &str, span: Option<Span>) -> Option<String> {
        let name = key.strip_prefix('$').unwrap_or(key);
        let problem = if name.is_empty() {
            Some("Substitution key must not be empty".to_string())
        } else if name.starts_with(|c: char| c.is_ascii_digit()) {
            Some("First character in substitutions cannot be a digit.".to_string())
        } else {
            name.chars().find(|&c| !(c.is_ascii_alphanumeric() || c == '_')).map(|c| {
                format!("Substitution must only consist of upper/lowercase characters, the underscore and numbers. The character '{c}' cannot be used")
            })
        };
        match problem {
            None => Some(name.to_string()),
            Some(message) => {
                self.error(
                    Diagnostic::error("yaml::substitutions", span, message)
                        .with_help("substitution names use only letters, digits and `_`, and don't start with a digit"),
                );
                None
            }
        }
    }

    fn substitution_value(&mut self, name: &str, value: &Node) -> Option<String> {
        let text = value.value.to_python_str();
        if text.is_none() {
            self.error(
                Diagnostic::error(
                    "yaml::substitutions",
                    value.span,
                    format!("Substitution '{name}' must be a plain value, got {}", value.value.kind()),
                )
                .with_help("give the substitution a text or number value"),
            );
        }
        text
    }
}

enum State {
    Pending,
    Visiting,
    Done(String),
}

/// Resolves substitution values that refer to other substitutions, depth first, once each.
struct TableResolver<'v> {
    index: HashMap<String, usize>,
    values: &'v [(String, String, Option<Span>)],
    state: Vec<State>,
    problems: Vec<Problem>,
}

enum Problem {
    Undeclared { span: Option<Span>, text: String, name: String, range: Range<usize> },
    Error { span: Option<Span>, message: String },
}

impl TableResolver<'_> {
    fn resolve(&mut self, i: usize, depth: usize) -> Option<String> {
        match &self.state[i] {
            State::Done(v) => return Some(v.clone()),
            State::Visiting => return None,
            State::Pending => {}
        }
        let values = self.values;
        let (name, raw, span) = &values[i];
        if depth > MAX_DEPTH {
            let message = format!("Substitution '{name}' refers to others too deeply");
            self.problems.push(Problem::Error { span: *span, message });
            return None;
        }
        self.state[i] = State::Visiting;
        let mut cycle = None;
        let (out, unknown) = expand(raw, |other| {
            let &j = self.index.get(other)?;
            let value = self.resolve(j, depth + 1);
            if value.is_none() && cycle.is_none() {
                cycle = Some(other.to_string());
            }
            // On a cycle, keep the reference as written.
            Some(value.unwrap_or_else(|| format!("${{{other}}}")))
        });
        if let Some(other) = cycle {
            if matches!(self.state[self.index[&other]], State::Visiting) {
                let message = if other == *name {
                    format!("Substitution '{name}' refers to itself")
                } else {
                    format!("Substitution '{name}' refers to itself through '{other}'")
                };
                self.problems.push(Problem::Error { span: *span, message });
            }
        }
        for (unknown_name, range) in unknown {
            let name = unknown_name.to_string();
            self.problems.push(Problem::Undeclared { span: *span, text: raw.clone(), name, range });
        }
        let mut value = out.unwrap_or_else(|| raw.clone());
        if value.len() > MAX_VALUE_LEN {
            let message = format!("Substitution '{name}' expands to more than {MAX_VALUE_LEN} bytes");
            self.problems.push(Problem::Error { span: *span, message });
            value = raw.clone();
        }
        self.state[i] = State::Done(value.clone());
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_with(text: &str, vars: &[(&str, &str)]) -> (String, Vec<String>) {
        let (out, unknown) = expand(text, |n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string()));
        (out.unwrap_or_else(|| text.to_string()), unknown.into_iter().map(|(n, r)| format!("{n}@{r:?}")).collect())
    }

    #[test]
    fn both_forms_and_unknown_names() {
        let vars = [("name", "kitchen"), ("n", "1")];
        assert_eq!(expand_with("${name}_light", &vars), ("kitchen_light".into(), vec![]));
        assert_eq!(expand_with("$name-$n", &vars), ("kitchen-1".into(), vec![]));
        assert_eq!(expand_with("$names ${x} ${} $", &vars), ("$names ${x} ${} $".into(), vec![
            "names@0..6".into(),
            "x@7..11".into(),
            "@12..15".into()
        ]));
        assert_eq!(expand_with("${name", &vars).0, "${name");
        assert_eq!(expand_with("ä$n€", &vars).0, "ä1€");
    }

    #[test]
    fn inserted_text_is_not_rescanned() {
        assert_eq!(expand_with("$a", &[("a", "$b"), ("b", "x")]).0, "$b");
    }
}

#[cfg(test)]
mod load_tests {
    use super::super::test_util::*;
    use super::super::{LoadOptions, Value};

    #[test]
    fn values_keys_and_lambdas_are_substituted_and_the_block_removed() {
        let text = "substitutions:\n  name: kitchen\n  pin: '5'\nesphome:\n  name: ${name}\n  ${name}_x: $pin\n  l: !lambda return $pin;\n  n: 5\n";
        let (s, l) = load_text(text);
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        assert_eq!(keys(&l.root), ["esphome"]);
        let e = get(&l.root, &["esphome"]);
        assert_eq!(get(e, &["name"]).value, Value::Str("kitchen".into()));
        assert_eq!(at(&s, get(e, &["name"]).span), "device.yaml:5:9");
        assert_eq!(keys(e), ["name", "kitchen_x", "l", "n"]);
        assert_eq!(get(e, &["kitchen_x"]).value, Value::Str("5".into()));
        assert_eq!(get(e, &["l"]).value, Value::Lambda("return 5;".into()));
    }

    #[test]
    fn values_refer_to_each_other_and_cli_wins() {
        let text = "substitutions:\n  full: ${first}_${last}\n  first: a\n  last: b\nx: $full\n";
        let (s, l) = load_text(text);
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        assert_eq!(get(&l.root, &["x"]).value, Value::Str("a_b".into()));

        let options = LoadOptions { substitutions: vec![("last".into(), "cli".into())] };
        let (_, l) = load_files(&[("device.yaml", text)], &options);
        assert_eq!(get(&l.root, &["x"]).value, Value::Str("a_cli".into()));
    }

    #[test]
    fn undeclared_is_a_warning_at_the_reference() {
        let (s, l) = load_text("substitutions:\n  a: 1\nx: pre_${nope}_post\ny: \"$nope\"\n");
        assert_eq!(
            problems(&s, &l),
            [
                "yaml::undeclared-substitution device.yaml:3:8 The string 'pre_${nope}_post' looks like an expression, but could not resolve all the variables: 'nope' is undefined",
                "yaml::undeclared-substitution device.yaml:4:4 The string '$nope' looks like an expression, but could not resolve all the variables: 'nope' is undefined",
            ]
        );
        assert!(!l.diagnostics[0].is_error());
        assert_eq!(s.text(l.diagnostics[0].span.unwrap()), "${nope}");
        assert_eq!(get(&l.root, &["x"]).value, Value::Str("pre_${nope}_post".into()));
    }

    #[test]
    fn undeclared_without_a_substitutions_block_but_not_under_password() {
        let (s, l) = load_text("password: pa$$word\nwifi:\n  password: $x\n  ssid: ${ssid}\n");
        assert_eq!(
            problems(&s, &l),
            ["yaml::undeclared-substitution device.yaml:4:9 The string '${ssid}' looks like an expression, but could not resolve all the variables: 'ssid' is undefined"]
        );
    }

    #[test]
    fn cycles_and_bad_names_are_errors() {
        let (s, l) = load_text("substitutions:\n  a: $b\n  b: ${a}\n  1x: y\n  bad-name: z\n  $ok: fine\nv: $ok\n");
        assert_eq!(
            problems(&s, &l),
            [
                "yaml::substitution-cycle device.yaml:3:6 Substitution 'b' refers to itself through 'a'",
                "yaml::substitutions device.yaml:4:3 First character in substitutions cannot be a digit.",
                "yaml::substitutions device.yaml:5:3 Substitution must only consist of upper/lowercase characters, the underscore and numbers. The character '-' cannot be used",
            ]
        );
        assert_eq!(get(&l.root, &["v"]).value, Value::Str("fine".into()));
    }

    #[test]
    fn substitutions_must_be_a_mapping() {
        let (s, l) = load_text("substitutions: [a]\nx: 1\n");
        assert_eq!(problems(&s, &l), ["yaml::substitutions device.yaml:1:16 Substitutions must be a key to value mapping, got a list"]);
        assert_eq!(keys(&l.root), ["x"]);
    }

    #[test]
    fn exponential_values_are_bounded() {
        let mut text = String::from("substitutions:\n  v0: xxxxxxxxxxxxxxxx\n");
        for i in 1..40 {
            text.push_str(&format!("  v{i}: $v{0}$v{0}\n", i - 1));
        }
        text.push_str("a: [$v39, $v39, $v39]\n");
        let (_, l) = load_text(&text);
        assert!(l.diagnostics.iter().any(|d| d.message.contains("expands to more than")));
    }
}
