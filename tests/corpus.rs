//! The config corpus: every file in `tests/corpus/valid` validates (its output is a golden
//! snapshot), every file in `tests/corpus/invalid` fails with golden diagnostics, rendered for
//! the terminal and as JSON.

mod common;

use ferrota::compiler::check;
use ferrota::diagnostics::{render_terminal, to_json};
use ferrota::source::RealFs;
use ferrota::yaml::LoadOptions;

fn snapshot_name(path: &std::path::Path) -> String {
    path.with_extension("").to_string_lossy().replace(['/', '\\'], "__")
}

#[test]
fn valid_configs_validate_with_golden_output() {
    let mut files = common::configs("tests/corpus/valid");
    assert!(files.len() >= 20, "the valid corpus went missing");
    // What ferrota accepts on purpose where ESPHome does not (tests/esphome_oracle.rs).
    files.extend(common::configs("tests/corpus/differences"));
    for path in files {
        let checked = check(&RealFs, &path, &LoadOptions::default()).expect("corpus file is readable");
        let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(
            errors.is_empty(),
            "{} should be valid:\n{}",
            path.display(),
            render_terminal(&checked.sources, &checked.diagnostics, false)
        );
        let warnings = render_terminal(&checked.sources, &checked.diagnostics, false);
        insta::assert_snapshot!(snapshot_name(&path), format!("{}{warnings}", checked.config.to_yaml(false)));
    }
}

#[test]
fn invalid_configs_fail_with_golden_diagnostics() {
    let files = common::configs("tests/corpus/invalid");
    assert!(files.len() >= 40, "the invalid corpus went missing");
    for path in files {
        let checked = check(&RealFs, &path, &LoadOptions::default()).expect("corpus file is readable");
        assert!(checked.has_errors(), "{} should be invalid", path.display());
        let json: Vec<_> = checked.diagnostics.iter().map(|d| to_json(&checked.sources, d)).collect();
        let text = format!(
            "{}\n---- json ----\n{}",
            render_terminal(&checked.sources, &checked.diagnostics, false),
            serde_json::to_string_pretty(&json).unwrap()
        );
        insta::assert_snapshot!(snapshot_name(&path), text);
    }
}

#[test]
fn examples_are_valid() {
    let files = common::configs("examples");
    assert!(files.len() >= 6, "examples went missing");
    for path in files {
        let checked = check(&RealFs, &path, &LoadOptions::default()).expect("example is readable");
        assert!(!checked.has_errors(), "{}:\n{}", path.display(), render_terminal(&checked.sources, &checked.diagnostics, false));
    }
}
