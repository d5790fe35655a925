//! ferrota's device firmware on the Raspberry Pi Pico W (embassy-rp, cyw43, embassy-boot):
//! embassy-boot's DFU region as the update slot ([`DfuSlot`]), safe mode's boot counter in a
//! sector of its own ([`boot_counter`]), the CYW43439 as the radio of ferrota-ota-embassy's
//! join loop ([`wifi::start`]), the log over USB, randomness, the watchdog and reset. The
//! server loop itself is ferrota-ota-embassy's; the generated `main.rs` only wires these.
#![no_std]

mod slot;
pub mod wifi;

pub use slot::{boot_counter, running_image_md5, BootCounter, DfuSlot, FlashLayout, SharedFlash};

use embassy_rp::clocks::RoscRng;
use embassy_rp::peripherals::USB;
use embassy_rp::usb;
use embassy_rp::watchdog::Watchdog;
use embassy_time::{Duration, Timer};

/// Restarts the chip.
pub fn reset() -> ! {
    cortex_m::peripheral::SCB::sys_reset()
}

/// The ring oscillator's random bit, a byte at a time (auth nonces only need a few bytes).
pub struct RoscRandom;

impl ferrota_ota::Rng for RoscRandom {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        for byte in buf {
            *byte = RoscRng::next_u8();
        }
    }
}

/// The log over USB (a CDC-ACM serial port).
#[embassy_executor::task]
pub async fn logger_task(driver: usb::Driver<'static, USB>) {
    embassy_usb_logger::run!(1024, log::LevelFilter::Info, driver);
}

/// Feeds the watchdog the bootloader left running, four times per `timeout` (`rp2040:
/// watchdog_timeout`; the hardware's longest is 8388 ms): a hung executor resets, and the boot
/// counts as failed.
#[embassy_executor::task]
pub async fn watchdog_task(mut watchdog: Watchdog, timeout: Duration) -> ! {
    watchdog.start(timeout);
    loop {
        Timer::after(timeout / 4).await;
        watchdog.feed(timeout);
    }
}
