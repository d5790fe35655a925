//! The fleet as the dashboard sees it: every device config in the folder, checked by the same
//! engine as `ferrota config`, re-checked when any file it reads changes, with what this
//! dashboard last installed on each (under `DIR/.ferrota/dashboard/`).

use crate::compiler;
use crate::diagnostics::Severity;
use crate::source::{RealFs, Sources};
use crate::upload::target::UploadSettings;
use crate::yaml::LoadOptions;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One problem, as the API and the page show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// The file it is in, relative to the folder, when that is not the config itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub line: usize,
    pub column: usize,
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
    /// The quick fix, when it changes only the config itself (the editor applies it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<QuickFix>,
}

/// A fix as the editor applies it: edits at 0-based lines and UTF-16 columns (as a browser's
/// strings count), like the language server's.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QuickFix {
    pub title: String,
    pub edits: Vec<QuickEdit>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QuickEdit {
    pub start: [usize; 2],
    pub end: [usize; 2],
    pub text: String,
}

/// Where a device's OTA server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub port: u16,
    pub password: Option<String>,
}

/// One device config and what is known about it.
#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub file: String,
    pub name: Option<String>,
    pub friendly_name: Option<String>,
    pub platform: Option<String>,
    pub valid: bool,
    pub diagnostics: Vec<Problem>,
    /// Whether its OTA port answered at the last poll; `null` before the first one, or when
    /// the config says nowhere to reach it.
    pub online: Option<bool>,
    pub needs_update: bool,
    /// Where the API, not the page, finds it: its OTA server.
    #[serde(skip)]
    pub address: Option<Address>,
    /// A hash of ferrota's version and every file the config reads: what an install records,
    /// so a change to any of them (or a new ferrota) makes the device outdated.
    #[serde(skip)]
    pub fingerprint: String,
    /// Every file the check read, with its modification time then.
    #[serde(skip)]
    inputs: Vec<(PathBuf, Option<SystemTime>)>,
}

/// What an install left on record for one device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Installed {
    pub fingerprint: String,
    pub image_md5: String,
    /// Seconds since the Unix epoch.
    pub at: u64,
}

/// Every device config in one folder.
#[derive(Debug)]
pub struct Fleet {
    pub dir: PathBuf,
    pub devices: BTreeMap<String, Device>,
    installed: BTreeMap<String, Installed>,
}

impl Fleet {
    /// The fleet in `dir` (canonical), with the install records found there.
    pub fn new(dir: PathBuf) -> Fleet {
        let installed = std::fs::read_to_string(records_path(&dir)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        Fleet { dir, devices: BTreeMap::new(), installed }
    }

    /// Picks up added, changed and removed configs; `true` when anything changed. Checks only
    /// the configs whose files changed, so a scan of an unchanged folder only reads metadata.
    pub fn scan(&mut self) -> bool {
        let files = config_files(&self.dir);
        let before = self.devices.len();
        self.devices.retain(|file, _| files.contains(file));
        let mut changed = before != self.devices.len();
        for file in files {
            let stale = self.devices.get(&file).is_none_or(|d| d.inputs.iter().any(|(path, seen)| modified(path) != *seen));
            if stale {
                let device = check(&self.dir, &file, &self.installed);
                self.devices.insert(file, device);
                changed = true;
            }
        }
        changed
    }

    /// Records an install on `file` (`record.fingerprint`: the files as the build read them)
    /// and re-reads the config at once, so the list never shows the old state after an install.
    pub fn record_install(&mut self, file: &str, record: Installed) -> std::io::Result<()> {
        self.installed.insert(file.to_string(), record);
        let online = self.devices.get(file).and_then(|d| d.online);
        let mut device = check(&self.dir, file, &self.installed);
        device.online = online;
        self.devices.insert(file.to_string(), device);
        let path = records_path(&self.dir);
        std::fs::create_dir_all(path.parent().unwrap_or(&self.dir))?;
        let text = serde_json::to_string_pretty(&self.installed).map_err(std::io::Error::other)?;
        crate::codegen::write::write_if_changed(&path, text.as_bytes()).map(|_| ())
    }
}

/// `DIR/.ferrota/dashboard/installed.json`.
fn records_path(dir: &Path) -> PathBuf {
    dir.join(".ferrota").join("dashboard").join("installed.json")
}

/// The device configs in `dir`: `*.yaml` and `*.yml`, except `secrets.yaml` and hidden files.
pub fn config_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| compiler::is_config_name(name))
        .collect();
    files.sort();
    files
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn needs_update(device: &Device, installed: &BTreeMap<String, Installed>) -> bool {
    device.valid && installed.get(&device.file).is_none_or(|r| r.fingerprint != device.fingerprint)
}

/// Checks one config with the same engine as `ferrota config` (blocking; a few milliseconds).
pub fn check(dir: &Path, file: &str, installed: &BTreeMap<String, Installed>) -> Device {
    let path = dir.join(file);
    let mut device = Device {
        file: file.to_string(),
        name: None,
        friendly_name: None,
        platform: None,
        valid: false,
        diagnostics: Vec::new(),
        online: None,
        needs_update: false,
        address: None,
        fingerprint: String::new(),
        inputs: vec![(path.clone(), modified(&path))],
    };
    let checked = match compiler::check(&RealFs, &path, &LoadOptions::default()) {
        Ok(checked) => checked,
        Err(e) => {
            device.diagnostics.push(Problem {
                file: None,
                line: 1,
                column: 1,
                severity: Severity::Error,
                code: "io::read",
                message: format!("cannot read {file}: {e}"),
                help: None,
                fix: None,
            });
            return device;
        }
    };
    device.inputs = checked.sources.iter().map(|(_, f)| (f.path.clone(), modified(&f.path))).collect();
    device.diagnostics = problems(dir, &path, &checked.sources, &checked.diagnostics);
    device.valid = !checked.has_errors();
    device.fingerprint = fingerprint(&checked.sources);
    let settings = UploadSettings::from_config(&checked.config);
    let core = checked.config.get("esphome").and_then(|e| crate::config::read::<crate::components::core::EsphomeConfig>(e).ok());
    device.friendly_name = core.as_ref().map(|c| c.friendly_name).filter(|f| !f.is_empty()).map(str::to_owned);
    device.name = (!settings.name.is_empty()).then(|| settings.name.clone());
    device.platform = checked.config.target().map(str::to_owned);
    if device.valid {
        let host = if device.platform.as_deref() == Some("host") { "127.0.0.1".to_string() } else { settings.default_host() };
        device.address = settings.ota.as_ref().and_then(|ota| Some(Address { host, port: ota.port?, password: ota.password.clone() }));
    }
    device.needs_update = needs_update(&device, installed);
    device
}

/// Whether the config at `path` is valid and its problems, reading `text` in place of the
/// file when given (the editor's unsaved text).
pub fn check_text(dir: &Path, path: &Path, text: Option<&str>) -> (bool, Vec<Problem>) {
    let buffers: BTreeMap<PathBuf, String> = text.map(|t| (path.to_path_buf(), t.to_string())).into_iter().collect();
    match compiler::check(&crate::source::Overlay { buffers: &buffers }, path, &LoadOptions::default()) {
        Ok(checked) => (!checked.has_errors(), problems(dir, path, &checked.sources, &checked.diagnostics)),
        Err(e) => {
            let problem = Problem { file: None, line: 1, column: 1, severity: Severity::Error, code: "io::read", message: format!("cannot read it: {e}"), help: None, fix: None };
            (false, vec![problem])
        }
    }
}

/// The diagnostics as the page shows them, with every secret's value masked (a message may
/// quote a value, and values may come from `secrets.yaml`).
fn problems(dir: &Path, main: &Path, sources: &Sources, diagnostics: &[crate::diagnostics::Diagnostic]) -> Vec<Problem> {
    let secrets = secret_values(sources);
    let mask = |text: &str| secrets.iter().fold(text.to_string(), |t, s| t.replace(s.as_str(), "******"));
    diagnostics
        .iter()
        .map(|d| {
            let (file, line, column) = match d.span {
                Some(span) => {
                    let source = sources.get(span.file);
                    let lc = source.line_col(span.start as usize);
                    let file = (source.path != main).then(|| source.path.strip_prefix(dir).unwrap_or(&source.path).display().to_string());
                    (file, lc.line, lc.column)
                }
                None => (None, 1, 1),
            };
            let fix = d.fix.as_ref().and_then(|fix| quick_fix(sources, main, fix));
            Problem { file, line, column, severity: d.severity, code: d.code, message: mask(&d.message), help: d.help.as_deref().map(mask), fix }
        })
        .collect()
}

/// A fix whose edits are all in the config at `main`, as the editor applies it.
fn quick_fix(sources: &Sources, main: &Path, fix: &crate::diagnostics::Fix) -> Option<QuickFix> {
    let (title, edits) = crate::fixes::edits(sources, fix)?;
    let at = |file: &crate::source::SourceFile, offset: u32| {
        let (line, column) = file.position_utf16(offset as usize);
        [line, column]
    };
    let edits = edits
        .into_iter()
        .map(|e| {
            let file = sources.get(e.span.file);
            (file.path == main).then(|| QuickEdit { start: at(file, e.span.start), end: at(file, e.span.end), text: e.text })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(QuickFix { title, edits })
}

/// The values in every `secrets.yaml` the config read (long enough to mask without mangling
/// ordinary words).
fn secret_values(sources: &Sources) -> Vec<String> {
    let mut values = Vec::new();
    for (_, file) in sources.iter().filter(|(_, f)| f.path.file_name().is_some_and(|n| n == "secrets.yaml" || n == "secrets.yml")) {
        let mut scratch = Sources::default();
        let loaded = crate::yaml::parse_str(&mut scratch, &file.path, &file.text);
        for entry in loaded.root.as_map().unwrap_or_default() {
            if let Some(value) = entry.value.value.to_python_str().filter(|v| v.len() >= 4) {
                values.push(value);
            }
        }
    }
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values
}

/// A hash of ferrota's version and every file `sources` holds (path and text).
pub fn fingerprint(sources: &Sources) -> String {
    let mut hash = Sha256::new();
    hash.update(env!("CARGO_PKG_VERSION").as_bytes());
    for (_, file) in sources.iter() {
        hash.update(file.path.to_string_lossy().as_bytes());
        hash.update([0]);
        hash.update(file.text.as_bytes());
        hash.update([0]);
    }
    crate::upload::image::hex(&hash.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ferrota-fleet-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.canonicalize().unwrap()
    }

    #[test]
    fn scans_checks_and_follows_changes() {
        let dir = folder("scan");
        std::fs::write(dir.join("kitchen.yaml"), "esphome:\n  name: kitchen\n  friendly_name: Kitchen\nhost:\nota:\n  - platform: esphome\n    password: !secret ota\n").unwrap();
        std::fs::write(dir.join("secrets.yaml"), "ota: hunter2\n").unwrap();
        std::fs::write(dir.join("broken.yaml"), "esphome:\n  name: broken\nhost:\nlogger:\n  level: DEBUGG\n").unwrap();
        std::fs::write(dir.join(".hidden.yaml"), "esphome:\n").unwrap();
        let mut fleet = Fleet::new(dir.clone());
        assert!(fleet.scan());
        assert_eq!(fleet.devices.keys().collect::<Vec<_>>(), ["broken.yaml", "kitchen.yaml"]);
        let kitchen = fleet.devices["kitchen.yaml"].clone();
        assert!(kitchen.valid && kitchen.needs_update);
        assert_eq!((kitchen.name.as_deref(), kitchen.friendly_name.as_deref(), kitchen.platform.as_deref()), (Some("kitchen"), Some("Kitchen"), Some("host")));
        assert_eq!(kitchen.address, Some(Address { host: "127.0.0.1".into(), port: 8082, password: Some("hunter2".into()) }));
        let broken = &fleet.devices["broken.yaml"];
        assert!(!broken.valid && !broken.needs_update);
        assert_eq!((broken.diagnostics[0].line, broken.diagnostics[0].column), (5, 10));
        let fix = broken.diagnostics[0].fix.clone().expect("a quick fix");
        assert_eq!(fix.title, "Change `DEBUGG` to `DEBUG`");
        assert_eq!(fix.edits, [QuickEdit { start: [4, 9], end: [4, 15], text: "DEBUG".into() }]);
        assert!(!fleet.scan(), "nothing changed");

        // Installed: current until a file it reads changes (the secrets too).
        let record = Installed { fingerprint: kitchen.fingerprint.clone(), image_md5: "x".into(), at: 1 };
        fleet.record_install("kitchen.yaml", record).unwrap();
        assert!(!fleet.devices["kitchen.yaml"].needs_update);
        assert!(!Fleet::new(dir.clone()).installed.is_empty(), "the record is on disk");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.join("secrets.yaml"), "ota: hunter3\n").unwrap();
        assert!(fleet.scan());
        assert!(fleet.devices["kitchen.yaml"].needs_update);
        std::fs::remove_file(dir.join("broken.yaml")).unwrap();
        assert!(fleet.scan());
        assert_eq!(fleet.devices.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn secrets_never_reach_the_page() {
        let dir = folder("secrets");
        std::fs::write(dir.join("d.yaml"), "esphome:\n  name: d\nhost:\nlogger:\n  level: !secret level\n").unwrap();
        std::fs::write(dir.join("secrets.yaml"), "level: SHOUTING\n").unwrap();
        let device = check(&dir, "d.yaml", &BTreeMap::new());
        let text = serde_json::to_string(&device).unwrap();
        assert!(!device.valid);
        assert!(!text.contains("SHOUTING") && text.contains("******"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
