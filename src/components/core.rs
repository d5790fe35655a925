//! The `esphome:` block and the target platform: exactly one platform block, the device name's
//! rules, and the small string checks they use; in the firmware, the device's names and its
//! boot and shutdown automations.

use crate::codegen::model::Firmware;
use crate::config::{Config, Item, TypeError, Unused};
use crate::diagnostics::Diagnostic;
use crate::schema::engine::Engine;
use crate::schema::scalar::Invalid;
use crate::yaml::{Entry, Node};

/// The one target platform block, or a diagnostic when there is none or more than one.
pub fn find_target(root: &Node, entries: &[Entry]) -> Result<&'static str, Box<Diagnostic>> {
    let registry = crate::schema::Registry::get();
    let targets: Vec<(&Entry, &'static str)> = entries
        .iter()
        .filter_map(|e| {
            let key = e.key.key_text();
            registry.targets().find(|t| *t == registry.canonical(&key)).map(|t| (e, t))
        })
        .collect();
    match targets.as_slice() {
        [(_, target)] => Ok(target),
        [] => {
            let at = entries.iter().find(|e| e.key.as_str() == Some("esphome")).map_or(root.span, |e| e.key.span);
            Err(Box::new(Diagnostic::error(
                "config::missing-platform",
                at,
                format!(
                    "Platform missing. You must include one of the available platform keys: {}",
                    registry.targets().collect::<Vec<_>>().join(", ")
                ),
            )
            .with_help("add the block of the chip this device runs on, e.g. `esp32:` with `board: esp32dev`, or `host:`")))
        }
        [(first, _), rest @ ..] => {
            let names: Vec<String> = targets.iter().map(|(e, _)| e.key.key_text()).collect();
            let mut d = Diagnostic::error(
                "config::multiple-platforms",
                rest[0].0.key.span,
                format!("Found multiple target platform blocks: {}. Only one is allowed.", names.join(", ")),
            )
            .with_related(first.key.span, "first platform block here")
            .with_help("keep the block of the chip this config is for and remove the others");
            for (other, _) in &rest[1..] {
                d = d.with_related(other.key.span, "another platform block");
            }
            Err(Box::new(d))
        }
    }
}

/// `esphome:`.
pub struct Esphome;

impl super::Component for Esphome {
    fn name(&self) -> &'static str {
        "esphome"
    }
    fn keys(&self) -> &'static [&'static str] {
        crate::config::field_names::<EsphomeConfig>()
    }
    fn ignored(&self) -> &'static [(&'static str, &'static str)] {
        IGNORED
    }
    fn validate(&self, engine: &mut Engine, config: &mut Config) {
        check(engine, config);
    }
    fn firmware(&self, firmware: &mut Firmware<'_>) -> Result<(), TypeError> {
        let Some(item) = firmware.config.get("esphome") else { return Ok(()) };
        let core: EsphomeConfig = crate::config::read(item)?;
        let model = &mut firmware.model;
        model.name = core.name.to_string();
        model.friendly_name = core.friendly_name.to_string();
        model.package = format!("ferrota-{}", core.name);
        model.bootloader_package = format!("ferrota-{}-bootloader", core.name);
        firmware.model.on_boot = firmware.triggers(Some(item), "on_boot");
        firmware.model.on_shutdown = firmware.triggers(Some(item), "on_shutdown");
        firmware.refuse_automation("esphome", "on_loop");
        firmware.ignored_keys(item, "esphome", IGNORED);
        Ok(())
    }
}

/// The validated `esphome:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EsphomeConfig<'a> {
    pub name: &'a str,
    /// The schema's default is `""`.
    pub friendly_name: &'a str,
    /// A note for people (the dashboard shows it).
    pub comment: Option<&'a str>,
    /// Checked by validation against ESPHome's version; nothing to build.
    pub min_version: &'a str,
    // The automations keep their YAML places: `Firmware::triggers` reads them from the tree.
    pub on_boot: Unused,
    pub on_shutdown: Unused,
    pub on_loop: Unused,
    pub area: Unused,
    pub areas: Unused,
    pub devices: Unused,
    pub project: Unused,
    pub build_path: Unused,
    pub name_add_mac_suffix: Unused,
    pub platformio_options: Unused,
    pub build_flags: Unused,
    pub environment_variables: Unused,
    pub includes: Unused,
    pub includes_c: Unused,
    pub libraries: Unused,
    pub merge_warnings: Unused,
    pub debug_scheduler: Unused,
    pub suspend_loop: Unused,
    pub loop_interval: Unused,
    pub compile_process_limit: Unused,
}

const CPP: &str = "ferrota builds Rust firmware, not ESPHome's C++: C++ build settings and sources don't apply";

/// What ferrota's firmware leaves out of `esphome:`, and why (`on_loop` is an error of its own).
pub const IGNORED: &[(&str, &str)] = &[
    ("area", "ferrota's firmware has no native API to report an area to Home Assistant"),
    ("areas", "ferrota's firmware has no native API to report areas to Home Assistant"),
    ("devices", "ferrota's firmware has no entities to group into sub-devices"),
    ("project", "ferrota's firmware has no native API to report a project to Home Assistant"),
    ("build_path", "ferrota builds in `.ferrota/build/<name>/` beside the config (`ferrota compile --build-dir` to change it)"),
    ("name_add_mac_suffix", "ferrota's firmware uses `name` as written"),
    ("platformio_options", CPP),
    ("build_flags", CPP),
    ("environment_variables", CPP),
    ("includes", CPP),
    ("includes_c", CPP),
    ("libraries", CPP),
    ("merge_warnings", CPP),
    ("debug_scheduler", "ferrota's firmware runs an async executor, not ESPHome's scheduler"),
    ("suspend_loop", "ferrota's firmware runs an async executor, not ESPHome's loop"),
    ("loop_interval", "ferrota's firmware runs an async executor, not ESPHome's loop"),
    ("compile_process_limit", "cargo decides how many build jobs run"),
];

/// Rules across keys of `esphome:` (ESPHome's `validate_hostname`).
fn check(engine: &mut Engine, config: &Config) {
    let Some(esphome) = config.get("esphome") else { return };
    let Some(name) = esphome.get("name") else { return };
    let Some(text) = name.as_str() else { return };
    let span = name.span.or(esphome.span);
    let suffix = esphome.get("name_add_mac_suffix").and_then(Item::as_bool).unwrap_or(false);
    let max = if suffix { 24 } else { 31 };
    if text.is_empty() {
        let d = Diagnostic::error("esphome::name", span, "Hostname must not be empty")
            .with_help("name the device, e.g. `name: living-room`");
        engine.diagnostics.push(d);
    } else if text.len() > max {
        let why = if suffix { " (7 are reserved for the MAC suffix added by `name_add_mac_suffix`)" } else { "" };
        let d = Diagnostic::error("esphome::name", span, format!("Hostnames can only be {max} characters long"))
            .with_help(format!("shorten the name to at most {max} characters{why}"));
        engine.diagnostics.push(d);
    } else if text.contains('_') {
        let d = Diagnostic::warning(
            "esphome::name-underscore",
            span,
            format!("'{text}': Using the '_' (underscore) character in the hostname is discouraged as it can cause problems with some DHCP and local name services."),
        )
        .with_help(format!("use a dash instead: `{}`", text.replace('_', "-")));
        engine.diagnostics.push(d);
    }
}

/// `cv.valid_name`: lowercase letters, digits, `-` and `_`.
pub fn valid_name(value: &str) -> Result<String, Invalid> {
    const ALLOWED: &str = "abcdefghijklmnopqrstuvwxyz0123456789-_";
    if let Some(c) = value.chars().find(|c| !ALLOWED.contains(*c)) {
        let message = format!("'{c}' is an invalid character for names. Valid characters are: {ALLOWED} (lowercase, no spaces)");
        // `co2-${room}` left as written: the substitution is what is missing, not a new name.
        if c == '$' && value.contains('$') {
            let name = value.split('$').nth(1).unwrap_or_default().trim_start_matches('{');
            let name: String = name.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            return Err(Invalid::new(message).help(format!(
                "`{name}` is not a declared substitution, so the name kept the `$`: declare it under `substitutions:` or pass `-s {name} VALUE`"
            )));
        }
        let fixed: String = value
            .to_lowercase()
            .chars()
            .map(|c| if ALLOWED.contains(c) { c } else { '-' })
            .collect();
        return Err(Invalid::new(message).help(format!("try `{fixed}`; put a display name with spaces and capitals in `friendly_name`")));
    }
    Ok(value.to_string())
}

/// Device and area names may not contain `/` (it separates web server URL paths). ESPHome
/// 2026.10 still accepts it, replaced by U+2044 FRACTION SLASH, with a deprecation warning.
pub fn no_slash(value: &str) -> Result<String, Invalid> {
    Ok(value.replace('/', "\u{2044}"))
}

/// `cv.mac_address`: six hex bytes separated by colons.
pub fn mac_address(value: &str) -> Result<String, Invalid> {
    let parts: Vec<&str> = value.split(':').collect();
    if parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit())) {
        return Ok(value.to_uppercase());
    }
    Err(Invalid::new("MAC Address must be format XX:XX:XX:XX:XX:XX").help("write six hex bytes, e.g. `98:35:69:AB:F6:79`"))
}

/// `cv.ipv4address`: four decimal octets.
pub fn ipv4(value: &str) -> Result<String, Invalid> {
    value
        .parse::<std::net::Ipv4Addr>()
        .map(|ip| ip.to_string())
        .map_err(|_| Invalid::new(format!("{value} is not a valid IPv4 address")).help("write an address such as `192.168.1.50`"))
}

/// The ESPHome release whose behaviour ferrota follows.
pub const ESPHOME_VERSION: (u64, u64, u64, &str) = (2026, 10, 0, "");

/// `cv.version_number` + `validate_esphome_version`: `MAJOR.MINOR[.PATCH][-extra]`, not newer
/// than the release ferrota follows. Normalised as ESPHome prints it (`2026.1` → `2026.1.0`).
pub fn esphome_version(value: &str) -> Result<String, Invalid> {
    let bad = || Invalid::new("Not a valid version number").help("write a version such as `2026.10.0`");
    let (numbers, extra) = match value.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, ""),
    };
    let numbers = numbers.strip_suffix('.').unwrap_or(numbers);
    let extra = extra.strip_prefix(['-', '.']).unwrap_or(extra);
    if !extra.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(bad());
    }
    let parts: Vec<u64> = numbers.split('.').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
    let (major, minor, patch) = match parts[..] {
        [major, minor] => (major, minor, 0),
        [major, minor, patch] => (major, minor, patch),
        _ => return Err(bad()),
    };
    let (cur_major, cur_minor, cur_patch, cur_extra) = ESPHOME_VERSION;
    if (cur_major, cur_minor, cur_patch, cur_extra) < (major, minor, patch, extra) {
        return Err(Invalid::new(format!(
            "Your ESPHome version is too old. Please update to at least {}",
            version_text(major, minor, patch, extra)
        ))
        .help(format!("ferrota follows ESPHome {cur_major}.{cur_minor}.{cur_patch}; lower `min_version:` or remove it")));
    }
    Ok(version_text(major, minor, patch, extra))
}

fn version_text(major: u64, minor: u64, patch: u64, extra: &str) -> String {
    if extra.is_empty() {
        format!("{major}.{minor}.{patch}")
    } else {
        format!("{major}.{minor}.{patch}-{extra}")
    }
}

/// An API/OTA encryption key: 32 bytes in base64, not all zero.
pub fn api_key(value: &str) -> Result<String, Invalid> {
    let help = "generate one with `openssl rand -base64 32`";
    let bytes = base64_decode(value).ok_or_else(|| Invalid::new("Invalid key format, please check it's using base64").help(help))?;
    if bytes.len() != 32 {
        return Err(Invalid::new("Encryption key must be base64 and 32 bytes long").help(help));
    }
    if bytes.iter().all(|b| *b == 0) {
        return Err(Invalid::new(
            "The all-zeros key is reserved and provides no protection; omit the key to provision it at runtime, or generate a real key with: openssl rand -base64 32",
        )
        .help(help));
    }
    Ok(value.to_string())
}

/// Strict standard base64, as Python's `b64decode(validate=True)`: padded to a multiple of
/// four (the device crate's decoder checks the alphabet and that `=` only ends it).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 != 0 {
        return None;
    }
    let mut out = vec![0u8; text.len() / 4 * 3];
    let len = ferrota_ota::base64::decode_into(text.as_bytes(), &mut out)?;
    out.truncate(len);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_version_follows_esphome() {
        assert_eq!(esphome_version("2026.1").unwrap(), "2026.1.0");
        assert_eq!(esphome_version("2025.12.3").unwrap(), "2025.12.3");
        assert_eq!(esphome_version("2026.10.0").unwrap(), "2026.10.0");
        assert!(esphome_version("2026.10.1").unwrap_err().message.contains("too old"));
        assert!(esphome_version("2026.10.0-b1").unwrap_err().message.contains("too old"), "'' < 'b1' as in Python");
        assert_eq!(esphome_version("abc").unwrap_err().message, "Not a valid version number");
    }

    #[test]
    fn api_keys_are_strict_base64_of_32_bytes() {
        assert!(api_key("MmZzWXVBQjJ1cGtlQWRyN0RzbkRJOXBDM2FQbTFaQ2M=").is_ok());
        assert!(api_key("MmZzWXVBQjJ1cGtlQWRyN0RzbkRJOXBDM2FQbTFaQ2M").unwrap_err().message.contains("base64"), "padding is required");
        assert!(api_key("MmZz WXVBQjJ1cGtlQWRyN0RzbkRJOXBDM2FQbTFaQ2M=").is_err());
        assert!(api_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap_err().message.contains("all-zeros"));
        assert!(api_key("YWJj").unwrap_err().message.contains("32 bytes"));
    }
}
