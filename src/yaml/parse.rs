//! One file's text to a [`Raw`] tree: saphyr's events with byte spans, tags and quoting style
//! kept, and no meaning given yet (that is [`super::compose`]'s job). Syntax errors and tabs in
//! indentation become diagnostics; the tree is whatever was read before the first error.

use super::MAX_DEPTH;
use crate::diagnostics::Diagnostic;
use crate::source::{FileId, Span};
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};
use std::collections::HashMap;
use std::rc::Rc;

/// A node as written, before tags, scalar types and merge keys are resolved.
#[derive(Debug)]
pub struct Raw {
    /// The whole node, including its tag and anchor.
    pub span: Span,
    pub tag: Option<Tag>,
    pub kind: RawKind,
    /// How many nodes converting this one produces (saturating), to bound alias expansion.
    pub size: usize,
}

#[derive(Debug)]
pub enum RawKind {
    Scalar { text: String, style: ScalarStyle },
    Seq(Vec<Raw>),
    Map(Vec<(Raw, Raw)>),
    /// An anchored node, at its definition (`alias: false`) or at a `*alias` (`alias: true`).
    /// Both share the node, so an alias costs nothing until it is converted.
    Ref { target: Rc<Raw>, alias: bool },
}

impl Raw {
    /// An empty plain scalar: resolves to null, like an empty document or a missing value.
    fn empty(span: Span) -> Raw {
        Raw { span, tag: None, kind: RawKind::Scalar { text: String::new(), style: ScalarStyle::Plain }, size: 1 }
    }

    /// The text of an untagged plain scalar (a `<<` merge key must be plain).
    pub fn plain_text(&self) -> Option<&str> {
        match &self.kind {
            RawKind::Scalar { text, style: ScalarStyle::Plain } if self.tag.is_none() => Some(text),
            _ => None,
        }
    }

    /// The text of an untagged scalar in any style (how `substitutions:` is found early).
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.kind {
            RawKind::Scalar { text, .. } if self.tag.is_none() => Some(text),
            _ => None,
        }
    }
}

/// The tree of one file and the problems found reading it.
#[derive(Debug)]
pub struct Parsed {
    pub root: Raw,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses one file. Never fails: problems are in [`Parsed::diagnostics`].
pub fn parse(file: FileId, text: &str) -> Parsed {
    let first = Builder::run(file, text);
    if first.diagnostics.is_empty() {
        return first;
    }
    // saphyr stops at the first error, and tabs in indentation are the classic one: report every
    // such line, then read the file again with each of those tabs as one space (same byte
    // offsets), so the rest of the file is still checked.
    let tabs = tab_indented_lines(text);
    if tabs.is_empty() {
        return first;
    }
    let mut fixed = text.as_bytes().to_vec();
    let mut diagnostics = Vec::new();
    for range in tabs {
        for b in &mut fixed[range.clone()] {
            if *b == b'\t' {
                *b = b' ';
            }
        }
        diagnostics.push(
            Diagnostic::error("yaml::tab", Span::new(file, range.start, range.end), "Tab character in indentation")
                .with_label("tab here")
                .with_help("YAML only allows spaces for indentation; indent with spaces (ESPHome files use 2 per level)"),
        );
    }
    // Only ASCII tabs were replaced by ASCII spaces, so the text is still UTF-8.
    let fixed = String::from_utf8(fixed).unwrap_or_default();
    let mut second = Builder::run(file, &fixed);
    diagnostics.append(&mut second.diagnostics);
    Parsed { root: second.root, diagnostics }
}

/// The byte ranges of leading whitespace that holds a tab, on lines with content.
fn tab_indented_lines(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let rest = line[indent..].trim_end();
        if line[..indent].contains('\t') && !rest.is_empty() {
            out.push(start..start + indent);
        }
        start += line.len();
    }
    out
}

/// saphyr's markers count characters; spans want bytes.
struct Offsets {
    /// Byte offset of each char index, or `None` when the text is ASCII (they are equal).
    table: Option<Vec<u32>>,
    len: usize,
}

impl Offsets {
    fn new(text: &str) -> Offsets {
        let table = (!text.is_ascii())
            .then(|| text.char_indices().map(|(i, _)| i as u32).chain([text.len() as u32]).collect());
        Offsets { table, len: text.len() }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).map_or(self.len, |&b| b as usize),
        }
    }
}

struct Frame {
    start: usize,
    /// `[` or `{` for a flow collection (whose start span ends with it), `None` for a block one.
    flow: Option<char>,
    anchor: usize,
    tag: Option<Tag>,
    kind: FrameKind,
}

enum FrameKind {
    Seq(Vec<Raw>),
    /// Entries so far and a key still waiting for its value.
    Map(Vec<(Raw, Raw)>, Option<Raw>),
}

struct Builder<'t> {
    file: FileId,
    text: &'t str,
    offsets: Offsets,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Rc<Raw>>,
    root: Option<Raw>,
    /// Nesting depth inside a collection that is too deep to keep, and where it started.
    skipping: Option<(usize, usize)>,
    diagnostics: Vec<Diagnostic>,
}

impl<'t> Builder<'t> {
    fn run(file: FileId, text: &'t str) -> Parsed {
        let mut b = Builder {
            file,
            text,
            offsets: Offsets::new(text),
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            skipping: None,
            diagnostics: Vec::new(),
        };
        let mut parser = Parser::new_from_str(text);
        let mut documents = 0;
        while let Some(next) = parser.next_event() {
            let (event, span) = match next {
                Ok(ok) => ok,
                Err(e) => {
                    b.syntax_error(&e);
                    break;
                }
            };
            let span = b.span(span.start.index(), span.end.index());
            match event {
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        b.second_document(span);
                        break;
                    }
                }
                Event::Alias(id) => b.alias(id, span),
                Event::Scalar(text, style, anchor, tag) => {
                    if b.skipping.is_none() {
                        let span = b.trim_end(span);
                        let raw = Raw { span, tag: tag.map(|t| t.into_owned()), kind: RawKind::Scalar { text: text.into_owned(), style }, size: 1 };
                        b.complete(raw, anchor);
                    }
                }
                Event::SequenceStart(anchor, tag) => b.open(span, anchor, tag.map(|t| t.into_owned()), FrameKind::Seq(Vec::new())),
                Event::MappingStart(anchor, tag) => {
                    b.open(span, anchor, tag.map(|t| t.into_owned()), FrameKind::Map(Vec::new(), None))
                }
                Event::SequenceEnd | Event::MappingEnd => b.close(span),
                Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            }
        }
        // After an error, keep what was read: close every open collection.
        if let Some((_, start)) = b.skipping.take() {
            b.complete(Raw::empty(Span::point(file, start)), 0);
        }
        while !b.stack.is_empty() {
            b.close(Span::point(file, text.len()));
        }
        let root = b.root.take().unwrap_or_else(|| Raw::empty(Span::point(file, 0)));
        Parsed { root, diagnostics: b.diagnostics }
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, self.offsets.byte(start), self.offsets.byte(end))
    }

    /// Block scalars' spans run to the next token; labels look better without the trailing
    /// blank lines.
    fn trim_end(&self, span: Span) -> Span {
        let text = self.text.get(span.range()).unwrap_or("");
        Span::new(self.file, span.start as usize, span.start as usize + text.trim_end().len())
    }

    fn alias(&mut self, id: usize, span: Span) {
        if self.skipping.is_some() {
            return;
        }
        // saphyr reports an unknown anchor as a syntax error, so the lookup always succeeds.
        if let Some(target) = self.anchors.get(&id).cloned() {
            let size = target.size;
            self.complete(Raw { span, tag: None, kind: RawKind::Ref { target, alias: true }, size }, 0);
        }
    }

    fn open(&mut self, span: Span, anchor: usize, tag: Option<Tag>, kind: FrameKind) {
        if let Some((depth, _)) = &mut self.skipping {
            *depth += 1;
            return;
        }
        if self.stack.len() >= MAX_DEPTH {
            self.diagnostics.push(
                Diagnostic::error("yaml::too-deep", span, format!("Nesting deeper than {MAX_DEPTH} levels"))
                    .with_help("no ESPHome configuration needs this; this part of the file is ignored"),
            );
            self.skipping = Some((1, span.start as usize));
            return;
        }
        let flow = self.text[span.range()].chars().next_back().filter(|c| matches!(c, '[' | '{'));
        self.stack.push(Frame { start: span.start as usize, flow, anchor, tag, kind });
    }

    fn close(&mut self, end: Span) {
        if let Some((depth, start)) = &mut self.skipping {
            *depth -= 1;
            if *depth == 0 {
                let start = *start;
                self.skipping = None;
                self.complete(Raw::empty(Span::point(self.file, start)), 0);
            }
            return;
        }
        let Some(frame) = self.stack.pop() else { return };
        let (kind, last_end, children) = match frame.kind {
            FrameKind::Seq(items) => {
                let last = items.last().map(|r| r.span.end);
                let size = items.iter().map(|r| r.size).fold(1, usize::saturating_add);
                (RawKind::Seq(items), last, size)
            }
            FrameKind::Map(mut entries, pending) => {
                if let Some(key) = pending {
                    let value = Raw::empty(Span::point(self.file, key.span.end as usize));
                    entries.push((key, value));
                }
                let last = entries.last().map(|(_, v)| v.span.end.max(v.span.start));
                let size = entries.iter().map(|(k, v)| k.size.saturating_add(v.size)).fold(1, usize::saturating_add);
                (RawKind::Map(entries), last, size)
            }
        };
        // A flow collection's end event covers its closing bracket; a block one's is empty.
        let end = if end.start < end.end { end.end } else { last_end.unwrap_or(frame.start as u32) };
        let span = Span::new(self.file, frame.start, end as usize);
        self.complete(Raw { span, tag: frame.tag, kind, size: children }, frame.anchor);
    }

    /// Attaches a finished node to its parent, registering its anchor.
    fn complete(&mut self, mut raw: Raw, anchor: usize) {
        if anchor != 0 {
            let target = Rc::new(raw);
            self.anchors.insert(anchor, target.clone());
            raw = Raw { span: target.span, tag: None, size: target.size, kind: RawKind::Ref { target, alias: false } };
        }
        match self.stack.last_mut().map(|f| &mut f.kind) {
            None => self.root = Some(raw),
            Some(FrameKind::Seq(items)) => items.push(raw),
            Some(FrameKind::Map(entries, pending)) => match pending.take() {
                None => *pending = Some(raw),
                Some(key) => entries.push((key, raw)),
            },
        }
    }

    fn second_document(&mut self, span: Span) {
        let width = if self.text[span.start as usize..].starts_with("---") { 3 } else { 0 };
        let span = Span::new(self.file, span.start as usize, span.start as usize + width);
        self.diagnostics.push(
            Diagnostic::error("yaml::multiple-documents", span, "Expected a single document in the file, but found another document")
                .with_label("second document starts here")
                .with_help("an ESPHome configuration is one YAML document: remove this `---` and everything after it, or move it to its own file"),
        );
    }

    fn syntax_error(&mut self, e: &ScanError) {
        let offset = self.offsets.byte(e.marker().index());
        // Point at the offending character, unless that is a line break or the end.
        let width = self.text[offset..].chars().next().filter(|c| !matches!(c, '\n' | '\r')).map_or(0, char::len_utf8);
        let span = Span::new(self.file, offset, offset + width);
        let info = e.info();
        let mut d = Diagnostic::error("yaml::syntax", span, format!("Invalid YAML syntax: {info}"));
        let (label, help) = syntax_hint(info, &self.text[offset..]);
        d = d.with_label(label);
        // Inside `[…]` or `{…}`, the usual cause is a missing closing bracket or an unquoted
        // `:` or `,`: show where the collection starts.
        let open = self.stack.iter().rev().find_map(|f| f.flow.map(|c| (f, c)));
        if let Some((frame, c)) = open {
            let at = self.text[frame.start..].find(c).map_or(frame.start, |i| frame.start + i);
            let close = if c == '[' { ']' } else { '}' };
            d = d.with_related(Span::new(self.file, at, at + 1), format!("this `{c}` is still open"));
            if help.is_none() {
                d = d.with_help(format!(
                    "close the `{c}` with `{close}`, and put values that contain `:`, `,` or brackets in quotes"
                ));
            }
        }
        if let Some(help) = help {
            d = d.with_help(help);
        }
        self.diagnostics.push(d);
    }
}

/// A label and a fix for saphyr's error messages, for the mistakes people make in ESPHome files.
fn syntax_hint(info: &str, rest: &str) -> (String, Option<String>) {
    let hint = |label: &str, help: &str| (label.to_string(), Some(help.to_string()));
    if info.contains("mapping values are not allowed") {
        hint(
            "unexpected `:`",
            "a value can't contain `: ` unless it is quoted (write `key: \"a: b\"`); if this was meant to be a nested key, put it on its own line and indent it",
        )
    } else if info.contains("did not find expected key") {
        hint(
            "unexpected indentation",
            "this line's indentation doesn't match the keys around it: align it with the other keys of the same block",
        )
    } else if info.contains("did not find expected '-' indicator") {
        hint(
            "expected a list item",
            "a list and a key can't share one indentation level: start the line with `- `, or change its indentation",
        )
    } else if info.contains("unknown anchor") {
        let name: String =
            rest.trim_start_matches('*').chars().take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c)).collect();
        hint("unknown alias", &format!("define the anchor with `&{name}` before using `*{name}`"))
    } else if info.contains("tab") {
        hint("tab character", "YAML only allows spaces for indentation; indent with spaces")
    } else if info.contains("quoted scalar") {
        hint("unclosed quote", "close the quoted string with the same quote character it starts with")
    } else if info.contains("recursion limit") {
        hint("nested too deeply", "no ESPHome configuration needs this many nested `[` or `{`")
    } else if rest.starts_with(['@', '`']) {
        hint("reserved character", "`@` and `` ` `` can't start a plain value in YAML; put the value in quotes")
    } else if info.contains("handle wasn't declared") {
        hint("unknown tag handle", "ESPHome tags start with a single `!`, e.g. `!secret name`")
    } else {
        (info.to_string(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Sources;

    fn parse_text(text: &str) -> (Sources, Parsed) {
        let mut sources = Sources::default();
        let file = sources.add("t.yaml".into(), text.into());
        let parsed = parse(file, text);
        (sources, parsed)
    }

    /// 1-based `line:col` of a span's start, and the spanned text.
    fn at(sources: &Sources, span: Span) -> (String, String) {
        let lc = sources.get(span.file).line_col(span.start as usize);
        (format!("{}:{}", lc.line, lc.column), sources.text(span).to_string())
    }

    fn map(raw: &Raw) -> &[(Raw, Raw)] {
        match &raw.kind {
            RawKind::Map(m) => m,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn spans_are_bytes_even_after_multibyte_chars() {
        let (sources, p) = parse_text("\u{feff}é: ü # ö\nkey: [a, {b: c}]\n");
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let m = map(&p.root);
        assert_eq!(at(&sources, m[0].0.span), ("1:2".into(), "é".into()));
        assert_eq!(at(&sources, m[0].1.span), ("1:5".into(), "ü".into()));
        assert_eq!(at(&sources, m[1].1.span), ("2:6".into(), "[a, {b: c}]".into()));
        assert_eq!(at(&sources, p.root.span).1, "é: ü # ö\nkey: [a, {b: c}]");
    }

    #[test]
    fn block_scalar_span_is_trimmed() {
        let (sources, p) = parse_text("a: !lambda |-\n  return 1;\n\nb: 2\n");
        let m = map(&p.root);
        assert_eq!(at(&sources, m[0].1.span), ("1:4".into(), "!lambda |-\n  return 1;".into()));
    }

    #[test]
    fn syntax_error_with_hint_and_partial_tree() {
        let (sources, p) = parse_text("a: 1\nb: c: d\n");
        assert_eq!(p.diagnostics.len(), 1);
        let d = &p.diagnostics[0];
        assert_eq!(d.code, "yaml::syntax");
        assert_eq!(d.message, "Invalid YAML syntax: mapping values are not allowed in this context");
        assert_eq!(at(&sources, d.span.unwrap()), ("2:5".into(), ":".into()));
        assert!(d.help.as_deref().unwrap().contains("quoted"));
        assert_eq!(map(&p.root)[0].0.plain_text(), Some("a"));
    }

    #[test]
    fn unclosed_flow_sequence_points_at_its_opening() {
        let (sources, p) = parse_text("a: [1, 2\nb: 3\n");
        let d = &p.diagnostics[0];
        assert_eq!(d.related.len(), 1);
        assert_eq!(at(&sources, d.related[0].span), ("1:4".into(), "[".into()));
    }

    #[test]
    fn every_tab_line_is_reported_and_parsing_goes_on() {
        let (sources, p) = parse_text("a:\n\tb: 1\n\tc: 2\nd: [\n");
        let codes: Vec<_> = p.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["yaml::tab", "yaml::tab", "yaml::syntax"]);
        assert_eq!(at(&sources, p.diagnostics[1].span.unwrap()), ("3:1".into(), "\t".into()));
        let a = &map(&p.root)[0].1;
        assert_eq!(map(a).len(), 2);
    }

    #[test]
    fn tabs_inside_block_scalars_are_fine() {
        let (_, p) = parse_text("a: |\n  x\n  \ty\n");
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    }

    #[test]
    fn second_document_is_an_error() {
        let (sources, p) = parse_text("a: 1\n---\nb: 2\n");
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(at(&sources, p.diagnostics[0].span.unwrap()), ("2:1".into(), "---".into()));
        assert_eq!(map(&p.root).len(), 1);
    }

    #[test]
    fn too_deep_is_cut_off_without_recursion() {
        let text = format!("{}x\n", "- ".repeat(100_000));
        let (_, p) = parse_text(&text);
        assert_eq!(p.diagnostics.len(), 1, "{:?}", p.diagnostics);
        assert_eq!(p.diagnostics[0].code, "yaml::too-deep");
        // saphyr has its own limit for flow collections.
        let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let (_, p) = parse_text(&text);
        assert_eq!(p.diagnostics[0].label, "nested too deeply");
    }

    #[test]
    fn aliases_share_their_target() {
        let (sources, p) = parse_text("a: &x [1, 2]\nb: *x\n");
        let m = map(&p.root);
        match (&m[0].1.kind, &m[1].1.kind) {
            (RawKind::Ref { target: t1, alias: false }, RawKind::Ref { target: t2, alias: true }) => {
                assert!(Rc::ptr_eq(t1, t2));
                assert_eq!(t1.size, 3);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(at(&sources, m[1].1.span), ("2:4".into(), "*x".into()));
    }
}
