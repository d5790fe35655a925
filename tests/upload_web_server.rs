//! `--ota-platform web_server`: the exact multipart request, Basic auth from `web_server: auth:`,
//! and success only on a body with "Update Successful", against a scripted HTTP device.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::sync::Arc;

use common::*;
use ferrota::upload::image::Image;
use ferrota::upload::progress::Collect;
use ferrota::upload::web_server::{self, Request};

/// A one-shot HTTP device: reads one request (head + Content-Length body), answers `reply`,
/// closes, and hands the raw request to the test.
fn http_device(reply: &'static str) -> (u16, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            let n = s.read(&mut buf).unwrap();
            raw.extend_from_slice(&buf[..n]);
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                if raw.len() >= end + 4 + len || n == 0 {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        s.write_all(reply.as_bytes()).unwrap();
        tx.send(raw).unwrap();
    });
    (port, rx)
}

const OK: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 18\r\n\r\nUpdate Successful!";

fn request(port: u16, auth: Option<(&str, &str)>, image: &[u8]) -> Request {
    Request {
        hosts: vec!["127.0.0.1".into()],
        port,
        username: auth.map(|a| a.0.to_string()),
        password: auth.map(|a| a.1.to_string()),
        image: Arc::new(Image::new(image.to_vec())),
        filename: "firmware.bin".into(),
    }
}

#[test]
fn the_exact_multipart_request_with_basic_auth() {
    let (port, rx) = http_device(OK);
    let image: Vec<u8> = (0..30_000u32).map(|i| (i % 256) as u8).collect();
    let mut log = Collect::default();
    web_server::upload(&request(port, Some(("admin", "hunter2")), &image), &mut log).unwrap();
    assert!(log.lines.iter().any(|l| l == "Device response: Update Successful!"), "{:?}", log.lines);
    let raw = rx.recv().unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..end + 4].to_vec()).unwrap();
    let body = &raw[end + 4..];
    let boundary = head.split("boundary=").nth(1).unwrap().split("\r\n").next().unwrap();
    assert!(boundary.starts_with("ferrotaOTA") && boundary.len() == 42, "{boundary}");
    let expected_body = [
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"update\"; filename=\"firmware.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes(),
        image.clone(),
        format!("\r\n--{boundary}--\r\n").into_bytes(),
    ]
    .concat();
    assert!(body == expected_body, "multipart body differs");
    let expected_head = format!(
        "POST /update HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: ferrota/{}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\nConnection: close\r\nAuthorization: Basic YWRtaW46aHVudGVyMg==\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        expected_body.len()
    );
    assert_eq!(head, expected_head);
}

#[test]
fn no_auth_header_without_credentials() {
    let (port, rx) = http_device(OK);
    web_server::upload(&request(port, None, b"image"), &mut Collect::default()).unwrap();
    let raw = String::from_utf8_lossy(&rx.recv().unwrap()).to_string();
    assert!(!raw.contains("Authorization"), "{raw}");
}

#[test]
fn a_200_without_update_successful_is_a_failure() {
    let (port, _rx) = http_device("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nUpdate Failed!");
    let err = web_server::upload(&request(port, None, b"image"), &mut Collect::default()).unwrap_err();
    assert!(err.to_string().contains("the device reported an OTA failure: Update Failed!"), "{err}");
}

#[test]
fn http_401_names_the_auth_settings() {
    let (port, _rx) = http_device("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n");
    let err = web_server::upload(&request(port, Some(("admin", "wrong")), b"image"), &mut Collect::default()).unwrap_err();
    assert!(err.to_string().contains("HTTP 401") && err.to_string().contains("web_server: auth:"), "{err}");
}

#[test]
fn the_cli_takes_port_and_auth_from_the_config() {
    let (port, rx) = http_device(OK);
    let dir = TempDir::new("web-cli");
    let config = dir.path("ws.yaml");
    std::fs::write(
        &config,
        format!(
            "esphome:\n  name: ws\nesp32:\n  board: esp32dev\nwifi:\n  ssid: x\n  password: yyyyyyyy\n\
             web_server:\n  port: {port}\n  auth:\n    username: admin\n    password: !secret web\n\
             ota:\n  - platform: web_server\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path("secrets.yaml"), "web: hunter2\n").unwrap();
    std::fs::write(dir.path("fw.bin"), b"firmware").unwrap();
    let (code, log) = ferrota(&[
        "upload",
        config.to_str().unwrap(),
        "--ota-platform",
        "web_server",
        "--device",
        "127.0.0.1",
        "--file",
        dir.path("fw.bin").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("OTA successful"), "{log}");
    let raw = String::from_utf8_lossy(&rx.recv().unwrap()).to_string();
    assert!(raw.contains("Authorization: Basic YWRtaW46aHVudGVyMg==\r\n"), "{raw}");
    assert!(raw.contains("filename=\"fw.bin\""), "{raw}");
}


/// How a connection to [`runtime_device`] ended, and the image it committed.
type DeviceResult = (Option<ferrota_ota::web_update::Outcome>, Option<Vec<u8>>);

/// ferrota-ota's `/update` handler (what the chip firmware runs) on a loopback port: serves one
/// connection, then hands back the outcome and the committed image.
fn runtime_device() -> (u16, std::thread::JoinHandle<DeviceResult>) {
    use ferrota_ota::web_update::{Credentials, WebUpdate};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        let mut flash = ferrota_test_support::MemFlash::default();
        let mut w = WebUpdate::new(0, &mut flash, Some(Credentials { username: "admin", password: "hunter2" }), ferrota_test_support::INFO);
        let (mut input, mut output) = ([0u8; 1024], [0u8; 256]);
        let outcome = loop {
            while w.has_transmit() {
                let n = w.poll_transmit(&mut output);
                if s.write_all(&output[..n]).is_err() {
                    w.handle_close();
                }
            }
            if let Some(outcome) = w.outcome() {
                break outcome;
            }
            match s.read(&mut input) {
                Ok(0) | Err(_) => w.handle_close(),
                Ok(n) => w.handle_input(0, &input[..n]),
            }
        };
        drop(s);
        (Some(outcome), flash.committed)
    });
    (port, handle)
}

#[test]
fn our_client_against_the_firmwares_update_handler() {
    use ferrota_ota::web_update::Outcome;
    let image: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let (port, device) = runtime_device();
    let mut log = Collect::default();
    web_server::upload(&request(port, Some(("admin", "hunter2")), &image), &mut log).unwrap();
    assert!(log.lines.iter().any(|l| l == "Device response: Update Successful!"), "{:?}", log.lines);
    let (outcome, committed) = device.join().unwrap();
    assert_eq!(outcome, Some(Outcome::Updated));
    assert!(committed.as_deref() == Some(&image[..]), "the committed image differs");

    // A wrong password: a clear 401 error, and nothing is flashed.
    let (port, device) = runtime_device();
    let err = web_server::upload(&request(port, Some(("admin", "wrong")), &image), &mut Collect::default()).unwrap_err();
    assert!(err.to_string().contains("HTTP 401") && err.to_string().contains("web_server: auth:"), "{err}");
    let (outcome, committed) = device.join().unwrap();
    assert_eq!(outcome, Some(Outcome::Rejected(401)));
    assert_eq!(committed, None);
}
