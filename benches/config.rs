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

/// `ferrota config` and `esphome config` on the same arguments; prints both and the ratio.
fn compare(label: &str, args: &[&str], venv: Option<&Path>) {
    let ours = median_process_time(50, || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferrota"));
        c.args(args);
        c
    });
    println!("ferrota {label}: {:.2} ms per process (median of 50)", ours.as_secs_f64() * 1e3);
    if let Some(venv) = venv {
        let esphome = venv.join("bin/esphome");
        let theirs = median_process_time(10, || {
            let mut c = Command::new(&esphome);
            c.args(args);
            c
        });
        println!("esphome {label}: {:.1} ms per process (median of 10)", theirs.as_secs_f64() * 1e3);
        println!("ratio: ferrota is {:.0}x faster (target: at least 100x)", theirs.as_secs_f64() / ours.as_secs_f64());
    }
}

fn main() {
    // Prints why when the reference is unavailable.
    let venv = ferrota_test_support::esphome_venv("esphome comparison");
    compare(&format!("config {FILE}"), &["config", FILE], venv.as_deref());
    // A package-based config, laid out like ESPHome's component tests.
    let package_args = [
        "-s", "component_name", "ota",
        "-s", "component_test_file", "components/ota/test.esp32-idf.yaml",
        "config", "tests/corpus/packages/base.esp32-idf.yaml",
    ];
    compare("config (packages, -s)", &package_args, venv.as_deref());
    // A published config made of eight packages, when the shared corpus is beside the checkout.
    let published = "../shared/corpus/real-world/45-ashp8i-switch-living/device.yaml";
    if Path::new(published).is_file() {
        compare("config (published, 8 packages)", &["config", published], venv.as_deref());
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
