//! The Pico W's CYW43439 (on PIO SPI) as the radio of ferrota-ota-embassy's join loop, and
//! the network stack over it.

use cyw43::{Aligned, JoinAuth, JoinOptions, A4};
use cyw43_pio::{PioSpi, DEFAULT_CLOCK_DIVIDER};
use embassy_executor::Spawner;
use embassy_net::{Runner, Stack, StackResources};
use embassy_rp::clocks::RoscRng;
use embassy_rp::dma;
use embassy_rp::gpio::{Level, Output};
use embassy_rp::peripherals::{DMA_CH0, PIN_23, PIN_24, PIN_25, PIN_29, PIO0};
use embassy_rp::pio::{self, Pio};
use embassy_rp::Peri;
use embassy_time::{Duration, Timer};
use ferrota_ota_embassy::wifi::{keep_joined, Network, Radio, Security};
use static_cell::StaticCell;

/// The CYW43439's firmware, 4-byte aligned as the driver uploads it.
static FIRMWARE: Aligned<A4, [u8; cyw43_firmware::CYW43_43439A0.len()]> = Aligned(*cyw43_firmware::CYW43_43439A0);
/// The Pico W's board settings for the CYW43439 (`cyw43/nvram.txt`, packed by build.rs).
static NVRAM: Aligned<A4, [u8; include_bytes!(concat!(env!("OUT_DIR"), "/nvram.bin")).len()]> = Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/nvram.bin")));

static STATE: StaticCell<cyw43::State> = StaticCell::new();
/// The OTA socket, the web server's two, DHCP and one to spare.
static NET: StaticCell<StackResources<5>> = StaticCell::new();

/// The pins and peripherals the Pico W wires to the CYW43439: it talks half-duplex SPI on
/// GPIO 24 (data), 29 (clock) and 25 (chip select); GPIO 23 powers it.
pub struct Pins {
    pub power: Peri<'static, PIN_23>,
    pub data: Peri<'static, PIN_24>,
    pub select: Peri<'static, PIN_25>,
    pub clock: Peri<'static, PIN_29>,
    pub pio: Peri<'static, PIO0>,
    pub dma: Peri<'static, DMA_CH0>,
}

/// Starts the radio and the network stack, and joins `network` (rejoining whenever the link
/// drops) in tasks of their own; the stack comes up with `manual_ip`, or once DHCP gave an address.
pub async fn start<I>(spawner: Spawner, pins: Pins, irqs: I, network: Network) -> Stack<'static>
where
    I: 'static + embassy_rp::interrupt::typelevel::Binding<embassy_rp::interrupt::typelevel::PIO0_IRQ_0, pio::InterruptHandler<PIO0>>
        + embassy_rp::interrupt::typelevel::Binding<embassy_rp::interrupt::typelevel::DMA_IRQ_0, dma::InterruptHandler<DMA_CH0>>
        + Copy,
{
    let power = Output::new(pins.power, Level::Low);
    let select = Output::new(pins.select, Level::High);
    let mut pio = Pio::new(pins.pio, irqs);
    let spi = PioSpi::new(&mut pio.common, pio.sm0, DEFAULT_CLOCK_DIVIDER, pio.irq0, select, pins.data, pins.clock, dma::Channel::new(pins.dma, irqs));
    let (device, mut control, runner) = cyw43::new(STATE.init(cyw43::State::new()), power, spi, &FIRMWARE, &NVRAM).await;
    spawner.spawn(cyw43_task(runner).unwrap());
    // The country matrix (CLM).
    control.init(cyw43_firmware::CYW43_43439A0_CLM).await;
    control.set_power_management(cyw43::PowerManagementMode::PowerSave).await;
    let seed = RoscRng.next_u64();
    let (stack, net_runner) = embassy_net::new(device, network.net_config(), NET.init(StackResources::new()), seed);
    spawner.spawn(net_task(net_runner).unwrap());
    spawner.spawn(wifi_task(control, stack, network).unwrap());
    stack
}

struct Cyw43 {
    control: cyw43::Control<'static>,
    stack: Stack<'static>,
}

impl Radio for Cyw43 {
    type Error = cyw43::JoinError;

    async fn join(&mut self, network: &Network) -> Result<(), cyw43::JoinError> {
        let mut options = match network.security {
            Security::Open => JoinOptions::new_open(),
            _ => JoinOptions::new(network.password.as_bytes()),
        };
        options.auth = match network.security {
            Security::Open => JoinAuth::Open,
            // The CYW43439 has no "WPA or better": WPA2/WPA3 covers all but WPA-only networks.
            Security::Wpa | Security::Wpa2 => JoinAuth::Wpa2Wpa3,
            Security::Wpa3 => JoinAuth::Wpa3,
        };
        self.control.join(network.ssid, options).await
    }

    async fn wait_for_disconnect(&mut self) {
        while self.stack.is_link_up() {
            Timer::after(Duration::from_secs(1)).await;
        }
    }
}

#[embassy_executor::task]
async fn wifi_task(control: cyw43::Control<'static>, stack: Stack<'static>, network: Network) -> ! {
    keep_joined(&mut Cyw43 { control, stack }, &network).await
}

#[embassy_executor::task]
async fn cyw43_task(runner: cyw43::Runner<'static, cyw43::SpiBus<Output<'static>, PioSpi<'static, PIO0, 0>>>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, cyw43::NetDriver<'static>>) -> ! {
    runner.run().await
}
