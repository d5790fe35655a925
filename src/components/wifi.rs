//! `wifi:`: the rules across keys (a password needs an SSID; `ssid` or `networks`, not both),
//! the SSID and WPA password checks, and the network a chip firmware joins.

use crate::codegen::model::{self, Firmware, StaticIp};
use crate::codegen::target::Family;
use crate::config::{Config, TypeError, Unused};
use crate::diagnostics::Diagnostic;
use crate::schema::engine::Engine;
use crate::schema::scalar::Invalid;
use crate::source::Span;

/// `wifi:`.
pub struct Wifi;

impl super::Component for Wifi {
    fn name(&self) -> &'static str {
        "wifi"
    }
    fn keys(&self) -> &'static [&'static str] {
        crate::config::field_names::<WifiConfig>()
    }
    fn ignored(&self) -> &'static [(&'static str, &'static str)] {
        IGNORED
    }
    fn validate(&self, engine: &mut Engine, config: &mut Config) {
        check(engine, config);
    }

    fn firmware(&self, firmware: &mut Firmware<'_>) -> Result<(), TypeError> {
        let config = firmware.config;
        firmware.refuse_automation("wifi", "on_connect");
        firmware.refuse_automation("wifi", "on_disconnect");
        if firmware.family() == Family::Host {
            if let Some(span) = firmware.written("wifi") {
                firmware.diagnostics.push(Diagnostic::warning("codegen::ignored", Some(span), "a host device uses this computer's network: `wifi` is left out"));
            }
            return Ok(());
        }
        let item = config.get("wifi");
        let wifi: Option<WifiConfig> = item.map(crate::config::read).transpose()?;
        if let Some(item) = item {
            firmware.ignored_keys(item, "wifi", IGNORED);
            for network in item.get("networks").map(crate::config::Item::items).unwrap_or_default() {
                firmware.ignored_keys(network, "wifi: networks", NETWORK_IGNORED);
            }
            if let Some(ap) = item.field("ap") {
                firmware.diagnostics.push(Diagnostic::warning("codegen::ignored", ap.key_span, "ferrota's chip firmware has no fallback access point yet: `ap` is left out"));
            }
            // esp-radio can't require WPA3: say so rather than join a weaker network silently.
            if let (Some(field), Family::Esp32) = (item.field("min_auth_mode").filter(|f| f.value.as_str() == Some("WPA3")), firmware.family()) {
                firmware.diagnostics.push(
                    Diagnostic::warning("codegen::wifi-security", field.key_span, "esp-radio (ferrota's ESP32 WiFi) can't require WPA3: the device joins WPA2 or better")
                        .with_help("set `min_auth_mode: WPA2` to say what the device does, or build this device with ESPHome"),
                );
            }
        }
        let Some((item, wifi, (ssid, password))) = item.zip(wifi).and_then(|(item, wifi)| wifi.network().map(|joined| (item, wifi, joined))) else {
            needs_wifi(firmware);
            return Ok(());
        };
        let security = match wifi.min_auth_mode {
            _ if password.is_empty() => "Open",
            Some("WPA") => "Wpa",
            Some("WPA3") => "Wpa3",
            _ => "Wpa2",
        };
        let manual_span = item.field("manual_ip").and_then(|f| f.key_span);
        let static_ip = wifi.manual_ip.as_ref().and_then(|manual| static_ip(manual, manual_span, &mut firmware.diagnostics));
        firmware.model.wifi = Some(model::Wifi { ssid: ssid.to_string(), password: password.to_string(), security, static_ip });
        Ok(())
    }
}

/// A chip firmware without a network to join.
fn needs_wifi(firmware: &mut Firmware<'_>) {
    let chip = firmware.model.target.chip;
    firmware.diagnostics.push(
        Diagnostic::error("codegen::needs-wifi", firmware.target_span(), format!("ferrota's {chip} firmware joins a WiFi network: it needs `wifi:` with an `ssid`"))
            .with_help("add `wifi:` with `ssid:` and `password:` (a fallback `ap:` alone is not supported yet)"),
    );
}

/// `manual_ip` as an address, prefix, gateway and DNS servers; `None` (and an error at `span`)
/// for a subnet mask that is no prefix.
fn static_ip(manual: &ManualIp, span: Option<Span>, diagnostics: &mut Vec<Diagnostic>) -> Option<StaticIp> {
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

fn check(engine: &mut Engine, config: &Config) {
    let Some(wifi) = config.get("wifi") else { return };
    if let (Some(password), None) = (wifi.field("password"), wifi.get("ssid")) {
        let d = Diagnostic::error("wifi::password-without-ssid", password.key_span.or(wifi.span), "Cannot have WiFi password without SSID!")
            .with_help("add `ssid:` next to `password:`, or list the network under `networks:`");
        engine.diagnostics.push(d);
    }
    let has_networks = wifi.get("ssid").is_some() || !wifi.get("networks").map_or(&[][..], |n| n.items()).is_empty();
    if !has_networks && wifi.get("ap").is_none() {
        let d = Diagnostic::error("wifi::nothing-to-join", wifi.span, "Please specify at least an SSID or an Access Point to create.")
            .with_help("add `ssid:` and `password:` (or `networks:`), or an `ap:` block");
        engine.diagnostics.push(d);
    }
    if let (Some(ssid), Some(networks)) = (wifi.field("ssid"), wifi.field("networks")) {
        let mut d = Diagnostic::error(
            "wifi::ssid-and-networks",
            ssid.key_span.or(wifi.span),
            "You cannot use the 'ssid:' option together with 'networks:'. Please copy your network into the 'networks:' key",
        )
        .with_help("move `ssid:` and `password:` into a `- ssid: …` item of `networks:`");
        if let Some(span) = networks.key_span {
            d = d.with_related(span, "networks are listed here");
        }
        engine.diagnostics.push(d);
    }
}

/// `cv.ssid`: 1 to 32 characters.
pub fn valid_ssid(value: &str) -> Result<String, Invalid> {
    if value.is_empty() {
        return Err(Invalid::new("SSID can't be empty.").help("write the network name"));
    }
    if value.chars().count() > 32 {
        return Err(Invalid::new("SSID can't be longer than 32 characters").help("WiFi network names have at most 32 characters"));
    }
    Ok(value.to_string())
}

/// A WPA passphrase: empty (open network) or 8 to 64 characters.
pub fn valid_password(value: &str) -> Result<String, Invalid> {
    let n = value.chars().count();
    if n > 0 && n < 8 {
        return Err(Invalid::new("WPA password must be at least 8 characters long")
            .help("WPA passwords have 8 to 64 characters; use \"\" for an open network"));
    }
    if n > 64 {
        return Err(Invalid::new("WPA password must be at most 64 characters long")
            .help("WPA passwords have 8 to 64 characters"));
    }
    Ok(value.to_string())
}


/// The validated `wifi:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WifiConfig<'a> {
    pub id: Option<&'a str>,
    pub ssid: Option<&'a str>,
    pub password: Option<&'a str>,
    #[serde(borrow, default)]
    pub networks: Vec<WifiNetwork<'a>>,
    pub min_auth_mode: Option<&'a str>,
    /// Where uploads go instead of `<name>.local` (`UploadSettings::default_host`).
    pub use_address: Option<&'a str>,
    #[serde(borrow)]
    pub manual_ip: Option<ManualIp<'a>>,
    pub eap: Unused,
    pub ap: Unused,
    pub domain: Unused,
    pub reboot_timeout: Unused,
    pub power_save_mode: Unused,
    pub fast_connect: Unused,
    pub output_power: Unused,
    pub enable_btm: Unused,
    pub enable_rrm: Unused,
    pub passive_scan: Unused,
    pub enable_on_boot: Unused,
    pub post_connect_roaming: Unused,
    pub on_connect: Unused,
    pub on_disconnect: Unused,
}

/// `wifi: manual_ip` (the schema checks each is an IPv4 address).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualIp<'a> {
    pub static_ip: &'a str,
    pub gateway: &'a str,
    pub subnet: &'a str,
    pub dns1: Option<&'a str>,
    pub dns2: Option<&'a str>,
}

/// One of `wifi: networks:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WifiNetwork<'a> {
    pub ssid: Option<&'a str>,
    pub password: Option<&'a str>,
    pub priority: Option<i64>,
    pub bssid: Unused,
    pub hidden: Unused,
    pub channel: Unused,
    pub manual_ip: Unused,
    pub eap: Unused,
}

impl<'a> WifiConfig<'a> {
    /// The network the firmware joins: the first of `networks:` with the highest priority, or
    /// the top-level `ssid`; with its password (empty: an open network).
    pub fn network(&self) -> Option<(&'a str, &'a str)> {
        let best = self.networks.iter().rev().max_by_key(|n| n.priority.unwrap_or(0));
        match best {
            Some(n) => Some((n.ssid?, n.password.unwrap_or(""))),
            None => Some((self.ssid?, self.password.unwrap_or(""))),
        }
    }
}

/// What ferrota's chip firmware leaves out of an entry of `wifi: networks:`, and why.
pub const NETWORK_IGNORED: &[(&str, &str)] = &[
    ("bssid", "ferrota's chip firmware joins by the network's name"),
    ("hidden", "ferrota's chip firmware joins by the network's name"),
    ("channel", "the radio scans every channel"),
    ("manual_ip", "ferrota's chip firmware takes `manual_ip` from the top of `wifi:` only"),
    ("eap", "ferrota's chip firmware joins WPA-Personal and open networks only"),
];

/// What ferrota's chip firmware leaves out of `wifi:`, and why (`ap`, `on_connect` and
/// `on_disconnect` have diagnostics of their own).
pub const IGNORED: &[(&str, &str)] = &[
    ("eap", "ferrota's chip firmware joins WPA-Personal and open networks only"),
    ("domain", "ferrota's chip firmware announces no name"),
    ("reboot_timeout", "ferrota's chip firmware keeps trying to join instead of rebooting"),
    ("power_save_mode", "the radio's own power saving is used"),
    ("fast_connect", "ferrota's chip firmware joins the configured network directly"),
    ("output_power", "the radio's default transmit power is used"),
    ("enable_btm", "the radio's defaults are used"),
    ("enable_rrm", "the radio's defaults are used"),
    ("passive_scan", "the radio's defaults are used"),
    ("enable_on_boot", "ferrota's chip firmware always starts WiFi (it is an OTA firmware)"),
    ("post_connect_roaming", "ferrota's chip firmware stays on the network it joined"),
];
