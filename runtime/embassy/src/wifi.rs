//! The WiFi join loop of every chip: join as `wifi:` asks, rejoin whenever the link drops.

use embassy_time::{Duration, Timer};

/// The weakest security the network may offer (`wifi: min_auth_mode`, WPA2 by default as in
/// ESPHome); a network without a password is joined open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No password: an open network.
    Open,
    /// WPA or better.
    Wpa,
    /// WPA2 or better.
    Wpa2,
    /// WPA3 only.
    Wpa3,
}

/// The network to join (`wifi: ssid / password / min_auth_mode / manual_ip`).
#[derive(Debug, Clone, Copy)]
pub struct Network {
    /// The network's name.
    pub ssid: &'static str,
    /// Its passphrase; empty for an open network.
    pub password: &'static str,
    /// The weakest security accepted.
    pub security: Security,
    /// `manual_ip`; `None`: DHCP.
    pub static_ip: Option<StaticIp>,
}

/// `wifi: manual_ip` (IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticIp {
    pub address: [u8; 4],
    /// The subnet mask as a prefix length (255.255.255.0 is 24).
    pub prefix: u8,
    pub gateway: [u8; 4],
    /// `dns1`, `dns2`.
    pub dns: [Option<[u8; 4]>; 2],
}

impl Network {
    /// `password` empty means an open network, whatever `security` says.
    pub const fn new(ssid: &'static str, password: &'static str, security: Security, static_ip: Option<StaticIp>) -> Self {
        let security = if password.is_empty() { Security::Open } else { security };
        Network { ssid, password, security, static_ip }
    }

    /// The network stack's address configuration: the static one, or DHCP.
    pub fn net_config(&self) -> embassy_net::Config {
        let Some(ip) = self.static_ip else { return embassy_net::Config::dhcpv4(Default::default()) };
        let v4 = |[a, b, c, d]: [u8; 4]| embassy_net::Ipv4Address::new(a, b, c, d);
        let mut config = embassy_net::StaticConfigV4 { address: embassy_net::Ipv4Cidr::new(v4(ip.address), ip.prefix), gateway: Some(v4(ip.gateway)), dns_servers: Default::default() };
        for dns in ip.dns.into_iter().flatten() {
            let _ = config.dns_servers.push(v4(dns));
        }
        embassy_net::Config::ipv4_static(config)
    }
}

/// A chip's radio, as the join loop drives it.
#[allow(async_fn_in_trait)]
pub trait Radio {
    /// Why a join failed, for the log.
    type Error: core::fmt::Debug;
    /// Joins `network`; returns once associated (or failed).
    async fn join(&mut self, network: &Network) -> Result<(), Self::Error>;
    /// Returns once the link to the network is lost.
    async fn wait_for_disconnect(&mut self);
}

/// How long to wait before joining again after a failure or a lost link.
const RETRY: Duration = Duration::from_secs(5);

/// Joins `network` and rejoins whenever the connection drops; never returns.
pub async fn keep_joined(radio: &mut impl Radio, network: &Network) -> ! {
    loop {
        match radio.join(network).await {
            Ok(()) => {
                log::info!("[I][wifi]: connected to {:?}", network.ssid);
                radio.wait_for_disconnect().await;
                log::warn!("[W][wifi]: disconnected");
            }
            Err(e) => log::warn!("[W][wifi]: cannot connect to {:?}: {e:?}", network.ssid),
        }
        Timer::after(RETRY).await;
    }
}
