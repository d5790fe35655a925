//! The code generator: a checked config becomes a Cargo project for its chip.
//!
//! [`generate`] turns the validated config into a template context ([`model`]), renders the
//! target's templates ([`templates`], [`render`]) and writes only the files that changed
//! ([`write`]). [`cargo`] builds the project and maps rustc's errors inside lambdas back to
//! the YAML through the [`SourceMap`] that generation leaves. [`compile`] does all of it for one
//! config.

pub mod cargo;
pub mod compile;
pub mod image;
pub mod lambda;
pub mod model;
pub mod printf;
pub mod render;
pub mod target;
pub mod templates;
pub mod write;

use crate::compiler::Checked;
use crate::config::Config;
use crate::diagnostics::Diagnostic;
use crate::source::{FileId, Sources, Span};
use lambda::Region;
use render::Placed;
use std::path::{Path, PathBuf};
use target::Target;

/// Where generation writes and what the project depends on.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project folder (`.ferrota/build/<name>/` beside the config by default).
    pub out_dir: PathBuf,
    /// The `ferrota-ota` crate (`runtime/` of this checkout), as an absolute path.
    pub runtime: PathBuf,
}

/// A generated project.
#[derive(Debug)]
pub struct Generated {
    pub dir: PathBuf,
    pub target: Target,
    pub package: String,
    /// The bootloader's package (in `bootloader/`), for targets that build their own.
    pub bootloader: Option<String>,
    /// Files rewritten because their content changed (relative to `dir`).
    pub written: Vec<PathBuf>,
    pub unchanged: usize,
    /// Problems that did not stop generation (e.g. components left out).
    pub warnings: Vec<Diagnostic>,
    pub map: SourceMap,
}

/// Where each piece of user code sits in the generated files, to map rustc's spans back.
#[derive(Debug, Default)]
pub struct SourceMap {
    entries: Vec<(PathBuf, Placed, Region)>,
}

impl SourceMap {
    /// The YAML span of bytes `start..end` of generated `file` (relative to the project),
    /// when they are inside user code.
    pub fn yaml_span(&self, file: &Path, start: usize, end: usize) -> Option<Span> {
        let (_, placed, region) = self.entries.iter().find(|(f, p, _)| f == file && p.start <= start && start <= p.end)?;
        let to_text = |at: usize| {
            let i = placed.lines.partition_point(|(g, _)| *g <= at).saturating_sub(1);
            let (line_at, text_at) = placed.lines[i];
            text_at + at.saturating_sub(line_at)
        };
        Some(region.yaml_span(to_text(start), to_text(end.min(placed.end))))
    }
}

/// What `ferrota compile` would say about a valid `config` before building: the problems that
/// stop generation (errors) and what is left out of the firmware (warnings). `ferrota config`
/// and the language server report them too, the errors as warnings (ESPHome accepts these
/// configs; only ferrota's firmware can't be made from them).
pub fn check(config: &Config, sources: &Sources) -> Vec<Diagnostic> {
    match prepare(config, sources, String::new()) {
        Ok((_, _, _, warnings)) => warnings,
        Err(diagnostics) => diagnostics,
    }
}

/// The target, the template context, the code regions and the warnings; or the errors.
fn prepare(config: &Config, sources: &Sources, runtime: String) -> Result<(Target, model::Model, Vec<Region>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let target = target::of(config).map_err(|d| vec![*d])?;
    let config_path = sources.get(FileId(0)).path.clone();
    let inputs = model::Inputs { config, sources, config_path: &config_path, target: target.clone(), runtime };
    let (model, regions, warnings) = model::build(inputs)?;
    Ok((target, model, regions, warnings))
}

/// Generates the project for `checked` into `options.out_dir`.
pub fn generate(checked: &Checked, options: &Options) -> Result<Generated, Vec<Diagnostic>> {
    if checked.has_errors() {
        return Err(checked.diagnostics.clone());
    }
    let (target, model, regions, warnings) = prepare(&checked.config, &checked.sources, options.runtime.display().to_string())?;
    let context = minijinja::Value::from(minijinja::value::Serde(&model));
    let template_error = |e: minijinja::Error| vec![Diagnostic::error("codegen::template", None, format!("a template failed (a bug in ferrota): {e:#}"))];
    let env = templates::environment(target.templates).map_err(template_error)?;
    let io_error = |path: &Path, e: std::io::Error| {
        vec![Diagnostic::error("codegen::write", None, format!("cannot write {}: {e}", path.display()))]
    };
    let mut generated = Generated {
        dir: options.out_dir.clone(),
        package: model.package.clone(),
        bootloader: templates::files(target.templates).iter().any(|f| f.output == "bootloader/Cargo.toml").then(|| model.bootloader_package.clone()),
        target,
        written: Vec::new(),
        unchanged: 0,
        warnings,
        map: SourceMap::default(),
    };
    for file in templates::files(generated.target.templates) {
        let rendered = render::render(&env, file.template, &context).map_err(template_error)?;
        let path = options.out_dir.join(file.output);
        match write::write_if_changed(&path, rendered.text.as_bytes()).map_err(|e| io_error(&path, e))? {
            write::Outcome::Written => generated.written.push(PathBuf::from(file.output)),
            write::Outcome::Unchanged => generated.unchanged += 1,
        }
        for placed in rendered.placed {
            if let Some(region) = regions.get(placed.region) {
                generated.map.entries.push((PathBuf::from(file.output), placed, region.clone()));
            }
        }
    }
    Ok(generated)
}

/// The `ferrota-ota` crate this binary was built with: `runtime/` of its checkout, or
/// `FERROTA_RUNTIME` when set (e.g. for an installed `ferrota`).
pub fn default_runtime() -> PathBuf {
    std::env::var_os("FERROTA_RUNTIME").map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime"), PathBuf::from)
}

/// The shared cargo target folder for one target triple, so dependencies are built once for
/// every generated project: `FERROTA_TARGET_DIR/<triple>`, by default in this checkout's
/// `target/firmware/`.
pub fn target_dir(target: &Target) -> PathBuf {
    let base = std::env::var_os("FERROTA_TARGET_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("firmware"), PathBuf::from);
    base.join(target.triple.unwrap_or("host"))
}
