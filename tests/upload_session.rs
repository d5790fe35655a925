//! The TCP session and the retry policy against scripted fake devices on loopback: network
//! failures are retried (bounded, every address in turn), device error bytes never are, and
//! nothing is retried once the whole image was delivered.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrota::upload::errors::{Step, UploadError};
use ferrota::upload::image::Image;
use ferrota::upload::progress::Collect;
use ferrota::upload::protocol::Timeouts;
use ferrota::upload::{session, upload, Request, RetryPolicy};

/// What a fake device does on one connection.
#[derive(Clone, Copy, Debug)]
enum Script {
    /// A full legacy (no EXT, no auth) upload with this protocol version.
    Ok(u8),
    /// Close right after reading the magic.
    DropAfterMagic,
    /// Answer the size with this error byte.
    PrepareError(u8),
    /// Version 1: read this many data bytes, then send the error byte and close.
    MidStreamError(usize, u8),
    /// Version 2: read every data byte, then close without acking the last block.
    CloseAfterAllData,
}

struct Fake {
    port: u16,
    connections: Arc<AtomicUsize>,
}

/// A device that plays `scripts[i]` on its `i`th connection (the last one repeats).
fn fake_device(scripts: Vec<Script>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let i = count.fetch_add(1, Ordering::SeqCst);
            let script = scripts[i.min(scripts.len() - 1)];
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let _ = play(&mut s, script);
        }
    });
    Fake { port, connections }
}

fn read_n(s: &mut impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf)?;
    Ok(buf)
}

fn play(s: &mut std::net::TcpStream, script: Script) -> std::io::Result<()> {
    assert_eq!(read_n(s, 5)?, [0x6C, 0x26, 0xF7, 0x5C, 0x45]);
    if let Script::DropAfterMagic = script {
        return Ok(());
    }
    let version = match script {
        Script::Ok(v) => v,
        Script::MidStreamError(..) => 1,
        _ => 2,
    };
    s.write_all(&[0x00, version])?;
    read_n(s, 1)?;
    s.write_all(&[0x40, 0x41])?;
    let size = u32::from_be_bytes(read_n(s, 4)?.try_into().unwrap()) as usize;
    if let Script::PrepareError(code) = script {
        return s.write_all(&[code]);
    }
    s.write_all(&[0x42])?;
    read_n(s, 32)?;
    s.write_all(&[0x43])?;
    let mut received = 0;
    while received < size {
        let n = (size - received).min(8192);
        read_n(s, n)?;
        received += n;
        match script {
            Script::MidStreamError(after, code) if received >= after => {
                s.write_all(&[code])?;
                // Close gracefully (read what is in flight) so the byte is not lost to a reset.
                s.shutdown(std::net::Shutdown::Write)?;
                let _ = std::io::copy(&mut s.take(1 << 24), &mut std::io::sink());
                return Ok(());
            }
            Script::CloseAfterAllData if received == size => return Ok(()),
            _ => {}
        }
        if version == 2 {
            s.write_all(&[0x47])?;
        }
    }
    s.write_all(&[0x44, 0x45])?;
    assert_eq!(read_n(s, 1)?, [0x00], "final ack");
    Ok(())
}

fn request(hosts: &[&str], port: u16, image_len: usize) -> Request {
    Request {
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        port,
        password: None,
        image: Arc::new(Image::new((0..image_len).map(|i| (i % 253) as u8).collect())),
        retry: RetryPolicy { extra_attempts: 2, delay: Duration::from_millis(10) },
        store: None,
    }
}

#[test]
fn uploads_with_version_1_and_2() {
    for version in [1, 2] {
        let fake = fake_device(vec![Script::Ok(version)]);
        let mut log = Collect::default();
        let addr = upload(&request(&["127.0.0.1"], fake.port, 100_000), &mut log).unwrap();
        assert_eq!(addr.port(), fake.port);
        assert!(log.lines.iter().any(|l| l == &format!("Connection established; device supports OTA version {version}")), "{:?}", log.lines);
        assert_eq!(log.lines.last().unwrap(), "OTA successful");
        assert_eq!(fake.connections.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn a_dropped_connection_is_retried() {
    let fake = fake_device(vec![Script::DropAfterMagic, Script::Ok(2)]);
    let mut log = Collect::default();
    upload(&request(&["127.0.0.1"], fake.port, 20_000), &mut log).unwrap();
    assert_eq!(fake.connections.load(Ordering::SeqCst), 2);
    assert!(log.lines.iter().any(|l| l.starts_with("WARNING receiving version: the device closed the connection")), "{:?}", log.lines);
    assert!(log.lines.iter().any(|l| l.starts_with("Retrying in 0.0 seconds (attempt 2 of 3)")), "{:?}", log.lines);
}

#[test]
fn retries_are_bounded() {
    let fake = fake_device(vec![Script::DropAfterMagic]);
    let err = upload(&request(&["127.0.0.1"], fake.port, 20_000), &mut Collect::default()).unwrap_err();
    assert_eq!(fake.connections.load(Ordering::SeqCst), 3);
    let UploadError::AttemptsExhausted { attempts: 3, last } = &err else { panic!("{err:?}") };
    assert_eq!(**last, UploadError::Closed { step: Step::Version, committed: false });
    assert!(err.to_string().starts_with("upload failed after 3 attempts: receiving version"), "{err}");
}

#[test]
fn device_error_bytes_are_never_retried() {
    let fake = fake_device(vec![Script::PrepareError(0x85), Script::Ok(2)]);
    let err = upload(&request(&["127.0.0.1"], fake.port, 20_000), &mut Collect::default()).unwrap_err();
    assert_eq!(err, UploadError::Device { step: Step::Prepare, code: 0x85 });
    assert!(err.to_string().contains("power-cycle the board once"), "{err}");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(fake.connections.load(Ordering::SeqCst), 1);
}

#[test]
fn nothing_is_retried_once_the_image_was_delivered() {
    let fake = fake_device(vec![Script::CloseAfterAllData, Script::Ok(2)]);
    let err = upload(&request(&["127.0.0.1"], fake.port, 20_000), &mut Collect::default()).unwrap_err();
    assert_eq!(err, UploadError::Closed { step: Step::Chunk, committed: true });
    assert!(err.to_string().contains("may have already committed the update"), "{err}");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(fake.connections.load(Ordering::SeqCst), 1);
}

#[test]
fn a_version_1_error_mid_stream_is_the_device_error() {
    let fake = fake_device(vec![Script::MidStreamError(100_000, 0x83), Script::Ok(1)]);
    let err = upload(&request(&["127.0.0.1"], fake.port, 4 << 20), &mut Collect::default()).unwrap_err();
    assert_eq!(err, UploadError::Device { step: Step::Chunk, code: 0x83 });
    assert_eq!(fake.connections.load(Ordering::SeqCst), 1);
}

#[test]
fn every_address_is_tried_in_turn_without_waiting() {
    // 127.0.0.2 is loopback too, but nothing listens there on this port.
    let fake = fake_device(vec![Script::Ok(2)]);
    let mut req = request(&["127.0.0.2", "127.0.0.1"], fake.port, 10_000);
    req.retry.delay = Duration::from_secs(30);
    let started = Instant::now();
    let mut log = Collect::default();
    let addr = upload(&req, &mut log).unwrap();
    assert_eq!(addr.to_string(), format!("127.0.0.1:{}", fake.port));
    assert!(started.elapsed() < Duration::from_secs(10), "moving to the next address is immediate");
    assert!(log.lines.iter().any(|l| l.starts_with("WARNING connecting to 127.0.0.2:")), "{:?}", log.lines);
}

#[test]
fn a_device_that_stops_reading_times_out_the_write() {
    // A version-1 device that takes the handshake and then never reads the image.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        read_n(&mut s, 5).unwrap();
        s.write_all(&[0x00, 0x01]).unwrap();
        read_n(&mut s, 1).unwrap();
        s.write_all(&[0x40, 0x41]).unwrap();
        read_n(&mut s, 4).unwrap();
        s.write_all(&[0x42]).unwrap();
        read_n(&mut s, 32).unwrap();
        s.write_all(&[0x43]).unwrap();
        std::thread::sleep(Duration::from_secs(60));
    });
    let image = Arc::new(Image::new(vec![0x5A; 64 << 20]));
    let timeouts = Timeouts { handshake: Duration::from_secs(5), data: Duration::from_millis(500) };
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let stream = session::connect(addr).unwrap();
        let _ = done.send(session::run(stream, image, None, timeouts, None, &mut Collect::default()));
    });
    let err = result.recv_timeout(Duration::from_secs(20)).expect("the upload must not block forever").unwrap_err();
    assert!(
        matches!(&err, UploadError::Network { step: Step::Data, message, committed: false, .. } if message == "timed out"),
        "{err:?}"
    );
}
