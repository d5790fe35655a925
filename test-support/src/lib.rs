//! What the integration tests of both crates share: scratch directories, free ports, device
//! processes with their output, and the reference ESPHome venv.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any wait for a device may take before the test fails with the device's output.
const WAIT: Duration = Duration::from_secs(30);

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

/// A port nobody listens on right now, for a device to bind a moment later.
///
/// Taken from 20000–31999, below the ephemeral ports (32768 and up on Linux), so the outgoing
/// connections of tests running in parallel can't take it first, and never twice in one
/// process (the kernel would hand out a just-released port again).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Processes start at different places, so test binaries that overlap rarely meet.
    let start = std::process::id().wrapping_mul(997) % COUNT;
    for _ in 0..COUNT {
        let port = (FIRST + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % COUNT) as u16;
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + COUNT)
}

/// MD5 hex of bytes (how the host devices name the image they run), the sample images and the
/// in-memory flash the device checks use too.
pub use ferrota_ota_checks::support::{md5_hex, sample, MemFlash, INFO};

/// Writes a copy of `binary` with `marker` appended to `path`: still a valid executable, but a
/// different image. Returns its MD5, which our host device prints as `image=` when it runs it.
pub fn make_image(binary: &Path, path: &Path, marker: &str) -> String {
    let mut bytes = std::fs::read(binary).unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    bytes.extend_from_slice(marker.as_bytes());
    std::fs::write(path, &bytes).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    md5_hex(&bytes)
}

/// Starts `command`, retrying while the kernel says the executable is busy.
///
/// Tests run in threads: a file one test just wrote can still be open for writing in a child
/// that another thread forked at that moment (until the child's exec closes it), and exec of a
/// file open for writing fails with ETXTBSY. The window is a few milliseconds.
pub fn spawn(command: &mut Command) -> std::io::Result<Child> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

/// A device process (ours or ESPHome's) with its stdout and stderr collected line by line;
/// killed on drop.
pub struct Device {
    pub child: Child,
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Device {
    /// Starts `program` with `args` and `envs`; `port` is where it will serve OTA.
    pub fn spawn(program: &Path, args: &[&str], envs: &[(&str, &Path)], port: u16) -> Device {
        let mut command = Command::new(program);
        command.args(args).envs(envs.iter().map(|(k, v)| (*k, *v)));
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = spawn(&mut command).unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let streams: [Box<dyn Read + Send>; 2] = [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
        for stream in streams {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Device { child, port, lines }
    }

    /// Our host device: `binary` copied to `dir/fw` (the factory build, which an update
    /// replaces), on a free port, once it listens. Returns it with the factory image's MD5.
    pub fn ours(binary: &Path, dir: &TempDir, args: &[&str]) -> (Device, String) {
        let fw = dir.path("fw");
        let factory = make_image(binary, &fw, "");
        let port = free_port();
        let state = dir.path("state");
        let mut all = vec!["--port".to_string(), port.to_string(), "--state-dir".into(), state.to_str().unwrap().into()];
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let device = Device::spawn(&fw, &all, &[], port);
        device.wait_for("listening on port", 1);
        (device, factory)
    }

    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    pub fn count(&self, needle: &str) -> usize {
        self.lines.lock().unwrap().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits until `needle` appeared in `n` lines of output.
    pub fn wait_for(&self, needle: &str, n: usize) {
        let deadline = Instant::now() + WAIT;
        while self.count(needle) < n {
            assert!(Instant::now() < deadline, "timed out waiting for {n}x '{needle}'; output:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the `n`th "listening" line: our device of that boot is serving.
    pub fn wait_serving(&self, n: usize) {
        self.wait_for("listening on port", n);
    }

    /// Waits until the port accepts connections (ESPHome's device prints nothing when it does).
    pub fn wait_listening(&self) {
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "port {} never opened; output:\n{}", self.port, self.output());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The image (MD5) our device runs in its `n`th boot (1-based).
    pub fn image_of_boot(&self, n: usize) -> String {
        self.banner_field(n, "image=")
    }

    /// The pid of our device process (the supervisor's child) in its `n`th boot.
    pub fn device_pid_of_boot(&self, n: usize) -> u32 {
        self.banner_field(n, "pid=").parse().unwrap()
    }

    /// A `key=value` field of the `n`th boot banner.
    fn banner_field(&self, n: usize, key: &str) -> String {
        const BANNER: &str = "ferrota-host-device name=";
        self.wait_for(BANNER, n);
        let lines = self.lines.lock().unwrap();
        let banner = lines.iter().filter(|l| l.contains(BANNER)).nth(n - 1).unwrap();
        banner.split(key).nth(1).unwrap().split(' ').next().unwrap().trim().to_string()
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // Our device process dies with its supervisor (PR_SET_PDEATHSIG).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The reference ESPHome venv, installed on first use by `scripts/esphome-venv`. `None` (with
/// a `SKIPPED` line) when it can't be had, unless `FERROTA_REQUIRE_ESPHOME=1` (CI), which fails.
pub fn esphome_venv(test: &str) -> Option<PathBuf> {
    let why = match cached_venv("esphome-venv") {
        Ok(venv) => return Some(venv),
        Err(why) => why,
    };
    unavailable(test, "FERROTA_REQUIRE_ESPHOME", "the reference ESPHome 2026.10.0", &why)
}

/// Runs `scripts/<script>`, which installs a venv once into the cache and prints where.
fn cached_venv(script: &str) -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts").join(script);
    match Command::new("bash").arg(&script).output() {
        Ok(o) if o.status.success() => Ok(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// A test's tool is missing: it says SKIPPED and returns `None`, or fails where `require`
/// (an environment variable) is `1`, as CI sets it.
fn unavailable<T>(test: &str, require: &str, what: &str, why: &str) -> Option<T> {
    if std::env::var(require).as_deref() == Ok("1") {
        panic!("{test}: {what} is required ({require}=1) but unavailable: {why}");
    }
    eprintln!("SKIPPED {test}: {what} unavailable ({why})");
    None
}

/// Debian's chromium and chromedriver with selenium (in a venv `scripts/browser-venv`
/// installs once): the venv's python. `None` (with a `SKIPPED` line) when they can't be had,
/// unless `FERROTA_REQUIRE_BROWSER=1` (CI installs the browser and requires it), which fails.
pub fn browser(test: &str) -> Option<PathBuf> {
    let why = if !Path::new("/usr/bin/chromium").is_file() || !Path::new("/usr/bin/chromedriver").is_file() {
        "no /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)".to_string()
    } else {
        match cached_venv("browser-venv") {
            Ok(venv) => return Some(venv.join("bin/python")),
            Err(why) => why,
        }
    };
    unavailable(test, "FERROTA_REQUIRE_BROWSER", "a browser", &why)
}

/// A language server running as a process, spoken to over stdio as editors do.
pub struct LspProcess {
    pub child: Child,
    /// `None` closes the server's stdin.
    pub stdin: Option<ChildStdin>,
    messages: mpsc::Receiver<Value>,
}

impl LspProcess {
    /// Starts `command` with piped stdin and stdout (stderr is dropped).
    pub fn start(command: &mut Command) -> LspProcess {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || read_messages(stdout, tx));
        LspProcess { child, stdin, messages }
    }

    pub fn send(&mut self, message: Value) {
        let body = message.to_string();
        let stdin = self.stdin.as_mut().unwrap();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        stdin.flush().unwrap();
    }

    pub fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.next(|m| m["id"] == id)
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next message that `wanted` accepts (others are skipped).
    pub fn next(&self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let message = self.messages.recv_timeout(Duration::from_secs(10)).expect("the server answers");
            if wanted(&message) {
                return message;
            }
        }
    }

    /// Waits for the process to end; its exit status code.
    pub fn wait(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the language server is still running 10 s after it was told to stop");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// LSP's framing: `Content-Length` headers, then the JSON body.
fn read_messages(stdout: ChildStdout, tx: mpsc::Sender<Value>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() || tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
            return;
        }
    }
}


/// Red Hat's yaml-language-server from npm (`scripts/yaml-language-server` installs it once):
/// its executable script, run with `node`. `None` (with a `SKIPPED` line) when node or npm is
/// missing, unless `FERROTA_REQUIRE_EDITORS=1` (CI), which fails.
pub fn yaml_language_server(test: &str) -> Option<PathBuf> {
    match cached_venv("yaml-language-server") {
        Ok(bin) => Some(bin),
        Err(why) => unavailable(test, "FERROTA_REQUIRE_EDITORS", "yaml-language-server", &why),
    }
}

/// Debian's Neovim (0.7 or later, for `vim.lsp`), or `None` as for [`yaml_language_server`].
pub fn neovim(test: &str) -> Option<PathBuf> {
    let nvim = PathBuf::from("/usr/bin/nvim");
    if nvim.is_file() {
        return Some(nvim);
    }
    unavailable(test, "FERROTA_REQUIRE_EDITORS", "Neovim", "no /usr/bin/nvim (apt-get install neovim)")
}

/// The dashboard as a process on a free port; killed on drop.
pub struct Dashboard {
    pub child: Child,
    pub url: String,
}

impl Dashboard {
    /// `ferrota` (the binary under test) serving `dir` on a free port, once it listens.
    pub fn start(ferrota: &Path, dir: &Path, extra: &[&str]) -> Dashboard {
        let mut child = Command::new(ferrota)
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

    pub fn address(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    /// One HTTP/1.1 request: (status, body). `headers` are added as given.
    pub fn http(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> (u16, String) {
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

    pub fn get(&self, path: &str) -> Value {
        let (status, body) = self.http("GET", path, &[], None);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    pub fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, text) = self.http("POST", path, &[], body.as_ref());
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn device(&self, file: &str) -> Value {
        self.get("/api/devices").as_array().unwrap().iter().find(|d| d["file"] == file).cloned().unwrap_or_else(|| panic!("no {file}"))
    }

    /// Waits until `check` holds for the device list (the folder is scanned every second, the
    /// devices polled every few).
    pub fn wait_devices(&self, what: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
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
    pub fn run_job(&self, path: &str, body: Option<Value>) -> Value {
        let (status, started) = self.post(path, body);
        assert_eq!(status, 202, "{path}: {started}");
        let id = started["job"].as_u64().unwrap();
        self.wait_job(id, "the end", |job| ["succeeded", "failed", "cancelled"].contains(&job["state"].as_str().unwrap_or_default()))
    }

    /// Waits until `check` holds for job `id`: the job then.
    pub fn wait_job(&self, id: u64, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let job = self.get(&format!("/api/jobs/{id}"));
            if check(&job) {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id}: timed out waiting for {what}: {job:#}");
            std::thread::sleep(Duration::from_millis(100));
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


/// `ferrota compile`s a host `config` and starts the image as a running device serving OTA on
/// `port` (a copy named after `name`, which updates replace).
pub fn start_device(ferrota: &Path, dir: &TempDir, config: &Path, name: &str, port: u16) -> Device {
    let out = Command::new(ferrota).arg("compile").arg(config).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "ferrota compile failed:\n{}{stdout}", String::from_utf8_lossy(&out.stderr));
    let image = dir.path(&format!("{name}-running"));
    std::fs::copy(stdout.lines().last().unwrap(), &image).unwrap();
    let device = Device::spawn(&image, &[], &[], port);
    device.wait_for("listening on port", 1);
    device
}


/// A loopback TCP proxy in front of `host:port` that cuts its first connection once the client
/// has sent `cut_after` bytes through it (both directions closed, as a lost WiFi link looks to
/// both ends); later connections pass whole. For uploads that must survive a drop.
pub struct CuttingProxy {
    pub port: u16,
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl CuttingProxy {
    pub fn start(host: &str, port: u16, cut_after: usize) -> CuttingProxy {
        let target = (host.to_string(), port);
        use std::net::{Shutdown, TcpListener};
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(device) = TcpStream::connect((target.0.as_str(), target.1)) else { continue };
                let limit = if count.fetch_add(1, Ordering::SeqCst) == 0 { cut_after } else { usize::MAX };
                let (mut from_client, mut to_device) = (client.try_clone().unwrap(), device.try_clone().unwrap());
                let (mut from_device, mut to_client) = (device, client);
                let upstream = std::thread::spawn(move || {
                    let (mut buf, mut carried) = ([0u8; 16 * 1024], 0usize);
                    loop {
                        let n = match from_client.read(&mut buf[..(limit - carried).min(16 * 1024)]) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if to_device.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        carried += n;
                        if carried == limit {
                            break;
                        }
                    }
                    let _ = to_device.shutdown(Shutdown::Both);
                    let _ = from_client.shutdown(Shutdown::Both);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_device, &mut to_client);
                    let _ = to_client.shutdown(Shutdown::Both);
                    let _ = upstream.join();
                });
            }
        });
        CuttingProxy { port, connections }
    }
}

/// A slow link on loopback (this kernel has no netem): connections to its port are forwarded to `upstream` with `delay` each
/// way and `rate` bytes per second each way, through a queue of `queue` bytes (a router's
/// buffer: when it is full, TCP's flow control holds the sender back).
pub struct Link {
    pub port: u16,
}

impl Link {
    pub fn start(upstream: u16, delay: Duration, rate: f64, queue: usize) -> Link {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(device) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                for (from, to) in [(client.try_clone().unwrap(), device.try_clone().unwrap()), (device, client)] {
                    std::thread::spawn(move || pump(from, to, delay, rate, queue));
                }
            }
        });
        Link { port }
    }
}

/// One direction: read as the queue has room, send each piece when the link is free and
/// `delay` has passed.
fn pump(mut from: TcpStream, mut to: TcpStream, delay: Duration, rate: f64, queue: usize) {
    const PIECE: usize = 4096;
    let (tx, rx) = mpsc::sync_channel::<(Instant, Vec<u8>)>((queue / PIECE).max(1));
    std::thread::spawn(move || {
        let mut buf = vec![0u8; PIECE];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    let mut free_at = Instant::now();
    for (arrived, piece) in rx {
        let start = free_at.max(arrived);
        free_at = start + Duration::from_secs_f64(piece.len() as f64 / rate);
        let delivered = free_at + delay;
        if let Some(wait) = delivered.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if to.write_all(&piece).is_err() {
            return;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

