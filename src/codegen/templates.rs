//! The templates of each target, embedded in the binary (`include_str!`), so an installed
//! `ferrota` needs no template folder and generation reads no files.

use super::target::Family;
use minijinja::Environment;

/// One generated file: the template and the path it renders to in the project.
#[derive(Debug, Clone, Copy)]
pub struct File {
    pub template: &'static str,
    pub output: &'static str,
    source: &'static str,
}

macro_rules! file {
    ($target:literal, $name:literal, $output:literal) => {
        File {
            template: concat!($target, "/", $name),
            output: $output,
            source: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/", $target, "/", $name)),
        }
    };
}

/// Templates that others include: they render to no file of their own.
const PARTIALS: &[(&str, &str)] = &[
    ("common/listener.rs.j2", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/common/listener.rs.j2"))),
    ("common/components.rs.j2", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/common/components.rs.j2"))),
];

const HOST: &[File] = &[
    file!("host", "Cargo.toml.j2", "Cargo.toml"),
    file!("host", "main.rs.j2", "src/main.rs"),
    file!("host", "firmware.rs.j2", "src/firmware.rs"),
    file!("common", "automations.rs.j2", "src/automations.rs"),
];

/// Every ESP32 with WiFi: the chip is a cargo feature and the target triple.
const ESP32: &[File] = &[
    file!("esp32", "Cargo.toml.j2", "Cargo.toml"),
    file!("esp32", "build.rs.j2", "build.rs"),
    file!("esp32", "partitions.csv.j2", "partitions.csv"),
    file!("esp32", "main.rs.j2", "src/main.rs"),
    file!("common", "firmware.rs.j2", "src/firmware.rs"),
    file!("common", "automations.rs.j2", "src/automations.rs"),
];

/// The Raspberry Pi Pico W: the application and, in `bootloader/`, its own embassy-boot
/// bootloader project.
const RP2040: &[File] = &[
    file!("rp2040", "Cargo.toml.j2", "Cargo.toml"),
    file!("rp2040", "build.rs.j2", "build.rs"),
    file!("rp2040", "memory.x.j2", "memory.x"),
    file!("rp2040", "main.rs.j2", "src/main.rs"),
    file!("common", "firmware.rs.j2", "src/firmware.rs"),
    file!("common", "automations.rs.j2", "src/automations.rs"),
    file!("rp2040", "bootloader/Cargo.toml.j2", "bootloader/Cargo.toml"),
    file!("rp2040", "bootloader/build.rs.j2", "bootloader/build.rs"),
    file!("rp2040", "bootloader/memory.x.j2", "bootloader/memory.x"),
    file!("rp2040", "bootloader/main.rs.j2", "bootloader/src/main.rs"),
];

/// The files of `family`'s template folder.
pub fn files(family: Family) -> &'static [File] {
    match family {
        Family::Host => HOST,
        Family::Esp32 => ESP32,
        Family::Rp2040 => RP2040,
    }
}

/// The environment with the filters and `family`'s templates.
pub fn environment(family: Family) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = super::render::environment();
    for &(name, source) in PARTIALS {
        env.add_template(name, source)?;
    }
    for file in files(family) {
        env.add_template(file.template, file.source)?;
    }
    Ok(env)
}
