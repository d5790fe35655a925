//! `web_server:` as ferrota reads it: the port, HTTP auth and whether `/update` takes firmware.

use crate::config::Unused;

/// The validated `web_server:`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebServer<'a> {
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
