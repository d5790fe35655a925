//! `mdns:`: loaded by `network:`. ferrota's firmware announces no `<name>.local` yet, which is
//! what `disabled: true` asks for; services to announce warn.

use crate::codegen::model::Firmware;
use crate::config::{TypeError, Unused};

/// `mdns:`.
pub struct Mdns;

impl super::Component for Mdns {
    fn name(&self) -> &'static str {
        "mdns"
    }
    fn keys(&self) -> &'static [&'static str] {
        crate::config::field_names::<MdnsConfig>()
    }
    fn ignored(&self) -> &'static [(&'static str, &'static str)] {
        IGNORED
    }
    fn firmware(&self, firmware: &mut Firmware<'_>) -> Result<(), TypeError> {
        let Some(item) = firmware.config.get("mdns") else { return Ok(()) };
        let _: MdnsConfig = crate::config::read(item)?;
        firmware.ignored_keys(item, "mdns", IGNORED);
        Ok(())
    }
}

/// The validated `mdns:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MdnsConfig<'a> {
    pub id: Option<&'a str>,
    /// The firmware announces nothing either way.
    pub disabled: bool,
    pub services: Unused,
}

/// What ferrota's firmware leaves out of `mdns:`, and why.
pub const IGNORED: &[(&str, &str)] = &[(
    "services",
    "ferrota's firmware announces nothing over mDNS yet (upload with `wifi: use_address` or the device's IP address)",
)];
