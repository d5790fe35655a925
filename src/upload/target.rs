//! What a device config says about uploading to it: name, OTA port and password, web_server
//! port and auth, and where `ferrota compile` puts the image.

use std::path::{Path, PathBuf};

use crate::config::Config;

/// The upload settings of one device config (what `ferrota upload` needs to reach it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSettings {
    /// `esphome: name:`.
    pub name: String,
    /// `wifi: use_address:`, where uploads go instead of `<name>.local` (as in ESPHome).
    pub use_address: Option<String>,
    /// From the first `ota: - platform: esphome` entry; `None` when there is none.
    pub ota: Option<OtaSettings>,
    /// `web_server: port:` and `auth:`; `None` without a web server.
    pub web_server: Option<WebServerSettings>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtaSettings {
    /// The schema fills it in per target; `None` only for a target it has no default for.
    pub port: Option<u16>,
    /// After `!secret` resolution; `None` without a password.
    pub password: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebServerSettings {
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl UploadSettings {
    /// Reads the settings out of a validated config.
    pub fn from_config(config: &Config) -> UploadSettings {
        let core = config.get("esphome").and_then(|e| crate::config::read::<crate::components::core::EsphomeConfig>(e).ok());
        let name = core.map(|c| c.name.to_owned()).unwrap_or_default();
        let ota = crate::components::ota::entry(config, "esphome").map(|(_, entry)| OtaSettings {
            port: entry.port,
            password: entry.auth_password().map(str::to_owned),
        });
        // A `web_server:` that does not read as its type went around the schema: no settings.
        let web_server = config.get("web_server").and_then(|ws| crate::config::read::<crate::components::web_server::WebServerConfig>(ws).ok()).map(|ws| WebServerSettings {
            port: ws.port,
            username: ws.auth.as_ref().map(|a| a.username.to_owned()),
            password: ws.auth.as_ref().map(|a| a.password.to_owned()),
        });
        let wifi = config.get("wifi").and_then(|w| crate::config::read::<crate::components::wifi::WifiConfig>(w).ok());
        let use_address = wifi.and_then(|w| w.use_address).map(str::to_owned);
        UploadSettings { name, use_address, ota, web_server }
    }

    /// The default `--device`: `wifi: use_address`, or else the device's mDNS name.
    pub fn default_host(&self) -> String {
        self.use_address.clone().unwrap_or_else(|| format!("{}.local", self.name))
    }
}

/// Where `ferrota compile` leaves the image of the config at `config_path` for device `name`:
/// `<config dir>/.ferrota/build/<name>/firmware.bin` (`.ferrota/` is git-ignored).
pub fn default_image_path(config_path: &Path, name: &str) -> PathBuf {
    let dir = config_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join(".ferrota").join("build").join(name).join("firmware.bin")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemoryFs;
    use crate::yaml::LoadOptions;

    fn target(yaml: &str, secrets: &str) -> UploadSettings {
        let fs = MemoryFs::default().with("/dev/device.yaml", yaml).with("/dev/secrets.yaml", secrets);
        let checked = crate::compiler::check(&fs, Path::new("/dev/device.yaml"), &LoadOptions::default()).unwrap();
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        UploadSettings::from_config(&checked.config)
    }

    #[test]
    fn first_esphome_entry_with_its_secret() {
        let t = target(
            "esphome:\n  name: kitchen\nesp32:\n  board: esp32dev\nwifi:\n  ssid: x\n  password: yyyyyyyy\nweb_server:\n\
             ota:\n  - platform: web_server\n  - platform: esphome\n    port: 3000\n    password: !secret ota\n",
            "ota: s3cret\n",
        );
        assert_eq!(t.name, "kitchen");
        assert_eq!(t.ota, Some(OtaSettings { port: Some(3000), password: Some("s3cret".into()) }));
        assert_eq!(t.default_host(), "kitchen.local");
        let fixed = target("esphome:\n  name: kitchen\nesp32:\n  board: esp32dev\nwifi:\n  ssid: x\n  use_address: 10.0.0.7\nota:\n  - platform: esphome\n", "");
        assert_eq!(fixed.default_host(), "10.0.0.7", "wifi: use_address wins, as in ESPHome");
        // `web_server:` with its defaults.
        assert_eq!(t.web_server, Some(WebServerSettings { port: 80, username: None, password: None }));
    }

    #[test]
    fn defaults_come_from_the_schema() {
        let t = target("esphome:\n  name: plain\nhost:\nota:\n  - platform: esphome\n", "");
        assert_eq!(t.ota, Some(OtaSettings { port: Some(8082), password: None }));
    }

    #[test]
    fn a_missing_ota_port_stays_missing() {
        // The schema fills `port:` for every target it knows; a config it did not complete
        // must not get some other platform's port (the command then asks for --port).
        use crate::config::{Config, Field, Item, Val};
        let field = |key: &str, value: Val| Field { key: key.into(), key_span: None, value: Item::new(value, None) };
        let entry = Item::new(Val::Map(vec![field("platform", Val::Str("esphome".into()))]), None);
        let config = Config { components: vec![field("ota", Val::List(vec![entry]))] };
        assert_eq!(UploadSettings::from_config(&config).ota, Some(OtaSettings { port: None, password: None }));
    }

    #[test]
    fn no_esphome_ota_entry() {
        let t = target("esphome:\n  name: none\nhost:\n", "");
        assert_eq!(t.ota, None);
    }

    #[test]
    fn web_server_port_and_auth() {
        let t = target(
            "esphome:\n  name: ws\nesp32:\n  board: esp32dev\nwifi:\n  ssid: x\n  password: yyyyyyyy\n\
             web_server:\n  port: 8080\n  auth:\n    username: admin\n    password: !secret web\n\
             ota:\n  - platform: web_server\n",
            "web: hunter2\n",
        );
        assert_eq!(t.ota, None);
        assert_eq!(
            t.web_server,
            Some(WebServerSettings { port: 8080, username: Some("admin".into()), password: Some("hunter2".into()) })
        );
    }

    #[test]
    fn image_path_convention() {
        assert_eq!(
            default_image_path(Path::new("configs/kitchen.yaml"), "kitchen"),
            PathBuf::from("configs/.ferrota/build/kitchen/firmware.bin")
        );
        assert_eq!(default_image_path(Path::new("kitchen.yaml"), "k"), PathBuf::from("./.ferrota/build/k/firmware.bin"));
    }
}
