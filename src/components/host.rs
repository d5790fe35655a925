//! `host:`: the device as a program on this computer; the executable is the firmware.

use crate::codegen::model::Firmware;
use crate::codegen::target::Family;
use crate::config::{TypeError, Unused};

/// `host:`.
pub struct Host;

impl super::Component for Host {
    fn name(&self) -> &'static str {
        "host"
    }
    fn keys(&self) -> &'static [&'static str] {
        crate::config::field_names::<HostConfig>()
    }
    fn ignored(&self) -> &'static [(&'static str, &'static str)] {
        IGNORED
    }
    fn firmware(&self, firmware: &mut Firmware<'_>) -> Result<(), TypeError> {
        let Some(item) = firmware.config.get("host").filter(|_| firmware.family() == Family::Host) else { return Ok(()) };
        let _: HostConfig = crate::config::read(item)?;
        firmware.ignored_keys(item, "host", IGNORED);
        Ok(())
    }
}

/// The validated `host:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub mac_address: Unused,
}

/// What ferrota's host device leaves out of `host:`, and why.
pub const IGNORED: &[(&str, &str)] = &[("mac_address", "ferrota's host device reports no MAC address (it has no API or network stack of its own)")];
