//! `ferrota upload`: from configs and flags to upload jobs and an exit code.
//! The CLI parses flags into [`UploadOptions`]; everything else happens here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use super::fleet::{self, Job};
use super::image::Image;
use super::progress::{self, Style};
use super::store::ImageStore;
use super::target::{default_image_path, UploadSettings};
use super::{upload, web_server, Request, RetryPolicy};
use crate::compiler;
use crate::diagnostics::render_terminal;
use crate::source::RealFs;
use crate::yaml::LoadOptions;

/// Which OTA server on the device to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// The native protocol (`ota: - platform: esphome`).
    Esphome,
    /// `POST /update` (`ota: - platform: web_server`).
    WebServer,
}

/// Everything `ferrota upload` was told.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    pub configs: Vec<PathBuf>,
    pub devices: Vec<String>,
    pub file: Option<PathBuf>,
    pub port: Option<u16>,
    pub password: Option<String>,
    pub username: Option<String>,
    pub platform: Platform,
    /// `Some` makes it a fleet run even with one config: every `--device` is its own device.
    pub jobs: Option<usize>,
    pub quiet: bool,
    /// `-s KEY VALUE` from the command line, for reading the configs.
    pub substitutions: Vec<(String, String)>,
}

/// `ferrota upload`: 0 only when every device took the update.
pub fn upload_command(options: &UploadOptions) -> ExitCode {
    let fleet_mode = options.configs.len() > 1 || options.jobs.is_some();
    let mut images: HashMap<PathBuf, Arc<Image>> = HashMap::new();
    let mut jobs = Vec::new();
    let mut failed_setup = 0;
    for config in &options.configs {
        match jobs_for(config, options, fleet_mode, &mut images) {
            Ok(more) => jobs.extend(more),
            Err(message) => {
                eprintln!("ERROR {}: {message}", config.display());
                failed_setup += 1;
            }
        }
    }
    if !fleet_mode {
        let Some((_, job)) = jobs.into_iter().next() else { return ExitCode::FAILURE };
        let style = if options.quiet { Style::Quiet } else { Style::Auto };
        let mut reporter = progress::reporter(style, "");
        let result = match &job {
            Job::Native(request) => upload(request, reporter.as_mut()),
            Job::WebServer(request) => web_server::upload(request, reporter.as_mut()),
        };
        return match result {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ERROR {e}");
                ExitCode::FAILURE
            }
        };
    }
    let workers = options.jobs.unwrap_or(1);
    let outcomes = fleet::run(jobs, workers, &|outcome| eprintln!("{}", fleet::line(outcome)));
    let all_ok = failed_setup == 0 && outcomes.iter().all(|o| o.result.is_ok());
    let mut summary = fleet::summary(&outcomes);
    if failed_setup > 0 {
        summary.push_str(&format!("; {failed_setup} config{} could not be read", if failed_setup == 1 { "" } else { "s" }));
    }
    eprintln!("{summary}");
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Validates a config; returns its upload settings and whether it is a `host:` device.
pub fn load(config: &Path, substitutions: &[(String, String)]) -> Result<(UploadSettings, bool), String> {
    let options = LoadOptions { substitutions: substitutions.to_vec() };
    let checked = compiler::check(&RealFs, config, &options).map_err(|e| format!("cannot read it: {e}"))?;
    if checked.has_errors() {
        let color = crate::diagnostics::stderr_color();
        eprint!("{}", render_terminal(&checked.sources, &checked.diagnostics, color));
        let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
        return Err(format!("the config is invalid ({errors} error{}); fix it first", if errors == 1 { "" } else { "s" }));
    }
    let is_host = checked.config.target() == Some("host");
    Ok((UploadSettings::from_config(&checked.config), is_host))
}

/// `--file`, or what `ferrota compile` built for this config.
fn image_path(config: &Path, target: &UploadSettings, options: &UploadOptions) -> Result<PathBuf, String> {
    if let Some(file) = &options.file {
        return Ok(file.clone());
    }
    let path = default_image_path(config, &target.name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("no image at {}: run `ferrota compile {}` first or pass --file", path.display(), config.display()))
    }
}

/// The upload jobs for one config: one job with every `--device` as an address of the same
/// device, or (fleet mode) one job per `--device`.
fn jobs_for(
    config: &Path,
    options: &UploadOptions,
    fleet_mode: bool,
    images: &mut HashMap<PathBuf, Arc<Image>>,
) -> Result<Vec<(String, Job)>, String> {
    let (target, _) = load(config, &options.substitutions)?;
    let path = image_path(config, &target, options)?;
    let image = match images.get(&path) {
        Some(image) => image.clone(),
        None => {
            let image = Arc::new(Image::read(&path).map_err(|e| format!("cannot read the image {}: {e}", path.display()))?);
            images.insert(path.clone(), image.clone());
            image
        }
    };
    let devices = if options.devices.is_empty() { vec![target.default_host()] } else { options.devices.clone() };
    let groups: Vec<Vec<String>> = if fleet_mode { devices.into_iter().map(|d| vec![d]).collect() } else { vec![devices] };
    let mut jobs = Vec::new();
    for hosts in groups {
        let label = format!("{} -> {}", target.name, hosts.join(", "));
        let job = match options.platform {
            Platform::Esphome => {
                let settings = target.ota.clone();
                let port = match (options.port, &settings) {
                    (Some(port), _) => port,
                    (None, Some(ota)) => ota.port.ok_or("the `ota: - platform: esphome` entry has no `port:`: set one (or pass --port)")?,
                    (None, None) => {
                        return Err("cannot upload over the air: the config has no `ota:` entry with `platform: esphome` (or pass --port)".into())
                    }
                };
                let password = options.password.clone().or(settings.and_then(|s| s.password));
                let store = Some(ImageStore::for_config(config));
                Job::Native(Request { hosts, port, password, image: image.clone(), retry: RetryPolicy::default(), store })
            }
            Platform::WebServer => {
                let settings = target.web_server.clone();
                let port = options
                    .port
                    .or(settings.as_ref().map(|s| s.port))
                    .ok_or("cannot upload through the web server: the config has no `web_server:` (or pass --port)")?;
                let filename = path.file_name().map_or("firmware.bin".into(), |n| n.to_string_lossy().into_owned());
                Job::WebServer(web_server::Request {
                    hosts,
                    port,
                    username: options.username.clone().or(settings.as_ref().and_then(|s| s.username.clone())),
                    password: options.password.clone().or(settings.and_then(|s| s.password)),
                    image: image.clone(),
                    filename,
                })
            }
        };
        jobs.push((label, job));
    }
    if !options.quiet && !fleet_mode {
        eprintln!("INFO Uploading {} ({} bytes)", path.display(), image.bytes().len());
    }
    Ok(jobs)
}
