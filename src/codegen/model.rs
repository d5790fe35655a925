//! The validated config turned into what the templates print: plain serde structs (the
//! templates' contract), with every piece of user code as a [`Code`] region and every YAML
//! string still a plain string (the templates' filters escape them). Each component fills its
//! part through a [`Firmware`] (see `components::Component::firmware`); the automation and
//! lambda machinery they share is here.

use super::lambda::{check_code, Region};
use crate::lambda::references;
use super::printf;
use super::target::{Family, Target};
use crate::components::COMPONENTS;
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
    /// The ferrota that generates the firmware (its page shows it).
    pub ferrota_version: &'static str,
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
    /// `rp2040: watchdog_timeout` (ms): the watchdog resets a firmware that stops feeding it.
    pub watchdog_timeout_ms: u64,
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
    pub fn of(flash_size: &str) -> Self {
        let flash_size = flash_size.to_uppercase();
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

#[derive(Debug, Default, Serialize)]
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
    let config_dir = inputs.config_path.parent().unwrap_or(Path::new("")).to_path_buf();
    let config_file = inputs.config_path.strip_prefix(&config_dir).unwrap_or(inputs.config_path).display().to_string();
    let mut firmware = Firmware {
        config,
        model: Model::new(inputs.target, inputs.runtime, config_file),
        diagnostics: Vec::new(),
        logger_level: "DEBUG".into(),
        sources: inputs.sources,
        ids: declared_ids(config),
        regions: Vec::new(),
        config_dir,
    };
    for component in COMPONENTS {
        component.firmware(&mut firmware).map_err(|e| vec![Diagnostic::error("codegen::typed", None, format!("{}: {e}", component.name()))])?;
    }
    firmware.left_out_components();
    if firmware.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(firmware.diagnostics);
    }
    Ok((firmware.model, firmware.regions, firmware.diagnostics))
}

impl Model {
    /// A model with no component in it yet.
    fn new(target: Target, runtime: String, config_file: String) -> Model {
        Model {
            name: String::new(),
            friendly_name: String::new(),
            ferrota_version: env!("CARGO_PKG_VERSION"),
            config_file,
            package: String::new(),
            bootloader_package: String::new(),
            runtime,
            target,
            esp32_flash: None,
            rp2040_flash: None,
            watchdog_timeout_ms: 0,
            ota: None,
            safe_mode: SafeMode { disabled: true, ..SafeMode::default() },
            wifi: None,
            web_server: None,
            on_boot: Vec::new(),
            on_shutdown: Vec::new(),
            on_safe_mode: Vec::new(),
            ota_hooks: OtaHooks::default(),
            web_ota_hooks: OtaHooks::default(),
            automations: Vec::new(),
            lambdas: Vec::new(),
        }
    }
}

/// A declared id: its name and what it belongs to (`ota.esphome`, `wifi` …).
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

/// The firmware being made: the model so far and every diagnostic, with what the components
/// share to fill their parts (their automations, lambdas and warnings).
pub struct Firmware<'a> {
    pub config: &'a Config,
    pub model: Model,
    pub diagnostics: Vec<Diagnostic>,
    /// `logger: level`: `logger.log` actions below it are compiled out (set by the logger).
    pub logger_level: String,
    sources: &'a Sources,
    ids: Vec<DeclaredId>,
    regions: Vec<Region>,
    config_dir: std::path::PathBuf,
}

impl Firmware<'_> {
    /// The firmware stack being made.
    pub fn family(&self) -> Family {
        self.model.target.templates
    }

    /// Where the target block is written: where "this firmware needs …" errors point.
    pub fn target_span(&self) -> Option<Span> {
        self.config.components.iter().find(|f| Some(f.key.as_str()) == self.config.target()).and_then(|f| f.key_span)
    }

    /// The key span of component `name` when the user wrote it (auto-loaded ones have none).
    pub fn written(&self, name: &str) -> Option<Span> {
        self.config.components.iter().find(|f| f.key == name).and_then(|f| f.key_span)
    }

    /// A warning at each key of `item` the user wrote that the firmware leaves out, with why.
    pub fn ignored_keys(&mut self, item: &Item, component: &str, ignored: &[(&str, &str)]) {
        for (key, why) in ignored {
            if let Some(field) = item.field(key).filter(|f| f.key_span.is_some()) {
                self.diagnostics.push(
                    Diagnostic::warning("codegen::ignored", field.key_span, format!("ferrota's firmware ignores `{key}` ({component}): {why}"))
                        .with_help(format!("remove `{key}`, or build this device with ESPHome if you need it")),
                );
            }
        }
    }

    /// An automation the generator can't wire yet is an error: a silently dropped automation
    /// would be firmware that pretends to work.
    pub fn refuse_automation(&mut self, component: &str, key: &str) {
        if let Some(f) = self.config.get(component).and_then(|c| c.field(key)) {
            self.diagnostics.push(Diagnostic::error("codegen::automation", f.key_span, format!("ferrota's code generator can't wire `{component}: {key}` yet")));
        }
    }

    /// Warnings at the components the user wrote that no [`COMPONENTS`] entry builds.
    fn left_out_components(&mut self) {
        let registry = crate::schema::Registry::get();
        for field in &self.config.components {
            let built = COMPONENTS.iter().any(|c| c.name() == field.key) || registry.targets().any(|t| t == field.key);
            if field.key_span.is_some() && !built {
                self.diagnostics.push(
                    Diagnostic::warning("codegen::ignored", field.key_span, format!("ferrota's firmware has no `{}` yet: it is left out of the build", field.key))
                        .with_help("remove it, or build this device with ESPHome if you need it"),
                );
            }
        }
    }

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

    /// The `on_boot`/`on_shutdown` automations of `esphome:`, highest priority first.
    pub fn triggers(&mut self, core: Option<&Item>, key: &str) -> Vec<Trigger> {
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
        // `sort_by` is stable: equal priorities keep the YAML order.
        out.sort_by(|a, b| b.priority.total_cmp(&a.priority));
        out
    }

    /// The automations of OTA platform entries (several `web_server` ones are one component, as
    /// in ESPHome); `on_abort` only where it can fire.
    pub fn ota_hooks(&mut self, entries: Vec<&Item>, prefix: &str, abort: bool) -> OtaHooks {
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

    /// The automations under `key` of a component, as function names.
    pub fn hooks(&mut self, owner: Option<&Item>, key: &str, prefix: &str, args: &[(&str, &str)]) -> Vec<String> {
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
        let name = format!("{base}_{}", self.model.automations.iter().filter(|a| a.name.starts_with(&format!("{base}_"))).count() + 1);
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
        self.model.automations.push(Automation { name: name.clone(), doc, args, uses_components, actions });
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
        let name = format!("lambda_{}", self.model.lambdas.len() + 1);
        let doc = format!("`lambda` at {}", self.place(Some(span)));
        let passed = components.iter().map(|p| p.name.clone()).collect();
        self.model.lambdas.push(Lambda { name: name.clone(), doc, components, args: args.to_vec(), body });
        Some(Action::Lambda { function: name, components: passed, args: args.iter().map(|a| a.name.clone()).collect() })
    }

    /// A `logger.log` action; also says whether its arguments name components.
    fn log(&mut self, action: &Item) -> (Option<Action>, bool) {
        let level = action.get("level").and_then(Item::as_str).unwrap_or("DEBUG").to_string();
        let tag = action.get("tag").and_then(Item::as_str).unwrap_or("main");
        let logger_level = self.logger_level.clone();
        use crate::components::logger::rank;
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
            for (name, at) in references(self.sources, span, code) {
                if self.reachable(&name, at, &[]).is_none() {
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
}
