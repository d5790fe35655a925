//! Our client against our device's sans-IO core (crate `ferrota-ota`), wired together in
//! memory with reads cut at odd sizes: every version, auth and compression combination must
//! end with the exact image committed on the device.

use std::sync::Arc;

use ferrota::upload::errors::{Step, UploadError};
use ferrota::upload::image::Image;
use ferrota::upload::protocol::{Client, Compression, Event, PatchSource, ALL_FEATURES};
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
    // ESPHome 2026.10's 0x17 plus ferrota's resume (0x40) and delta updates (0x80).
    assert_eq!(ALL_FEATURES, 0xD7);
}

/// What one connection of [`connection`] did.
struct Connection {
    outcome: Option<Result<(), UploadError>>,
    mode: Compression,
    /// Client-to-device bytes that got through.
    carried: usize,
    resumed_from: Option<usize>,
    parked: Option<Parked>,
}

/// One connection between our client and our device writing to `flash`, offered `parked`;
/// the connection drops once `cut` client-to-device bytes went through (both ends see it).
fn connection(image: &Arc<Image>, flash: &mut MemFlash, parked: Option<Parked>, deflate: bool, cut: usize) -> Connection {
    connection_with(image, flash, parked, deflate, cut, None)
}

/// [`connection`] with a client that makes patches from `patches`.
fn connection_with(image: &Arc<Image>, flash: &mut MemFlash, parked: Option<Parked>, deflate: bool, cut: usize, patches: Option<PatchSource>) -> Connection {
    let ota = OtaComponent::new(OtaConfig { port: 8082, version: ProtocolVersion::V2, deflate });
    let mut device = ota.start_session(&mut *flash, &mut CountingRng(1), 0).with_parked(parked);
    let mut client = Client::new(image.clone(), None, [0x5A; 32]);
    if let Some(patches) = patches {
        client.set_patch_source(patches);
    }
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
    Connection { outcome, mode: client.compression(), carried, resumed_from, parked: device.take_parked() }
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

/// Build A and build B: B is A with a string changed and a few bytes moved, as a rebuild does.
fn builds() -> (Vec<u8>, Vec<u8>) {
    let a = sample(200_000);
    let mut b = a.clone();
    b.splice(70_000..70_010, b"on_boot: a changed log line".iter().copied());
    (a, b)
}

#[test]
fn delta_with_the_right_base_the_wrong_one_none_and_one_not_smaller() {
    let (a, b) = builds();
    let image = Arc::new(Image::new(b.clone()));
    let patches = |base: Vec<u8>| -> PatchSource {
        let image = image.clone();
        Arc::new(move |id| image.patch_from(id, || Some(base.clone())))
    };
    for deflate in [false, true] {
        // Right base: a patch, far smaller than the image, rebuilds B on the device.
        let mut flash = MemFlash { running: a.clone(), ..MemFlash::default() };
        let whole = connection(&image, &mut MemFlash { running: a.clone(), ..MemFlash::default() }, None, deflate, usize::MAX);
        let delta = connection_with(&image, &mut flash, None, deflate, usize::MAX, Some(patches(a.clone())));
        assert_eq!(delta.outcome, Some(Ok(())), "deflate={deflate}");
        assert_eq!(delta.mode, Compression::Delta);
        assert_eq!(flash.committed.as_deref(), Some(&b[..]));
        assert!(delta.carried * 10 < whole.carried, "deflate={deflate}: {} bytes against {}", delta.carried, whole.carried);
        // No base kept: the whole image.
        let mut flash = MemFlash { running: a.clone(), ..MemFlash::default() };
        let none = connection_with(&image, &mut flash, None, deflate, usize::MAX, Some(Arc::new(|_| None)));
        assert_eq!(none.outcome, Some(Ok(())));
        assert_ne!(none.mode, Compression::Delta);
        assert_eq!(flash.committed.as_deref(), Some(&b[..]));
    }
    // The wrong base: a client whose store misnames a build sends a patch the device refuses
    // before writing anything; the running build is untouched.
    let other = ferrota_test_support::sample(200_000, 7);
    let mut flash = MemFlash { running: other.clone(), ..MemFlash::default() };
    let wrong: PatchSource = {
        let patch = Arc::new(ferrota::upload::delta::make_patch(&a, &b).unwrap());
        Arc::new(move |_| Some(patch.clone()))
    };
    let refused = connection_with(&image, &mut flash, None, false, usize::MAX, Some(wrong));
    assert_eq!(refused.outcome, Some(Err(UploadError::Device { step: Step::Chunk, code: 0xF0 })));
    assert_eq!((flash.writes, flash.committed), (0, None));
    // Not smaller: random bytes share nothing with A and don't compress; the whole image goes.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let random = (0..30_000).map(|_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    });
    let unrelated = Arc::new(Image::new(random.collect()));
    let mut flash = MemFlash { running: a.clone(), ..MemFlash::default() };
    let source: PatchSource = { let u = unrelated.clone(); let a = a.clone(); Arc::new(move |id| u.patch_from(id, || Some(a.clone()))) };
    let big = connection_with(&unrelated, &mut flash, None, false, usize::MAX, Some(source));
    assert_eq!(big.outcome, Some(Ok(())));
    assert_eq!(big.mode, Compression::None);
    assert_eq!(flash.committed.as_deref(), Some(unrelated.bytes()));
}

#[test]
fn a_delta_upload_dropped_anywhere_resumes_and_rebuilds_the_image() {
    let (a, b) = builds();
    let image = Arc::new(Image::new(b.clone()));
    let source: PatchSource = { let image = image.clone(); let a = a.clone(); Arc::new(move |id| image.patch_from(id, || Some(a.clone()))) };
    let running = || MemFlash { running: a.clone(), ..MemFlash::default() };
    let whole = connection_with(&image, &mut running(), None, false, usize::MAX, Some(source.clone()));
    assert_eq!(whole.mode, Compression::Delta);
    for cut in (0..whole.carried).step_by(7) {
        let mut flash = running();
        let first = connection_with(&image, &mut flash, None, false, cut, Some(source.clone()));
        let second = connection_with(&image, &mut flash, first.parked, false, usize::MAX, Some(source.clone()));
        assert_eq!(second.outcome, Some(Ok(())), "cut={cut}");
        assert!(flash.committed.as_deref() == Some(&b[..]), "cut={cut}: image differs");
    }
}
