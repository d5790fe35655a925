//! `ferrota upload` against ESPHome 2026.10's `espota2`: the same 16 MiB image to the same device
//! (our host device from runtime/, release build) over loopback, with a password. Prints the
//! median end-to-end time of each client (whole processes, as a user runs them), MB/s of image,
//! and the ratio; also the in-process time of each client's upload call.
//! Run: `cargo bench -p ferrota --bench upload` (needs the reference venv for espota2).

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ferrota::upload::image::Image;
use ferrota::upload::progress::Quiet;
use ferrota::upload::{upload, Request, RetryPolicy};

const IMAGE_SIZE: usize = 16 << 20;
const RUNS: usize = 3;
const PASSWORD: &str = "bench password";

/// espota2's `run_ota`, timing the call itself on stderr ("CALL <seconds>").
const ESPOTA2: &str = r#"
import sys, time
from pathlib import Path
from esphome.espota2 import run_ota
start = time.perf_counter()
rc, _ = run_ota("127.0.0.1", int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
print(f"CALL {time.perf_counter() - start:.4f}", file=sys.stderr)
sys.exit(rc)
"#;

/// A valid executable for the device, padded to 16 MiB with its own bytes (firmware-like
/// compressibility), with `marker` at the end so every upload is a new image.
fn image(dir: &TempDir, marker: &str) -> std::path::PathBuf {
    let binary = std::fs::read(host_device_binary()).unwrap();
    let mut bytes: Vec<u8> = binary.iter().copied().cycle().take(IMAGE_SIZE - marker.len()).collect();
    bytes.extend_from_slice(marker.as_bytes());
    let path = dir.path(&format!("{marker}.bin"));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn mbps(d: Duration) -> f64 {
    IMAGE_SIZE as f64 / 1e6 / d.as_secs_f64()
}

fn main() {
    let Some(venv) = esphome_venv("bench upload") else { return };
    let python = venv.join("bin/python");
    let dir = TempDir::new("bench-upload");
    let device = start_ours(&dir, &["--password", PASSWORD]);
    let port = device.port.to_string();
    let config = dir.path("bench.yaml");
    std::fs::write(&config, format!("esphome:\n  name: bench\nhost:\nota:\n  - platform: esphome\n    port: {port}\n    password: {PASSWORD}\n")).unwrap();
    let mut boots = 1;
    let mut wait_reboot = |device: &Device| {
        boots += 1;
        device.wait_for("listening on port", boots);
    };

    let (mut ours, mut ours_call, mut theirs, mut theirs_call) = (vec![], vec![], vec![], vec![]);
    for run in 0..RUNS {
        // Ours, as a user runs it: the CLI process from start to exit.
        let file = image(&dir, &format!("ours-{run}"));
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_ferrota"))
            .args(["upload", config.to_str().unwrap(), "--device", "127.0.0.1", "--quiet", "--file", file.to_str().unwrap()])
            .output()
            .unwrap();
        ours.push(start.elapsed());
        assert!(out.status.success(), "ferrota upload: {}", String::from_utf8_lossy(&out.stderr));
        wait_reboot(&device);

        // Ours in-process: read, compress, upload, final ack.
        let file = image(&dir, &format!("ours-call-{run}"));
        let start = Instant::now();
        let request = Request {
            hosts: vec!["127.0.0.1".into()],
            port: device.port,
            password: Some(PASSWORD.into()),
            image: Arc::new(Image::read(&file).unwrap()),
            retry: RetryPolicy::default(),
            store: None,
        };
        upload(&request, &mut Quiet).unwrap();
        ours_call.push(start.elapsed());
        wait_reboot(&device);

        // espota2, the same way.
        let file = image(&dir, &format!("espota2-{run}"));
        let start = Instant::now();
        let out = Command::new(&python).args(["-c", ESPOTA2, &port, PASSWORD, file.to_str().unwrap()]).output().unwrap();
        theirs.push(start.elapsed());
        let log = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "espota2: {log}");
        let call = log.lines().find_map(|l| l.strip_prefix("CALL ")).and_then(|s| s.trim().parse::<f64>().ok()).unwrap();
        theirs_call.push(Duration::from_secs_f64(call));
        wait_reboot(&device);
    }
    let (ours, ours_call, theirs, theirs_call) = (median(ours), median(ours_call), median(theirs), median(theirs_call));
    let sized = Image::read(&image(&dir, "size")).unwrap();
    let start = Instant::now();
    let deflated = sized.try_deflate().map_or(0, <[u8]>::len);
    let deflate_time = start.elapsed();
    println!("upload of a 16 MiB image ({deflated} bytes deflated, SHA-256 auth, version 2) to our host device, median of {RUNS}:");
    println!("  (ferrota's deflate of the image alone: {:.3} s on {} threads)", deflate_time.as_secs_f64(), std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!("  end to end (process)  ferrota {:>6.3} s ({:>6.1} MB/s)   espota2 {:>6.3} s ({:>6.1} MB/s)   ratio {:.2}x", ours.as_secs_f64(), mbps(ours), theirs.as_secs_f64(), mbps(theirs), theirs.as_secs_f64() / ours.as_secs_f64());
    println!("  upload call only      ferrota {:>6.3} s ({:>6.1} MB/s)   espota2 {:>6.3} s ({:>6.1} MB/s)   ratio {:.2}x  (espota2 includes its 1 s sleep)", ours_call.as_secs_f64(), mbps(ours_call), theirs_call.as_secs_f64(), mbps(theirs_call), theirs_call.as_secs_f64() / ours_call.as_secs_f64());
}
