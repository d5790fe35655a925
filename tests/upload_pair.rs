//! Our client against our device's sans-IO core (crate `ferrota-ota`), wired together in
//! memory with reads cut at odd sizes: every version, auth and compression combination must
//! end with the exact image committed on the device.

use std::sync::Arc;

use ferrota::upload::errors::{Step, UploadError};
use ferrota::upload::image::Image;
use ferrota::upload::protocol::{Client, Compression, ALL_FEATURES};
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
    assert_eq!(ALL_FEATURES, 0x17);
}
