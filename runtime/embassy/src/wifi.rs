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

/// The network to join (`wifi: ssid / password / min_auth_mode`).
#[derive(Debug, Clone, Copy)]
pub struct Network {
    /// The network's name.
    pub ssid: &'static str,
    /// Its passphrase; empty for an open network.
    pub password: &'static str,
    /// The weakest security accepted.
    pub security: Security,
}

impl Network {
    /// `password` empty means an open network, whatever `security` says.
    pub const fn new(ssid: &'static str, password: &'static str, security: Security) -> Self {
        let security = if password.is_empty() { Security::Open } else { security };
        Network { ssid, password, security }
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
