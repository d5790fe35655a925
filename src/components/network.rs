//! `network:`: loaded by `wifi:` and `host:`; ferrota's firmware reads nothing from it.

use crate::codegen::model::Firmware;
use crate::config::{TypeError, Unused};

/// `network:`.
pub struct Network;

impl super::Component for Network {
    fn name(&self) -> &'static str {
        "network"
    }
    fn keys(&self) -> &'static [&'static str] {
        crate::config::field_names::<NetworkConfig>()
    }
    fn ignored(&self) -> &'static [(&'static str, &'static str)] {
        IGNORED
    }
    fn firmware(&self, firmware: &mut Firmware<'_>) -> Result<(), TypeError> {
        let Some(item) = firmware.config.get("network") else { return Ok(()) };
        let _: NetworkConfig = crate::config::read(item)?;
        firmware.ignored_keys(item, "network", IGNORED);
        Ok(())
    }
}

/// The validated `network:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig<'a> {
    pub id: Option<&'a str>,
    pub enable_ipv6: Unused,
    pub min_ipv6_addr_count: Unused,
    pub enable_high_performance: Unused,
}

/// What ferrota's firmware leaves out of `network:`, and why.
pub const IGNORED: &[(&str, &str)] = &[
    ("enable_ipv6", "ferrota's chip firmware speaks IPv4 only (a host device uses this computer's network)"),
    ("min_ipv6_addr_count", "ferrota's chip firmware speaks IPv4 only (a host device uses this computer's network)"),
    ("enable_high_performance", "the network stack's buffers are fixed in ferrota's firmware"),
];
