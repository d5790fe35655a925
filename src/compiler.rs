//! The compiler's front half as one call: load the YAML, validate it, collect every diagnostic.

use crate::components::{self, Validated};
use crate::config::Config;
use crate::diagnostics::{self, Diagnostic};
use crate::source::{FileSystem, Sources};
use crate::yaml::{self, LoadOptions};
use std::path::Path;

/// A checked config: the files read, the validated config and every diagnostic, sorted.
#[derive(Debug)]
pub struct Checked {
    pub sources: Sources,
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads and validates the config at `path`. `Err` only when the file itself can't be read.
pub fn check(fs: &dyn FileSystem, path: &Path, options: &LoadOptions) -> std::io::Result<Checked> {
    let mut sources = Sources::default();
    let loaded = yaml::load(fs, &mut sources, path, options)?;
    let Validated { config, diagnostics: found } = components::validate(&loaded.root, &sources);
    let mut all = loaded.diagnostics;
    all.extend(found);
    diagnostics::sort(&mut all);
    all.dedup();
    Ok(Checked { sources, config, diagnostics: all })
}
