//! Delta updates (`docs/ota-extensions.md`): a host device running build A takes build B, the
//! same config with one `on_boot` string changed (to a longer one, so code moves too), both made
//! by `ferrota compile`. Whole processes as a user runs them, medians of interleaved runs,
//! bytes on the wire (the payload after the handshake) and time, over loopback and through a
//! link like weak WiFi (20 ms each way, 1 MB/s, the same proxy as `upload_links`), for:
//! - `ferrota upload` with build A in the config's image store: a patch;
//! - `ferrota upload` of the same config from a folder whose store lacks A: B deflated whole
//!   (what every client sends without a base, ESPHome's included);
//! - ESPHome 2026.10's `espota2` sending B to the same device (whole, deflated), when the
//!   reference venv is there.
//!
//! Target: the patch at least 10x fewer bytes than B compressed whole.
//! Run: `cargo bench --bench upload_delta`.

use ferrota_test_support::{esphome_venv, free_port, Device, Link, TempDir};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench password";
const RUNS: usize = 3;

const ESPOTA2: &str = r#"
import sys
from pathlib import Path
import logging
logging.basicConfig(level=logging.INFO)
from esphome.espota2 import run_ota
rc, _ = run_ota("127.0.0.1", int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
sys.exit(rc)
"#;

/// The two builds' boot lines: B's is longer, so what follows it in the image moves.
const BOOTED: [&str; 2] = ["delta-bench build A booted", "delta-bench build B booted, with a longer message than A's"];

fn config(port: u16, build: usize) -> String {
    format!(
        "esphome:\n  name: delta-bench\n  on_boot:\n    - logger.log: \"{}\"\nhost:\nlogger:\n\
         ota:\n  - platform: esphome\n    port: {port}\n    password: \"{PASSWORD}\"\n",
        BOOTED[build]
    )
}

fn ferrota() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferrota"))
}

/// `ferrota compile` of `config`; the image's path.
fn compile(config: &Path) -> PathBuf {
    let out = ferrota().arg("compile").arg(config).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "ferrota compile failed:\n{}{stdout}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(stdout.lines().last().unwrap())
}

/// The number after `prefix` in `log`.
fn number_after(log: &str, prefix: &str) -> Option<usize> {
    log.split(prefix).nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

struct Bench {
    device: Device,
    boots: usize,
}

impl Bench {
    /// `ferrota upload` of `image` with `config` (its folder's store decides patch or whole);
    /// the time and the payload bytes the log reports.
    fn ferrota(&mut self, config: &Path, image: &Path, port: u16, build: usize) -> (Duration, usize, String) {
        let start = Instant::now();
        let out = ferrota()
            .args(["upload", config.to_str().unwrap(), "--device", "127.0.0.1", "--port", &port.to_string(), "--file", image.to_str().unwrap()])
            .output()
            .unwrap();
        let took = start.elapsed();
        let log = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
        assert!(out.status.success(), "ferrota upload failed:\n{log}\ndevice:\n{}", self.device.output());
        self.rebooted(build);
        let bytes = number_after(&log, "Sending a delta against the build the device runs: ")
            .or_else(|| number_after(&log, "Compressed to "))
            .or_else(|| number_after(&log, "Uploading: 100% ("))
            .unwrap_or_else(|| panic!("no payload size in:\n{log}"));
        (took, bytes, log)
    }

    fn espota2(&mut self, python: &Path, image: &Path, port: u16, build: usize) -> (Duration, usize) {
        let start = Instant::now();
        let out = Command::new(python).args(["-c", ESPOTA2, &port.to_string(), PASSWORD]).arg(image).output().unwrap();
        let took = start.elapsed();
        let log = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
        assert!(out.status.success(), "espota2 failed:\n{log}");
        self.rebooted(build);
        let bytes = number_after(&log, "Compressed to ").unwrap_or_else(|| std::fs::metadata(image).unwrap().len() as usize);
        (took, bytes)
    }

    fn rebooted(&mut self, build: usize) {
        self.boots += 1;
        self.device.wait_for("listening on port", self.boots);
        assert!(self.device.output().lines().rev().find(|l| l.contains("delta-bench build")).is_some_and(|l| l.contains(BOOTED[build])), "{}", self.device.output());
    }
}

/// One measured kind of upload: its times and its payload bytes.
#[derive(Default)]
struct Runs {
    times: Vec<f64>,
    bytes: usize,
}

impl Runs {
    fn add(&mut self, (took, bytes): (Duration, usize)) {
        self.times.push(took.as_secs_f64());
        self.bytes = bytes;
    }

    fn line(&self, what: &str) -> f64 {
        let time = median(self.times.clone());
        println!("  {what:<40} {:>9} bytes  {time:>6.2} s", self.bytes);
        time
    }
}

fn main() {
    let dir = TempDir::new("bench-delta");
    let port = free_port();
    // Two folders, one config each: `patch/` keeps every build in its store; `whole/` never
    // sees build A, so its uploads go whole.
    let (patch_dir, whole_dir) = (dir.path("patch"), dir.path("whole"));
    std::fs::create_dir_all(&patch_dir).unwrap();
    std::fs::create_dir_all(&whole_dir).unwrap();
    let (patch_config, whole_config) = (patch_dir.join("delta-bench.yaml"), whole_dir.join("delta-bench.yaml"));
    let mut builds = Vec::new();
    for build in 0..2 {
        std::fs::write(&patch_config, config(port, build)).unwrap();
        let image = dir.path(&format!("build-{build}.bin"));
        std::fs::copy(compile(&patch_config), &image).unwrap();
        builds.push(image);
    }
    std::fs::write(&whole_config, config(port, 1)).unwrap();
    let (a, b) = (&builds[0], &builds[1]);
    let (a_len, b_len) = (std::fs::metadata(a).unwrap().len(), std::fs::metadata(b).unwrap().len());
    println!("build A {a_len} bytes, build B {b_len} bytes (one on_boot string changed)");

    let running = dir.path("running");
    std::fs::copy(a, &running).unwrap();
    let device = Device::spawn(&running, &[], &[], port);
    device.wait_for("listening on port", 1);
    let mut bench = Bench { device, boots: 1 };
    let python = esphome_venv("bench upload_delta").map(|venv| venv.join("bin/python"));
    let link = Link::start(port, Duration::from_millis(20), 1e6, 64 * 1024);

    for (label, via) in [("over loopback", port), ("through 20 ms / 1 MB/s", link.port)] {
        let (mut patch, mut whole, mut theirs) = (Runs::default(), Runs::default(), Runs::default());
        for _ in 0..RUNS {
            // The device runs A before each measured upload; it goes back to A by a patch.
            let (took, bytes, log) = bench.ferrota(&patch_config, b, via, 1);
            assert!(log.contains("Sending a delta"), "no delta:\n{log}");
            patch.add((took, bytes));
            bench.ferrota(&patch_config, a, port, 0);

            let (took, bytes, log) = bench.ferrota(&whole_config, b, via, 1);
            assert!(log.contains("has not kept"), "expected the whole image:\n{log}");
            whole.add((took, bytes));
            bench.ferrota(&patch_config, a, port, 0);

            if let Some(python) = &python {
                theirs.add(bench.espota2(python, b, via, 1));
                bench.ferrota(&patch_config, a, port, 0);
            }
        }
        println!("{label}, medians of {RUNS}:");
        let patch_time = patch.line("ferrota upload, a patch against A");
        let whole_time = whole.line("ferrota upload, B deflated whole");
        if !theirs.times.is_empty() {
            let theirs_time = theirs.line("espota2 (ESPHome 2026.10), B whole");
            println!("  the patch: {:.1}x faster than espota2", theirs_time / patch_time);
        }
        println!(
            "  the patch: {:.0}x fewer bytes than B compressed whole (target: at least 10x), {:.1}x the speed",
            whole.bytes as f64 / patch.bytes as f64,
            whole_time / patch_time
        );
    }
}
