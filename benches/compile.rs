//! `ferrota compile --only-generate`: the whole process on each generating example, and the
//! in-process time of check + generate when nothing changed (the regeneration cargo sees).
//! Prints milliseconds; asserts nothing (run: `cargo bench --bench compile`).

use ferrota::codegen::{self, Options};
use ferrota::compiler::check;
use ferrota::source::RealFs;
use ferrota::yaml::LoadOptions;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const EXAMPLES: &[&str] = &["examples/host/host-device.yaml", "examples/password-rotation/rotate-password.yaml"];

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

fn main() {
    let out = std::env::temp_dir().join(format!("ferrota-bench-compile-{}", std::process::id()));
    for example in EXAMPLES {
        let build_dir = out.join("process");
        let run = || {
            let start = Instant::now();
            let status = Command::new(env!("CARGO_BIN_EXE_ferrota"))
                .args(["compile", example, "--only-generate", "--build-dir"])
                .arg(&build_dir)
                .output()
                .expect("ferrota runs");
            assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
            start.elapsed()
        };
        run();
        let process = median((0..30).map(|_| run()).collect());

        let options = Options { out_dir: out.join("lib"), runtime: codegen::default_runtime() };
        let times = (0..200)
            .map(|_| {
                let start = Instant::now();
                let checked = check(&RealFs, Path::new(example), &LoadOptions::default()).expect("example readable");
                codegen::generate(&checked, &options).expect("example generates");
                start.elapsed()
            })
            .collect();
        println!(
            "ferrota compile --only-generate {example}: {process:.2} ms per process (median of 30), {:.3} ms check + generate in-process (median of 200)",
            median(times)
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
