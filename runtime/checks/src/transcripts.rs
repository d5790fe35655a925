//! Exact byte transcripts (hex) for every path of spec §1, driven through the sans-IO core.

use crate::support::Line::{Ca, Cb, C, D};
use crate::support::*;
use alloc::string::String;
use alloc::vec::Vec;
use alloc::{format, vec};
use ferrota_ota::delta::ImageId;
use ferrota_ota::exchange::{Ending, Resumable};
use ferrota_ota::protocol::{DATA_TIMEOUT_MS, RESUME_KEEP_MS};
use ferrota_ota::{Event, Flash, FlashError, OtaComponent, OtaConfig, OtaError, ProtocolVersion, Session};

const MAGIC: &str = "6C26F75C45";
const PASSWORD: &str = "superlongpasswordthatnoonewillknow";
const CNONCE: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
/// SHA-256(PASSWORD ‖ ZERO_NONCE ‖ CNONCE), worked out with Python's hashlib.
const RESPONSE: &str = "bb69f6a7ee3a47377ae98f244dbede8e0c4e823209645f6977a6c30858367d34";
/// 21 bytes: the spec's worked example does not say which bytes it hashed, so these stand in.
const IMAGE21: &[u8] = b"ESPHome OTA test data";
const IMAGE21_MD5: &str = "b295924d0ca69ee485a5de18c3222b60";

fn device<F: Flash>(version: ProtocolVersion, password: &str, deflate: bool, flash: F) -> Session<F> {
    let ota = OtaComponent::new(OtaConfig { port: 8082, version, deflate });
    ota.try_set_auth_password(password).unwrap();
    ota.start_session(flash, &mut ZeroRng, 0)
}

fn v2() -> Session<MemFlash> {
    device(ProtocolVersion::V2, "", false, MemFlash::default())
}

fn hex_ascii(s: &str) -> String {
    to_hex(s.as_bytes())
}

/// A delta client (features 0x84) up to the device's `43`, the device running `running`.
fn delta_head<'a>(running: &[u8], patch: &[u8], new: &[u8]) -> Vec<Line<'a>> {
    let record: &'a str = String::leak(to_hex(&ImageId::of(running).to_bytes()));
    let sizes: &'a str = String::leak(format!("{:08x}{:08x}", patch.len(), new.len()));
    let md5: &'a str = String::leak(md5_hex(new));
    vec![C(MAGIC), D("0002"), C("84"), D("4880"), D("41"), D(record), C("80"), C(sizes), D("42"), Ca(md5), D("43")]
}

/// `payload` in 8 KiB blocks with version 2's acks, ending with `44 45`.
fn blocks(payload: &[u8]) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let pieces: Vec<&[u8]> = payload.chunks(8192).collect();
    for (i, piece) in pieces.iter().enumerate() {
        lines.push(Cb(piece));
        lines.push(D(if i + 1 == pieces.len() { "47 44 45" } else { "47" }));
    }
    lines
}

checks! {
    fn spec_worked_example_unauthenticated_v2() {
        let s = play(
            v2(),
            0,
            &[C(MAGIC), D("0002"), C("01"), D("40"), D("41"), C("00000015"), D("42"), Ca(IMAGE21_MD5), D("43"), Cb(IMAGE21), D("47"), D("44"), D("45")],
        );
        assert_eq!(s.outcome(), None, "waits for the final ack");
        assert_eq!(s.flash().committed.as_deref(), Some(IMAGE21));
        assert!(s.is_committed());
        let mut s = play(s, 0, &[C("00")]);
        assert_eq!(outcome(&s), Ok(()));
        assert!(s.is_committed());
        assert_eq!(events(&mut s), [Event::Started, Event::Progress(100.0), Event::Completed]);
    }

    fn spec_worked_example_md5_with_other_bytes_is_a_mismatch() {
        let image = [0x5Au8; 21];
        let mut s = play(
            v2(),
            0,
            &[C(MAGIC), D("0002"), C("01"), D("4041"), C("00000015"), D("42"), Ca("eb88f5c42cca72e72227de1655f75666"), D("43"), Cb(&image), D("47 44 8B")],
        );
        assert_eq!(outcome(&s), Err(OtaError::Md5Mismatch));
        assert!(s.flash().aborted && s.flash().committed.is_none());
        assert!(!s.is_committed());
        assert_eq!(events(&mut s), [Event::Started, Event::Progress(100.0), Event::Error(0x8B)]);
    }

    fn version_1_streams_without_chunk_acks() {
        let image: Vec<u8> = (0..10240u32).map(|i| (i % 256) as u8).collect();
        let s = play(
            device(ProtocolVersion::V1, "", false, MemFlash::default()),
            0,
            &[C(MAGIC), D("0001"), C("01"), D("4041"), C("00002800"), D("42"), Ca("c3cd26e07e555c0116db237fbc06d99c"), D("43"), Cb(&image[..8192]), Cb(&image[8192..]), D("4445"), C("00")],
        );
        assert_eq!(outcome(&s), Ok(()));
        assert_eq!(s.flash().committed.as_deref(), Some(&image[..]));
    }

    fn version_2_sends_one_ack_per_block_plus_one_for_a_partial_block() {
        for (size, acks) in [(8192usize, 1usize), (8193, 2), (100_000, 13), (1, 1)] {
            let image = sample(size, 7);
            let mut s = play(v2(), 0, &[C(MAGIC), D("0002"), C("01"), D("4041"), C(&format!("{size:08x}")), D("42"), Ca(&md5_hex(&image)), D("43")]);
            let mut out = Vec::new();
            for block in image.chunks(8192) {
                s.handle_input(0, block);
                out.extend(drain(&mut s));
            }
            let mut expected = vec![0x47; acks];
            expected.extend([0x44, 0x45]);
            assert_eq!(to_hex(&out), to_hex(&expected), "size {size}");
            // Each full block is acked as soon as it is in: the client waits for it.
            assert_eq!(s.flash().committed.as_deref(), Some(&image[..]));
        }
    }

    fn an_empty_image_is_refused_with_84_not_committed() {
        // Size 0 with the MD5 of nothing: committing it would boot whatever the slot held before.
        let s = play(
            v2(),
            0,
            &[C(MAGIC), D("0002"), C("01"), D("4041"), C("00000000"), D("42"), Ca("d41d8cd98f00b204e9800998ecf8427e"), D("43 44 84")],
        );
        assert_eq!(outcome(&s), Err(OtaError::Flash(FlashError::UpdateEnd)));
        assert!(s.flash().committed.is_none());
    }

    fn sha256_auth_then_upload() {
        let s = play(
            device(ProtocolVersion::V2, PASSWORD, false, MemFlash::default()),
            0,
            &[C(MAGIC), D("0002"), C("03"), D("40"), D("02"), D(&hex_ascii(ZERO_NONCE)), Ca(CNONCE), Ca(RESPONSE), D("41"), C("00000015"), D("42"), Ca(IMAGE21_MD5), D("43"), Cb(IMAGE21), D("474445"), C("00")],
        );
        assert_eq!(outcome(&s), Ok(()));
    }

    fn auth_response_in_uppercase_hex_is_accepted() {
        let s = play(
            device(ProtocolVersion::V2, PASSWORD, false, MemFlash::default()),
            0,
            &[C(MAGIC), D("0002"), C("03"), D("4002"), D(&hex_ascii(ZERO_NONCE)), Ca(CNONCE), Ca(&RESPONSE.to_uppercase()), D("41")],
        );
        assert_eq!(s.outcome(), None);
    }

    fn wrong_password_gets_82_and_close() {
        let wrong = "0".repeat(64);
        let mut s = play(
            device(ProtocolVersion::V2, PASSWORD, false, MemFlash::default()),
            0,
            &[C(MAGIC), D("0002"), C("03"), D("4002"), D(&hex_ascii(ZERO_NONCE)), Ca(CNONCE), Ca(&wrong), D("82"), C("00000015")],
        );
        assert_eq!(outcome(&s), Err(OtaError::AuthInvalid));
        assert_eq!(s.flash().begun_with, None);
        assert_eq!(events(&mut s), [Event::Error(0x82)], "no on_begin before auth");
    }

    fn password_and_a_client_without_sha256_gets_82_like_esphome_2026() {
        let s = play(device(ProtocolVersion::V2, PASSWORD, false, MemFlash::default()), 0, &[C(MAGIC), D("0002"), C("01"), D("40 82")]);
        assert_eq!(outcome(&s), Err(OtaError::Sha256Required));
    }

    fn empty_runtime_password_turns_auth_off() {
        let ota = OtaComponent::new(OtaConfig::new(8082));
        ota.try_set_auth_password(PASSWORD).unwrap();
        assert!(ota.has_password());
        ota.try_set_auth_password("").unwrap();
        let s = play(ota.start_session(MemFlash::default(), &mut ZeroRng, 0), 0, &[C(MAGIC), D("0002"), C("03"), D("4041")]);
        assert_eq!(s.outcome(), None);
        assert!(ota.try_set_auth_password(&"x".repeat(129)).is_err());
    }

    fn a_password_too_long_to_keep_leaves_the_current_one() {
        let ota = OtaComponent::new(OtaConfig::new(8082));
        ota.set_auth_password(PASSWORD);
        ota.set_auth_password(&"x".repeat(129));
        assert!(ota.has_password(), "the device must not end up unprotected");
        // The old password still guards it: the device asks for SHA-256 auth (with ZeroRng's
        // nonce), it does not answer `41`.
        let sha256_challenge = "400261663535373066356131383130623761663738636166346263373061363630663064663531653432626166393164346465356232333238646530653833646663";
        let s = play(ota.start_session(MemFlash::default(), &mut ZeroRng, 0), 0, &[C(MAGIC), D("0002"), C("03"), D(sha256_challenge)]);
        assert_eq!(s.outcome(), None);
    }

    fn extended_client_gets_48_flags_and_sends_a_type_byte() {
        let s = play(
            device(ProtocolVersion::V2, "", false, MemFlash::default()),
            0,
            &[C(MAGIC), D("0002"), C("17"), D("4800"), D("41"), C("00"), C("00000015"), D("42"), Ca(IMAGE21_MD5), D("43"), Cb(IMAGE21), D("474445"), C("00")],
        );
        assert_eq!(outcome(&s), Ok(()));
    }

    fn extended_client_asking_for_a_partition_table_gets_8e() {
        let s = play(device(ProtocolVersion::V2, "", true, MemFlash::default()), 0, &[C(MAGIC), D("0002"), C("07"), D("4800 41"), C("01"), D("8E")]);
        assert_eq!(outcome(&s), Err(OtaError::UnsupportedOtaType(1)));
    }

    fn deflate_is_offered_only_through_the_extended_protocol() {
        // 0x11: deflate bit without the extended bit.
        let s = play(device(ProtocolVersion::V2, "", true, MemFlash::default()), 0, &[C(MAGIC), D("0002"), C("11"), D("4041")]);
        assert_eq!(s.outcome(), None);
        // 0x07: extended without deflate: flags 00 and a single size.
        play(device(ProtocolVersion::V2, "", true, MemFlash::default()), 0, &[C(MAGIC), D("0002"), C("07"), D("480041"), C("00"), C("00000015"), D("42")]);
    }

    fn deflate_upload_inflates_and_checks_the_md5_of_the_image() {
        let image = sample(50_000, 3);
        let stream = deflated(50_000, 3);
        let sizes = format!("{:08x}{:08x}", stream.len(), image.len());
        let image_md5 = md5_hex(&image);
        let mut lines = vec![C(MAGIC), D("0002"), C("17"), D("4808"), D("41"), C("00"), C(&sizes), D("42"), Ca(&image_md5), D("43")];
        let acks = stream.len().div_ceil(8192);
        let blocks: Vec<&[u8]> = stream.chunks(8192).collect();
        for block in &blocks[..blocks.len() - 1] {
            lines.push(Cb(block));
            lines.push(D("47"));
        }
        lines.push(Cb(blocks[blocks.len() - 1]));
        lines.push(D("474445"));
        lines.push(C("00"));
        let s = play(device(ProtocolVersion::V2, "", true, MemFlash::default()), 0, &lines);
        assert_eq!(outcome(&s), Ok(()));
        assert_eq!(s.flash().begun_with, Some(50_000), "flash gets the inflated size");
        assert_eq!(s.flash().committed.as_deref(), Some(&image[..]));
        assert!(acks >= 2 && stream.len() < image.len());
    }

    fn deflate_stream_that_inflates_to_the_wrong_size_fails_with_ff() {
        let image = sample(5_000, 3);
        let stream = deflated(5_000, 3);
        let sizes = format!("{:08x}{:08x}", stream.len(), image.len() + 1);
        let s = play(
            device(ProtocolVersion::V1, "", true, MemFlash::default()),
            0,
            &[C(MAGIC), D("0001"), C("17"), D("4808 41"), C("00"), C(&sizes), D("42"), Ca(&md5_hex(&image)), D("43"), Cb(stream), D("44 FF")],
        );
        assert_eq!(outcome(&s), Err(OtaError::InvalidDeflateStream));
        assert!(s.flash().aborted && s.flash().committed.is_none());
    }

    fn corrupt_deflate_stream_fails_with_ff_at_once() {
        let s = play(
            device(ProtocolVersion::V2, "", true, MemFlash::default()),
            0,
            &[C(MAGIC), D("0002"), C("17"), D("4808 41"), C("00"), C("00000040 00001000"), D("42"), Ca(IMAGE21_MD5), D("43"), Cb(&[0xFF; 64]), D("FF")],
        );
        assert_eq!(outcome(&s), Err(OtaError::InvalidDeflateStream));
    }

    fn bad_magic_gets_80_and_later_bytes_are_ignored() {
        let mut s = play(v2(), 0, &[C("6C26F75C46"), D("80"), C("6C26F75C45")]);
        assert_eq!(outcome(&s), Err(OtaError::InvalidMagic));
        assert_eq!(events(&mut s), [Event::Error(0x80)]);
    }

    fn flash_failures_send_the_backend_code() {
        let cases = [
            (MemFlash { fail_begin: Some(FlashError::UpdatePrepare), ..Default::default() }, "81"),
            (MemFlash { fail_begin: Some(FlashError::NotEnoughSpace), ..Default::default() }, "89"),
        ];
        for (flash, code) in cases {
            let s = play(device(ProtocolVersion::V2, "", false, flash), 0, &[C(MAGIC), D("0002"), C("01"), D("4041"), C("00000015"), D(code)]);
            assert!(s.outcome().unwrap().is_err());
            assert!(!s.flash().aborted, "abort only after a successful begin");
        }
        let flash = MemFlash { fail_write_after: Some(10), ..Default::default() };
        let s = play(device(ProtocolVersion::V2, "", false, flash), 0, &[C(MAGIC), D("0002"), C("01"), D("4041"), C("00000015"), D("42"), Ca(IMAGE21_MD5), D("43"), Cb(IMAGE21), D("83")]);
        assert_eq!(outcome(&s), Err(OtaError::Flash(FlashError::Write)));
        assert!(s.flash().aborted);
        let flash = MemFlash { fail_finish: Some(FlashError::UpdateEnd), ..Default::default() };
        let s = play(device(ProtocolVersion::V2, "", false, flash), 0, &[C(MAGIC), D("0002"), C("01"), D("4041"), C("00000015"), D("42"), Ca(IMAGE21_MD5), D("43"), Cb(IMAGE21), D("474484")]);
        assert_eq!(outcome(&s), Err(OtaError::Flash(FlashError::UpdateEnd)));
        assert!(s.flash().aborted && s.flash().committed.is_none());
    }

    fn receive_ok_can_be_sent_before_the_image_is_committed() {
        let mut s = play(v2(), 0, &[C(MAGIC), D("0002"), C("01"), D("4041"), C("00000015"), D("42"), Ca(IMAGE21_MD5), D("43")]);
        s.handle_input(0, IMAGE21);
        let mut buf = [0u8; 64];
        let n = s.poll_transmit(&mut buf);
        assert_eq!(to_hex(&buf[..n]), "4744");
        assert!(s.flash().committed.is_none() && !s.is_committed(), "44 is out before finish() runs");
        assert!(s.has_transmit(), "45 is still owed");
        let n = s.poll_transmit(&mut buf);
        assert_eq!(to_hex(&buf[..n]), "45");
        assert_eq!(s.flash().committed.as_deref(), Some(IMAGE21));
        let s = play(s, 0, &[C("00")]);
        assert_eq!(outcome(&s), Ok(()));
    }

    fn a_close_right_after_the_last_byte_still_commits() {
        let mut s = play(v2(), 0, &[C(MAGIC), D("0002"), C("01"), D("4041"), C("00000015"), D("42"), Ca(IMAGE21_MD5), D("43")]);
        s.handle_input(0, IMAGE21);
        s.handle_close();
        assert_eq!(to_hex(&drain(&mut s)), "474445");
        assert_eq!(outcome(&s), Ok(()));
        assert_eq!(s.flash().committed.as_deref(), Some(IMAGE21));
    }

    fn uppercase_image_md5_is_accepted() {
        let s = play(v2(), 0, &[C(MAGIC), D("0002"), C("01"), D("4041"), C("00000015"), D("42"), Ca(&IMAGE21_MD5.to_uppercase()), D("43"), Cb(IMAGE21), D("474445")]);
        assert!(s.flash().committed.is_some());
    }

    fn handshake_times_out_after_20_s() {
        let mut s = play(v2(), 0, &[C(MAGIC), D("0002")]);
        assert_eq!(s.poll_timeout(), Some(20_000));
        s.handle_input(19_000, &[]);
        s.handle_timeout(19_999);
        assert_eq!(s.outcome(), None);
        s.handle_timeout(20_000);
        assert_eq!(to_hex(&drain(&mut s)), "ff");
        assert_eq!(outcome(&s), Err(OtaError::HandshakeTimeout));
    }

    fn data_phase_times_out_after_90_s_of_silence() {
        let mut s = play(v2(), 0, &[C(MAGIC), D("0002"), C("01"), D("4041"), C("00000015"), D("42"), Ca(IMAGE21_MD5), D("43")]);
        s.handle_input(50_000, &IMAGE21[..5]);
        assert_eq!(s.poll_timeout(), Some(140_000));
        s.handle_timeout(139_999);
        assert_eq!(s.outcome(), None, "the handshake watchdog no longer applies");
        s.handle_timeout(140_000);
        assert_eq!(to_hex(&drain(&mut s)), "ff");
        assert_eq!(outcome(&s), Err(OtaError::DataTimeout));
        assert!(s.flash().aborted);
    }

    fn a_missing_final_ack_or_a_close_after_45_still_completes() {
        let lines = [C(MAGIC), D("0002"), C("01"), D("4041"), C("00000015"), D("42"), Ca(IMAGE21_MD5), D("43"), Cb(IMAGE21), D("474445")];
        let mut s = play(v2(), 1_000, &lines);
        assert_eq!(s.poll_timeout(), Some(11_000));
        s.handle_timeout(11_000);
        assert_eq!(outcome(&s), Ok(()));
        let mut s = play(v2(), 0, &lines);
        s.handle_close();
        assert_eq!(outcome(&s), Ok(()));
        assert_eq!(events(&mut s).last(), Some(&Event::Completed));
    }

    fn a_close_during_the_data_phase_aborts_without_an_error_byte() {
        let mut s = play(v2(), 0, &[C(MAGIC), D("0002"), C("01"), D("4041"), C("00000015"), D("42"), Ca(IMAGE21_MD5), D("43"), Cb(&IMAGE21[..20])]);
        s.handle_close();
        assert!(drain(&mut s).is_empty());
        assert_eq!(outcome(&s), Err(OtaError::PeerClosed));
        assert!(s.flash().aborted && s.flash().committed.is_none());
        assert_eq!(events(&mut s).last(), Some(&Event::Error(0xFF)));
    }

    fn progress_is_reported_at_most_once_a_second() {
        let image = sample(50, 1);
        let mut s = play(v2(), 0, &[C(MAGIC), D("0002"), C("01"), D("4041"), C("00000032"), D("42"), Ca(&md5_hex(&image)), D("43")]);
        let mut seen = Vec::new();
        for (i, t) in [0u64, 500, 1000, 1999, 2000].into_iter().enumerate() {
            s.handle_input(t, &image[i * 10..i * 10 + 10]);
            seen.extend(events(&mut s));
        }
        assert_eq!(seen, [Event::Started, Event::Progress(20.0), Event::Progress(60.0), Event::Progress(100.0)]);
    }

    fn resume_continues_a_dropped_upload_where_the_device_says() {
        // 0x44: extended + resume; the device answers flags 0x40 and, after `43`, where to go on.
        let image = sample(20_000, 5);
        let md5 = md5_hex(&image);
        let head = |from: &'static str| [C(MAGIC), D("0002"), C("44"), D("4840"), D("41"), C("00"), C("00004E20"), D("42"), Ca(&md5), D("43"), D(from)];
        let mut flash = MemFlash::default();
        let mut first = play(device(ProtocolVersion::V2, "", false, &mut flash), 0, &[&head("00000000")[..], &[Cb(&image[..10_000]), D("47")]].concat());
        first.handle_close();
        assert_eq!(outcome(&first), Err(OtaError::PeerClosed));
        let parked = first.take_parked().expect("a drop in the data phase parks");
        assert_eq!(parked.received(), 10_000);
        drop(first);
        assert!(!flash.aborted && flash.suspended == 1 && flash.data.len() == 10_000);
        // 10 000 = 0x2710: the rest of block 2 then a short block, each acked once.
        let second = device(ProtocolVersion::V2, "", false, &mut flash).with_parked(Some(parked));
        let mut second = play(second, 1, &[&head("00002710")[..], &[Cb(&image[10_000..16_384]), D("47"), Cb(&image[16_384..]), D("474445"), C("00")]].concat());
        assert_eq!(outcome(&second), Ok(()));
        assert!(second.take_parked().is_none());
        assert_eq!(flash.committed.as_deref(), Some(&image[..]));
    }

    fn resume_of_a_deflate_upload_keeps_the_inflater_and_the_md5() {
        let image = sample(50_000, 3);
        let stream = deflated(50_000, 3);
        let sizes = format!("{:08x}{:08x}", stream.len(), image.len());
        let md5 = md5_hex(&image);
        let mut flash = MemFlash::default();
        // Cut at an odd place inside the second block.
        let cut = 8192 + 777;
        let mut lines = vec![C(MAGIC), D("0002"), C("57"), D("4848"), D("41"), C("00"), C(&sizes), D("42"), Ca(&md5), D("43 00000000"), Cb(&stream[..8192]), D("47"), Cb(&stream[8192..cut])];
        let mut first = play(device(ProtocolVersion::V2, "", true, &mut flash), 0, &lines);
        first.handle_timeout(DATA_TIMEOUT_MS);
        assert_eq!(outcome(&first), Err(OtaError::DataTimeout));
        let parked = first.take_parked().expect("a silent client parks too");
        drop(first);
        let from = format!("43 {cut:08x}");
        lines = vec![C(MAGIC), D("0002"), C("57"), D("4848"), D("41"), C("00"), C(&sizes), D("42"), Ca(&md5), D(&from)];
        let mut at = cut;
        for end in (16_384..stream.len()).step_by(8192).chain([stream.len()]) {
            lines.push(Cb(&stream[at..end]));
            lines.push(D("47"));
            at = end;
        }
        lines.push(D("4445"));
        lines.push(C("00"));
        let second = play(device(ProtocolVersion::V2, "", true, &mut flash).with_parked(Some(parked)), 1, &lines);
        assert_eq!(outcome(&second), Ok(()));
        drop(second);
        assert_eq!(flash.committed.as_deref(), Some(&image[..]));
    }

    fn another_image_starts_afresh_and_drops_what_was_parked() {
        let (a, b) = (sample(9_000, 1), sample(9_000, 2));
        let mut flash = MemFlash::default();
        let mut first = play(
            device(ProtocolVersion::V2, "", false, &mut flash),
            0,
            &[C(MAGIC), D("0002"), C("44"), D("4840"), D("41"), C("00"), C("00002328"), D("42"), Ca(&md5_hex(&a)), D("43 00000000"), Cb(&a[..5_000])],
        );
        first.handle_close();
        let parked = first.take_parked();
        drop(first);
        // Same size, other MD5: offset 0, the flash begun again.
        let mut second = play(
            device(ProtocolVersion::V2, "", false, &mut flash).with_parked(parked),
            1,
            &[C(MAGIC), D("0002"), C("44"), D("4840"), D("41"), C("00"), C("00002328"), D("42"), Ca(&md5_hex(&b)), D("43 00000000"), Cb(&b[..8192]), D("47"), Cb(&b[8192..]), D("474445"), C("00")],
        );
        assert_eq!(outcome(&second), Ok(()));
        assert!(second.take_parked().is_none());
        drop(second);
        assert_eq!(flash.committed.as_deref(), Some(&b[..]));
    }

    fn a_session_that_never_begins_leaves_the_parked_upload() {
        let image = sample(9_000, 1);
        let mut flash = MemFlash::default();
        let mut first = play(
            device(ProtocolVersion::V2, "", false, &mut flash),
            0,
            &[C(MAGIC), D("0002"), C("44"), D("4840"), D("41"), C("00"), C("00002328"), D("42"), Ca(&md5_hex(&image)), D("43 00000000"), Cb(&image[..5_000])],
        );
        first.handle_close();
        let parked = first.take_parked();
        drop(first);
        // A port scanner, then a client with the wrong password: neither touches the flash.
        let mut scan = play(device(ProtocolVersion::V2, "", false, &mut flash).with_parked(parked), 1, &[C("00000000 00"), D("80")]);
        let parked = scan.take_parked();
        drop(scan);
        let mut wrong = play(device(ProtocolVersion::V2, PASSWORD, false, &mut flash).with_parked(parked), 2, &[C(MAGIC), D("0002"), C("46"), D("4840 02"), D(&hex_ascii(ZERO_NONCE)), Ca(CNONCE), Ca(&"0".repeat(64)), D("82")]);
        let parked = wrong.take_parked();
        drop(wrong);
        assert_eq!(parked.as_ref().map(|p| p.received()), Some(5_000));
        assert!(!flash.aborted);
    }

    fn a_client_without_resume_gets_no_offset_and_its_drop_aborts() {
        let image = sample(9_000, 1);
        let mut s = play(
            device(ProtocolVersion::V2, "", false, MemFlash::default()),
            0,
            &[C(MAGIC), D("0002"), C("07"), D("4800"), D("41"), C("00"), C("00002328"), D("42"), Ca(&md5_hex(&image)), D("43"), Cb(&image[..5_000])],
        );
        s.handle_close();
        assert!(s.take_parked().is_none());
        assert!(s.flash().aborted && s.flash().suspended == 0);
    }

    fn a_parked_upload_expires_and_a_web_upload_drops_it() {
        let image = sample(9_000, 1);
        let mut s = play(
            device(ProtocolVersion::V2, "", false, MemFlash::default()),
            7,
            &[C(MAGIC), D("0002"), C("44"), D("4840"), D("41"), C("00"), C("00002328"), D("42"), Ca(&md5_hex(&image)), D("43 00000000"), Cb(&image[..100])],
        );
        s.handle_close();
        // What every device loop keeps between connections (`exchange::Resumable`).
        let mut kept = Resumable::default();
        assert_eq!(kept.keep(s.take_parked()), Some(100));
        assert!(!kept.expire(7 + RESUME_KEEP_MS - 1));
        // A page served is no upload; an upload through the page (here one it aborted) used the slot.
        kept.web_ended(Ending::Quiet);
        kept.web_ended(Ending::Unauthorized);
        let parked = kept.offer().expect("kept through a page view and a 401");
        kept.keep(Some(parked));
        kept.web_ended(Ending::WebAborted);
        assert!(kept.offer().is_none());
        kept.keep(s.take_parked());
        assert!(!kept.expire(7 + RESUME_KEEP_MS), "nothing left to expire");
        let mut s = play(
            device(ProtocolVersion::V2, "", false, MemFlash::default()),
            7,
            &[C(MAGIC), D("0002"), C("44"), D("4840"), D("41"), C("00"), C("00002328"), D("42"), Ca(&md5_hex(&image)), D("43 00000000"), Cb(&image[..100])],
        );
        s.handle_close();
        kept.keep(s.take_parked());
        assert!(!kept.expire(7 + RESUME_KEEP_MS - 1));
        assert!(kept.expire(7 + RESUME_KEEP_MS), "expired: the loop aborts the flash");
        assert!(kept.offer().is_none());
    }

    fn delta_device_reports_what_it_runs_and_applies_a_patch_against_it() {
        // 0x84: extended + delta; flags 0x80; after `41` the running image's SHA-256 and length.
        let base = sample(20_000, 1);
        let mut new = base.clone();
        new[100] ^= 0xFF;
        new.extend_from_slice(b"a new string at the end");
        let patch = simple_patch(&base, &new);
        let mut lines = delta_head(&base, &patch, &new);
        lines.extend(blocks(&patch));
        lines.push(C("00"));
        let flash = MemFlash { running: base.clone(), ..MemFlash::default() };
        let s = play(device(ProtocolVersion::V2, "", true, flash), 0, &lines);
        assert_eq!(outcome(&s), Ok(()));
        assert_eq!(s.flash().begun_with, Some(new.len() as u32), "flash gets the new image's size");
        assert_eq!(s.flash().committed.as_deref(), Some(&new[..]));
    }

    fn a_patch_for_another_base_is_refused_before_anything_is_written() {
        let (base, running) = (sample(9_000, 1), sample(9_000, 2));
        let new = sample(9_000, 3);
        let patch = simple_patch(&base, &new);
        let mut lines = delta_head(&running, &patch, &new);
        lines.extend([Cb(&patch[..100]), D("F0")]);
        let s = play(device(ProtocolVersion::V2, "", false, MemFlash { running, ..MemFlash::default() }), 0, &lines);
        assert_eq!(outcome(&s), Err(OtaError::PatchBaseMismatch));
        assert_eq!(s.flash().writes, 0);
        assert!(s.flash().aborted && s.flash().committed.is_none());
    }

    fn a_device_that_cannot_tell_what_it_runs_says_zeros_and_takes_no_patch() {
        let (base, new) = (sample(9_000, 1), sample(9_000, 3));
        let patch = simple_patch(&base, &new);
        let sizes = format!("{:08x}{:08x}", patch.len(), new.len());
        let s = play(
            device(ProtocolVersion::V2, "", false, MemFlash::default()),
            0,
            &[C(MAGIC), D("0002"), C("84"), D("4880"), D("41"), D(&"00".repeat(36)), C("80"), C(&sizes), D("42"), Ca(&md5_hex(&new)), D("43"), Cb(&patch[..8192]), D("F0")],
        );
        assert_eq!(outcome(&s), Err(OtaError::PatchBaseMismatch));
        assert_eq!(s.flash().writes, 0);
    }

    fn malformed_patches_fail_with_f1_and_commit_nothing() {
        let base = sample(5_000, 1);
        let new = sample(6_000, 2);
        let cases: [(&str, Vec<u8>, &str); 5] = [
            ("reads past the base", patch_with(&base, 6_000, &record(&[0; 5_001], &[], 0)), "F1"),
            ("seeks before the base", patch_with(&base, 6_000, &[record(&[0; 10], &[], -11), record(&[], &new[10..], 0)].concat()), "F1"),
            ("makes more than announced", patch_with(&base, 6_000, &record(&[], &sample(6_001, 2), 0)), "F1"),
            ("makes less than announced", patch_with(&base, 6_000, &record(&[], &new[..5_999], 0)), "47 44 F1"),
            ("another format version", { let mut p = simple_patch(&base, &new); p[4] = 2; p }, "F1"),
        ];
        for (what, patch, end) in cases {
            let mut lines = delta_head(&base, &patch, &new);
            lines.extend([Cb(&patch), D(end)]);
            let s = play(device(ProtocolVersion::V2, "", false, MemFlash { running: base.clone(), ..MemFlash::default() }), 0, &lines);
            assert_eq!(outcome(&s), Err(OtaError::InvalidPatch), "{what}");
            assert!(s.flash().committed.is_none(), "{what}");
        }
    }

    fn the_patch_type_without_the_delta_flag_gets_8e() {
        let s = play(device(ProtocolVersion::V2, "", false, MemFlash::default()), 0, &[C(MAGIC), D("0002"), C("04"), D("4800 41"), C("80"), D("8E")]);
        assert_eq!(outcome(&s), Err(OtaError::UnsupportedOtaType(0x80)));
    }

    fn a_dropped_patch_upload_resumes_with_the_applier_where_it_was() {
        let base = sample(30_000, 1);
        let mut new = base.clone();
        new[20_000] ^= 1;
        let patch = simple_patch(&base, &new);
        let sizes = format!("{:08x}{:08x}", patch.len(), new.len());
        let md5 = md5_hex(&new);
        let running = to_hex(&ImageId::of(&base).to_bytes());
        let head = |from: &'static str| [C(MAGIC), D("0002"), C("C4"), D("48C0"), D("41"), D(&running), C("80"), C(&sizes), D("42"), Ca(&md5), D(from)];
        let mut flash = MemFlash { running: base.clone(), ..MemFlash::default() };
        let cut = 8192 + 1234;
        let mut first = play(device(ProtocolVersion::V2, "", false, &mut flash), 0, &[&head("43 00000000")[..], &[Cb(&patch[..8192]), D("47"), Cb(&patch[8192..cut])]].concat());
        first.handle_close();
        let parked = first.take_parked();
        drop(first);
        let from: &'static str = String::leak(format!("43 {cut:08x}"));
        let mut lines = head(from).to_vec();
        let rest = &patch[cut..];
        let first_block = 16_384 - cut;
        lines.extend([Cb(&rest[..first_block]), D("47")]);
        lines.extend(blocks(&rest[first_block..]));
        lines.push(C("00"));
        let second = play(device(ProtocolVersion::V2, "", false, &mut flash).with_parked(parked), 1, &lines);
        assert_eq!(outcome(&second), Ok(()));
        drop(second);
        assert_eq!(flash.committed.as_deref(), Some(&new[..]));
    }

    fn session_state_is_small_enough_for_a_microcontroller() {
        // Deflate's decoder tables and 4 KiB window dominate; no allocation happens anywhere.
        let size = core::mem::size_of::<Session<&mut MemFlash>>();
        assert!(size < 24 * 1024, "{size}");
    }
}
