//! The YAML loader: files in, one spanned [`Node`] tree out, with ESPHome's tags resolved.

mod node;

pub use node::{python_float_repr, Entry, Node, Value};
