//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The config files of the corpus (and examples) under `dir`, sorted; secrets and included
/// parts are not configs of their own.
pub fn configs(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walk(Path::new(dir))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "secrets.yaml"))
        .filter(|p| !p.components().any(|c| c.as_os_str() == "parts"))
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())).flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The reference ESPHome venv, installed on first use by `scripts/esphome-venv`. `None` (with
/// a `SKIPPED` line) when it can't be had, unless `FERROTA_REQUIRE_ESPHOME=1` (CI), which fails.
pub fn esphome_venv(test: &str) -> Option<PathBuf> {
    let out = Command::new("bash").arg("scripts/esphome-venv").output();
    match out {
        Ok(o) if o.status.success() => Some(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())),
        other => {
            let why = match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            };
            if std::env::var("FERROTA_REQUIRE_ESPHOME").as_deref() == Ok("1") {
                panic!("{test}: the reference ESPHome is required (FERROTA_REQUIRE_ESPHOME=1) but unavailable: {why}");
            }
            eprintln!("SKIPPED {test}: reference ESPHome 2026.10.0 unavailable ({why})");
            None
        }
    }
}
