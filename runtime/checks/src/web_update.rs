//! The web server's `POST /update` (`ferrota_ota::web_update`): multipart parsing, Basic auth,
//! bounded buffers, every way a request can go wrong.

use alloc::string::String;
use alloc::vec::Vec;
use alloc::{format, vec};
use ferrota_ota::error::FlashError;
use ferrota_ota::events::Event;
use ferrota_ota::web_update::*;
use crate::support::{MemFlash, INFO};

const CREDS: Credentials<'static> = Credentials { username: "admin", password: "hunter2" };

fn body(boundary: &str, image: &[u8]) -> Vec<u8> {
    [
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"update\"; filename=\"firmware.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes(),
        image.to_vec(),
        format!("\r\n--{boundary}--\r\n").into_bytes(),
    ]
    .concat()
}

fn request(auth: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut head = format!("POST /update HTTP/1.1\r\nHost: dev\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n", body.len());
    if let Some(a) = auth {
        head.push_str(&format!("Authorization: Basic {a}\r\n"));
    }
    head.push_str("\r\n");
    [head.into_bytes(), body.to_vec()].concat()
}

fn run(creds: Option<Credentials<'static>>, input: &[u8]) -> (Option<Outcome>, String, MemFlash) {
    run_on(MemFlash::default(), creds, input)
}

fn run_on(mut mem: MemFlash, creds: Option<Credentials<'static>>, input: &[u8]) -> (Option<Outcome>, String, MemFlash) {
    let mut w = WebUpdate::new(0, &mut mem, creds, INFO);
    w.handle_input(0, input);
    let mut reply = Vec::new();
    let mut out = [0u8; 100];
    while w.has_transmit() {
        let n = w.poll_transmit(&mut out);
        reply.extend_from_slice(&out[..n]);
    }
    let outcome = w.outcome();
    drop(w);
    (outcome, String::from_utf8_lossy(&reply).into_owned(), mem)
}

const OK: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 18\r\nConnection: close\r\n\r\nUpdate Successful!";
/// ESPHome's failure reply, then why on its own line.
fn failed(why: &str) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\nUpdate Failed!\n{why}", 15 + why.len())
}

checks! {
    fn an_upload_with_basic_auth() {
        let image: Vec<u8> = (0..5000u32).map(|i| if i % 7 == 0 { b'\r' } else { (i % 251) as u8 }).collect();
        let body = body("XyZ", &image);
        let (outcome, reply, flash) = run(Some(CREDS), &request(Some("YWRtaW46aHVudGVyMg=="), &body));
        assert_eq!(reply, OK);
        assert_eq!(outcome, Some(Outcome::Updated));
        assert_eq!(flash.committed.as_deref(), Some(&image[..]));
        assert_eq!(flash.begun_with, Some(body.len() as u32));

        // Committed as soon as the delimiter is in, before the close delimiter's `--`.
        let req = request(Some("YWRtaW46aHVudGVyMg=="), &body);
        let mut w = WebUpdate::new(0, MemFlash::default(), Some(CREDS), INFO);
        w.handle_input(0, &req[..req.len() - 4]);
        assert!(w.is_committed() && w.outcome().is_none());
        w.handle_input(0, &req[req.len() - 4..]);
        assert_eq!(w.outcome(), Some(Outcome::Updated));
    }

    fn content_that_almost_is_a_delimiter() {
        let image = b"a\r\n--XyYb\r\n--Xy\r\r\n-\r\n--X\r\n\r\n--Xy".to_vec();
        // (a full `\r\n--XyZ` cannot be content: that is multipart's rule; the image may end
        // in the delimiter's prefix without CRLF, though.)
        let (outcome, reply, flash) = run(None, &request(None, &body("XyZ", &image)));
        assert_eq!((outcome, reply.as_str()), (Some(Outcome::Updated), OK));
        assert_eq!(flash.committed.unwrap(), image);
    }

    fn wrong_or_missing_auth_is_401_and_the_body_is_discarded() {
        let unauthorized = "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\nWWW-Authenticate: Basic realm=\"Login Required\"\r\n\r\nUnauthorized";
        // none, admin:wrong, not base64, admin:hunter22, hunter2 alone, Digest scheme
        for auth in [None, Some("YWRtaW46d3Jvbmc="), Some("!!!"), Some("YWRtaW46aHVudGVyMjI="), Some("aHVudGVyMg==")] {
            let (outcome, reply, flash) = run(Some(CREDS), &request(auth, &body("XyZ", b"image")));
            assert_eq!(reply, unauthorized, "{auth:?}");
            assert_eq!(outcome, Some(Outcome::Rejected(401)));
            assert_eq!(flash.begun_with, None);
        }
        // Unpadded base64 of the right credentials is fine.
        let (outcome, ..) = run(Some(CREDS), &request(Some("YWRtaW46aHVudGVyMg"), &body("XyZ", b"image")));
        assert_eq!(outcome, Some(Outcome::Updated));
    }

    fn no_credentials_means_no_auth() {
        let (outcome, reply, _) = run(Some(Credentials { username: "", password: "" }), &request(None, &body("XyZ", b"image")));
        assert_eq!((outcome, reply.as_str()), (Some(Outcome::Updated), OK));
    }

    fn a_rejected_image_fails() {
        let (outcome, reply, flash) = run_on(MemFlash { fail_finish: Some(FlashError::UpdateEnd), ..MemFlash::default() }, None, &request(None, &body("XyZ", b"BAD image")));
        assert_eq!((outcome, reply), (Some(Outcome::Failed), failed("the file is not a firmware image for this device, or it is incomplete")));
        assert!(flash.committed.is_none());
    }

    fn missing_or_bad_boundary_is_400() {
        for ct in ["multipart/form-data", "multipart/form-data; boundary=", "text/plain; boundary=XyZ", "application/octet-stream"] {
            let body = body("XyZ", b"image");
            let req = format!("POST /update HTTP/1.1\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n", body.len());
            let (outcome, reply, flash) = run(None, &[req.as_bytes(), &body].concat());
            assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{ct}: {reply}");
            assert_eq!(outcome, Some(Outcome::Rejected(400)));
            assert_eq!(flash.begun_with, None);
        }
        // A quoted boundary is fine.
        let body = body("a b", b"image");
        let req = format!("POST /update HTTP/1.1\r\ncontent-type: Multipart/Form-Data; charset=x; boundary=\"a b\"\r\ncontent-length: {}\r\n\r\n", body.len());
        assert_eq!(run(None, &[req.as_bytes(), &body].concat()).0, Some(Outcome::Updated));
    }

    fn length_required_not_found_and_malformed() {
        let (o, r, _) = run(None, b"POST /update HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: multipart/form-data; boundary=x\r\n\r\n");
        assert_eq!(o, Some(Outcome::Rejected(411)));
        assert!(r.starts_with("HTTP/1.1 411 Length Required\r\n"));
        let (o, r, _) = run(None, b"POST /other HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
        assert_eq!(o, Some(Outcome::Rejected(404)));
        assert_eq!(r, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\nNot Found");
        for bad in [&b"garbage\r\n\r\n"[..], b"POST /update HTTP/1.1\r\nno colon\r\n\r\n", b"POST /update HTTP/1.1\r\nContent-Length: x\r\n\r\n", b"POST update HTTP/1.1\r\n\r\n"] {
            assert_eq!(run(None, bad).0, Some(Outcome::Rejected(400)), "{}", String::from_utf8_lossy(bad));
        }
        let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
        huge.resize(MAX_HEAD + 10, b'a');
        let (o, r, _) = run(None, &huge);
        assert_eq!(o, Some(Outcome::Rejected(431)));
        assert!(r.starts_with("HTTP/1.1 431 "));
    }

    fn get_serves_the_page() {
        for path in ["/", "/update"] {
            let (o, r, _) = run(None, format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
            assert_eq!(o, Some(Outcome::Served));
            let (head, page) = r.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"), "{head}");
            assert!(head.contains(&format!("Content-Length: {}\r\n", page.len())), "{head}");
            // The plain form any browser can post, and the device's facts, escaped.
            assert!(page.contains("<form id=\"upload\" method=\"POST\" action=\"/update\" enctype=\"multipart/form-data\">"));
            assert!(page.contains("<input type=\"file\" name=\"update\""));
            assert!(page.contains("<title>Kitchen &lt;Lights&gt; &amp; &quot;Fan&quot;</title>"), "{page}");
            assert!(page.contains(">kitchen</code>") && page.contains("0123456789abcdef0123456789abcdef") && page.contains("2026-12-02 21:30 UTC"));
            assert!(!page.contains("{{"), "a marker was left in the page");
        }
        assert_eq!(run(Some(CREDS), b"GET / HTTP/1.1\r\n\r\n").0, Some(Outcome::Rejected(401)));
    }

    fn the_page_comes_out_whole_through_any_buffer() {
        let whole = ferrota_ota::web_page::PageWriter::new(INFO);
        let len = whole.len();
        for size in [1, 2, 5, 9, 13, 64, 4096] {
            let mut writer = ferrota_ota::web_page::PageWriter::new(INFO);
            let mut page = Vec::new();
            let mut buf = vec![0u8; size];
            while !writer.is_done() {
                let n = writer.write(&mut buf);
                assert!(n > 0, "no progress with a {size}-byte buffer");
                page.extend_from_slice(&buf[..n]);
            }
            assert_eq!(page.len(), len, "{size}-byte buffer");
            assert!(core::str::from_utf8(&page).unwrap().ends_with("</html>\n"));
        }
        let safe = ferrota_ota::web_page::DeviceInfo { safe_mode: true, image_md5: "", friendly_name: "", ..INFO };
        let mut writer = ferrota_ota::web_page::PageWriter::new(safe);
        let mut buf = vec![0u8; 16 * 1024];
        let n = writer.write(&mut buf);
        let page = core::str::from_utf8(&buf[..n]).unwrap();
        assert!(page.contains("Safe mode: only updates run") && page.contains("<title>kitchen</title>") && page.contains(">unknown</code>"), "{page}");
    }

    fn a_body_that_ends_early_or_a_disconnect_aborts() {
        let full = request(None, &body("XyZ", b"image bytes"));
        let mut short = full.clone();
        let cut = short.len() - 8;
        short.truncate(cut);
        let mut w = WebUpdate::new(0, MemFlash::default(), None, INFO);
        w.handle_input(0, &short);
        assert_eq!(w.outcome(), None);
        w.handle_close();
        assert_eq!(w.outcome(), Some(Outcome::Disconnected));
        assert!(w.flash().aborted && w.flash().committed.is_none());
        // A client that only closed its side still reads why.
        let mut out = [0u8; 512];
        let n = w.poll_transmit(&mut out);
        assert_eq!(core::str::from_utf8(&out[..n]).unwrap(), failed("the upload ended before the whole file arrived"));

        // Content-Length smaller than the multipart: the image never ends.
        let body = body("XyZ", b"image bytes");
        let req = format!("POST /update HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\r\n", body.len() - 10);
        let (o, r, f) = run(None, &[req.as_bytes(), &body].concat());
        assert_eq!((o, r), (Some(Outcome::Failed), failed("the upload ended before the whole file arrived")));
        assert!(f.aborted);
    }

    fn a_body_without_its_boundary_fails_saying_so() {
        let body = body("OTHER", b"image bytes");
        let (o, r, f) = run(None, &request(None, &body));
        assert_eq!((o, r), (Some(Outcome::Failed), failed("the body has no part with the boundary its Content-Type names")));
        assert_eq!(f.begun_with, None);
    }

    fn a_connection_gives_way_only_while_idle_or_answered() {
        let mut w = WebUpdate::new(0, MemFlash::default(), None, INFO);
        assert!(w.can_give_way(), "nothing asked yet");
        let req = request(None, &body("XyZ", b"image bytes"));
        w.handle_input(0, &req[..req.len() - 20]);
        assert!(!w.can_give_way(), "an image under way");
        let mut refused = WebUpdate::new(0, MemFlash { fail_begin: Some(FlashError::NotEnoughSpace), ..MemFlash::default() }, None, INFO);
        refused.handle_input(0, &req[..req.len() - 20]);
        assert!(!refused.can_give_way(), "its reply is not sent yet");
        let mut out = [0u8; 512];
        while refused.has_transmit() {
            refused.poll_transmit(&mut out);
        }
        assert!(refused.can_give_way(), "answered; the rest of the body only drains");
    }

    fn the_busy_reply_is_well_formed() {
        let reply = core::str::from_utf8(BUSY_REPLY).unwrap();
        let (head, body) = reply.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 ") && head.contains(&format!("Content-Length: {}\r\n", body.len())), "{head}");
    }

    fn parts_without_a_filename_are_skipped_and_no_file_fails() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nvalue\r\n--XyZ  \r\ncontent-disposition: form-data; name=\"f\"; FILENAME=\"a\"\r\n\r\nIMG\r\n--XyZ--\r\nepilogue";
        let (o, r, f) = run(None, &request(None, body));
        assert_eq!((o, r.as_str()), (Some(Outcome::Updated), OK));
        assert_eq!(f.committed.as_deref(), Some(&b"IMG"[..]));
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nvalue\r\n--XyZ--\r\n";
        let (o, r, f) = run(None, &request(None, body));
        assert_eq!((o, r), (Some(Outcome::Failed), failed("the form holds no file")));
        assert_eq!(f.begun_with, None);
    }

    fn expect_100_continue() {
        let body = body("XyZ", b"image");
        let req = format!("POST /update HTTP/1.1\r\nExpect: 100-continue\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\r\n", body.len());
        let (o, r, _) = run(None, &[req.as_bytes(), &body].concat());
        assert_eq!(o, Some(Outcome::Updated));
        assert_eq!(r, format!("HTTP/1.1 100 Continue\r\n\r\n{OK}"));
    }

    fn flash_writes_are_gathered() {
        let image = vec![b'\r'; 4000];
        let (o, _, f) = run(None, &request(None, &body("XyZ", &image)));
        assert_eq!(o, Some(Outcome::Updated));
        assert_eq!(f.committed.unwrap(), image);
        assert!(f.writes <= 4000 / STAGE + 1, "{} writes", f.writes);
    }

    /// The idle limit, quinn-style with a simulated clock: it counts from the last input (or
    /// the connection), and a silent client with half an image is dropped and the image aborted.
    fn a_silent_client_is_dropped_after_the_idle_limit() {
        let image = vec![7u8; 3000];
        let req = request(None, &body("XyZ", &image));
        let mut w = WebUpdate::new(1_000, MemFlash::default(), None, INFO);
        assert_eq!(w.poll_timeout(), Some(1_000 + IDLE_TIMEOUT_MS));
        w.handle_input(5_000, &req[..req.len() / 2]);
        assert!(w.is_receiving_image());
        assert_eq!(w.poll_timeout(), Some(5_000 + IDLE_TIMEOUT_MS));
        w.handle_timeout(5_000 + IDLE_TIMEOUT_MS - 1);
        assert_eq!(w.outcome(), None, "not yet");
        w.handle_timeout(5_000 + IDLE_TIMEOUT_MS);
        assert_eq!(w.outcome(), Some(Outcome::Disconnected));
        assert!(w.flash().aborted && w.flash().committed.is_none());
        assert!(core::iter::from_fn(|| w.poll_event()).any(|e| e == Event::Aborted));
        assert_eq!(w.poll_timeout(), None, "over: no more timeouts");

        // A client that finishes in time is not affected by a later timeout.
        let mut w = WebUpdate::new(0, MemFlash::default(), None, INFO);
        w.handle_input(10, &req);
        w.handle_timeout(10 + IDLE_TIMEOUT_MS);
        assert_eq!(w.outcome(), Some(Outcome::Updated));
    }
}
