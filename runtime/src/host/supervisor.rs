//! The process the user starts: it runs the device as a child and plays bootloader.
//!
//! A crashed process cannot roll itself back, so the executable the user starts stays as a
//! small supervisor: it starts the current build as a child (same arguments), and when that
//! child stops it either falls back to the previous build (the current one never confirmed
//! itself, whatever its exit status) or restarts the current one, like a device reset. After
//! an OTA the child execs the new build in place, so the supervisor keeps watching the same
//! process.

use std::convert::Infallible;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::slots::Slots;
use super::ENV_STATE_DIR;

/// Pause before restarting a build that died, so a crash loop does not spin the CPU.
const RESTART_DELAY: Duration = Duration::from_millis(500);

/// Supervises the device in `state_dir` until a confirmed build exits cleanly; then exits the
/// process.
pub fn run(state_dir: &Path) -> io::Result<Infallible> {
    let factory = std::env::current_exe()?;
    let slots = Slots::new(state_dir)?;
    let state_dir = std::fs::canonicalize(slots.dir())?;
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| factory.clone().into_os_string());
    let args: Vec<_> = args.collect();
    loop {
        let state = slots.load_for_factory(&factory)?;
        let exe = slots.path(&state, state.current);
        let mut command = Command::new(&exe);
        command.arg0(&arg0).args(&args).env(ENV_STATE_DIR, &state_dir);
        die_with_parent(&mut command);
        let status = match command.status() {
            Ok(status) => status,
            Err(e) => {
                eprintln!("[supervisor] cannot start {}: {e}", exe.display());
                fall_back_or_wait(&slots)?;
                continue;
            }
        };
        // A build that exits before confirming itself failed to boot, even with status 0:
        // otherwise a build that just exits would be started again on every boot for good.
        let confirmed = slots.load().is_some_and(|state| state.confirmed);
        if status.success() && confirmed {
            std::process::exit(0);
        }
        let how = status.signal().map_or_else(|| format!("exit status {}", status.code().unwrap_or(-1)), |s| format!("signal {s}"));
        if confirmed {
            eprintln!("[supervisor] the device died ({how})");
        } else {
            eprintln!("[supervisor] the device stopped ({how}) before its build confirmed itself");
        }
        fall_back_or_wait(&slots)?;
    }
}

fn fall_back_or_wait(slots: &Slots) -> io::Result<()> {
    match slots.fall_back()? {
        Some(slot) => eprintln!("[supervisor] the new build never confirmed itself: falling back to slot {slot:?}"),
        None => std::thread::sleep(RESTART_DELAY),
    }
    Ok(())
}

/// Makes the kernel kill the device when the supervisor dies, so it never outlives it and
/// keeps the port.
fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    // SAFETY: the closure runs between fork and exec and only calls prctl, which is
    // async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}
