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
fn esphome_accepts(venv: &std::path::Path, file: &std::path::Path, substitutions: &[(String, String)]) -> (bool, String) {
    let mut command = Command::new(venv.join("bin/python"));
    command.arg("tests/oracle/esphome_verdicts.py");
    for (key, value) in substitutions {
        command.args(["-s", key, value]);
    }
    let out = command
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
                    let (ok, errors) = esphome_accepts(&venv, &f, &[]);
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
        // The known differences: ferrota accepts on purpose what ESPHome rejects (README,
        // "Compatibility with ESPHome"); each must still be one.
        if file.components().any(|c| c.as_os_str() == "differences") {
            assert!(!esphome_ok && ferrota_ok, "{} is no longer a difference (esphome accepts: {esphome_ok}, ferrota: {ferrota_ok})", file.display());
            continue;
        }
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

/// One package case laid out like ESPHome's component tests: `base.<platform>.yaml` pulls
/// `components/<name>/test.<platform>.yaml` in through `packages:`, named with `-s`.
struct PackageCase {
    base: PathBuf,
    substitutions: Vec<(String, String)>,
    test_file: PathBuf,
}

fn package_cases() -> Vec<PackageCase> {
    let dir = PathBuf::from("tests/corpus/packages");
    let mut cases = Vec::new();
    let mut components: Vec<PathBuf> = std::fs::read_dir(dir.join("components")).unwrap().flatten().map(|e| e.path()).collect();
    components.sort();
    for component in components {
        let name = component.file_name().unwrap().to_string_lossy().to_string();
        let mut tests: Vec<PathBuf> = std::fs::read_dir(&component).unwrap().flatten().map(|e| e.path()).collect();
        tests.sort();
        for test in tests {
            let file = test.file_name().unwrap().to_string_lossy().to_string();
            let Some(platform) = file.strip_prefix("test.").and_then(|f| f.strip_suffix(".yaml")) else { continue };
            let relative = format!("components/{name}/{file}");
            cases.push(PackageCase {
                base: dir.join(format!("base.{platform}.yaml")),
                substitutions: vec![("component_name".into(), name.clone()), ("component_test_file".into(), relative)],
                test_file: test,
            });
        }
    }
    cases
}

#[test]
fn package_configs_like_esphomes_component_tests() {
    let cases = package_cases();
    assert!(cases.len() >= 10, "the package corpus went missing");
    // ferrota's verdict first: it needs no reference and says which way each case must go.
    for case in &cases {
        let options = LoadOptions { substitutions: case.substitutions.clone() };
        let ours = check(&RealFs, &case.base, &options).expect("readable");
        let expected_valid = !case.test_file.to_string_lossy().contains("/invalid-");
        assert_eq!(
            !ours.has_errors(),
            expected_valid,
            "{} with {}: ferrota says\n{}",
            case.base.display(),
            case.test_file.display(),
            ferrota::diagnostics::render_terminal(&ours.sources, &ours.diagnostics, false)
        );
    }
    let Some(venv) = common::esphome_venv("package_configs_like_esphomes_component_tests") else { return };
    for case in &cases {
        let (esphome_ok, errors) = esphome_accepts(&venv, &case.base, &case.substitutions);
        let expected_valid = !case.test_file.to_string_lossy().contains("/invalid-");
        assert_eq!(esphome_ok, expected_valid, "ESPHome on {} with {}: {errors}", case.base.display(), case.test_file.display());
    }
}
