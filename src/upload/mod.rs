//! `ferrota upload`: the client half of ESPHome's OTA (spec §1 native protocol, §8 web_server).
//!
//! [`protocol`] is the sans-IO client, [`session`] runs it over TCP, [`upload`] adds address
//! resolution and the retry policy; [`web_server`] is the HTTP alternative and [`fleet`] runs
//! many uploads at once.

pub mod command;
pub mod delta;
pub mod errors;
pub mod fleet;
pub mod image;
pub mod progress;
pub mod protocol;
pub mod resolve;
pub mod session;
pub mod store;
pub mod target;
pub mod web_server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use errors::UploadError;
use image::Image;
use store::ImageStore;
use progress::Reporter;
use protocol::Timeouts;

/// Retries after network failures (never after a device error byte, never once the device had
/// the whole image): every address once, plus `extra_attempts` shared across them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub extra_attempts: usize,
    /// Wait before revisiting an address, or after an attempt that reached the device, so a
    /// flaky link recovers and the device drops a half-open session.
    pub delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { extra_attempts: 2, delay: Duration::from_secs(2) }
    }
}

/// One device to update over the native protocol.
#[derive(Clone)]
pub struct Request {
    /// Names or IPs of the device, tried in order.
    pub hosts: Vec<String>,
    pub port: u16,
    pub password: Option<String>,
    pub image: Arc<Image>,
    pub retry: RetryPolicy,
    /// Where the config's images are kept: the image is kept there once a device takes
    /// patches, and a device running one of them gets a patch (ferrota's delta updates).
    /// `None`: always the whole image.
    pub store: Option<ImageStore>,
}

/// Uploads to the first address that works; returns that address.
pub fn upload(request: &Request, reporter: &mut dyn Reporter) -> Result<SocketAddr, UploadError> {
    let addrs = resolve::resolve_all(&request.hosts, request.port)?;
    let patches = request.store.as_ref().map(|store| {
        let (store, image) = (store.clone(), request.image.clone());
        let kept = std::sync::Once::new();
        let source: protocol::PatchSource = Arc::new(move |base| {
            // Kept once the device takes patches: then it is the base of its next update (for
            // an ESPHome device it would only cost a hash and a copy).
            kept.call_once(|| {
                if let Err(e) = store.keep(&image) {
                    eprintln!("WARNING cannot keep the image in {} for later delta updates: {e}", store.dir().display());
                }
            });
            image.patch_from(base, || store.find(base))
        });
        source
    });
    let total = addrs.len() + request.retry.extra_attempts;
    let mut reached_device = false;
    let mut last = None;
    for attempt in 0..total {
        let addr = addrs[attempt % addrs.len()];
        // Moving on to a new address is immediate; a retry waits.
        if reached_device || attempt >= addrs.len() {
            reporter.info(&format!(
                "Retrying in {:.1} seconds (attempt {} of {total})...",
                request.retry.delay.as_secs_f64(),
                attempt + 1
            ));
            std::thread::sleep(request.retry.delay);
        }
        reached_device = false;
        reporter.info(&format!("Connecting to {addr}..."));
        let result = session::connect(addr).and_then(|stream| {
            reached_device = true;
            reporter.info(&format!("Connected to {addr}"));
            session::run(stream, request.image.clone(), request.password.clone(), Timeouts::default(), patches.clone(), reporter)
        });
        match result {
            Ok(()) => {
                reporter.info("OTA successful");
                return Ok(addr);
            }
            Err(e) if e.is_retryable() => {
                reporter.warn(&e.to_string());
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    let last = last.unwrap_or(UploadError::Resolve { host: request.hosts.join(", "), message: "no address".into() });
    Err(UploadError::AttemptsExhausted { attempts: total, last: Box::new(last) })
}
