//! The compiler's front half as one call: load the YAML, validate it, collect every diagnostic.

use crate::components::{self, Ids, Validated};
use crate::config::Config;
use crate::diagnostics::{self, Diagnostic};
use crate::source::{FileSystem, Sources, Span};
use crate::yaml::{self, LoadOptions};
use std::path::Path;

/// A checked config: the files read, the validated config and every diagnostic, sorted.
#[derive(Debug)]
pub struct Checked {
    pub sources: Sources,
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
    /// Where each ID is declared and used.
    pub ids: Ids,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// A file name that may be a device config in a folder of them: YAML, not hidden, not the
/// secrets (what the dashboard lists and the language server looks through for a fragment's
/// configs).
pub fn is_config_name(name: &str) -> bool {
    (name.ends_with(".yaml") || name.ends_with(".yml"))
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && name != "secrets.yaml"
        && name != "secrets.yml"
}

/// Loads and validates the config at `path`. `Err` only when the file itself can't be read.
pub fn check(fs: &dyn FileSystem, path: &Path, options: &LoadOptions) -> std::io::Result<Checked> {
    let mut sources = Sources::default();
    let loaded = yaml::load(fs, &mut sources, path, options)?;
    let mut all = loaded.diagnostics;
    // A tree cut short by a syntax error would only give false alarms (missing keys …).
    if all.iter().any(|d| d.code == "yaml::syntax") {
        diagnostics::sort(&mut all);
        return Ok(Checked { sources, config: Config::default(), diagnostics: all, ids: Ids::default() });
    }
    let Validated { config, diagnostics: found, ids } = components::validate(&loaded.root, &sources);
    // Where the loader already failed (a missing secret, include or variable), the validator
    // only sees the placeholder it left: drop the knock-on errors on those lines.
    let line_of = |s: Span| (s.file, sources.get(s.file).line_col(s.start as usize).line);
    let failed: Vec<_> = all
        .iter()
        .filter(|d| d.is_error())
        .flat_map(|d| d.span.into_iter().chain(d.related.iter().map(|l| l.span)))
        .map(line_of)
        .collect();
    let found = found.into_iter().filter(|d| !d.span.is_some_and(|s| failed.contains(&line_of(s))));
    let mut found: Vec<Diagnostic> = found.collect();
    // What `ferrota compile` would refuse (or leave out) shows now, in `config` and editors: as
    // a warning, since ESPHome accepts the config.
    if !found.iter().any(Diagnostic::is_error) && !all.iter().any(Diagnostic::is_error) {
        for d in crate::codegen::check(&config, &sources) {
            // A component ferrota neither checks nor builds: one warning says both.
            let left_out = config.components.iter().find(|f| d.code == "codegen::ignored" && f.key_span.is_some() && f.key_span == d.span);
            match left_out.and_then(|f| found.iter_mut().find(|u| u.code == "config::unchecked" && u.span == d.span).map(|u| (f, u))) {
                Some((field, unchecked)) => *unchecked = components::unchecked_warning(&field.key, d.span, true),
                None => found.push(diagnostics::refused_by_compile(d)),
            }
        }
    }
    // A problem inside an included file (a package) also shows how that file came in.
    all.extend(found.into_iter().map(|d| diagnostics::with_include_chain(&sources, d)));
    diagnostics::sort(&mut all);
    all.dedup();
    Ok(Checked { sources, config, diagnostics: all, ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_the_folder_are_not_configs() {
        for bad in ["../x.yaml", "/etc/x.yaml", ".x.yaml", "secrets.yaml", "a\\b.yaml", "x.txt", "dir/x.yaml"] {
            assert!(!is_config_name(bad), "{bad}");
        }
        assert!(is_config_name("kitchen.yaml") && is_config_name("k.yml"));
    }
}
