//! Every key the schema accepts for the components ferrota's firmware is made from is read by
//! that component's typed config (`src/components/`), whose structs deny any other key; and the
//! keys the firmware leaves out warn at their line, saying why. A key added to a schema fails
//! here until its type says what ferrota does with it. (A component with no entry in
//! `components::COMPONENTS` is left out whole, with one warning at its key.)

use ferrota::compiler;
use ferrota::components::{esp32, rp2040, web_server, wifi, COMPONENTS};
use ferrota::config::field_names;
use ferrota::schema::model::{MapSchema, Type};
use ferrota::schema::Registry;
use ferrota::source::MemoryFs;
use ferrota::yaml::LoadOptions;
use std::collections::BTreeSet;
use std::path::Path;

/// The keys a schema map accepts into the validated tree (`invalid` ones never get there).
fn keys(map: &MapSchema) -> BTreeSet<&str> {
    map.keys.iter().filter(|k| !matches!(k.ty, Type::Invalid { .. })).map(|k| k.name.as_str()).collect()
}

fn config_of(name: &str) -> &'static MapSchema {
    &Registry::get().component(name).unwrap_or_else(|| panic!("no schema/{name}")).config
}

fn map_under<'a>(map: &'a MapSchema, key: &str) -> &'a MapSchema {
    match &map.key(key).unwrap().ty {
        Type::Map(m) => m,
        Type::List(item) => match item.as_ref() {
            Type::Map(m) => m,
            other => panic!("{key}: {other:?}"),
        },
        other => panic!("{key}: {other:?}"),
    }
}

fn same(what: &str, schema: BTreeSet<&str>, typed: &[&str]) {
    let typed: BTreeSet<&str> = typed.iter().copied().collect();
    assert_eq!(schema, typed, "{what}: the schema's keys (left) and its typed config's (right) differ");
}

#[test]
fn the_typed_configs_read_every_key_their_schemas_accept() {
    let registry = Registry::get();
    for component in COMPONENTS {
        let name = component.name();
        let schema = registry.component(name).unwrap_or_else(|| panic!("`{name}` has no schema/{name}.yaml"));
        let mut expected = keys(&schema.config);
        // A platform component's entry type reads the keys of every platform.
        if schema.platforms {
            for platform in registry.platforms(name) {
                expected.extend(keys(&platform.config));
            }
            expected.insert("platform");
        }
        same(name, expected, component.keys());
    }
    same("wifi: networks", keys(map_under(config_of("wifi"), "networks")), field_names::<wifi::WifiNetwork>());
    same("wifi: manual_ip", keys(map_under(config_of("wifi"), "manual_ip")), field_names::<wifi::ManualIp>());
    same("web_server: auth", keys(map_under(config_of("web_server"), "auth")), field_names::<web_server::Auth>());
    same("esp32: framework", keys(map_under(config_of("esp32"), "framework")), field_names::<esp32::Framework>());
    same("rp2040: framework", keys(map_under(config_of("rp2040"), "framework")), field_names::<rp2040::Framework>());
}

#[test]
fn every_key_the_firmware_leaves_out_is_listed_with_a_reason() {
    let nested = [
        ("wifi: networks", wifi::NETWORK_IGNORED, field_names::<wifi::WifiNetwork>()),
        ("esp32: framework", esp32::FRAMEWORK_IGNORED, field_names::<esp32::Framework>()),
    ];
    let top = COMPONENTS.iter().map(|c| (c.name(), c.ignored(), c.keys()));
    for (what, list, fields) in top.chain(nested) {
        for (key, why) in list {
            assert!(fields.contains(key), "{what}: `{key}` is listed as left out but is no key of its type");
            assert!(why.len() > 20, "{what}: `{key}` needs a reason users can act on");
        }
    }
    for key in web_server::PAGE_KEYS {
        assert!(field_names::<web_server::WebServerConfig>().contains(key), "web_server: `{key}`");
    }
}

#[test]
fn keys_the_firmware_leaves_out_warn_at_their_line() {
    let yaml = "esphome:\n  name: t\nesp32:\n  board: esp32-c3-devkitm-1\nwifi:\n  ssid: home\n  password: \"12345678\"\n  domain: .lan\n  reboot_timeout: 10min\n  power_save_mode: none\nota:\n  - platform: esphome\n    allow_partition_access: true\nsafe_mode:\n  storage: flash\n  boot_is_good_on_shutdown: false\n";
    let more = "logger:\n  baud_rate: 0\nnetwork:\n  enable_ipv6: true\nmdns:\n  services: []\n";
    let yaml = yaml.replace("esp32:\n  board: esp32-c3-devkitm-1\n", "esp32:\n  board: esp32-c3-devkitm-1\n  partitions: p.csv\n  framework:\n    sdkconfig_options:\n      CONFIG_X: y\n").replace("  name: t\n", "  name: t\n  includes: [x.h]\n") + more;
    let fs = MemoryFs::default().with("/d/t.yaml", &yaml);
    let checked = compiler::check(&fs, Path::new("/d/t.yaml"), &LoadOptions::default()).unwrap();
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let lines = [
        ("includes", 3),
        ("partitions", 6),
        ("sdkconfig_options", 8),
        ("domain", 13),
        ("reboot_timeout", 14),
        ("power_save_mode", 15),
        ("allow_partition_access", 18),
        ("storage", 20),
        ("boot_is_good_on_shutdown", 21),
        ("baud_rate", 23),
        ("enable_ipv6", 25),
        ("services", 27),
    ];
    for (key, line) in lines {
        let d = checked
            .diagnostics
            .iter()
            .find(|d| d.message.starts_with(&format!("ferrota's firmware ignores `{key}`")))
            .unwrap_or_else(|| panic!("no warning for `{key}`: {:?}", checked.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>()));
        assert!(!d.is_error());
        let at = checked.sources.get(d.span.unwrap().file).line_col(d.span.unwrap().start as usize).line;
        assert_eq!(at, line, "`{key}`");
    }
}

/// The runtime's `SafeModeConfig::default()` (for devices started without a generated config)
/// is the schema's defaults, not a third opinion.
#[test]
fn the_runtimes_safe_mode_defaults_are_the_schemas() {
    let yaml = "esphome:\n  name: t\nhost:\nota:\n  - platform: esphome\n";
    let fs = MemoryFs::default().with("/d/t.yaml", yaml);
    let checked = compiler::check(&fs, Path::new("/d/t.yaml"), &LoadOptions::default()).unwrap();
    let schema: ferrota::components::safe_mode::SafeModeConfig = ferrota::config::read(checked.config.get("safe_mode").unwrap()).unwrap();
    let runtime = ferrota_ota::SafeModeConfig::default();
    assert_eq!(
        (runtime.enabled, runtime.num_attempts, runtime.boot_is_good_after_ms, runtime.reboot_timeout_ms),
        (!schema.disabled, schema.num_attempts, schema.boot_is_good_after, schema.reboot_timeout)
    );
}
