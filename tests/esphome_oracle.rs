//! Compatibility with the real ESPHome 2026.10: for every corpus file and example, `esphome`
//! and ferrota must both accept it or both reject it. Needs Python 3.12 and PyPI on first run
//! (the venv is cached); says SKIPPED when that can't be had, and fails instead in CI.

mod common;

use ferrota::compiler::check;
use ferrota::source::RealFs;
use ferrota::yaml::LoadOptions;
use std::path::PathBuf;
use std::process::Command;

/// ESPHome's verdict for one file, in a fresh process (its action registry would otherwise
/// carry over from one file to the next).
fn esphome_accepts(venv: &std::path::Path, file: &std::path::Path) -> (bool, String) {
    let out = Command::new(venv.join("bin/python"))
        .arg("tests/oracle/esphome_verdicts.py")
        .arg(file)
        .env_remove("FERROTA_TEST_UNSET_VARIABLE")
        .output()
        .expect("running the reference ESPHome");
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let verdict: serde_json::Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("no verdict for {}: {e}\n{line}\n{}", file.display(), String::from_utf8_lossy(&out.stderr)));
    (verdict["valid"] == true, verdict["errors"].to_string())
}

#[test]
fn ferrota_accepts_and_rejects_what_esphome_does() {
    let Some(venv) = common::esphome_venv("ferrota_accepts_and_rejects_what_esphome_does") else { return };
    let mut files: Vec<PathBuf> = common::configs("tests/corpus");
    files.extend(common::configs("examples"));
    let results: Vec<(PathBuf, bool, String)> = std::thread::scope(|s| {
        let chunks: Vec<Vec<PathBuf>> = files.chunks(files.len().div_ceil(2)).map(<[PathBuf]>::to_vec).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let venv = venv.clone();
                s.spawn(move || chunk.into_iter().map(|f| {
                    let (ok, errors) = esphome_accepts(&venv, &f);
                    (f, ok, errors)
                }).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("oracle thread")).collect()
    });
    let mut disagreements = Vec::new();
    for (file, esphome_ok, esphome_errors) in &results {
        let ours = check(&RealFs, file, &LoadOptions::default()).expect("readable");
        let ferrota_ok = !ours.has_errors();
        if ferrota_ok != *esphome_ok {
            let our_errors: Vec<&str> = ours.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.as_str()).collect();
            disagreements.push(format!(
                "{}: esphome {} {esphome_errors}, ferrota {} {our_errors:?}",
                file.display(),
                if *esphome_ok { "accepts" } else { "rejects" },
                if ferrota_ok { "accepts" } else { "rejects" },
            ));
        }
        let expected_valid = !file.components().any(|c| c.as_os_str() == "invalid");
        assert_eq!(*esphome_ok, expected_valid, "{} is in the wrong corpus folder for ESPHome: {esphome_errors}", file.display());
    }
    assert!(disagreements.is_empty(), "ferrota and ESPHome disagree on {} file(s):\n{}", disagreements.len(), disagreements.join("\n"));
}
