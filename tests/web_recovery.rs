//! The seed's way out when the OTA password is lost, end to end in a real browser: a host
//! device built with a password nobody remembers and the web server on; the password removed
//! from the config and a new image built; headless chromium opens the device's page, picks the
//! file and submits the form; the device comes back running the new build, and `ferrota upload`
//! then works without a password. Screenshots of the page before and after the upload go to
//! `target/web-recovery/<test>/`.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const CONFIG: &str = "esphome:
  name: recover-me
  friendly_name: Greenhouse pump
  on_boot:
    - logger.log: \"build {build} booted\"
host:
logger:
web_server:
  port: {web_port}
{auth}ota:
  - platform: esphome
    port: {ota_port}
{password}  - platform: web_server
    on_end:
      - logger.log: \"upload through the page done\"
";

struct Setup {
    dir: TempDir,
    config: PathBuf,
    ota_port: u16,
    web_port: u16,
    auth: Option<(&'static str, &'static str)>,
}

impl Setup {
    fn new(name: &str, auth: Option<(&'static str, &'static str)>) -> Setup {
        let dir = TempDir::new(name);
        let config = dir.path("device.yaml");
        Setup { dir, config, ota_port: free_port(), web_port: free_port(), auth }
    }

    /// Writes the config of build `build`, with or without the OTA password, and compiles it.
    fn build(&self, build: &str, password: Option<&str>) -> PathBuf {
        let auth = self.auth.map_or(String::new(), |(user, pass)| format!("  auth:\n    username: {user}\n    password: {pass}\n"));
        let password = password.map_or(String::new(), |p| format!("    password: \"{p}\"\n"));
        let yaml = CONFIG
            .replace("{build}", build)
            .replace("{web_port}", &self.web_port.to_string())
            .replace("{ota_port}", &self.ota_port.to_string())
            .replace("{auth}", &auth)
            .replace("{password}", &password);
        std::fs::write(&self.config, yaml).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_ferrota")).arg("compile").arg(&self.config).arg("--deny-warnings").output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "ferrota compile failed:\n{}{stdout}", String::from_utf8_lossy(&out.stderr));
        // A copy: the next compile overwrites the build folder's image.
        let image = self.dir.path(&format!("firmware-{build}.bin"));
        std::fs::copy(stdout.lines().last().unwrap(), &image).unwrap();
        image
    }

    /// `ferrota upload` of `image` to the device: (exit code, log).
    fn upload(&self, image: &Path, extra: &[&str]) -> (i32, String) {
        let mut args = vec!["upload", self.config.to_str().unwrap(), "--device", "127.0.0.1", "--file", image.to_str().unwrap()];
        args.extend_from_slice(extra);
        ferrota(&args)
    }
}

fn md5_of(path: &Path) -> String {
    ferrota_test_support::md5_hex(&std::fs::read(path).unwrap())
}

/// The browser's part: open the page, upload `image` through its form, wait for the device.
fn recover_in_browser(python: &Path, setup: &Setup, image: &Path, shots: &Path) -> serde_json::Value {
    std::fs::create_dir_all(shots).unwrap();
    let mut command = Command::new(python);
    command.arg("tests/browser/recover.py").arg(format!("http://127.0.0.1:{}/", setup.web_port)).arg(image).arg(shots);
    if let Some((user, pass)) = setup.auth {
        command.args([user, pass]);
    }
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the browser script failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn lost_password_recovery(test: &str, auth: Option<(&'static str, &'static str)>) {
    let Some(python) = ferrota_test_support::browser(test) else { return };
    let setup = Setup::new(test, auth);
    let forgotten = setup.build("one", Some("a password nobody remembers"));
    let device = Device::spawn(&forgotten, &[], &[], setup.ota_port);
    device.wait_for("listening on port", 2);
    device.wait_for("build one booted", 1);

    // The password is gone: remove it from the config and build again. The device still wants
    // the old one over the native protocol.
    let recovered = setup.build("two", None);
    let (code, log) = setup.upload(&recovered, &[]);
    assert_ne!(code, 0, "the device must refuse an upload without its password:\n{log}");
    assert!(device.count("build two booted") == 0);

    // The way out: the device's page, in a browser.
    let shots = target_dir().join("web-recovery").join(test);
    let seen = recover_in_browser(&python, &setup, &recovered, &shots);
    assert_eq!(seen["title"], "Greenhouse pump", "{seen}");
    assert_eq!(seen["before"], md5_of(&forgotten).as_str(), "the page names the running build: {seen}");
    assert_eq!(seen["ok"], true, "{seen}");
    assert_eq!(seen["after"], md5_of(&recovered).as_str(), "the page shows the new build once the device is back: {seen}");
    device.wait_for("build two booted", 1);
    device.wait_for("upload through the page done", 1);
    for shot in ["before.png", "after.png"] {
        let png = std::fs::read(shots.join(shot)).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{shot} is no screenshot");
    }

    // The new build has no OTA password: `ferrota upload` works again.
    device.wait_for("listening on port", 4);
    let next = setup.build("three", None);
    let (code, log) = setup.upload(&next, &[]);
    assert_eq!(code, 0, "{log}");
    device.wait_for("build three booted", 1);
}

#[test]
fn a_lost_password_is_recovered_through_the_page_in_chromium() {
    lost_password_recovery("web-recovery-plain", None);
}

#[test]
fn a_lost_password_is_recovered_through_the_page_with_basic_auth() {
    lost_password_recovery("web-recovery-auth", Some(("admin", "open sesame")));
}
