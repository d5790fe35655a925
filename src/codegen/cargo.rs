//! Builds a generated project with cargo and reads its JSON messages: the built executable,
//! and rustc's diagnostics, those inside user code mapped back to the YAML.

use super::{Generated, SourceMap};
use crate::diagnostics::Diagnostic;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use super::compile::Report;
use std::process::{Command, Stdio};

/// What a build produced.
#[derive(Debug, Default)]
pub struct Build {
    /// The executable (an ELF for the chips), when the build succeeded.
    pub executable: Option<PathBuf>,
    /// rustc's errors and warnings inside lambdas, at their YAML place.
    pub diagnostics: Vec<Diagnostic>,
    /// rustc's other messages as rustc rendered them (a bug in the templates, or the toolchain),
    /// and the errors of dependencies that failed to build.
    pub other: Vec<String>,
    /// How many of `other` are warnings in the generated code itself (not in user lambdas).
    pub generated_warnings: usize,
}

/// Runs `cargo build --release` for `project` into `target_dir`. cargo's progress goes to our
/// stderr, or to `report` when it wants it; `Err` only when cargo can't be run at all.
pub fn build(project: &Generated, target_dir: &Path, report: &mut dyn Report) -> std::io::Result<Build> {
    build_package(project, &project.dir, &project.package, &project.map, target_dir, report)
}

/// Builds the project's bootloader (`bootloader/`, its own workspace: its HAL features must not
/// be unified with the application's), for the targets that have one. No user code is in it.
pub fn build_bootloader(project: &Generated, package: &str, target_dir: &Path, report: &mut dyn Report) -> std::io::Result<Build> {
    build_package(project, &project.dir.join("bootloader"), package, &SourceMap::default(), target_dir, report)
}

/// Makes sure Rust's standard library for `triple` is installed: with rustup, installs it
/// (saying so on stderr); without rustup, `Err` says what to install.
pub fn ensure_target(triple: &str) -> Result<(), String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).stdin(Stdio::null()).output().map_err(|e| format!("cannot run rustc: {e}"))?;
    let installed = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim()).join("lib/rustlib").join(triple);
    if installed.is_dir() {
        return Ok(());
    }
    // Two compiles at once (a fleet, parallel tests) must not run rustup on the same toolchain
    // together: one waits, then finds the target there.
    let lock = std::fs::File::create(std::env::temp_dir().join("ferrota-rustup.lock"));
    let _guard = lock.as_ref().ok().filter(|f| f.lock().is_ok());
    if installed.is_dir() {
        return Ok(());
    }
    eprintln!("INFO Installing the Rust target {triple} (rustup target add {triple})");
    match Command::new("rustup").args(["target", "add", triple]).stdin(Stdio::null()).status() {
        Ok(status) if status.success() => Ok(()),
        Ok(_) => Err(format!("`rustup target add {triple}` failed; run it yourself and compile again")),
        Err(_) => Err(format!(
            "the Rust standard library for {triple} is not installed and there is no rustup to install it: install rustup (https://rustup.rs) and run `rustup target add {triple}`, or add the target to your Rust installation"
        )),
    }
}

fn build_package(project: &Generated, dir: &Path, package: &str, map: &SourceMap, target_dir: &Path, report: &mut dyn Report) -> std::io::Result<Build> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    // In the project folder, so a `.cargo/config.toml` or toolchain file there applies.
    command
        .current_dir(dir)
        .arg("build")
        .arg("--release")
        .arg("--message-format=json")
        .arg("--manifest-path")
        .arg("Cargo.toml")
        .arg("--target-dir")
        .arg(std::path::absolute(target_dir)?);
    if let Some(triple) = project.target.triple {
        command.arg("--target").arg(triple);
    }
    // What the device's page shows as its build time: when its sources last changed (the
    // generator rewrites only the files that did), so an unchanged config rebuilds nothing.
    if let Some(time) = sources_changed(dir) {
        command.env("FERROTA_BUILD_TIME", time);
    }
    // No stdin: cargo's target probe (`rustc -`) would otherwise read whatever ours is.
    let stderr = if report.wants_cargo_output() { Stdio::piped() } else { Stdio::inherit() };
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(stderr).spawn()?;
    // cargo's own lines, read on a thread of their own and handed over between its messages.
    let (lines, progress) = std::sync::mpsc::channel::<String>();
    let reader = child.stderr.take().map(|stderr| std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).try_for_each(|l| lines.send(l))));
    let mut build = Build::default();
    let mut executable = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            progress.try_iter().for_each(|l| report.output(&l));
            let Ok(message) = serde_json::from_str::<Value>(&line) else { continue };
            read_message(&message, package, map, &mut build, &mut executable);
        }
    }
    if let Some(reader) = reader {
        let _ = reader.join();
    }
    progress.try_iter().for_each(|l| report.output(&l));
    if child.wait()?.success() {
        build.executable = executable;
    }
    Ok(build)
}

fn read_message(message: &Value, package: &str, map: &SourceMap, build: &mut Build, executable: &mut Option<PathBuf>) {
    let ours = message["package_id"].as_str().is_some_and(|id| id.contains(&format!("#{package}@")) || id.contains(&format!("/{package}#")));
    match message["reason"].as_str() {
        Some("compiler-artifact") if ours => {
            if let Some(exe) = message["executable"].as_str() {
                *executable = Some(PathBuf::from(exe));
            }
        }
        // A dependency that fails (a missing target's `can't find crate for core`) says why.
        Some("compiler-message") if !ours => {
            if message["message"]["level"].as_str() == Some("error") {
                if let Some(rendered) = message["message"]["rendered"].as_str() {
                    build.other.push(rendered.to_string());
                }
            }
        }
        Some("compiler-message") => {
            let diagnostic = &message["message"];
            match to_yaml(diagnostic, map) {
                Some(d) => build.diagnostics.push(d),
                None => {
                    if let Some(rendered) = diagnostic["rendered"].as_str() {
                        build.other.push(rendered.to_string());
                        if diagnostic["level"].as_str() == Some("warning") {
                            build.generated_warnings += 1;
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// A rustc diagnostic whose primary span is in user code, as a diagnostic at the YAML.
fn to_yaml(message: &Value, map: &SourceMap) -> Option<Diagnostic> {
    let spans = message["spans"].as_array()?;
    let primary = spans.iter().find(|s| s["is_primary"].as_bool() == Some(true))?;
    let file = Path::new(primary["file_name"].as_str()?);
    let start = usize::try_from(primary["byte_start"].as_u64()?).ok()?;
    let end = usize::try_from(primary["byte_end"].as_u64()?).ok()?;
    let span = map.yaml_span(file, start, end)?;
    let text = message["message"].as_str().unwrap_or("rustc failed");
    let text = match message["code"]["code"].as_str() {
        Some(code) => format!("{text} [rustc {code}]"),
        None => text.to_string(),
    };
    let mut d = match message["level"].as_str() {
        Some("error") => Diagnostic::error("rustc", span, text),
        _ => Diagnostic::warning("rustc", span, text),
    };
    if let Some(label) = primary["label"].as_str() {
        d = d.with_label(label);
    }
    let help: Vec<String> = message["children"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some(format!("{}: {}", c["level"].as_str()?, c["message"].as_str()?)))
        .collect();
    if !help.is_empty() {
        d = d.with_help(help.join("\n"));
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(level: &str, package_id: &str) -> Value {
        serde_json::json!({
            "reason": "compiler-message",
            "package_id": package_id,
            "message": {"level": level, "message": "unused import", "spans": [], "rendered": format!("{level}: unused import\n"), "children": []}
        })
    }

    #[test]
    fn warnings_in_generated_code_are_counted_for_deny_warnings() {
        let mut build = Build::default();
        let mut exe = None;
        let ours = "path+file:///tmp/p#ferrota-device@0.1.0";
        read_message(&message("warning", ours), "ferrota-device", &SourceMap::default(), &mut build, &mut exe);
        read_message(&message("error", ours), "ferrota-device", &SourceMap::default(), &mut build, &mut exe);
        // A dependency's warning is not ours to fix; its error is shown.
        let dependency = "registry+https://github.com/rust-lang/crates.io-index#critical-section@1.2.0";
        read_message(&message("warning", dependency), "ferrota-device", &SourceMap::default(), &mut build, &mut exe);
        read_message(&message("error", dependency), "ferrota-device", &SourceMap::default(), &mut build, &mut exe);
        assert_eq!(build.generated_warnings, 1);
        assert_eq!(build.other.len(), 3, "{:?}", build.other);
    }
}

/// When the newest file of the project at `dir` (its manifest and `src/`) was written, as
/// `2026-12-02 21:40 UTC`.
fn sources_changed(dir: &Path) -> Option<String> {
    let mut files = vec![dir.join("Cargo.toml")];
    files.extend(std::fs::read_dir(dir.join("src")).ok()?.filter_map(|e| e.ok()).map(|e| e.path()));
    let newest = files.iter().filter_map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok()).max()?;
    let seconds = newest.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(utc_text(seconds))
}

/// Seconds since the Unix epoch as a UTC date and time to the minute (Howard Hinnant's
/// `civil_from_days`).
fn utc_text(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let (hour, minute) = (seconds % 86_400 / 3600, seconds % 3600 / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn utc_text_matches_known_dates() {
        assert_eq!(super::utc_text(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc_text(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(super::utc_text(1_796_247_000), "2026-12-02 21:30 UTC");
    }
}
