//! `web_server:` as ferrota reads it: the port, HTTP auth and whether `/update` takes firmware
//! (`ota: - platform: web_server`, whose automations it wires too).

use crate::codegen::model::{self, Firmware, OtaHooks};
use crate::config::{Config, Item, TypeError, Unused};
use crate::diagnostics::Diagnostic;
use crate::schema::engine::Engine;

/// `web_server:` (with the `web_server` OTA platform it serves).
pub struct WebServer;

impl super::Component for WebServer {
    fn name(&self) -> &'static str {
        "web_server"
    }
    fn keys(&self) -> &'static [&'static str] {
        crate::config::field_names::<WebServerConfig>()
    }
    /// On `host:` ferrota goes its own way (ESPHome's host platform has no web server): say so.
    fn validate(&self, engine: &mut Engine, config: &mut Config) {
        let Some(field) = config.components.iter().find(|f| f.key == "web_server" && f.key_span.is_some()) else { return };
        if engine.target.as_deref() == Some("host") {
            engine.diagnostics.push(
                Diagnostic::warning("config::ferrota-only", field.key_span, "ESPHome rejects `web_server:` on `host:` (its host platform has no web server); ferrota's host device serves the page and `/update`")
                    .with_help("this config builds with ferrota only; remove `web_server:` to build it with ESPHome too"),
            );
        }
    }
    fn firmware(&self, firmware: &mut Firmware<'_>) -> Result<(), TypeError> {
        let config = firmware.config;
        let Some(item) = config.get("web_server") else { return Ok(()) };
        let web: WebServerConfig = crate::config::read(item)?;
        // `web_server: ota: false` (2025.7+) keeps `/update` for the captive portal only.
        let serves = web.ota != Some(false) && !web_ota_entries(config).is_empty();
        firmware.model.web_server = Some(model::WebServer {
            port: web.port,
            username: web.auth.as_ref().map(|a| a.username.to_string()),
            password: web.auth.as_ref().map(|a| a.password.to_string()),
            ota: serves,
        });
        let Some(span) = firmware.written("web_server") else { return Ok(()) };
        let left_out = if serves {
            Diagnostic::warning(
                "codegen::ignored",
                Some(span),
                "ferrota's firmware serves the device's page and `/update` (firmware uploads) from `web_server`: the entity pages, REST API and event stream are left out",
            )
        } else {
            Diagnostic::warning("codegen::ignored", Some(span), "ferrota's firmware serves only its page and `/update` from `web_server`, and uploads are off here: `web_server` is left out")
                .with_help("add `ota: - platform: web_server` for firmware uploads over HTTP")
        };
        firmware.diagnostics.push(left_out);
        // Only a firmware that serves `/update` calls them (the warnings say when it does not).
        firmware.model.web_ota_hooks = if serves { firmware.ota_hooks(web_ota_entries(config), "ota_web_server", true) } else { OtaHooks::default() };
        Ok(())
    }
}

/// `ota: - platform: web_server` entries.
fn web_ota_entries(config: &Config) -> Vec<&Item> {
    config.get("ota").map(Item::items).unwrap_or_default().iter().filter(|e| e.get("platform").and_then(Item::as_str) == Some("web_server")).collect()
}


/// The validated `web_server:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebServerConfig<'a> {
    pub id: Option<&'a str>,
    /// The schema's default is 80.
    pub port: u16,
    #[serde(borrow)]
    pub auth: Option<Auth<'a>>,
    /// Only `false` (uploads off) is accepted.
    pub ota: Option<bool>,
    pub version: Unused,
    pub css_url: Unused,
    pub css_include: Unused,
    pub js_url: Unused,
    pub js_include: Unused,
    pub enable_private_network_access: Unused,
    pub allowed_origins: Unused,
    pub include_internal: Unused,
    pub log: Unused,
    pub local: Unused,
    pub compression: Unused,
    pub sorting_groups: Unused,
    pub web_server_base_id: Unused,
    pub setup_priority: Unused,
}

/// `web_server: auth:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// `basic` or `digest`; ferrota's firmware and client use Basic.
    #[serde(rename = "type")]
    pub kind: Option<&'a str>,
}

/// The keys of the web server's pages, left out with the pages themselves (one warning at
/// `web_server:` says so).
pub const PAGE_KEYS: &[&str] = &[
    "version",
    "css_url",
    "css_include",
    "js_url",
    "js_include",
    "enable_private_network_access",
    "allowed_origins",
    "include_internal",
    "log",
    "local",
    "compression",
    "sorting_groups",
    "web_server_base_id",
    "setup_priority",
];
