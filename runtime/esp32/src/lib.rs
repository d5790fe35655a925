//! ferrota's device firmware on the ESP32 family (esp-hal, esp-radio, esp-storage), one chip per
//! feature: the OTA app partitions as the update slot ([`AppSlots`]) and safe mode's boot
//! counter in the `nvs` partition, from the partition table ([`slots`]), the radio for ferrota-ota-embassy's join loop
//! ([`wifi_task`]), the log on the serial port, randomness and reset. The server loop itself is
//! ferrota-ota-embassy's; the generated `main.rs` only wires these together.
#![no_std]

mod slots;
mod wifi;

pub use slots::{slots, AppSlots, BootCounter};
pub use wifi::{net_task, wifi_task};

use core::cell::RefCell;
use esp_storage::FlashStorage;

/// The SPI flash, shared by the update slot and the boot counter (one task uses both).
pub type SharedFlash = RefCell<FlashStorage<'static>>;

/// The chip this build is for, as ESP-IDF's image header names it.
pub const CHIP: &str = if cfg!(feature = "esp32c3") {
    "esp32c3"
} else if cfg!(feature = "esp32c2") {
    "esp32c2"
} else if cfg!(feature = "esp32c6") {
    "esp32c6"
} else if cfg!(feature = "esp32s2") {
    "esp32s2"
} else if cfg!(feature = "esp32s3") {
    "esp32s3"
} else {
    "esp32"
};

/// Restarts the chip.
pub fn reset() -> ! {
    esp_hal::system::software_reset()
}

/// The hardware random number generator (seeded by the radio once WiFi runs).
pub struct HwRng(pub esp_hal::rng::Rng);

impl HwRng {
    /// A seed for the network stack.
    pub fn seed(&self) -> u64 {
        (u64::from(self.0.random()) << 32) | u64::from(self.0.random())
    }
}

impl ferrota_ota::Rng for HwRng {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        self.0.read(buf);
    }
}

/// Sends the `log` records (ESPHome's `[I][tag]: message` lines) to the serial port.
pub fn init_log() {
    struct SerialLog;
    impl log::Log for SerialLog {
        fn enabled(&self, metadata: &log::Metadata) -> bool {
            metadata.level() <= log::Level::Info
        }
        fn log(&self, record: &log::Record) {
            if self.enabled(record.metadata()) {
                esp_println::println!("{}", record.args());
            }
        }
        fn flush(&self) {}
    }
    static LOG: SerialLog = SerialLog;
    // SAFETY: called once at start-up, before any task runs (these cores have no atomic swap
    // for `set_logger`).
    unsafe {
        let _ = log::set_logger_racy(&LOG);
        log::set_max_level_racy(log::LevelFilter::Info);
    }
}
