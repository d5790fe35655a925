//! `--ota-platform web_server`: a multipart `POST /update` (spec §8), as ESPHome's
//! `web_server_ota.py` sends it.
//!
//! Hand-written HTTP/1.1 over `std::net`: one request with a known length and a
//! `Connection: close` reply is all the device speaks, so an HTTP client crate (and its TLS and
//! async baggage) would buy nothing.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::errors::{Step, UploadError};
use super::image::{hex, Image};
use super::progress::Reporter;
use super::resolve;

/// ESPHome's client: 20 s to connect, 120 s for the reply (the device flashes before answering).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// A reply longer than this is not from an ESPHome device.
const MAX_REPLY: u64 = 64 * 1024;
const FORM_FIELD: &str = "update";

/// One web_server upload.
#[derive(Clone)]
pub struct Request {
    pub hosts: Vec<String>,
    pub port: u16,
    /// HTTP Basic auth (`web_server: auth:`); sent only when both are set, like ESPHome.
    pub username: Option<String>,
    pub password: Option<String>,
    pub image: Arc<Image>,
    /// The file name in the form data.
    pub filename: String,
}

/// Uploads to the first address that answers; returns it.
pub fn upload(request: &Request, reporter: &mut dyn Reporter) -> Result<SocketAddr, UploadError> {
    let addrs = resolve::resolve_all(&request.hosts, request.port)?;
    let mut boundary_seed = [0u8; 16];
    // The boundary only has to be absent from the image; a fixed fallback is fine.
    let _ = getrandom::fill(&mut boundary_seed);
    let boundary = format!("ferrotaOTA{}", hex(&boundary_seed));
    let mut last = None;
    for addr in &addrs {
        reporter.info(&format!("Connecting to {addr} (web_server)..."));
        match post(*addr, request, &boundary, reporter) {
            Ok(body) => {
                reporter.info(&format!("Device response: {}", body.trim()));
                reporter.info("OTA successful");
                return Ok(*addr);
            }
            Err(e) if !e.is_retryable() => return Err(e),
            Err(e) => {
                reporter.warn(&e.to_string());
                last = Some(e);
            }
        }
    }
    let last = last.unwrap_or(UploadError::Resolve { host: request.hosts.join(", "), message: "no address".into() });
    Err(UploadError::AttemptsExhausted { attempts: addrs.len(), last: Box::new(last) })
}

/// The request head and the multipart envelope around the image.
pub fn request_parts(request: &Request, host: &str, boundary: &str) -> (String, String, String) {
    let prefix = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{FORM_FIELD}\"; filename=\"{}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n",
        request.filename.replace(['"', '\r', '\n'], "_")
    );
    let suffix = format!("\r\n--{boundary}--\r\n");
    let length = prefix.len() + request.image.bytes().len() + suffix.len();
    let mut head = format!(
        "POST /update HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ferrota/{}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {length}\r\nConnection: close\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let (Some(user), Some(password)) = (&request.username, &request.password) {
        if !user.is_empty() && !password.is_empty() {
            head.push_str(&format!("Authorization: Basic {}\r\n", base64(format!("{user}:{password}").as_bytes())));
        }
    }
    head.push_str("\r\n");
    (head, prefix, suffix)
}

fn post(addr: SocketAddr, request: &Request, boundary: &str, reporter: &mut dyn Reporter) -> Result<String, UploadError> {
    let net = |step: Step| move |e: io::Error| UploadError::network(step, &e, false);
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|e| UploadError::Network {
        step: Step::Connect,
        kind: e.kind(),
        message: format!("{addr}: {e}"),
        committed: false,
    })?;
    stream.set_read_timeout(Some(READ_TIMEOUT)).map_err(net(Step::Connect))?;
    stream.set_write_timeout(Some(READ_TIMEOUT)).map_err(net(Step::Connect))?;
    let host = if request.port == 80 { addr.ip().to_string() } else { addr.to_string() };
    let (head, prefix, suffix) = request_parts(request, &host, boundary);
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(prefix.as_bytes())).map_err(net(Step::Data))?;
    let image = request.image.bytes();
    reporter.progress_start(image.len() as u64);
    let mut sent = 0;
    for block in image.chunks(8192) {
        if let Err(e) = stream.write_all(block) {
            reporter.progress_done();
            // The device may have answered (401) before reading the body.
            return match read_reply(&mut stream) {
                Ok(reply) => check_reply(reply),
                Err(_) => Err(UploadError::network(Step::Data, &e, false)),
            };
        }
        sent += block.len();
        reporter.progress(sent as u64);
    }
    reporter.progress_done();
    stream.write_all(suffix.as_bytes()).map_err(net(Step::Data))?;
    let reply = read_reply(&mut stream).map_err(|e| UploadError::network(Step::End, &e, true))?;
    check_reply(reply)
}

/// An HTTP reply: status code and body.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

fn read_reply(stream: &mut TcpStream) -> io::Result<Reply> {
    let mut raw = Vec::new();
    stream.take(MAX_REPLY).read_to_end(&mut raw)?;
    parse_reply(&raw).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP reply"))
}

/// Parses `HTTP/1.x CODE …`, headers, blank line, body (the device closes after the body).
pub fn parse_reply(raw: &[u8]) -> Option<Reply> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let body = String::from_utf8_lossy(&raw[split + 4..]).into_owned();
    Some(Reply { status, body })
}

/// Success only on 200 with "Update Successful" in the body (the device answers 200 either way).
pub fn check_reply(reply: Reply) -> Result<String, UploadError> {
    let body = reply.body.trim().to_owned();
    match reply.status {
        200 if body.contains("Update Successful") => Ok(body),
        200 => Err(UploadError::WebServer(match body.split_once('\n') {
            // ferrota's devices say why on the second line.
            Some((verdict, why)) => format!("the device reported an OTA failure: {verdict} ({})", why.trim()),
            None if body.is_empty() => "the device reported an OTA failure: no response body; see the device logs".into(),
            None => format!("the device reported an OTA failure: {body}; see the device logs"),
        })),
        503 => Err(UploadError::WebServer(format!("the device is busy with another update (HTTP 503): {}", body.trim()))),
        401 => Err(UploadError::WebServer(
            "authentication failed (HTTP 401): check `web_server: auth: username/password` (or --username/--password)".into(),
        )),
        404 => Err(UploadError::WebServer(
            "the device has no /update endpoint (HTTP 404): add `ota: - platform: web_server` to its config".into(),
        )),
        status => Err(UploadError::WebServer(format!(
            "unexpected HTTP {status} response from the device: {}",
            if body.is_empty() { "no response body" } else { &body }
        ))),
    }
}

/// Standard base64 with padding (RFC 4648), for the Basic auth header.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        for (plain, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy"), ("admin:hunter2", "YWRtaW46aHVudGVyMg==")] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn replies() {
        let ok = parse_reply(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nUpdate Successful!").unwrap();
        assert_eq!(check_reply(ok), Ok("Update Successful!".into()));
        let failed = parse_reply(b"HTTP/1.1 200 OK\r\n\r\nUpdate Failed!").unwrap();
        assert!(check_reply(failed).unwrap_err().to_string().contains("Update Failed!"));
        let auth = parse_reply(b"HTTP/1.1 401 Unauthorized\r\n\r\n").unwrap();
        assert!(check_reply(auth).unwrap_err().to_string().contains("HTTP 401"));
        assert_eq!(parse_reply(b"garbage"), None);
        assert_eq!(parse_reply(b"SSH-2.0\r\n\r\n"), None);
    }
}
