//! Tags: which handler each one gets, and the small ones (`!lambda`, `!env_var`, `!literal`,
//! the standard `!!str`…). Files are in [`super::include`], secrets in [`super::secrets`].

use super::compose::Loader;
use super::include::DirKind;
use super::node::{Node, Value};
use super::parse::{Raw, RawKind};
use super::scalar;
use crate::diagnostics::Diagnostic;
use crate::source::Span;
use saphyr_parser::{ScalarStyle, Tag};

const SUPPORTED: &str = "`!secret`, `!include`, `!include_dir_list`, `!include_dir_merge_list`, `!include_dir_named`, \
     `!include_dir_merge_named`, `!lambda`, `!env_var`, `!literal`, `!force`, `!extend`, `!remove`, and the standard `!!str`, `!!int`, \
     `!!float`, `!!bool`, `!!null`, `!!seq`, `!!map`";

const CORE: &str = "tag:yaml.org,2002:";

/// A tag as the user wrote it.
fn display(tag: &Tag) -> String {
    match tag.handle.as_str() {
        "!" => format!("!{}", tag.suffix),
        CORE => format!("!!{}", tag.suffix),
        "" => format!("!<{}>", tag.suffix),
        handle => format!("{handle}{}", tag.suffix),
    }
}

impl Loader<'_> {
    pub fn tagged(&mut self, raw: &Raw, tag: &Tag) -> Node {
        let name = display(tag);
        let core = match tag.handle.as_str() {
            CORE => Some(tag.suffix.as_str()),
            "" => tag.suffix.strip_prefix(CORE),
            _ => None,
        };
        if let Some(core) = core {
            return self.core_tag(raw, &name, core);
        }
        if tag.handle != "!" {
            return self.unknown_tag(raw, &name);
        }
        match tag.suffix.as_str() {
            "secret" => self.with_scalar(raw, &name, |l, text, _| l.secret(raw.span, text)),
            "include" => self.include(raw),
            "include_dir_list" => self.with_scalar(raw, &name, |l, text, _| l.include_dir(raw.span, text, DirKind::List)),
            "include_dir_merge_list" => {
                self.with_scalar(raw, &name, |l, text, _| l.include_dir(raw.span, text, DirKind::MergeList))
            }
            "include_dir_named" => self.with_scalar(raw, &name, |l, text, _| l.include_dir(raw.span, text, DirKind::Named)),
            "include_dir_merge_named" => {
                self.with_scalar(raw, &name, |l, text, _| l.include_dir(raw.span, text, DirKind::MergeNamed))
            }
            "lambda" => self.with_scalar(raw, &name, |l, text, style| l.lambda(raw.span, text, style)),
            "env_var" => self.with_scalar(raw, &name, |l, text, _| l.env_var(raw.span, text)),
            "literal" | "force" => self.literal(raw),
            "extend" => self.with_scalar(raw, &name, |l, text, _| {
                let id = l.substitute(raw.span, text.to_string());
                Node::new(raw.span, Value::Extend(id))
            }),
            "remove" => self.with_scalar(raw, &name, |l, text, _| {
                let id = l.substitute(raw.span, text.to_string());
                Node::new(raw.span, Value::Remove(id))
            }),
            _ => self.unknown_tag(raw, &name),
        }
    }

    /// Runs `f` on the text of a scalar; a tag that needs one but got a collection is an error.
    fn with_scalar(&mut self, raw: &Raw, name: &str, f: impl FnOnce(&mut Self, &str, ScalarStyle) -> Node) -> Node {
        match &raw.kind {
            RawKind::Scalar { text, style } => f(self, text, *style),
            _ => {
                self.error(
                    Diagnostic::error("yaml::tag-value", raw.span, format!("`{name}` needs a single value, but found {}", kind_of(raw)))
                        .with_help(format!("write it as `{name} value` on one line")),
                );
                Node::new(raw.span, Value::Null)
            }
        }
    }

    fn unknown_tag(&mut self, raw: &Raw, name: &str) -> Node {
        self.error(
            Diagnostic::error("yaml::unknown-tag", raw.span, format!("Unknown tag `{name}`"))
                .with_label("unknown tag")
                .with_help(format!("the supported tags are {SUPPORTED}")),
        );
        self.untagged(raw)
    }

    /// The standard tags PyYAML's SafeLoader constructs.
    fn core_tag(&mut self, raw: &Raw, name: &str, core: &str) -> Node {
        let wants_scalar = matches!(core, "str" | "int" | "float" | "bool" | "null");
        let fits = match &raw.kind {
            RawKind::Scalar { .. } => wants_scalar,
            RawKind::Seq(_) => core == "seq",
            RawKind::Map(_) => core == "map",
            RawKind::Ref { .. } => false, // a tag is never on a reference, only on its target
        };
        if !matches!(core, "str" | "int" | "float" | "bool" | "null" | "seq" | "map") {
            return self.unknown_tag(raw, name);
        }
        if !fits {
            self.error(
                Diagnostic::error("yaml::tag-value", raw.span, format!("`{name}` can't be used on {}", kind_of(raw)))
                    .with_help(format!("remove the `{name}` tag")),
            );
            return self.untagged(raw);
        }
        let RawKind::Scalar { text, .. } = &raw.kind else { return self.untagged(raw) };
        let span = raw.span;
        let value = match core {
            "str" => return self.string(span, text.clone()),
            "null" => Some(Value::Null),
            "bool" => scalar::bool_value_any_case(text).map(Value::Bool),
            "int" => scalar::construct_int(text).ok().map(Value::Int),
            _ => scalar::construct_float(text).map(Value::Float),
        };
        match value {
            Some(value) => Node::new(span, value),
            None => {
                self.error(
                    Diagnostic::error("yaml::tag-value", span, format!("`{text}` is not a valid `{name}` value"))
                        .with_help(format!("fix the value, or remove the `{name}` tag")),
                );
                Node::new(span, Value::Str(text.clone()))
            }
        }
    }

    /// `!lambda`: C++ code kept verbatim (substitutions apply). Its span starts at the code's
    /// first character, so line N of the code is line N after the span's start line.
    fn lambda(&mut self, span: Span, code: &str, style: ScalarStyle) -> Node {
        let span = self.code_span(span, style);
        let code = self.substitute(span, code.to_string());
        Node::new(span, Value::Lambda(code))
    }

    /// The part of a tagged scalar's span that is its content: after the tag and anchor, after
    /// a block scalar's header line and indentation, inside quotes.
    fn code_span(&self, span: Span, style: ScalarStyle) -> Span {
        let src = self.sources.text(span);
        let mut i = 0;
        loop {
            i += src[i..].len() - src[i..].trim_start().len();
            if !src[i..].starts_with(['!', '&']) {
                break;
            }
            i += src[i..].find(char::is_whitespace).unwrap_or(src.len() - i);
        }
        let mut end = src.len();
        match style {
            ScalarStyle::Literal | ScalarStyle::Folded => {
                i = src[i..].find('\n').map_or(src.len(), |n| i + n + 1);
                i += src[i..].len() - src[i..].trim_start_matches(' ').len();
            }
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                i = (i + 1).min(src.len());
                end = end.saturating_sub(1).max(i);
            }
            ScalarStyle::Plain => {}
        }
        let start = span.start as usize;
        Span::new(span.file, start + i, start + end)
    }

    /// `!env_var NAME [default words…]`.
    fn env_var(&mut self, span: Span, text: &str) -> Node {
        let mut words = text.split_whitespace();
        let Some(name) = words.next() else {
            self.error(
                Diagnostic::error("yaml::env-var", span, "`!env_var` needs the name of an environment variable")
                    .with_help("write `!env_var NAME`, or `!env_var NAME default value`"),
            );
            return Node::new(span, Value::Null);
        };
        let default: Vec<&str> = words.collect();
        match self.fs.env_var(name) {
            Some(value) => self.string(span, value),
            None if !default.is_empty() => self.string(span, default.join(" ")),
            None => {
                self.error(
                    Diagnostic::error("yaml::env-var", span, format!("Environment variable '{name}' not defined"))
                        .with_label("not set")
                        .with_help(format!("set `{name}` in the environment, or give a default: `!env_var {name} default value`")),
                );
                Node::new(span, Value::Null)
            }
        }
    }

    /// `!literal` (`!force` in older ESPHome): a scalar stays the exact text; nothing inside is
    /// substituted.
    fn literal(&mut self, raw: &Raw) -> Node {
        self.literal += 1;
        let node = match &raw.kind {
            RawKind::Scalar { text, .. } => Node::new(raw.span, Value::Str(text.clone())),
            _ => self.untagged(raw),
        };
        self.literal -= 1;
        node
    }
}

fn kind_of(raw: &Raw) -> &'static str {
    match raw.kind {
        RawKind::Scalar { .. } => "a single value",
        RawKind::Seq(_) => "a list",
        RawKind::Map(_) | RawKind::Ref { .. } => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::LoadOptions;
    use super::*;
    use crate::source::MemoryFs;

    #[test]
    fn lambda_span_starts_at_the_code() {
        let text = "a: !lambda |-\n    if (x) {\n      return 1;\n    }\nb: !lambda return 2;\nc: !lambda \"return 3;\"\n";
        let (s, l) = load_text(text);
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        let a = get(&l.root, &["a"]);
        assert_eq!(a.value, Value::Lambda("if (x) {\n  return 1;\n}".into()));
        assert_eq!(at(&s, a.span), "device.yaml:2:5");
        assert!(s.text(a.span).starts_with("if (x) {"));
        let b = get(&l.root, &["b"]);
        assert_eq!((at(&s, b.span), s.text(b.span)), ("device.yaml:5:12".into(), "return 2;"));
        let c = get(&l.root, &["c"]);
        assert_eq!((at(&s, c.span), s.text(c.span)), ("device.yaml:6:13".into(), "return 3;"));
    }

    #[test]
    fn env_var_with_and_without_default() {
        let mut fs = MemoryFs::default().with("device.yaml", "a: !env_var HOME\nb: !env_var NOPE fall back\nc: !env_var NOPE\n");
        fs.env.insert("HOME".into(), "/root".into());
        let (s, l) = load_fs(&fs, "device.yaml", &LoadOptions::default());
        assert_eq!(problems(&s, &l), ["yaml::env-var device.yaml:3:4 Environment variable 'NOPE' not defined"]);
        assert_eq!(get(&l.root, &["a"]).value, Value::Str("/root".into()));
        assert_eq!(get(&l.root, &["b"]).value, Value::Str("fall back".into()));
        assert!(get(&l.root, &["c"]).is_null());
    }

    #[test]
    fn literal_keeps_text_and_skips_substitution() {
        let text = "substitutions:\n  x: X\na: !literal 5\nb: !force ${x}\nc: !literal [$x, 1]\nd: $x\n";
        let (s, l) = load_text(text);
        assert_eq!(problems(&s, &l), Vec::<String>::new());
        assert_eq!(get(&l.root, &["a"]).value, Value::Str("5".into()));
        assert_eq!(get(&l.root, &["b"]).value, Value::Str("${x}".into()));
        assert_eq!(get(&l.root, &["c", "0"]).value, Value::Str("$x".into()));
        assert_eq!(get(&l.root, &["c", "1"]).value, Value::Int(1));
        assert_eq!(get(&l.root, &["d"]).value, Value::Str("X".into()));
    }

    #[test]
    fn standard_tags() {
        let (s, l) = load_text("a: !!str 5\nb: !!int '7'\nc: !!float 1e3\nd: !!bool 'yEs'\ne: !!null x\nf: !!int abc\n");
        assert_eq!(problems(&s, &l), ["yaml::tag-value device.yaml:6:4 `abc` is not a valid `!!int` value"]);
        assert_eq!(get(&l.root, &["a"]).value, Value::Str("5".into()));
        assert_eq!(get(&l.root, &["b"]).value, Value::Int(7));
        assert_eq!(get(&l.root, &["c"]).value, Value::Float(1000.0));
        assert_eq!(get(&l.root, &["d"]).value, Value::Bool(true));
        assert!(get(&l.root, &["e"]).is_null());
    }

    #[test]
    fn unknown_and_misused_tags() {
        let (s, l) = load_text("a: !sekret pw\nb: !secret [x]\nc: !extend foo\n");
        // `!extend` outside a list item's `id:` has nothing to extend.
        assert_eq!(
            problems(&s, &l),
            [
                "yaml::unknown-tag device.yaml:1:4 Unknown tag `!sekret`",
                "yaml::tag-value device.yaml:2:4 `!secret` needs a single value, but found a list",
                "yaml::extend device.yaml:3:4 `!extend foo` can only be the `id:` of a list item",
            ]
        );
        assert!(l.diagnostics[0].help.as_deref().unwrap().contains("`!secret`"));
        // An unknown tag's value is still read, to avoid follow-up errors.
        assert_eq!(get(&l.root, &["a"]).value, Value::Str("pw".into()));
    }
}
