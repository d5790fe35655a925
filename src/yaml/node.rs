//! The spanned YAML tree every later stage reads.
//!
//! Scalars are already resolved the way ESPHome's PyYAML loader resolves them (YAML 1.1:
//! `on`/`off`/`yes`/`no` are booleans, `0x1F` is an int, `1e3` without a dot is a string), so
//! no later stage has to think about YAML typing again.

use crate::source::Span;

/// A node with the span of its value. For a mapping entry, the key has a span of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
    /// `Some(name)` when the value came from `!secret name`, so output can hide it.
    pub secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A `!lambda` body, verbatim. Its span starts at the first character of the code.
    Lambda(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
    /// `!extend id`: as a list item's `id:`, merges that item into the item with this id.
    /// Resolved by the loader (see [`super::merge`]); never reaches validation.
    Extend(String),
    /// `!remove` (as a mapping value: drop the key) or `!remove id` (as a list item's `id:`:
    /// drop the item with this id). Resolved by the loader, like [`Value::Extend`].
    Remove(String),
}

/// One `key: value` pair. Keys are unique after loading (duplicates are reported and dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

impl Node {
    pub fn new(span: Span, value: Value) -> Node {
        Node { span, value, secret: None }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// ESPHome's `ensure_list`: a list as it is, null as an empty list, anything else as a
    /// list of one.
    pub fn as_list(&self) -> std::borrow::Cow<'_, [Node]> {
        match &self.value {
            Value::Seq(items) => std::borrow::Cow::Borrowed(items),
            Value::Null => std::borrow::Cow::Borrowed(&[]),
            _ => std::borrow::Cow::Owned(vec![self.clone()]),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The entry whose key is the string `key`.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key.as_str() == Some(key))
    }

    /// The value under the string key `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// The key as text, as Python's `str()` would print it (keys are nearly always strings).
    pub fn key_text(&self) -> String {
        self.value.to_python_str().unwrap_or_else(|| self.value.kind().to_string())
    }
}

impl Value {
    /// What kind of value this is, for messages ("a mapping", "a list", …).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Lambda(_) => "a lambda",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Extend(_) => "`!extend`",
            Value::Remove(_) => "`!remove`",
        }
    }

    /// The text Python's `str()` gives for a scalar (`cv.string` converts numbers this way):
    /// `True`, `5`, `1.5`, `1e+16`. `None` for null, lists and mappings.
    pub fn to_python_str(&self) -> Option<String> {
        Some(match self {
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => python_float_repr(*f),
            Value::Str(s) | Value::Lambda(s) => s.clone(),
            Value::Null | Value::Seq(_) | Value::Map(_) | Value::Extend(_) | Value::Remove(_) => return None,
        })
    }
}

/// Python's `repr(float)`: the shortest round-tripping digits, with `.0` for whole numbers and
/// exponent notation outside 1e-4..1e16.
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Rust's `{:e}` gives the shortest digits too, e.g. `1e16` or `1.5e-5`.
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let s = format!("{f}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        assert_eq!(python_float_repr(1.0), "1.0");
        assert_eq!(python_float_repr(1.5), "1.5");
        assert_eq!(python_float_repr(-0.25), "-0.25");
        assert_eq!(python_float_repr(1e16), "1e+16");
        assert_eq!(python_float_repr(1.5e-5), "1.5e-05");
        assert_eq!(python_float_repr(123456789.0), "123456789.0");
    }
}
