//! The chips' server loop (`Server::run`) run for real: embassy-net over a Linux TAP interface,
//! an embassy executor on std, the update slot in memory. ferrota's client uploads over the
//! native protocol and the web server's `/update`, and ESPHome 2026.10's own client
//! (`espota2.run_ota`) does too; each commit ends in the reboot the device's rules ask for.
//!
//! A TAP interface needs root (`/dev/net/tun`, `ip addr`): without it the tests print `SKIPPED` and pass,
//! unless `FERROTA_REQUIRE_TAP=1` (CI) makes that a failure.

use embassy_executor::{Executor, Spawner};
use embassy_net::{Ipv4Address, Runner, Stack, StackResources};
use embassy_net_tuntap::TunTapDevice;
use ferrota::upload::image::Image;
use ferrota::upload::progress::Collect;
use ferrota::upload::{self, RetryPolicy};
use ferrota_ota::events::OtaListener;
use ferrota_ota::web_update::Credentials;
use ferrota_ota::{BootCounterStore, Flash, FlashError, OtaComponent, OtaConfig, ProtocolVersion, Rng, SafeModeConfig, UpdateSlot};
use ferrota_ota_embassy::wifi::{Network, Security, StaticIp};
use ferrota_ota_embassy::{Server, WebServer};
use std::io::{Read, Write};
use std::cell::RefCell;
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const OTA_PORT: u16 = 3232;
const WEB_PORT: u16 = 8080;
const PASSWORD: &str = "tap secret";

/// What the devices logged (every device of this test binary, each line with its thread and
/// milliseconds since the first line), so a failing test can show what the device was doing.
static DEVICE_LOG: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

struct Recorder;

impl log::Log for Recorder {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let ms = START.get_or_init(std::time::Instant::now).elapsed().as_millis();
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        DEVICE_LOG.lock().unwrap_or_else(|p| p.into_inner()).push(format!("{ms:>6} ms {thread}: {}", record.args()));
    }

    fn flush(&self) {}
}

/// The last lines device `net` logged, for a failure message.
fn device_log(net: &str) -> String {
    let lines = DEVICE_LOG.lock().unwrap_or_else(|p| p.into_inner());
    let ours: Vec<&String> = lines.iter().filter(|l| l.contains(&format!("device {net}:"))).collect();
    ours[ours.len().saturating_sub(40)..].iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n")
}

/// What the device did, for the test to check.
#[derive(Default)]
struct Seen {
    committed: Option<Vec<u8>>,
    events: Vec<String>,
}

/// The update slot in memory; the device runs `RUNNING` (a delta update's base).
struct MemSlot {
    seen: Arc<Mutex<Seen>>,
    data: Vec<u8>,
    /// An image is being written (begun, not finished or aborted): it may be resumed.
    open: bool,
}

/// The image every TAP device runs.
fn running() -> Vec<u8> {
    image(7)
}

impl Flash for MemSlot {
    fn begin(&mut self, _size: u32) -> Result<(), FlashError> {
        self.data.clear();
        self.open = true;
        Ok(())
    }
    fn suspend(&mut self) -> Result<(), FlashError> {
        Ok(())
    }
    fn resume(&mut self, _size: u32, written: u32) -> Result<(), FlashError> {
        if self.open && self.data.len() == written as usize { Ok(()) } else { Err(FlashError::UpdatePrepare) }
    }
    fn running_image(&mut self) -> Option<ferrota_ota::delta::ImageId> {
        Some(ferrota_ota::delta::ImageId::of(&running()))
    }
    fn read_running(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        let at = offset as usize;
        buf.copy_from_slice(&running()[at..at + buf.len()]);
        Ok(())
    }
    fn write(&mut self, data: &[u8]) -> Result<(), FlashError> {
        self.data.extend_from_slice(data);
        Ok(())
    }
    fn finish(&mut self) -> Result<(), FlashError> {
        self.open = false;
        self.seen.lock().unwrap().committed = Some(self.data.clone());
        Ok(())
    }
    fn abort(&mut self) {
        self.open = false;
    }
}

impl UpdateSlot for MemSlot {
    fn unconfirmed(&mut self) -> bool {
        false
    }
    fn confirm(&mut self) {}
    fn roll_back(&mut self) {}
}

struct Counter(u32);

impl BootCounterStore for Counter {
    fn load(&mut self) -> u32 {
        self.0
    }
    fn save(&mut self, value: u32) {
        self.0 = value;
    }
}

struct OsRng;

impl Rng for OsRng {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        getrandom::fill(buf).expect("the OS has randomness");
    }
}

/// The automations: every event, by name.
struct Events(Arc<Mutex<Seen>>, &'static str);

impl OtaListener for Events {
    fn on_begin(&mut self) {
        self.0.lock().unwrap().events.push(format!("{} begin", self.1));
    }
    fn on_end(&mut self) {
        self.0.lock().unwrap().events.push(format!("{} end", self.1));
    }
    fn on_error(&mut self, code: u8) {
        self.0.lock().unwrap().events.push(format!("{} error {code}", self.1));
    }
    fn on_abort(&mut self) {
        self.0.lock().unwrap().events.push(format!("{} abort", self.1));
    }
}

thread_local! {
    /// Where this device thread's `reset` reports to.
    static RESET: RefCell<Option<mpsc::Sender<()>>> = const { RefCell::new(None) };
}

/// The device's reset: reported to the test, then the device thread stops for good.
fn reset() -> ! {
    RESET.with(|r| r.borrow().as_ref().map(|tx| tx.send(())));
    loop {
        std::thread::park();
    }
}

/// A TAP interface with the host's end at `<net>.1` and the device's at `<net>.2`: made by
/// opening it (not persistent, so it goes away with this process), then given its address.
struct Tap {
    device: TunTapDevice,
    net: String,
}

impl Tap {
    fn new(n: u8, test: &str) -> Option<Tap> {
        let pid = std::process::id();
        let name = format!("fota{}x{n}", pid % 10_000);
        // A subnet of this process's own, so concurrent runs don't route into each other.
        let net = format!("10.{}.{n}", 100 + pid % 100);
        let run = |args: &[&str]| Command::new("ip").args(args).output().map_err(|e| e.to_string()).and_then(|o| if o.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&o.stderr).trim().to_string()) });
        let made = TunTapDevice::new(&name)
            .map_err(|e| format!("cannot open {name}: {e}"))
            .and_then(|device| run(&["addr", "add", &format!("{net}.1/24"), "dev", &name]).and_then(|()| run(&["link", "set", &name, "up"])).map(|()| device));
        match made {
            Ok(device) => Some(Tap { device, net }),
            Err(why) => {
                if std::env::var("FERROTA_REQUIRE_TAP").as_deref() == Ok("1") {
                    panic!("{test}: a TAP interface is required (FERROTA_REQUIRE_TAP=1) but none could be made: {why}");
                }
                eprintln!("SKIPPED {test}: no TAP interface ({why}); run as root to test the chips' server loop");
                None
            }
        }
    }
}

/// A device on `tap` at `<net>.2`, its server loop on its own thread; what it did, and a
/// receiver that gets one message when it resets.
fn start_device(tap: Tap) -> (String, Arc<Mutex<Seen>>, mpsc::Receiver<()>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (tx, rx) = mpsc::channel();
    let Tap { device, net } = tap;
    let address: Ipv4Address = format!("{net}.2").parse().unwrap();
    let thread_seen = seen.clone();
    static RECORDING: std::sync::Once = std::sync::Once::new();
    RECORDING.call_once(|| {
        if log::set_logger(&Recorder).is_ok() {
            log::set_max_level(log::LevelFilter::Info);
        }
    });
    let name = format!("device {net}");
    std::thread::Builder::new().name(name).spawn(move || {
        RESET.with(|r| *r.borrow_mut() = Some(tx));
        // `wifi: manual_ip`, as the chip firmware turns it into the stack's configuration.
        let static_ip = StaticIp { address: address.octets(), prefix: 24, gateway: [address.octets()[0], address.octets()[1], address.octets()[2], 1], dns: [None, None] };
        let config = Network::new("tap", "", Security::Open, Some(static_ip)).net_config();
        let resources = Box::leak(Box::new(StackResources::<4>::new()));
        let (stack, runner) = embassy_net::new(device, config, resources, 0x5EED_0000 + u64::from(address.octets()[2]));
        let executor = Box::leak(Box::new(Executor::new()));
        executor.run(|spawner: Spawner| {
            spawner.spawn(net_task(runner).unwrap());
            spawner.spawn(device_task(stack, thread_seen).unwrap());
        });
    })
    .expect("a thread for the device");
    (format!("{net}.2"), seen, rx)
}

#[embassy_executor::task(pool_size = 8)]
async fn net_task(mut runner: Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

#[embassy_executor::task(pool_size = 8)]
async fn device_task(stack: Stack<'static>, seen: Arc<Mutex<Seen>>) -> ! {
    let safe_mode = SafeModeConfig { enabled: true, num_attempts: 10, boot_is_good_after_ms: 60_000, reboot_timeout_ms: 300_000 };
    let slot = MemSlot { seen: seen.clone(), data: Vec::new(), open: false };
    let mut server = Server::boot(safe_mode, Counter(0), slot, OsRng, reset).await;
    let ota = OtaComponent::new(OtaConfig { port: OTA_PORT, version: ProtocolVersion::V2, deflate: true });
    ota.try_set_auth_password(PASSWORD).unwrap();
    let mut automations = Events(seen.clone(), "ota");
    let mut web_automations = Events(seen, "web");
    let credentials = Some(Credentials { username: "admin", password: "hunter2" });
    let info = ferrota_ota::web_page::DeviceInfo { name: "tap-device", friendly_name: "TAP device", version: "0", build_time: "now", image_md5: "", safe_mode: false };
    let web = Some(WebServer { port: WEB_PORT, credentials, info, automations: &mut web_automations });
    server.run(stack, &ota, &mut automations, web).await
}

/// An image like a firmware: compressible, not trivial.
fn image(seed: u32) -> Vec<u8> {
    ferrota_test_support::sample(300_000, seed)
}

fn native(host: &str, password: &str, bytes: &[u8]) -> (Result<std::net::SocketAddr, String>, Vec<String>) {
    native_with(host, OTA_PORT, password, bytes, |_| {})
}

/// [`native`] to `port`, with the request changed by `adjust` (retries, an image store).
fn native_with(host: &str, port: u16, password: &str, bytes: &[u8], adjust: impl FnOnce(&mut upload::Request)) -> (Result<std::net::SocketAddr, String>, Vec<String>) {
    let mut request = upload::Request {
        hosts: vec![host.to_string()],
        port,
        password: Some(password.to_string()),
        image: Arc::new(Image::new(bytes.to_vec())),
        retry: RetryPolicy { extra_attempts: 0, delay: Duration::from_millis(100) },
        store: None,
    };
    adjust(&mut request);
    let mut log = Collect::default();
    let result = upload::upload(&request, &mut log).map_err(|e| e.to_string());
    (result, log.lines)
}

/// Which interface this test uses (each test its own, so they can run at once).
static NEXT: AtomicU8 = AtomicU8::new(1);

#[test]
fn native_uploads_commit_and_reboot_and_a_wrong_password_changes_nothing() {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let Some(tap) = Tap::new(n, "native_uploads") else { return };
    let (host, seen, resets) = start_device(tap);

    let (result, log) = native(&host, "not the password", &image(1));
    assert!(result.is_err(), "{log:?}");
    assert!(seen.lock().unwrap().committed.is_none());
    assert!(resets.recv_timeout(Duration::from_millis(500)).is_err(), "no reboot after a refused upload");
    assert_eq!(seen.lock().unwrap().events, ["ota error 130"], "on_error fires with the auth error (0x82)");

    let new = image(2);
    let (result, log) = native(&host, PASSWORD, &new);
    assert!(result.is_ok(), "{result:?} {log:?}");
    resets.recv_timeout(Duration::from_secs(10)).expect("the device reboots into the update");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.committed.as_deref(), Some(&new[..]), "the slot holds the image, inflated");
    assert_eq!(seen.events[1..], ["ota begin", "ota end"]);
}

#[test]
fn web_server_update_with_basic_auth() {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let Some(tap) = Tap::new(n, "web_server_update") else { return };
    let (host, seen, resets) = start_device(tap);
    let new = image(3);
    let request = |password: &str| upload::web_server::Request {
        hosts: vec![host.clone()],
        port: WEB_PORT,
        username: Some("admin".into()),
        password: Some(password.into()),
        image: Arc::new(Image::new(new.clone())),
        filename: "firmware.bin".into(),
    };
    // Until the web socket listens (the loop's first turn), a connection is refused: retry.
    std::thread::sleep(Duration::from_millis(300));
    // A browser's speculative connection, which sends nothing, must not hold off its request.
    let idle = std::net::TcpStream::connect((host.as_str(), WEB_PORT)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let net = host.rsplit_once('.').map_or(host.as_str(), |(net, _)| net).to_string();
    assert!(device_log(&net).contains("[I][web_server]: the page and /update listening on port 8080"), "the device's log is recorded:\n{}", device_log(&net));
    // The page, through the chip loop's socket buffers: whole, its length as announced.
    let mut page = Vec::new();
    let mut stream = std::net::TcpStream::connect((host.as_str(), WEB_PORT)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nAuthorization: Basic YWRtaW46aHVudGVyMg==\r\n\r\n").unwrap();
    stream.read_to_end(&mut page).unwrap();
    let page = String::from_utf8(page).unwrap();
    let (head, body) = page.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK") && head.contains(&format!("Content-Length: {}\r\n", body.len())), "{head}");
    assert!(body.contains("<title>TAP device</title>") && body.ends_with("</html>\n"));
    drop(idle);
    std::thread::sleep(Duration::from_millis(300));
    // An upload under way: a second browser is told the device is busy, and the first one's
    // abandoned upload changes nothing.
    let mut first = std::net::TcpStream::connect((host.as_str(), WEB_PORT)).unwrap();
    let head = "POST /update HTTP/1.1\r\nAuthorization: Basic YWRtaW46aHVudGVyMg==\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: 100000\r\n\r\n--B\r\nContent-Disposition: form-data; name=\"update\"; filename=\"f.bin\"\r\n\r\n";
    first.write_all(head.as_bytes()).unwrap();
    first.write_all(&new[..20_000]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut second = std::net::TcpStream::connect((host.as_str(), WEB_PORT)).unwrap();
    second.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    second.write_all(b"GET / HTTP/1.1\r\nAuthorization: Basic YWRtaW46aHVudGVyMg==\r\n\r\n").unwrap();
    let mut busy = Vec::new();
    let _ = second.read_to_end(&mut busy);
    assert!(busy.starts_with(b"HTTP/1.1 503 "), "{}", String::from_utf8_lossy(&busy));
    // The browser closes its side once it has the reply, which frees the device's socket.
    drop(second);
    drop(first);
    std::thread::sleep(Duration::from_millis(500));
    assert!(seen.lock().unwrap().committed.is_none());
    assert_eq!(seen.lock().unwrap().events, ["web begin", "web abort"], "the abandoned upload");
    seen.lock().unwrap().events.clear();
    let mut log = Collect::default();
    let refused = upload::web_server::upload(&request("wrong"), &mut log).expect_err("a wrong password is refused").to_string();
    assert!(refused.contains("401"), "{refused} {:?}", log.lines);
    assert!(seen.lock().unwrap().committed.is_none());
    // One connection per port at a time: a client that reconnects while the last one is
    // still being closed is refused, so give the device that moment (a browser always does).
    std::thread::sleep(Duration::from_millis(300));
    let mut log = Collect::default();
    upload::web_server::upload(&request("hunter2"), &mut log).unwrap_or_else(|e| panic!("{e} {:?}\nthe device's log:\n{}", log.lines, device_log(&net)));
    resets.recv_timeout(Duration::from_secs(10)).expect("the device reboots into the update");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.committed.as_deref(), Some(&new[..]));
    assert_eq!(seen.events, ["web begin", "web end"], "the web_server entry's automations");
}

#[test]
fn esphomes_own_client_updates_the_chip_loop() {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let Some(tap) = Tap::new(n, "esphome_client") else { return };
    let Some(venv) = ferrota_test_support::esphome_venv("esphome_client") else { return };
    let (host, seen, resets) = start_device(tap);
    let dir = std::env::temp_dir().join(format!("ferrota-tap-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let new = image(4);
    std::fs::write(dir.join("firmware.bin"), &new).unwrap();
    let script = "import sys\nfrom pathlib import Path\nfrom esphome.espota2 import run_ota\nrc, _ = run_ota(sys.argv[1], 3232, sys.argv[2], Path(sys.argv[3]))\nsys.exit(rc)\n";
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", script, &host, PASSWORD, dir.join("firmware.bin").to_str().unwrap()])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "run_ota failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    resets.recv_timeout(Duration::from_secs(10)).expect("the device reboots into the update");
    assert_eq!(seen.lock().unwrap().committed.as_deref(), Some(&new[..]));
}

#[test]
fn a_cut_upload_resumes_and_a_kept_base_gets_a_delta_on_the_chip_loop() {
    // Resume: the first connection is cut halfway through the image; the retry goes on.
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let Some(tap) = Tap::new(n, "resume_and_delta") else { return };
    let net = tap.net.clone();
    let (host, seen, resets) = start_device(tap);
    let new = image(5);
    let proxy = ferrota_test_support::CuttingProxy::start(&host, OTA_PORT, 50_000);
    let (result, log) = native_with("127.0.0.1", proxy.port, PASSWORD, &new, |r| r.retry.extra_attempts = 1);
    assert!(result.is_ok(), "{result:?} {log:?}\n{}", device_log(&net));
    assert!(log.iter().any(|l| l.starts_with("Resuming at byte")), "{log:?}");
    assert!(device_log(&net).contains("keeping the"), "{}", device_log(&net));
    resets.recv_timeout(Duration::from_secs(10)).expect("the device reboots into the update");
    assert_eq!(seen.lock().unwrap().committed.as_deref(), Some(&new[..]));

    // Delta: a device running a build the client kept takes a patch.
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let Some(tap) = Tap::new(n, "resume_and_delta") else { return };
    let (host, seen, resets) = start_device(tap);
    let store_dir = std::env::temp_dir().join(format!("ferrota-tap-store-{}-{n}", std::process::id()));
    let store = ferrota::upload::store::ImageStore::new(&store_dir);
    store.keep(&Image::new(running())).unwrap();
    let mut new = running();
    new[150_000..150_020].copy_from_slice(b"a changed log line!!");
    let (result, log) = native_with(&host, OTA_PORT, PASSWORD, &new, |r| r.store = Some(store));
    let _ = std::fs::remove_dir_all(&store_dir);
    assert!(result.is_ok(), "{result:?} {log:?}");
    assert!(log.iter().any(|l| l.starts_with("Sending a delta")), "{log:?}");
    resets.recv_timeout(Duration::from_secs(10)).expect("the device reboots into the update");
    assert_eq!(seen.lock().unwrap().committed.as_deref(), Some(&new[..]));
}
