//! Properties of the core: any split of the client's bytes into reads gives the same result,
//! and a disconnect or garbage at any point never commits a wrong image.

mod common;

use common::*;
use ferrota_ota::{Event, OtaComponent, OtaConfig, OtaError, ProtocolVersion, Session};
use proptest::prelude::*;
use sha2::Digest;

const PASSWORD: &str = "pw";

#[derive(Debug, Clone, Copy)]
struct Setup {
    version: ProtocolVersion,
    password: bool,
    /// Client feature byte: 01 legacy, 03 SHA-256, 17 ESPHome 2026.10 (extended + deflate).
    features: u8,
    deflate: bool,
}

fn setups() -> impl Strategy<Value = Setup> {
    (any::<bool>(), any::<bool>(), prop::sample::select(vec![0x01u8, 0x03, 0x17]), any::<bool>()).prop_map(|(v1, password, features, deflate)| Setup {
        version: if v1 { ProtocolVersion::V1 } else { ProtocolVersion::V2 },
        // Auth only works for a client offering SHA-256.
        password: password && features & 0x02 != 0,
        features,
        deflate,
    })
}

fn session(setup: Setup) -> Session<MemFlash> {
    let ota = OtaComponent::new(OtaConfig { port: 1, version: setup.version, deflate: setup.deflate });
    ota.try_set_auth_password(if setup.password { PASSWORD } else { "" }).unwrap();
    ota.start_session(MemFlash::default(), &mut ZeroRng, 0)
}

/// Everything a well-behaved client sends, including the final ack.
fn script(setup: Setup, image: &[u8]) -> Vec<u8> {
    let extended = setup.features & 0x04 != 0;
    let deflate = extended && setup.deflate && setup.features & 0x10 != 0;
    let mut s = vec![0x6C, 0x26, 0xF7, 0x5C, 0x45, setup.features];
    if setup.password {
        let cnonce = "c".repeat(64);
        let reply = sha2::Sha256::digest(format!("{PASSWORD}{ZERO_NONCE}{cnonce}").as_bytes());
        s.extend(cnonce.as_bytes());
        s.extend(to_hex(&reply).as_bytes());
    }
    if extended {
        s.push(0x00);
    }
    let payload = if deflate { common::deflate(image) } else { image.to_vec() };
    s.extend((payload.len() as u32).to_be_bytes());
    if deflate {
        s.extend((image.len() as u32).to_be_bytes());
    }
    s.extend(md5_hex(image).as_bytes());
    s.extend(&payload);
    s.push(0x00);
    s
}

struct Run {
    output: Vec<u8>,
    outcome: Option<Result<(), OtaError>>,
    committed: Option<Vec<u8>>,
    aborted: bool,
    events: Vec<Event>,
}

/// Feeds `pieces` in order (polling after each, like a socket loop), then maybe a close.
fn run(setup: Setup, pieces: &[&[u8]], close: bool) -> Run {
    let mut s = session(setup);
    let mut output = Vec::new();
    let mut events = Vec::new();
    for piece in pieces {
        s.handle_input(0, piece);
        output.extend(drain(&mut s));
        events.extend(common::events(&mut s).into_iter().filter(|e| !matches!(e, Event::Progress(_))));
    }
    if close {
        s.handle_close();
        output.extend(drain(&mut s));
        events.extend(common::events(&mut s).into_iter().filter(|e| !matches!(e, Event::Progress(_))));
    }
    Run { output, outcome: s.outcome(), committed: s.flash().committed.clone(), aborted: s.flash().aborted, events }
}

fn images() -> impl Strategy<Value = Vec<u8>> {
    (0usize..20_000, any::<u32>()).prop_map(|(len, seed)| sample(len, seed))
}

/// The invariants every run must keep, whatever the client did.
fn check_invariants(r: &Run, image: &[u8]) {
    // Nothing is committed unless its MD5 matched, and then it is the image.
    if let Some(committed) = &r.committed {
        assert_eq!(committed, image);
        assert!(!matches!(r.outcome, Some(Err(_))), "a committed image is never reported as failed");
    }
    match r.outcome {
        Some(Err(OtaError::PeerClosed)) | None => {}
        Some(Err(e)) => assert_eq!(r.output.last(), Some(&e.code()), "one error byte, last"),
        Some(Ok(())) => assert!(r.committed.is_some()),
    }
    if matches!(r.outcome, Some(Err(_))) {
        assert!(r.committed.is_none());
        assert_eq!(r.events.last().map(|e| matches!(e, Event::Error(_))), Some(true));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_split_of_the_clients_bytes_gives_the_same_result(setup in setups(), image in images(), cuts in prop::collection::vec(any::<usize>(), 0..40)) {
        let bytes = script(setup, &image);
        let whole = run(setup, &[&bytes], false);
        prop_assert_eq!(whole.outcome, Some(Ok(())));
        prop_assert_eq!(whole.committed.as_deref(), Some(&image[..]));
        let pieces = split(&bytes, &cuts);
        let parts = run(setup, &pieces, false);
        prop_assert_eq!(to_hex(&parts.output), to_hex(&whole.output));
        prop_assert_eq!(parts.outcome, whole.outcome);
        prop_assert_eq!(parts.committed, whole.committed);
        prop_assert_eq!(parts.events, whole.events);
    }

    #[test]
    fn a_disconnect_at_any_byte_never_commits_a_partial_image(setup in setups(), image in images(), cut in any::<usize>(), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let bytes = script(setup, &image);
        // Up to, but not including, the final ack.
        let cut = cut % bytes.len();
        let r = run(setup, &split(&bytes[..cut], &cuts), true);
        check_invariants(&r, &image);
        let before_data_end = cut < bytes.len() - 1;
        if before_data_end {
            prop_assert!(r.committed.is_none());
            prop_assert!(matches!(r.outcome, Some(Err(OtaError::PeerClosed))), "{:?}", r.outcome);
            // A flash that was begun was aborted.
            prop_assert!(!r.events.contains(&Event::Started) || r.aborted);
        } else {
            // All data arrived: a missing final ack does not undo the update.
            prop_assert_eq!(r.outcome, Some(Ok(())));
        }
    }

    #[test]
    fn garbage_at_any_step_fails_cleanly_and_never_commits_a_wrong_image(
        setup in setups(),
        image in images(),
        at in any::<usize>(),
        garbage in prop::collection::vec(any::<u8>(), 1..64),
        replace in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut bytes = script(setup, &image);
        let at = at % bytes.len();
        if replace {
            let end = (at + garbage.len()).min(bytes.len());
            bytes.splice(at..end, garbage.iter().copied().take(end - at));
        } else {
            bytes.splice(at..at, garbage.iter().copied());
        }
        let r = run(setup, &split(&bytes, &cuts), true);
        check_invariants(&r, &image);
        prop_assert!(r.outcome.is_some(), "a session always ends once the client closed");
    }
}
