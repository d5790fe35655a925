//! Golden snapshots of the code `ferrota compile` generates for every example (or of the
//! diagnostics for the targets it refuses), so any change to the generated Rust is reviewed.

mod common;

use ferrota::codegen::{self, templates, Options};
use ferrota::compiler;
use ferrota::diagnostics::render_terminal;
use ferrota::source::RealFs;
use ferrota::yaml::LoadOptions;
use std::path::PathBuf;

/// A fixed runtime path, so snapshots don't depend on where the checkout is.
const RUNTIME: &str = "/path/to/ferrota/runtime";

fn generated(config: &std::path::Path, out: &common::TempDir) -> String {
    let checked = compiler::check(&RealFs, config, &LoadOptions::default()).unwrap();
    let options = Options { out_dir: out.0.clone(), runtime: PathBuf::from(RUNTIME) };
    match codegen::generate(&checked, &options) {
        Ok(generated) => {
            let mut text = String::new();
            for file in templates::files(generated.target.templates) {
                let content = std::fs::read_to_string(out.0.join(file.output)).unwrap();
                text.push_str(&format!("===== {} =====\n{content}", file.output));
            }
            text
        }
        Err(diagnostics) => render_terminal(&checked.sources, &diagnostics, false),
    }
}

#[test]
fn every_example() {
    let configs = common::configs("examples");
    assert!(configs.len() >= 6, "examples: {configs:?}");
    for config in configs {
        let name = config.file_stem().unwrap().to_str().unwrap().to_string();
        let out = common::TempDir::new(&format!("snap-{name}"));
        insta::assert_snapshot!(name, generated(&config, &out));
    }
}

#[test]
fn generation_is_deterministic_and_writes_only_changes() {
    let out = common::TempDir::new("snap-rewrite");
    let config = std::path::Path::new("examples/host/host-device.yaml");
    let checked = compiler::check(&RealFs, config, &LoadOptions::default()).unwrap();
    let options = Options { out_dir: out.0.clone(), runtime: PathBuf::from(RUNTIME) };
    let first = codegen::generate(&checked, &options).unwrap();
    assert_eq!(first.written.len(), 4);
    let again = codegen::generate(&checked, &options).unwrap();
    assert!(again.written.is_empty(), "{:?}", again.written);
    assert_eq!(again.unchanged, 4);
    // Another runtime path changes Cargo.toml only.
    let moved = Options { runtime: PathBuf::from("/elsewhere/runtime"), ..options };
    let changed = codegen::generate(&checked, &moved).unwrap();
    assert_eq!(changed.written, vec![PathBuf::from("Cargo.toml")]);
}
