//! Exact byte transcripts of the OTA client (spec §1) against a scripted fake device: every
//! compression mode, both auth methods, both protocol versions, every error byte at every step,
//! and a dropped connection or failed write at each step. No sockets: the client is sans-IO.

use std::io;
use std::sync::Arc;

use ferrota::upload::errors::{Step, UploadError, DEVICE_ERRORS};
use ferrota::upload::image::{hex, Image};
use ferrota::upload::protocol::{Client, Compression, Event, NoDelta, ALL_FEATURES};

const MAGIC: &str = "6C26F75C45";
/// Spec §1.4 test vectors.
const PASSWORD: &str = "superlongpasswordthatnoonewillknow";
const NONCE64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const CNONCE64: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const SHA256_RESPONSE: &str = "57c0a54f2a7d5cda8764f336155413c265e1973268c8928fb14a2d8405dcf1aa";
const NONCE32: &str = "0123456789abcdef0123456789abcdef";
const CNONCE32: &str = "fedcba9876543210fedcba9876543210";
const MD5_RESPONSE: &str = "87d672f579821ea35210420a59b6ee98";
const IMAGE21: &[u8] = b"ESPHome OTA test data";
const IMAGE21_MD5: &str = "b295924d0ca69ee485a5de18c3222b60";

/// One line of a transcript.
#[derive(Clone, Debug)]
enum L {
    /// Client to device, hex.
    C(String),
    /// Device to client, hex.
    D(String),
}
use L::{C, D};

fn c(hex: &str) -> L {
    C(hex.replace(' ', ""))
}
fn ca(ascii: &str) -> L {
    C(hex_of(ascii.as_bytes()))
}
fn cb(bytes: &[u8]) -> L {
    C(hex_of(bytes))
}
fn d(hex: &str) -> L {
    D(hex.replace(' ', ""))
}
fn da(ascii: &str) -> L {
    D(hex_of(ascii.as_bytes()))
}

fn hex_of(b: &[u8]) -> String {
    hex(b).to_uppercase()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn seed() -> [u8; 32] {
    unhex(CNONCE64).try_into().unwrap()
}

fn client(image: &[u8], password: Option<&str>, features: u8) -> Client {
    Client::with_features(Arc::new(Image::new(image.to_vec())), password.map(String::from), seed(), features)
}

/// Everything the client wants to send now, written in one go.
fn drain(cl: &mut Client) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let p = cl.pending().to_vec();
        if p.is_empty() {
            return out;
        }
        out.extend_from_slice(&p);
        cl.sent(p.len());
    }
}

/// Plays a transcript: the client's output before each device line must equal the client
/// lines before it, exactly; the device lines are fed one line at a time.
fn play(cl: &mut Client, lines: &[L]) {
    let mut expected = String::new();
    for (i, line) in lines.iter().enumerate() {
        match line {
            C(h) => expected.push_str(h),
            D(h) => {
                assert_eq!(hex_of(&drain(cl)), expected, "client output before line {i}");
                expected.clear();
                cl.handle_input(&unhex(h));
            }
        }
    }
    // Trailing client lines are checked; after a trailing device line the output is left to the test.
    if !expected.is_empty() {
        assert_eq!(hex_of(&drain(cl)), expected, "client output at the end");
    }
}

/// A version 2 device without compression, from the magic up to its `43`: what the client
/// sends next is the payload. (`version_2_waits_for_one_ack_per_8192_byte_block` spells it out.)
fn until_data(image: &[u8]) -> Vec<L> {
    let md5 = Image::new(image.to_vec()).md5_hex().to_owned();
    vec![c(MAGIC), d("0002"), c("D7"), d("4800 41"), c(&format!("00 {:08X}", image.len())), d("42"), ca(&md5), d("43")]
}

fn events(cl: &mut Client) -> Vec<Event> {
    std::iter::from_fn(|| cl.poll_event()).filter(|e| !matches!(e, Event::Progress { .. })).collect()
}

#[test]
fn spec_worked_example_legacy_client_v2() {
    // The spec's §1.3 example, with the feature byte of a 2024.10 client.
    let mut cl = client(IMAGE21, None, 0x01);
    play(
        &mut cl,
        &[c(MAGIC), d("0002"), c("01"), d("40"), d("41"), c("00000015"), d("42"), ca(IMAGE21_MD5), d("43"), cb(IMAGE21), d("47"), d("44"), d("45"), c("00")],
    );
    assert_eq!(cl.outcome(), Some(&Ok(())));
    assert_eq!(
        events(&mut cl),
        [Event::Connected { version: 2 }, Event::Authenticated(None), Event::DataStarted { total: 21 }, Event::Received, Event::Committed]
    );
}

#[test]
fn extended_device_without_compression() {
    let mut cl = client(IMAGE21, None, ALL_FEATURES);
    play(
        &mut cl,
        &[c(MAGIC), d("0002"), c("D7"), d("4800"), d("41"), c("00 00000015"), d("42"), ca(IMAGE21_MD5), d("43"), cb(IMAGE21), d("47"), d("44"), d("45"), c("00")],
    );
    assert_eq!(cl.outcome(), Some(&Ok(())));
    assert_eq!(cl.compression(), Compression::None);
}

#[test]
fn unknown_server_flags_are_not_an_error_byte() {
    // A future flag 0x20 in the byte after `48` is a flag, not a device error.
    let mut cl = client(IMAGE21, None, ALL_FEATURES);
    play(
        &mut cl,
        &[c(MAGIC), d("0002"), c("D7"), d("4820"), d("41"), c("00 00000015"), d("42"), ca(IMAGE21_MD5), d("43"), cb(IMAGE21), d("47"), d("44"), d("45"), c("00")],
    );
    assert_eq!(cl.outcome(), Some(&Ok(())));
    assert_eq!(cl.compression(), Compression::None);
}

#[test]
fn success_needs_the_final_ack_written() {
    let mut cl = client(IMAGE21, None, ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("0002"), c("D7"), d("4800 41"), c("00 00000015"), d("42"), ca(IMAGE21_MD5), d("43"), cb(IMAGE21), d("47 44 45")]);
    assert_eq!(cl.pending(), [0x00]);
    assert_eq!(cl.outcome(), None);
    cl.send_failed(&io::Error::new(io::ErrorKind::BrokenPipe, "broken pipe"));
    let err = cl.outcome().unwrap().clone().unwrap_err();
    assert!(matches!(err, UploadError::Network { step: Step::EndAck, committed: true, .. }), "{err:?}");
    assert!(err.to_string().contains("may have already committed"), "{err}");
}

#[test]
fn sha256_auth_with_the_spec_vector() {
    let mut cl = client(IMAGE21, Some(PASSWORD), ALL_FEATURES);
    play(
        &mut cl,
        &[
            c(MAGIC),
            d("0002"),
            c("D7"),
            d("4800"),
            d("02"),
            da(NONCE64),
            ca(CNONCE64),
            ca(SHA256_RESPONSE),
            d("41"),
            c("00 00000015"),
            d("42"),
            ca(IMAGE21_MD5),
            d("43"),
            cb(IMAGE21),
            d("47 44 45"),
            c("00"),
        ],
    );
    assert_eq!(cl.outcome(), Some(&Ok(())));
    assert!(events(&mut cl).contains(&Event::Authenticated(Some(ferrota::upload::protocol::AuthMethod::Sha256))));
}

#[test]
fn md5_auth_for_older_devices() {
    // A 2024.10 device: legacy feature ack, MD5 challenge; nonce split across reads.
    let mut cl = client(IMAGE21, Some(PASSWORD), ALL_FEATURES);
    play(
        &mut cl,
        &[
            c(MAGIC),
            d("0002"),
            c("D7"),
            d("40"),
            d("01"),
            da(&NONCE32[..5]),
            da(&NONCE32[5..]),
            ca(CNONCE32),
            ca(MD5_RESPONSE),
            d("41"),
            c("00000015"),
            d("42"),
            ca(IMAGE21_MD5),
            d("43"),
            cb(IMAGE21),
            d("47"),
            d("44"),
            d("45"),
            c("00"),
        ],
    );
    assert_eq!(cl.outcome(), Some(&Ok(())));
}

#[test]
fn empty_password_is_hashed_not_refused() {
    let mut cl = client(IMAGE21, Some(""), ALL_FEATURES);
    play(
        &mut cl,
        &[
            c(MAGIC),
            d("0002"),
            c("D7"),
            d("4800 02"),
            da(NONCE64),
            ca(CNONCE64),
            ca("6d4fff3af2a78b85c721c6b8ae395eb25026b56d13abebe2cdab1d56e84b2180"),
            d("82"),
        ],
    );
    assert_eq!(cl.outcome(), Some(&Err(UploadError::Device { step: Step::AuthResult, code: 0x82 })));
}

#[test]
fn wrong_password_is_a_clear_device_error() {
    let mut cl = client(IMAGE21, Some("nope"), ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("0002"), c("D7"), d("4800 02"), da(NONCE64)]);
    let sent = drain(&mut cl);
    assert_eq!(sent.len(), 128);
    cl.handle_input(&[0x82]);
    let err = cl.outcome().unwrap().clone().unwrap_err();
    assert_eq!(err, UploadError::Device { step: Step::AuthResult, code: 0x82 });
    assert!(err.to_string().contains("check the OTA password"), "{err}");
    assert!(!err.is_retryable());
    assert!(cl.pending().is_empty());
}

#[test]
fn no_password_given_but_device_asks() {
    let mut cl = client(IMAGE21, None, ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("0002"), c("D7"), d("4800 02"), da(&NONCE64[..10])]);
    assert_eq!(cl.outcome(), Some(&Err(UploadError::PasswordRequired)));
    assert!(cl.pending().is_empty(), "no cnonce is sent");
}

#[test]
fn version_1_streams_every_block_without_acks() {
    let image: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let md5 = Image::new(image.clone()).md5_hex().to_owned();
    let mut cl = client(&image, None, ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("0001"), c("D7"), d("4800 41"), c("00 00004E20"), d("42"), ca(&md5), d("43"), cb(&image), d("44 45"), c("00")]);
    assert_eq!(cl.outcome(), Some(&Ok(())));
}

#[test]
fn version_2_waits_for_one_ack_per_8192_byte_block() {
    let image: Vec<u8> = (0..20_000u32).map(|i| (i * 13 % 256) as u8).collect();
    let md5 = Image::new(image.clone()).md5_hex().to_owned();
    let mut cl = client(&image, None, ALL_FEATURES);
    play(
        &mut cl,
        &[
            c(MAGIC),
            d("0002"),
            c("D7"),
            d("4800 41"),
            c("00 00004E20"),
            d("42"),
            ca(&md5),
            d("43"),
            cb(&image[..8192]),
            d("47"),
            cb(&image[8192..16384]),
            d("47"),
            cb(&image[16384..]),
            d("47"),
            d("44"),
            d("45"),
            c("00"),
        ],
    );
    assert_eq!(cl.outcome(), Some(&Ok(())));
}

#[test]
fn an_ack_before_the_block_was_written_is_unexpected() {
    let image = vec![1u8; 10_000];
    let mut cl = client(&image, None, ALL_FEATURES);
    play(&mut cl, &until_data(&image));
    cl.sent(100);
    cl.handle_input(&[0x47]);
    assert_eq!(cl.outcome(), Some(&Err(UploadError::Unexpected { step: Step::Chunk, byte: 0x47 })));
}

#[test]
fn streaming_deflate_sends_both_sizes_and_the_md5_of_the_inflated_image() {
    let image: Vec<u8> = b"ferrota ".iter().copied().cycle().take(30_000).collect();
    let img = Image::new(image.clone());
    let stream = img.try_deflate().unwrap().to_vec();
    assert!(stream.len() < 8192, "fits one block: {}", stream.len());
    let sizes = format!("{:08X}{:08X}", stream.len(), image.len());
    let mut cl = client(&image, Some(PASSWORD), ALL_FEATURES);
    play(
        &mut cl,
        &[
            c(MAGIC),
            d("0002"),
            c("D7"),
            d("4808"),
            d("02"),
            da(NONCE64),
            ca(CNONCE64),
            ca(SHA256_RESPONSE),
            d("41"),
            c(&format!("00{sizes}")),
            d("42"),
            ca(img.md5_hex()),
            d("43"),
            cb(&stream),
            d("47 44 45"),
            c("00"),
        ],
    );
    assert_eq!(cl.outcome(), Some(&Ok(())));
    assert!(events(&mut cl).contains(&Event::Compressed { mode: Compression::Deflate, size: stream.len() }));
}

#[test]
fn deflate_is_only_used_with_the_extended_ack() {
    // Flag 0x08 means deflate only after `48`; a legacy `40` never selects it.
    let mut cl = client(IMAGE21, None, ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("0002"), c("D7"), d("40 41"), c("00000015")]);
    assert_eq!(cl.compression(), Compression::None);
}

#[test]
fn gzip_when_the_device_asks_with_46() {
    let image: Vec<u8> = b"gzip me ".iter().copied().cycle().take(40_000).collect();
    let img = Image::new(image.clone());
    let (gz, gz_md5) = img.gzip();
    let (gz, gz_md5) = (gz.to_vec(), gz_md5.to_owned());
    let mut cl = client(&image, None, ALL_FEATURES);
    play(
        &mut cl,
        &[c(MAGIC), d("0002"), c("D7"), d("46"), d("41"), c(&format!("{:08X}", gz.len())), d("42"), ca(&gz_md5), d("43"), cb(&gz), d("47 44 45"), c("00")],
    );
    assert_eq!(cl.outcome(), Some(&Ok(())));
    assert_eq!(cl.compression(), Compression::Gzip);
}

#[test]
fn gzip_through_the_extended_flag() {
    let img = Image::new(IMAGE21.to_vec());
    let gz_len = img.gzip().0.len();
    let mut cl = client(IMAGE21, None, ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("0002"), c("D7"), d("4801 41"), c(&format!("00{gz_len:08X}")), d("42"), ca(img.gzip().1)]);
    assert_eq!(cl.compression(), Compression::Gzip);
}

#[test]
fn a_client_that_did_not_offer_a_mode_never_uses_it() {
    let mut cl = client(IMAGE21, None, 0x02 | 0x04);
    play(&mut cl, &[c(MAGIC), d("0002"), c("06"), d("4809 41"), c("00 00000015")]);
    assert_eq!(cl.compression(), Compression::None);
}

#[test]
fn feature_ack_48_from_a_device_we_did_not_offer_extended_to() {
    let mut cl = client(IMAGE21, None, 0x01);
    play(&mut cl, &[c(MAGIC), d("0002"), c("01"), d("48")]);
    assert_eq!(cl.outcome(), Some(&Err(UploadError::Unexpected { step: Step::Features, byte: 0x48 })));
}

#[test]
fn unsupported_version_and_bad_magic_ack() {
    let mut cl = client(IMAGE21, None, ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("0003")]);
    assert_eq!(cl.outcome(), Some(&Err(UploadError::UnsupportedVersion(3))));
    assert!(cl.outcome().unwrap().clone().unwrap_err().to_string().contains("supports 1 and 2"));

    let mut cl = client(IMAGE21, None, ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("05")]);
    assert_eq!(cl.outcome(), Some(&Err(UploadError::Unexpected { step: Step::Version, byte: 0x05 })));
}

#[test]
fn empty_image_is_refused_before_connecting() {
    let cl = client(b"", None, ALL_FEATURES);
    assert_eq!(cl.outcome(), Some(&Err(UploadError::BadImageSize(0))));
    assert!(cl.pending().is_empty());
}

/// The device's side of a full v2 upload with SHA-256 auth, one message per entry, with the
/// step at which the client waits for it.
fn happy_device_messages(image_len: usize) -> Vec<(Step, Vec<u8>)> {
    let mut msgs = vec![
        (Step::Version, unhex("0002")),
        (Step::Features, unhex("48")),
        (Step::FeatureFlags, unhex("00")),
        (Step::Auth, unhex("02")),
        (Step::AuthNonce, NONCE64.as_bytes().to_vec()),
        (Step::AuthResult, unhex("41")),
        (Step::Prepare, unhex("42")),
        (Step::ChecksumResult, unhex("43")),
    ];
    for _ in 0..image_len.div_ceil(8192) {
        msgs.push((Step::Chunk, unhex("47")));
    }
    msgs.extend([(Step::Receive, unhex("44")), (Step::End, unhex("45"))]);
    msgs
}

#[test]
fn every_error_byte_at_every_step_is_a_device_error_and_never_retried() {
    let image = vec![0xA5u8; 9000];
    let msgs = happy_device_messages(image.len());
    let mut codes: Vec<u8> = DEVICE_ERRORS.iter().map(|(c, _)| *c).collect();
    codes.push(0xA0); // not assigned by ESPHome: still an error byte
    for (k, (step, _)) in msgs.iter().enumerate() {
        if *step == Step::FeatureFlags {
            // A bit set, not a status (unknown_server_flags_are_not_an_error_byte).
            continue;
        }
        for &code in &codes {
            let mut cl = client(&image, Some(PASSWORD), ALL_FEATURES);
            for (_, msg) in &msgs[..k] {
                drain(&mut cl);
                cl.handle_input(msg);
            }
            drain(&mut cl);
            cl.handle_input(&[code]);
            let err = cl.outcome().unwrap_or_else(|| panic!("no outcome at {step:?}")).clone().unwrap_err();
            assert_eq!(err, UploadError::Device { step: *step, code }, "message {k}");
            assert!(!err.is_retryable());
            assert!(err.to_string().contains(&format!("0x{code:02X}")), "{err}");
            assert!(cl.pending().is_empty(), "nothing is sent after an error byte");
        }
    }
}

#[test]
fn a_dropped_connection_at_every_step() {
    let image = vec![0x3Cu8; 9000];
    let msgs = happy_device_messages(image.len());
    for k in 0..=msgs.len() {
        let mut cl = client(&image, Some(PASSWORD), ALL_FEATURES);
        for (_, msg) in &msgs[..k] {
            drain(&mut cl);
            cl.handle_input(msg);
        }
        drain(&mut cl);
        if k == msgs.len() {
            // After `45` the ack was written: the device closing now is the normal end.
            cl.handle_close();
            assert_eq!(cl.outcome(), Some(&Ok(())));
            continue;
        }
        cl.handle_close();
        let err = cl.outcome().unwrap().clone().unwrap_err();
        let step = msgs[k].0;
        // Committed once every payload byte was written: the last chunk ack and later.
        let committed = k >= msgs.len() - 3;
        assert_eq!(err, UploadError::Closed { step, committed }, "message {k}");
        assert_eq!(err.is_retryable(), !committed, "message {k}");
    }
}

#[test]
fn a_failed_write_at_every_send_step() {
    let image = vec![0x77u8; 9000];
    let msgs = happy_device_messages(image.len());
    let reset = io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by peer");
    // The step each send belongs to, after the first k device messages.
    let sends = [
        (0, Step::Magic),
        (1, Step::FeatureByte),
        (5, Step::AuthResponse),
        (6, Step::Size),
        (7, Step::Checksum),
        (8, Step::Data),
        (9, Step::Data),
        (msgs.len(), Step::EndAck),
    ];
    for (k, step) in sends {
        let mut cl = client(&image, Some(PASSWORD), ALL_FEATURES);
        for (_, msg) in &msgs[..k] {
            drain(&mut cl);
            cl.handle_input(msg);
        }
        assert!(!cl.pending().is_empty(), "something to send after {k}");
        cl.send_failed(&reset);
        let err = cl.outcome().unwrap().clone().unwrap_err();
        let committed = step == Step::EndAck;
        assert_eq!(
            err,
            UploadError::Network { step, kind: io::ErrorKind::ConnectionReset, message: "connection reset by peer".into(), committed },
            "after {k}"
        );
        assert!(err.to_string().starts_with(step.label()), "{err}");
    }
}

#[test]
fn a_read_timeout_names_the_step() {
    let mut cl = client(IMAGE21, None, ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("0002"), c("D7"), d("4800 41"), c("00 00000015")]);
    cl.receive_failed(&io::Error::new(io::ErrorKind::WouldBlock, "Resource temporarily unavailable"));
    let err = cl.outcome().unwrap().clone().unwrap_err();
    assert_eq!(err.to_string(), "receiving update prepare result: timed out");
    assert!(err.is_retryable());
}

#[test]
fn unexpected_bytes_at_each_step() {
    for (prefix, bad, step) in [
        (vec![], "0102", Step::Version),
        (vec!["0002"], "42", Step::Features),
        (vec!["0002", "4800"], "43", Step::Auth),
        (vec!["0002", "4800", "02"], "7A", Step::AuthNonce),
        (vec!["0002", "4800", "41"], "41", Step::Prepare),
        (vec!["0002", "4800", "41", "42"], "42", Step::ChecksumResult),
        (vec!["0002", "4800", "41", "42", "43", "47"], "47", Step::Receive),
        (vec!["0002", "4800", "41", "42", "43", "47", "44"], "44", Step::End),
    ] {
        let mut cl = client(IMAGE21, Some(PASSWORD), ALL_FEATURES);
        for msg in prefix {
            drain(&mut cl);
            cl.handle_input(&unhex(msg));
        }
        drain(&mut cl);
        cl.handle_input(&unhex(bad));
        let byte = unhex(bad)[if bad == "0102" { 0 } else { unhex(bad).len() - 1 }];
        assert_eq!(cl.outcome(), Some(&Err(UploadError::Unexpected { step, byte })), "{bad} at {step:?}");
    }
}

#[test]
fn hostile_device_bytes_never_panic() {
    let mut x = 0x1234_5678u32;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for _ in 0..3000 {
        let mut cl = client(&[7u8; 9000], Some("pw"), ALL_FEATURES);
        for _ in 0..40 {
            drain(&mut cl);
            let n = (next() % 70) as usize;
            let bytes: Vec<u8> = (0..n)
                .map(|_| {
                    let r = next();
                    // Mostly plausible protocol bytes, sometimes anything.
                    if r % 4 == 0 { (r >> 8) as u8 } else { b"\x00\x02\x48\x08\x41\x42\x43\x47\x44\x45a0"[(r >> 8) as usize % 12] }
                })
                .collect();
            cl.handle_input(&bytes);
            if cl.outcome().is_some() {
                break;
            }
        }
    }
}

/// Pipelining (what `ferrota upload` does): up to a window of blocks go out before their
/// acks; each `47` still confirms exactly one block, in order, and opens room for one more.
#[test]
fn version_2_keeps_a_window_of_blocks_in_flight() {
    let image: Vec<u8> = (0..45_000u32).map(|i| (i * 31 % 256) as u8).collect();
    let mut cl = client(&image, None, ALL_FEATURES);
    cl.set_window(2 * 8192);
    let data = [
        // Two blocks before any ack.
        cb(&image[..16384]),
        d("47"),
        cb(&image[16384..24576]),
        // Two acks at once: two more blocks.
        d("4747"),
        cb(&image[24576..40960]),
        d("47"),
        cb(&image[40960..]),
        // The acks of what is still in flight, then the device's verdict.
        d("4747"),
        d("44"),
        d("45"),
        c("00"),
    ];
    play(&mut cl, &[until_data(&image), data.to_vec()].concat());
    assert_eq!(cl.outcome(), Some(&Ok(())));
}

#[test]
fn with_a_window_an_ack_counts_one_block_written_whole() {
    let image = vec![9u8; 40_000];
    let mut cl = client(&image, None, ALL_FEATURES);
    cl.set_window(4 * 8192);
    play(&mut cl, &until_data(&image));
    cl.sent(10_000);
    cl.handle_input(&[0x47]);
    assert!(cl.outcome().is_none(), "the first block was written whole");
    cl.handle_input(&[0x47]);
    assert_eq!(cl.outcome(), Some(&Err(UploadError::Unexpected { step: Step::Chunk, byte: 0x47 })), "the second was not");
}

#[test]
fn a_full_window_waits_for_the_device() {
    let image = vec![5u8; 100_000];
    let mut cl = client(&image, None, ALL_FEATURES);
    cl.set_window(3 * 8192 + 100);
    play(&mut cl, &until_data(&image));
    assert_eq!(drain(&mut cl).len(), 3 * 8192, "the window is whole blocks");
    assert!(cl.pending().is_empty(), "a full window sends nothing more until an ack");
    // A drop now: the device has not acknowledged everything, so the upload may be retried.
    cl.handle_close();
    let err = cl.outcome().unwrap().clone().unwrap_err();
    assert_eq!(err, UploadError::Closed { step: Step::Chunk, committed: false });
    assert!(err.is_retryable());
}

/// What a drop means with blocks in flight: while more than the last block is unacknowledged
/// the device cannot have the image (retry); once only the last is, it may have committed.
#[test]
fn with_blocks_in_flight_committed_means_all_but_the_last_block_acked() {
    let image = vec![3u8; 3 * 8192];
    let start = until_data(&image);
    for (acks, committed) in [(0, false), (1, false), (2, true)] {
        let mut cl = client(&image, None, ALL_FEATURES);
        cl.set_window(4 * 8192);
        play(&mut cl, &start);
        assert_eq!(drain(&mut cl).len(), image.len(), "all of it in flight");
        cl.handle_input(&vec![0x47; acks]);
        cl.handle_close();
        assert_eq!(cl.outcome(), Some(&Err(UploadError::Closed { step: Step::Chunk, committed })), "{acks} acks");
    }
}

#[test]
fn resume_continues_at_the_offset_the_device_sends_with_acks_on_block_bounds() {
    // The device kept 10 000 bytes (0x2710): the client sends the rest of block 2 (to 16 384),
    // which the device acks once, then the last short block.
    let image = ferrota_test_support::sample(20_000, 5);
    let md5 = Image::new(image.clone()).md5_hex().to_owned();
    let mut cl = client(&image, None, ALL_FEATURES);
    play(
        &mut cl,
        &[c(MAGIC), d("0002"), c("D7"), d("4840 41"), c("00 00004E20"), d("42"), ca(&md5), d("43 00002710"), cb(&image[10_000..16_384]), d("47"), cb(&image[16_384..]), d("47 44 45"), c("00")],
    );
    assert_eq!(cl.outcome(), Some(&Ok(())));
    assert_eq!(
        events(&mut cl),
        [
            Event::Connected { version: 2 },
            Event::Authenticated(None),
            Event::Resumed { from: 10_000, total: 20_000 },
            Event::DataStarted { total: 20_000 },
            Event::Received,
            Event::Committed
        ]
    );
}

#[test]
fn resume_from_zero_is_a_plain_upload_and_the_offset_is_no_status_byte() {
    let mut cl = client(IMAGE21, None, ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("0002"), c("D7"), d("4840 41"), c("00 00000015"), d("42"), ca(IMAGE21_MD5), d("43 00000000"), cb(IMAGE21), d("47 44 45"), c("00")]);
    assert_eq!(cl.outcome(), Some(&Ok(())));
    // An offset whose bytes are >= 0x80 (0x00008000 = 32 768) is read as an offset too.
    let image = ferrota_test_support::sample(40_000, 2);
    let md5 = Image::new(image.clone()).md5_hex().to_owned();
    let mut cl = client(&image, None, ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("0002"), c("D7"), d("4840 41"), c("00 00009C40"), d("42"), ca(&md5), d("43 00008000"), cb(&image[32_768..]), d("47 44 45"), c("00")]);
    assert_eq!(cl.outcome(), Some(&Ok(())));
}

#[test]
fn an_offset_at_or_past_the_end_is_refused() {
    let mut cl = client(IMAGE21, None, ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("0002"), c("D7"), d("4840 41"), c("00 00000015"), d("42"), ca(IMAGE21_MD5), d("43 00000015")]);
    let err = cl.outcome().unwrap().clone().unwrap_err();
    assert_eq!(err, UploadError::BadResumeOffset { offset: 21, size: 21 });
    assert!(!err.is_retryable());
    assert!(cl.pending().is_empty(), "nothing more is sent");
}

#[test]
fn without_the_resume_flag_no_offset_is_read() {
    // Flags 0x00: `43` is followed by the payload at once (ESPHome's devices).
    let mut cl = client(IMAGE21, None, ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("0002"), c("D7"), d("4800 41"), c("00 00000015"), d("42"), ca(IMAGE21_MD5), d("43"), cb(IMAGE21)]);
}

/// A device that takes patches (flags 0x80) and runs `running`, up to our header.
fn delta_device_until_header(running: &[u8]) -> Vec<L> {
    let record = ferrota_ota::delta::ImageId::of(running).to_bytes();
    vec![c(MAGIC), d("0002"), c("D7"), d("4880 41"), d(&hex_of(&record))]
}

fn patch_source(base: Vec<u8>, new: Arc<Image>) -> ferrota::upload::protocol::PatchSource {
    Arc::new(move |id| new.patch_from(id, || Some(base.clone())))
}

#[test]
fn delta_sends_a_patch_against_the_running_image() {
    let base = ferrota_test_support::sample(50_000, 1);
    let mut new = base.clone();
    new[30_000] ^= 0xFF;
    let image = Arc::new(Image::new(new.clone()));
    let patch = ferrota::upload::delta::make_patch(&base, &new).unwrap();
    let mut cl = Client::new(image.clone(), None, [0x5A; 32]);
    cl.set_patch_source(patch_source(base.clone(), image.clone()));
    let mut lines = delta_device_until_header(&base);
    lines.extend([c(&format!("80 {:08X} {:08X}", patch.len(), new.len())), d("42"), ca(image.md5_hex()), d("43"), cb(&patch), d("47 44 45"), c("00")]);
    play(&mut cl, &lines);
    assert_eq!(cl.outcome(), Some(&Ok(())));
    assert_eq!(cl.compression(), Compression::Delta);
    let events = events(&mut cl);
    assert!(events.contains(&Event::Delta { size: patch.len(), whole: new.len() }), "{events:?}");
}

#[test]
fn delta_falls_back_to_the_whole_image_without_a_base_or_a_smaller_patch() {
    let (base, new) = (ferrota_test_support::sample(20_000, 1), ferrota_test_support::sample(20_000, 2));
    let image = Arc::new(Image::new(new.clone()));
    // No base kept for what the device runs.
    let mut cl = Client::new(image.clone(), None, [0x5A; 32]);
    cl.set_patch_source(Arc::new(|_| None));
    let mut lines = delta_device_until_header(&base);
    lines.extend([c(&format!("00 {:08X}", new.len())), d("42")]);
    play(&mut cl, &lines);
    let running = ferrota_ota::delta::ImageId::of(&base);
    assert!(events(&mut cl).contains(&Event::NoDelta(NoDelta::UnknownBase(running))));
    // A patch no smaller than the image.
    let mut cl = Client::new(image.clone(), None, [0x5A; 32]);
    let big = Arc::new(vec![0u8; 20_000]);
    cl.set_patch_source(Arc::new(move |_| Some(big.clone())));
    play(&mut cl, &lines);
    assert!(events(&mut cl).contains(&Event::NoDelta(NoDelta::NotSmaller { size: 20_000 })));
    // A device that can't tell what it runs (zeros): the source is not even asked.
    let mut cl = Client::new(image, None, [0x5A; 32]);
    cl.set_patch_source(Arc::new(|_| panic!("asked for a base the device did not name")));
    play(&mut cl, &[c(MAGIC), d("0002"), c("D7"), d("4880 41"), d(&"00".repeat(36)), c(&format!("00 {:08X}", new.len()))]);
}

#[test]
fn the_running_image_record_is_not_read_as_status_bytes() {
    // A SHA-256 starting with 0x8B would be MD5_MISMATCH as a status byte.
    let mut record = [0x8Bu8; 36];
    record[32..].copy_from_slice(&1000u32.to_be_bytes());
    let mut cl = client(IMAGE21, None, ALL_FEATURES);
    play(&mut cl, &[c(MAGIC), d("0002"), c("D7"), d("4880 41"), d(&hex_of(&record)), c("00 00000015"), d("42")]);
    assert_eq!(cl.outcome(), None);
}

#[test]
fn a_device_refusing_the_patch_base_is_a_clear_error() {
    let base = ferrota_test_support::sample(9_000, 1);
    let image = Arc::new(Image::new(ferrota_test_support::sample(9_000, 2)));
    let mut cl = Client::new(image.clone(), None, [0x5A; 32]);
    cl.set_patch_source(Arc::new(|_| Some(Arc::new(vec![1u8; 100]))));
    let mut lines = delta_device_until_header(&base);
    lines.extend([c(&format!("80 {:08X} {:08X}", 100, 9_000)), d("42"), ca(image.md5_hex()), d("43"), cb(&[1u8; 100]), d("F0")]);
    play(&mut cl, &lines);
    let err = cl.outcome().unwrap().clone().unwrap_err();
    assert_eq!(err, UploadError::Device { step: Step::Chunk, code: 0xF0 });
    assert!(err.to_string().contains("FERROTA_PATCH_BASE_MISMATCH"), "{err}");
}
