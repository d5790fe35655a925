//! A diagnostic's [`Fix`] as text edits: what `ferrota lsp` offers as quick fixes.
//!
//! Fixes are found where the problem is found (the validator knows the suggestion); turning
//! them into edits needs the text around them (indentation, the line to delete, where the
//! target component is), so that happens here, once, for every front end.

use crate::diagnostics::Fix;
use crate::source::{FileId, SourceFile, Sources, Span};

/// One replacement of `span` by `text` (an insertion when `span` is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub span: Span,
    pub text: String,
}

/// The fix's title and its edits (sorted, non-overlapping), or `None` when the text around it
/// is written in a way the fix can't safely change (a flow mapping, a key after `- `).
pub fn edits(sources: &Sources, fix: &Fix) -> Option<(String, Vec<Edit>)> {
    match fix {
        Fix::Replace { span, text } => {
            let old = sources.text(*span);
            let title = if old.is_empty() { format!("Insert `{text}`") } else { format!("Change `{old}` to `{text}`") };
            Some((title, vec![Edit { span: *span, text: text.clone() }]))
        }
        Fix::Move { entry, to } => move_to(sources, *entry, to),
        Fix::ToPlatformList { value, platform } => to_platform_list(sources.get(value.file), *value, platform),
    }
}

/// Deletes the entry's lines and writes it under the top-level `to:` (added when missing).
fn move_to(sources: &Sources, entry: Span, to: &str) -> Option<(String, Vec<Edit>)> {
    let file = sources.get(entry.file);
    let text = &file.text;
    let start = file.line_start(file.line_index(entry.start as usize));
    let indent = entry.start as usize - start;
    if !text[start..entry.start as usize].chars().all(|c| c == ' ') {
        return None;
    }
    let end = line_end(text, entry.end as usize);
    let written = &text[entry.start as usize..end];
    let (key, value) = written.split_once(':')?;
    let key = key.trim();
    // The lines to write under `to:`, indented by two. A boolean named like the component
    // turned it on or off: the component's presence (or `disabled: true`) says that now.
    let body: Vec<String> = if key == to {
        match value.trim() {
            "false" | "False" | "no" | "off" => vec!["disabled: true".into()],
            _ => Vec::new(),
        }
    } else {
        written.lines().enumerate().map(|(i, l)| if i == 0 { l.to_string() } else { dedent(l, indent).to_string() }).collect()
    };
    let under: String = body.iter().map(|l| format!("  {l}\n")).collect();
    let main = sources.get(FileId(0));
    let header = main.text.split_inclusive('\n').scan(0, |at, l| {
        let here = *at;
        *at += l.len();
        Some((here, l))
    });
    let mut edits = vec![Edit { span: Span::new(entry.file, start, end), text: String::new() }];
    match header.into_iter().find(|(_, l)| l.strip_prefix(to).is_some_and(|r| r.starts_with(':'))) {
        Some((at, line)) => {
            let rest = line[to.len() + 1..].trim();
            if !(rest.is_empty() || rest.starts_with('#')) {
                return None;
            }
            if !under.is_empty() {
                edits.push(Edit { span: Span::point(FileId(0), line_end(&main.text, at)), text: under });
            }
        }
        None => {
            let newline = if main.text.is_empty() || main.text.ends_with('\n') { "" } else { "\n" };
            edits.push(Edit { span: Span::point(FileId(0), main.text.len()), text: format!("{newline}{to}:\n{under}") });
        }
    }
    edits.sort_by_key(|e| (e.span.file, e.span.start));
    Some((format!("Move `{key}` to the top-level `{to}:`"), edits))
}

/// `ota:` written as one mapping becomes a list of one entry that starts with `platform:`.
fn to_platform_list(file: &SourceFile, value: Span, platform: &str) -> Option<(String, Vec<Edit>)> {
    let text = &file.text;
    let title = format!("Write it as a list entry: `- platform: {platform}`");
    let at = |start: usize, end: usize, text: String| Edit { span: Span::new(value.file, start, end), text };
    let written = &text[value.range()];
    if written.starts_with('{') && written.ends_with('}') {
        let inner = written[1..written.len() - 1].trim();
        let open = if inner.is_empty() { format!("[{{platform: {platform}") } else { format!("[{{platform: {platform}, ") };
        let (start, end) = (value.start as usize, value.end as usize);
        return Some((title, vec![at(start, start + 1, open), at(end, end, "]".into())]));
    }
    let first = file.line_start(file.line_index(value.start as usize));
    let indent = &text[first..value.start as usize];
    if !indent.chars().all(|c| c == ' ') {
        return None;
    }
    let last = file.line_index(value.end.saturating_sub(1).max(value.start) as usize);
    let mut edits = vec![at(first, first, format!("{indent}- platform: {platform}\n  "))];
    for line in file.line_index(first) + 1..=last {
        let start = file.line_start(line);
        if !text[start..line_end(text, start)].trim().is_empty() {
            edits.push(at(start, start, "  ".into()));
        }
    }
    Some((title, edits))
}

/// The offset just past the line break of the line holding `offset` (or the text's end).
fn line_end(text: &str, offset: usize) -> usize {
    text[offset..].find('\n').map_or(text.len(), |i| offset + i + 1)
}

fn dedent(line: &str, indent: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(indent)..]
}

/// `text` with `edits` applied (for tests and `ferrota config --fix`-like tools).
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for e in edits {
        out.push_str(&text[at..e.span.start as usize]);
        out.push_str(&e.text);
        at = e.span.end as usize;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemoryFs;
    use std::path::Path;

    /// The config after applying the fix of its first diagnostic that has one, and the title.
    fn fixed(text: &str) -> (String, String) {
        let fs = MemoryFs::default().with("device.yaml", text);
        let checked = crate::compiler::check(&fs, Path::new("device.yaml"), &Default::default()).unwrap();
        let fix = checked.diagnostics.iter().find_map(|d| d.fix.clone()).unwrap_or_else(|| panic!("no fix in {:#?}", checked.diagnostics));
        let (title, edits) = edits(&checked.sources, &fix).expect("the fix applies");
        assert!(edits.iter().all(|e| e.span.file == FileId(0)));
        (apply(text, &edits), title)
    }

    fn valid(text: &str) -> bool {
        let fs = MemoryFs::default().with("device.yaml", text);
        !crate::compiler::check(&fs, Path::new("device.yaml"), &Default::default()).unwrap().has_errors()
    }

    const HEAD: &str = "esphome:\n  name: fix-me\nhost:\n";

    #[test]
    fn renames_misspelt_keys_values_and_components() {
        let (text, title) = fixed(&format!("{HEAD}ota:\n  - platform: esphome\n    pasword: x\n"));
        assert_eq!(text, format!("{HEAD}ota:\n  - platform: esphome\n    password: x\n"));
        assert_eq!(title, "Change `pasword` to `password`");
        let (text, _) = fixed(&format!("{HEAD}logger:\n  level: \"DEBUGG\"\n"));
        assert_eq!(text, format!("{HEAD}logger:\n  level: DEBUG\n"));
        assert!(valid(&text));
        assert_eq!(fixed(&format!("{HEAD}loger:\n")).0, format!("{HEAD}logger:\n"));
        assert_eq!(fixed(&format!("{HEAD}ota:\n  - platform: esphom\n")).0, format!("{HEAD}ota:\n  - platform: esphome\n"));
        let lambda = "esphome:\n  name: fix-me\n  on_boot:\n    - lambda: id(my_otaa).set_auth_password(\"x\");\nhost:\nota:\n  - platform: esphome\n    id: my_ota\n";
        let (text, _) = fixed(lambda);
        assert!(text.contains("id(my_ota).set_auth_password") && valid(&text), "{text}");
    }

    #[test]
    fn moves_safe_mode_keys_to_their_component() {
        let ota = format!("{HEAD}ota:\n  - platform: esphome\n    num_attempts: 5\n    port: 8082\n");
        let (text, title) = fixed(&ota);
        assert_eq!(text, format!("{HEAD}ota:\n  - platform: esphome\n    port: 8082\nsafe_mode:\n  num_attempts: 5\n"));
        assert_eq!(title, "Move `num_attempts` to the top-level `safe_mode:`");
        assert!(valid(&text));
        // Into the component where it is already written; `safe_mode: false` turns it off.
        let both = format!("{HEAD}safe_mode:\n  boot_is_good_after: 2min\nota:\n  - platform: esphome\n    safe_mode: false\n");
        let (text, _) = fixed(&both);
        assert_eq!(text, format!("{HEAD}safe_mode:\n  disabled: true\n  boot_is_good_after: 2min\nota:\n  - platform: esphome\n"));
        assert!(valid(&text));
        let on = format!("{HEAD}ota:\n  - platform: esphome\n    safe_mode: true\n    reboot_timeout: 10min\n");
        let (text, _) = fixed(&on);
        assert_eq!(text, format!("{HEAD}ota:\n  - platform: esphome\n    reboot_timeout: 10min\nsafe_mode:\n"));
        let (text, _) = fixed(&text);
        assert_eq!(text, format!("{HEAD}ota:\n  - platform: esphome\nsafe_mode:\n  reboot_timeout: 10min\n"));
        assert!(valid(&text));
    }

    #[test]
    fn writes_the_old_ota_mapping_as_a_list() {
        let old = format!("{HEAD}ota:\n  password: abc\n\n  # why\n  port: 8082\nlogger:\n");
        let (text, title) = fixed(&old);
        assert_eq!(text, format!("{HEAD}ota:\n  - platform: esphome\n    password: abc\n\n    # why\n    port: 8082\nlogger:\n"));
        assert_eq!(title, "Write it as a list entry: `- platform: esphome`");
        assert!(valid(&text));
        let flow = format!("{HEAD}ota: {{password: abc}}\n");
        assert_eq!(fixed(&flow).0, format!("{HEAD}ota: [{{platform: esphome, password: abc}}]\n"));
        assert!(valid(&fixed(&flow).0));
    }
}
