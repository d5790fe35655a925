//! Remote packages: a git repository's files as packages (`url:` + `ref:` + `files:`, or the
//! `github://owner/repo/path.yaml@ref` shorthand).

use super::compose::Loader;
use super::packages::Walk;
use super::parse::Raw;
use crate::diagnostics::Diagnostic;
use crate::source::Span;

impl Loader<'_> {
    pub(super) fn remote_package(&mut self, definition: &Raw, _pairs: &[(Raw, Raw)], _walk: &mut Walk) {
        self.remote_unsupported(definition.span);
    }

    pub(super) fn remote_shorthand(&mut self, at: Span, _text: &str, _walk: &mut Walk) {
        self.remote_unsupported(at);
    }

    fn remote_unsupported(&mut self, at: Span) {
        self.error(
            Diagnostic::error("packages::remote", at, "Remote packages (git) are not supported by ferrota yet")
                .with_help("copy the package's files next to your config and use `!include`"),
        );
    }
}
