//! esp-radio as the radio of ferrota-ota-embassy's join loop.

use embassy_net::Runner;
use esp_radio::wifi::{sta::StationConfig, AuthenticationMethodConfig, Config, ConnectionError, Interface, WifiController, WifiError};
use ferrota_ota_embassy::wifi::{keep_joined, Network, Radio, Security};

/// Why the ESP32 did not join.
pub enum JoinError {
    /// The SSID (32 bytes at most) or password (64) does not fit.
    TooLong,
    /// The radio refused the settings.
    Config(WifiError),
    /// The network did not take us.
    Connect(ConnectionError),
}

impl core::fmt::Debug for JoinError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            JoinError::TooLong => f.write_str("the SSID or password is too long"),
            JoinError::Config(e) => write!(f, "{e:?}"),
            JoinError::Connect(e) => write!(f, "{e:?}"),
        }
    }
}

struct EspRadio(WifiController<'static>);

impl Radio for EspRadio {
    type Error = JoinError;

    async fn join(&mut self, network: &Network) -> Result<(), JoinError> {
        let ssid = network.ssid.try_into().map_err(|_| JoinError::TooLong)?;
        let password = || network.password.try_into().map_err(|_| JoinError::TooLong);
        // esp-radio has no WPA3-only setting: WPA2 or better is the closest (codegen warns).
        let authentication = match network.security {
            Security::Open => AuthenticationMethodConfig::Open,
            Security::Wpa => AuthenticationMethodConfig::WpaWpa2Personal(password()?),
            Security::Wpa2 | Security::Wpa3 => AuthenticationMethodConfig::Wpa2Personal(password()?),
        };
        let config = Config::Station(StationConfig::default().with_ssid(ssid).with_authentication(authentication));
        self.0.set_config(&config).map_err(JoinError::Config)?;
        self.0.connect_async().await.map(|_| ()).map_err(JoinError::Connect)
    }

    async fn wait_for_disconnect(&mut self) {
        let _ = self.0.wait_for_disconnect_async().await;
    }
}

/// Joins `network` and rejoins whenever the connection drops.
#[embassy_executor::task]
pub async fn wifi_task(controller: WifiController<'static>, network: Network) {
    keep_joined(&mut EspRadio(controller), &network).await
}

/// Runs the network stack.
#[embassy_executor::task]
pub async fn net_task(mut runner: Runner<'static, Interface>) {
    runner.run().await
}
