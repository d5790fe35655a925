//! The `ferrota` command line: a thin shell over the library.

mod build;

use crate::compiler;
use crate::diagnostics::{render_terminal, to_json};
use crate::source::RealFs;
use crate::upload::command::{upload_command, Platform, UploadOptions};
use crate::yaml::LoadOptions;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "ferrota", version, about = "ESPHome's OTA update system, in Rust")]
pub struct Cli {
    /// Override a substitution: `-s name value` (repeatable; before or after the command, as
    /// in `esphome -s name value config x.yaml`).
    #[arg(short = 's', long = "substitution", num_args = 2, value_names = ["KEY", "VALUE"], global = true)]
    substitutions: Vec<String>,
    /// More output (`config` also prints the IDs ferrota generated).
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Print only errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// ESPHome's log level: ferrota has -v and -q.
    #[arg(short = 'l', long = "log-level", value_name = "LEVEL", global = true, hide = true)]
    log_level: Option<String>,
    /// ESPHome's dashboard mode: nothing changes here.
    #[arg(long, global = true, hide = true)]
    dashboard: bool,
    /// ESPHome options ferrota can't honour; named in an error instead of a parse failure.
    #[arg(long = "testing-mode", global = true, hide = true)]
    testing_mode: bool,
    #[arg(long = "mdns-address-cache", alias = "dns-address-cache", value_name = "MAP", global = true, hide = true)]
    address_cache: Option<String>,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// ESPHome's global options that would change what ferrota does, but can't: why not.
    fn unsupported(&self) -> Option<&'static str> {
        if self.testing_mode {
            return Some("--testing-mode (ESPHome's grouped component tests skip some checks) is not supported: ferrota always checks everything");
        }
        if self.address_cache.is_some() {
            return Some("--mdns-address-cache / --dns-address-cache are not supported: name the device's address with `upload --device IP`");
        }
        let _ = (&self.log_level, self.dashboard);
        None
    }

    fn substitutions(&self) -> Vec<(String, String)> {
        self.substitutions.chunks(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect()
    }
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
    /// Delete the config's generated firmware project and build output.
    Clean(CleanArgs),
    /// Print ferrota's version and the ESPHome release it follows.
    Version,
    /// Serve diagnostics to an editor (Language Server Protocol over stdin/stdout).
    Lsp,
    /// Print the JSON Schema of device configs (for YAML editors; README: "Editors").
    Schema,
    /// Serve a web page and JSON API over a folder of device configs: validate, edit, install
    /// over the air, update all that need it.
    Dashboard(DashboardArgs),
    /// ESPHome commands ferrota does not have (`logs`, `wizard`, `discover` …).
    #[command(external_subcommand)]
    Other(Vec<String>),
}

#[derive(Debug, clap::Args)]
struct CleanArgs {
    /// The device YAML.
    config: PathBuf,
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
    /// Fail on any rustc warning in the generated code (warnings in your lambdas stay warnings).
    #[arg(long)]
    deny_warnings: bool,
}

impl CompileArgs {
    fn options(self, substitutions: Vec<(String, String)>) -> crate::codegen::compile::CompileOptions {
        crate::codegen::compile::CompileOptions {
            config: self.config,
            build_dir: self.build_dir,
            only_generate: self.only_generate,
            substitutions,
            deny_warnings: self.deny_warnings,
        }
    }
}

#[derive(Debug, clap::Args)]
struct UploadArgs {
    /// Device configs; several make a fleet (one device each).
    #[arg(required = true)]
    configs: Vec<PathBuf>,
    /// IP, hostname or `name.local`, optionally with `:PORT` (default `<esphome.name>.local`;
    /// `OTA`, as ESPHome writes it, means that default too). Repeatable: addresses of the same
    /// device, tried in turn; with --jobs, separate devices.
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
    /// `run`: don't follow the device's logs (ferrota doesn't stream logs; accepted as ESPHome has it).
    #[arg(long)]
    no_logs: bool,
    /// ESPHome's serial upload speed: ferrota uploads only over the network.
    #[arg(long = "upload_speed", alias = "upload-speed", value_name = "BAUD", hide = true)]
    upload_speed: Option<String>,
    /// ESPHome's serial reset after `run`: ferrota uploads only over the network.
    #[arg(long, hide = true)]
    reset: bool,
    /// ESPHome's OTA upload of a partition table or bootloader: not supported.
    #[arg(long = "partition-table", hide = true)]
    partition_table: bool,
    #[arg(long, hide = true)]
    bootloader: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OtaPlatform {
    Esphome,
    #[value(name = "web_server")]
    WebServer,
}

impl UploadArgs {
    fn options(self, cli: &Cli) -> Result<UploadOptions, String> {
        if self.upload_speed.is_some() || self.reset {
            let flag = if self.reset { "--reset" } else { "--upload_speed" };
            return Err(format!("{flag} is for ESPHome's serial uploads; ferrota uploads over the network only (use --device)"));
        }
        if self.partition_table || self.bootloader {
            return Err("ferrota uploads the application image only; a new partition table or bootloader goes on over USB (esptool / picotool)".into());
        }
        let _ = self.no_logs;
        Ok(UploadOptions {
            configs: self.configs,
            // `--device OTA` is ESPHome's way of saying "over the air, to the usual address".
            devices: self.devices.into_iter().filter(|d| !d.eq_ignore_ascii_case("ota")).collect(),
            file: self.file,
            port: self.port,
            password: self.password,
            username: self.username,
            platform: match self.ota_platform {
                OtaPlatform::Esphome => Platform::Esphome,
                OtaPlatform::WebServer => Platform::WebServer,
            },
            jobs: self.jobs,
            quiet: cli.quiet,
            substitutions: cli.substitutions(),
        })
    }
}

#[derive(Debug, clap::Args)]
struct DashboardArgs {
    /// The folder of device configs (every `*.yaml` but `secrets.yaml` and hidden files).
    dir: PathBuf,
    /// Where to listen; anything but loopback needs --password.
    #[arg(long, default_value = "127.0.0.1")]
    address: std::net::IpAddr,
    /// ESPHome's dashboard port; 0 picks a free one.
    #[arg(long, default_value_t = 6052)]
    port: u16,
    /// HTTP Basic auth user name (with --password).
    #[arg(long, requires = "password")]
    username: Option<String>,
    /// HTTP Basic auth password: required to listen beyond this machine.
    #[arg(long)]
    password: Option<String>,
    /// Devices "update all" installs at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
}

#[derive(Debug, clap::Args)]
struct ConfigArgs {
    /// The device YAMLs (each is checked; exit 2 if any is invalid).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// How to print problems: `human` (with source excerpts) or `json` (one array, for tools).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Print passwords and secrets instead of masking them.
    #[arg(long)]
    show_secrets: bool,
    /// Print only what the config says, without the defaults filled in.
    #[arg(long)]
    no_defaults: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

/// Exit codes: 0 valid, 2 invalid config, 1 input unreadable (or another I/O failure).
pub fn run() -> ExitCode {
    let mut cli = Cli::parse();
    if let Some(why) = cli.unsupported() {
        eprintln!("error: {why}");
        return ExitCode::from(2);
    }
    let command = std::mem::replace(&mut cli.command, Command::Lsp);
    match command {
        Command::Config(args) => config(&cli, args),
        Command::Compile(args) => build::compile_command(&args.options(cli.substitutions())),
        Command::Upload(args) => with_options(args, &cli, upload_command),
        Command::Run(args) => with_options(args, &cli, build::run_command),
        Command::Clean(args) => clean(&cli, &args.config),
        Command::Version => {
            println!("Version: ferrota {} (ESPHome 2026.10.0 compatible)", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Schema => {
            let schema = crate::schema::json_schema::generate(crate::schema::Registry::get());
            match serde_json::to_string_pretty(&schema) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Dashboard(args) => {
            let options = crate::dashboard::Options {
                dir: args.dir,
                address: args.address,
                port: args.port,
                username: args.username,
                password: args.password,
                jobs: args.jobs,
            };
            match crate::dashboard::run(options) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Lsp => match crate::lsp::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: language server: {e}");
                ExitCode::from(1)
            }
        },
        Command::Other(words) => {
            let name = words.first().map_or("", String::as_str);
            eprintln!(
                "error: ferrota has no `{name}` command{}.\n  ferrota's commands: config, compile, upload, run, clean, dashboard, version, lsp, schema",
                if ["logs", "wizard", "discover", "mqtt-fingerprint", "rename", "idedata", "analyze-memory", "vscode", "update-all"].contains(&name) {
                    " (ESPHome has one; ferrota doesn't yet)"
                } else {
                    ""
                }
            );
            ExitCode::from(2)
        }
    }
}

fn with_options(args: UploadArgs, cli: &Cli, command: fn(&UploadOptions) -> ExitCode) -> ExitCode {
    match args.options(cli) {
        Ok(options) => command(&options),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// `ferrota clean`: removes what `compile` made for the config (its build folder).
fn clean(cli: &Cli, config: &std::path::Path) -> ExitCode {
    let options = LoadOptions { substitutions: cli.substitutions() };
    let checked = match compiler::check(&RealFs, config, &options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", config.display());
            return ExitCode::from(1);
        }
    };
    let Some(name) = checked.config.get("esphome").and_then(|e| e.get("name")).and_then(|n| n.as_str()) else {
        eprint!("{}", render_terminal(&checked.sources, &checked.diagnostics, false));
        eprintln!("error: {} has no valid `esphome: name:`; nothing to clean", config.display());
        return ExitCode::from(2);
    };
    let dir = config.parent().unwrap_or(std::path::Path::new(".")).join(".ferrota/build").join(name);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {
            if !cli.quiet {
                eprintln!("Removed {}", dir.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !cli.quiet {
                eprintln!("Nothing to clean: {} does not exist", dir.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot remove {}: {e}", dir.display());
            ExitCode::from(1)
        }
    }
}

/// `ferrota config FILE…`: each file's problems (and with one valid file, its YAML); with
/// several, a result line each and a summary.
fn config(cli: &Cli, args: ConfigArgs) -> ExitCode {
    let options = LoadOptions { substitutions: cli.substitutions() };
    let several = args.files.len() > 1;
    let (mut invalid, mut unreadable) = (0, 0);
    let mut json = Vec::new();
    for file in &args.files {
        let checked = match compiler::check(&RealFs, file, &options) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", file.display());
                unreadable += 1;
                continue;
            }
        };
        if checked.has_errors() {
            invalid += 1;
        }
        match args.format {
            Format::Json => {
                json.extend(checked.diagnostics.iter().map(|d| serde_json::to_value(to_json(&checked.sources, d)).unwrap_or_default()));
            }
            Format::Human => print_human(cli, &args, file, &checked, several),
        }
    }
    if args.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
    } else if several && !cli.quiet {
        let valid = args.files.len() - invalid - unreadable;
        eprintln!("{} configs: {valid} valid, {invalid} invalid{}", args.files.len(), if unreadable > 0 { format!(", {unreadable} unreadable") } else { String::new() });
    }
    if unreadable > 0 {
        ExitCode::from(1)
    } else if invalid > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_human(cli: &Cli, args: &ConfigArgs, file: &std::path::Path, checked: &compiler::Checked, several: bool) {
    let color = crate::diagnostics::stderr_color();
    let shown: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error() || !cli.quiet).cloned().collect();
    eprint!("{}", render_terminal(&checked.sources, &shown, color));
    if checked.has_errors() {
        let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
        eprintln!("{} is invalid: {errors} error{}", file.display(), if errors == 1 { "" } else { "s" });
    } else if several {
        if !cli.quiet {
            eprintln!("{} is valid", file.display());
        }
    } else {
        let mut out = std::io::stdout().lock();
        let config = if args.no_defaults { checked.config.without_defaults() } else { checked.config.clone() };
        let _ = write!(out, "{}", config.to_yaml_with(args.show_secrets, cli.verbose));
        if !cli.quiet {
            eprintln!("Configuration is valid!");
        }
    }
}
