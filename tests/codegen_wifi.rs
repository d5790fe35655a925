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
    let (result, warnings) = try_generate(name, wifi);
    (result.unwrap_or_else(|e| panic!("{e:?}")), warnings)
}

/// firmware.rs, or the errors; and the check's warnings.
fn try_generate(name: &str, wifi: &str) -> (Result<String, Vec<String>>, Vec<String>) {
    let dir = common::TempDir::new(&format!("codegen-wifi-{name}"));
    let config = dir.0.join("w.yaml");
    std::fs::write(&config, format!("esphome:\n  name: w\nesp32:\n  board: esp32-c3-devkitm-1\nota:\n  - platform: esphome\nwifi:\n  ssid: home\n{wifi}")).unwrap();
    let checked = compiler::check(&RealFs, &config, &LoadOptions::default()).unwrap_or_else(|d| panic!("{d:?}"));
    let warnings = checked.diagnostics.iter().map(|d| format!("{}: {}", d.code, d.message)).collect();
    let out = dir.0.join("out");
    let generated = codegen::generate(&checked, &Options { out_dir: out.clone(), runtime: PathBuf::from("/ferrota/runtime") });
    let firmware = generated.map(|_| std::fs::read_to_string(out.join("src/firmware.rs")).unwrap()).map_err(|e| e.iter().map(|d| format!("{}: {}", d.code, d.message)).collect());
    (firmware, warnings)
}

#[test]
fn the_security_the_config_asks_for_reaches_the_join_loop() {
    for (name, wifi, security) in [
        ("default", "  password: \"12345678\"\n", "Security::Wpa2"),
        ("wpa", "  password: \"12345678\"\n  min_auth_mode: WPA\n", "Security::Wpa"),
        ("open", "  password: \"\"\n  min_auth_mode: WPA2\n", "Security::Open"),
    ] {
        let (firmware, warnings) = generate(name, wifi);
        assert!(firmware.contains("    \"home\",\n") && firmware.contains(&format!("    {security},\n    None,\n")), "{name}: {firmware}");
        assert!(!warnings.iter().any(|w| w.contains("wifi-security")), "{name}: {warnings:?}");
    }
}

#[test]
fn wpa3_only_is_asked_for_and_the_esp32_says_it_cannot_require_it() {
    let (firmware, warnings) = generate("wpa3", "  password: \"12345678\"\n  min_auth_mode: WPA3\n");
    assert!(firmware.contains("Security::Wpa3,"), "{firmware}");
    assert!(warnings.iter().any(|w| w.starts_with("codegen::wifi-security") && w.contains("WPA2 or better")), "{warnings:?}");
}

#[test]
fn manual_ip_is_the_stacks_static_address() {
    let wifi = "  password: \"12345678\"\n  manual_ip:\n    static_ip: 192.168.1.50\n    gateway: 192.168.1.1\n    subnet: 255.255.255.0\n    dns1: 1.1.1.1\n";
    let (firmware, warnings) = generate("static", wifi);
    for line in ["address: [192, 168, 1, 50],", "prefix: 24,", "gateway: [192, 168, 1, 1],", "dns: [Some([1, 1, 1, 1]), None],"] {
        assert!(firmware.contains(line), "{line} in\n{firmware}");
    }
    assert!(!warnings.iter().any(|w| w.contains("manual_ip")), "{warnings:?}");

    let bad = "  password: \"12345678\"\n  manual_ip:\n    static_ip: 192.168.1.50\n    gateway: 192.168.1.1\n    subnet: 255.0.255.0\n";
    let (result, warnings) = try_generate("badmask", bad);
    let errors = result.expect_err("a mask that is no prefix is refused");
    assert!(errors.iter().any(|e| e.starts_with("codegen::subnet") && e.contains("255.0.255.0")), "{errors:?}");
    assert!(warnings.iter().any(|w| w.contains("`ferrota compile` will refuse this: the subnet mask")), "the check says so first: {warnings:?}");
}
