//! The device's main-loop rules (`ferrota_ota::device`), driven with a simulated clock.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::Cell;
use ferrota_ota::device::{Action, Device};
use ferrota_ota::safe_mode::{BootCounterStore, SafeModeConfig};
use crate::support::MemFlash;
use ferrota_ota::{ConfirmFirst, Flash, FlashError};

/// The boot counter in memory, shared so a "reboot" can read what the last boot left.
#[derive(Default, Clone)]
struct Counter(Rc<Cell<u32>>);

impl BootCounterStore for Counter {
    fn load(&mut self) -> u32 {
        self.0.get()
    }
    fn save(&mut self, value: u32) {
        self.0.set(value);
    }
}

const CONFIG: SafeModeConfig = SafeModeConfig { enabled: true, num_attempts: 3, boot_is_good_after_ms: 60_000, reboot_timeout_ms: 300_000 };

fn actions(device: &mut Device<Counter>) -> Vec<Action> {
    core::iter::from_fn(|| device.poll_action()).collect()
}

checks! {
    fn a_boot_is_good_only_once_the_network_is_up() {
        let counter = Counter::default();
        let mut d = Device::boot(CONFIG, counter.clone(), 0, false);
        assert_eq!(counter.0.get(), 1, "the boot is counted");
        assert_eq!(d.poll_timeout(), None, "no clock before the network (safe mode inactive)");
        d.handle_timeout(120_000);
        assert_eq!(actions(&mut d), []);
        d.handle_network(130_000, true);
        assert_eq!(actions(&mut d), [Action::Confirm]);
        assert_eq!(counter.0.get(), 0, "a good boot clears the counter");
        assert_eq!(actions(&mut d), [], "once");
    }

    fn a_boot_looping_unconfirmed_build_is_rolled_back_and_safe_mode_reboots_on_time() {
        let counter = Counter::default();
        counter.0.set(3);
        let mut d = Device::boot(CONFIG, counter.clone(), 0, true);
        assert!(d.safe_mode().is_active());
        assert_eq!(actions(&mut d), [Action::RollBack]);
        // Without the network too, safe mode's time runs out.
        assert_eq!(d.poll_timeout(), Some(300_000));
        d.handle_timeout(299_999);
        assert_eq!(actions(&mut d), []);
        d.handle_timeout(300_000);
        assert_eq!(actions(&mut d), [Action::Reboot]);
    }

    fn time_up_drops_a_client_in_the_handshake_but_lets_an_upload_finish() {
        let counter = Counter::default();
        counter.0.set(3);
        let mut d = Device::boot(CONFIG, counter.clone(), 0, false);
        d.handle_network(1, true);
        // A client trickles handshake bytes past the deadline: dropped once, then the reboot.
        d.handle_session(300_000, false, false);
        assert_eq!(actions(&mut d), [Action::DropClient]);
        d.handle_session(300_100, false, false);
        assert_eq!(actions(&mut d), []);
        d.handle_session_end(300_200, false);
        assert_eq!(actions(&mut d), [Action::Reboot]);

        // An upload receiving the image when time is up finishes first.
        counter.0.set(3);
        let mut d = Device::boot(CONFIG, counter.clone(), 0, false);
        d.handle_network(1, true);
        d.handle_session(310_000, true, false);
        assert_eq!(actions(&mut d), [], "the upload goes on");
        d.handle_session(320_000, false, true);
        assert_eq!(actions(&mut d), [], "committed: the reboot waits for the session's end");
        d.handle_session_end(320_100, true);
        assert_eq!(actions(&mut d), [Action::RebootIntoUpdate]);
        assert_eq!(counter.0.get(), 0, "a deliberate reboot is no failed boot");
    }

    fn once_an_update_is_committed_this_build_is_not_confirmed() {
        let counter = Counter::default();
        let mut d = Device::boot(CONFIG, counter.clone(), 0, true);
        d.handle_network(1, true);
        d.handle_session(10_000, true, false);
        d.handle_session(20_000, false, true);
        // The boot would have become good during the session: the new build's to prove now.
        d.handle_session(70_000, false, true);
        d.handle_session_end(70_001, true);
        assert_eq!(actions(&mut d), [Action::RebootIntoUpdate]);
        assert_eq!(d.poll_timeout(), None);
    }

    fn a_good_boot_during_a_session_is_confirmed_right_away() {
        // (A platform whose session holds the flash confirms before the update begins.)
        let mut d = Device::boot(CONFIG, Counter::default(), 0, true);
        d.handle_network(1, true);
        d.handle_session(60_001, false, false);
        assert_eq!(actions(&mut d), [Action::Confirm]);
        d.handle_session_end(60_002, false);
        assert_eq!(actions(&mut d), []);
    }

    /// A confirmation that came due while a session held the slot: the update that session
    /// begins confirms the running build first, so the slot takes it (an unconfirmed build
    /// refuses updates); without it the slot still refuses.
    fn an_update_begun_after_a_good_boot_confirms_the_running_build_first() {
        let confirm_due = Cell::new(false);
        let mut slot = MemFlash { unconfirmed: true, ..MemFlash::default() };
        assert_eq!(ConfirmFirst::new(&mut slot, &confirm_due).begin(10), Err(FlashError::UpdatePrepare));
        confirm_due.set(true);
        assert_eq!(ConfirmFirst::new(&mut slot, &confirm_due).begin(10), Ok(()));
        assert!(!slot.unconfirmed && slot.begun_with == Some(10) && !confirm_due.get(), "confirmed once, then begun");
    }
}
