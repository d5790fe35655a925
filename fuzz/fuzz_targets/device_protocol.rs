//! Fuzzes the device state machine with client bytes: it must never panic, and it must never
//! commit an image whose MD5 the client did not announce.
//!
//! Input layout: byte 0 picks the setup (bit 0 version 1, bit 1 password, bit 2 deflate,
//! bit 3 structured mode). Raw mode: the rest is a sequence of reads, each a length byte and
//! that many client bytes; a length byte of 0 advances the clock by 30 s instead. Structured
//! mode: bytes 1-3 give a position and an XOR mask, the rest is an image; a valid upload of
//! that image is built, the byte at the position is XORed, and it is fed in 1000-byte reads.
#![no_main]

use ferrota_fuzz::RecordingFlash;
use ferrota_ota::protocol::image_md5_hex;
use ferrota_ota::{OtaComponent, OtaConfig, ProtocolVersion, Rng};
use libfuzzer_sys::fuzz_target;

struct FixedRng;
impl Rng for FixedRng {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        buf.fill(7);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

fuzz_target!(|data: &[u8]| {
    let Some((&setup, rest)) = data.split_first() else { return };
    let version = if setup & 1 != 0 { ProtocolVersion::V1 } else { ProtocolVersion::V2 };
    let structured = setup & 8 != 0;
    let ota = OtaComponent::new(OtaConfig { port: 1, version, deflate: setup & 4 != 0 });
    if setup & 2 != 0 && !structured {
        ota.set_auth_password("fuzz");
    }
    let mut session = ota.start_session(RecordingFlash::default(), &mut FixedRng, 0);
    let mut now = 0u64;
    let mut sent = Vec::new();
    let mut image = None;
    if structured {
        if rest.len() < 3 {
            return;
        }
        let (pos, mask, img) = (usize::from(u16::from_le_bytes([rest[0], rest[1]])), rest[2], &rest[3..]);
        let mut script = vec![0x6C, 0x26, 0xF7, 0x5C, 0x45, 0x01];
        script.extend((img.len() as u32).to_be_bytes());
        script.extend(image_md5_hex(img));
        script.extend(img);
        script.push(0);
        if let Some(b) = script.get_mut(pos) {
            *b ^= mask;
        }
        for read in script.chunks(1000) {
            session.handle_input(now, read);
        }
        sent = script;
        image = Some(img.to_vec());
    } else {
        let mut input = rest;
        while let Some((&len, tail)) = input.split_first() {
            if len == 0 {
                now += 30_000;
                session.handle_timeout(now);
                input = tail;
                continue;
            }
            let take = usize::from(len).min(tail.len());
            session.handle_input(now, &tail[..take]);
            sent.extend_from_slice(&tail[..take]);
            input = &tail[take..];
            let mut out = [0u8; 17];
            while session.poll_transmit(&mut out) > 0 {}
            while session.poll_event().is_some() {}
        }
    }
    session.handle_close();
    let outcome = session.outcome();
    assert!(outcome.is_some(), "a closed connection always ends the session");
    let flash = session.flash();
    assert!(!flash.begun, "the flash is finished or aborted when the session ends");
    match &flash.committed {
        Some(committed) => {
            assert_eq!(outcome, Some(Ok(())));
            assert!(contains(&sent, &image_md5_hex(committed)), "committed an image whose MD5 was never announced");
            if let Some(image) = image {
                // With one flipped byte an image can still commit only if the flip missed it.
                assert_eq!(committed, &image);
            }
        }
        None => assert!(matches!(outcome, Some(Err(_))), "{outcome:?}"),
    }
});
