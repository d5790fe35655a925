//! Any bytes as a device configuration: loading and validating must never panic, hang or blow
//! up, every span reported must lie inside its file on character boundaries, and a config
//! without errors must print.
//!
//! The input is split at NUL bytes into the main file, `secrets.yaml` and an include file
//! (`inc.yaml`, also `dir/a.yaml`), so one input can exercise tags across files.

#![no_main]

use ferrota::compiler::check;
use ferrota::diagnostics::{render_terminal, to_json};
use ferrota::source::{MemoryFs, Sources, Span};
use ferrota::yaml::{load, LoadOptions, Node, Value};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let mut fs = MemoryFs::default().with("device.yaml", parts.next().unwrap_or_default());
    if let Some(secrets) = parts.next() {
        fs = fs.with("secrets.yaml", secrets);
    }
    if let Some(included) = parts.next() {
        fs = fs.with("inc.yaml", included).with("dir/a.yaml", included);
    }
    fs.env.insert("HOME".into(), "/home/fuzz".into());
    let options = LoadOptions { substitutions: vec![("cli".into(), "from ${cli2}".into())] };

    let mut sources = Sources::default();
    let loaded = load(&fs, &mut sources, Path::new("device.yaml"), &options).expect("the main file exists");

    check_node(&sources, &loaded.root);
    for d in &loaded.diagnostics {
        d.span.into_iter().chain(d.related.iter().map(|l| l.span)).for_each(|s| check_span(&sources, s));
    }
    // Rendering must cope with every span too.
    render_terminal(&sources, &loaded.diagnostics, false);

    // The whole front half: load and validate.
    let checked = check(&fs, Path::new("device.yaml"), &options).expect("the main file exists");
    for d in &checked.diagnostics {
        d.span.into_iter().chain(d.related.iter().map(|l| l.span)).for_each(|s| check_span(&checked.sources, s));
        let _ = to_json(&checked.sources, d);
    }
    render_terminal(&checked.sources, &checked.diagnostics, false);
    if !checked.has_errors() {
        assert!(checked.config.get("esphome").is_some(), "a valid config has `esphome:`");
        let _ = checked.config.to_yaml(false);
    }
});

fn check_span(sources: &Sources, span: Span) {
    let text = &sources.get(span.file).text;
    assert!(span.start <= span.end, "{span:?}");
    assert!(text.get(span.range()).is_some(), "{span:?} is not inside its file or not on char boundaries");
}

fn check_node(sources: &Sources, node: &Node) {
    check_span(sources, node.span);
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|n| check_node(sources, n)),
        Value::Map(entries) => {
            let mut keys = std::collections::HashSet::new();
            for e in entries {
                check_node(sources, &e.key);
                check_node(sources, &e.value);
                assert!(keys.insert(e.key.as_str().expect("keys are strings")), "duplicate key after loading");
            }
        }
        _ => {}
    }
}
