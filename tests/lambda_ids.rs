//! Each `id(x)` in a lambda is reported at its own place: two uses of one name at two places,
//! and `id(foo)` never at the `id(foobar)` before it, in quoted and block lambdas alike.

use ferrota::compiler;
use ferrota::source::MemoryFs;
use ferrota::yaml::LoadOptions;
use std::path::Path;

/// `(line, column)` of every unknown-ID error.
fn unknown_ids(yaml: &str) -> Vec<(String, usize, usize)> {
    let fs = MemoryFs::default().with("/d/l.yaml", yaml);
    let checked = compiler::check(&fs, Path::new("/d/l.yaml"), &LoadOptions::default()).unwrap();
    checked
        .diagnostics
        .iter()
        .filter(|d| d.message.starts_with("Couldn't find ID"))
        .map(|d| {
            let span = d.span.unwrap();
            let at = checked.sources.get(span.file).line_col(span.start as usize);
            (checked.sources.text(span).to_string(), at.line, at.column)
        })
        .collect()
}

#[test]
fn block_lambda() {
    let yaml = "esphome:\n  name: t\n  on_boot:\n    - lambda: |-\n        id(foobar).x();\n        id(foo).y();\n        id(foo).z();\nhost:\n";
    assert_eq!(unknown_ids(yaml), [("id(foobar)".into(), 5, 9), ("id(foo)".into(), 6, 9), ("id(foo)".into(), 7, 9)]);
}

#[test]
fn quoted_lambda() {
    let yaml = "esphome:\n  name: t\n  on_boot:\n    - lambda: \"id(foobar).x(); id(foo).y(); id(foo).z();\"\nhost:\n";
    assert_eq!(unknown_ids(yaml), [("id(foobar)".into(), 4, 16), ("id(foo)".into(), 4, 32), ("id(foo)".into(), 4, 45)]);
}

/// The code generator's own verdicts on a reference (here: a component its lambdas can't reach)
/// point at the `id(…)` too, in `logger.log` arguments as in lambdas.
#[test]
fn unreachable_component_in_log_args() {
    let yaml = "esphome:\n  name: t\n  on_boot:\n    - logger.log:\n        format: \"%d\"\n        args: [ 'id(my_log).x' ]\nhost:\nlogger:\n  id: my_log\n";
    let fs = MemoryFs::default().with("/d/l.yaml", yaml);
    let checked = compiler::check(&fs, Path::new("/d/l.yaml"), &LoadOptions::default()).unwrap();
    let d = checked.diagnostics.iter().find(|d| d.message.contains("`id(my_log)` names a `logger` component")).unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
    let span = d.span.unwrap();
    let at = checked.sources.get(span.file).line_col(span.start as usize);
    assert_eq!((checked.sources.text(span), at.line, at.column), ("id(my_log)", 6, 18));
}
