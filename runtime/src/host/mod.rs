//! The host platform: the device as a process on a PC, the end-to-end device of every test.
//!
//! Running the firmware executable starts a supervisor ([`supervisor`]) that runs the device
//! as a child; the child serves OTA on a TCP port ([`HostPlatform::run`]), stages uploads to a
//! file ([`FileFlash`]), installs a verified build into the other A/B slot ([`Slots`]) and
//! reboots by exec'ing it with the same arguments. The new build confirms itself once safe
//! mode considers the boot good; until then a crash makes the supervisor fall back.

mod callbacks;
mod elf;
mod flash;
mod slots;
mod store;
mod supervisor;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub use callbacks::Callbacks;
pub use elf::is_native_executable;
pub use flash::{FileFlash, MAX_IMAGE_SIZE};
pub use slots::{BootState, Slot, Slots};
pub use store::{FileCounterStore, OsRng};

use crate::component::OtaComponent;
use crate::device::{Action, Device};
use crate::events::{dispatch, Event, OtaListener};
use crate::exchange::{Ending, Exchange, Resumable};
use crate::flash::Flash;
use crate::safe_mode::SafeModeConfig;
use crate::web_page::DeviceInfo;
use crate::web_update::{WebServer, WebUpdate, BUSY_REPLY};

/// Set by the supervisor for the device process: the canonical state directory.
pub const ENV_STATE_DIR: &str = "FERROTA_STATE_DIR";

/// How often the idle device looks for a client and at the safe-mode clock.
const IDLE_POLL: Duration = Duration::from_millis(20);
/// Read timeout while serving, so session timeouts are checked without a client byte.
const READ_POLL: Duration = Duration::from_millis(250);
/// ESPHome's socket send timeout.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// The running device process.
pub struct HostPlatform {
    slots: Slots,
    started: Instant,
}

impl HostPlatform {
    /// Call first in `main`. In the process the user started this runs the supervisor and
    /// never returns; in the device process (started by the supervisor) it returns.
    pub fn start(state_dir: &Path) -> io::Result<HostPlatform> {
        match std::env::var_os(ENV_STATE_DIR) {
            Some(dir) => Ok(HostPlatform { slots: Slots::new(dir)?, started: Instant::now() }),
            None => match supervisor::run(state_dir)? {},
        }
    }

    /// Milliseconds since this boot.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The A/B slots of this device.
    pub fn slots(&self) -> &Slots {
        &self.slots
    }

    /// Boots the device's rules ([`Device`]): safe mode's check with the counter file in the
    /// state directory. (A build that boot-loops unconfirmed is the supervisor's to fall back
    /// from, so the device never rolls back itself.)
    pub fn device(&self, config: SafeModeConfig) -> Device<FileCounterStore> {
        let store = FileCounterStore::new(self.slots.dir().join("safe-mode-counter"));
        Device::boot(config, store, self.now_ms(), false)
    }

    /// The running build's MD5 in hex, of the executable this process runs (as `ferrota
    /// upload` computes it for the image it sends); empty when it can't be read.
    pub fn image_md5(&self) -> String {
        let Some(md5) = flash::hash_executable(|len, read| crate::image_len::md5_of(len, read)) else { return String::new() };
        let mut hex = [0u8; 32];
        crate::hex::encode_into(&md5, &mut hex).to_string()
    }

    /// Serves forever, one client at a time: the native protocol on `ota`'s port (with its
    /// automations) and the web server's page and `/update` on `web`'s; returns only with the
    /// error that stopped it. A successful upload ends in a safe reboot into the new build. In
    /// safe mode no automation runs.
    pub fn run(&self, mut ota: Option<(&OtaComponent, &mut dyn OtaListener)>, device: &mut Device<FileCounterStore>, mut web: Option<WebServer<'_>>) -> io::Error {
        let listen = |port: u16, what: &str| {
            let server = TcpListener::bind(("0.0.0.0", port)).and_then(|l| l.set_nonblocking(true).map(|()| l))?;
            println!("[{what}] listening on port {port}");
            Ok::<_, io::Error>(server)
        };
        let ota_server = match ota.as_ref().map(|(component, _)| listen(component.config().port, "ota")).transpose() {
            Ok(server) => server,
            Err(e) => return e,
        };
        let web_server = match web.as_ref().map(|w| listen(w.port, "web_server")).transpose() {
            Ok(server) => server,
            Err(e) => return e,
        };
        // The host's network is up as soon as it listens.
        device.handle_network(self.now_ms(), true);
        let safe_mode = device.safe_mode().is_active();
        // A web client that arrived while an idle connection held the loop: served next.
        let mut next_web = None;
        // An upload a dropped connection left for its client to resume.
        let mut parked = Resumable::default();
        loop {
            device.handle_timeout(self.now_ms());
            if let Some(error) = self.act(device) {
                return error;
            }
            if parked.expire(self.now_ms()) {
                println!("[ota] the partial upload kept for a resume expired: dropped");
                FileFlash::new(self.slots.clone()).abort();
            }
            if let Some(stream) = next_web.take().or_else(|| accept(web_server.as_ref(), "web_server")).filter(|_| web.is_some()) {
                let web = web.as_mut().expect("a web client only where the web server listens");
                let automations: &mut dyn OtaListener = if safe_mode { &mut () } else { &mut *web.automations };
                let info = DeviceInfo { safe_mode, ..web.info };
                let mut request = WebUpdate::new(self.now_ms(), FileFlash::new(self.slots.clone()), web.credentials, info);
                let ending;
                (ending, next_web) = self.serve(stream, &mut request, automations, device, web_server.as_ref());
                parked.web_ended(ending);
            } else if let (Some(stream), Some((component, automations))) = (accept(ota_server.as_ref(), "ota"), ota.as_mut()) {
                let automations: &mut dyn OtaListener = if safe_mode { &mut () } else { &mut **automations };
                let mut session = component.start_session(FileFlash::new(self.slots.clone()), &mut OsRng, self.now_ms()).with_parked(parked.offer());
                (_, next_web) = self.serve(stream, &mut session, automations, device, web_server.as_ref());
                if let Some(bytes) = parked.keep(session.take_parked()) {
                    println!("[ota] keeping the {bytes} bytes received for the client to resume");
                }
            } else {
                std::thread::sleep(IDLE_POLL);
            }
        }
    }

    /// Does what the device's rules ask between sessions; `Some` with the error of a reboot
    /// that failed (a successful one does not return).
    fn act(&self, device: &mut Device<FileCounterStore>) -> Option<io::Error> {
        while let Some(action) = device.poll_action() {
            match action {
                Action::Confirm => self.confirm(),
                Action::Reboot => {
                    println!("[safe_mode] safe mode enable time has elapsed -- restarting");
                    return Some(self.reboot());
                }
                Action::RebootIntoUpdate => {
                    // ESPHome waits briefly before the safe reboot.
                    std::thread::sleep(Duration::from_millis(100));
                    return Some(self.reboot());
                }
                Action::DropClient | Action::RollBack => {}
            }
        }
        None
    }

    fn confirm(&self) {
        println!("[safe_mode] boot seems successful; resetting boot loop counter");
        match self.slots.confirm() {
            Ok(true) => println!("[ota] build confirmed"),
            Ok(false) => {}
            Err(e) => eprintln!("[ota] cannot confirm the build: {e}"),
        }
    }

    /// Runs one connection's handler to its end, telling the device's rules what it does: the
    /// clock runs on, so a client trickling bytes cannot hold off the reboot or the
    /// confirmation (the read poll wakes this loop). A browser that connects to `web` meanwhile
    /// is told the device is busy, unless this connection is idle: then it gives way, and the
    /// new client is returned to be served next.
    fn serve(&self, mut stream: TcpStream, exchange: &mut impl Exchange, listener: &mut dyn OtaListener, device: &mut Device<FileCounterStore>, web: Option<&TcpListener>) -> (Ending, Option<TcpStream>) {
        let mut next = None;
        let setup = stream
            .set_nonblocking(false)
            .and_then(|()| stream.set_nodelay(true))
            .and_then(|()| stream.set_read_timeout(Some(READ_POLL)))
            .and_then(|()| stream.set_write_timeout(Some(WRITE_TIMEOUT)));
        if let Err(e) = setup {
            eprintln!("[host] socket setup failed: {e}");
            exchange.handle_close();
            return (Ending::Quiet, None);
        }
        let mut input = vec![0u8; 64 * 1024];
        let mut output = [0u8; 1024];
        let mut deferred_logged = false;
        let ending = loop {
            // Each poll is written before the next one, so `44` is on the wire while the
            // session commits the image (fsync, ELF check, rename) on the following poll.
            while exchange.has_transmit() {
                let n = exchange.poll_transmit(&mut output);
                if stream.write_all(&output[..n]).is_err() {
                    exchange.handle_close();
                    break;
                }
            }
            while let Some(event) = exchange.poll_event() {
                log_event(event);
                dispatch(listener, event);
            }
            if let Some(ending) = exchange.finished() {
                break ending;
            }
            device.handle_session(self.now_ms(), exchange.is_receiving_image(), exchange.is_committed());
            while let Some(action) = device.poll_action() {
                match action {
                    Action::Confirm => self.confirm(),
                    Action::DropClient => exchange.handle_close(),
                    Action::Reboot | Action::RebootIntoUpdate | Action::RollBack => {}
                }
            }
            if let Some(client) = accept(web, "web_server") {
                if exchange.can_give_way() && next.is_none() {
                    exchange.handle_close();
                    next = Some(client);
                    continue;
                }
                turn_away(client);
            }
            if device.reboot_waits_for_upload() && !deferred_logged {
                deferred_logged = true;
                println!("[safe_mode] safe mode enable time has elapsed -- restarting once the upload under way ends");
            }
            match stream.read(&mut input) {
                Ok(0) => exchange.handle_close(),
                Ok(n) => exchange.handle_input(self.now_ms(), &input[..n]),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => {
                    exchange.handle_timeout(self.now_ms())
                }
                Err(_) => exchange.handle_close(),
            }
        };
        drop(stream);
        // A committed update was logged by its events already.
        if let (Some((_, tag)), false) = (ending.log(), ending.committed()) {
            println!("[{tag}] {ending}");
        }
        device.handle_session_end(self.now_ms(), ending.committed());
        (ending, next)
    }

    /// Restarts into the current build: exec with the same arguments and environment.
    pub fn reboot(&self) -> io::Error {
        let Some(state) = self.slots.load() else {
            return io::Error::new(io::ErrorKind::NotFound, "no boot-state to reboot into");
        };
        let exe = self.slots.path(&state, state.current);
        println!("[host] rebooting into {}", exe.display());
        let _ = io::stdout().flush();
        let mut args = std::env::args_os();
        let mut command = Command::new(&exe);
        if let Some(arg0) = args.next() {
            command.arg0(arg0);
        }
        command.args(args).exec()
    }
}

/// Tells a client the device is busy with another update ([`BUSY_REPLY`]); on a thread of its
/// own, which reads what the client sends until it closes (closing with unread bytes would
/// reset the connection and lose the reply).
fn turn_away(mut stream: TcpStream) {
    std::thread::spawn(move || {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        if stream.write_all(BUSY_REPLY).is_ok() && stream.shutdown(std::net::Shutdown::Write).is_ok() {
            let mut sink = [0u8; 4096];
            while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
        }
    });
}

/// A client waiting on `server`, if any (a failed accept is logged and skipped).
fn accept(server: Option<&TcpListener>, what: &str) -> Option<TcpStream> {
    match server?.accept() {
        Ok((stream, peer)) => {
            println!("[{what}] client {peer} connected");
            Some(stream)
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
        Err(e) => {
            eprintln!("[{what}] accept failed: {e}");
            None
        }
    }
}

fn log_event(event: Event) {
    match event {
        Event::Started => println!("[ota] starting update"),
        Event::Progress(x) => println!("[ota] progress: {x:.1}%"),
        Event::Completed => println!("[ota] update complete"),
        Event::Error(code) => println!("[ota] update error 0x{code:02X}"),
        Event::Aborted => println!("[ota] update aborted"),
    }
}
