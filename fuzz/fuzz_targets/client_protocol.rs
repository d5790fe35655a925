//! Fuzzes the upload client with device bytes (a hostile or broken device): it must never
//! panic, never send after it failed, and report success only after the device confirmed the
//! commit (`45`) and every payload byte went out.
//!
//! Input layout: byte 0 picks the setup (bit 0 a password, bits 1-4 the feature byte offered),
//! bytes 1-2 the image size (1 to 65536, deterministic content). The rest is a sequence of
//! steps, each a length byte: 0 drains everything the client has to send, 255 closes the
//! connection, any other n feeds the next n bytes as the device's (then drains).
#![no_main]

use std::sync::Arc;

use ferrota::upload::image::Image;
use ferrota::upload::protocol::{Client, Event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [setup, size_lo, size_hi, steps @ ..] = data else { return };
    let size = usize::from(u16::from_le_bytes([*size_lo, *size_hi])) + 1;
    let image: Vec<u8> = (0..size).map(|i| if i % 512 < 300 { (i * 13 % 251) as u8 } else { b'f' }).collect();
    let password = (setup & 1 != 0).then(|| "fuzz".to_string());
    let features = (setup >> 1) & 0x1F;
    let mut client = Client::with_features(Arc::new(Image::new(image)), password, [9; 32], features);

    let mut device_said = Vec::new();
    let mut payload = (0usize, 0usize); // (sent, total) from the progress events
    let drain = |client: &mut Client| {
        // A bounded number of writes: a client that keeps having bytes would hang here.
        for _ in 0..100_000 {
            let n = client.pending().len();
            if n == 0 {
                break;
            }
            assert!(client.outcome().is_none_or(|o| o.is_ok()), "sending after a failure");
            client.sent(n);
        }
    };
    let mut rest = steps;
    while let Some((&len, tail)) = rest.split_first() {
        match len {
            0 => {
                drain(&mut client);
                rest = tail;
            }
            255 => {
                client.handle_close();
                rest = tail;
            }
            n => {
                let take = tail.len().min(usize::from(n));
                client.handle_input(&tail[..take]);
                device_said.extend_from_slice(&tail[..take]);
                drain(&mut client);
                rest = &tail[take..];
            }
        }
        while let Some(event) = client.poll_event() {
            if let Event::Progress { sent, total } = event {
                assert!(sent <= total && sent >= payload.0, "progress went backwards or past the end");
                payload = (sent, total);
            }
        }
    }
    client.handle_close();
    let outcome = client.outcome().expect("a closed connection ends the session");
    if outcome.is_ok() {
        assert!(device_said.contains(&0x45), "success without the device's 45");
        assert!(payload.1 > 0 && payload.0 == payload.1, "success before the whole payload went out: {payload:?}");
    }
});
