//! Remote packages from git repositories made here (no network): a file at a ref, per-file
//! vars, a missing ref and a missing file as errors at the package, and offline use of the
//! cached copy.

mod common;

use ferrota::compiler::check;
use ferrota::source::RealFs;
use ferrota::yaml::LoadOptions;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A repository with `wifi.yaml` on `main` and a changed copy on tag `v2`.
fn repository(root: &Path) -> std::path::PathBuf {
    let repo = root.join("repo");
    std::fs::create_dir_all(repo.join("esphome")).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("esphome/wifi.yaml"), "wifi:\n  ssid: ${ssid}\n  password: password1\n").unwrap();
    std::fs::write(repo.join("esphome/logger.yaml"), "logger:\n  level: INFO\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "one"]);
    std::fs::write(repo.join("esphome/logger.yaml"), "logger:\n  level: WARN\n").unwrap();
    git(&repo, &["commit", "-qam", "two"]);
    git(&repo, &["tag", "v2"]);
    repo
}

fn config(dir: &Path, text: &str) -> ferrota::compiler::Checked {
    let path = dir.join("device.yaml");
    std::fs::write(&path, text).unwrap();
    check(&RealFs, &path, &LoadOptions::default()).unwrap()
}

fn errors(checked: &ferrota::compiler::Checked) -> Vec<String> {
    checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect()
}

#[test]
fn files_of_a_repository_at_a_ref_with_vars() {
    let dir = common::TempDir::new("remote-packages");
    let repo = repository(&dir.0);
    let url = format!("file://{}", repo.display());
    let text = format!(
        "esphome:\n  name: remote\nesp32:\n  board: esp32dev\npackages:\n  remote:\n    url: {url}\n    ref: v2\n    path: esphome\n    files:\n      - path: wifi.yaml\n        vars: {{ssid: from_vars}}\n      - logger.yaml\n"
    );
    let checked = config(&dir.0, &text);
    assert_eq!(errors(&checked), Vec::<String>::new());
    let yaml = checked.config.to_yaml(true);
    assert!(yaml.contains("ssid: from_vars"), "{yaml}");
    assert!(yaml.contains("level: WARN"), "the tag's version: {yaml}");
    assert!(dir.path(".ferrota/packages").is_dir(), "cached beside the config");

    // Offline: the repository is gone, the cached copy is used with a warning.
    std::fs::rename(&repo, dir.path("moved")).unwrap();
    let offline = format!("{}    refresh: 0s\n", text);
    let checked = config(&dir.0, &offline);
    assert_eq!(errors(&checked), Vec::<String>::new());
    assert!(checked.diagnostics.iter().any(|d| d.code == "packages::offline"), "{:?}", checked.diagnostics);
    assert!(checked.config.to_yaml(true).contains("level: WARN"));
}

#[test]
fn a_missing_ref_or_file_is_an_error_at_the_package() {
    let dir = common::TempDir::new("remote-packages-missing");
    let repo = repository(&dir.0);
    let url = format!("file://{}", repo.display());
    let head = "esphome:\n  name: remote\nesp32:\n  board: esp32dev\n";
    let checked = config(&dir.0, &format!("{head}packages:\n  r:\n    url: {url}\n    ref: nope\n    files: [esphome/wifi.yaml]\n"));
    let errors_found = errors(&checked);
    assert!(errors_found.iter().any(|e| e.contains("ref 'nope' not found")), "{errors_found:?}");
    let d = checked.diagnostics.iter().find(|d| d.code == "packages::remote").unwrap();
    assert_eq!(checked.sources.get(d.span.unwrap().file).line_col(d.span.unwrap().start as usize).line, 7);

    let checked = config(&dir.0, &format!("{head}packages:\n  r:\n    url: {url}\n    files: [esphome/missing.yaml]\n"));
    let errors_found = errors(&checked);
    assert!(errors_found.iter().any(|e| e.contains("esphome/missing.yaml does not exist in repository")), "{errors_found:?}");

    // No copy and no repository: an error, not a warning.
    let checked = config(&dir.0, &format!("{head}packages:\n  r:\n    url: file://{}/nowhere\n    files: [a.yaml]\n", dir.0.display()));
    assert!(errors(&checked).iter().any(|e| e.contains("fetching file://")), "{:?}", errors(&checked));
}
