//! Source files, byte spans, and the file-access trait.
//!
//! Every stage of the compiler refers to text through a [`Span`]: a file and a byte range.
//! Lines and columns are computed on demand, because the terminal wants 1-based character
//! columns and editors want UTF-16 ones.

use std::io;
use std::path::{Path, PathBuf};

/// Index of a file in a [`Sources`] table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range `start..end` in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start: start as u32, end: end.max(start) as u32 }
    }

    /// A zero-width span at `offset`.
    pub fn point(file: FileId, offset: usize) -> Span {
        Span::new(file, offset, offset)
    }

    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A 1-based line and column. `column` counts Unicode scalar values; `column_utf16` counts
/// UTF-16 code units (what the Language Server Protocol wants, 0-based there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
    pub column_utf16: usize,
}

/// One loaded file: its path as the user named it (relative paths stay relative) and its text.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    /// The `!include` (or package) that first brought this file in; `None` for the main file.
    pub included_from: Option<Span>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: String) -> SourceFile {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile { path, text, included_from: None, line_starts }
    }

    /// The 0-based line a byte offset is on.
    pub fn line_index(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset).saturating_sub(1)
    }

    /// Where 0-based line `line` starts (the text's end past the last line).
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts.get(line).copied().unwrap_or(self.text.len())
    }

    /// The 0-based line and UTF-16 column of a byte offset: how editors (LSP) and browsers'
    /// strings count.
    pub fn position_utf16(&self, offset: usize) -> (usize, usize) {
        let lc = self.line_col(offset);
        (lc.line - 1, lc.column_utf16 - 1)
    }

    /// Line and column of a byte offset (clamped to the text, and to a char boundary).
    pub fn line_col(&self, offset: usize) -> LineCol {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let before = &self.text[self.line_starts[line]..offset];
        LineCol {
            line: line + 1,
            column: before.chars().count() + 1,
            column_utf16: before.encode_utf16().count() + 1,
        }
    }

    /// The byte offset of a 0-based line and UTF-16 column (an editor position), clamped to
    /// the line.
    pub fn offset_of_utf16(&self, line: usize, column_utf16: usize) -> usize {
        let Some(&start) = self.line_starts.get(line) else { return self.text.len() };
        let mut units = 0;
        for (i, c) in self.text[start..].char_indices() {
            if units >= column_utf16 || c == '\n' {
                return start + i;
            }
            units += c.len_utf16();
        }
        self.text.len()
    }

    /// The text of 1-based `line`, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts.get(line.wrapping_sub(1)).copied().unwrap_or(self.text.len());
        let end = self.line_starts.get(line).copied().unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }
}

/// Every file the compiler read, so diagnostics can show their text.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        self.files.push(SourceFile::new(path, text));
        FileId(self.files.len() as u32 - 1)
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// Records where `id` was first included from (later inclusions keep the first).
    pub fn set_included_from(&mut self, id: FileId, at: Span) {
        let file = &mut self.files[id.0 as usize];
        if file.included_from.is_none() && at.file != id {
            file.included_from = Some(at);
        }
    }

    /// The first file added: the main config of a load.
    pub fn main(&self) -> &SourceFile {
        self.get(FileId(0))
    }

    /// The file already loaded from `path`, if any.
    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.files.iter().position(|f| f.path == path).map(|i| FileId(i as u32))
    }

    pub fn text(&self, span: Span) -> &str {
        self.get(span.file).text.get(span.range()).unwrap_or("")
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i as u32), f))
    }
}

/// How the compiler reads files and the environment. The CLI uses [`RealFs`]; an editor passes
/// its unsaved buffers; tests use [`MemoryFs`].
pub trait FileSystem {
    fn read_to_string(&self, path: &Path) -> io::Result<String>;
    /// The environment variable `name`, for `!env_var`.
    fn env_var(&self, name: &str) -> Option<String>;
    /// Whether `path` is a directory (for `!include_dir_*`).
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
    /// Fetches `git_ref` (or the default branch) of the repository at `url` into `dir`, checked
    /// out (for remote packages). Only the real file system can; the others say why not.
    fn fetch_git(&self, url: &str, git_ref: Option<&str>, dir: &Path) -> Result<(), String> {
        let _ = (git_ref, dir);
        Err(format!("fetching {url} failed: git repositories can't be fetched here"))
    }
}

/// The real file system and process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

impl FileSystem for RealFs {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn env_var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut entries = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<Vec<_>>>()?;
        entries.sort();
        Ok(entries)
    }

    fn fetch_git(&self, url: &str, git_ref: Option<&str>, dir: &Path) -> Result<(), String> {
        crate::yaml::git_fetch(url, git_ref, dir)
    }
}

/// An in-memory file system for tests, fuzzing and editors.
#[derive(Debug, Default, Clone)]
pub struct MemoryFs {
    pub files: std::collections::BTreeMap<PathBuf, String>,
    pub env: std::collections::BTreeMap<String, String>,
}

impl MemoryFs {
    pub fn with(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> MemoryFs {
        self.files.insert(path.into(), text.into());
        self
    }
}

impl FileSystem for MemoryFs {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
    }

    fn env_var(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    /// The files in `path` and, like a real directory listing, the subdirectories that deeper
    /// files imply (so `!include_dir_*` can recurse).
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut entries: Vec<PathBuf> = self
            .files
            .keys()
            .filter_map(|p| Some(path.join(p.strip_prefix(path).ok()?.components().next()?)))
            .collect();
        entries.dedup();
        if entries.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "No such file or directory"));
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_chars_and_utf16() {
        let f = SourceFile::new("a.yaml".into(), "ab\nä😀x\n".into());
        assert_eq!(f.line_col(0), LineCol { line: 1, column: 1, column_utf16: 1 });
        let x = f.text.find('x').unwrap();
        assert_eq!(f.line_col(x), LineCol { line: 2, column: 3, column_utf16: 4 });
        assert_eq!(f.line_text(2), "ä😀x");
        assert_eq!(f.line_col(f.text.len()).line, 3);
        assert_eq!(f.offset_of_utf16(1, 3), x, "ä is one unit, 😀 two");
        assert_eq!(f.offset_of_utf16(0, 99), 2, "clamped to the line");
    }
}

/// The disk as an editor sees it: its unsaved buffers first, then the files.
pub struct Overlay<'a> {
    pub buffers: &'a std::collections::BTreeMap<PathBuf, String>,
}

impl FileSystem for Overlay<'_> {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        match self.buffers.get(path) {
            Some(text) => Ok(text.clone()),
            None => RealFs.read_to_string(path),
        }
    }

    fn env_var(&self, name: &str) -> Option<String> {
        RealFs.env_var(name)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        RealFs.read_dir(path)
    }

    fn fetch_git(&self, url: &str, git_ref: Option<&str>, dir: &Path) -> Result<(), String> {
        RealFs.fetch_git(url, git_ref, dir)
    }
}

/// `a/./b/../c` → `a/c`, without touching the file system, so one file has one cache key.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if matches!(out.components().next_back(), Some(std::path::Component::Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

