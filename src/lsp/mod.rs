//! `ferrota lsp`: a language server that shows ferrota's diagnostics in editors as you type.
//!
//! A thin shell over [`compiler::check`]: unsaved buffers are read through the same
//! [`FileSystem`] trait the CLI uses, every open config is re-checked on each change, and the
//! diagnostics of every file it touched (includes, secrets) are published with UTF-16 columns,
//! with the quick fixes their [`crate::fixes`] give. Completion is in `complete.rs`; hover,
//! definitions, references and the outline in `navigate.rs`.

mod complete;
mod navigate;

use crate::compiler;
use crate::diagnostics::{Diagnostic, Severity};
use crate::source::{FileSystem, Overlay, Sources};
use crate::yaml::LoadOptions;
use lsp_server::{Connection, Message, Notification};
use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{RegisterCapability, CodeActionRequest, Completion, DocumentSymbolRequest, GotoDefinition, HoverRequest, References, Request as _};
use lsp_types::{
    DiagnosticRelatedInformation, DiagnosticSeverity, DocumentSymbolParams, GotoDefinitionParams, HoverParams, InitializeParams, Location,
    NumberOrString, Position, PublishDiagnosticsParams, Range, ReferenceParams, ServerCapabilities, TextDocumentSyncCapability,
    TextDocumentSyncKind, Uri,
};
use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Runs the server on stdin/stdout until the editor shuts it down (or closes stdin).
pub fn run() -> Result<(), Box<dyn Error + Send + Sync>> {
    let (connection, threads) = Connection::stdio();
    serve(&connection)?;
    // The writer thread ends when the connection's sender is gone: drop it before joining.
    drop(connection);
    threads.join()?;
    Ok(())
}

/// The server loop over any connection (tests use an in-memory one).
pub fn serve(connection: &Connection) -> Result<(), Box<dyn Error + Send + Sync>> {
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp_types::OneOf::Left(true)),
        references_provider: Some(lsp_types::OneOf::Left(true)),
        document_symbol_provider: Some(lsp_types::OneOf::Left(true)),
        code_action_provider: Some(lsp_types::CodeActionProviderCapability::Simple(true)),
        completion_provider: Some(lsp_types::CompletionOptions {
            trigger_characters: Some(["(", "/", " "].map(String::from).to_vec()),
            ..lsp_types::CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    };
    let params = connection.initialize(serde_json::to_value(capabilities)?)?;
    let params: InitializeParams = serde_json::from_value(params)?;
    // Files the editor doesn't have open change too (a `secrets.yaml`, a package saved
    // elsewhere): ask to hear about them, where the editor lets servers ask.
    let watched = params.capabilities.workspace.and_then(|w| w.did_change_watched_files).and_then(|d| d.dynamic_registration);
    if watched == Some(true) {
        let watchers = serde_json::json!({"watchers": [{"globPattern": "**/*.{yaml,yml}"}]});
        let registration = lsp_types::Registration {
            id: "ferrota-yaml-files".into(),
            method: DidChangeWatchedFiles::METHOD.into(),
            register_options: Some(watchers),
        };
        let params = lsp_types::RegistrationParams { registrations: vec![registration] };
        let request = lsp_server::Request::new("ferrota-watch".to_string().into(), RegisterCapability::METHOD.into(), params);
        connection.sender.send(Message::Request(request))?;
    }
    let mut state = State::default();
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    return Ok(());
                }
                let response = match request.method.as_str() {
                    HoverRequest::METHOD => reply(request, |p: HoverParams| state.hover(&p)),
                    GotoDefinition::METHOD => reply(request, |p: GotoDefinitionParams| state.definition(&p.text_document_position_params)),
                    References::METHOD => reply(request, |p: ReferenceParams| state.references(&p)),
                    Completion::METHOD => reply(request, |p: lsp_types::CompletionParams| state.complete(&p)),
                    CodeActionRequest::METHOD => reply(request, |p: lsp_types::CodeActionParams| state.code_actions(&p)),
                    DocumentSymbolRequest::METHOD => reply(request, |p: DocumentSymbolParams| state.symbols(&p)),
                    // Nothing else is advertised; answer politely anyway.
                    method => {
                        let message = format!("ferrota lsp does not handle {method}");
                        lsp_server::Response::new_err(request.id, lsp_server::ErrorCode::MethodNotFound as i32, message)
                    }
                };
                connection.sender.send(Message::Response(response))?;
            }
            Message::Notification(notification) => {
                if state.apply(notification) {
                    for params in state.check() {
                        let note = Notification::new(PublishDiagnostics::METHOD.to_string(), params);
                        connection.sender.send(Message::Notification(note))?;
                    }
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

/// Open buffers, and which files last got diagnostics (to clear them when they are fixed).
/// A request's answer: `handle` run on its params, or an error for params that don't parse.
fn reply<P: serde::de::DeserializeOwned, R: serde::Serialize>(request: lsp_server::Request, handle: impl FnOnce(P) -> R) -> lsp_server::Response {
    match serde_json::from_value(request.params) {
        Ok(params) => lsp_server::Response::new_ok(request.id, handle(params)),
        Err(e) => lsp_server::Response::new_err(request.id, lsp_server::ErrorCode::InvalidParams as i32, e.to_string()),
    }
}

#[derive(Default)]
struct State {
    buffers: BTreeMap<PathBuf, String>,
    published: BTreeSet<PathBuf>,
    /// The last check of every open config: where its IDs are declared and used.
    checked: Vec<compiler::Checked>,
    /// The quick fixes of the last check: the file and range of their diagnostic.
    fixes: Vec<(PathBuf, Range, lsp_types::CodeAction)>,
    /// For a fragment open on its own (a package, an included file): the configs on disk
    /// that use it, found once.
    owners: BTreeMap<PathBuf, Vec<PathBuf>>,
}

impl State {
    /// Applies a document notification; `true` when the documents changed.
    fn apply(&mut self, notification: Notification) -> bool {
        let params = notification.params;
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(params) else { return false };
                self.buffers.insert(uri_to_path(&p.text_document.uri), p.text_document.text);
            }
            DidChangeTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(params) else { return false };
                // Full sync: the last change holds the whole text.
                let Some(change) = p.content_changes.into_iter().last() else { return false };
                self.buffers.insert(uri_to_path(&p.text_document.uri), change.text);
            }
            DidCloseTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(params) else { return false };
                self.buffers.remove(&uri_to_path(&p.text_document.uri));
            }
            // Saved or changed on disk: any config may read it; which configs use an open
            // fragment may have changed too.
            DidSaveTextDocument::METHOD | DidChangeWatchedFiles::METHOD => self.owners.clear(),
            _ => return false,
        }
        true
    }

    /// Checks every open device config and returns the diagnostics to publish, per file.
    fn check(&mut self) -> Vec<PublishDiagnosticsParams> {
        let mut by_file: BTreeMap<PathBuf, Vec<lsp_types::Diagnostic>> = BTreeMap::new();
        self.checked.clear();
        self.fixes.clear();
        let mut configs: Vec<PathBuf> = self.buffers.iter().filter(|(_, text)| is_device_config(text)).map(|(p, _)| p.clone()).collect();
        let fragments: Vec<PathBuf> = self.buffers.iter().filter(|(_, text)| !is_device_config(text)).map(|(p, _)| p.clone()).collect();
        for fragment in fragments {
            if !self.owners.contains_key(&fragment) {
                let found = self.find_owners(&fragment);
                self.owners.insert(fragment.clone(), found);
            }
            configs.extend(self.owners[&fragment].iter().filter(|c| !configs.contains(c)).cloned().collect::<Vec<_>>());
        }
        for path in configs {
            let overlay = Overlay { buffers: &self.buffers };
            let Ok(checked) = compiler::check(&overlay, &path, &LoadOptions::default()) else { continue };
            by_file.entry(path.clone()).or_default();
            for d in &checked.diagnostics {
                let Some(span) = d.span else { continue };
                let file = checked.sources.get(span.file).path.clone();
                let list = by_file.entry(file.clone()).or_default();
                let converted = to_lsp(&checked.sources, d);
                if let Some(action) = d.fix.as_ref().and_then(|fix| code_action(&checked.sources, fix, &converted)) {
                    self.fixes.push((file.clone(), converted.range, action));
                }
                if !list.contains(&converted) {
                    list.push(converted);
                }
            }
            self.checked.push(checked);
        }
        let stale: Vec<PathBuf> = self.published.iter().filter(|p| !by_file.contains_key(*p)).cloned().collect();
        for path in stale {
            by_file.insert(path, Vec::new());
        }
        self.published = by_file.iter().filter(|(_, d)| !d.is_empty()).map(|(p, _)| p.clone()).collect();
        by_file
            .into_iter()
            .filter_map(|(path, diagnostics)| Some(PublishDiagnosticsParams { uri: path_to_uri(&path)?, diagnostics, version: None }))
            .collect()
    }
}

impl State {
    /// The last check of the config that holds `path` (itself, or one that includes it).
    fn checked_for(&self, path: &Path) -> Option<&compiler::Checked> {
        self.checked.iter().find(|c| c.sources.find(path).is_some())
    }

    /// The device configs in the fragment's folder and the one above that load it (as a
    /// package or an include), so its problems show as the user edits it on its own.
    fn find_owners(&self, fragment: &Path) -> Vec<PathBuf> {
        /// Enough for any fleet folder; a huge tree is not searched whole.
        const MOST: usize = 500;
        let overlay = Overlay { buffers: &self.buffers };
        let folder = fragment.parent().unwrap_or(Path::new("."));
        let folders = [Some(folder), folder.parent()];
        let candidates = folders.into_iter().flatten().filter_map(|d| overlay.read_dir(d).ok()).flatten();
        let yaml = |p: &PathBuf| p.file_name().and_then(|n| n.to_str()).is_some_and(compiler::is_config_name);
        candidates
            .filter(|p| p != fragment && yaml(p))
            .take(MOST)
            .filter(|p| overlay.read_to_string(p).is_ok_and(|text| is_device_config(&text)))
            .filter(|p| compiler::check(&overlay, p, &LoadOptions::default()).is_ok_and(|c| c.sources.find(fragment).is_some()))
            .collect()
    }

    /// The quick fixes of the diagnostics in the requested range of the document.
    fn code_actions(&self, params: &lsp_types::CodeActionParams) -> Option<lsp_types::CodeActionResponse> {
        let path = uri_to_path(&params.text_document.uri);
        let wanted = params.range;
        let overlaps = |r: &Range| r.start <= wanted.end && wanted.start <= r.end;
        let mut actions: Vec<lsp_types::CodeActionOrCommand> = Vec::new();
        for (_, _, action) in self.fixes.iter().filter(|(p, r, _)| *p == path && overlaps(r)) {
            if !actions.iter().any(|a| matches!(a, lsp_types::CodeActionOrCommand::CodeAction(b) if b.title == action.title)) {
                actions.push(lsp_types::CodeActionOrCommand::CodeAction(action.clone()));
            }
        }
        Some(actions)
    }
}

/// A diagnostic's fix as an editor's quick fix.
fn code_action(sources: &Sources, fix: &crate::diagnostics::Fix, diagnostic: &lsp_types::Diagnostic) -> Option<lsp_types::CodeAction> {
    let (title, edits) = crate::fixes::edits(sources, fix)?;
    let mut changes: std::collections::HashMap<Uri, Vec<lsp_types::TextEdit>> = std::collections::HashMap::new();
    for edit in edits {
        let uri = path_to_uri(&sources.get(edit.span.file).path)?;
        changes.entry(uri).or_default().push(lsp_types::TextEdit::new(range(sources, edit.span), edit.text));
    }
    Some(lsp_types::CodeAction {
        title,
        kind: Some(lsp_types::CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic.clone()]),
        edit: Some(lsp_types::WorkspaceEdit { changes: Some(changes), ..lsp_types::WorkspaceEdit::default() }),
        is_preferred: Some(true),
        ..lsp_types::CodeAction::default()
    })
}

/// A device config (not an included fragment or `secrets.yaml`) has a top-level `esphome:`,
/// or `packages:` that may bring it in.
fn is_device_config(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("esphome:") || l.starts_with("packages:"))
}

/// A span as an editor's range (UTF-16 columns).
fn range(sources: &Sources, span: crate::source::Span) -> Range {
    let file = sources.get(span.file);
    let position = |offset: u32| {
        let (line, character) = file.position_utf16(offset as usize);
        Position::new(line as u32, character as u32)
    };
    Range::new(position(span.start), position(span.end))
}

fn location(sources: &Sources, span: crate::source::Span) -> Option<Location> {
    Some(Location::new(path_to_uri(&sources.get(span.file).path)?, range(sources, span)))
}

fn to_lsp(sources: &Sources, d: &Diagnostic) -> lsp_types::Diagnostic {
    let range = |span: crate::source::Span| range(sources, span);
    let message = match &d.help {
        Some(help) => format!("{}\nhelp: {help}", d.message),
        None => d.message.clone(),
    };
    let related = d
        .related
        .iter()
        .filter_map(|l| {
            let uri = path_to_uri(&sources.get(l.span.file).path)?;
            Some(DiagnosticRelatedInformation { location: Location::new(uri, range(l.span)), message: l.message.clone() })
        })
        .collect::<Vec<_>>();
    lsp_types::Diagnostic {
        range: d.span.map(range).unwrap_or_default(),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.to_string())),
        source: Some("ferrota".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}

/// `file:///a%20b/c.yaml` → `/a b/c.yaml`.
fn uri_to_path(uri: &Uri) -> PathBuf {
    let text = uri.as_str();
    let path = text.strip_prefix("file://").unwrap_or(text);
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    PathBuf::from(String::from_utf8_lossy(&out).into_owned())
}

/// An absolute path as a `file://` URI (percent-encoding what URIs don't allow).
fn path_to_uri(path: &Path) -> Option<Uri> {
    let absolute = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().ok()?.join(path) };
    let mut text = String::from("file://");
    for b in absolute.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            text.push(b as char);
        } else {
            text.push_str(&format!("%{b:02X}"));
        }
    }
    Uri::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_paths_round_trip() {
        let path = Path::new("/tmp/my device/ota ü.yaml");
        let uri = path_to_uri(path).unwrap();
        assert_eq!(uri.as_str(), "file:///tmp/my%20device/ota%20%C3%BC.yaml");
        assert_eq!(uri_to_path(&uri), path);
    }

    fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                yaml_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }

    /// Every request at the start, middle and end of every line of every corpus config, example
    /// and published config (valid, invalid, half-written), and every quick fix: answers, never
    /// a panic.
    #[test]
    fn every_request_anywhere_in_the_corpus_answers() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        yaml_files(&root.join("tests/corpus"), &mut files);
        yaml_files(&root.join("examples"), &mut files);
        // The configs people published, where the shared corpus is beside the checkout.
        yaml_files(&root.join("../shared/corpus/real-world"), &mut files);
        assert!(files.len() > 100, "{}", files.len());
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut state = State::default();
            state.buffers.insert(path.clone(), text.clone());
            state.check();
            let uri = path_to_uri(&path).unwrap();
            let document = lsp_types::TextDocumentIdentifier { uri: uri.clone() };
            for (line, content) in text.lines().enumerate() {
                let width = content.encode_utf16().count();
                for character in [0, width / 2, width] {
                    let at = lsp_types::TextDocumentPositionParams { text_document: document.clone(), position: Position::new(line as u32, character as u32) };
                    let work = lsp_types::WorkDoneProgressParams::default;
                    let results = lsp_types::PartialResultParams::default;
                    state.complete(&lsp_types::CompletionParams { text_document_position: at.clone(), work_done_progress_params: work(), partial_result_params: results(), context: None });
                    state.hover(&HoverParams { text_document_position_params: at.clone(), work_done_progress_params: work() });
                    state.definition(&at);
                    let context = lsp_types::ReferenceContext { include_declaration: true };
                    state.references(&ReferenceParams { text_document_position: at, work_done_progress_params: work(), partial_result_params: results(), context });
                }
            }
            state.symbols(&DocumentSymbolParams { text_document: document, work_done_progress_params: Default::default(), partial_result_params: Default::default() });
            for checked in &state.checked {
                for fix in checked.diagnostics.iter().filter_map(|d| d.fix.as_ref()) {
                    if let Some((_, edits)) = crate::fixes::edits(&checked.sources, fix) {
                        let file = checked.sources.get(edits[0].span.file);
                        let fixed = crate::fixes::apply(&file.text, &edits.iter().filter(|e| e.span.file == edits[0].span.file).cloned().collect::<Vec<_>>());
                        assert_ne!(fixed, file.text, "{}: {fix:?}", path.display());
                    }
                }
            }
        }
    }
}
