//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The config files of the corpus (and examples) under `dir`, sorted; secrets and included
/// parts are not configs of their own.
pub fn configs(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walk(Path::new(dir))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "secrets.yaml"))
        .filter(|p| !p.components().any(|c| c.as_os_str() == "parts"))
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())).flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The reference ESPHome venv, installed on first use by `scripts/esphome-venv`. `None` (with
/// a `SKIPPED` line) when it can't be had, unless `FERROTA_REQUIRE_ESPHOME=1` (CI), which fails.
pub fn esphome_venv(test: &str) -> Option<PathBuf> {
    let out = Command::new("bash").arg("scripts/esphome-venv").output();
    match out {
        Ok(o) if o.status.success() => Some(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())),
        other => {
            let why = match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            };
            if std::env::var("FERROTA_REQUIRE_ESPHOME").as_deref() == Ok("1") {
                panic!("{test}: the reference ESPHome is required (FERROTA_REQUIRE_ESPHOME=1) but unavailable: {why}");
            }
            eprintln!("SKIPPED {test}: reference ESPHome 2026.10.0 unavailable ({why})");
            None
        }
    }
}

// ---- Upload tests: scratch directories, free ports, and host devices (ours and ESPHome's). ----

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ferrota-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The target directory of this build (`target/debug`), from the test executable's path.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf()
}

/// Our device binary (`ferrota-host-device` from runtime/), built on first use: `cargo test -p
/// ferrota` does not build other packages' binaries (`cargo test --workspace` does).
pub fn host_device_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "-q", "-p", "ferrota-ota", "--bin", "ferrota-host-device"]);
            if target_dir().file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("running cargo build for the host device");
            let binary = target_dir().join("ferrota-host-device");
            // The workspace is shared: a half-edited runtime/ must not fail upload tests when an
            // earlier build of the device is there (CI builds it before the tests anyway).
            assert!(status.success() || binary.is_file(), "building ferrota-host-device failed");
            if !status.success() {
                eprintln!("warning: building ferrota-host-device failed; using the existing {}", binary.display());
            }
            binary
        })
        .clone()
}

/// MD5 hex of bytes (how the host devices name the image they run).
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// A device process with its output collected line by line.
pub struct HostDevice {
    pub child: std::process::Child,
    pub port: u16,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl HostDevice {
    /// Starts `program` with `args` (and `envs`), collecting stdout and stderr.
    pub fn spawn(program: &Path, args: &[&str], envs: &[(&str, &Path)], port: u16) -> HostDevice {
        use std::io::{BufRead, BufReader, Read};
        let mut child = Command::new(program)
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, *v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let streams: [Box<dyn Read + Send>; 2] = [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
        for stream in streams {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        HostDevice { child, port, lines }
    }

    /// Our device: a copy of the binary in `dir` (so an update replaces the copy), on a free port.
    pub fn ours(dir: &TempDir, args: &[&str]) -> HostDevice {
        let fw = dir.path("fw");
        std::fs::copy(host_device_binary(), &fw).unwrap();
        let port = free_port();
        let state = dir.path("state");
        let mut all = vec!["--port".to_string(), port.to_string(), "--state-dir".into(), state.to_str().unwrap().into()];
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let device = HostDevice::spawn(&fw, &all, &[], port);
        device.wait_for("listening on port", 1);
        device
    }

    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    pub fn count(&self, needle: &str) -> usize {
        self.lines.lock().unwrap().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits until `needle` appeared in `n` lines of output.
    pub fn wait_for(&self, needle: &str, n: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.count(needle) < n {
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {n}x '{needle}'; output:\n{}", self.output());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Waits until the port accepts connections (ESPHome's device prints nothing when it does).
    pub fn wait_listening(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "port {} never opened; output:\n{}", self.port, self.output());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The image (MD5) our device runs in its `n`th boot.
    pub fn image_of_boot(&self, n: usize) -> String {
        self.wait_for("ferrota-host-device name=", n);
        let lines = self.lines.lock().unwrap();
        let banner = lines.iter().filter(|l| l.contains("ferrota-host-device name=")).nth(n - 1).unwrap();
        banner.split("image=").nth(1).unwrap().split(' ').next().unwrap().to_string()
    }
}

impl Drop for HostDevice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A copy of `binary` with `marker` appended: still a valid executable, but a different image.
pub fn make_image(binary: &Path, path: &Path, marker: &str) -> String {
    let mut bytes = std::fs::read(binary).unwrap();
    bytes.extend_from_slice(marker.as_bytes());
    std::fs::write(path, &bytes).unwrap();
    md5_hex(&bytes)
}

/// Runs the `ferrota` CLI; returns (exit code, stderr + stdout).
pub fn ferrota(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrota")).args(args).output().unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    (out.status.code().unwrap_or(-1), log)
}
