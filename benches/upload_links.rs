//! `ferrota upload` against ESPHome 2026.10's `espota2`, both sending the same image to the same
//! REAL ESPHome host device (built by `esphome compile`, password set), whole processes as a
//! user runs them, medians of interleaved runs:
//! - 16 MiB of incompressible data over loopback (target: ferrota at least 3x faster);
//! - 2 MiB through a link like weak WiFi, 20 ms each way and 1 MB/s each way, made by a small
//!   delay/rate proxy on loopback (this kernel has no netem) (target: at least 3x).
//!
//! Each image is the device's own program with random bytes after it (still an executable the
//! device re-execs into), so every upload is a new, incompressible image.
//! Run: `cargo bench --bench upload_links` (needs the reference venv).

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use ferrota_test_support::Link;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench password";
/// Compiled into the ESPHome device; outside `free_port`'s range, unlike the tests' ports.
const PORT: u16 = 19_290;
const RUNS: usize = 3;

const ESPOTA2: &str = r#"
import sys
from pathlib import Path
from esphome.espota2 import run_ota
rc, _ = run_ota("127.0.0.1", int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
sys.exit(rc)
"#;

/// The device's program followed by random bytes up to `size`.
fn image(program: &Path, size: usize, path: &Path) {
    let mut bytes = std::fs::read(program).unwrap();
    let mut state = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    while bytes.len() < size {
        // xorshift64*: fast, and nothing deflate can squeeze.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        bytes.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    bytes.truncate(size);
    std::fs::write(path, bytes).unwrap();
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64()
}

struct Bench {
    python: PathBuf,
    config: PathBuf,
    program: PathBuf,
    dir: TempDir,
    device: Device,
    boots: usize,
}

impl Bench {
    /// Waits for the device to come back from the update it just took.
    fn rebooted(&mut self) {
        self.boots += 1;
        self.device.wait_for("setup() finished successfully", self.boots);
    }

    fn ours(&mut self, file: &Path, port: u16) -> Duration {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_ferrota"))
            .arg("upload")
            .arg(&self.config)
            .args(["--device", "127.0.0.1", "--port", &port.to_string(), "--quiet", "--file"])
            .arg(file)
            .output()
            .unwrap();
        let took = start.elapsed();
        assert!(out.status.success(), "ferrota upload: {}", String::from_utf8_lossy(&out.stderr));
        self.rebooted();
        took
    }

    fn theirs(&mut self, file: &Path, port: u16) -> Duration {
        let start = Instant::now();
        let out = Command::new(&self.python).args(["-c", ESPOTA2, &port.to_string(), PASSWORD]).arg(file).output().unwrap();
        let took = start.elapsed();
        assert!(out.status.success(), "espota2: {}", String::from_utf8_lossy(&out.stderr));
        self.rebooted();
        took
    }

    /// Interleaved runs of both clients with fresh images of `size` through `port`.
    fn compare(&mut self, label: &str, size: usize, port: u16) {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for run in 0..RUNS {
            let file = self.dir.path(&format!("ours-{run}.bin"));
            image(&self.program, size, &file);
            ours.push(self.ours(&file, port));
            let file = self.dir.path(&format!("theirs-{run}.bin"));
            image(&self.program, size, &file);
            theirs.push(self.theirs(&file, port));
        }
        let (ours, theirs) = (median(ours), median(theirs));
        println!("{label}: ferrota {ours:.2} s, espota2 {theirs:.2} s, ratio {:.1}x (target: at least 3x; median of {RUNS})", theirs / ours);
    }
}

fn main() {
    let Some(venv) = esphome_venv("bench upload_links") else { return };
    let dir = TempDir::new("bench-links");
    let yaml = format!("esphome:\n  name: bench-links\nhost:\nlogger:\n  level: INFO\nota:\n  - platform: esphome\n    port: {PORT}\n    password: \"{PASSWORD}\"\n");
    let (device, running) = start_esphome(&venv, &dir, "bench-links", &yaml, PORT);
    // The program as it was built: the device replaces its running copy with each upload.
    let program = dir.path("program");
    std::fs::copy(&running, &program).unwrap();
    let mut bench = Bench { python: venv.join("bin/python"), config: dir.path("device.yaml"), program, dir, device, boots: 1 };
    bench.compare("16 MiB incompressible, loopback", 16 << 20, PORT);
    let link = Link::start(PORT, Duration::from_millis(20), 1e6, 64 * 1024);
    bench.compare("2 MiB incompressible, 20 ms each way at 1 MB/s", 2 << 20, link.port);
}
