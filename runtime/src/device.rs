//! The device's main-loop rules, sans-IO (`handle_*` in, `poll_*` out, the clock passed in),
//! one copy for the host platform and every chip firmware: safe mode's clock, when a boot is
//! good enough to confirm the running build, when to reboot, and when a connected client must
//! be dropped so it can't hold a reboot off.
//!
//! The rules, as ESPHome's loop has them and as ferrota adds them for A/B images:
//! - safe mode's clock runs from boot, also while the network is down, but a boot is not good
//!   before the network is up (a build that can't reach it is never confirmed, so it is still
//!   rolled back);
//! - a build that safe mode finds boot-looping while it is still unconfirmed is rolled back;
//! - when safe mode's time is up, a client still in the handshake is dropped, but an upload
//!   already receiving the image finishes first (the session's own timeouts bound it);
//! - once a session committed a new image, this build's clock no longer counts: the build that
//!   proves itself next is the new one; the device reboots into it safely (no failed boot).

use crate::safe_mode::{BootCounterStore, SafeMode, SafeModeAction, SafeModeConfig};

/// What the platform must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The boot is good: confirm the running build so the bootloader keeps it (a platform
    /// whose session holds the flash confirms before the next update begins, or after it).
    Confirm,
    /// Safe mode's time is up and the client is not uploading an image: close its connection.
    DropClient,
    /// Safe mode's time is up: reboot (a plain one).
    Reboot,
    /// A new build is committed: reboot into it (the boot counter is already cleared).
    RebootIntoUpdate,
    /// Right after boot: this build is boot-looping before it confirmed itself; boot the
    /// previous one again.
    RollBack,
}

/// What a connected client's session is doing, as of the latest `handle_session` (whether it
/// committed an image is kept in `Device::update_committed`, which outlives the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Session {
    receiving_image: bool,
}

/// One boot of the device.
pub struct Device<S: BootCounterStore> {
    safe_mode: SafeMode<S>,
    network_up: bool,
    session: Option<Session>,
    rollback_due: bool,
    confirm_due: bool,
    time_is_up: bool,
    drop_sent: bool,
    update_committed: bool,
    /// A reboot was asked for: nothing more to do.
    reboot_sent: bool,
}

impl<S: BootCounterStore> Device<S> {
    /// Boots at `now` (milliseconds): safe mode's check with the counter in `store`.
    /// `unconfirmed`: the running build has not confirmed itself yet (a fresh update).
    pub fn boot(config: SafeModeConfig, store: S, now: u64, unconfirmed: bool) -> Self {
        let safe_mode = SafeMode::boot(config, store, now);
        let rollback_due = safe_mode.is_active() && unconfirmed;
        Device {
            safe_mode,
            network_up: false,
            session: None,
            rollback_due,
            confirm_due: false,
            time_is_up: false,
            drop_sent: false,
            update_committed: false,
            reboot_sent: false,
        }
    }

    /// Safe mode's state (active or not, failed boots before this one).
    pub fn safe_mode(&self) -> &SafeMode<S> {
        &self.safe_mode
    }

    /// Safe mode's state, e.g. to request it for the next boot.
    pub fn safe_mode_mut(&mut self) -> &mut SafeMode<S> {
        &mut self.safe_mode
    }

    /// The network came up (or went down). A platform without one to wait for says up at once.
    pub fn handle_network(&mut self, now: u64, up: bool) {
        self.network_up = up;
        self.handle_timeout(now);
    }

    /// A client's session is under way: what it is doing at `now`. Call it on every turn of
    /// the session's loop.
    pub fn handle_session(&mut self, now: u64, receiving_image: bool, committed: bool) {
        self.session = Some(Session { receiving_image });
        self.update_committed |= committed;
        self.handle_timeout(now);
    }

    /// The session ended; `committed` when it installed a new build.
    pub fn handle_session_end(&mut self, now: u64, committed: bool) {
        self.session = None;
        self.drop_sent = false;
        self.update_committed |= committed;
        if self.update_committed {
            // A deliberate reboot: no failed boot.
            self.safe_mode.on_safe_shutdown();
        }
        self.handle_timeout(now);
    }

    /// The clock moved to `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        if self.update_committed {
            return;
        }
        if !self.network_up && !self.safe_mode.is_active() {
            return;
        }
        match self.safe_mode.poll(now) {
            Some(SafeModeAction::BootGood) => self.confirm_due = true,
            Some(SafeModeAction::Reboot) => self.time_is_up = true,
            None => {}
        }
    }

    /// The next thing to do, each once, most urgent first.
    pub fn poll_action(&mut self) -> Option<Action> {
        if core::mem::take(&mut self.rollback_due) {
            return Some(Action::RollBack);
        }
        if self.reboot_sent {
            return None;
        }
        if self.update_committed {
            self.reboot_sent = self.session.is_none();
            return self.reboot_sent.then_some(Action::RebootIntoUpdate);
        }
        if core::mem::take(&mut self.confirm_due) {
            return Some(Action::Confirm);
        }
        if self.time_is_up {
            return match self.session {
                None => {
                    self.reboot_sent = true;
                    Some(Action::Reboot)
                }
                Some(s) if !s.receiving_image && !self.drop_sent => {
                    self.drop_sent = true;
                    Some(Action::DropClient)
                }
                Some(_) => None,
            };
        }
        None
    }

    /// True while safe mode's time is up but an upload under way holds the reboot off.
    pub fn reboot_waits_for_upload(&self) -> bool {
        self.time_is_up && !self.update_committed && self.session.is_some_and(|s| s.receiving_image)
    }

    /// When `handle_timeout` is next due (safe mode's clock); `None` when nothing is pending.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.update_committed || (!self.network_up && !self.safe_mode.is_active()) {
            return None;
        }
        self.safe_mode.poll_timeout()
    }
}
