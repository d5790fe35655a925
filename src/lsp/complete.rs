//! Completion at the cursor: the keys the schema allows there (with type, default and docs),
//! enum and `platform:` values, action names, declared IDs (in `id(…)` and ID-typed keys),
//! `!secret` names from the `secrets.yaml` the loader would read, and files after `!include`.

use super::{range, State};
use crate::source::Overlay;
use crate::schema::cursor::{self, platform_name, At};
use crate::schema::docs;
use crate::schema::model::{KeySchema, Type};
use crate::schema::Registry;
use crate::source::{FileSystem, Sources, Span};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionParams, CompletionResponse, CompletionTextEdit, Documentation, MarkupContent,
    MarkupKind, TextEdit,
};
use std::path::{Path, PathBuf};

/// Stands in for the word being typed, so that a half-written line still parses as a key.
const MARK: &str = "ferrotaCompletionMark";

/// Top-level keys the loader handles itself (they are not components).
const LOADER_KEYS: &[(&str, &str)] = &[
    ("substitutions", "Variables for `${name}` in the rest of the config."),
    ("packages", "Configs merged into this one: `name: !include file.yaml`, or remote packages."),
];

impl State {
    pub(super) fn complete(&self, params: &CompletionParams) -> Option<CompletionResponse> {
        let at = &params.text_document_position;
        let path = super::uri_to_path(&at.text_document.uri);
        let text = self.buffers.get(&path)?;
        let mut sources = Sources::default();
        let file = sources.add(path.clone(), text.clone());
        let offset = sources.get(file).offset_of_utf16(at.position.line as usize, at.position.character as usize);
        let line_start = sources.get(file).line_start(sources.get(file).line_index(offset));
        let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        let before = &text[line_start..offset];
        let word = |is_word: fn(char) -> bool| {
            let start = offset - before.chars().rev().take_while(|c| is_word(*c)).map(char::len_utf8).sum::<usize>();
            let end = offset + text[offset..line_end].chars().take_while(|c| is_word(*c)).map(char::len_utf8).sum::<usize>();
            Span::new(file, start, end)
        };
        let edit = |span: Span, label: &str| Some(CompletionTextEdit::Edit(TextEdit::new(range(&sources, span), label.to_string())));
        let items: Vec<CompletionItem> = if let Some(partial) = after_tag(before, "!include") {
            let typed = word(|c| !c.is_whitespace() && c != '/' && c != '"' && c != '\'');
            self.include_files(&path, partial)
                .into_iter()
                .map(|(label, dir)| CompletionItem {
                    text_edit: edit(typed, &label),
                    kind: Some(if dir { CompletionItemKind::FOLDER } else { CompletionItemKind::FILE }),
                    label,
                    ..CompletionItem::default()
                })
                .collect()
        } else if after_tag(before, "!secret").is_some() {
            let typed = word(is_name_char);
            self.secret_names(&path)
                .into_iter()
                .map(|(name, secrets)| CompletionItem {
                    text_edit: edit(typed, &name),
                    label: name,
                    kind: Some(CompletionItemKind::CONSTANT),
                    detail: Some(format!("from {}", secrets.display())),
                    ..CompletionItem::default()
                })
                .collect()
        } else if in_id_call(before) {
            let typed = word(is_name_char);
            self.ids(&path, None)
                .into_iter()
                .map(|(name, class)| CompletionItem {
                    text_edit: edit(typed, &name),
                    label: name,
                    kind: Some(CompletionItemKind::VARIABLE),
                    detail: Some(class),
                    ..CompletionItem::default()
                })
                .collect()
        } else {
            let typed = word(is_key_char);
            let key_position = before.trim_start().trim_start_matches("- ").chars().all(is_key_char)
                && !text[offset..line_end].contains(':')
                && !before.trim_start().starts_with('#');
            // A half-written key becomes `wordMARK:` so the line parses as the mapping entry it
            // will be; a value keeps its place after the colon.
            let patched = format!(
                "{}{MARK}{}{}",
                &text[..offset],
                &text[offset..line_end],
                if key_position { ":" } else { "" }
            ) + &text[line_end..];
            let mut scratch = Sources::default();
            let loaded = crate::yaml::parse_str(&mut scratch, &path, &patched);
            let registry = Registry::get();
            let has_colon = text[typed.end as usize..line_end].trim_start().starts_with(':');
            // Keys and components that only work on other chips than this config's are not offered.
            let keys = loaded.root.as_map().unwrap_or_default().iter().map(|e| registry.canonical(&e.key.key_text()).to_string());
            let target = keys.into_iter().find(|k| registry.targets().any(|t| t == k));
            let here = |only_on: &[String]| only_on.is_empty() || target.as_ref().is_none_or(|t| only_on.contains(t));
            match cursor::at(registry, &loaded.root, offset)? {
                At::Component { written, .. } => {
                    let components = registry.top_level().filter_map(|n| registry.component(n)).filter(|c| here(&c.only_on)).map(|c| (c.name.as_str(), c.doc.as_str()));
                    components
                        .chain(LOADER_KEYS.iter().copied())
                        .filter(|(name, _)| !written.iter().any(|w| w == name))
                        .map(|(name, doc)| CompletionItem {
                            text_edit: edit(typed, &key_text(name, has_colon, true)),
                            label: name.to_string(),
                            kind: Some(CompletionItemKind::MODULE),
                            documentation: markdown(doc),
                            ..CompletionItem::default()
                        })
                        .collect()
                }
                At::Key { keys, written, .. } => keys
                    .keys
                    .iter()
                    .filter(|k| !matches!(k.ty, Type::Invalid { .. }) && !written.iter().any(|w| *w == k.name) && here(&k.only_on))
                    .map(|k| CompletionItem {
                        text_edit: edit(typed, &key_text(&k.name, has_colon, nests(&k.ty))),
                        label: k.name.clone(),
                        kind: Some(CompletionItemKind::PROPERTY),
                        detail: Some(detail(k)),
                        documentation: markdown(&docs::describe(k)),
                        // Required keys first, then in the schema's order.
                        sort_text: Some(format!("{}{:03}", if k.required { 0 } else { 1 }, keys.keys.iter().position(|o| o.name == k.name).unwrap_or(0))),
                        ..CompletionItem::default()
                    })
                    .collect(),
                At::Value(key) => self.values(&path, &key).into_iter().map(|(label, doc)| CompletionItem {
                    text_edit: edit(typed, &label),
                    label,
                    kind: Some(CompletionItemKind::ENUM_MEMBER),
                    detail: doc,
                    ..CompletionItem::default()
                }).collect(),
                At::Platform { component } => registry
                    .platforms(&component)
                    .map(|p| CompletionItem {
                        text_edit: edit(typed, platform_name(&p.name)),
                        label: platform_name(&p.name).to_string(),
                        kind: Some(CompletionItemKind::ENUM_MEMBER),
                        documentation: markdown(&p.doc),
                        ..CompletionItem::default()
                    })
                    .collect(),
                At::Action { .. } => registry
                    .actions()
                    .iter()
                    .map(|a| CompletionItem {
                        text_edit: edit(typed, &key_text(&a.name, has_colon, false)),
                        label: a.name.clone(),
                        kind: Some(CompletionItemKind::FUNCTION),
                        detail: Some(format!("action · {}", docs::type_name(&a.ty))),
                        documentation: markdown(&a.doc),
                        ..CompletionItem::default()
                    })
                    .collect(),
            }
        };
        Some(CompletionResponse::Array(items))
    }

    /// The values a key takes: enum members, booleans, or the IDs of the class it refers to.
    fn values(&self, path: &Path, key: &KeySchema) -> Vec<(String, Option<String>)> {
        let mut ty = &key.ty;
        while let Type::Templatable(inner) = ty {
            ty = inner;
        }
        match ty {
            Type::OneOf { values, .. } => values.iter().map(|v| (v.clone(), None)).collect(),
            Type::Boolean { only: Some(b), .. } => vec![(b.to_string(), None)],
            Type::Boolean { .. } => vec![("true".into(), None), ("false".into(), None)],
            Type::UseId { class } => self.ids(path, Some(class)).into_iter().map(|(n, c)| (n, Some(c))).collect(),
            _ => Vec::new(),
        }
    }

    /// The IDs declared in the config that holds `path` (of `class`, when given), with their class.
    fn ids(&self, path: &Path, class: Option<&str>) -> Vec<(String, String)> {
        let Some(checked) = self.checked_for(path) else { return Vec::new() };
        let mut ids: Vec<(String, String)> = checked
            .ids
            .declared
            .iter()
            .filter(|d| class.is_none_or(|c| c.is_empty() || d.class == c))
            .map(|d| (d.name.clone(), d.class.clone()))
            .collect();
        ids.dedup();
        ids
    }

    /// The names in the `secrets.yaml` files a `!secret` in `path` would read: next to the file,
    /// then (for an included file) next to its main config.
    fn secret_names(&self, path: &Path) -> Vec<(String, PathBuf)> {
        let overlay = Overlay { buffers: &self.buffers };
        let mut names = Vec::new();
        for file in self.secrets_files(path) {
            let Ok(text) = overlay.read_to_string(&file) else { continue };
            let mut scratch = Sources::default();
            let loaded = crate::yaml::parse_str(&mut scratch, &file, &text);
            for entry in loaded.root.as_map().unwrap_or_default() {
                let name = entry.key.key_text();
                if !names.iter().any(|(n, _)| *n == name) {
                    names.push((name, file.clone()));
                }
            }
        }
        names
    }

    /// YAML files and folders for `!include <partial>`, relative to the including file.
    fn include_files(&self, path: &Path, partial: &str) -> Vec<(String, bool)> {
        let folder = partial.rsplit_once('/').map_or("", |(dir, _)| dir);
        let base = path.parent().unwrap_or(Path::new(".")).join(folder);
        let Ok(entries) = Overlay { buffers: &self.buffers }.read_dir(&base) else { return Vec::new() };
        let mut out: Vec<(String, bool)> = entries
            .into_iter()
            .filter(|p| p != path)
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?.to_string();
                let dir = p.is_dir();
                let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
                (!name.starts_with('.') && name != "secrets.yaml" && (dir || yaml)).then(|| (if dir { format!("{name}/") } else { name }, dir))
            })
            .collect();
        out.sort();
        out
    }
}

/// The text typed after `tag` on this line, when the cursor is in a tag's argument.
fn after_tag<'a>(before: &'a str, tag: &str) -> Option<&'a str> {
    let (_, rest) = before.rsplit_once(tag)?;
    let rest = rest.strip_prefix(|c: char| c == ' ' || c == '\t')?.trim_start();
    (!rest.contains(char::is_whitespace)).then(|| rest.trim_start_matches(['"', '\'']))
}

/// The cursor is right after `id(` (and maybe part of a name), in a lambda.
fn in_id_call(before: &str) -> bool {
    let name_start = before.trim_end_matches(is_name_char);
    let Some(head) = name_start.trim_end().strip_suffix('(') else { return false };
    head.trim_end().strip_suffix("id").is_some_and(|h| !h.ends_with(is_name_char))
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_key_char(c: char) -> bool {
    is_name_char(c) || c == '.' || c == '-'
}

/// What inserting a key writes: `name: ` for a scalar, `name:` for a mapping or list (the
/// editor's next line indents), only the name when a colon already follows.
fn key_text(name: &str, has_colon: bool, nests: bool) -> String {
    match (has_colon, nests) {
        (true, _) => name.to_string(),
        (false, true) => format!("{name}:"),
        (false, false) => format!("{name}: "),
    }
}

fn nests(ty: &Type) -> bool {
    match ty {
        Type::Templatable(inner) => nests(inner),
        Type::Map(_) | Type::List(_) | Type::StringMap(_) | Type::Automation { .. } => true,
        _ => false,
    }
}

/// `port (1–65535) · default 3232 on esp32, …`: the first line of the key's description.
fn detail(key: &KeySchema) -> String {
    let described = docs::describe(key);
    let first = described.lines().next().unwrap_or_default();
    first.split_once(" · ").map_or(String::new(), |(_, rest)| rest.replace('`', ""))
}

fn markdown(text: &str) -> Option<Documentation> {
    (!text.is_empty()).then(|| Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value: text.to_string() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_tag_arguments_and_id_calls() {
        assert_eq!(after_tag("  password: !secret ota_", "!secret"), Some("ota_"));
        assert_eq!(after_tag("  password: !secret ", "!secret"), Some(""));
        assert_eq!(after_tag("  password: !secretx", "!secret"), None);
        assert_eq!(after_tag("  common: !include \"dir/co", "!include"), Some("dir/co"));
        assert!(in_id_call("      id(my_o"));
        assert!(in_id_call("      id("));
        assert!(in_id_call("  auto x = id( "));
        assert!(!in_id_call("      grid(my"));
        assert!(!in_id_call("      id(a).x"));
    }
}
