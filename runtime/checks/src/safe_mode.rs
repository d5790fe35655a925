//! Safe mode's boot counting (`ferrota_ota::safe_mode`), with a simulated clock.

use ferrota_ota::safe_mode::*;

#[derive(Default, Clone, Copy)]
struct Mem(u32);
impl BootCounterStore for &mut Mem {
    fn load(&mut self) -> u32 {
        self.0
    }
    fn save(&mut self, value: u32) {
        self.0 = value;
    }
}

const CFG: SafeModeConfig = SafeModeConfig { enabled: true, num_attempts: 3, boot_is_good_after_ms: 1000, reboot_timeout_ms: 5000 };

checks! {
    fn disabled_never_enters_safe_mode_but_still_finds_a_boot_good() {
        let disabled = SafeModeConfig { enabled: false, ..CFG };
        let mut mem = Mem(PENDING_MAGIC);
        assert!(!SafeMode::boot(disabled, &mut mem, 0).is_active());
        let mut mem = Mem(1000);
        let mut sm = SafeMode::boot(disabled, &mut mem, 0);
        assert!(!sm.is_active());
        assert_eq!(sm.poll(1001), Some(SafeModeAction::BootGood));
    }

    fn the_boot_after_num_attempts_failures_enters_safe_mode_then_counts_again() {
        let mut mem = Mem(0);
        for expected in 1..=3 {
            let sm = SafeMode::boot(CFG, &mut mem, 0);
            assert!(!sm.is_active());
            assert_eq!(mem.0, expected);
        }
        let mut sm = SafeMode::boot(CFG, &mut mem, 0);
        assert!(sm.is_active() && !sm.invoked_manually());
        assert_eq!(sm.failed_boots(), 3);
        assert_eq!(sm.poll(4999), None);
        assert_eq!(sm.poll(5000), Some(SafeModeAction::Reboot));
        assert_eq!(mem.0, 0);
        assert!(!SafeMode::boot(CFG, &mut mem, 0).is_active());
    }

    fn a_good_boot_clears_the_counter_once() {
        let mut mem = Mem(2);
        let mut sm = SafeMode::boot(CFG, &mut mem, 100);
        assert_eq!(sm.poll(1100), None);
        assert_eq!(sm.poll(1101), Some(SafeModeAction::BootGood));
        assert_eq!(sm.poll(9999), None);
        assert_eq!(mem.0, 0);
    }

    fn safe_reboot_clears_but_keeps_pending() {
        let mut mem = Mem(0);
        let mut sm = SafeMode::boot(CFG, &mut mem, 0);
        sm.on_safe_shutdown();
        sm.set_pending(true);
        sm.on_safe_shutdown();
        assert_eq!(mem.0, PENDING_MAGIC);
        let mut sm = SafeMode::boot(CFG, &mut mem, 0);
        assert!(sm.is_active() && sm.invoked_manually());
        sm.set_pending(false);
        assert_eq!(mem.0, 0);
    }
}
