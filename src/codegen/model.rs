//! The validated config turned into what the templates print: plain serde structs, with every
//! piece of user code as a [`Code`] region and every YAML string still a plain string (the
//! templates' filters escape them).

use super::lambda::{check_code, references, Region};
use super::printf;
use super::target::{Family, Target};
use crate::config::{Config, Field, Item, Val};
use crate::diagnostics::Diagnostic;
use crate::source::{Sources, Span};
use serde::Serialize;
use std::path::Path;

/// Everything a target's templates need.
#[derive(Debug, Serialize)]
pub struct Model {
    /// `esphome: name`.
    pub name: String,
    pub friendly_name: String,
    /// The config file, relative to its own folder.
    pub config_file: String,
    /// The Cargo package (and binary) name.
    pub package: String,
    /// The bootloader's package name, for targets that build their own (the Pico W).
    pub bootloader_package: String,
    /// Where the `ferrota-ota` crate is (a path dependency).
    pub runtime: String,
    pub target: Target,
    /// The flash layout of an ESP32 (`None` for other targets).
    pub esp32_flash: Option<Esp32Flash>,
    /// The flash layout of a Pico W (`None` for other targets).
    pub rp2040_flash: Option<Rp2040Flash>,
    pub ota: Option<Ota>,
    pub safe_mode: SafeMode,
    pub wifi: Option<Wifi>,
    pub web_server: Option<WebServer>,
    /// `esphome: on_boot`, highest priority first.
    pub on_boot: Vec<Trigger>,
    /// `esphome: on_shutdown`, highest priority first.
    pub on_shutdown: Vec<Trigger>,
    pub on_safe_mode: Vec<String>,
    pub ota_hooks: OtaHooks,
    /// The `platform: web_server` entry's automations, for uploads to `/update`.
    pub web_ota_hooks: OtaHooks,
    pub automations: Vec<Automation>,
    pub lambdas: Vec<Lambda>,
}

/// `ota: - platform: esphome`.
#[derive(Debug, Serialize)]
pub struct Ota {
    /// Its field in `Components` (its id).
    pub field: String,
    pub port: u16,
    pub version: u8,
    /// `None` when the YAML has no `password:`; `""` also means no auth.
    pub password: Option<String>,
}

/// `esp32: flash_size` and the two OTA app slots `partitions.csv` makes of it.
#[derive(Debug, Serialize)]
pub struct Esp32Flash {
    /// As ESPHome spells it (`4MB`); the app image header records it.
    pub flash_size: String,
    /// Each OTA app slot's size.
    pub app_slot_size: u32,
    /// Where the second slot starts (the first is at 0x10000).
    pub ota_1_offset: u32,
}

impl Esp32Flash {
    /// The first app slot starts at 0x10000, after the bootloader, the partition table and
    /// the data partitions; two equal slots share the rest, at most 0x1e0000 each (the size
    /// ESPHome's 4MB layout gives an app), 64 KiB aligned as the MMU maps them.
    pub fn of(config: &Config) -> Self {
        let flash_size = esp32_flash_size(config);
        let bytes: u32 = flash_size.trim_end_matches("MB").parse::<u32>().unwrap_or(4).saturating_mul(0x10_0000);
        let slot = (bytes.saturating_sub(0x1_0000) / 2 / 0x1_0000 * 0x1_0000).min(0x1e_0000);
        Esp32Flash { flash_size, app_slot_size: slot, ota_1_offset: 0x1_0000 + slot }
    }
}

/// The Pico W's 2 MiB flash as embassy-boot divides it, as offsets from the flash start
/// (0x1000_0000 in the address space). Every region is a multiple of the 4 KiB erase sector.
#[derive(Debug, Serialize)]
pub struct Rp2040Flash {
    /// The bootloader, after the 256-byte second-stage boot code (`boot2`) at 0.
    pub bootloader: u32,
    pub bootloader_size: u32,
    /// embassy-boot's state page: whether to swap, revert or just boot.
    pub state: u32,
    /// The running build.
    pub active: u32,
    pub active_size: u32,
    /// Where an update is written; one sector larger than `active` for the swap.
    pub dfu: u32,
    pub dfu_size: u32,
    /// Safe mode's boot counter: the last sector, outside embassy-boot's regions.
    pub safe_mode: u32,
}

impl Rp2040Flash {
    const FLASH_SIZE: u32 = 2 * 1024 * 1024;
    const SECTOR: u32 = 4096;

    /// 24 KiB for the bootloader (about 12 KiB today), then the state page, then two
    /// (almost) equal halves of what is left before the safe mode sector.
    pub fn pico_w() -> Self {
        let state = 0x6000;
        let active = state + Self::SECTOR;
        let safe_mode = Self::FLASH_SIZE - Self::SECTOR;
        let active_size = (safe_mode - active - Self::SECTOR) / 2 / Self::SECTOR * Self::SECTOR;
        let dfu = active + active_size;
        Rp2040Flash { bootloader: 0x100, bootloader_size: state - 0x100, state, active, active_size, dfu, dfu_size: active_size + Self::SECTOR, safe_mode }
    }
}

/// `esp32: flash_size` (ESPHome's default `4MB` when it is not set).
pub fn esp32_flash_size(config: &Config) -> String {
    config.get("esp32").and_then(|e| e.get("flash_size")).and_then(Item::as_str).unwrap_or("4MB").to_uppercase()
}

#[derive(Debug, Serialize)]
pub struct SafeMode {
    pub disabled: bool,
    pub num_attempts: u32,
    pub boot_is_good_after_ms: u64,
    pub reboot_timeout_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct Wifi {
    pub ssid: String,
    pub password: String,
    /// `manual_ip`; `None`: DHCP.
    pub static_ip: Option<StaticIp>,
    /// `min_auth_mode` as ferrota-ota-embassy's `Security` names it (`Open` without a password).
    pub security: &'static str,
}

/// `wifi: manual_ip` as the firmware's `StaticIp` takes it (the octets as lists, which the
/// templates print as Rust arrays).
#[derive(Debug, Serialize)]
pub struct StaticIp {
    pub address: Vec<u8>,
    pub prefix: u8,
    pub gateway: Vec<u8>,
    pub dns: [Option<Vec<u8>>; 2],
}

#[derive(Debug, Serialize)]
pub struct WebServer {
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `ota: - platform: web_server`: `/update` takes firmware.
    pub ota: bool,
}

/// A boot or shutdown automation to call.
#[derive(Debug, Serialize)]
pub struct Trigger {
    pub automation: String,
    pub priority: f64,
}

/// The automations wired to an OTA platform's callbacks.
#[derive(Debug, Default, Serialize)]
pub struct OtaHooks {
    pub on_begin: Vec<String>,
    pub on_progress: Vec<String>,
    pub on_end: Vec<String>,
    pub on_error: Vec<String>,
    pub on_abort: Vec<String>,
    pub on_state_change: Vec<String>,
}

/// One automation (`then:` list) as a function.
#[derive(Debug, Serialize)]
pub struct Automation {
    pub name: String,
    /// Where it is, for the doc comment: `on_boot (priority 600) at host-device.yaml:5`.
    pub doc: String,
    pub args: Vec<Arg>,
    /// Whether any action needs the components (else the parameter is `_components`).
    pub uses_components: bool,
    pub actions: Vec<Action>,
}

/// A trigger variable, e.g. `x: f32`.
#[derive(Debug, Clone, Serialize)]
pub struct Arg {
    pub name: String,
    /// Its Rust type: `f32`, `u8`, `ferrota_ota::OtaState`.
    pub ty: String,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Calls a lambda function with the components it names and the trigger variables.
    Lambda { function: String, components: Vec<String>, args: Vec<String> },
    /// `logger.log`: `format` is a complete Rust format string (level and tag included).
    Log { format: String, args: Vec<Code> },
    /// `logger.log` below the logger's level: compiled out, as ESPHome does.
    LogDropped { level: String, logger_level: String },
    Delay { ms: u64 },
}

/// A lambda as a function of the components it uses and the trigger variables.
#[derive(Debug, Serialize)]
pub struct Lambda {
    pub name: String,
    pub doc: String,
    pub components: Vec<Param>,
    pub args: Vec<Arg>,
    pub body: Code,
}

/// A lambda parameter: a component by reference.
#[derive(Debug, Serialize)]
pub struct Param {
    pub name: String,
    /// Its type, e.g. `ferrota_ota::OtaComponent`.
    pub ty: String,
}

/// User code, placed by the templates' `code` filter.
#[derive(Debug, Clone, Serialize)]
pub struct Code {
    pub region: usize,
    pub text: String,
}

/// The ids lambdas can name, with their Rust types. Everything else with an id is a component
/// ferrota's firmware has no Rust object for yet.
const REACHABLE: &[(&str, &str)] = &[("ota.esphome", "ferrota_ota::OtaComponent")];

/// What the model needs besides the config.
pub struct Inputs<'a> {
    pub config: &'a Config,
    pub sources: &'a Sources,
    pub config_path: &'a Path,
    pub target: Target,
    pub runtime: String,
}

/// Builds the model, with the code regions (indexed by `Code::region`) and the warnings (what
/// is left out); or the errors that stop generation.
pub fn build(inputs: Inputs<'_>) -> Result<(Model, Vec<Region>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let config = inputs.config;
    let text = |item: Option<&Item>, key: &str| item.and_then(|i| i.get(key)).and_then(Item::as_str).unwrap_or("").to_string();
    let mut b = Builder {
        sources: inputs.sources,
        ids: declared_ids(config),
        regions: Vec::new(),
        diagnostics: Vec::new(),
        lambdas: Vec::new(),
        automations: Vec::new(),
        config_dir: inputs.config_path.parent().unwrap_or(Path::new("")).to_path_buf(),
        logger_level: config.get("logger").map(|l| text(Some(l), "level")),
    };
    let core = config.get("esphome");
    let name = text(core, "name");

    let typed = |what: &str, e: crate::config::TypeError| vec![Diagnostic::error("codegen::typed", None, format!("{what}: {e}"))];
    let esphome_ota = crate::components::ota::entry(config, "esphome");
    let ota_entry = esphome_ota.as_ref().map(|(item, _)| *item);
    // The schema fills these in: one missing is a schema without its default.
    let filled = |key: &str| typed("ota", crate::config::TypeError(format!("`{key}` has no default for this target in schema/ota/esphome.yaml")));
    let ota = match &esphome_ota {
        Some((_, entry)) => Some(Ota {
            field: entry.id.unwrap_or("ota").to_string(),
            port: entry.port.ok_or_else(|| filled("port"))?,
            version: entry.version.ok_or_else(|| filled("version"))?,
            password: entry.auth_password().map(str::to_string),
        }),
        None => None,
    };

    let mut on_boot = b.triggers(core, "on_boot");
    let mut on_shutdown = b.triggers(core, "on_shutdown");
    // Highest priority first; `sort_by` is stable, so equal priorities keep the YAML order.
    on_boot.sort_by(|a, b| b.priority.total_cmp(&a.priority));
    on_shutdown.sort_by(|a, b| b.priority.total_cmp(&a.priority));
    let safe_mode_item = config.get("safe_mode");
    let on_safe_mode = b.hooks(safe_mode_item, "on_safe_mode", "safe_mode", &[]);
    let ota_hooks = b.ota_hooks(ota_entry.into_iter().collect(), "ota", false);
    if let Some(abort) = ota_entry.and_then(|e| e.field("on_abort")) {
        b.diagnostics.push(
            Diagnostic::warning("codegen::never-fires", abort.key_span, "`on_abort` never fires with `platform: esphome` (in ESPHome neither); it is left out")
                .with_help("use `on_error` for failed updates"),
        );
    }
    b.refuse_unsupported(config);

    let safe_mode = match crate::components::safe_mode::of(config).transpose().map_err(|e| typed("safe_mode", e))? {
        Some(s) => SafeMode { disabled: s.disabled, num_attempts: s.num_attempts, boot_is_good_after_ms: s.boot_is_good_after, reboot_timeout_ms: s.reboot_timeout },
        // No `safe_mode:` (no `ota:` loads it): none.
        None => SafeMode { disabled: true, num_attempts: 0, boot_is_good_after_ms: 0, reboot_timeout_ms: 0 },
    };
    let wifi_config: Option<crate::components::wifi::Wifi> = config.get("wifi").map(crate::config::read).transpose().map_err(|e| typed("wifi", e))?;
    let mut wifi = wifi_config.as_ref().and_then(|w| {
        let (ssid, password) = w.network()?;
        let security = match w.min_auth_mode {
            _ if password.is_empty() => "Open",
            Some("WPA") => "Wpa",
            Some("WPA3") => "Wpa3",
            _ => "Wpa2",
        };
        Some(Wifi { ssid: ssid.to_string(), password: password.to_string(), security, static_ip: None })
    });
    if let (Some(w), Some(manual)) = (wifi.as_mut(), wifi_config.as_ref().and_then(|c| c.manual_ip.as_ref())) {
        let span = config.get("wifi").and_then(|w| w.field("manual_ip")).and_then(|f| f.key_span);
        w.static_ip = static_ip(manual, span, &mut b.diagnostics);
    }
    let web_server_config: Option<crate::components::web_server::WebServer> = config.get("web_server").map(crate::config::read).transpose().map_err(|e| typed("web_server", e))?;
    let web_server = web_server_config.as_ref().map(|w| WebServer {
        port: w.port,
        username: w.auth.as_ref().map(|a| a.username.to_string()),
        password: w.auth.as_ref().map(|a| a.password.to_string()),
        ota: serves_web_update(config),
    });
    // Only a firmware that serves `/update` calls them (the warnings say when it does not).
    let web_ota_hooks = if inputs.target.templates != Family::Host && serves_web_update(config) {
        b.ota_hooks(web_ota_entries(config), "ota_web_server", true)
    } else {
        OtaHooks::default()
    };

    if inputs.target.templates != Family::Host {
        let target_span = config.components.iter().find(|f| Some(f.key.as_str()) == config.target()).and_then(|f| f.key_span);
        if ota.is_none() {
            b.diagnostics.push(
                Diagnostic::error("codegen::needs-ota", target_span, format!("ferrota's {} firmware is an OTA firmware: it needs `ota: - platform: esphome`", inputs.target.chip))
                    .with_help("add:\n\n  ota:\n    - platform: esphome"),
            );
        }
        if wifi.is_none() {
            b.diagnostics.push(
                Diagnostic::error("codegen::needs-wifi", target_span, format!("ferrota's {} firmware joins a WiFi network: it needs `wifi:` with an `ssid`", inputs.target.chip))
                    .with_help("add `wifi:` with `ssid:` and `password:` (a fallback `ap:` alone is not supported yet)"),
            );
        }
        // esp-radio can't require WPA3: say so rather than join a weaker network silently.
        let wpa3 = config.get("wifi").and_then(|w| w.field("min_auth_mode")).filter(|f| f.value.as_str() == Some("WPA3"));
        if let (Some(field), Family::Esp32) = (wpa3, inputs.target.templates) {
            b.diagnostics.push(
                Diagnostic::warning("codegen::wifi-security", field.key_span, "esp-radio (ferrota's ESP32 WiFi) can't require WPA3: the device joins WPA2 or better")
                    .with_help("set `min_auth_mode: WPA2` to say what the device does, or build this device with ESPHome"),
            );
        }
    }
    if b.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(b.diagnostics);
    }
    let model = Model {
        package: format!("ferrota-{name}"),
        bootloader_package: format!("ferrota-{name}-bootloader"),
        friendly_name: text(core, "friendly_name"),
        name,
        config_file: b.relative(inputs.config_path),
        runtime: inputs.runtime,
        esp32_flash: (inputs.target.templates == Family::Esp32).then(|| Esp32Flash::of(config)),
        rp2040_flash: (inputs.target.templates == Family::Rp2040).then(Rp2040Flash::pico_w),
        target: inputs.target,
        ota,
        safe_mode,
        wifi,
        web_server,
        on_boot,
        on_shutdown,
        on_safe_mode,
        ota_hooks,
        web_ota_hooks,
        automations: b.automations,
        lambdas: b.lambdas,
    };
    let mut warnings = warnings(config);
    warnings.append(&mut b.diagnostics);
    Ok((model, b.regions, warnings))
}

/// Warnings (the diagnostics that don't stop generation) about whole components.
fn warnings(config: &Config) -> Vec<Diagnostic> {
    const HANDLED: &[&str] = &["esphome", "host", "esp32", "rp2040", "logger", "ota", "safe_mode", "wifi", "web_server", "network", "mdns", "preferences"];
    let mut out = Vec::new();
    for field in &config.components {
        if field.key_span.is_some() && !HANDLED.contains(&field.key.as_str()) && !crate::components::TARGET_PLATFORMS.contains(&field.key.as_str()) {
            out.push(
                Diagnostic::warning("codegen::ignored", field.key_span, format!("ferrota's firmware has no `{}` yet: it is left out of the build", field.key))
                    .with_help("remove it, or build this device with ESPHome if you need it"),
            );
        }
    }
    if config.target() == Some("host") {
        for key in ["wifi", "web_server"] {
            if let Some(f) = config.components.iter().find(|f| f.key == key && f.key_span.is_some()) {
                out.push(Diagnostic::warning("codegen::ignored", f.key_span, format!("a host device uses this computer's network: `{key}` is left out")));
            }
        }
    } else {
        if let Some(f) = config.components.iter().find(|f| f.key == "web_server" && f.key_span.is_some()) {
            out.push(if serves_web_update(config) {
                Diagnostic::warning(
                    "codegen::ignored",
                    f.key_span,
                    "ferrota's chip firmware serves only `/update` (firmware uploads) from `web_server`: the entity pages, REST API and event stream are left out",
                )
            } else {
                Diagnostic::warning("codegen::ignored", f.key_span, "ferrota's chip firmware serves only `/update` from `web_server`, and it is off here: `web_server` is left out")
                    .with_help("add `ota: - platform: web_server` for firmware uploads over HTTP")
            });
        }
        if let Some(w) = config.get("wifi").and_then(|w| w.field("ap")) {
            out.push(Diagnostic::warning("codegen::ignored", w.key_span, "ferrota's chip firmware has no fallback access point yet: `ap` is left out"));
        }
        if let Some(wifi) = config.get("wifi") {
            ignored_keys(wifi, "wifi", crate::components::wifi::IGNORED, &mut out);
            for network in wifi.get("networks").map(Item::items).unwrap_or_default() {
                ignored_keys(network, "wifi: networks", crate::components::wifi::NETWORK_IGNORED, &mut out);
            }
        }
    }
    for entry in config.get("ota").map(Item::items).unwrap_or_default() {
        let platform = entry.get("platform").and_then(Item::as_str).unwrap_or("esphome");
        ignored_keys(entry, &format!("ota: - platform: {platform}"), crate::components::ota::OTA_IGNORED, &mut out);
    }
    if let Some(safe_mode) = config.get("safe_mode") {
        ignored_keys(safe_mode, "safe_mode", crate::components::safe_mode::IGNORED, &mut out);
    }
    out
}

/// `manual_ip` as an address, prefix, gateway and DNS servers; `None` (and an error at `span`)
/// for a subnet mask that is no prefix.
fn static_ip(manual: &crate::components::wifi::ManualIp, span: Option<Span>, diagnostics: &mut Vec<Diagnostic>) -> Option<StaticIp> {
    let v4 = |text: &str| text.parse::<std::net::Ipv4Addr>().ok().map(|a| a.octets().to_vec());
    let mask = u32::from(manual.subnet.parse::<std::net::Ipv4Addr>().ok()?);
    if mask.leading_ones() + mask.trailing_zeros() != 32 {
        diagnostics.push(
            Diagnostic::error("codegen::subnet", span, format!("the subnet mask {} is not a prefix (ones, then zeros)", manual.subnet))
                .with_help("write the network's mask, e.g. `subnet: 255.255.255.0`"),
        );
        return None;
    }
    Some(StaticIp {
        address: v4(manual.static_ip)?,
        prefix: mask.leading_ones() as u8,
        gateway: v4(manual.gateway)?,
        dns: [manual.dns1.and_then(v4), manual.dns2.and_then(v4)],
    })
}

/// A warning at each key of `item` the user wrote that ferrota's firmware leaves out, with why.
fn ignored_keys(item: &Item, component: &str, ignored: &[(&str, &str)], out: &mut Vec<Diagnostic>) {
    for (key, why) in ignored {
        if let Some(field) = item.field(key).filter(|f| f.key_span.is_some()) {
            out.push(
                Diagnostic::warning("codegen::ignored", field.key_span, format!("ferrota's firmware ignores `{key}` ({component}): {why}"))
                    .with_help(format!("remove `{key}`, or build this device with ESPHome if you need it")),
            );
        }
    }
}

/// `ota: - platform: web_server` entries.
fn web_ota_entries(config: &Config) -> Vec<&Item> {
    config.get("ota").map(Item::items).unwrap_or_default().iter().filter(|e| e.get("platform").and_then(Item::as_str) == Some("web_server")).collect()
}

/// Whether the web server takes firmware at `/update`: `ota: - platform: web_server`, unless
/// `web_server: ota: false` (2025.7+), which keeps `/update` for the captive portal only.
fn serves_web_update(config: &Config) -> bool {
    config.get("web_server").is_some_and(|w| w.get("ota").and_then(Item::as_bool) != Some(false)) && !web_ota_entries(config).is_empty()
}

/// A declared id: its name, what it belongs to (`ota.esphome`, `wifi` …) and where.
struct DeclaredId {
    name: String,
    kind: String,
}

fn declared_ids(config: &Config) -> Vec<DeclaredId> {
    fn walk(item: &Item, kind: &str, out: &mut Vec<DeclaredId>) {
        match &item.value {
            Val::Map(fields) => {
                for f in fields {
                    match &f.value.value {
                        Val::Id { name, auto: false } if f.key == "id" => out.push(DeclaredId { name: name.clone(), kind: kind.to_string() }),
                        _ => walk(&f.value, &format!("{kind}.{}", f.key), out),
                    }
                }
            }
            Val::List(items) => {
                for i in items {
                    match i.get("platform").and_then(Item::as_str) {
                        Some(p) => walk(i, &format!("{kind}.{p}"), out),
                        None => walk(i, kind, out),
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for f in &config.components {
        walk(&f.value, &f.key, &mut out);
    }
    out
}

struct Builder<'a> {
    sources: &'a Sources,
    ids: Vec<DeclaredId>,
    regions: Vec<Region>,
    diagnostics: Vec<Diagnostic>,
    lambdas: Vec<Lambda>,
    automations: Vec<Automation>,
    config_dir: std::path::PathBuf,
    logger_level: Option<String>,
}

const LEVELS: &[&str] = &["NONE", "ERROR", "WARN", "INFO", "CONFIG", "DEBUG", "VERBOSE", "VERY_VERBOSE"];

impl Builder<'_> {
    /// A path as the generated comments show it: relative to the config's folder.
    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.config_dir).unwrap_or(path).display().to_string()
    }

    /// `file:line` of a span.
    fn place(&self, span: Option<Span>) -> String {
        match span {
            Some(s) => {
                let file = self.sources.get(s.file);
                format!("{}:{}", self.relative(&file.path), file.line_col(s.start as usize).line)
            }
            None => "(default)".into(),
        }
    }

    /// The `on_boot`/`on_shutdown` automations of `esphome:`.
    fn triggers(&mut self, core: Option<&Item>, key: &str) -> Vec<Trigger> {
        let Some(list) = core.and_then(|c| c.get(key)) else { return Vec::new() };
        let mut out = Vec::new();
        for automation in list.items() {
            let priority = match automation.get("priority").map(|p| &p.value) {
                Some(Val::Float(f)) => *f,
                Some(Val::Int(i)) => *i as f64,
                _ => 600.0,
            };
            let doc = format!("`esphome: {key}` (priority {priority}) at {}", self.place(automation.span));
            let name = self.automation(key, doc, automation, &[]);
            out.push(Trigger { automation: name, priority });
        }
        out
    }

    /// The automations under `key` of a component, as function names.
    /// The automations of OTA platform entries (several `web_server` ones are one component, as
    /// in ESPHome); `on_abort` only where it can fire.
    fn ota_hooks(&mut self, entries: Vec<&Item>, prefix: &str, abort: bool) -> OtaHooks {
        let mut hooks = |key: &str, args: &[(&str, &str)]| -> Vec<String> { entries.iter().flat_map(|e| self.hooks(Some(e), key, prefix, args)).collect() };
        OtaHooks {
            on_begin: hooks("on_begin", &[]),
            on_progress: hooks("on_progress", &[("x", "f32")]),
            on_end: hooks("on_end", &[]),
            on_error: hooks("on_error", &[("x", "u8")]),
            on_abort: if abort { hooks("on_abort", &[]) } else { Vec::new() },
            on_state_change: hooks("on_state_change", &[("state", "ferrota_ota::OtaState")]),
        }
    }

    fn hooks(&mut self, owner: Option<&Item>, key: &str, prefix: &str, args: &[(&str, &str)]) -> Vec<String> {
        let Some(list) = owner.and_then(|o| o.get(key)) else { return Vec::new() };
        let mut out = Vec::new();
        for automation in list.items() {
            let doc = format!("`{prefix}: {key}` at {}", self.place(automation.span));
            out.push(self.automation(&format!("{prefix}_{key}"), doc, automation, args));
        }
        out
    }

    /// One automation's actions as a function; returns its name.
    fn automation(&mut self, base: &str, doc: String, automation: &Item, args: &[(&str, &str)]) -> String {
        let name = format!("{base}_{}", self.automations.iter().filter(|a| a.name.starts_with(&format!("{base}_"))).count() + 1);
        let args: Vec<Arg> = args.iter().map(|(n, t)| Arg { name: n.to_string(), ty: t.to_string() }).collect();
        let mut actions = Vec::new();
        let mut uses_components = false;
        for action in automation.get("then").map(Item::items).unwrap_or_default() {
            let Some(field) = action.fields().first() else { continue };
            match field.key.as_str() {
                "lambda" => {
                    if let Some(a) = self.lambda(field, &args) {
                        uses_components |= matches!(&a, Action::Lambda { components, .. } if !components.is_empty());
                        actions.push(a);
                    }
                }
                "logger.log" => {
                    let (action, uses) = self.log(&field.value);
                    uses_components |= uses;
                    actions.extend(action);
                }
                "delay" => actions.push(Action::Delay { ms: field.value.as_millis().unwrap_or(0) }),
                other => self.diagnostics.push(Diagnostic::error(
                    "codegen::action",
                    field.key_span,
                    format!("ferrota's code generator has no `{other}` action yet"),
                )),
            }
        }
        self.automations.push(Automation { name: name.clone(), doc, args, uses_components, actions });
        name
    }

    /// A `lambda:` action: the code becomes a function of the components it names.
    fn lambda(&mut self, field: &Field, args: &[Arg]) -> Option<Action> {
        let code = field.value.as_str().unwrap_or("");
        let span = field.value.span?;
        // Every reference is checked (each error at its `id(…)`) before the body is taken.
        let mut components: Vec<Param> = Vec::new();
        let mut reachable = true;
        for (name, at) in references(self.sources, span, code) {
            let Some(ty) = self.reachable(&name, at, args) else {
                reachable = false;
                continue;
            };
            if !components.iter().any(|p| p.name == name) {
                components.push(Param { name, ty });
            }
        }
        if !reachable {
            return None;
        }
        let body = self.code(span, code)?;
        let name = format!("lambda_{}", self.lambdas.len() + 1);
        let doc = format!("`lambda` at {}", self.place(Some(span)));
        let passed = components.iter().map(|p| p.name.clone()).collect();
        self.lambdas.push(Lambda { name: name.clone(), doc, components, args: args.to_vec(), body });
        Some(Action::Lambda { function: name, components: passed, args: args.iter().map(|a| a.name.clone()).collect() })
    }

    /// A `logger.log` action; also says whether its arguments name components.
    fn log(&mut self, action: &Item) -> (Option<Action>, bool) {
        let level = action.get("level").and_then(Item::as_str).unwrap_or("DEBUG").to_string();
        let tag = action.get("tag").and_then(Item::as_str).unwrap_or("main");
        let logger_level = self.logger_level.clone().unwrap_or_else(|| "DEBUG".into());
        let rank = |l: &str| LEVELS.iter().position(|x| *x == l).unwrap_or(0);
        if rank(&level) > rank(&logger_level) {
            return (Some(Action::LogDropped { level, logger_level }), false);
        }
        let format_item = action.get("format");
        let format = format_item.and_then(Item::as_str).unwrap_or("");
        let translated = match printf::translate(format) {
            Ok(t) => t,
            Err(e) => {
                let span = format_item.and_then(|f| f.span);
                self.diagnostics.push(Diagnostic::error("codegen::printf", span, e.message));
                return (None, false);
            }
        };
        let arg_items = action.get("args").map(Item::items).unwrap_or_default();
        if translated.placeholders != arg_items.len() {
            self.diagnostics.push(
                Diagnostic::error(
                    "codegen::printf",
                    format_item.and_then(|f| f.span),
                    format!("the format has {} placeholders but {} args are given", translated.placeholders, arg_items.len()),
                )
                .with_help("`%%` is a literal percent sign; give one expression per other `%` placeholder"),
            );
            return (None, false);
        }
        let letter = match level.as_str() {
            "ERROR" => "E",
            "WARN" => "W",
            "INFO" => "I",
            "VERBOSE" => "V",
            "VERY_VERBOSE" => "VV",
            _ => "D",
        };
        let prefix = format!("[{letter}][{tag}]: ").replace('{', "{{").replace('}', "}}");
        let mut uses = false;
        let mut args = Vec::new();
        for item in arg_items {
            let code = item.as_str().unwrap_or("");
            let Some(span) = item.span else { continue };
            for (name, _) in crate::components::ids::lambda_references(code) {
                if self.reachable(&name, span, &[]).is_none() {
                    return (None, false);
                }
                uses = true;
            }
            let Some(code) = self.code_with(span, code, &|name| format!("components.{}", super::render::ident(name).unwrap_or_default())) else {
                return (None, false);
            };
            args.push(code);
        }
        (Some(Action::Log { format: prefix + &translated.format, args }), uses)
    }

    /// The Rust type of the component `name` names, or a diagnostic at the reference.
    fn reachable(&mut self, name: &str, span: Span, args: &[Arg]) -> Option<String> {
        if args.iter().any(|a| a.name == name) {
            self.diagnostics.push(
                Diagnostic::error("codegen::id-shadows", span, format!("the ID `{name}` has the name of this trigger's variable `{name}`"))
                    .with_help("rename the ID"),
            );
            return None;
        }
        let Some(kind) = self.ids.iter().find(|d| d.name == name).map(|d| d.kind.clone()) else {
            self.diagnostics.push(Diagnostic::error("codegen::id-kind", span, format!("`id({name})` names no component this generator knows")));
            return None;
        };
        match REACHABLE.iter().find(|(k, _)| *k == kind) {
            Some((_, ty)) => Some(ty.to_string()),
            None => {
                let reachable: Vec<String> = REACHABLE.iter().map(|(k, _)| format!("`{k}`")).collect();
                self.diagnostics.push(
                    Diagnostic::error(
                        "codegen::id-kind",
                        span,
                        format!("`id({name})` names a `{kind}` component, which ferrota's lambdas can't reach yet"),
                    )
                    .with_help(format!("lambdas can use: {}", reachable.join(", "))),
                );
                None
            }
        }
    }

    /// A lambda body region (ids become the function's parameters).
    fn code(&mut self, span: Span, code: &str) -> Option<Code> {
        self.code_with(span, code, &|name| super::render::ident(name).unwrap_or_default())
    }

    fn code_with(&mut self, span: Span, code: &str, ident: &dyn Fn(&str) -> String) -> Option<Code> {
        let region = Region::new(self.sources, span, code, ident);
        if let Err(e) = check_code(code) {
            let at = region.yaml_span(e.offset, e.offset + 1);
            self.diagnostics.push(
                Diagnostic::error("codegen::lambda", at, e.message).with_help("ferrota lambdas are Rust statements; they must not close the function they are placed in"),
            );
            return None;
        }
        let text = region.text.clone();
        self.regions.push(region);
        Some(Code { region: self.regions.len() - 1, text })
    }

    /// Automations this generator can't wire yet are errors: a silently dropped automation
    /// would be firmware that pretends to work.
    fn refuse_unsupported(&mut self, config: &Config) {
        const UNSUPPORTED: &[(&str, &str)] = &[("esphome", "on_loop"), ("wifi", "on_connect"), ("wifi", "on_disconnect"), ("logger", "on_message")];
        for (component, key) in UNSUPPORTED {
            if let Some(f) = config.get(component).and_then(|c| c.field(key)) {
                self.diagnostics.push(Diagnostic::error(
                    "codegen::automation",
                    f.key_span,
                    format!("ferrota's code generator can't wire `{component}: {key}` yet"),
                ));
            }
        }
        // The device keeps passwords up to MAX_PASSWORD_LEN bytes; a longer one would be
        // refused at runtime (the YAML one at start-up, a lambda's keeps the old password).
        const MAX: usize = ferrota_ota::component::MAX_PASSWORD_LEN;
        for entry in config.get("ota").map(|o| o.items()).unwrap_or_default() {
            if let Some(f) = entry.field("password").filter(|f| f.value.as_str().is_some_and(|p| p.len() > MAX)) {
                self.diagnostics.push(
                    Diagnostic::error("codegen::password-length", f.value.span.or(f.key_span), format!("ferrota devices keep OTA passwords of up to {MAX} bytes"))
                        .with_help(format!("use a password of at most {MAX} bytes")),
                );
            }
        }
        let mut lambdas = Vec::new();
        for component in &config.components {
            collect_lambdas(&component.value, &mut lambdas);
        }
        for lambda in lambdas {
            if lambda.as_str().is_some_and(|code| set_password_literals(code).any(|p| p.len() > MAX)) {
                self.diagnostics.push(
                    Diagnostic::error(
                        "codegen::password-length",
                        lambda.span,
                        format!("`set_auth_password` gets a password longer than the {MAX} bytes a ferrota device keeps"),
                    )
                    .with_help(format!("use a password of at most {MAX} bytes; a longer one would leave the old password in place")),
                );
            }
        }
        // An encrypted OTA server without encryption would accept anyone's firmware.
        for entry in config.get("ota").map(|o| o.items()).unwrap_or_default() {
            if let Some(f) = entry.field("encryption") {
                self.diagnostics.push(
                    Diagnostic::error(
                        "codegen::ota-encryption",
                        f.key_span.or(entry.span),
                        "ferrota's OTA device does not implement Noise encryption yet",
                    )
                    .with_help("remove `encryption:` and set `password:` instead (SHA-256 challenge/response); a firmware that ignored it would accept uploads from anyone"),
                );
            }
        }
    }
}

/// Every lambda in a validated value.
fn collect_lambdas<'a>(item: &'a Item, out: &mut Vec<&'a Item>) {
    match &item.value {
        Val::Lambda(_) => out.push(item),
        Val::List(items) => items.iter().for_each(|i| collect_lambdas(i, out)),
        Val::Map(fields) => fields.iter().for_each(|f| collect_lambdas(&f.value, out)),
        _ => {}
    }
}

/// The plain string literals passed to `set_auth_password("…")` in a lambda (ones with escapes
/// are skipped: their length is only known to rustc).
fn set_password_literals(code: &str) -> impl Iterator<Item = &str> {
    code.match_indices("set_auth_password(\"").filter_map(move |(at, call)| {
        let rest = &code[at + call.len()..];
        let literal = &rest[..rest.find('"')?];
        (!literal.contains('\\')).then_some(literal)
    })
}
