//! `logger:` and its `logger.log` action: per-tag levels may not be more verbose than the
//! global level, and a format needs exactly one argument per printf placeholder. In the
//! firmware, `level` compiles out the `logger.log` actions below it.

use crate::codegen::model::Firmware;
use crate::config::{Config, Item, TypeError, Unused};
use crate::diagnostics::Diagnostic;
use crate::schema::engine::Engine;
use crate::schema::scalar::Invalid;
use crate::source::Span;

const SEVERITY: &[&str] = &["NONE", "ERROR", "WARN", "INFO", "CONFIG", "DEBUG", "VERBOSE", "VERY_VERBOSE"];

/// How detailed a log level is (0: `NONE`), to compare two levels.
pub fn rank(level: &str) -> usize {
    SEVERITY.iter().position(|l| *l == level).unwrap_or(0)
}

/// `logger:`.
pub struct Logger;

impl super::Component for Logger {
    fn name(&self) -> &'static str {
        "logger"
    }
    fn keys(&self) -> &'static [&'static str] {
        crate::config::field_names::<LoggerConfig>()
    }
    fn ignored(&self) -> &'static [(&'static str, &'static str)] {
        IGNORED
    }
    fn validate(&self, engine: &mut Engine, config: &mut Config) {
        check(engine, config);
    }
    fn firmware(&self, firmware: &mut Firmware<'_>) -> Result<(), TypeError> {
        firmware.refuse_automation("logger", "on_message");
        let Some(item) = firmware.config.get("logger") else { return Ok(()) };
        let logger: LoggerConfig = crate::config::read(item)?;
        firmware.logger_level = logger.level.to_string();
        firmware.ignored_keys(item, "logger", IGNORED);
        Ok(())
    }
}

/// The validated `logger:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggerConfig<'a> {
    pub id: Option<&'a str>,
    /// The schema's default is `DEBUG`.
    pub level: &'a str,
    pub baud_rate: Unused,
    pub tx_buffer_size: Unused,
    pub deassert_rts_dtr: Unused,
    pub hardware_uart: Unused,
    pub runtime_tag_levels: Unused,
    pub setup_priority: Unused,
    pub logs: Unused,
    pub on_message: Unused,
    pub initial_level: Unused,
    pub task_log_buffer_size: Unused,
}

/// What ferrota's firmware leaves out of `logger:`, and why (`on_message` is an error of its own).
pub const IGNORED: &[(&str, &str)] = &[
    ("baud_rate", "ferrota's firmware logs to the chip's USB serial port (a host device: to stderr) at a fixed speed"),
    ("hardware_uart", "ferrota's firmware logs to the chip's USB serial port (a host device: to stderr)"),
    ("tx_buffer_size", "ferrota's firmware sizes its log buffer itself"),
    ("task_log_buffer_size", "ferrota's firmware sizes its log buffer itself"),
    ("deassert_rts_dtr", "ferrota's firmware leaves the serial port's control lines alone"),
    ("runtime_tag_levels", "ferrota's firmware fixes log levels at build time"),
    ("logs", "ferrota's firmware applies `level` to every tag"),
    ("initial_level", "ferrota's firmware starts and stays at `level`"),
    ("setup_priority", "ferrota's firmware has no setup order to change"),
];

fn check(engine: &mut Engine, config: &Config) {
    let Some(logger) = config.get("logger") else { return };
    let global = logger.get("level").and_then(Item::as_str).unwrap_or("DEBUG");
    let tags = logger.get("logs").map(Item::fields).unwrap_or_default();
    let initial = logger.field("initial_level").map(|f| (f.key.as_str(), &f.value));
    for (tag, level) in tags.iter().map(|f| (f.key.as_str(), &f.value)).chain(initial) {
        let Some(text) = level.as_str() else { continue };
        if rank(text) > rank(global) {
            let message = if tag == "initial_level" {
                format!("The initial log level ({text}) must not be less severe than the global log level ({global})")
            } else {
                format!("The configured log level for {tag} ({text}) must not be less severe than the global log level ({global})")
            };
            let d = Diagnostic::error("logger::level", level.span, message)
                .with_help(format!("raise the global `level:` to {text}, or lower this one to {global} or less"));
            engine.diagnostics.push(d);
        }
    }
}

/// `logger.log`: the format's printf placeholders must match `args` one to one (ESPHome
/// counts `%%` as a placeholder too, so we do as well).
pub fn check_log_action(action: &Item) -> Result<(), (Invalid, Option<Span>)> {
    let format = action.get("format").and_then(Item::as_str).unwrap_or_default();
    let args = action.get("args").map(|a| a.items().len()).unwrap_or(0);
    let patterns = printf_patterns(format);
    if patterns.len() == args {
        return Ok(());
    }
    let texts: Vec<&str> = patterns.iter().map(|(_, p)| *p).collect();
    let mut help = format!("give `args:` one expression per placeholder ({} here)", patterns.len());
    if let Some((_, p)) = patterns.iter().find(|(at, _)| *at > 0 && format.as_bytes()[at - 1] == b'%') {
        help.push_str(&format!(
            "; note that ESPHome reads `%{p}` as `%` followed by the placeholder `{p}`, so rephrase that part (e.g. write `percent`)"
        ));
    }
    let invalid = Invalid::new(format!("Found {} printf-patterns ({}), but {args} args were given!", patterns.len(), texts.join(", ")))
        .help(help);
    Err((invalid, action.get("format").and_then(|f| f.span)))
}

/// The printf conversions in `format` with their byte offsets, as ESPHome's `validate_printf`
/// regex finds them: `%` flags{0,5} width? .precision? length? conversion.
fn printf_patterns(format: &str) -> Vec<(usize, &str)> {
    const FLAGS: &[u8] = b"-+0 #";
    const CONVERSIONS: &[u8] = b"cCdiouxXeEfgGaAnpsSZ";
    const LENGTHS: [&str; 11] = ["hh", "h", "ll", "l", "j", "z", "t", "L", "w", "I64", "I32"];
    let bytes = format.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i + 1;
        let mut flags = 0;
        while j < bytes.len() && flags < 5 && FLAGS.contains(&bytes[j]) {
            j += 1;
            flags += 1;
        }
        let digits = |mut k: usize| {
            if k < bytes.len() && bytes[k] == b'*' {
                return k + 1;
            }
            while k < bytes.len() && bytes[k].is_ascii_digit() {
                k += 1;
            }
            k
        };
        j = digits(j);
        if j < bytes.len() && bytes[j] == b'.' {
            let after = digits(j + 1);
            if after > j + 1 {
                j = after;
            }
        }
        if let Some(len) = LENGTHS.iter().find(|l| format[j..].starts_with(**l)) {
            if j + len.len() < bytes.len() && CONVERSIONS.contains(&bytes[j + len.len()]) {
                j += len.len();
            }
        }
        if j < bytes.len() && CONVERSIONS.contains(&bytes[j]) {
            found.push((start, &format[start..=j]));
            i = j + 1;
        } else {
            i = start + 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_printf_patterns_like_esphome() {
        let texts = |f| printf_patterns(f).into_iter().map(|(_, p)| p).collect::<Vec<_>>();
        assert_eq!(texts("OTA progress %0.1f%%"), vec!["%0.1f"]);
        assert_eq!(texts("100%% done"), vec!["% d"]);
        assert_eq!(texts("%.0f%% of %s"), vec!["%.0f", "% o", "%s"]);
        assert_eq!(texts("%d %s %lu %5.2f"), vec!["%d", "%s", "%lu", "%5.2f"]);
        assert!(texts("no placeholders").is_empty());
    }
}
