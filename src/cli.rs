//! The `ferrota` command line: a thin shell over the library.

use crate::compiler;
use crate::diagnostics::{render_terminal, to_json};
use crate::source::RealFs;
use crate::upload::command::{run_command, upload_command, Platform, UploadOptions};
use crate::yaml::LoadOptions;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "ferrota", version, about = "ESPHome's OTA update system, in Rust")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a device config and print it with every default filled in.
    Config(ConfigArgs),
    /// Generate the config's Rust firmware project and build it; prints the image's path last.
    Compile(CompileArgs),
    /// Update devices over the air with an image (ESPHome's OTA protocol, or the web server).
    Upload(UploadArgs),
    /// Compile, build and update the device (`--file` skips the build); a `host:` device is started here.
    Run(UploadArgs),
    /// Serve diagnostics to an editor (Language Server Protocol over stdin/stdout).
    Lsp,
}

#[derive(Debug, clap::Args)]
struct CompileArgs {
    /// The device YAML.
    config: PathBuf,
    /// Where the Cargo project goes (default `.ferrota/build/<name>/` beside the config).
    #[arg(long, value_name = "DIR")]
    build_dir: Option<PathBuf>,
    /// Write the project but don't build it (prints the project folder instead of the image).
    #[arg(long)]
    only_generate: bool,
    /// Override a substitution: `-s name value` (repeatable).
    #[arg(short = 's', long = "substitution", num_args = 2, value_names = ["KEY", "VALUE"])]
    substitutions: Vec<String>,
}

impl CompileArgs {
    fn options(self) -> crate::codegen::command::CompileOptions {
        crate::codegen::command::CompileOptions {
            config: self.config,
            build_dir: self.build_dir,
            only_generate: self.only_generate,
            substitutions: self.substitutions.chunks(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect(),
        }
    }
}

#[derive(Debug, clap::Args)]
struct UploadArgs {
    /// Device configs; several make a fleet (one device each).
    #[arg(required = true)]
    configs: Vec<PathBuf>,
    /// IP, hostname or `name.local`, optionally with `:PORT` (default `<esphome.name>.local`).
    /// Repeatable: addresses of the same device, tried in turn; with --jobs, separate devices.
    #[arg(long = "device", value_name = "HOST")]
    devices: Vec<String>,
    /// The image to send (default: what `ferrota compile` built for the config).
    #[arg(long, value_name = "IMAGE")]
    file: Option<PathBuf>,
    /// Override the OTA (or web server) port from the config.
    #[arg(long, value_name = "N")]
    port: Option<u16>,
    /// Override the OTA password (web_server: the `auth:` password).
    #[arg(long, value_name = "P")]
    password: Option<String>,
    /// Override the web server `auth:` username.
    #[arg(long, value_name = "U")]
    username: Option<String>,
    /// Which OTA server to use.
    #[arg(long, value_enum, default_value_t = OtaPlatform::Esphome)]
    ota_platform: OtaPlatform,
    /// Upload to this many devices at once; one result line per device and a summary.
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Print only errors.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OtaPlatform {
    Esphome,
    #[value(name = "web_server")]
    WebServer,
}

impl UploadArgs {
    fn options(self) -> UploadOptions {
        UploadOptions {
            configs: self.configs,
            devices: self.devices,
            file: self.file,
            port: self.port,
            password: self.password,
            username: self.username,
            platform: match self.ota_platform {
                OtaPlatform::Esphome => Platform::Esphome,
                OtaPlatform::WebServer => Platform::WebServer,
            },
            jobs: self.jobs,
            quiet: self.quiet,
        }
    }
}

#[derive(Debug, clap::Args)]
struct ConfigArgs {
    /// The device YAML.
    file: PathBuf,
    /// How to print problems: `human` (with source excerpts) or `json` (one array, for tools).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Print passwords and secrets instead of masking them.
    #[arg(long)]
    show_secrets: bool,
    /// Override a substitution: `-s name value` (repeatable).
    #[arg(short = 's', long = "substitution", num_args = 2, value_names = ["KEY", "VALUE"])]
    substitutions: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

/// Exit codes: 0 valid, 2 invalid config, 1 input unreadable (or another I/O failure).
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Config(args) => config(args),
        Command::Compile(args) => crate::codegen::command::compile_command(&args.options()),
        Command::Upload(args) => upload_command(&args.options()),
        Command::Run(args) => run_command(&args.options()),
        Command::Lsp => match crate::lsp::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: language server: {e}");
                ExitCode::from(1)
            }
        },
    }
}

fn config(args: ConfigArgs) -> ExitCode {
    let options = LoadOptions {
        substitutions: args.substitutions.chunks(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect(),
    };
    let checked = match compiler::check(&RealFs, &args.file, &options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file.display());
            return ExitCode::from(1);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Json => {
            let list: Vec<_> = checked.diagnostics.iter().map(|d| to_json(&checked.sources, d)).collect();
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&list).unwrap_or_default());
        }
        Format::Human => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let rendered = render_terminal(&checked.sources, &checked.diagnostics, color);
            eprint!("{rendered}");
            if checked.has_errors() {
                let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
                eprintln!("{} is invalid: {errors} error{}", args.file.display(), if errors == 1 { "" } else { "s" });
            } else {
                let _ = write!(out, "{}", checked.config.to_yaml(args.show_secrets));
                eprintln!("Configuration is valid!");
            }
        }
    }
    if checked.has_errors() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
