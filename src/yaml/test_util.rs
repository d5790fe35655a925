//! Helpers for the loader's tests: load from a [`MemoryFs`], and print places and problems as
//! `file:line:col` so assertions read like the terminal output.

use super::{load, LoadOptions, Loaded, Node, Value};
use crate::source::{MemoryFs, Sources, Span};
use std::path::Path;

pub fn load_files(files: &[(&str, &str)], options: &LoadOptions) -> (Sources, Loaded) {
    let mut fs = MemoryFs::default();
    for (path, text) in files {
        fs = fs.with(*path, *text);
    }
    load_fs(&fs, files[0].0, options)
}

pub fn load_fs(fs: &MemoryFs, main: &str, options: &LoadOptions) -> (Sources, Loaded) {
    let mut sources = Sources::default();
    let loaded = load(fs, &mut sources, Path::new(main), options).expect("main file exists");
    (sources, loaded)
}

/// Loads one text as `device.yaml`.
pub fn load_text(text: &str) -> (Sources, Loaded) {
    load_files(&[("device.yaml", text)], &LoadOptions::default())
}

/// `file:line:col` of a span's start.
pub fn at(sources: &Sources, span: Span) -> String {
    let file = sources.get(span.file);
    let lc = file.line_col(span.start as usize);
    format!("{}:{}:{}", file.path.display(), lc.line, lc.column)
}

/// Every diagnostic as `code file:line:col message`.
pub fn problems(sources: &Sources, loaded: &Loaded) -> Vec<String> {
    loaded
        .diagnostics
        .iter()
        .map(|d| match d.span {
            Some(span) => format!("{} {} {}", d.code, at(sources, span), d.message),
            None => format!("{} - {}", d.code, d.message),
        })
        .collect()
}

/// The node at a path of keys and list indexes, e.g. `["wifi", "0", "ssid"]`.
pub fn get<'n>(node: &'n Node, path: &[&str]) -> &'n Node {
    path.iter().fold(node, |n, step| match &n.value {
        Value::Seq(items) => &items[step.parse::<usize>().expect("index")],
        _ => n.get(step).unwrap_or_else(|| panic!("no {step:?} in {n:?}")),
    })
}

/// The keys of a mapping, in order.
pub fn keys(node: &Node) -> Vec<&str> {
    node.as_map().expect("a mapping").iter().map(|e| e.key.as_str().expect("string key")).collect()
}
