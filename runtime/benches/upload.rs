//! Upload throughput into the host device over loopback, and the device's peak memory.
//!
//! Run: `cargo bench -p ferrota-ota --bench upload` (sizes in MiB as arguments, default
//! 4 16 64). For each size it starts the real `ferrota-host-device`, uploads an image with a
//! minimal scripted version-2 client (8192-byte blocks, waiting for each `47`, as espota2 does)
//! and reads VmHWM of the device process from /proc. The image is random data, which the
//! device streams to its staging file and then refuses at the final executable check (`84`),
//! so the process stays up to be measured. Peak memory must stay flat as the image grows.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Instant;

use md5::Digest;

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn image(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9u32;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn read1(s: &mut TcpStream) -> u8 {
    let mut b = [0u8];
    s.read_exact(&mut b).map_or(0xFF, |()| b[0])
}

/// Uploads `image`; returns (seconds for the data phase, the final status byte).
fn upload(port: u16, image: &[u8]) -> (f64, u8) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(&[0x6C, 0x26, 0xF7, 0x5C, 0x45]).unwrap();
    assert_eq!((read1(&mut s), read1(&mut s)), (0x00, 0x02));
    s.write_all(&[0x01]).unwrap();
    assert_eq!((read1(&mut s), read1(&mut s)), (0x40, 0x41));
    s.write_all(&(image.len() as u32).to_be_bytes()).unwrap();
    assert_eq!(read1(&mut s), 0x42);
    let md5: String = md5::Md5::digest(image).iter().map(|b| format!("{b:02x}")).collect();
    s.write_all(md5.as_bytes()).unwrap();
    assert_eq!(read1(&mut s), 0x43);
    let start = Instant::now();
    for block in image.chunks(8192) {
        s.write_all(block).unwrap();
        assert_eq!(read1(&mut s), 0x47);
    }
    assert_eq!(read1(&mut s), 0x44);
    let secs = start.elapsed().as_secs_f64();
    (secs, read1(&mut s))
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![4, 16, 64] } else { sizes };
    let exe = env!("CARGO_BIN_EXE_ferrota-host-device");
    println!("{:>8} {:>10} {:>16} {:>16} {:>8}", "MiB", "MB/s", "VmHWM before KiB", "VmHWM after KiB", "status");
    for mib in sizes {
        let dir = std::env::temp_dir().join(format!("ferrota-bench-{}-{mib}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut supervisor = Command::new(exe)
            .args(["--port", &port.to_string(), "--state-dir", dir.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(supervisor.stdout.take().unwrap()).lines().map_while(Result::ok);
        let pid: u32 = lines
            .by_ref()
            .find_map(|l| l.split("pid=").nth(1).map(|p| p.trim().parse().unwrap()))
            .expect("device banner");
        lines.by_ref().find(|l| l.contains("listening on port")).expect("listening");
        let before = vm_hwm_kib(pid).unwrap_or(0);
        let data = image(mib << 20);
        let (secs, status) = upload(port, &data);
        let after = vm_hwm_kib(pid).unwrap_or(0);
        println!("{mib:>8} {:>10.1} {before:>16} {after:>16} {:>8}", data.len() as f64 / secs / 1e6, format!("0x{status:02X}"));
        let _ = supervisor.kill();
        let _ = supervisor.wait();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
