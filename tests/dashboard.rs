//! `ferrota dashboard` through its JSON API, as scripts and the page use it, with real host
//! devices: the list (validity with every diagnostic, online state, what needs an update),
//! installing one, "update all" (only the outdated, invalid ones skipped, twice), a rollout
//! stopped by its failure threshold, the job's event stream, and the guards (another origin,
//! names outside the folder, Basic auth, the network without a password).

use ferrota_test_support::{free_port, start_device, Dashboard, TempDir};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

/// A host device config: `build` shows in its boot line, so the test sees what it runs.
fn device_yaml(name: &str, build: u32, port: u16) -> String {
    format!(
        "esphome:\n  name: {name}\n  friendly_name: Dash {name}\n  on_boot:\n    - logger.log: \"{name} build {build} booted\"\n\
         host:\nlogger:\nota:\n  - platform: esphome\n    port: {port}\n    password: !secret ota_password\n"
    )
}

fn run_of<'a>(job: &'a Value, file: &str) -> &'a Value {
    job["devices"].as_array().unwrap().iter().find(|d| d["file"] == file).unwrap_or_else(|| panic!("{file} is not in {job:#}"))
}

/// The ferrota under test.
fn ferrota() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ferrota"))
}

/// A folder with two running host devices (`a.yaml`, `b.yaml`, build 1, named
/// `dash-<test>-a`/`-b`: other tests build host devices in the same shared target folder), an
/// invalid `broken.yaml` and the `secrets.yaml` they read.
struct Folder {
    /// Kept for its lifetime: the folder goes when the test ends.
    _dir: TempDir,
    path: std::path::PathBuf,
    names: [String; 2],
    ports: [u16; 2],
    devices: [ferrota_test_support::Device; 2],
}

impl Folder {
    fn new(test: &str) -> Folder {
        let dir = TempDir::new(&format!("dashboard-{test}"));
        let path = dir.0.canonicalize().unwrap();
        std::fs::write(path.join("secrets.yaml"), format!("ota_password: {test}-secret\n")).unwrap();
        std::fs::write(path.join("broken.yaml"), "esphome:\n  name: broken\nhost:\nlogger:\n  level: DEBUGG\n").unwrap();
        let names = [format!("dash-{test}-a"), format!("dash-{test}-b")];
        let ports = [free_port(), free_port()];
        let devices = [0, 1].map(|i| {
            let file = path.join(["a.yaml", "b.yaml"][i]);
            std::fs::write(&file, device_yaml(&names[i], 1, ports[i])).unwrap();
            start_device(ferrota(), &dir, &file, &names[i], ports[i])
        });
        Folder { _dir: dir, path, names, ports, devices }
    }

    /// Moves device `i`'s config (0: a, 1: b) to `build`.
    fn write(&self, i: usize, build: u32) {
        std::fs::write(self.path.join(["a.yaml", "b.yaml"][i]), device_yaml(&self.names[i], build, self.ports[i])).unwrap();
    }

    /// Waits until device `i` runs `build`.
    fn booted(&self, i: usize, build: u32) {
        self.devices[i].wait_for(&format!("{} build {build} booted", self.names[i]), 1);
    }
}

/// A port that takes connections and drops them: an install there fails only after the
/// client's retries, which keeps a job running for a few seconds.
fn dropping_port() -> u16 {
    let dropper = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dropper.local_addr().unwrap().port();
    std::thread::spawn(move || dropper.incoming().for_each(drop));
    port
}

#[test]
fn installs_and_updates_a_fleet_through_the_api() {
    let fleet = Folder::new("api");
    let folder = fleet.path.clone();
    let a = fleet.names[0].as_str();

    let dashboard = Dashboard::start(ferrota(), &folder, &["--jobs", "2"]);
    let devices = dashboard.wait_devices("both devices online", |ds| ds.iter().filter(|d| d["online"] == true).count() == 2);
    let files: Vec<&str> = devices.iter().map(|d| d["file"].as_str().unwrap()).collect();
    assert_eq!(files, ["a.yaml", "b.yaml", "broken.yaml"], "secrets.yaml is not a device");
    let broken = &devices[2];
    assert_eq!((broken["valid"].clone(), broken["online"].clone(), broken["needs_update"].clone()), (json!(false), Value::Null, json!(false)));
    let problem = &broken["diagnostics"][0];
    assert_eq!((problem["line"].as_u64(), problem["column"].as_u64(), problem["severity"].as_str()), (Some(5), Some(10), Some("error")), "{problem}");
    assert!(problem["message"].as_str().unwrap().contains("DEBUGG") && problem["help"].is_string(), "{problem}");
    assert_eq!(problem["fix"]["edits"], json!([{"start": [4, 9], "end": [4, 15], "text": "DEBUG"}]), "{problem}");
    assert_eq!(devices[0]["friendly_name"], format!("Dash {a}"));
    assert_eq!(devices[0]["platform"], "host");
    assert_eq!(devices[0]["needs_update"], true, "never installed by this dashboard");
    let (status, validated) = dashboard.post("/api/devices/broken.yaml/validate", None);
    assert_eq!((status, validated["valid"].clone()), (200, json!(false)));
    let unsaved = json!({"text": "esphome:\n  name: broken\nhost:\nlogger:\n  level: INFO\n"});
    assert_eq!(dashboard.post("/api/devices/broken.yaml/validate", Some(unsaved)).1["valid"], true, "the editor's unsaved text");

    // Install one: build 2 of a.
    fleet.write(0, 2);
    let job = dashboard.run_job("/api/devices/a.yaml/install", None);
    assert_eq!(job["state"], "succeeded", "{job:#}");
    assert_eq!(run_of(&job, "a.yaml")["progress"], 100);
    fleet.booted(0, 2);
    dashboard.wait_devices("a up to date", |ds| ds.iter().any(|d| d["file"] == "a.yaml" && d["needs_update"] == false));
    // Its events: the job, then its log, and the stream ends with the job.
    let (status, events) = dashboard.http("GET", &format!("/api/jobs/{}/events", job["id"]), &[], None);
    assert_eq!(status, 200);
    assert!(events.starts_with("event: progress\ndata: {"), "{events}");
    assert!(events.contains("event: log\ndata: {\"file\":\"a.yaml\""), "{events}");
    assert!(events.contains("updated (127.0.0.1:"), "{events}");
    assert!(events.contains(&format!("Compiling ferrota-{a} v")), "cargo's own lines are in the log: {events}");

    // Update all: only b needs it; the invalid config is skipped with why.
    fleet.write(1, 2);
    dashboard.wait_devices("b outdated", |ds| ds.iter().any(|d| d["file"] == "b.yaml" && d["needs_update"] == true));
    let job = dashboard.run_job("/api/update-all", Some(json!({})));
    assert_eq!(job["state"], "succeeded", "{job:#}");
    let files: Vec<&str> = job["devices"].as_array().unwrap().iter().map(|d| d["file"].as_str().unwrap()).collect();
    assert_eq!(files, ["b.yaml", "broken.yaml"], "a is up to date");
    assert_eq!(run_of(&job, "broken.yaml")["state"], "skipped");
    assert!(run_of(&job, "broken.yaml")["message"].as_str().unwrap().starts_with("invalid config: "), "{job:#}");
    fleet.booted(1, 2);
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
    assert_eq!(fleet.devices[0].count("booted"), 2, "the failed update changed nothing");

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
    let dashboard = Dashboard::start(ferrota(), &folder, &[]);

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
    // Saving an invalid config is allowed, and the answer says what is wrong; not from elsewhere.
    let invalid = json!({"text": "esphome:\n  name: Not Valid\nhost:\n"});
    let evil_save = dashboard.http("PUT", "/api/devices/d.yaml/config", &[("Origin", "http://evil.example")], Some(&invalid));
    assert_eq!(evil_save.0, 403, "{evil_save:?}");
    let (status, saved) = dashboard.http("PUT", "/api/devices/d.yaml/config", &[], Some(&invalid));
    assert_eq!(status, 200, "{saved}");
    let saved: Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved["valid"], false, "{saved}");
    assert_eq!(saved["diagnostics"][0]["line"], 2, "{saved}");
    assert_eq!(std::fs::read_to_string(folder.join("d.yaml")).unwrap(), invalid["text"].as_str().unwrap());
    // Hostile or mistaken requests get a clear refusal, and the server goes on.
    let bad_json = dashboard.http("POST", "/api/update-all", &[], Some(&json!("not an object")));
    assert_eq!(bad_json.0, 400, "{bad_json:?}");
    assert!(bad_json.1.contains("update-all takes"), "{bad_json:?}");
    let unknown_key = dashboard.http("POST", "/api/update-all", &[], Some(&json!({"job": 3})));
    assert_eq!(unknown_key.0, 400, "{unknown_key:?}");
    let unknown_file = dashboard.http("POST", "/api/update-all", &[], Some(&json!({"files": ["nope.yaml"]})));
    assert_eq!(unknown_file.0, 404, "{unknown_file:?}");
    assert_eq!(dashboard.http("PUT", "/api/devices/d.yaml/config", &[], Some(&json!({"txt": 1}))).0, 422);
    assert_eq!(dashboard.http("GET", "/api/jobs/abc", &[], None).0, 404);
    assert_eq!(dashboard.http("GET", "/api/jobs/abc/events", &[], None).0, 404);
    let huge = json!({"text": "x".repeat(3 << 20)});
    assert_eq!(dashboard.http("POST", "/api/devices/d.yaml/validate", &[], Some(&huge)).0, 413, "bodies are bounded");
    let page = dashboard.http("GET", "/", &[], None);
    assert!(page.0 == 200 && page.1.contains("<title>ferrota dashboard</title>"));
    let listed = serde_json::to_string(&dashboard.get("/api/devices")).unwrap();
    assert!(!listed.contains("hunter2"), "{listed}");
    drop(dashboard);

    let locked = Dashboard::start(ferrota(), &folder, &["--username", "admin", "--password", "s3cret"]);
    assert_eq!(locked.http("GET", "/api/devices", &[], None).0, 401);
    assert_eq!(locked.http("GET", "/api/devices", &[("Authorization", "Basic YWRtaW46d3Jvbmc=")], None).0, 401);
    assert_eq!(locked.http("GET", "/api/devices", &[("Authorization", "Basic YWRtaW46czNjcmV0")], None).0, 200);

    let out = Command::new(env!("CARGO_BIN_EXE_ferrota")).arg("dashboard").arg(&folder).args(["--address", "0.0.0.0", "--port", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without --password"));
}

/// The page in headless Chromium: the list with errors and online state, the editor checking as
/// one types and applying a quick fix, an install, and "update all" that goes on with the browser closed and shows its
/// end in a new one (its first device is a port that takes connections and drops them, so the
/// job is still running when the browser goes). Screenshots: `target/debug/dashboard/`.
#[test]
fn the_page_in_a_browser() {
    let Some(python) = ferrota_test_support::browser("dashboard page") else { return };
    let fleet = Folder::new("page");
    let folder = fleet.path.clone();
    std::fs::write(folder.join("0-slow.yaml"), device_yaml("dash-page-slow", 1, dropping_port())).unwrap();
    // Both configs moved on since the devices were built.
    fleet.write(0, 2);
    fleet.write(1, 2);
    let dashboard = Dashboard::start(ferrota(), &folder, &[]);

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug/dashboard");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new(python).arg("tests/browser/dashboard.py").arg(&dashboard.url).arg(&shots).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the browser script failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(seen["title"], "ferrota dashboard");
    assert_eq!(seen["cards"]["a.yaml"], json!(["host", "update available", "online"]), "{seen:#}");
    assert_eq!(seen["cards"]["broken.yaml"], json!(["host", "1 error"]), "{seen:#}");
    assert!(seen["problems"][0].as_str().unwrap().starts_with("5:10Unknown value 'DEBUGG'"), "{seen:#}");
    assert_eq!(seen["outdated"], "3");
    assert_eq!((seen["editor_before"].as_str(), seen["editor_after"].as_str()), (Some("1 error"), Some("valid")));
    assert_eq!(seen["fix"], "Fix: Change `DEBUGG` to `DEBUG`", "{seen:#}");
    assert_eq!(seen["fixed_line"], json!(["  level: DEBUG"]), "{seen:#}");
    assert_eq!(seen["install"], json!(["succeeded", "succeeded"]));
    assert_eq!(seen["closed_while"], json!(["running", "queued"]), "{seen:#}");
    assert_eq!(seen["reopened"], json!(["failed", "succeeded", "failed"]), "b was installed after the browser closed: {seen:#}");
    fleet.booted(0, 2);
    fleet.booted(1, 2);
    assert!(std::fs::read_to_string(folder.join("broken.yaml")).unwrap().contains("DEBUGG"), "closing the editor saved nothing");
}

/// Cancel: the device being installed finishes (never half an update), the rest are skipped,
/// and the job says it was cancelled.
#[test]
fn cancelling_skips_what_has_not_started() {
    let dir = TempDir::new("dashboard-cancel");
    let folder = dir.0.canonicalize().unwrap();
    std::fs::write(folder.join("secrets.yaml"), "ota_password: cancel-secret\n").unwrap();
    // Its install fails only after the client's retries, which leaves time to cancel.
    let port = dropping_port();
    for name in ["a", "b", "c"] {
        std::fs::write(folder.join(format!("{name}.yaml")), device_yaml(&format!("dash-cancel-{name}"), 1, port)).unwrap();
    }
    let dashboard = Dashboard::start(ferrota(), &folder, &[]);
    dashboard.wait_devices("all online", |ds| ds.iter().filter(|d| d["online"] == true).count() == 3);
    let (status, started) = dashboard.post("/api/update-all", Some(json!({"jobs": 1})));
    assert_eq!(status, 202, "{started}");
    let id = started["job"].as_u64().unwrap();
    dashboard.wait_job(id, "a being installed", |job| job["devices"][0]["state"] == "uploading");
    let (status, cancelled) = dashboard.post(&format!("/api/jobs/{id}/cancel"), None);
    assert_eq!(status, 200, "{cancelled}");
    let done = dashboard.wait_job(id, "the end", |job| job["state"] != "running");
    assert_eq!(done["state"], "cancelled", "{done:#}");
    assert_eq!(run_of(&done, "a.yaml")["state"], "failed", "a ran to its end: {done:#}");
    for file in ["b.yaml", "c.yaml"] {
        assert_eq!(run_of(&done, file)["state"], "skipped", "{done:#}");
        assert_eq!(run_of(&done, file)["message"], "cancelled", "{done:#}");
    }
    assert_eq!(dashboard.post("/api/jobs/999/cancel", None).0, 404);
}
