//! Configs people published (`../shared/corpus/real-world`, beside the checkout): ferrota must
//! reach ESPHome 2026.10's verdict on each (`esphome.rc`, recorded with the real ESPHome in the
//! case's folder). A case with an `unchecked` file is one ESPHome rejects only for a component
//! ferrota does not check yet (the file says which): ferrota may accept it.

use ferrota::compiler::check;
use ferrota::diagnostics::render_terminal;
use ferrota::source::RealFs;
use ferrota::yaml::LoadOptions;
use std::path::{Path, PathBuf};

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/real-world");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(std::env::var_os("CI").is_none(), "{} is missing (CI lays shared/ beside the checkout)", dir.display());
    eprintln!("SKIPPED: no {}", dir.display());
    None
}

#[test]
fn ferrota_reaches_esphomes_verdict_on_published_configs() {
    let Some(dir) = corpus() else { return };
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.join("device.yaml").is_file()).collect();
    cases.sort();
    assert!(cases.len() >= 29, "the real-world corpus went missing: {} cases", cases.len());
    let mut disagreements = Vec::new();
    for case in &cases {
        let rc = std::fs::read_to_string(case.join("esphome.rc")).expect("esphome.rc");
        let esphome_valid = rc.trim() == "0";
        let checked = check(&RealFs, &case.join("device.yaml"), &LoadOptions::default()).expect("device.yaml is readable");
        let ferrota_valid = !checked.has_errors();
        let may_accept = case.join("unchecked").is_file() && !esphome_valid;
        if ferrota_valid != esphome_valid && !(may_accept && ferrota_valid) {
            disagreements.push(format!(
                "{}: ESPHome {}, ferrota {}\n{}",
                case.file_name().unwrap().to_string_lossy(),
                if esphome_valid { "accepts" } else { "rejects" },
                if ferrota_valid { "accepts" } else { "rejects" },
                render_terminal(&checked.sources, &checked.diagnostics, false)
            ));
        }
    }
    assert!(disagreements.is_empty(), "{} of {} cases disagree:\n{}", disagreements.len(), cases.len(), disagreements.join("\n"));
}
