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
use crate::events::{dispatch, Event, OtaListener};
use crate::safe_mode::{SafeMode, SafeModeAction, SafeModeConfig};

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

    /// Runs safe mode's boot check with the counter file in the state directory.
    pub fn safe_mode(&self, config: SafeModeConfig) -> SafeMode<FileCounterStore> {
        let store = FileCounterStore::new(self.slots.dir().join("safe-mode-counter"));
        SafeMode::boot(config, store, self.now_ms())
    }

    /// Serves OTA on the component's port forever, one client at a time; returns only with
    /// the error that stopped it. A successful upload ends in a safe reboot into the new build.
    pub fn run(
        &self,
        ota: &OtaComponent,
        safe_mode: &mut SafeMode<FileCounterStore>,
        listener: &mut dyn OtaListener,
    ) -> io::Error {
        let server = match TcpListener::bind(("0.0.0.0", ota.config().port)).and_then(|l| l.set_nonblocking(true).map(|()| l)) {
            Ok(server) => server,
            Err(e) => return e,
        };
        println!("[ota] listening on port {}", ota.config().port);
        loop {
            if self.poll_safe_mode(safe_mode, false) {
                return self.reboot();
            }
            match server.accept() {
                Ok((stream, peer)) => {
                    println!("[ota] client {peer} connected");
                    match self.serve(ota, stream, safe_mode, listener) {
                        Served::Updated => {
                            // ESPHome waits briefly before the safe reboot.
                            std::thread::sleep(Duration::from_millis(100));
                            safe_mode.on_safe_shutdown();
                            return self.reboot();
                        }
                        Served::SafeModeTimeUp => return self.reboot(),
                        Served::Failed => {}
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(IDLE_POLL),
                Err(e) => {
                    eprintln!("[ota] accept failed: {e}");
                    std::thread::sleep(IDLE_POLL);
                }
            }
        }
    }

    /// Acts on safe mode's clock; true when safe mode's time is up and the device must reboot
    /// (once the upload under way ends, with `uploading`).
    fn poll_safe_mode(&self, safe_mode: &mut SafeMode<FileCounterStore>, uploading: bool) -> bool {
        match safe_mode.poll(self.now_ms()) {
            Some(SafeModeAction::BootGood) => {
                println!("[safe_mode] boot seems successful; resetting boot loop counter");
                match self.slots.confirm() {
                    Ok(true) => println!("[ota] build confirmed"),
                    Ok(false) => {}
                    Err(e) => eprintln!("[ota] cannot confirm the build: {e}"),
                }
                false
            }
            Some(SafeModeAction::Reboot) if uploading => {
                println!("[safe_mode] safe mode enable time has elapsed -- restarting once the upload under way ends");
                true
            }
            Some(SafeModeAction::Reboot) => {
                println!("[safe_mode] safe mode enable time has elapsed -- restarting");
                true
            }
            None => false,
        }
    }

    /// Runs one session to its end, or until safe mode's time is up.
    fn serve(
        &self,
        ota: &OtaComponent,
        mut stream: TcpStream,
        safe_mode: &mut SafeMode<FileCounterStore>,
        listener: &mut dyn OtaListener,
    ) -> Served {
        let setup = stream
            .set_nonblocking(false)
            .and_then(|()| stream.set_nodelay(true))
            .and_then(|()| stream.set_read_timeout(Some(READ_POLL)))
            .and_then(|()| stream.set_write_timeout(Some(WRITE_TIMEOUT)));
        if let Err(e) = setup {
            eprintln!("[ota] socket setup failed: {e}");
            return Served::Failed;
        }
        let mut session = ota.start_session(FileFlash::new(self.slots.clone()), &mut OsRng, self.now_ms());
        let mut input = vec![0u8; 64 * 1024];
        let mut output = [0u8; 256];
        // Safe mode's time ran out while an image was arriving: reboot when the session ends.
        let mut reboot_due = false;
        let outcome = loop {
            // Each poll is written before the next one, so `44` is on the wire while the
            // session commits the image (fsync, ELF check, rename) on the following poll.
            while session.has_transmit() {
                let n = session.poll_transmit(&mut output);
                if stream.write_all(&output[..n]).is_err() {
                    session.handle_close();
                    break;
                }
            }
            while let Some(event) = session.poll_event() {
                log_event(event);
                dispatch(listener, event);
            }
            if let Some(outcome) = session.outcome() {
                break outcome;
            }
            // Safe mode's clock runs on while a client is connected, so a client trickling
            // handshake bytes cannot hold off the reboot or the confirmation (the read poll
            // wakes this loop). An upload under way finishes first, as in ESPHome, whose upload
            // loop holds the reboot off too (the session's timeouts bound it); the clock is
            // acted on when it ends. Once the new image is committed the boot state is the new
            // build's, which this build must not confirm.
            if !session.is_committed() {
                if !reboot_due {
                    reboot_due = self.poll_safe_mode(safe_mode, session.is_receiving_image());
                }
                if reboot_due && !session.is_receiving_image() {
                    return Served::SafeModeTimeUp;
                }
            }
            match stream.read(&mut input) {
                Ok(0) => session.handle_close(),
                Ok(n) => session.handle_input(self.now_ms(), &input[..n]),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => {
                    session.handle_timeout(self.now_ms())
                }
                Err(_) => session.handle_close(),
            }
        };
        drop(stream);
        match outcome {
            Ok(()) => Served::Updated,
            Err(e) => {
                eprintln!("[ota] update failed: {e}");
                if reboot_due {
                    Served::SafeModeTimeUp
                } else {
                    Served::Failed
                }
            }
        }
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

/// How a session ended.
enum Served {
    /// A new build is committed: safe reboot into it.
    Updated,
    /// The update failed; the device keeps serving.
    Failed,
    /// Safe mode's time ran out during the session: plain reboot.
    SafeModeTimeUp,
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
