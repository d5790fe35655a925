//! Running the real host device binary in tests, and a minimal scripted uploader.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
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

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn built_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ferrota-host-device"))
}

/// Writes a copy of the device binary with `marker` appended (still a valid executable, but a
/// different image) and returns its MD5, which the device prints as `image=` when it runs it.
pub fn make_image(path: &Path, marker: &str) -> String {
    let mut bytes = std::fs::read(built_binary()).unwrap();
    bytes.extend_from_slice(marker.as_bytes());
    std::fs::write(path, &bytes).unwrap();
    super::md5_hex(&bytes)
}

/// The supervisor process of one device, with its output collected line by line.
pub struct Device {
    pub child: Child,
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Device {
    /// Copies the binary to `dir/fw` (the factory build) and starts it with `args`.
    pub fn start(dir: &TempDir, args: &[&str]) -> (Device, String) {
        let fw = dir.path("fw");
        let factory_id = make_image(&fw, "");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&fw, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let port = free_port();
        let mut child = Command::new(&fw)
            .args(["--port", &port.to_string(), "--state-dir", dir.path("state").to_str().unwrap()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let device = Device { child, port, lines };
        device.wait_for_count("listening on port", 1);
        (device, factory_id)
    }

    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    pub fn count(&self, needle: &str) -> usize {
        self.lines.lock().unwrap().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits until `needle` appeared in `n` lines of output.
    pub fn wait_for_count(&self, needle: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.count(needle) < n {
            assert!(Instant::now() < deadline, "timed out waiting for {n}x '{needle}'; output:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The image id of the `n`th boot (1-based) once it has printed its banner.
    pub fn image_of_boot(&self, n: usize) -> String {
        self.wait_for_count("ferrota-host-device name=", n);
        let lines = self.lines.lock().unwrap();
        let banner = lines.iter().filter(|l| l.contains("ferrota-host-device name=")).nth(n - 1).unwrap();
        banner.split("image=").nth(1).unwrap().split(' ').next().unwrap().to_string()
    }

    /// The pid of the device process (the supervisor's child) of the `n`th boot.
    pub fn device_pid_of_boot(&self, n: usize) -> u32 {
        self.wait_for_count("ferrota-host-device name=", n);
        let lines = self.lines.lock().unwrap();
        let banner = lines.iter().filter(|l| l.contains("ferrota-host-device name=")).nth(n - 1).unwrap();
        banner.split("pid=").nth(1).unwrap().trim().parse().unwrap()
    }

    /// Waits for the `n`th "listening" line: the device of that boot is serving.
    pub fn wait_serving(&self, n: usize) {
        self.wait_for_count("listening on port", n);
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // The device process dies with its supervisor (PR_SET_PDEATHSIG).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Uploads `image` without auth, the legacy way (feature byte 01, version 1 or 2 as the
/// device says). Returns the first unexpected device byte as the error.
pub fn upload(port: u16, image: &[u8]) -> Result<(), u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|_| 0xFF)?;
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let read1 = |s: &mut TcpStream| -> u8 {
        let mut b = [0u8];
        s.read_exact(&mut b).map_or(0xFF, |()| b[0])
    };
    let send = |s: &mut TcpStream, b: &[u8]| s.write_all(b).map_err(|_| 0xFF);
    let expect = |got: u8, want: u8| if got == want { Ok(()) } else { Err(got) };
    send(&mut s, &[0x6C, 0x26, 0xF7, 0x5C, 0x45])?;
    expect(read1(&mut s), 0x00)?;
    let version = read1(&mut s);
    send(&mut s, &[0x01])?;
    expect(read1(&mut s), 0x40)?;
    expect(read1(&mut s), 0x41)?;
    send(&mut s, &(image.len() as u32).to_be_bytes())?;
    expect(read1(&mut s), 0x42)?;
    send(&mut s, super::md5_hex(image).as_bytes())?;
    expect(read1(&mut s), 0x43)?;
    for block in image.chunks(8192) {
        send(&mut s, block)?;
        if version == 2 {
            expect(read1(&mut s), 0x47)?;
        }
    }
    expect(read1(&mut s), 0x44)?;
    expect(read1(&mut s), 0x45)?;
    send(&mut s, &[0x00])
}
