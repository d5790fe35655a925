//! The device's main loop over embassy-net: accept a client on the OTA port (or the web
//! server's), run its session to the end, and do what `ferrota_ota::device::Device` decides.

use core::cell::Cell;
use embassy_net::tcp::{State, TcpSocket};
use embassy_futures::select::{select3, Either3};
use embassy_net::Stack;
use embassy_time::{Duration, Instant, Timer};
use ferrota_ota::device::{Action, Device};
use ferrota_ota::events::{dispatch, OtaListener};
use ferrota_ota::exchange::{Ending, Exchange, Level, Resumable};
use ferrota_ota::web_update::{WebServer, WebUpdate, BUSY_REPLY};
use ferrota_ota::{BootCounterStore, ConfirmFirst, OtaComponent, Rng, SafeMode, SafeModeConfig, UpdateSlot};

/// The socket's own idle limit during a session: only a backstop, past the protocol's timeouts
/// (20 s in the handshake, 90 s of silence in the data phase), which the session keeps itself;
/// a shorter one would reset a client waiting while the device erases flash.
const SESSION_SOCKET_TIMEOUT: Duration = Duration::from_secs(120);
/// How often the loop wakes up at most, for safe mode's clock, while it waits for bytes.
const TICK: Duration = Duration::from_millis(250);

fn now() -> u64 {
    Instant::now().as_millis()
}

/// One boot of the device: its rules, its update slot, its randomness and how it resets.
pub struct Server<S: UpdateSlot, B: BootCounterStore, R: Rng> {
    device: Device<B>,
    slot: S,
    rng: R,
    reset: fn() -> !,
    /// Safe mode found the boot good while a session held the slot: confirm when it lets go.
    confirm_due: Cell<bool>,
    /// An upload a dropped connection left in the slot for its client to resume.
    parked: Resumable,
}

impl<S: UpdateSlot, B: BootCounterStore, R: Rng> Server<S, B, R> {
    /// Boots: safe mode counts this boot (the counter in `boot_counter`); a build that
    /// boot-loops before it confirmed itself is rolled back at once.
    pub async fn boot(config: SafeModeConfig, boot_counter: B, mut slot: S, rng: R, reset: fn() -> !) -> Self {
        let unconfirmed = slot.unconfirmed();
        let device = Device::boot(config, boot_counter, now(), unconfirmed);
        let mut server = Server { device, slot, rng, reset, confirm_due: Cell::new(false), parked: Resumable::default() };
        if server.device.safe_mode().is_active() {
            log::warn!("[W][safe_mode]: SAFE MODE IS ACTIVE");
        } else {
            log::info!("[I][safe_mode]: {} suspected unsuccessful boot attempts before this one", server.device.safe_mode().failed_boots());
        }
        server.act().await;
        server
    }

    /// Safe mode's state: in safe mode only the network and updates run, no automation.
    pub fn safe_mode(&self) -> &SafeMode<B> {
        self.device.safe_mode()
    }

    /// Serves updates forever: `ota` on its port with its `automations`, and `web`'s `/update`
    /// if the web server takes updates. One session at a time (both write the same slot); a
    /// client that connects to one port while the other is busy waits in its socket.
    pub async fn run(&mut self, stack: Stack<'_>, ota: &OtaComponent, automations: &mut dyn OtaListener, mut web: Option<WebServer<'_>>) -> ! {
        // Safe mode's clock runs while the network comes up (see ferrota_ota::device).
        while embassy_time::with_timeout(Duration::from_secs(1), stack.wait_config_up()).await.is_err() {
            self.tick().await;
        }
        self.device.handle_network(now(), true);
        if let Some(config) = stack.config_v4() {
            log::info!("[I][wifi]: address {}", config.address);
        }
        let port = ota.config().port;
        log::info!("[I][ota]: listening on port {port}");
        let (mut rx, mut tx) = ([0u8; 4096], [0u8; 1024]);
        let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
        // Two web sockets: a browser opens a connection before it needs one and may send its
        // request on another, which must not be refused while the first sits idle.
        let (mut web_rx, mut web_tx) = ([[0u8; 2048]; 2], [[0u8; 1024]; 2]);
        let [rx_a, rx_b] = &mut web_rx;
        let [tx_a, tx_b] = &mut web_tx;
        let mut web_sockets = [TcpSocket::new(stack, rx_a, tx_a), TcpSocket::new(stack, rx_b, tx_b)];
        if let Some(web) = &web {
            log::info!("[I][web_server]: the page and /update listening on port {}", web.port);
        }
        let safe_mode = self.device.safe_mode().is_active();
        loop {
            self.tick().await;
            let web_port = web.as_ref().map(|w| w.port);
            let [web_a, web_b] = &mut web_sockets;
            let ending = match wait_for_client(&mut socket, port, web_a, web_b, web_port).await {
                Some(Client::Ota) => {
                    let automations: &mut dyn OtaListener = if safe_mode { &mut () } else { &mut *automations };
                    let mut session = ota
                        .start_session(ConfirmFirst::new(&mut self.slot, &self.confirm_due), &mut self.rng, now())
                        .with_parked(self.parked.offer());
                    let ending = serve(&mut socket, &mut session, automations, &mut self.device, &self.confirm_due, [web_a, web_b]).await;
                    if let Some(bytes) = self.parked.keep(session.take_parked()) {
                        log::info!("[I][ota]: keeping the {bytes} bytes received for the client to resume");
                    }
                    ending
                }
                Some(Client::Web(second)) => {
                    let Some(web) = web.as_mut() else { continue };
                    let automations: &mut dyn OtaListener = if safe_mode { &mut () } else { &mut *web.automations };
                    let info = ferrota_ota::web_page::DeviceInfo { safe_mode, ..web.info };
                    let mut request = WebUpdate::new(now(), ConfirmFirst::new(&mut self.slot, &self.confirm_due), web.credentials, info);
                    let (this, other) = if second { (web_b, web_a) } else { (web_a, web_b) };
                    let ending = serve(this, &mut request, automations, &mut self.device, &self.confirm_due, [other]).await;
                    self.parked.web_ended(ending);
                    ending
                }
                None => continue,
            };
            // What the session's end asks (a reboot into the update) is done by the next tick.
            self.device.handle_session_end(now(), ending.committed());
            if self.confirm_due.take() {
                self.confirm();
            }
        }
    }

    /// The clock moved: what the device's rules ask now.
    async fn tick(&mut self) {
        if self.parked.expire(now()) {
            log::info!("[I][ota]: the partial upload kept for a resume expired: dropped");
            self.slot.abort();
        }
        self.device.handle_timeout(now());
        self.act().await;
    }

    /// Does what the device's rules ask, outside a session.
    async fn act(&mut self) {
        while let Some(action) = self.device.poll_action() {
            match action {
                Action::Confirm => self.confirm(),
                Action::Reboot => {
                    log::info!("[I][safe_mode]: safe mode enable time has elapsed -- restarting");
                    (self.reset)();
                }
                Action::RebootIntoUpdate => {
                    // ESPHome waits briefly, then reboots (the boot counter is already cleared).
                    Timer::after(Duration::from_millis(100)).await;
                    (self.reset)();
                }
                Action::RollBack => {
                    log::warn!("[W][ota]: this build boot-loops before confirming itself: rolling back");
                    self.slot.roll_back();
                    (self.reset)();
                }
                Action::DropClient => {}
            }
        }
    }

    fn confirm(&mut self) {
        log::info!("[I][safe_mode]: boot seems successful; resetting boot loop counter");
        self.slot.confirm();
    }
}

/// Runs one connection's handler to its end over `socket`; how it ended.
///
/// Every turn feeds the device's rules what the session is doing, so safe mode's clock keeps
/// running while a client is connected; a `DropClient` ends the session, a `Confirm` is left in
/// `confirm_due` for the slot (which the session holds).
///
/// A browser that connects to one of the `web` sockets meanwhile takes this connection's place
/// when it can give way (idle, or answered); otherwise it is told the device is busy.
async fn serve<B: BootCounterStore, const N: usize>(
    socket: &mut TcpSocket<'_>,
    exchange: &mut impl Exchange,
    automations: &mut dyn OtaListener,
    device: &mut Device<B>,
    confirm_due: &Cell<bool>,
    mut web: [&mut TcpSocket<'_>; N],
) -> Ending {
    socket.set_timeout(Some(SESSION_SOCKET_TIMEOUT));
    let mut input = [0u8; 1024];
    let mut output = [0u8; 256];
    let ending = loop {
        while exchange.has_transmit() {
            let n = exchange.poll_transmit(&mut output);
            if !send(socket, &output[..n]).await {
                exchange.handle_close();
                break;
            }
        }
        while let Some(event) = exchange.poll_event() {
            dispatch(automations, event);
        }
        if let Some(ending) = exchange.finished() {
            match ending.log() {
                Some((Level::Info, tag)) => log::info!("[I][{tag}]: {ending}"),
                Some((Level::Warn, tag)) => log::warn!("[W][{tag}]: {ending}"),
                Some((Level::Error, tag)) => log::error!("[E][{tag}]: {ending}"),
                None => {}
            }
            break ending;
        }
        let now = now();
        if exchange.poll_timeout().is_some_and(|due| due <= now) {
            exchange.handle_timeout(now);
            continue;
        }
        device.handle_session(now, exchange.is_receiving_image(), exchange.is_committed());
        let mut keep = true;
        while let Some(action) = device.poll_action() {
            match action {
                Action::Confirm => confirm_due.set(true),
                Action::DropClient => keep = false,
                Action::Reboot | Action::RebootIntoUpdate | Action::RollBack => {}
            }
        }
        if !keep {
            exchange.handle_close();
            continue;
        }
        if let Some(other) = web.iter_mut().find(|s| s.state() == State::Established && s.recv_queue() > 0) {
            if exchange.can_give_way() {
                exchange.handle_close();
                continue;
            }
            turn_away(other).await;
        }
        let wait = exchange.poll_timeout().map_or(TICK, |due| Duration::from_millis(due.saturating_sub(now)).min(TICK));
        match embassy_time::with_timeout(wait, socket.read(&mut input)).await {
            Ok(Ok(0) | Err(_)) => exchange.handle_close(),
            Ok(Ok(n)) => exchange.handle_input(self::now(), &input[..n]),
            Err(_) => {}
        }
    };
    end(socket).await;
    ending
}

/// Tells a client the device is busy with another update and closes (without waiting: its
/// socket winds down while the update goes on).
async fn turn_away(socket: &mut TcpSocket<'_>) {
    let _ = embassy_time::with_timeout(Duration::from_millis(500), send(socket, BUSY_REPLY)).await;
    socket.close();
}

/// Writes all of `bytes`, in order (a TCP write may take only part of them); false when the
/// connection failed.
async fn send(socket: &mut TcpSocket<'_>, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        match socket.write(bytes).await {
            Ok(0) | Err(_) => return false,
            Ok(written) => bytes = &bytes[written..],
        }
    }
    true
}

/// Which port a client connected to (for the web server, whether on its second socket).
enum Client {
    Ota,
    Web(bool),
}

/// Waits a moment for a client on the OTA socket or, with a `web_port`, the web server's two;
/// all listen at once, so none refuses a client while another is waited on.
async fn wait_for_client(ota: &mut TcpSocket<'_>, port: u16, web_a: &mut TcpSocket<'_>, web_b: &mut TcpSocket<'_>, web_port: Option<u16>) -> Option<Client> {
    let Some(web_port) = web_port else { return accept(ota, port).await.then_some(Client::Ota) };
    match select3(accept(ota, port), accept(web_a, web_port), accept(web_b, web_port)).await {
        Either3::First(true) => Some(Client::Ota),
        Either3::Second(true) => Some(Client::Web(false)),
        Either3::Third(true) => Some(Client::Web(true)),
        _ => None,
    }
}

/// Waits a moment for a client on `socket` (listening on `port`); true once one is connected.
///
/// The socket keeps listening between calls (also when this future is dropped), so a client
/// that connects meanwhile is picked up by the next call.
async fn accept(socket: &mut TcpSocket<'_>, port: u16) -> bool {
    let connected = |socket: &TcpSocket<'_>| matches!(socket.state(), State::Established | State::CloseWait);
    match socket.state() {
        State::Closed | State::Listen => {
            // `accept` also returns for a handshake that died (the socket is Closed again).
            matches!(embassy_time::with_timeout(Duration::from_millis(500), socket.accept(port)).await, Ok(Ok(()))) && connected(socket)
        }
        // A handshake under way: the next call sees it done.
        State::SynReceived | State::SynSent => false,
        State::Established | State::CloseWait => true,
        // A connection winding down without a session: free the socket for the next client.
        _ => {
            socket.abort();
            false
        }
    }
}

/// Ends a connection so its socket can take the next client: the last bytes and the FIN go out
/// (bounded: a peer that stops acknowledging must not stall the device), then the socket is
/// reset to closed at once rather than lingering in TIME-WAIT.
async fn end(socket: &mut TcpSocket<'_>) {
    let _ = embassy_time::with_timeout(Duration::from_secs(5), socket.flush()).await;
    socket.close();
    let _ = embassy_time::with_timeout(Duration::from_secs(2), socket.flush()).await;
    socket.abort();
    let _ = embassy_time::with_timeout(Duration::from_secs(1), socket.flush()).await;
    // Waiting for the next client is not idleness.
    socket.set_timeout(None);
}
