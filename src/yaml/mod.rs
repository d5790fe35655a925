//! The YAML loader: files in, one spanned [`Node`] tree out, with ESPHome's tags resolved.
//!
//! Like ESPHome's `yaml_util.py`, but it never stops at the first problem: every problem is a
//! [`Diagnostic`] next to the best tree that could be built.
//!
//! - [`parse`]: one file's text to a raw tree (syntax errors, tabs, byte spans)
//! - [`scalar`]: YAML 1.1 scalar types, as PyYAML resolves them
//! - [`compose`]: raw trees to [`Node`]s (mappings, duplicates, merge keys, aliases, limits)
//! - [`tags`], [`include`], [`secrets`]: the tags
//! - [`substitute`]: `substitutions:` and `!include` vars
//! - [`packages`], [`merge`]: `packages:`, ESPHome's merge rules, `!extend` and `!remove`

mod compose;
mod include;
mod merge;
mod node;
mod packages;
mod remote;
mod parse;
mod scalar;
mod secrets;
mod substitute;
mod tags;

pub use node::{python_float_repr, Entry, Node, Value};
pub use remote::git_fetch;
pub use secrets::secrets_files;

use crate::diagnostics::Diagnostic;
use crate::source::{FileSystem, MemoryFs, Sources};
use std::path::Path;

/// Deepest nesting of collections (also across includes and aliases) the loader accepts.
pub const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-s KEY VALUE` from the command line; they win over the file's `substitutions:`.
    pub substitutions: Vec<(String, String)>,
}

/// The loaded tree and every problem found on the way. With errors, `root` is the best tree
/// that could be built (a value that failed to load is null, with the span of the failed tag).
#[derive(Debug)]
pub struct Loaded {
    pub root: Node,
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads the configuration at `path` with its includes and secrets.
/// Err only when the main file itself can't be read (the CLI exits 1 for that).
pub fn load(fs: &dyn FileSystem, sources: &mut Sources, path: &Path, options: &LoadOptions) -> Result<Loaded, std::io::Error> {
    let text = fs.read_to_string(path)?;
    let file = sources.add(path.to_path_buf(), text);
    Ok(compose::Loader::new(fs, sources, file).load_main(options))
}

/// Parses one in-memory text, for the schema files and tests. Tags that need other files or
/// the environment find nothing and report that.
pub fn parse_str(sources: &mut Sources, path: &Path, text: &str) -> Loaded {
    let file = sources.add(path.to_path_buf(), text.to_string());
    compose::Loader::new(&MemoryFs::default(), sources, file).load_main(&LoadOptions::default())
}

/// A plain (unquoted) scalar's value, as the loader types it (YAML 1.1, as PyYAML does); a
/// number too long for Python stays text.
pub fn plain_scalar(text: &str) -> Value {
    scalar::resolve_plain(text).unwrap_or_else(|_| Value::Str(text.to_string()))
}

#[cfg(test)]
mod test_util;

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::LoadOptions;
    use crate::diagnostics::render_terminal;

    /// How the loader's problems look in the terminal: labels, related places in other files, help.
    #[test]
    fn rendered_diagnostics() {
        let files = [
            ("device.yaml", "esphome:\n  name: a\n  name: b\nwifi: !include wifi.yaml\nlogger:\n\tlevel: DEBUG\n"),
            ("wifi.yaml", "ssid: !secret ssid\nap: !include ap.yaml\n"),
            ("secrets.yaml", "password: x\n"),
        ];
        let (s, l) = load_files(&files, &LoadOptions::default());
        insta::assert_snapshot!(render_terminal(&s, &l.diagnostics, false));
    }

    #[test]
    fn rendered_syntax_error() {
        let (s, l) = load_text("sensor:\n  - platform: template\n    name: Temp: outside\n");
        insta::assert_snapshot!(render_terminal(&s, &l.diagnostics, false));
    }
}
