//! Our client against our device's sans-IO core (crate `ferrota-ota`), wired together in
//! memory with reads cut at odd sizes: every version, auth and compression combination must
//! end with the exact image committed on the device.

use std::sync::Arc;

use ferrota::upload::errors::{Step, UploadError};
use ferrota::upload::image::Image;
use ferrota::upload::protocol::{Client, Compression, Event, ALL_FEATURES};
use ferrota_ota::protocol::Parked;
use ferrota_ota::{OtaComponent, OtaConfig, ProtocolVersion, Rng, Session};
use ferrota_test_support::MemFlash;


struct CountingRng(u8);
impl Rng for CountingRng {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(37);
            *b = self.0;
        }
    }
}

fn sample(len: usize) -> Vec<u8> {
    ferrota_test_support::sample(len, 99)
}

/// Runs one upload; returns the client outcome and the device's committed image.
fn run(
    image: &[u8],
    device_password: &str,
    client_password: Option<&str>,
    version: ProtocolVersion,
    deflate: bool,
) -> (Result<(), UploadError>, Compression, Option<Vec<u8>>) {
    let ota = OtaComponent::new(OtaConfig { port: 8082, version, deflate });
    ota.try_set_auth_password(device_password).unwrap();
    let mut device: Session<MemFlash> = ota.start_session(MemFlash::default(), &mut CountingRng(1), 0);
    let mut client = Client::new(Arc::new(Image::new(image.to_vec())), client_password.map(String::from), [0x5A; 32]);
    let mut buf = [0u8; 333];
    let mut cut = 1usize;
    for _ in 0..1_000_000 {
        // Client to device, in pieces of varying size.
        let pending = client.pending();
        if !pending.is_empty() {
            cut = cut % 9000 + 7;
            let n = pending.len().min(cut);
            device.handle_input(1, &pending[..n]);
            client.sent(n);
        }
        // Device to client.
        loop {
            let n = device.poll_transmit(&mut buf);
            if n == 0 {
                break;
            }
            client.handle_input(&buf[..n]);
        }
        if client.outcome().is_none() && client.pending().is_empty() && device.outcome().is_some() {
            client.handle_close();
        }
        if let Some(outcome) = client.outcome() {
            let committed = device.flash().committed.clone();
            return (outcome.clone(), client.compression(), committed);
        }
    }
    panic!("no outcome");
}

#[test]
fn every_version_auth_and_compression_combination() {
    let image = sample(100_003);
    for version in [ProtocolVersion::V1, ProtocolVersion::V2] {
        for deflate in [false, true] {
            for password in ["", "pa ss"] {
                let client_pw = (!password.is_empty()).then_some(password);
                let (outcome, mode, committed) = run(&image, password, client_pw, version, deflate);
                let what = format!("{version:?} deflate={deflate} password={password:?}");
                assert_eq!(outcome, Ok(()), "{what}");
                assert_eq!(mode, if deflate { Compression::Deflate } else { Compression::None }, "{what}");
                assert!(committed.as_deref() == Some(&image[..]), "{what}: image differs");
            }
        }
    }
}

#[test]
fn wrong_password_against_our_device() {
    let (outcome, _, committed) = run(&sample(5000), "right", Some("wrong"), ProtocolVersion::V2, true);
    assert_eq!(outcome, Err(UploadError::Device { step: Step::AuthResult, code: 0x82 }));
    assert_eq!(committed, None);
}

#[test]
fn our_client_offers_everything_we_implement() {
    // ESPHome 2026.10's 0x17 plus ferrota's resume (0x40).
    assert_eq!(ALL_FEATURES, 0x57);
}

/// What one connection of [`connection`] did.
struct Connection {
    outcome: Option<Result<(), UploadError>>,
    /// Client-to-device bytes that got through.
    carried: usize,
    resumed_from: Option<usize>,
    parked: Option<Parked>,
}

/// One connection between our client and our device writing to `flash`, offered `parked`;
/// the connection drops once `cut` client-to-device bytes went through (both ends see it).
fn connection(image: &Arc<Image>, flash: &mut MemFlash, parked: Option<Parked>, deflate: bool, cut: usize) -> Connection {
    let ota = OtaComponent::new(OtaConfig { port: 8082, version: ProtocolVersion::V2, deflate });
    let mut device = ota.start_session(&mut *flash, &mut CountingRng(1), 0).with_parked(parked);
    let mut client = Client::new(image.clone(), None, [0x5A; 32]);
    let (mut carried, mut resumed_from, mut buf) = (0, None, [0u8; 333]);
    while client.outcome().is_none() && device.outcome().is_none() {
        let pending = client.pending();
        let n = pending.len().min(4000).min(cut - carried);
        if n > 0 {
            device.handle_input(1, &pending[..n]);
            client.sent(n);
            carried += n;
        }
        loop {
            let got = device.poll_transmit(&mut buf);
            if got == 0 {
                break;
            }
            client.handle_input(&buf[..got]);
        }
        while let Some(event) = client.poll_event() {
            if let Event::Resumed { from, .. } = event {
                resumed_from = Some(from);
            }
        }
        if carried == cut || (n == 0 && client.pending().is_empty() && client.outcome().is_none() && device.outcome().is_none() && !device.has_transmit()) {
            device.handle_close();
            client.handle_close();
        }
    }
    if device.outcome().is_none() {
        device.handle_close();
    }
    let outcome = client.outcome().cloned();
    Connection { outcome, carried, resumed_from, parked: device.take_parked() }
}

#[test]
fn a_drop_anywhere_then_a_retry_commits_the_image_resuming_in_the_data_phase() {
    let image = Arc::new(Image::new(sample(100_003)));
    for deflate in [false, true] {
        let whole = connection(&image, &mut MemFlash::default(), None, deflate, usize::MAX);
        assert_eq!(whole.outcome, Some(Ok(())));
        // Every byte of the handshake, then every 1009th of the payload.
        let cuts = (0..300).chain((300..whole.carried).step_by(1009));
        let mut resumed = 0;
        for cut in cuts {
            let mut flash = MemFlash::default();
            let first = connection(&image, &mut flash, None, deflate, cut);
            let what = format!("deflate={deflate} cut={cut}");
            assert_ne!(first.outcome, Some(Ok(())), "{what}");
            let kept = first.parked.as_ref().map(|p| p.received() as usize);
            let second = connection(&image, &mut flash, first.parked, deflate, usize::MAX);
            assert_eq!(second.outcome, Some(Ok(())), "{what}");
            assert!(flash.committed.as_deref() == Some(image.bytes()), "{what}: image differs");
            assert_eq!(second.resumed_from, kept.filter(|&k| k > 0), "{what}");
            if let Some(from) = second.resumed_from {
                resumed += 1;
                // The retry sends only what the device lacked.
                assert!(second.carried < whole.carried - from + 200, "{what}");
            }
        }
        assert!(resumed > 50, "deflate={deflate}: only {resumed} retries resumed");
    }
}
