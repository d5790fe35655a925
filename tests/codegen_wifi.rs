//! `wifi:` reaches the chip firmware's one join loop (ferrota-ota-embassy's `Network`): an empty
//! password is an open network, `min_auth_mode` the weakest security accepted (WPA2 by
//! default, as in ESPHome), and what esp-radio can't do is a warning at the key.

mod common;

use ferrota::codegen::{self, Options};
use ferrota::compiler;
use ferrota::source::RealFs;
use ferrota::yaml::LoadOptions;
use std::path::PathBuf;

/// firmware.rs of an ESP32-C3 with `wifi` as given, and the warnings.
fn generate(name: &str, wifi: &str) -> (String, Vec<String>) {
    let dir = common::TempDir::new(&format!("codegen-wifi-{name}"));
    let config = dir.0.join("w.yaml");
    std::fs::write(&config, format!("esphome:\n  name: w\nesp32:\n  board: esp32-c3-devkitm-1\nota:\n  - platform: esphome\nwifi:\n  ssid: home\n{wifi}")).unwrap();
    let checked = compiler::check(&RealFs, &config, &LoadOptions::default()).unwrap_or_else(|d| panic!("{d:?}"));
    let out = dir.0.join("out");
    let generated = codegen::generate(&checked, &Options { out_dir: out.clone(), runtime: PathBuf::from("/ferrota/runtime") }).unwrap_or_else(|d| panic!("{d:?}"));
    let warnings = generated.warnings.iter().map(|d| format!("{}: {}", d.code, d.message)).collect();
    (std::fs::read_to_string(out.join("src/firmware.rs")).unwrap(), warnings)
}

#[test]
fn the_security_the_config_asks_for_reaches_the_join_loop() {
    for (name, wifi, security) in [
        ("default", "  password: \"12345678\"\n", "Security::Wpa2"),
        ("wpa", "  password: \"12345678\"\n  min_auth_mode: WPA\n", "Security::Wpa"),
        ("open", "  password: \"\"\n  min_auth_mode: WPA2\n", "Security::Open"),
    ] {
        let (firmware, warnings) = generate(name, wifi);
        assert!(firmware.contains("Network::new(\"home\", ") && firmware.contains(&format!("{security});")), "{name}: {firmware}");
        assert!(!warnings.iter().any(|w| w.contains("wifi-security")), "{name}: {warnings:?}");
    }
}

#[test]
fn wpa3_only_is_asked_for_and_the_esp32_says_it_cannot_require_it() {
    let (firmware, warnings) = generate("wpa3", "  password: \"12345678\"\n  min_auth_mode: WPA3\n");
    assert!(firmware.contains("Security::Wpa3);"), "{firmware}");
    assert!(warnings.iter().any(|w| w.starts_with("codegen::wifi-security") && w.contains("WPA2 or better")), "{warnings:?}");
}
