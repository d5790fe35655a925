//! Remote packages: files of a git repository as packages, as ESPHome's `packages` does it:
//! `{url:, ref:, path:, files: [file | {path:, vars:}], refresh:}` or the shorthand
//! `github://owner/repo/path/file.yaml@ref`.
//!
//! The repository is fetched with the `git` command into `.ferrota/packages/` beside the main
//! config and fetched again once `refresh` (default `1d`) has passed. When a fetch fails and a
//! copy is cached, the copy is used with a warning (offline use); without one, it is an error
//! at the package. Only plain transports are allowed (no `ext::`), and nothing runs from the
//! repository: its files are read like local includes.

use super::compose::Loader;
use super::node::{Node, Value};
use super::packages::Walk;
use super::parse::Raw;
use crate::diagnostics::Diagnostic;
use crate::source::Span;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

/// ESPHome's default `refresh:`: fetch again after a day.
const DEFAULT_REFRESH: Duration = Duration::from_secs(86_400);

/// A remote package, read from its definition.
struct Remote {
    url: String,
    git_ref: Option<String>,
    /// A folder inside the repository the files are relative to.
    subdir: Option<String>,
    /// `(file, vars, where it is named)`.
    files: Vec<(String, HashMap<String, String>, Span)>,
    refresh: Option<Duration>,
    at: Span,
}

impl Loader<'_> {
    /// `{url: …, files: […]}`.
    pub(super) fn remote_package(&mut self, definition: &Raw, walk: &mut Walk) {
        let node = self.node(definition);
        if let Some(remote) = self.remote_definition(&node) {
            self.load_remote(remote, walk);
        }
    }

    /// `github://owner/repo/path/file.yaml@ref`.
    pub(super) fn remote_shorthand(&mut self, at: Span, text: &str, walk: &mut Walk) {
        let Some(rest) = text.strip_prefix("github://") else {
            self.error(
                Diagnostic::error("packages::remote", at, format!("Package contents must be a dict, got the text '{text}'"))
                    .with_help("a remote package is written `github://owner/repo/file.yaml@ref` or `{url: …, files: […]}`"),
            );
            return;
        };
        let (location, git_ref) = match rest.rsplit_once('@') {
            Some((location, git_ref)) => (location, Some(git_ref.to_string())),
            None => (rest, None),
        };
        let parts: Vec<&str> = location.splitn(3, '/').collect();
        let [owner, repo, file] = parts[..] else {
            self.error(
                Diagnostic::error("packages::remote", at, format!("The git shorthand '{text}' needs an owner, a repository and a file"))
                    .with_help("write `github://owner/repo/path/file.yaml@ref`"),
            );
            return;
        };
        let remote = Remote {
            url: format!("https://github.com/{owner}/{repo}.git"),
            git_ref,
            subdir: None,
            files: vec![(file.to_string(), HashMap::new(), at)],
            refresh: Some(DEFAULT_REFRESH),
            at,
        };
        self.load_remote(remote, walk);
    }

    fn remote_definition(&mut self, node: &Node) -> Option<Remote> {
        let text = |key: &str| node.get(key).and_then(|n| n.value.to_python_str());
        let url = text("url")?;
        let mut files = Vec::new();
        let file_list: Vec<Node> = match (node.get("file"), node.get("files")) {
            (Some(_), Some(files)) => {
                self.error(
                    Diagnostic::error("packages::remote", files.span, "Give either `file` or `files`, not both")
                        .with_help("list every file under `files:`"),
                );
                return None;
            }
            (Some(file), None) => vec![file.clone()],
            (None, Some(list)) => list.as_list().into_owned(),
            (None, None) => {
                self.error(
                    Diagnostic::error("packages::remote", node.span, "A remote package needs `file` or `files`")
                        .with_help("name the YAML files to take from the repository, e.g. `files: [common.yaml]`"),
                );
                return None;
            }
        };
        for entry in file_list {
            let (path, vars) = match &entry.value {
                Value::Map(_) => (entry.get("path").and_then(|p| p.value.to_python_str()), entry.get("vars").map(|v| self.vars(v)).unwrap_or_default()),
                _ => (entry.value.to_python_str(), HashMap::new()),
            };
            match path {
                Some(path) if path.ends_with(".yaml") || path.ends_with(".yml") => files.push((path, vars, entry.span)),
                _ => self.error(
                    Diagnostic::error("packages::remote", entry.span, "Only YAML (.yaml / .yml) files are supported.")
                        .with_help("name a `.yaml` file of the repository, or `{path: file.yaml, vars: {…}}`"),
                ),
            }
        }
        let refresh = match text("refresh").as_deref() {
            None => Some(DEFAULT_REFRESH),
            Some("always") => Some(Duration::ZERO),
            Some("never") => None,
            Some(_) => match node.get("refresh").map(crate::schema::scalar::time_period_ms) {
                Some(Ok(ms)) => Some(Duration::from_millis(ms)),
                _ => {
                    let at = node.get("refresh").map_or(node.span, |n| n.span);
                    self.error(
                        Diagnostic::error("packages::remote", at, "`refresh` must be a time period, `always` or `never`")
                            .with_help("e.g. `refresh: 1d` (the default), `refresh: 0s` or `refresh: never`"),
                    );
                    return None;
                }
            },
        };
        Some(Remote { url, git_ref: text("ref"), subdir: text("path"), files, refresh, at: node.span })
    }

    fn load_remote(&mut self, remote: Remote, walk: &mut Walk) {
        if remote.files.is_empty() {
            return;
        }
        let repo = match self.fetched_repository(&remote) {
            Ok(repo) => repo,
            Err(message) => {
                self.error(
                    Diagnostic::error("packages::remote", remote.at, message)
                        .with_help("check the url and ref and that `git` can reach it; once fetched, the copy in .ferrota/packages/ is used offline"),
                );
                return;
            }
        };
        let dir = match &remote.subdir {
            Some(sub) => repo.join(sub),
            None => repo,
        };
        for (file, vars, at) in remote.files {
            let path = dir.join(&file);
            if !path.is_file() {
                self.error(
                    Diagnostic::error("packages::remote", at, format!("{file} does not exist in repository {}", remote.url))
                        .with_help("check the file's path inside the repository (and `path:`, if the files are in a folder)"),
                );
                continue;
            }
            self.package_file(at, path, vars, walk);
        }
    }

    /// The local copy of the repository at the ref, fetched when missing or older than
    /// `refresh`; one fetch per load.
    fn fetched_repository(&mut self, remote: &Remote) -> Result<PathBuf, String> {
        let key = format!("{}@{}", remote.url, remote.git_ref.as_deref().unwrap_or(""));
        if let Some(done) = self.remotes.get(&key) {
            return done.clone();
        }
        let main_dir = self.sources.get(self.main_file).path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = main_dir.join(".ferrota/packages").join(cache_name(&key));
        let stamp = dir.join(".git/ferrota-fetched");
        let fresh = std::fs::metadata(&stamp)
            .and_then(|m| m.modified())
            .is_ok_and(|t| remote.refresh.is_none_or(|r| SystemTime::now().duration_since(t).unwrap_or_default() < r));
        let result = if fresh {
            Ok(dir.clone())
        } else {
            match self.fs.fetch_git(&remote.url, remote.git_ref.as_deref(), &dir) {
                Ok(()) => {
                    let _ = std::fs::write(&stamp, b"");
                    Ok(dir.clone())
                }
                Err(why) if stamp.exists() => {
                    self.error(
                        Diagnostic::warning("packages::offline", remote.at, format!("Could not refresh {}: {why}; using the copy fetched before", remote.url))
                            .with_help("the package is as it was at the last successful fetch"),
                    );
                    Ok(dir.clone())
                }
                Err(why) => Err(why),
            }
        };
        self.remotes.insert(key, result.clone());
        result
    }
}

/// A folder name for one url and ref: readable, and unique through a hash of both.
fn cache_name(key: &str) -> String {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let readable: String = key
        .rsplit('/')
        .next()
        .unwrap_or("repo")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(40)
        .collect();
    format!("{readable}-{hash:016x}")
}

/// `git fetch --depth 1` of the ref (or the default branch) into `dir`, checked out (for
/// [`crate::source::RealFs`]).
pub fn git_fetch(url: &str, git_ref: Option<&str>, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let git = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("git")
            .args(["-c", "protocol.ext.allow=never", "-c", "advice.detachedHead=false"])
            .args(args)
            .current_dir(dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ALLOW_PROTOCOL", "file:git:http:https:ssh")
            .output()
            .map_err(|e| format!("cannot run git ({e}); install git to use remote packages"))?;
        if out.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("git failed").trim();
            Err(last.strip_prefix("fatal: ").unwrap_or(last).to_string())
        }
    };
    if !dir.join(".git").is_dir() {
        git(&["init", "-q"])?;
    }
    let wanted = git_ref.unwrap_or("HEAD");
    git(&["fetch", "-q", "--depth", "1", url, wanted]).map_err(|why| match git_ref {
        Some(r) if why.contains("couldn't find remote ref") || why.contains("not our ref") => format!("ref '{r}' not found in {url}"),
        _ => format!("fetching {url} failed: {why}"),
    })?;
    git(&["checkout", "-q", "--force", "FETCH_HEAD"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names_differ_by_ref() {
        let a = cache_name("https://github.com/o/r.git@main");
        let b = cache_name("https://github.com/o/r.git@dev");
        assert_ne!(a, b);
        assert!(a.starts_with("r_git_main-"), "{a}");
    }
}
