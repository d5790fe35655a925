//! `ferrota compile` and `ferrota run`: the library's compile, shown on the terminal, then (for
//! `run`) the device started here or updated over the network.

use crate::codegen::compile::{compile, CompileOptions, Failed, Report};
use crate::codegen::target::Family;
use crate::diagnostics::{render_terminal, Diagnostic};
use crate::source::Sources;
use crate::upload::command::{load, upload_command, UploadOptions};
use std::path::Path;
use std::process::ExitCode;

/// Progress and warnings on stderr, as they come.
struct Stderr;

impl Report for Stderr {
    fn step(&mut self, line: &str) {
        eprintln!("INFO {line}");
    }
    fn diagnostics(&mut self, sources: &Sources, diagnostics: &[Diagnostic]) {
        show(sources, diagnostics);
    }
    fn output(&mut self, text: &str) {
        eprint!("{text}");
    }
}

/// Diagnostics in the config as the terminal renders them (with their lines); ones about no
/// place in it (cargo missing, a file that can't be written) as one plain line each.
fn show(sources: &Sources, diagnostics: &[Diagnostic]) {
    let (placed, plain): (Vec<Diagnostic>, Vec<Diagnostic>) = diagnostics.iter().cloned().partition(|d| d.span.is_some());
    if !placed.is_empty() {
        let color = crate::diagnostics::stderr_color();
        eprint!("{}", render_terminal(sources, &placed, color));
    }
    for d in plain {
        eprintln!("{} {}", if d.is_error() { "ERROR" } else { "WARNING" }, d.message);
        if let Some(help) = &d.help {
            eprintln!("  help: {help}");
        }
    }
}

/// `ferrota compile`. The last stdout line is the image's path (with `--only-generate`, the
/// project folder), so scripts can pick it up. Exit codes: 0 built, 2 a problem in the config
/// (rustc's errors in lambdas included), 1 anything else (an unreadable file, cargo missing, a
/// build failure outside user code).
pub fn compile_command(options: &CompileOptions) -> ExitCode {
    match compile(options, &mut Stderr) {
        Ok(compiled) => {
            println!("{}", compiled.path.display());
            ExitCode::SUCCESS
        }
        Err(failed) => failure(&failed, &options.config),
    }
}

fn failure(failed: &Failed, config: &Path) -> ExitCode {
    show(&failed.sources, &failed.diagnostics);
    if !failed.in_config() {
        return ExitCode::from(1);
    }
    let errors = failed.diagnostics.iter().filter(|d| d.is_error()).count();
    eprintln!("ERROR {} can't be compiled: {errors} error{}", config.display(), if errors == 1 { "" } else { "s" });
    ExitCode::from(2)
}

/// `ferrota run`: compile and build the config (unless `--file` names an image), then start a
/// `host:` device here or upload to the device, as `esphome run` does.
pub fn run_command(options: &UploadOptions) -> ExitCode {
    let Some(config) = options.configs.first() else { return ExitCode::FAILURE };
    let (image, is_host) = match &options.file {
        Some(file) => match load(config, &options.substitutions) {
            Ok((_, is_host)) => (file.clone(), is_host),
            Err(message) => {
                eprintln!("ERROR {}: {message}", config.display());
                return ExitCode::from(2);
            }
        },
        None => {
            let options = CompileOptions { config: config.clone(), substitutions: options.substitutions.clone(), ..Default::default() };
            match compile(&options, &mut Stderr) {
                Ok(compiled) => (compiled.path, compiled.target.templates == Family::Host),
                Err(failed) => return failure(&failed, config),
            }
        }
    };
    if !is_host {
        let upload = UploadOptions { configs: vec![config.clone()], file: Some(image), jobs: None, ..options.clone() };
        return upload_command(&upload);
    }
    if !options.quiet {
        eprintln!("INFO Running program from path '{}'", image.display());
    }
    run_here(&image)
}

/// Becomes the host device: on Unix this process is replaced by the firmware, so stopping
/// `ferrota run` stops the device (and the device's own supervisor keeps its A/B slots).
fn run_here(image: &Path) -> ExitCode {
    let mut command = std::process::Command::new(image);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // A file still open for writing somewhere (a build tool's child that has not reached its
        // own exec yet) can't be executed for a few milliseconds: wait that out.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let error = loop {
            let error = command.exec();
            if error.kind() != std::io::ErrorKind::ExecutableFileBusy || std::time::Instant::now() > deadline {
                break error;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        eprintln!("ERROR cannot start {}: {error}", image.display());
        ExitCode::FAILURE
    }
    #[cfg(not(unix))]
    match command.status() {
        Ok(status) => ExitCode::from(status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1))),
        Err(e) => {
            eprintln!("ERROR cannot start {}: {e}", image.display());
            ExitCode::FAILURE
        }
    }
}
