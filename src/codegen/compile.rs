//! `compile`: check the config, generate the project, build it, leave the image where
//! `ferrota upload` looks for it. It tells a [`Report`] what it is doing and returns the image,
//! or every diagnostic that stopped it; the CLI (and later the dashboard) decide how to show
//! them.

use super::target::{Family, Target};
use super::{cargo, image, Options};
use crate::compiler;
use crate::diagnostics::Diagnostic;
use crate::source::{RealFs, Sources};
use crate::yaml::LoadOptions;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to compile and how.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    pub config: PathBuf,
    /// Instead of `<config dir>/.ferrota/build/<name>/`.
    pub build_dir: Option<PathBuf>,
    pub only_generate: bool,
    pub substitutions: Vec<(String, String)>,
    /// Fail on any rustc warning in the generated code (not in the user's lambdas): how CI and
    /// the tests keep leftovers out of the templates.
    pub deny_warnings: bool,
}

/// Where a compile says what it is doing (cargo's own progress goes to stderr as it comes).
pub trait Report {
    /// A step begun or done: `Generated …`, `Building …`, `Firmware image …`.
    fn step(&mut self, line: &str);
    /// Problems that don't stop the build: the config's warnings, rustc's warnings in lambdas.
    fn diagnostics(&mut self, sources: &Sources, diagnostics: &[Diagnostic]);
    /// rustc's messages that are not about the config, as rustc rendered them; with
    /// [`Report::wants_cargo_output`], also cargo's own lines (`Compiling …`) as they come.
    fn output(&mut self, text: &str);

    /// Whether cargo's progress should come through [`Report::output`] rather than straight to
    /// stderr (where a terminal shows cargo's own progress bar).
    fn wants_cargo_output(&self) -> bool {
        false
    }
}

/// A finished compile.
#[derive(Debug)]
pub struct Compiled {
    /// The firmware image (with `only_generate`, the project folder).
    pub path: PathBuf,
    pub target: Target,
    /// Every file the config was built from, as read (the dashboard fingerprints them).
    pub sources: Sources,
}

/// Why a compile stopped: every diagnostic (warnings too), against the files they point into.
#[derive(Debug)]
pub struct Failed {
    pub sources: Sources,
    pub diagnostics: Vec<Diagnostic>,
}

impl Failed {
    fn new(sources: Sources, diagnostics: Vec<Diagnostic>) -> Failed {
        Failed { sources, diagnostics }
    }

    /// A failure outside the config (a file, cargo, a toolchain).
    fn build(sources: Sources, message: impl Into<String>) -> Failed {
        Failed { sources, diagnostics: vec![Diagnostic::error("build::failed", None, message)] }
    }

    /// Whether the config is what has to change (its validation, generation from it, or rustc's
    /// errors in its lambdas), rather than the machine or ferrota.
    pub fn in_config(&self) -> bool {
        const ELSEWHERE: &[&str] = &["build::failed", "codegen::write", "codegen::template", "codegen::typed", "codegen::image"];
        self.diagnostics.iter().any(|d| d.is_error() && !ELSEWHERE.contains(&d.code))
    }
}

/// Checks, generates and builds.
pub fn compile(options: &CompileOptions, report: &mut dyn Report) -> Result<Compiled, Failed> {
    let load = LoadOptions { substitutions: options.substitutions.clone() };
    let checked = compiler::check(&RealFs, &options.config, &load)
        .map_err(|e| Failed::build(Sources::default(), format!("cannot read {}: {e}", options.config.display())))?;
    let name = checked.config.get("esphome").and_then(|e| crate::config::read::<crate::components::core::EsphomeConfig>(e).ok()).map_or("device", |c| c.name);
    let out_dir = options.build_dir.clone().unwrap_or_else(|| default_build_dir(&options.config, name));
    let runtime = super::default_runtime();
    let runtime = match std::fs::canonicalize(&runtime) {
        Ok(path) if path.join("Cargo.toml").is_file() => path,
        _ => {
            let message = format!("the ferrota-ota crate is not at {}: set FERROTA_RUNTIME to the `runtime/` folder of a ferrota checkout", runtime.display());
            return Err(Failed::build(checked.sources, message));
        }
    };
    let started = Instant::now();
    let generated = match super::generate(&checked, &Options { out_dir: out_dir.clone(), runtime }) {
        Ok(generated) => generated,
        Err(diagnostics) => return Err(Failed::new(checked.sources, diagnostics)),
    };
    // (The check already holds what generation leaves out: `generated.warnings`.)
    report.diagnostics(&checked.sources, &checked.diagnostics);
    let written = generated.written.len();
    report.step(&format!(
        "Generated {} for {} in {:.1} ms ({written} file{} written, {} unchanged)",
        out_dir.display(),
        generated.target.chip,
        started.elapsed().as_secs_f64() * 1000.0,
        if written == 1 { "" } else { "s" },
        generated.unchanged
    ));
    if options.only_generate {
        return Ok(Compiled { path: out_dir, target: generated.target, sources: checked.sources });
    }
    if !generated.target.buildable {
        return fail(format!(
            "the {} needs Espressif's Xtensa Rust toolchain (`espup install`), which this machine doesn't have; build it there with `cargo +esp build --release` in {}",
            generated.target.chip,
            out_dir.display()
        ));
    }
    if let Some(triple) = generated.target.triple {
        if let Err(why) = cargo::ensure_target(triple) {
            return fail(why);
        }
    }
    let target_dir = super::target_dir(&generated.target);
    report.step(&format!("Building {} (cargo build --release, target dir {})", generated.package, target_dir.display()));
    let build = cargo::build(&generated, &target_dir, &mut *report).map_err(|e| Failed::build(Sources::default(), format!("cannot run cargo: {e}")))?;
    for message in &build.other {
        report.output(message);
    }
    let Some(executable) = build.executable else {
        if build.diagnostics.iter().any(Diagnostic::is_error) {
            return Err(Failed::new(checked.sources, build.diagnostics));
        }
        report.diagnostics(&checked.sources, &build.diagnostics);
        return fail("the generated project did not build (see cargo's messages above)".into());
    };
    report.diagnostics(&checked.sources, &build.diagnostics);
    if options.deny_warnings && build.generated_warnings > 0 {
        return fail(format!("{} rustc warning(s) in the generated code (--deny-warnings); see above", build.generated_warnings));
    }
    let bytes = std::fs::read(&executable).or_else(|e| fail(format!("cannot read {}: {e}", executable.display())))?;
    let payload = payload(&generated, &checked.config, &out_dir, &bytes).map_err(|d| Failed::new(Sources::default(), vec![*d]))?;
    if let Some(package) = &generated.bootloader {
        let path = bootloader(&generated, package, &target_dir, (&checked.sources, report), options.deny_warnings).or_else(fail)?;
        let app = FLASH_BASE + u64::from(super::model::Rp2040Flash::pico_w().active);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        report.step(&format!(
            "Bootloader image {} ({size} bytes): flash it and the firmware once over USB (BOOTSEL), e.g. `picotool load bootloader.bin -t bin -o 0x10000000` and `picotool load firmware.bin -t bin -o {app:#x}`; after that, `ferrota upload` updates the firmware",
            path.display()
        ));
    }
    let image = image::image_path(&out_dir);
    image::install(&image, &payload).or_else(|e| fail(format!("cannot write {}: {e}", image.display())))?;
    // Kept by content, so a device running this build can later take a patch from it.
    let store = crate::upload::store::ImageStore::for_config(&options.config);
    if let Err(e) = store.keep(&crate::upload::image::Image::new(payload)) {
        report.step(&format!("cannot keep the image in {} for later delta updates: {e}", store.dir().display()));
    }
    let size = std::fs::metadata(&image).map(|m| m.len()).unwrap_or(0);
    report.step(&format!("Firmware image {} ({size} bytes) built in {:.1} s", image.display(), started.elapsed().as_secs_f64()));
    Ok(Compiled { path: image, target: generated.target, sources: checked.sources })
}

fn fail<T>(message: String) -> Result<T, Failed> {
    Err(Failed::build(Sources::default(), message))
}

/// The OTA payload of a build: the host executable itself; for a chip, its ELF stays beside
/// the image as `firmware.elf` (for debuggers and `espflash flash`) and the payload is made
/// from it.
fn payload(generated: &super::Generated, config: &crate::config::Config, out_dir: &Path, executable: &[u8]) -> Result<Vec<u8>, Box<Diagnostic>> {
    if generated.target.templates == Family::Host {
        return Ok(executable.to_vec());
    }
    let elf = out_dir.join("firmware.elf");
    std::fs::write(&elf, executable).map_err(|e| Box::new(Diagnostic::error("build::failed", None, format!("cannot write {}: {e}", elf.display()))))?;
    match generated.target.templates {
        Family::Esp32 => {
            let flash_size = crate::components::esp32::flash_size(config).map_err(|e| Box::new(Diagnostic::error("codegen::typed", None, format!("esp32: {e}"))))?;
            image::esp_app_image(executable, generated.target.chip, &flash_size, &out_dir.join("partitions.csv"))
        }
        Family::Rp2040 => {
            let layout = super::model::Rp2040Flash::pico_w();
            let active = FLASH_BASE + u64::from(layout.active);
            let mut image = image::flat_binary(executable, active..active + u64::from(layout.active_size))?;
            // The device hashes its running build up to this length (its page names it so).
            if !ferrota_ota::image_len::fill(&mut image) {
                return Err(Box::new(Diagnostic::error("codegen::image", None, "the Pico W build has no length slot (`ferrota_ota::image_len`): is ferrota-ota-rp2040 from another ferrota?")));
            }
            Ok(image)
        }
        Family::Host => Ok(executable.to_vec()),
    }
}

/// Where the RP2040 maps its flash.
const FLASH_BASE: u64 = 0x1000_0000;

/// Builds the bootloader of a target that has its own (the Pico W) and installs its flat binary
/// as `bootloader.bin`, for the first flash over USB; returns its path.
fn bootloader(generated: &super::Generated, package: &str, target_dir: &Path, (sources, report): (&Sources, &mut dyn Report), deny_warnings: bool) -> Result<PathBuf, String> {
    report.step(&format!("Building the bootloader {package}"));
    let build = cargo::build_bootloader(generated, package, target_dir, &mut *report).map_err(|e| format!("cannot run cargo: {e}"))?;
    for message in &build.other {
        report.output(message);
    }
    report.diagnostics(sources, &build.diagnostics);
    if deny_warnings && build.generated_warnings > 0 {
        return Err(format!("{} rustc warning(s) in the generated bootloader (--deny-warnings); see above", build.generated_warnings));
    }
    let elf_path = build.executable.ok_or("the generated bootloader did not build (see cargo's messages above)")?;
    let elf = std::fs::read(&elf_path).map_err(|e| format!("cannot read {}: {e}", elf_path.display()))?;
    let layout = super::model::Rp2040Flash::pico_w();
    let image = image::flat_binary(&elf, FLASH_BASE..FLASH_BASE + u64::from(layout.state)).map_err(|d| format!("no bootloader image: {}", d.message))?;
    let path = generated.dir.join("bootloader.bin");
    image::install(&path, &image).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Where the project of config `config` for device `name` goes: the folder the uploader takes
/// the image from by default.
pub fn default_build_dir(config: &Path, name: &str) -> PathBuf {
    let image = crate::upload::target::default_image_path(config, name);
    image.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
