//! `ota:`: final validation as ESPHome 2026.10 does it (at least one platform; `esphome`
//! entries on the same port merged when consistent; only one port in all), the typed entry
//! that codegen and upload read, and the native OTA server it adds to the firmware.

use crate::codegen::model::{self, Firmware};
use crate::config::{Config, Field, Item, TypeError, Unused, Val};
use crate::diagnostics::Diagnostic;
use crate::schema::engine::Engine;
use crate::source::Span;

/// `ota:`, a list of platform entries.
pub struct Ota;

impl super::Component for Ota {
    fn name(&self) -> &'static str {
        "ota"
    }
    fn keys(&self) -> &'static [&'static str] {
        crate::config::field_names::<OtaEntry>()
    }
    fn ignored(&self) -> &'static [(&'static str, &'static str)] {
        OTA_IGNORED
    }
    fn validate(&self, engine: &mut Engine, config: &mut Config) {
        final_validate(engine, config);
    }

    /// The first `platform: esphome` entry is the device's OTA server, with its automations;
    /// what no ferrota device can do stops the build.
    fn firmware(&self, firmware: &mut Firmware<'_>) -> Result<(), TypeError> {
        let config = firmware.config;
        let mut native = None;
        for item in config.get("ota").map(Item::items).unwrap_or_default() {
            let entry: OtaEntry = crate::config::read(item)?;
            firmware.ignored_keys(item, &format!("ota: - platform: {}", entry.platform), OTA_IGNORED);
            refuse_encryption(firmware, item);
            refuse_long_password(firmware, item);
            if entry.platform == "esphome" && native.is_none() {
                native = Some((item, entry));
            }
        }
        refuse_long_lambda_passwords(firmware);
        let Some((item, entry)) = native else {
            if firmware.family() != crate::codegen::target::Family::Host {
                let chip = firmware.model.target.chip;
                firmware.diagnostics.push(
                    Diagnostic::error("codegen::needs-ota", firmware.target_span(), format!("ferrota's {chip} firmware is an OTA firmware: it needs `ota: - platform: esphome`"))
                        .with_help("add:\n\n  ota:\n    - platform: esphome"),
                );
            }
            return Ok(());
        };
        // The schema fills these in: one missing is a schema without its default.
        let filled = |key: &str| TypeError(format!("`{key}` has no default for this target in schema/ota/esphome.yaml"));
        firmware.model.ota = Some(model::Ota {
            field: entry.id.unwrap_or("ota").to_string(),
            port: entry.port.ok_or_else(|| filled("port"))?,
            version: entry.version.ok_or_else(|| filled("version"))?,
            password: entry.auth_password().map(str::to_string),
        });
        firmware.model.ota_hooks = firmware.ota_hooks(vec![item], "ota", false);
        if let Some(abort) = item.field("on_abort") {
            firmware.diagnostics.push(
                Diagnostic::warning("codegen::never-fires", abort.key_span, "`on_abort` never fires with `platform: esphome` (in ESPHome neither); it is left out")
                    .with_help("use `on_error` for failed updates"),
            );
        }
        Ok(())
    }
}

/// An encrypted OTA server without encryption would accept anyone's firmware.
fn refuse_encryption(firmware: &mut Firmware<'_>, entry: &Item) {
    if let Some(f) = entry.field("encryption") {
        firmware.diagnostics.push(
            Diagnostic::error("codegen::ota-encryption", f.key_span.or(entry.span), "ferrota's OTA device does not implement Noise encryption yet").with_help(
                "remove `encryption:` and set `password:` instead (SHA-256 challenge/response); a firmware that ignored it would accept uploads from anyone",
            ),
        );
    }
}

/// The device keeps passwords up to MAX_PASSWORD_LEN bytes; a longer one would be refused at
/// runtime (the YAML one at start-up, a lambda's keeps the old password).
const MAX_PASSWORD: usize = ferrota_ota::component::MAX_PASSWORD_LEN;

fn refuse_long_password(firmware: &mut Firmware<'_>, entry: &Item) {
    if let Some(f) = entry.field("password").filter(|f| f.value.as_str().is_some_and(|p| p.len() > MAX_PASSWORD)) {
        firmware.diagnostics.push(
            Diagnostic::error("codegen::password-length", f.value.span.or(f.key_span), format!("ferrota devices keep OTA passwords of up to {MAX_PASSWORD} bytes"))
                .with_help(format!("use a password of at most {MAX_PASSWORD} bytes")),
        );
    }
}

/// `set_auth_password("…")` with a literal too long, in any lambda of the config.
fn refuse_long_lambda_passwords(firmware: &mut Firmware<'_>) {
    let mut lambdas = Vec::new();
    for component in &firmware.config.components {
        collect_lambdas(&component.value, &mut lambdas);
    }
    for lambda in lambdas {
        if lambda.as_str().is_some_and(|code| set_password_literals(code).any(|p| p.len() > MAX_PASSWORD)) {
            firmware.diagnostics.push(
                Diagnostic::error(
                    "codegen::password-length",
                    lambda.span,
                    format!("`set_auth_password` gets a password longer than the {MAX_PASSWORD} bytes a ferrota device keeps"),
                )
                .with_help(format!("use a password of at most {MAX_PASSWORD} bytes; a longer one would leave the old password in place")),
            );
        }
    }
}

fn final_validate(engine: &mut Engine, config: &mut Config) {
    let api = config.get("api").cloned();
    let api = api.as_ref();
    let Some(field) = config.components.iter_mut().find(|f| f.key == "ota") else { return };
    let ota_span = field.key_span.or(field.value.span);
    let Val::List(entries) = &mut field.value.value else { return };
    if entries.is_empty() {
        let d = Diagnostic::error(
            "ota::no-platform",
            ota_span,
            "At least one platform must be specified for 'ota'; add 'platform: esphome' for original OTA functionality",
        )
        .with_help("write:\n\n  ota:\n    - platform: esphome");
        engine.diagnostics.push(d);
        return;
    }

    let (native, others): (Vec<Item>, Vec<Item>) =
        std::mem::take(entries).into_iter().partition(|e| e.get("platform").and_then(Item::as_str) == Some("esphome"));
    let mut by_port: Vec<(Option<i64>, Item)> = Vec::new();
    let mut merged_ports = Vec::new();
    for entry in native {
        let port = entry.get("port").and_then(Item::as_int);
        let Some((_, first)) = by_port.iter_mut().find(|(p, _)| *p == port) else {
            by_port.push((port, entry));
            continue;
        };
        if let Some(d) = password_with_encryption(&entry) {
            engine.diagnostics.push(d);
            continue;
        }
        if let Some(d) = inconsistency(first, &entry) {
            engine.diagnostics.push(d);
            continue;
        }
        merged_ports.push(port);
        merge(first, entry);
    }
    let api_key = config_api_encryption(api);
    for (_, entry) in &by_port {
        // Checked again after merging: one entry's password may meet another's encryption.
        if let Some(d) = password_with_encryption(entry) {
            engine.diagnostics.push(d);
        }
        if let Some(d) = encryption_key(entry, &api_key) {
            engine.diagnostics.push(d);
        }
        if let Some(field) = entry.field("allow_partition_access").filter(|f| f.value.as_bool() == Some(true)) {
            if engine.target.as_deref() != Some("esp32") {
                let d = Diagnostic::error(
                    "ota::partition-access",
                    field.key_span.or(entry.span),
                    "allow_partition_access is only supported on the esp32",
                )
                .with_help("remove `allow_partition_access:`; only ESP32 devices can update their partition table or bootloader over the air");
                engine.diagnostics.push(d);
            }
        }
    }
    if by_port.len() > 1 {
        let ports: Vec<String> = by_port.iter().map(|(p, _)| p.map_or("None".into(), |p| p.to_string())).collect();
        let second = &by_port[1].1;
        let mut d = Diagnostic::error(
            "ota::multiple-ports",
            port_span(second),
            format!(
                "Only a single port is supported for 'ota' 'platform: esphome'. Got ports [{}]. Consolidate onto a single port; configs sharing a port are merged automatically.",
                ports.join(", ")
            ),
        )
        .with_help("give every `platform: esphome` entry the same `port:` (or none, for the default)");
        if let Some(span) = port_span(&by_port[0].1) {
            d = d.with_related(span, "the first port");
        }
        engine.diagnostics.push(d);
    }
    if !merged_ports.is_empty() {
        let ports: Vec<String> = merged_ports.iter().map(|p| p.map_or("None".into(), |p| p.to_string())).collect();
        let d = Diagnostic::warning(
            "ota::merged",
            ota_span,
            format!("Found and merged multiple configurations for ota platform esphome port(s) [{}]", ports.join(", ")),
        )
        .with_help("write the settings in one `platform: esphome` entry");
        engine.diagnostics.push(d);
    }
    *entries = others.into_iter().chain(by_port.into_iter().map(|(_, e)| e)).collect();
}

/// The `api:` encryption an `ota` encryption block inherits its key from.
enum ApiKey {
    /// No `api: encryption:` at all.
    None,
    /// `api: encryption:` without a key: provisioned at runtime.
    Provisioned,
    Static(String),
}

fn config_api_encryption(api: Option<&Item>) -> ApiKey {
    match api.and_then(|a| a.get("encryption")) {
        None => ApiKey::None,
        Some(enc) => match enc.get("key").and_then(Item::as_str) {
            Some(key) => ApiKey::Static(key.to_string()),
            None => ApiKey::Provisioned,
        },
    }
}

/// `password` and `encryption` together, unless the one migration install allows it.
fn password_with_encryption(entry: &Item) -> Option<Diagnostic> {
    let password = entry.field("password")?;
    let encryption = entry.get("encryption")?;
    if encryption.get("allow_plaintext_upload").and_then(Item::as_bool) == Some(true) {
        return None;
    }
    Some(
        Diagnostic::error(
            "ota::password-with-encryption",
            password.key_span.or(entry.span),
            "'password' cannot be combined with 'encryption'; the encryption key already authenticates the uploader, remove 'password' (or set 'allow_plaintext_upload: true' for the one install that migrates a device still asking for it)",
        )
        .with_help("remove `password:`: the encryption key authenticates uploads"),
    )
}

/// An `encryption:` block's key: its own (matching `api:`'s), or inherited from `api:`.
fn encryption_key(entry: &Item, api: &ApiKey) -> Option<Diagnostic> {
    let field = entry.field("encryption")?;
    let at = field.key_span.or(entry.span);
    let own = field.value.get("key").and_then(Item::as_str);
    let (message, help) = match (own, api) {
        (Some(own), ApiKey::Static(api)) if own != api => (
            "'ota' encryption key must match the 'api' encryption key; omit the 'ota' key to use the 'api' one",
            "a device has one encryption key: remove `key:` here to use the `api:` one",
        ),
        (None, ApiKey::Provisioned) => (
            "the 'api' encryption key is provisioned at runtime and cannot be inherited at build time; set an explicit 'ota' encryption key",
            "add `key:` under this `encryption:` (`openssl rand -base64 32`)",
        ),
        (None, ApiKey::None) => (
            "'ota' encryption has no key and there is no 'api' encryption key to inherit; set one of them",
            "add `key:` under this `encryption:` (`openssl rand -base64 32`)",
        ),
        _ => return None,
    };
    Some(Diagnostic::error("ota::encryption-key", at, message).with_help(help))
}

fn port_span(entry: &Item) -> Option<Span> {
    entry.field("port").and_then(|f| f.key_span).or(entry.span)
}

/// The three ways two same-port entries can disagree, in ESPHome's order.
fn inconsistency(first: &Item, second: &Item) -> Option<Diagnostic> {
    let clash = |key: &str, what: &str| {
        let at = second.field(key).and_then(|f| f.key_span).or(second.span);
        let mut d = Diagnostic::error(
            "ota::inconsistent",
            at,
            format!("Found multiple configurations but {key} is inconsistent"),
        )
        .with_help(format!("entries on the same port are merged into one; {what}"));
        if let Some(span) = first.field(key).and_then(|f| f.key_span).or(first.span) {
            d = d.with_related(span, "the other entry on this port");
        }
        d
    };
    if first.get("version").map(|v| &v.value) != second.get("version").map(|v| &v.value) {
        return Some(clash("version", "give them the same `version:`"));
    }
    if first.manual_id().is_some() && second.manual_id().is_some() {
        return Some(clash("id", "keep `id:` on only one of them"));
    }
    let password = |e: &Item| e.get("password").and_then(Item::as_str).map(str::to_string);
    if let (Some(a), Some(b)) = (password(first), password(second)) {
        if a != b {
            return Some(clash("password", "give them the same `password:`, or set it on only one"));
        }
    }
    let key = |e: &Item| e.get("encryption").and_then(|x| x.get("key")).and_then(Item::as_str).map(str::to_string);
    if let (Some(a), Some(b)) = (key(first), key(second)) {
        if a != b {
            return Some(clash("encryption", "give them the same encryption `key:`, or set it on only one"));
        }
    }
    None
}

/// Merges a same-port entry into the first, like ESPHome's `merge_config` (the later entry wins
/// key by key, lists are joined) with two deliberate differences that change no verdict: a
/// manual ID is never replaced by the other entry's automatic one (so `id(x)` keeps working),
/// and a filled-in default never overrides a value the user wrote.
fn merge(into: &mut Item, from: Item) {
    let (Val::Map(target), Val::Map(source)) = (&mut into.value, from.value) else { return };
    for field in source {
        match target.iter_mut().find(|f| f.key == field.key) {
            Some(existing) => merge_field(existing, field),
            None => target.push(field),
        }
    }
}

fn merge_field(existing: &mut Field, field: Field) {
    match (&mut existing.value.value, field.value.value) {
        (Val::Id { auto: false, .. }, Val::Id { auto: true, .. }) => {}
        (Val::List(a), Val::List(b)) => a.extend(b),
        (_, value) if field.value.span.is_none() && existing.value.span.is_some() => {
            // A default never overrides what the user wrote in the other entry.
            let _ = value;
        }
        (_, value) => {
            existing.value = Item { value, ..field.value };
            existing.key_span = field.key_span.or(existing.key_span);
        }
    }
}

/// One validated `ota:` entry, as codegen and upload read it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtaEntry<'a> {
    pub platform: &'a str,
    pub id: Option<&'a str>,
    /// `platform: esphome`: the schema fills it per target.
    pub port: Option<u16>,
    pub version: Option<u8>,
    /// `None` without `password:`; an empty one means no authentication either.
    pub password: Option<&'a str>,
    pub encryption: Unused,
    pub allow_partition_access: Option<bool>,
    pub setup_priority: Unused,
    // The automations: read from the tree by codegen (they keep their YAML places).
    pub on_begin: Unused,
    pub on_progress: Unused,
    pub on_end: Unused,
    pub on_error: Unused,
    pub on_abort: Unused,
    pub on_state_change: Unused,
}

impl<'a> OtaEntry<'a> {
    /// The entry's password, if uploads must authenticate (an empty one means none).
    pub fn auth_password(&self) -> Option<&'a str> {
        self.password.filter(|p| !p.is_empty())
    }
}

/// What ferrota's firmware leaves out of an `ota:` entry, and why (a warning at the key).
pub const OTA_IGNORED: &[(&str, &str)] = &[
    ("allow_partition_access", "ferrota's firmware updates the app only, never the bootloader or partition table"),
    ("setup_priority", "ferrota's firmware has no setup order to change"),
];

/// The first `ota: - platform: <platform>` entry of a validated config.
pub fn entry<'a>(config: &'a Config, platform: &str) -> Option<(&'a Item, OtaEntry<'a>)> {
    config.get("ota")?.items().iter().find_map(|item| {
        let entry: OtaEntry<'a> = crate::config::read(item).ok()?;
        (entry.platform == platform).then_some((item, entry))
    })
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
