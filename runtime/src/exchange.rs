//! What a device's main loop needs of a connection's sans-IO handler, the native protocol's
//! [`Session`] and the web server's [`WebUpdate`] alike, so one loop per platform serves both
//! ports: feed it bytes and the clock, send what it owes, pass its events on, and stop when
//! it is [`Exchange::finished`].

use core::fmt;

use crate::error::OtaError;
use crate::events::Event;
use crate::flash::Flash;
use crate::protocol::{Parked, Session};
use crate::web_update::{Outcome, WebUpdate};

/// One connection's handler.
pub trait Exchange {
    /// Whether bytes are owed to the client.
    fn has_transmit(&self) -> bool;
    /// Bytes owed to the client into `buf`; how many.
    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize;
    /// The next event for the OTA automations.
    fn poll_event(&mut self) -> Option<Event>;
    /// When [`Exchange::handle_timeout`] is due (milliseconds).
    fn poll_timeout(&self) -> Option<u64>;
    /// Bytes the client sent, at `now`.
    fn handle_input(&mut self, now: u64, data: &[u8]);
    /// The clock moved to `now`.
    fn handle_timeout(&mut self, now: u64);
    /// The client left (or must be dropped).
    fn handle_close(&mut self);
    /// A new build is committed (the boot state belongs to it from now on).
    fn is_committed(&self) -> bool;
    /// An image is being written.
    fn is_receiving_image(&self) -> bool;
    /// Whether a new client may take this connection's place: nothing asked yet (browsers open
    /// a connection before they need it and may send their request on another), or the answer
    /// is given and only the rest of a refused body is being read.
    fn can_give_way(&self) -> bool;
    /// `Some` once the connection is over: how it ended.
    fn finished(&self) -> Option<Ending>;
}

/// How a connection ended, for the loop (was a build committed?) and the device's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A new build is committed: reboot into it.
    Updated,
    /// A native-protocol session failed.
    OtaFailed(OtaError),
    /// An upload through the web server failed (its reply says why).
    WebFailed,
    /// The client left in the middle of a web upload.
    WebAborted,
    /// A web request without valid `web_server: auth:` credentials.
    Unauthorized,
    /// Nothing worth a log line (a page served, a request refused for its form).
    Quiet,
}

/// The upload a device loop keeps between connections for a resume (at most one), and the
/// rules for it that every platform's loop follows alike.
#[derive(Default)]
pub struct Resumable(Option<Parked>);

impl Resumable {
    /// For the next native session ([`Session::with_parked`]).
    pub fn offer(&mut self) -> Option<Parked> {
        self.0.take()
    }

    /// What the session left ([`Session::take_parked`]); the bytes it holds, for the log.
    pub fn keep(&mut self, parked: Option<Parked>) -> Option<u64> {
        self.0 = parked;
        self.0.as_ref().map(Parked::received)
    }

    /// A web server exchange ended: an upload through the page used the slot, so nothing
    /// parked in it is left.
    pub fn web_ended(&mut self, ending: Ending) {
        if matches!(ending, Ending::Updated | Ending::WebFailed | Ending::WebAborted) {
            self.0 = None;
        }
    }

    /// True once the kept upload expired at `now`: it is dropped, and the loop must abort the
    /// partial image in its flash.
    pub fn expire(&mut self, now: u64) -> bool {
        let expired = self.0.as_ref().is_some_and(|p| p.expired(now));
        if expired {
            self.0 = None;
        }
        expired
    }
}

/// How loud a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// All went as asked.
    Info,
    /// The client's doing (it left, or had no credentials).
    Warn,
    /// An update failed.
    Error,
}

impl Ending {
    /// Whether a new build was committed.
    pub fn committed(self) -> bool {
        self == Ending::Updated
    }

    /// The log line's level and ESPHome-style tag; `None` for [`Ending::Quiet`].
    pub fn log(self) -> Option<(Level, &'static str)> {
        match self {
            Ending::Updated => Some((Level::Info, "ota")),
            Ending::OtaFailed(_) => Some((Level::Error, "ota")),
            Ending::WebFailed => Some((Level::Error, "web_server.ota")),
            Ending::WebAborted => Some((Level::Warn, "web_server.ota")),
            Ending::Unauthorized => Some((Level::Warn, "web_server")),
            Ending::Quiet => None,
        }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Updated => f.write_str("update complete: the new build is committed"),
            Ending::OtaFailed(e) => write!(f, "update failed: {e}"),
            Ending::WebFailed => f.write_str("OTA update failed"),
            Ending::WebAborted => f.write_str("the client left during the upload: update aborted"),
            Ending::Unauthorized => f.write_str("a request without valid `web_server: auth:` credentials (401)"),
            Ending::Quiet => Ok(()),
        }
    }
}

impl<F: Flash> Exchange for Session<F> {
    fn has_transmit(&self) -> bool {
        Session::has_transmit(self)
    }
    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        Session::poll_transmit(self, buf)
    }
    fn poll_event(&mut self) -> Option<Event> {
        Session::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<u64> {
        Session::poll_timeout(self)
    }
    fn handle_input(&mut self, now: u64, data: &[u8]) {
        Session::handle_input(self, now, data)
    }
    fn handle_timeout(&mut self, now: u64) {
        Session::handle_timeout(self, now)
    }
    fn handle_close(&mut self) {
        Session::handle_close(self)
    }
    fn is_committed(&self) -> bool {
        Session::is_committed(self)
    }
    fn is_receiving_image(&self) -> bool {
        Session::is_receiving_image(self)
    }
    /// A native client connects to update: it is never dropped for another.
    fn can_give_way(&self) -> bool {
        false
    }
    fn finished(&self) -> Option<Ending> {
        Some(match self.outcome()? {
            Ok(()) => Ending::Updated,
            Err(e) => Ending::OtaFailed(e),
        })
    }
}

impl<F: Flash> Exchange for WebUpdate<'_, F> {
    fn has_transmit(&self) -> bool {
        WebUpdate::has_transmit(self)
    }
    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        WebUpdate::poll_transmit(self, buf)
    }
    fn poll_event(&mut self) -> Option<Event> {
        WebUpdate::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<u64> {
        WebUpdate::poll_timeout(self)
    }
    fn handle_input(&mut self, now: u64, data: &[u8]) {
        WebUpdate::handle_input(self, now, data)
    }
    fn handle_timeout(&mut self, now: u64) {
        WebUpdate::handle_timeout(self, now)
    }
    fn handle_close(&mut self) {
        WebUpdate::handle_close(self)
    }
    fn is_committed(&self) -> bool {
        WebUpdate::is_committed(self)
    }
    fn is_receiving_image(&self) -> bool {
        WebUpdate::is_receiving_image(self)
    }
    fn can_give_way(&self) -> bool {
        WebUpdate::can_give_way(self)
    }
    fn finished(&self) -> Option<Ending> {
        Some(match self.outcome()? {
            Outcome::Updated => Ending::Updated,
            Outcome::Failed => Ending::WebFailed,
            Outcome::Disconnected if self.progress().0 > 0 => Ending::WebAborted,
            Outcome::Rejected(401) => Ending::Unauthorized,
            _ => Ending::Quiet,
        })
    }
}
