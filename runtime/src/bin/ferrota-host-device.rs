//! A host device started from flags, until the code generator writes real `main`s.
//!
//! ```text
//! ferrota-host-device [--port 8082] [--password PW] [--version 1|2] [--name NAME]
//!                     [--state-dir DIR] [--no-deflate] [--num-attempts N]
//!                     [--boot-is-good-after DUR] [--reboot-timeout DUR]
//!                     [--on-boot-set-password PW] [--boot-crash-file PATH]
//! ```
//! DUR is a number with `ms`, `s` or `min` (plain numbers are milliseconds). The first line
//! the device prints names the running image by its MD5, so tests can see an update land.
//! `--boot-crash-file` is a boot automation that aborts while PATH exists (safe mode skips
//! it); an image whose last bytes contain `FERROTA-TEST-CRASH-ON-BOOT` aborts on every boot
//! (a broken build, for the A/B fall-back test).

use std::path::PathBuf;
use std::process::ExitCode;

use ferrota_ota::host::{Callbacks, HostPlatform};
use ferrota_ota::{OtaComponent, OtaConfig, ProtocolVersion, SafeModeConfig};

const CRASH_TAG: &[u8] = b"FERROTA-TEST-CRASH-ON-BOOT";

struct Flags {
    name: String,
    state_dir: Option<PathBuf>,
    ota: OtaConfig,
    password: String,
    safe_mode: SafeModeConfig,
    on_boot_password: Option<String>,
    boot_crash_file: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<u64, String> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix("min") {
        (n, 60_000)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else {
        (s, 1)
    };
    num.trim().parse::<u64>().map(|n| n * scale).map_err(|_| format!("invalid duration '{s}'"))
}

fn parse_flags() -> Result<Flags, String> {
    let mut flags = Flags {
        name: "ferrota-host".into(),
        state_dir: None,
        ota: OtaConfig::new(8082),
        password: String::new(),
        safe_mode: SafeModeConfig::default(),
        on_boot_password: None,
        boot_crash_file: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--no-deflate" {
            flags.ota.deflate = false;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u32>().map_err(|_| format!("{flag}: invalid number '{v}'"));
        match flag.as_str() {
            "--port" => flags.ota.port = value.parse().map_err(|_| format!("--port: invalid port '{value}'"))?,
            "--password" => flags.password = value,
            "--version" => {
                flags.ota.version = match value.as_str() {
                    "1" => ProtocolVersion::V1,
                    "2" => ProtocolVersion::V2,
                    _ => return Err(format!("Unknown value '{value}', valid options are '1', '2'.")),
                }
            }
            "--name" => flags.name = value,
            "--state-dir" => flags.state_dir = Some(value.into()),
            "--num-attempts" => flags.safe_mode.num_attempts = number(&value)?,
            "--boot-is-good-after" => flags.safe_mode.boot_is_good_after_ms = parse_duration(&value)?,
            "--reboot-timeout" => flags.safe_mode.reboot_timeout_ms = parse_duration(&value)?,
            "--on-boot-set-password" => flags.on_boot_password = Some(value),
            "--boot-crash-file" => flags.boot_crash_file = Some(value.into()),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(flags)
}

/// MD5 of the running executable and whether it carries the crash tag.
/// The running image's MD5 (as the device's page names it) and whether it is crash-tagged.
fn identify_image(platform: &HostPlatform) -> (String, bool) {
    let Ok(bytes) = std::env::current_exe().and_then(std::fs::read) else {
        return ("unknown".into(), false);
    };
    let tail = &bytes[bytes.len().saturating_sub(256)..];
    (platform.image_md5(), tail.windows(CRASH_TAG.len()).any(|w| w == CRASH_TAG))
}

fn main() -> ExitCode {
    let flags = match parse_flags() {
        Ok(flags) => flags,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let state_dir = flags.state_dir.clone().unwrap_or_else(|| {
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from(&flags.name));
        exe.with_extension("state")
    });
    let platform = match HostPlatform::start(&state_dir) {
        Ok(platform) => platform,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (image, crash_tagged) = identify_image(&platform);
    println!("ferrota-host-device name={} image={image} pid={}", flags.name, std::process::id());

    let mut device = platform.device(flags.safe_mode);
    if device.safe_mode().is_active() {
        println!("[safe_mode] SAFE MODE IS ACTIVE");
    } else {
        println!("[safe_mode] there have been {} suspected unsuccessful boot attempts", device.safe_mode().failed_boots());
    }

    let ota = OtaComponent::new(flags.ota);
    if let Err(e) = ota.try_set_auth_password(&flags.password) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let mut automations = Callbacks::default();
    automations.on_error(|code| println!("[automation] on_error x=0x{code:02X}"));
    automations.on_end(|| println!("[automation] on_end"));

    if crash_tagged {
        println!("[host] this build is tagged to crash on boot");
        std::process::abort();
    }
    // Boot automations: skipped in safe mode, so a crashing one cannot lock the device out.
    if !device.safe_mode().is_active() {
        if let Some(path) = &flags.boot_crash_file {
            if path.exists() {
                println!("[automation] on_boot crashes ({} exists)", path.display());
                std::process::abort();
            }
        }
        if let Some(password) = &flags.on_boot_password {
            if let Err(e) = ota.try_set_auth_password(password) {
                eprintln!("[automation] on_boot: {e}");
            }
        }
    }

    let error = platform.run(Some((&ota, &mut automations)), &mut device, None);
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
