//! ESPHome's safe mode (spec §3.3): a boot counter that detects boot loops.
//!
//! Every boot increments a persisted counter; a boot that stays up for `boot_is_good_after`
//! clears it, and so does a deliberate (safe) reboot. When the counter reaches `num_attempts`,
//! or a reboot into safe mode was requested, the device starts only the network and OTA, then
//! reboots after `reboot_timeout`, so a crashing boot automation cannot lock it out.

/// The counter value that means "enter safe mode on the next boot" (`set_safe_mode_pending`).
pub const PENDING_MAGIC: u32 = 0x5AFE_5AFE;

/// Where the counter persists (ESPHome: preference key 233825507); must survive reboots.
pub trait BootCounterStore {
    /// The stored value; a missing value reads as 0.
    fn load(&mut self) -> u32;
    /// Stores and syncs `value` right away (a crash may follow at any moment).
    fn save(&mut self, value: u32);
}

/// `safe_mode:` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeModeConfig {
    /// `safe_mode: disabled: true` turns it off: no boot enters safe mode (boots are still
    /// found good, so new builds are still confirmed).
    pub enabled: bool,
    /// Boots that may fail in a row before safe mode (default 10).
    pub num_attempts: u32,
    /// Uptime after which a boot counts as good (default 1 min).
    pub boot_is_good_after_ms: u64,
    /// How long safe mode lasts before a plain reboot (default 5 min).
    pub reboot_timeout_ms: u64,
}

/// ESPHome's defaults as `schema/safe_mode.yaml` states them (the compiler's
/// `tests/schema_keys.rs` holds the two equal), for a device started without a generated
/// config such as `ferrota-host-device`. Generated firmware passes what the config says.
impl Default for SafeModeConfig {
    fn default() -> Self {
        SafeModeConfig { enabled: true, num_attempts: 10, boot_is_good_after_ms: 60_000, reboot_timeout_ms: 300_000 }
    }
}

/// Something the main loop must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SafeModeAction {
    /// The boot is good (counter cleared): confirm a new image here.
    BootGood,
    /// Safe mode's time is up: reboot (a plain one, no safe-shutdown hooks).
    Reboot,
}

/// The safe-mode state of one boot.
pub struct SafeMode<S: BootCounterStore> {
    config: SafeModeConfig,
    store: S,
    started_at: u64,
    counter_at_boot: u32,
    active: bool,
    boot_good_reported: bool,
}

impl<S: BootCounterStore> SafeMode<S> {
    /// Runs ESPHome's `should_enter_safe_mode` at boot time `now` (milliseconds).
    pub fn boot(config: SafeModeConfig, mut store: S, now: u64) -> Self {
        let counter = store.load();
        let active = config.enabled && (counter == PENDING_MAGIC || counter >= config.num_attempts);
        // Entering safe mode resets the counter, so the boot after it gets all attempts again.
        store.save(if active { 0 } else { counter + 1 });
        SafeMode { config, store, started_at: now, counter_at_boot: counter, active, boot_good_reported: false }
    }

    /// True when only the network and OTA may run in this boot.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// True when safe mode was requested with [`SafeMode::set_pending`] rather than detected.
    pub fn invoked_manually(&self) -> bool {
        self.counter_at_boot == PENDING_MAGIC
    }

    /// Suspected failed boots before this one (the counter as read at boot).
    pub fn failed_boots(&self) -> u32 {
        if self.invoked_manually() { 0 } else { self.counter_at_boot }
    }

    /// The settings.
    pub fn config(&self) -> &SafeModeConfig {
        &self.config
    }

    /// Advances to `now`; returns what the main loop must do, each action once.
    pub fn poll(&mut self, now: u64) -> Option<SafeModeAction> {
        let uptime = now.saturating_sub(self.started_at);
        if self.active {
            return (uptime >= self.config.reboot_timeout_ms).then_some(SafeModeAction::Reboot);
        }
        if !self.boot_good_reported && uptime > self.config.boot_is_good_after_ms {
            self.boot_good_reported = true;
            self.store.save(0);
            return Some(SafeModeAction::BootGood);
        }
        None
    }

    /// When [`SafeMode::poll`] next has something to report.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.active {
            Some(self.started_at + self.config.reboot_timeout_ms)
        } else if !self.boot_good_reported {
            Some(self.started_at + self.config.boot_is_good_after_ms + 1)
        } else {
            None
        }
    }

    /// The `on_safe_shutdown` hook of a deliberate reboot (e.g. after OTA): it is no failure.
    pub fn on_safe_shutdown(&mut self) {
        if self.store.load() != PENDING_MAGIC {
            self.store.save(0);
        }
    }

    /// Requests (or cancels) safe mode for the next boot.
    pub fn set_pending(&mut self, pending: bool) {
        if pending {
            self.store.save(PENDING_MAGIC);
        } else if self.store.load() == PENDING_MAGIC {
            self.store.save(0);
        }
    }

    /// The counter storage.
    pub fn store(&self) -> &S {
        &self.store
    }
}
