//! What `ferrota compile` stops on is already in the check (`ferrota config`, the language
//! server), at the same place, as a warning that says `compile` will refuse it; and a config
//! the check lets through without such a warning generates.

mod common;

use ferrota::codegen::{self, Options};
use ferrota::compiler;
use ferrota::diagnostics::Diagnostic;
use ferrota::source::RealFs;
use ferrota::yaml::LoadOptions;
use std::path::PathBuf;

/// The examples and the valid corpus: every config ESPHome accepts that ferrota ships.
fn configs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("examples")
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("secrets.yaml"))
        .collect();
    files.extend(common::configs("tests/corpus/valid"));
    files.sort();
    files
}

/// A diagnostic's code and place, comparable.
fn key(d: &Diagnostic) -> String {
    format!("{} {:?}", d.code, d.span)
}

#[test]
fn every_compile_error_is_a_check_warning_at_the_same_place() {
    let mut refused = 0;
    for path in configs() {
        let checked = compiler::check(&RealFs, &path, &LoadOptions::default()).unwrap();
        assert!(!checked.has_errors(), "{} is valid", path.display());
        let mut will_refuse: Vec<_> = checked.diagnostics.iter().filter(|d| d.message.starts_with("`ferrota compile` will refuse this: ")).map(key).collect();
        will_refuse.sort();
        let dir = common::TempDir::new("check-agrees");
        match codegen::generate(&checked, &Options { out_dir: dir.path("out"), runtime: PathBuf::from("/ferrota/runtime") }) {
            Ok(_) => assert!(will_refuse.is_empty(), "{}: the check says compile refuses {will_refuse:?}, but it generates", path.display()),
            Err(diagnostics) => {
                refused += 1;
                let mut errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).map(key).collect();
                errors.sort();
                assert!(!errors.is_empty());
                assert_eq!(will_refuse, errors, "{}: the check's warnings and compile's errors differ", path.display());
                // And compile's error says the same as the warning, less the preface.
                for d in diagnostics.iter().filter(|d| d.is_error()) {
                    assert!(checked.diagnostics.iter().any(|w| w.message == format!("`ferrota compile` will refuse this: {}", d.message)), "{}: {}", path.display(), d.message);
                }
            }
        }
    }
    assert!(refused >= 3, "the corpus has configs compile refuses (esp8266, bk72xx, unsupported actions): {refused}");
}
