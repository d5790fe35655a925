//! One diagnostic type for every stage, rendered three ways: miette in the terminal, JSON for
//! tools, and LSP for editors.

use crate::source::{Sources, Span};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A secondary location with its own text, e.g. "first defined here".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// A problem found in the user's config, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `yaml::duplicate-key` or `schema::unknown-key`.
    pub code: &'static str,
    pub message: String,
    /// Where the problem is. `None` only for problems with no place in any file.
    pub span: Option<Span>,
    /// Text of the label at `span`; the message is used when empty.
    pub label: String,
    pub related: Vec<Label>,
    pub help: Option<String>,
    /// A change that fixes the problem: what editors offer as a quick fix (see [`crate::fixes`]).
    pub fix: Option<Fix>,
}

/// A fix for a diagnostic, in the config's terms; [`crate::fixes::edits`] turns it into text edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Write `text` in place of `span`: a misspelt key or value becomes the suggestion.
    Replace { span: Span, text: String },
    /// Move the mapping entry `entry` (its key's start to its value's end) to the top-level
    /// component `to`: `safe_mode` under `ota:` becomes `safe_mode:`.
    Move { entry: Span, to: String },
    /// Make the mapping at `value` a list of one entry of `platform`: the old `ota:` form.
    ToPlatformList { value: Span, platform: String },
}

impl Diagnostic {
    pub fn error(code: &'static str, span: impl Into<Option<Span>>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: span.into(),
            label: String::new(),
            related: Vec::new(),
            help: None,
            fix: None,
        }
    }

    pub fn warning(code: &'static str, span: impl Into<Option<Span>>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, span, message) }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Label { span, message: message.into() });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }

    /// Offers `text` in place of `span` as the fix.
    pub fn replace_with(self, span: Span, text: impl Into<String>) -> Self {
        self.with_fix(Fix::Replace { span, text: text.into() })
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A problem `ferrota compile` stops on, as `ferrota config` and editors report it: a warning
/// (ESPHome accepts the config, so `config`'s verdict stays ESPHome's) that says `compile` will
/// refuse it. Warnings stay as they are.
pub fn refused_by_compile(mut d: Diagnostic) -> Diagnostic {
    if d.is_error() {
        d.severity = Severity::Warning;
        d.message = format!("`ferrota compile` will refuse this: {}", d.message);
    }
    d
}

/// Adds "x.yaml included from here" for each `!include` (or package) that led to the file the
/// diagnostic is in, innermost first, so a problem inside an included file shows how it got in.
pub fn with_include_chain(sources: &Sources, mut d: Diagnostic) -> Diagnostic {
    const SUFFIX: &str = " included from here";
    if d.related.iter().any(|l| l.message.ends_with(SUFFIX)) {
        return d;
    }
    let mut file = d.span.map(|s| s.file);
    let mut seen = Vec::new();
    while let Some(id) = file.filter(|id| !seen.contains(id)) {
        seen.push(id);
        let source = sources.get(id);
        let Some(at) = source.included_from else { break };
        d = d.with_related(at, format!("{}{SUFFIX}", source.path.display()));
        file = Some(at.file);
    }
    d
}

/// Sorts diagnostics by file and position (file-less ones last), keeping insertion order for ties.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| d.span.map_or((1, 0, 0), |s| (0, s.file.0, s.start)));
}

/// The JSON shape of one diagnostic: 1-based lines and columns (columns in characters).
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub file: Option<String>,
    pub start_line: Option<usize>,
    pub start_column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub severity: Severity,
    pub code: &'a str,
    pub message: &'a str,
    pub help: Option<&'a str>,
    pub related: Vec<JsonLabel<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel<'a> {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: &'a str,
}

pub fn to_json<'a>(sources: &Sources, d: &'a Diagnostic) -> JsonDiagnostic<'a> {
    let place = d.span.map(|span| {
        let file = sources.get(span.file);
        (file.path.display().to_string(), file.line_col(span.start as usize), file.line_col(span.end as usize))
    });
    JsonDiagnostic {
        file: place.as_ref().map(|p| p.0.clone()),
        start_line: place.as_ref().map(|p| p.1.line),
        start_column: place.as_ref().map(|p| p.1.column),
        end_line: place.as_ref().map(|p| p.2.line),
        end_column: place.as_ref().map(|p| p.2.column),
        severity: d.severity,
        code: d.code,
        message: &d.message,
        help: d.help.as_deref(),
        related: d
            .related
            .iter()
            .map(|l| {
                let file = sources.get(l.span.file);
                let lc = file.line_col(l.span.start as usize);
                JsonLabel { file: file.path.display().to_string(), line: lc.line, column: lc.column, message: &l.message }
            })
            .collect(),
    }
}

/// Renders diagnostics for the terminal with miette: `file:line:col`, the source line with a
/// label, secondary labels (also in other files), and help.
/// Whether diagnostics on stderr get colour: a terminal, and `NO_COLOR` unset.
pub fn stderr_color() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

pub fn render_terminal(sources: &Sources, diagnostics: &[Diagnostic], color: bool) -> String {
    use miette::{GraphicalReportHandler, GraphicalTheme};
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1).with_width(100);
    let mut out = String::new();
    for d in diagnostics {
        let report = render::Report::new(sources, d);
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&d.message);
        }
        out.push('\n');
    }
    out
}

/// Adapter from [`Diagnostic`] to miette's trait. Each label in another file than the primary
/// one becomes a related report, because a miette report shows one source.
mod render {
    use super::*;
    use crate::source::SourceFile;
    use miette::{LabeledSpan, MietteError, SourceCode, SourceSpan, SpanContents};
    use std::fmt;

    /// A file as miette reads it, borrowed: miette's own reader walks a source from its start
    /// for every label, so it is handed only the text from a line or two before the span (the
    /// same lines it would show), and the answer is shifted back to the file's offsets.
    pub struct FileSource<'a> {
        name: String,
        file: &'a SourceFile,
    }

    impl<'a> FileSource<'a> {
        fn new(file: &'a SourceFile) -> Self {
            FileSource { name: file.path.display().to_string(), file }
        }
    }

    impl SourceCode for FileSource<'_> {
        fn read_span<'b>(&'b self, span: &SourceSpan, before: usize, after: usize) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
            let text = self.file.text.as_bytes();
            if span.offset() > text.len() {
                return Err(MietteError::OutOfBounds);
            }
            let from_line = self.file.line_index(span.offset()).saturating_sub(before + 1);
            let from = self.file.line_start(from_line);
            let inner = text[from..].read_span(&SourceSpan::new((span.offset() - from).into(), span.len()), before, after)?;
            let span = SourceSpan::new((inner.span().offset() + from).into(), inner.span().len());
            Ok(Box::new(Shifted { inner, span, from_line, name: &self.name }))
        }
    }

    /// Span contents read from a slice that starts at line `from_line`; `span` in the file.
    struct Shifted<'b> {
        inner: Box<dyn SpanContents<'b> + 'b>,
        span: SourceSpan,
        from_line: usize,
        name: &'b str,
    }

    impl<'b> SpanContents<'b> for Shifted<'b> {
        fn data(&self) -> &'b [u8] {
            self.inner.data()
        }
        fn span(&self) -> &SourceSpan {
            &self.span
        }
        fn line(&self) -> usize {
            self.inner.line() + self.from_line
        }
        fn column(&self) -> usize {
            self.inner.column()
        }
        fn line_count(&self) -> usize {
            self.inner.line_count() + self.from_line
        }
        fn name(&self) -> Option<&str> {
            Some(self.name)
        }
    }

    pub struct Report<'a> {
        headline: String,
        code: &'static str,
        severity: Severity,
        help: Option<&'a str>,
        source: Option<FileSource<'a>>,
        labels: Vec<LabeledSpan>,
        related: Vec<Report<'a>>,
    }

    impl<'a> Report<'a> {
        pub fn new(sources: &'a Sources, d: &'a Diagnostic) -> Report<'a> {
            let Some(span) = d.span else {
                return Report {
                    headline: d.message.clone(),
                    code: d.code,
                    severity: d.severity,
                    help: d.help.as_deref(),
                    source: None,
                    labels: vec![],
                    related: vec![],
                };
            };
            let file = sources.get(span.file);
            let label_text = if d.label.is_empty() { None } else { Some(d.label.clone()) };
            let mut labels = vec![LabeledSpan::new_primary_with_span(label_text, span.range())];
            let mut related = Vec::new();
            for l in &d.related {
                if l.span.file == span.file {
                    labels.push(LabeledSpan::new_with_span(Some(l.message.clone()), l.span.range()));
                } else {
                    let other = sources.get(l.span.file);
                    related.push(Report {
                        headline: l.message.clone(),
                        code: "",
                        severity: Severity::Warning,
                        help: None,
                        source: Some(FileSource::new(other)),
                        labels: vec![LabeledSpan::new_with_span(Some(l.message.clone()), l.span.range())],
                        related: vec![],
                    });
                }
            }
            Report {
                headline: d.message.clone(),
                code: d.code,
                severity: d.severity,
                help: d.help.as_deref(),
                source: Some(FileSource::new(file)),
                labels,
                related,
            }
        }
    }

    impl fmt::Debug for Report<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.headline)
        }
    }

    impl fmt::Display for Report<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.headline)
        }
    }

    impl std::error::Error for Report<'_> {}

    impl miette::Diagnostic for Report<'_> {
        fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
            (!self.code.is_empty()).then(|| Box::new(self.code) as Box<dyn fmt::Display>)
        }

        fn severity(&self) -> Option<miette::Severity> {
            Some(match self.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning if self.code.is_empty() => miette::Severity::Advice,
                Severity::Warning => miette::Severity::Warning,
            })
        }

        fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
            self.help.map(|h| Box::new(h) as Box<dyn fmt::Display>)
        }

        fn source_code(&self) -> Option<&dyn SourceCode> {
            self.source.as_ref().map(|s| s as &dyn SourceCode)
        }

        fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
            (!self.labels.is_empty()).then(|| Box::new(self.labels.iter().cloned()) as Box<_>)
        }

        fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
            (!self.related.is_empty())
                .then(|| Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)) as Box<_>)
        }
    }
}
