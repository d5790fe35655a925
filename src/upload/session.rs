//! Drives one [`Client`] over one TCP connection: connect, socket options, timeouts.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::errors::{Step, UploadError};
use super::image::Image;
use super::progress::Reporter;
use super::image::hex;
use super::protocol::{AuthMethod, Client, Compression, Event, NoDelta, PatchSource, Timeouts, ALL_FEATURES, HANDSHAKE_TIMEOUT};
use ferrota_ota::wire::client_feature;

/// The send buffer during the data phase (8 × 8192, as ESPHome): progress follows the device.
const SEND_BUFFER: usize = 8 * 8192;
/// The least a version 2 upload runs ahead of the device's acks: enough for a weak WiFi link's
/// round trip (1 MB/s × 40 ms) with room to spare.
const MIN_WINDOW: usize = 64 * 1024;
/// How long to look for an error byte the device sent just before a write failed.
const ERROR_PROBE: Duration = Duration::from_secs(1);

/// Connects to `addr` within the handshake timeout.
pub fn connect(addr: SocketAddr) -> Result<TcpStream, UploadError> {
    let stream = TcpStream::connect_timeout(&addr, HANDSHAKE_TIMEOUT).map_err(|e| UploadError::Network {
        step: Step::Connect,
        kind: e.kind(),
        message: format!("{addr}: {e}"),
        committed: false,
    })?;
    // Every write is a whole message or a whole 8 KiB block, so Nagle only adds latency.
    let setup = stream.set_nodelay(true).and_then(|()| SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER));
    setup.map_err(|e| UploadError::network(Step::Connect, &e, false))?;
    Ok(stream)
}

/// Uploads `image` over a connected stream; `Ok` once the device committed it and took our ack.
pub fn run(
    mut stream: TcpStream,
    image: Arc<Image>,
    password: Option<String>,
    timeouts: Timeouts,
    patches: Option<PatchSource>,
    reporter: &mut dyn Reporter,
) -> Result<(), UploadError> {
    let mut seed = [0u8; 32];
    // Without an OS random source a cnonce would be predictable: refuse rather than weaken auth.
    getrandom::fill(&mut seed).map_err(|e| UploadError::Network {
        step: Step::Connect,
        kind: io::ErrorKind::Other,
        message: format!("no random source for the auth cnonce: {e}"),
        committed: false,
    })?;
    // Compression only where it pays: random or already compressed data goes as it is.
    let features = if image.worth_compressing() { ALL_FEATURES } else { ALL_FEATURES & !(client_feature::COMPRESSION | client_feature::DEFLATE) };
    let mut client = Client::with_features(image, password, seed, features);
    if let Some(patches) = patches {
        client.set_patch_source(patches);
    }
    // Blocks in flight: as many as the socket's send buffer holds (the kernel's figure, which
    // counts its bookkeeping too), never fewer than MIN_WINDOW.
    let buffer = SockRef::from(&stream).send_buffer_size().unwrap_or(SEND_BUFFER);
    client.set_window(buffer.max(MIN_WINDOW));
    let mut timer = Timer::default();
    let mut input = vec![0u8; 4096];
    let mut timeout = None;
    loop {
        let wanted = client.socket_timeout(&timeouts);
        if timeout != Some(wanted) {
            timeout = Some(wanted);
            // Writes too: a device that stops reading blocks a write forever once the send
            // buffer is full, and version 1 never waits for a reply that would time out.
            if let Err(e) = stream.set_read_timeout(timeout).and_then(|()| stream.set_write_timeout(timeout)) {
                client.receive_failed(&e);
                continue;
            }
        }
        while !client.pending().is_empty() {
            match stream.write(client.pending()) {
                Ok(0) => client.send_failed(&io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => {
                    client.sent(n);
                    if client.version() == 1 && client.in_data_phase() {
                        poll_device(&mut stream, &mut client, &mut input);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if client.in_data_phase() {
                        probe_error_byte(&mut stream, &mut client);
                    }
                    client.send_failed(&e);
                }
            }
            report(&mut client, reporter, &mut timer);
        }
        report(&mut client, reporter, &mut timer);
        if let Some(outcome) = client.outcome() {
            return outcome.clone();
        }
        match stream.read(&mut input) {
            Ok(0) => client.handle_close(),
            Ok(n) => client.handle_input(&input[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => client.receive_failed(&e),
        }
    }
}

/// Version 1 streams without acks: look (without waiting) for an error byte between blocks,
/// so a device that gave up is noticed at once rather than when the socket breaks.
fn poll_device(stream: &mut TcpStream, client: &mut Client, buf: &mut [u8]) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    match stream.read(buf) {
        Ok(0) => client.handle_close(),
        Ok(n) => client.handle_input(&buf[..n]),
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
        Err(e) => client.receive_failed(&e),
    }
    if let Err(e) = stream.set_nonblocking(false) {
        client.receive_failed(&e);
    }
}

/// A write failed mid-data: the device may have sent an error byte before closing, which is
/// the real (non-retryable) cause; feed it to the client if it is there.
fn probe_error_byte(stream: &mut TcpStream, client: &mut Client) {
    let mut byte = [0u8; 1];
    if stream.set_read_timeout(Some(ERROR_PROBE)).is_ok() {
        if let Ok(1) = stream.read(&mut byte) {
            client.handle_input(&byte);
        }
    }
}

/// When the phases began, for the timing lines.
#[derive(Default)]
struct Timer {
    resumed_from: usize,
    data_started: Option<Instant>,
    data_sent: Option<Instant>,
}

fn report(client: &mut Client, reporter: &mut dyn Reporter, timer: &mut Timer) {
    while let Some(event) = client.poll_event() {
        match event {
            Event::Connected { version } => reporter.info(&format!("Connection established; device supports OTA version {version}")),
            Event::Compressed { mode, size } => {
                let how = if mode == Compression::Deflate { " (deflate)" } else { "" };
                reporter.info(&format!("Compressed to {size} bytes{how}"));
            }
            Event::Delta { size, whole } => {
                reporter.info(&format!("Sending a delta against the build the device runs: {size} bytes instead of {whole}"))
            }
            Event::NoDelta(NoDelta::UnknownBase(id)) => reporter.info(&format!(
                "The device runs a build ferrota has not kept (SHA-256 {}…): sending the whole image",
                &hex(&id.sha256)[..12]
            )),
            Event::NoDelta(NoDelta::NotSmaller { size }) => {
                reporter.info(&format!("A delta would take {size} bytes, no fewer than the whole image: sending the whole image"))
            }
            Event::Authenticated(method) => reporter.info(match method {
                None => "Handshake complete (no password)",
                Some(AuthMethod::Md5) => "Handshake complete (MD5 auth; the device is older than ESPHome 2025.10)",
                Some(AuthMethod::Sha256) => "Handshake complete (SHA-256 auth)",
            }),
            Event::Resumed { from, total } => {
                reporter.info(&format!("Resuming at byte {from} of {total}: the device kept what arrived before the connection dropped"));
                timer.resumed_from = from;
            }
            Event::DataStarted { total } => {
                timer.data_started = Some(Instant::now());
                reporter.progress_start(total as u64);
                if timer.resumed_from > 0 {
                    reporter.progress(timer.resumed_from as u64);
                }
            }
            Event::Progress { sent, total } => {
                reporter.progress(sent as u64);
                if sent == total {
                    timer.data_sent = Some(Instant::now());
                    reporter.progress_done();
                    let took = timer.data_started.map_or(0.0, |t| t.elapsed().as_secs_f64());
                    reporter.info(&format!("Upload took {took:.2} seconds, waiting for result..."));
                }
            }
            Event::Received => {}
            Event::Committed => {
                let took = timer.data_sent.map_or(0.0, |t| t.elapsed().as_secs_f64());
                reporter.info(&format!("Device verified and committed the image in {took:.2} seconds"));
            }
        }
    }
}
