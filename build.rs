//! Embeds every schema file under `schema/` so that adding a component is adding one file:
//! its text, and its structure already parsed (see `src/schema/compiled.rs`), so a run of
//! `ferrota config` doesn't spend most of its time parsing the schemas it needs.

use saphyr_parser::{Event, Parser, ScalarStyle};
use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    let mut out = String::from("/// Every schema file: (name relative to `schema/` without `.yaml`, text, compact tree).\n");
    out.push_str("pub const SCHEMA_FILES: &[(&str, &str, &str)] = &[\n");
    for (name, path) in files {
        let text = std::fs::read_to_string(&path).expect("schema file is readable");
        let tree = compact(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let _ = writeln!(out, "    ({name:?}, include_str!({path:?}), {tree:?}),");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("schema_files.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        println!("cargo:rerun-if-changed={}", path.display());
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            let rel = path.strip_prefix(root).expect("under root").with_extension("");
            let name = rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
            files.push((name, path.display().to_string()));
        }
    }
}

/// The YAML's structure as `src/schema/compiled.rs` reads it: `M<n>;` a mapping of n pairs,
/// `L<n>;` a list of n items, `P<len>;text` a plain scalar, `Q<len>;text` any other scalar
/// (lengths in bytes). Scalars are not typed here: the crate resolves them as its loader does.
/// Schema files use no tags, anchors or aliases; one that does is refused.
fn compact(text: &str) -> Result<String, String> {
    let mut events = Parser::new_from_str(text).map(|e| e.map(|(event, _)| event).map_err(|e| e.to_string()));
    let mut out = String::new();
    loop {
        match events.next().transpose()? {
            None => return Ok(if out.is_empty() { "P0;".into() } else { out }),
            Some(Event::DocumentStart(_)) if out.is_empty() => match events.next().transpose()? {
                Some(Event::DocumentEnd) | None => out.push_str("P0;"),
                Some(first) => node(first, &mut events, &mut out)?,
            },
            Some(Event::DocumentStart(_)) => return Err("more than one document".into()),
            Some(_) => {}
        }
    }
}

fn node<'a>(event: Event<'a>, events: &mut impl Iterator<Item = Result<Event<'a>, String>>, out: &mut String) -> Result<(), String> {
    let mut children = String::new();
    let mut count = 0;
    let (kind, end) = match event {
        Event::Scalar(value, style, anchor, tag) => {
            if anchor != 0 || tag.is_some() {
                return Err(format!("tags and anchors are not used in schema/ (at `{value}`)"));
            }
            let kind = if style == ScalarStyle::Plain { 'P' } else { 'Q' };
            let _ = write!(out, "{kind}{};{value}", value.len());
            return Ok(());
        }
        Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) if anchor != 0 || tag.is_some() => {
            return Err("tags and anchors are not used in schema/".into());
        }
        Event::SequenceStart(..) => ('L', 1),
        Event::MappingStart(..) => ('M', 2),
        other => return Err(format!("unexpected {other:?}")),
    };
    loop {
        match events.next().transpose()? {
            Some(Event::SequenceEnd | Event::MappingEnd) => break,
            Some(e) => {
                node(e, events, &mut children)?;
                count += 1;
            }
            None => return Err("unexpected end".into()),
        }
    }
    let _ = write!(out, "{kind}{};{children}", count / end);
    Ok(())
}
