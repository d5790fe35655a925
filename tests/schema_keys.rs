//! Every key the schema accepts for the components ferrota's firmware is made from is read by
//! that component's typed config (`src/components/`), whose structs deny any other key; and the
//! keys the firmware leaves out warn at their line, saying why. A key added to a schema fails
//! here until its type says what ferrota does with it.

use ferrota::compiler;
use ferrota::components::{ota, safe_mode, web_server, wifi};
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
    // One entry type reads the keys of every OTA platform.
    let mut ota_keys = keys(config_of("ota"));
    ota_keys.extend(keys(config_of("ota.esphome")));
    ota_keys.extend(keys(config_of("ota.web_server")));
    ota_keys.insert("platform");
    same("ota", ota_keys, field_names::<ota::OtaEntry>());
    same("safe_mode", keys(config_of("safe_mode")), field_names::<safe_mode::SafeMode>());
    same("wifi", keys(config_of("wifi")), field_names::<wifi::Wifi>());
    same("wifi: networks", keys(map_under(config_of("wifi"), "networks")), field_names::<wifi::Network>());
    same("web_server", keys(config_of("web_server")), field_names::<web_server::WebServer>());
    same("web_server: auth", keys(map_under(config_of("web_server"), "auth")), field_names::<web_server::Auth>());
}

#[test]
fn every_key_the_firmware_leaves_out_is_listed_with_a_reason() {
    for (what, list, fields) in [
        ("ota", ota::OTA_IGNORED, field_names::<ota::OtaEntry>()),
        ("safe_mode", safe_mode::IGNORED, field_names::<safe_mode::SafeMode>()),
        ("wifi", wifi::IGNORED, field_names::<wifi::Wifi>()),
        ("wifi: networks", wifi::NETWORK_IGNORED, field_names::<wifi::Network>()),
    ] {
        for (key, why) in list {
            assert!(fields.contains(key), "{what}: `{key}` is listed as left out but is no key of its type");
            assert!(why.len() > 20, "{what}: `{key}` needs a reason users can act on");
        }
    }
    for key in web_server::PAGE_KEYS {
        assert!(field_names::<web_server::WebServer>().contains(key), "web_server: `{key}`");
    }
}

#[test]
fn keys_the_firmware_leaves_out_warn_at_their_line() {
    let yaml = "esphome:\n  name: t\nesp32:\n  board: esp32-c3-devkitm-1\nwifi:\n  ssid: home\n  password: \"12345678\"\n  domain: .lan\n  reboot_timeout: 10min\n  power_save_mode: none\nota:\n  - platform: esphome\n    allow_partition_access: true\nsafe_mode:\n  storage: flash\n  boot_is_good_on_shutdown: false\n";
    let fs = MemoryFs::default().with("/d/t.yaml", yaml);
    let checked = compiler::check(&fs, Path::new("/d/t.yaml"), &LoadOptions::default()).unwrap();
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    for (key, line) in [("domain", 8), ("reboot_timeout", 9), ("power_save_mode", 10), ("allow_partition_access", 13), ("storage", 15), ("boot_is_good_on_shutdown", 16)] {
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
