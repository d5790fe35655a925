//! Finding things: hover docs, go to definition (an ID's declaration, a `!secret`'s line in
//! `secrets.yaml`, an `!include`d file), find references of an ID, the document's outline.

use super::{location, range, uri_to_path, State};
use crate::source::Overlay;
use crate::compiler;
use crate::source::{FileSystem, Sources};
use lsp_types::{
    DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, GotoDefinitionResponse, Hover, HoverContents, HoverParams, Location,
    MarkupContent, MarkupKind, ReferenceParams, SymbolKind, TextDocumentPositionParams,
};
use std::path::{Path, PathBuf};

impl State {
    /// The schema documentation of the key under the cursor.
    pub(super) fn hover(&self, params: &HoverParams) -> Option<Hover> {
        let at = &params.text_document_position_params;
        let path = uri_to_path(&at.text_document.uri);
        let text = self.buffers.get(&path)?;
        let mut sources = Sources::default();
        let loaded = crate::yaml::parse_str(&mut sources, &path, text);
        let file = sources.get(loaded.root.span.file);
        let offset = file.offset_of_utf16(at.position.line as usize, at.position.character as usize);
        let markdown = crate::schema::docs::key_at(crate::schema::Registry::get(), &loaded.root, offset)?;
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: markdown }),
            range: None,
        })
    }

    /// The checked config holding the document at `at`, that file and the cursor's offset.
    fn locate(&self, at: &TextDocumentPositionParams) -> Option<(&compiler::Checked, crate::source::FileId, usize)> {
        let path = uri_to_path(&at.text_document.uri);
        let checked = self.checked_for(&path)?;
        let file = checked.sources.find(&path)?;
        let offset = checked.sources.get(file).offset_of_utf16(at.position.line as usize, at.position.character as usize);
        Some((checked, file, offset))
    }

    /// The ID under the cursor (a declaration or a use) and the check that knows it.
    fn id_at(&self, at: &TextDocumentPositionParams) -> Option<(&compiler::Checked, &str)> {
        let (checked, file, offset) = self.locate(at)?;
        let under = |span: crate::source::Span| span.file == file && (span.start as usize..=span.end as usize).contains(&offset);
        let ids = &checked.ids;
        let name = ids.declared.iter().find(|d| under(d.span)).map(|d| d.name.as_str());
        let name = name.or_else(|| ids.references.iter().find(|r| under(r.span)).map(|r| r.name.as_str()))?;
        Some((checked, name))
    }

    /// From a use of an ID (an `id(x)` in a lambda, an ID-typed key) to its declaration; from
    /// `!secret name` to its line in `secrets.yaml`; from `!include file` to the file.
    pub(super) fn definition(&self, at: &TextDocumentPositionParams) -> Option<GotoDefinitionResponse> {
        if let Some((checked, name)) = self.id_at(at) {
            let declared = checked.ids.declared.iter().find(|d| d.name == name)?;
            return Some(GotoDefinitionResponse::Scalar(location(&checked.sources, declared.span)?));
        }
        let path = uri_to_path(&at.text_document.uri);
        let line = self.buffers.get(&path)?.lines().nth(at.position.line as usize)?;
        let column = line.char_indices().nth(at.position.character as usize).map_or(line.len(), |(i, _)| i);
        let (tag, argument) = tag_at(line, column)?;
        let target = match tag {
            "!secret" => self.secret_line(&path, argument)?,
            _ => {
                let file = path.parent().unwrap_or(Path::new(".")).join(argument);
                let file = crate::source::normalize(&file);
                Overlay { buffers: &self.buffers }.read_to_string(&file).ok()?;
                Location::new(super::path_to_uri(&file)?, lsp_types::Range::default())
            }
        };
        Some(GotoDefinitionResponse::Scalar(target))
    }

    /// Where `name:` is in the `secrets.yaml` a `!secret` in `path` reads.
    fn secret_line(&self, path: &Path, name: &str) -> Option<Location> {
        self.secrets_files(path).into_iter().find_map(|file| {
            let text = Overlay { buffers: &self.buffers }.read_to_string(&file).ok()?;
            let mut sources = Sources::default();
            let loaded = crate::yaml::parse_str(&mut sources, &file, &text);
            let entry = loaded.root.entry(name)?;
            Some(Location::new(super::path_to_uri(&file)?, range(&sources, entry.key.span)))
        })
    }

    /// The `secrets.yaml` files a `!secret` in `path` reads, in order: next to the file, then
    /// (for an included file) next to its main config, as the loader does.
    pub(super) fn secrets_files(&self, path: &Path) -> Vec<PathBuf> {
        let main = self.checked_for(path).map_or(path, |c| c.sources.main().path.as_path());
        crate::yaml::secrets_files(path, main)
    }

    /// Every use of the ID under the cursor (and its declaration, when asked).
    pub(super) fn references(&self, params: &ReferenceParams) -> Option<Vec<Location>> {
        let (checked, name) = self.id_at(&params.text_document_position)?;
        let declared = checked.ids.declared.iter().filter(|d| d.name == name && params.context.include_declaration).map(|d| d.span);
        let uses = checked.ids.references.iter().filter(|r| r.name == name).map(|r| r.span);
        Some(declared.chain(uses).filter_map(|span| location(&checked.sources, span)).collect())
    }

    /// The document's outline: its components, their platform entries and automations.
    pub(super) fn symbols(&self, params: &DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
        let path = uri_to_path(&params.text_document.uri);
        let text = self.buffers.get(&path)?;
        let mut sources = Sources::default();
        let loaded = crate::yaml::parse_str(&mut sources, &path, text);
        let symbol = |name: String, kind: SymbolKind, key: &crate::yaml::Node, value: &crate::yaml::Node, children: Vec<DocumentSymbol>| {
            let whole = crate::source::Span::new(key.span.file, key.span.start as usize, value.span.end.max(key.span.end) as usize);
            #[allow(deprecated)]
            DocumentSymbol {
                name,
                detail: None,
                kind,
                tags: None,
                deprecated: None,
                range: range(&sources, whole),
                selection_range: range(&sources, key.span),
                children: (!children.is_empty()).then_some(children),
            }
        };
        let automations = |value: &crate::yaml::Node| -> Vec<DocumentSymbol> {
            let entries = value.as_map().unwrap_or_default();
            entries.iter().filter(|e| e.key.key_text().starts_with("on_")).map(|e| symbol(e.key.key_text(), SymbolKind::EVENT, &e.key, &e.value, Vec::new())).collect()
        };
        let mut out = Vec::new();
        for entry in loaded.root.as_map().unwrap_or_default() {
            let mut children = automations(&entry.value);
            if let crate::yaml::Value::Seq(items) = &entry.value.value {
                for item in items {
                    let Some(platform) = item.entry("platform") else { continue };
                    let name = format!("platform: {}", platform.value.as_str().unwrap_or("?"));
                    children.push(symbol(name, SymbolKind::OBJECT, &platform.key, item, automations(item)));
                }
            }
            out.push(symbol(entry.key.key_text(), SymbolKind::MODULE, &entry.key, &entry.value, children));
        }
        Some(DocumentSymbolResponse::Nested(out))
    }

}

/// The `!secret` or `!include` tag whose word (the tag or its argument) spans byte `column`.
fn tag_at(line: &str, column: usize) -> Option<(&'static str, &str)> {
    ["!secret", "!include"].into_iter().find_map(|tag| {
        let start = line.find(tag)?;
        let rest = &line[start + tag.len()..];
        let argument = rest.trim_start().split(|c: char| c.is_whitespace() || c == '#').next()?.trim_matches(['"', '\'']);
        let end = start + tag.len() + (rest.len() - rest.trim_start().len()) + argument.len() + 2;
        (!argument.is_empty() && (start..=end).contains(&column)).then_some((tag, argument))
    })
}

#[cfg(test)]
mod tests {
    use super::tag_at;

    #[test]
    fn finds_the_tag_under_the_cursor() {
        let line = "    password: !secret ota_password # the device's";
        assert_eq!(tag_at(line, 16), Some(("!secret", "ota_password")));
        assert_eq!(tag_at(line, 30), Some(("!secret", "ota_password")));
        assert_eq!(tag_at(line, 5), None);
        assert_eq!(tag_at("  base: !include \"common/base.yaml\"", 20), Some(("!include", "common/base.yaml")));
    }
}
