//! `wifi:`: the rules across keys (a password needs an SSID; `ssid` or `networks`, not both)
//! and the SSID and WPA password checks.

use crate::config::Config;
use crate::diagnostics::Diagnostic;
use crate::schema::engine::Engine;
use crate::schema::scalar::Invalid;

pub fn check(engine: &mut Engine, config: &Config) {
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
