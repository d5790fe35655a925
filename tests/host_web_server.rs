//! `web_server:` on the host device, end to end.
//!
//! The seed's way out when the OTA password is lost, in a real browser: a host device built
//! with a password nobody remembers and the web server on; the password removed from the config
//! and a new image built; headless chromium opens the device's page, picks the file and submits
//! the form; the device comes back running the new build, and `ferrota upload` then works
//! without a password. Screenshots of the page before and after the upload go to
//! `target/<profile>/web-recovery/<test>/`.
//!
//! Without a browser: `ferrota upload --ota-platform web_server` with and without Basic auth,
//! and hostile requests (not an image, a wrong boundary, a truncated body, an oversized upload,
//! two uploads at once), each answered clearly while the running build stays.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// `{name}` differs per test: the shared cargo target folder holds one binary per device name.
const CONFIG: &str = "esphome:
  name: {name}
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
    name: String,
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
        Setup { name: name.to_string(), dir, config, ota_port: free_port(), web_port: free_port(), auth }
    }

    /// Writes the config of build `build`, with or without the OTA password, and compiles it.
    fn build(&self, build: &str, password: Option<&str>) -> PathBuf {
        let auth = self.auth.map_or(String::new(), |(user, pass)| format!("  auth:\n    username: {user}\n    password: {pass}\n"));
        let password = password.map_or(String::new(), |p| format!("    password: \"{p}\"\n"));
        let yaml = CONFIG
            .replace("{name}", &self.name)
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

/// Starts the firmware at `image` and waits until both its ports listen.
fn start(setup: &Setup, image: &Path) -> Device {
    let device = Device::spawn(image, &[], &[], setup.ota_port);
    device.wait_for("listening on port", 2);
    device
}

#[test]
fn ferrota_upload_through_the_web_server_with_and_without_basic_auth() {
    for (name, auth) in [("web-upload-plain", None), ("web-upload-auth", Some(("admin", "open sesame")))] {
        let setup = Setup::new(name, auth);
        let one = setup.build("one", Some("the OTA password"));
        let device = start(&setup, &one);
        let two = setup.build("two", Some("the OTA password"));
        if auth.is_some() {
            let (code, log) = setup.upload(&two, &["--ota-platform", "web_server", "--password", "not it"]);
            assert_ne!(code, 0, "{log}");
            assert!(log.contains("authentication failed (HTTP 401)"), "{log}");
            assert_eq!(device.count("build two booted"), 0);
        }
        // The config's `web_server: port` and `auth:`; the OTA password plays no part.
        let (code, log) = setup.upload(&two, &["--ota-platform", "web_server"]);
        assert_eq!(code, 0, "{name}: {log}");
        device.wait_for("build two booted", 1);
        device.wait_for("upload through the page done", 1);
    }
}

/// A multipart upload of `content` as a browser sends it, with `boundary` in the body and
/// `declared` in the head; `length` overrides Content-Length.
fn upload_request(declared: &str, boundary: &str, content: &[u8], length: Option<usize>) -> Vec<u8> {
    let body = [
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"update\"; filename=\"firmware.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes(),
        content.to_vec(),
        format!("\r\n--{boundary}--\r\n").into_bytes(),
    ]
    .concat();
    let head = format!(
        "POST /update HTTP/1.1\r\nHost: device\r\nContent-Type: multipart/form-data; boundary={declared}\r\nContent-Length: {}\r\n\r\n",
        length.unwrap_or(body.len())
    );
    [head.into_bytes(), body].concat()
}

/// Reads one HTTP reply (the head, then `Content-Length` bytes of body): (status line, body).
fn read_reply(stream: &mut TcpStream) -> (String, String) {
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_string();
            let length: usize = head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).and_then(|n| n.parse().ok()).unwrap_or(0);
            if bytes.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&bytes[end + 4..end + 4 + length]).to_string();
                return (head.lines().next().unwrap_or_default().to_string(), body);
            }
        }
        let n = stream.read(&mut buf).unwrap_or_else(|e| panic!("no reply: {e}; so far {:?}", String::from_utf8_lossy(&bytes)));
        assert!(n > 0, "the device closed without a whole reply: {:?}", String::from_utf8_lossy(&bytes));
        bytes.extend_from_slice(&buf[..n]);
    }
}

fn send(setup: &Setup, request: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", setup.web_port)).unwrap();
    stream.write_all(request).unwrap();
    stream
}

/// The MD5 the device's page names.
fn running_md5(setup: &Setup) -> String {
    let mut stream = send(setup, b"GET / HTTP/1.1\r\nHost: device\r\n\r\n");
    let (status, page) = read_reply(&mut stream);
    assert!(status.contains("200"), "{status}");
    page.split("id=\"md5\">").nth(1).and_then(|rest| rest.split('<').next()).unwrap_or_default().to_string()
}

#[test]
fn hostile_requests_get_a_clear_reply_and_the_build_stays() {
    let setup = Setup::new("web-hostile", None);
    let one = setup.build("one", None);
    let device = start(&setup, &one);
    let failed = |request: Vec<u8>, why: &str| {
        let (status, body) = read_reply(&mut send(&setup, &request));
        assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", format!("Update Failed!\n{why}").as_str()));
    };
    failed(upload_request("B", "B", b"#!/bin/sh\necho not a firmware\n", None), "the file is not a firmware image for this device, or it is incomplete");
    failed(upload_request("B", "C", &std::fs::read(&one).unwrap(), None), "the body has no part with the boundary its Content-Type names");

    // Truncated: the browser stops sending (it closes its side) a third of the way in.
    let whole = upload_request("B", "B", &std::fs::read(&one).unwrap(), None);
    let mut stream = send(&setup, &whole[..whole.len() / 3]);
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let (_, body) = read_reply(&mut stream);
    assert_eq!(body, "Update Failed!\nthe upload ended before the whole file arrived");

    // Oversized: the reply comes before the body does.
    let huge = upload_request("B", "B", b"", Some(300 * 1024 * 1024));
    let head_and_part = &huge[..huge.len() - b"\r\n--B--\r\n".len()];
    let (_, body) = read_reply(&mut send(&setup, head_and_part));
    assert_eq!(body, "Update Failed!\nthe image does not fit this device's update slot");

    // Through all of it the first build kept running.
    assert_eq!(running_md5(&setup), md5_of(&one));
    assert_eq!(device.count("build one booted"), 1, "{}", device.output());

    // Two browsers at once: the second is told to come back; the first one's update lands.
    let two = setup.build("two", None);
    let first = upload_request("B", "B", &std::fs::read(&two).unwrap(), None);
    let mut a = send(&setup, &first[..first.len() / 2]);
    std::thread::sleep(Duration::from_millis(300));
    let (status, body) = read_reply(&mut send(&setup, &upload_request("B", "B", &std::fs::read(&one).unwrap(), None)));
    assert!(status.starts_with("HTTP/1.1 503"), "{status} {body}");
    assert!(body.starts_with("Busy: another client is updating this device"), "{body}");
    a.write_all(&first[first.len() / 2..]).unwrap();
    assert_eq!(read_reply(&mut a).1, "Update Successful!");
    device.wait_for("build two booted", 1);
    device.wait_for("listening on port", 4);
    assert_eq!(running_md5(&setup), md5_of(&two));
}
