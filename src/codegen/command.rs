//! `ferrota compile`: check the config, generate the project, build it, leave the image where
//! `ferrota upload` looks for it. Progress goes to stderr; the last stdout line is the image's
//! path (with `--only-generate`, the project folder), so scripts can pick it up.

use super::{cargo, image, Options};
use crate::compiler;
use crate::diagnostics::{render_terminal, Diagnostic};
use crate::source::RealFs;
use crate::yaml::LoadOptions;
use std::io::IsTerminal;
use super::target::Family;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// What `ferrota compile` was asked to do.
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

/// Exit codes: 0 built, 2 a problem in the config (including rustc errors in lambdas), 1
/// anything else (unreadable file, cargo missing, a build failure outside user code).
pub fn compile_command(options: &CompileOptions) -> ExitCode {
    match compile(options) {
        Ok(path) => {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// Checks, generates and builds; the path of the firmware image (with `--only-generate`, of
/// the project folder), or the exit code after the problems were shown on stderr.
pub fn compile(options: &CompileOptions) -> Result<PathBuf, ExitCode> {
    let load = LoadOptions { substitutions: options.substitutions.clone() };
    let checked = match compiler::check(&RealFs, &options.config, &load) {
        Ok(checked) => checked,
        Err(e) => {
            eprintln!("ERROR cannot read {}: {e}", options.config.display());
            return Err(ExitCode::from(1));
        }
    };
    let show = |diagnostics: &[Diagnostic]| {
        if !diagnostics.is_empty() {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            eprint!("{}", render_terminal(&checked.sources, diagnostics, color));
        }
    };
    let name = checked.config.get("esphome").and_then(|e| e.get("name")).and_then(|n| n.as_str()).unwrap_or("device").to_string();
    let out_dir = options.build_dir.clone().unwrap_or_else(|| default_build_dir(&options.config, &name));
    let runtime = super::default_runtime();
    let runtime = match std::fs::canonicalize(&runtime) {
        Ok(path) if path.join("Cargo.toml").is_file() => path,
        _ => {
            eprintln!("ERROR the ferrota-ota crate is not at {}: set FERROTA_RUNTIME to the `runtime/` folder of a ferrota checkout", runtime.display());
            return Err(ExitCode::from(1));
        }
    };
    let started = Instant::now();
    let generated = match super::generate(&checked, &Options { out_dir: out_dir.clone(), runtime }) {
        Ok(generated) => generated,
        Err(diagnostics) => {
            show(&diagnostics);
            return Err(failed(&diagnostics, &options.config));
        }
    };
    // (The check already holds what generation leaves out: `generated.warnings`.)
    show(&checked.diagnostics);
    eprintln!(
        "INFO Generated {} for {} in {:.1} ms ({} file{} written, {} unchanged)",
        out_dir.display(),
        generated.target.chip,
        started.elapsed().as_secs_f64() * 1000.0,
        generated.written.len(),
        if generated.written.len() == 1 { "" } else { "s" },
        generated.unchanged
    );
    if options.only_generate {
        return Ok(out_dir);
    }
    if !generated.target.buildable {
        eprintln!(
            "ERROR the {} needs Espressif's Xtensa Rust toolchain (`espup install`), which this machine doesn't have; build it there with `cargo +esp build --release` in {}",
            generated.target.chip,
            out_dir.display()
        );
        return Err(ExitCode::from(1));
    }
    if let Some(triple) = generated.target.triple {
        if let Err(why) = cargo::ensure_target(triple) {
            eprintln!("ERROR {why}");
            return Err(ExitCode::from(1));
        }
    }
    let target_dir = super::target_dir(&generated.target);
    eprintln!("INFO Building {} (cargo build --release, target dir {})", generated.package, target_dir.display());
    let build = match cargo::build(&generated, &target_dir) {
        Ok(build) => build,
        Err(e) => {
            eprintln!("ERROR cannot run cargo: {e}");
            return Err(ExitCode::from(1));
        }
    };
    show(&build.diagnostics);
    for message in &build.other {
        eprint!("{message}");
    }
    if options.deny_warnings && build.generated_warnings > 0 {
        eprintln!("ERROR {} rustc warning(s) in the generated code (--deny-warnings); see above", build.generated_warnings);
        return Err(ExitCode::from(1));
    }
    let Some(executable) = build.executable else {
        if build.diagnostics.iter().any(Diagnostic::is_error) {
            let errors = build.diagnostics.iter().filter(|d| d.is_error()).count();
            eprintln!("ERROR {errors} error{} in the config's lambdas", if errors == 1 { "" } else { "s" });
            return Err(ExitCode::from(2));
        }
        eprintln!("ERROR the generated project did not build (see cargo's messages above)");
        return Err(ExitCode::from(1));
    };
    let bytes = match std::fs::read(&executable) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("ERROR cannot read {}: {e}", executable.display());
            return Err(ExitCode::from(1));
        }
    };
    let payload = match payload(&generated, &checked.config, &out_dir, &bytes) {
        Ok(payload) => payload,
        Err(diagnostic) => {
            show(&[*diagnostic]);
            return Err(ExitCode::from(1));
        }
    };
    if let Some(package) = &generated.bootloader {
        match bootloader(&generated, package, &target_dir, &show, options.deny_warnings) {
            Ok(path) => {
                let app = FLASH_BASE + u64::from(super::model::Rp2040Flash::pico_w().active);
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                eprintln!(
                    "INFO Bootloader image {} ({size} bytes): flash it and the firmware once over USB (BOOTSEL), e.g. `picotool load bootloader.bin -t bin -o 0x10000000` and `picotool load firmware.bin -t bin -o {app:#x}`; after that, `ferrota upload` updates the firmware",
                    path.display()
                );
            }
            Err(message) => {
                eprintln!("ERROR {message}");
                return Err(ExitCode::from(1));
            }
        }
    }
    let image = image::image_path(&out_dir);
    if let Err(e) = image::install(&image, &payload) {
        eprintln!("ERROR cannot write {}: {e}", image.display());
        return Err(ExitCode::from(1));
    }
    let size = std::fs::metadata(&image).map(|m| m.len()).unwrap_or(0);
    eprintln!("INFO Firmware image {} ({size} bytes) built in {:.1} s", image.display(), started.elapsed().as_secs_f64());
    Ok(image)
}

/// The OTA payload of a build: the host executable itself; for a chip, its ELF stays beside
/// the image as `firmware.elf` (for debuggers and `espflash flash`) and the payload is made
/// from it.
fn payload(generated: &super::Generated, config: &crate::config::Config, out_dir: &Path, executable: &[u8]) -> Result<Vec<u8>, Box<Diagnostic>> {
    if generated.target.templates == Family::Host {
        return Ok(executable.to_vec());
    }
    let elf = out_dir.join("firmware.elf");
    std::fs::write(&elf, executable).map_err(|e| Box::new(Diagnostic::error("codegen::write", None, format!("cannot write {}: {e}", elf.display()))))?;
    match generated.target.templates {
        Family::Esp32 => {
            let flash_size = crate::components::esp32::flash_size(config).map_err(|e| Box::new(Diagnostic::error("codegen::typed", None, format!("esp32: {e}"))))?;
            image::esp_app_image(executable, generated.target.chip, &flash_size, &out_dir.join("partitions.csv"))
        }
        Family::Rp2040 => {
            let layout = super::model::Rp2040Flash::pico_w();
            let active = FLASH_BASE + u64::from(layout.active);
            image::flat_binary(executable, active..active + u64::from(layout.active_size))
        }
        Family::Host => Ok(executable.to_vec()),
    }
}

/// Where the RP2040 maps its flash.
const FLASH_BASE: u64 = 0x1000_0000;

/// Builds the bootloader of a target that has its own (the Pico W) and installs its flat binary
/// as `bootloader.bin`, for the first flash over USB; returns its path.
fn bootloader(generated: &super::Generated, package: &str, target_dir: &Path, show: &dyn Fn(&[Diagnostic]), deny_warnings: bool) -> Result<PathBuf, String> {
    eprintln!("INFO Building the bootloader {package}");
    let build = cargo::build_bootloader(generated, package, target_dir).map_err(|e| format!("cannot run cargo: {e}"))?;
    show(&build.diagnostics);
    for message in &build.other {
        eprint!("{message}");
    }
    if deny_warnings && build.generated_warnings > 0 {
        return Err(format!("{} rustc warning(s) in the generated bootloader (--deny-warnings); see above", build.generated_warnings));
    }
    let elf_path = build.executable.ok_or("the generated bootloader did not build (see cargo's messages above)")?;
    let elf = std::fs::read(&elf_path).map_err(|e| format!("cannot read {}: {e}", elf_path.display()))?;
    let layout = super::model::Rp2040Flash::pico_w();
    let image = image::flat_binary(&elf, FLASH_BASE..FLASH_BASE + u64::from(layout.state)).map_err(|d| {
        show(&[*d]);
        "no bootloader image".to_string()
    })?;
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

fn failed(diagnostics: &[Diagnostic], config: &Path) -> ExitCode {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let internal = diagnostics.iter().any(|d| matches!(d.code, "codegen::write" | "codegen::template"));
    eprintln!("ERROR {} can't be compiled: {errors} error{}", config.display(), if errors == 1 { "" } else { "s" });
    ExitCode::from(if internal { 1 } else { 2 })
}
