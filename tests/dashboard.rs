//! `ferrota dashboard` through its JSON API, as scripts and the page use it, with real host
//! devices: the list (validity with every diagnostic, online state, what needs an update),
//! installing one, "update all" (only the outdated, invalid ones skipped, twice), a rollout
//! stopped by its failure threshold, the job's event stream, and the guards (another origin,
//! names outside the folder, Basic auth, the network without a password).

use ferrota_test_support::{free_port, Device, TempDir};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A host device config: `build` shows in its boot line, so the test sees what it runs.
fn device_yaml(name: &str, build: u32, port: u16) -> String {
    format!(
        "esphome:\n  name: {name}\n  friendly_name: Dash {name}\n  on_boot:\n    - logger.log: \"{name} build {build} booted\"\n\
         host:\nlogger:\nota:\n  - platform: esphome\n    port: {port}\n    password: !secret ota_password\n"
    )
}

/// The dashboard as a process on a free port; killed on drop.
struct Dashboard {
    child: Child,
    url: String,
}

impl Dashboard {
    fn start(dir: &Path, extra: &[&str]) -> Dashboard {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferrota"))
            .arg("dashboard")
            .arg(dir)
            .args(["--port", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = Vec::new();
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            first.push(byte[0]);
        }
        let first = String::from_utf8(first).unwrap();
        let url = first.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("no address in {first:?}"));
        Dashboard { child, url: url.trim_end_matches('/').to_string() }
    }

    fn address(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    /// One HTTP/1.1 request: (status, body). `headers` are added as given.
    fn http(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> (u16, String) {
        let mut stream = TcpStream::connect(self.address()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n", self.address(), body.len());
        if !body.is_empty() {
            request.push_str("Content-Type: application/json\r\n");
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let response = String::from_utf8_lossy(&response).to_string();
        let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
        (status, body)
    }

    fn get(&self, path: &str) -> Value {
        let (status, body) = self.http("GET", path, &[], None);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, text) = self.http("POST", path, &[], body.as_ref());
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn device(&self, file: &str) -> Value {
        self.get("/api/devices").as_array().unwrap().iter().find(|d| d["file"] == file).cloned().unwrap_or_else(|| panic!("no {file}"))
    }

    /// Waits until `check` holds for the device list (the folder is scanned every second, the
    /// devices polled every few).
    fn wait_devices(&self, what: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let devices = self.get("/api/devices").as_array().unwrap().clone();
            if check(&devices) {
                return devices;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {devices:#?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Starts a job with `path` and waits for it to end: the job.
    fn run_job(&self, path: &str, body: Option<Value>) -> Value {
        let (status, started) = self.post(path, body);
        assert_eq!(status, 202, "{path}: {started}");
        let id = started["job"].as_u64().unwrap();
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let job = self.get(&format!("/api/jobs/{id}"));
            if ["succeeded", "failed", "cancelled"].contains(&job["state"].as_str().unwrap()) {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} did not end: {job:#}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

fn run_of<'a>(job: &'a Value, file: &str) -> &'a Value {
    job["devices"].as_array().unwrap().iter().find(|d| d["file"] == file).unwrap_or_else(|| panic!("{file} is not in {job:#}"))
}

/// Compiles `config` and starts the image as a running device (a copy, which updates replace).
fn start_device(dir: &TempDir, config: &Path, name: &str, port: u16) -> Device {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrota")).arg("compile").arg(config).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "ferrota compile failed:\n{}{stdout}", String::from_utf8_lossy(&out.stderr));
    let image = dir.path(&format!("{name}-running"));
    std::fs::copy(stdout.lines().last().unwrap(), &image).unwrap();
    let device = Device::spawn(&image, &[], &[], port);
    device.wait_for("listening on port", 1);
    device
}

#[test]
fn installs_and_updates_a_fleet_through_the_api() {
    let dir = TempDir::new("dashboard-api");
    let folder = dir.0.canonicalize().unwrap();
    let (port_a, port_b) = (free_port(), free_port());
    // Unique names: other tests build host devices in the same shared target folder.
    let (a, b) = ("dash-api-a", "dash-api-b");
    std::fs::write(folder.join("secrets.yaml"), "ota_password: first-secret\n").unwrap();
    std::fs::write(folder.join("a.yaml"), device_yaml(a, 1, port_a)).unwrap();
    std::fs::write(folder.join("b.yaml"), device_yaml(b, 1, port_b)).unwrap();
    std::fs::write(folder.join("broken.yaml"), "esphome:\n  name: broken\nhost:\nlogger:\n  level: LOUD\n").unwrap();
    let device_a = start_device(&dir, &folder.join("a.yaml"), a, port_a);
    let device_b = start_device(&dir, &folder.join("b.yaml"), b, port_b);

    let dashboard = Dashboard::start(&folder, &["--jobs", "2"]);
    let devices = dashboard.wait_devices("both devices online", |ds| ds.iter().filter(|d| d["online"] == true).count() == 2);
    let files: Vec<&str> = devices.iter().map(|d| d["file"].as_str().unwrap()).collect();
    assert_eq!(files, ["a.yaml", "b.yaml", "broken.yaml"], "secrets.yaml is not a device");
    let broken = &devices[2];
    assert_eq!((broken["valid"].clone(), broken["online"].clone(), broken["needs_update"].clone()), (json!(false), Value::Null, json!(false)));
    let problem = &broken["diagnostics"][0];
    assert_eq!((problem["line"].as_u64(), problem["column"].as_u64(), problem["severity"].as_str()), (Some(5), Some(10), Some("error")), "{problem}");
    assert!(problem["message"].as_str().unwrap().contains("LOUD") && problem["help"].is_string(), "{problem}");
    assert_eq!(devices[0]["friendly_name"], format!("Dash {a}"));
    assert_eq!(devices[0]["platform"], "host");
    assert_eq!(devices[0]["needs_update"], true, "never installed by this dashboard");
    let (status, validated) = dashboard.post("/api/devices/broken.yaml/validate", None);
    assert_eq!((status, validated["valid"].clone()), (200, json!(false)));
    let unsaved = json!({"text": "esphome:\n  name: broken\nhost:\nlogger:\n  level: INFO\n"});
    assert_eq!(dashboard.post("/api/devices/broken.yaml/validate", Some(unsaved)).1["valid"], true, "the editor's unsaved text");

    // Install one: build 2 of a.
    std::fs::write(folder.join("a.yaml"), device_yaml(a, 2, port_a)).unwrap();
    let job = dashboard.run_job("/api/devices/a.yaml/install", None);
    assert_eq!(job["state"], "succeeded", "{job:#}");
    assert_eq!(run_of(&job, "a.yaml")["progress"], 100);
    device_a.wait_for(&format!("{a} build 2 booted"), 1);
    assert_eq!(dashboard.device("a.yaml")["needs_update"], false);
    // Its events: the job, then its log, and the stream ends with the job.
    let (status, events) = dashboard.http("GET", &format!("/api/jobs/{}/events", job["id"]), &[], None);
    assert_eq!(status, 200);
    assert!(events.starts_with("event: progress\ndata: {"), "{events}");
    assert!(events.contains("event: log\ndata: {\"file\":\"a.yaml\""), "{events}");
    assert!(events.contains("updated (127.0.0.1:"), "{events}");

    // Update all: only b needs it; the invalid config is skipped with why.
    std::fs::write(folder.join("b.yaml"), device_yaml(b, 2, port_b)).unwrap();
    dashboard.wait_devices("b outdated", |ds| ds.iter().any(|d| d["file"] == "b.yaml" && d["needs_update"] == true));
    let job = dashboard.run_job("/api/update-all", Some(json!({})));
    assert_eq!(job["state"], "succeeded", "{job:#}");
    let files: Vec<&str> = job["devices"].as_array().unwrap().iter().map(|d| d["file"].as_str().unwrap()).collect();
    assert_eq!(files, ["b.yaml", "broken.yaml"], "a is up to date");
    assert_eq!(run_of(&job, "broken.yaml")["state"], "skipped");
    assert!(run_of(&job, "broken.yaml")["message"].as_str().unwrap().starts_with("invalid config: "), "{job:#}");
    device_b.wait_for(&format!("{b} build 2 booted"), 1);
    // The second time: nothing to install.
    let job = dashboard.run_job("/api/update-all", Some(json!({})));
    assert_eq!(job["devices"].as_array().unwrap().len(), 1, "{job:#}");

    // A rollout with the wrong password everywhere stops after its first failure.
    std::fs::write(folder.join("secrets.yaml"), "ota_password: not-what-the-devices-have\n").unwrap();
    dashboard.wait_devices("both outdated", |ds| ds.iter().filter(|d| d["needs_update"] == true).count() == 2);
    let job = dashboard.run_job("/api/update-all", Some(json!({"jobs": 1, "max_failures": 0, "files": ["a.yaml", "b.yaml"]})));
    assert_eq!(job["state"], "failed", "{job:#}");
    assert_eq!(run_of(&job, "a.yaml")["state"], "failed");
    assert!(run_of(&job, "a.yaml")["message"].as_str().unwrap().contains("auth"), "{job:#}");
    assert_eq!(run_of(&job, "b.yaml")["state"], "skipped");
    assert!(run_of(&job, "b.yaml")["message"].as_str().unwrap().starts_with("rollout stopped"), "{job:#}");
    assert_eq!(device_a.count("booted"), 2, "the failed update changed nothing");

    // The jobs stay listed, newest first.
    let jobs = dashboard.get("/api/jobs");
    assert_eq!(jobs.as_array().unwrap().len(), 4);
    assert_eq!(jobs[0]["id"], job["id"]);
}

#[test]
fn refuses_other_origins_paths_outside_and_strangers() {
    let dir = TempDir::new("dashboard-guards");
    let folder = dir.0.canonicalize().unwrap();
    std::fs::write(folder.join("secrets.yaml"), "ota_password: hunter2\n").unwrap();
    std::fs::write(folder.join("d.yaml"), device_yaml("dash-guard", 1, free_port())).unwrap();
    let outside = TempDir::new("dashboard-outside");
    std::fs::write(outside.path("x.yaml"), "esphome:\n  name: x\nhost:\n").unwrap();
    std::os::unix::fs::symlink(outside.path("x.yaml"), folder.join("link.yaml")).unwrap();
    let dashboard = Dashboard::start(&folder, &[]);

    let evil = dashboard.http("POST", "/api/devices/d.yaml/install", &[("Origin", "http://evil.example")], None);
    assert_eq!(evil.0, 403, "{evil:?}");
    assert!(evil.1.contains("cross-origin request refused"), "{evil:?}");
    let own = format!("http://{}", dashboard.address());
    let validated = dashboard.http("POST", "/api/devices/d.yaml/validate", &[("Origin", &own)], None);
    assert_eq!(validated.0, 200, "{validated:?}");
    for path in ["/api/devices/secrets.yaml/config", "/api/devices/..%2Fsecrets.yaml/config", "/api/devices/link.yaml/config", "/api/devices/%2Fetc%2Fpasswd/config"] {
        let (status, body) = dashboard.http("GET", path, &[], None);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(!body.contains("hunter2"), "{path}: {body}");
    }
    let config = dashboard.get("/api/devices/d.yaml/config");
    assert!(config["text"].as_str().unwrap().contains("!secret ota_password"), "{config}");
    let page = dashboard.http("GET", "/", &[], None);
    assert!(page.0 == 200 && page.1.contains("<title>ferrota dashboard</title>"));
    let listed = serde_json::to_string(&dashboard.get("/api/devices")).unwrap();
    assert!(!listed.contains("hunter2"), "{listed}");
    drop(dashboard);

    let locked = Dashboard::start(&folder, &["--username", "admin", "--password", "s3cret"]);
    assert_eq!(locked.http("GET", "/api/devices", &[], None).0, 401);
    assert_eq!(locked.http("GET", "/api/devices", &[("Authorization", "Basic YWRtaW46d3Jvbmc=")], None).0, 401);
    assert_eq!(locked.http("GET", "/api/devices", &[("Authorization", "Basic YWRtaW46czNjcmV0")], None).0, 200);

    let out = Command::new(env!("CARGO_BIN_EXE_ferrota")).arg("dashboard").arg(&folder).args(["--address", "0.0.0.0", "--port", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without --password"));
}
