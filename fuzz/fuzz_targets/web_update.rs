//! Fuzzes the web server's `POST /update` handler with hostile HTTP bytes: it must never panic,
//! must drive the flash only in order (begin, writes, then finish or abort), must commit only
//! with `Update Successful!`, and must report one final event for every upload it began.
//!
//! Input layout: byte 0 picks the setup (bit 0 Basic auth, bit 1 a flash whose writes fail
//! after byte 1 × 64 bytes, bit 2 a flash that refuses the image, bit 3 structured mode).
//! Raw mode: the rest is a sequence of reads, each a length byte and that many bytes; a length
//! byte of 0 advances the clock by 1.5 s instead. Structured mode: a valid upload head (boundary
//! `B`, `Content-Length` of the rest) comes first, so the multipart parser is reached at once.
#![no_main]

use ferrota_fuzz::RecordingFlash;
use ferrota_ota::web_update::{Credentials, Outcome, WebUpdate, SUCCESS_BODY};
use ferrota_ota::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [setup, limit, rest @ ..] = data else { return };
    let credentials = (setup & 1 != 0).then_some(Credentials { username: "admin", password: "hunter2" });
    let flash = RecordingFlash {
        fail_write_after: (setup & 2 != 0).then_some(usize::from(*limit) * 64),
        refuse: setup & 4 != 0,
        ..Default::default()
    };
    let info = ferrota_ota::web_page::DeviceInfo { name: "fuzz", friendly_name: "<&\"'>", version: "0", build_time: "", image_md5: "", safe_mode: setup & 16 != 0 };
    let mut w = WebUpdate::new(0, flash, credentials, info);
    let mut reply = Vec::new();
    let mut events = Vec::new();
    let mut now = 0u64;
    let mut feed = |w: &mut WebUpdate<'_, RecordingFlash>, now: u64, bytes: &[u8]| {
        w.handle_input(now, bytes);
        let mut buf = [0u8; 97];
        while w.has_transmit() {
            let n = w.poll_transmit(&mut buf);
            reply.extend_from_slice(&buf[..n]);
        }
        events.extend(std::iter::from_fn(|| w.poll_event()));
    };
    if setup & 8 != 0 {
        let auth = if credentials.is_some() { "Authorization: Basic YWRtaW46aHVudGVyMg==\r\n" } else { "" };
        let head = format!("POST /update HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=B\r\n{auth}Content-Length: {}\r\n\r\n", rest.len());
        feed(&mut w, now, head.as_bytes());
        for chunk in rest.chunks(1000) {
            now += 300;
            feed(&mut w, now, chunk);
        }
    } else {
        let mut input = rest;
        while let Some((&len, tail)) = input.split_first() {
            if len == 0 {
                now += 1_500;
                input = tail;
                continue;
            }
            let take = tail.len().min(usize::from(len));
            feed(&mut w, now, &tail[..take]);
            input = &tail[take..];
        }
    }
    w.handle_close();
    events.extend(std::iter::from_fn(|| w.poll_event()));

    let outcome = w.outcome().expect("closed connections have an outcome");
    let flash = w.flash();
    assert!(!flash.begun, "the flash was left open");
    let committed = flash.committed.is_some();
    assert_eq!(committed, outcome == Outcome::Updated, "commit {committed} with outcome {outcome:?}");
    if committed {
        assert!(reply.windows(SUCCESS_BODY.len()).any(|w| w == SUCCESS_BODY.as_bytes()), "committed without the success reply");
    }
    let count = |f: fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
    let started = count(|e| matches!(e, Event::Started));
    let finals = count(|e| matches!(e, Event::Completed | Event::Error(_) | Event::Aborted));
    assert!(started <= 1, "{events:?}");
    assert_eq!(finals, started, "one final event per begun upload: {events:?}");
    assert_eq!(count(|e| matches!(e, Event::Completed)), usize::from(committed), "{events:?}");
});
