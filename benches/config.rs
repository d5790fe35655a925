//! `ferrota config` against `esphome config`: whole processes on the same file, and the
//! in-process rate over many configs. Prints ratios; asserts nothing (run: `cargo bench --bench config`).

use ferrota::compiler::check;
use ferrota::source::MemoryFs;
use ferrota::yaml::LoadOptions;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const FILE: &str = "examples/host/host-device.yaml";

/// The median wall time of `runs` runs of a command (after one warm-up run).
fn median_process_time(runs: usize, mut command: impl FnMut() -> Command) -> Duration {
    let _ = command().output();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let out = command().output().expect("command runs");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    let ours = median_process_time(50, || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferrota"));
        c.args(["config", FILE]);
        c
    });
    println!("ferrota config {FILE}: {:.2} ms per process (median of 50)", ours.as_secs_f64() * 1e3);
    // Prints why when the reference is unavailable.
    if let Some(venv) = ferrota_test_support::esphome_venv("esphome comparison") {
        let esphome = venv.join("bin/esphome");
        let theirs = median_process_time(10, || {
            let mut c = Command::new(&esphome);
            c.args(["config", FILE]);
            c
        });
        println!("esphome config {FILE}: {:.1} ms per process (median of 10)", theirs.as_secs_f64() * 1e3);
        println!("ratio: ferrota is {:.0}x faster (target: at least 100x)", theirs.as_secs_f64() / ours.as_secs_f64());
    }

    // 1,000 different configs in one process, from memory (no disk cache effects).
    let template = std::fs::read_to_string(FILE).expect("example exists");
    let secrets = std::fs::read_to_string("examples/host/secrets.yaml").expect("secrets exist");
    let mut fs = MemoryFs::default().with("/bench/secrets.yaml", secrets);
    for i in 0..1000 {
        let text = template.replace("name: host-device", &format!("name: host-device-{i}"));
        fs = fs.with(format!("/bench/device-{i}.yaml"), text);
    }
    let start = Instant::now();
    let mut valid = 0;
    for i in 0..1000 {
        let checked = check(&fs, Path::new(&format!("/bench/device-{i}.yaml")), &LoadOptions::default()).expect("in memory");
        valid += usize::from(!checked.has_errors());
    }
    let elapsed = start.elapsed();
    assert_eq!(valid, 1000, "every generated config should be valid");
    println!(
        "1,000 configs validated in-process in {:.1} ms (target: under 1,000 ms; {:.0} configs/s)",
        elapsed.as_secs_f64() * 1e3,
        1000.0 / elapsed.as_secs_f64()
    );
}
