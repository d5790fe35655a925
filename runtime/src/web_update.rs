//! The web server's firmware upload, `POST /update` (spec §8), as a sans-IO state machine.
//!
//! This is the recovery path when the OTA password is lost: `web_server: auth:` (HTTP Basic)
//! protects it, the OTA password does not. One [`WebUpdate`] handles one HTTP/1.1 connection
//! (one request; the reply always closes it):
//!
//! * the request head is read into a fixed 2 KiB buffer (`431` when it does not fit, `400` when
//!   it is malformed);
//! * with credentials set, every request needs `Authorization: Basic …` matching them (compared
//!   in constant time), else `401` with `WWW-Authenticate: Basic realm="Login Required"`;
//! * `GET /` and `GET /update` get the device's page ([`crate::web_page`]: who it is, which
//!   build it runs, and the upload form), anything but `POST /update` a `404`;
//! * the upload needs `Content-Length` (`411`; chunked bodies are not supported) and a
//!   `multipart/form-data` `boundary` (`400`);
//! * the first part with a `filename` is streamed into the [`Flash`] as it arrives (other parts
//!   are skipped), the closing delimiter is found across any split of the input, then
//!   [`Flash::finish`] checks and commits the image;
//! * the reply is then, like ESPHome's, `200 text/plain` with `Connection: close` and the body
//!   `Update Successful!` or `Update Failed!` (then, on its own line, why: ESPHome's clients
//!   read the first line only).
//!
//! ESPHome begins the update with the size unknown; [`Flash::begin`] takes a size, so it gets
//! `Content-Length` (saturated to `u32`), an upper bound: the image plus the multipart envelope
//! (a few hundred bytes). A backend that checks the size against the partition may therefore
//! refuse an image within those few hundred bytes of the partition's size.
//!
//! The upload reports to the `platform: web_server` OTA automations as ESPHome's does:
//! [`Event::Started`] when the image begins, [`Event::Progress`] (percent of `Content-Length`)
//! at most once a second, then [`Event::Completed`] or [`Event::Error`] with the flash error's
//! byte (`0x84` for a body that ends inside the image). A client that leaves mid-image gives
//! [`Event::Aborted`] at once (ESPHome notices only when the next upload starts).
//!
//! Driving it: feed the socket's bytes to [`WebUpdate::handle_input`], send what
//! [`WebUpdate::poll_transmit`] gives (it may have a reply before the body was read, e.g. `401`:
//! keep reading, the rest of the body is discarded so the client sees the reply rather than a
//! reset), and call [`WebUpdate::handle_close`] when the client disconnects or times out (a
//! partial image is aborted); pass what [`WebUpdate::poll_event`] gives to the automations. Once
//! [`WebUpdate::outcome`] is `Some`, send what is left and close; [`Outcome::Updated`] means a
//! new image is committed: reboot.

use subtle::ConstantTimeEq;

use crate::error::FlashError;
use crate::events::{Event, EventQueue};
use crate::flash::Flash;
use crate::protocol::PROGRESS_INTERVAL_MS;
use crate::web_page::{DeviceInfo, PageWriter};

/// The largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 2048;
/// The longest multipart boundary (RFC 2046).
pub const MAX_BOUNDARY: usize = 70;
/// The longest `username:password` accepted in `Authorization`.
const MAX_CREDENTIALS: usize = 256;
/// Bytes gathered before a flash write (the input is split at every possible delimiter start).
pub const STAGE: usize = 512;
/// The delimiter: `\r\n--` and the boundary.
const MAX_DELIMITER: usize = MAX_BOUNDARY + 4;

/// The success and failure bodies, as ESPHome sends them.
pub const SUCCESS_BODY: &str = "Update Successful!";
/// See [`SUCCESS_BODY`].
pub const FAILURE_BODY: &str = "Update Failed!";

/// The whole reply to a client that connects while another one is being served (the device
/// takes one update at a time): it can try again once that one is done.
pub const BUSY_REPLY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 60\r\nRetry-After: 10\r\nConnection: close\r\n\r\nBusy: another client is updating this device; try again soon";

/// `web_server: auth:`: HTTP Basic credentials. Both must be non-empty for auth to apply.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// `auth: username`.
    pub username: &'a str,
    /// `auth: password`.
    pub password: &'a str,
}

/// The web server as a device's main loop runs it: `web_server: port` and `auth:`, what its page
/// says, and the `platform: web_server` OTA automations (uploads to `/update`).
pub struct WebServer<'a> {
    /// `web_server: port`.
    pub port: u16,
    /// `web_server: auth:` (HTTP Basic), if set.
    pub credentials: Option<Credentials<'static>>,
    /// The page's facts (the loop sets `safe_mode` for each request).
    pub info: DeviceInfo<'a>,
    /// The `platform: web_server` OTA automations.
    pub automations: &'a mut dyn crate::events::OtaListener,
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new image is committed: send the reply, close, reboot.
    Updated,
    /// An upload was received but not committed (`Update Failed!`); the old image stays.
    Failed,
    /// The request was answered with an error status (`400`, `401`, `404`, `411`, `431`).
    Rejected(u16),
    /// A page was served (`GET`).
    Served,
    /// The client went away before the request was complete; a partial image was aborted.
    Disconnected,
}

/// Where in the request the handler is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    /// Before the first delimiter: discarded.
    Preamble,
    /// Right after a delimiter: `--` (the end), or optional whitespace and CRLF (a part).
    AfterDelimiter { dash: bool, cr: bool },
    /// A part's headers, gathered in the head buffer.
    PartHeaders,
    /// A part's content; `file` when it is the image.
    PartBody { file: bool },
    /// The outcome is decided: the rest of the body is read and discarded.
    Drain,
    Done,
}

/// How long a web client may stay silent before its request is dropped (milliseconds).
pub const IDLE_TIMEOUT_MS: u64 = 30_000;

/// One HTTP connection to the web server's `/update`.
pub struct WebUpdate<'a, F: Flash> {
    flash: F,
    credentials: Option<Credentials<'a>>,
    state: State,
    head: [u8; MAX_HEAD],
    head_len: usize,
    /// `\r\n--boundary`.
    delimiter: [u8; MAX_DELIMITER],
    delimiter_len: usize,
    /// How many bytes of `delimiter` the input ended on (the carry between reads).
    matched: usize,
    content_length: u64,
    received: u64,
    stage: [u8; STAGE],
    stage_len: usize,
    flash_begun: bool,
    /// Whether `Started` was reported (so one final event follows).
    started: bool,
    /// Image bytes written to the flash, for progress.
    written: u64,
    /// The time of the input being handled, and of the last progress event.
    now: u64,
    /// When the client last sent something (or connected): the idle limit counts from here.
    last_input: u64,
    last_progress_at: Option<u64>,
    events: EventQueue,
    /// The outcome once the body is read (or the client leaves).
    result: Option<Outcome>,
    out: [u8; 640],
    out_len: usize,
    out_sent: usize,
    /// What `GET /` shows, and the page once it is being sent (after `out`).
    info: DeviceInfo<'a>,
    page: Option<PageWriter<'a>>,
    outcome: Option<Outcome>,
}

impl<'a, F: Flash> WebUpdate<'a, F> {
    /// A handler for one connection accepted at `now_ms`; `credentials` from `web_server: auth:`,
    /// `info` for the page.
    pub fn new(now_ms: u64, flash: F, credentials: Option<Credentials<'a>>, info: DeviceInfo<'a>) -> Self {
        let credentials = credentials.filter(|c| !c.username.is_empty() && !c.password.is_empty());
        WebUpdate {
            flash,
            credentials,
            state: State::Head,
            head: [0; MAX_HEAD],
            head_len: 0,
            delimiter: [0; MAX_DELIMITER],
            delimiter_len: 0,
            matched: 0,
            content_length: 0,
            received: 0,
            stage: [0; STAGE],
            stage_len: 0,
            flash_begun: false,
            started: false,
            written: 0,
            now: now_ms,
            last_input: now_ms,
            last_progress_at: None,
            events: EventQueue::default(),
            result: None,
            out: [0; 640],
            out_len: 0,
            out_sent: 0,
            info,
            page: None,
            outcome: None,
        }
    }

    /// Consumes bytes the client sent at `now_ms` (any monotonic clock in milliseconds). Bytes
    /// after the request (or after the outcome) are ignored.
    pub fn handle_input(&mut self, now_ms: u64, mut data: &[u8]) {
        self.now = now_ms;
        self.last_input = now_ms;
        if self.state == State::Head {
            match self.read_head(data) {
                Some(rest) => data = rest,
                None => return,
            }
        }
        if matches!(self.state, State::Head | State::Done) {
            return;
        }
        let left = self.content_length - self.received;
        if (data.len() as u64) > left {
            data = &data[..left as usize];
        }
        self.received += data.len() as u64;
        while !data.is_empty() {
            let used = match self.state {
                State::Preamble => self.scan(data, false),
                State::PartBody { file } => self.scan(data, file),
                State::AfterDelimiter { dash, cr } => {
                    self.after_delimiter(data[0], dash, cr);
                    1
                }
                State::PartHeaders => self.part_headers(data),
                State::Drain | State::Head | State::Done => data.len(),
            };
            data = &data[used..];
        }
        if self.received == self.content_length {
            self.body_done();
        }
    }

    /// The client closed the connection (or timed out): a partial image is aborted. A client
    /// that only closed its sending side still gets `Update Failed!` and why.
    pub fn handle_close(&mut self) {
        if self.outcome.is_some() {
            return;
        }
        if self.flash_begun {
            self.flash_begun = false;
            self.flash.abort();
            self.events.push(Event::Aborted);
        }
        if self.result.is_none() && self.received > 0 {
            self.reply_failed("the upload ended before the whole file arrived");
        }
        self.state = State::Done;
        self.outcome = Some(self.result.unwrap_or(Outcome::Disconnected));
    }

    /// The clock moved to `now_ms`: a client silent for [`IDLE_TIMEOUT_MS`] is dropped (as if
    /// it had closed: a partial image is aborted).
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.poll_timeout().is_some_and(|deadline| now_ms >= deadline) {
            self.handle_close();
        }
    }

    /// When [`WebUpdate::handle_timeout`] must be called next, while the connection lasts.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.outcome.is_none().then(|| self.last_input.saturating_add(IDLE_TIMEOUT_MS))
    }

    /// The next event for the `platform: web_server` OTA automations.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// Copies reply bytes owed to the client into `buf`; returns how many (0: nothing to send).
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.out_len - self.out_sent);
        buf[..n].copy_from_slice(&self.out[self.out_sent..self.out_sent + n]);
        self.out_sent += n;
        match &mut self.page {
            Some(page) if n < buf.len() => n + page.write(&mut buf[n..]),
            _ => n,
        }
    }

    /// True while reply bytes are owed to the client.
    pub fn has_transmit(&self) -> bool {
        self.out_sent < self.out_len || self.page.as_ref().is_some_and(|p| !p.is_done())
    }

    /// `Some` once the connection is over: send what is left, close, and on
    /// [`Outcome::Updated`] reboot into the new image.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// True once the new image is committed, even while the rest of the body is still read:
    /// from then on the boot state belongs to the new build.
    pub fn is_committed(&self) -> bool {
        self.result == Some(Outcome::Updated)
    }

    /// True while the client has sent nothing (a browser's speculative connection), or once it
    /// has its answer and only the rest of a refused body is read: another client may take
    /// this one's place.
    pub fn can_give_way(&self) -> bool {
        let idle = self.state == State::Head && self.head_len == 0;
        let answered = matches!(self.result, Some(Outcome::Failed | Outcome::Rejected(_))) && !self.has_transmit();
        idle || answered
    }

    /// True while an image is being written (flash begun, not committed or dropped yet).
    pub fn is_receiving_image(&self) -> bool {
        self.flash_begun
    }

    /// Body bytes received so far and `Content-Length` (which includes the multipart
    /// envelope), for progress logs.
    pub fn progress(&self) -> (u64, u64) {
        (self.received, self.content_length)
    }

    /// The flash backend.
    pub fn flash(&self) -> &F {
        &self.flash
    }

    /// Gathers the head; returns the input after it once it is complete and accepted.
    fn read_head<'d>(&mut self, data: &'d [u8]) -> Option<&'d [u8]> {
        let old = self.head_len;
        let take = data.len().min(MAX_HEAD - old);
        self.head[old..old + take].copy_from_slice(&data[..take]);
        self.head_len += take;
        let from = old.saturating_sub(3);
        let Some(end) = find(&self.head[from..self.head_len], b"\r\n\r\n").map(|p| from + p + 4) else {
            if self.head_len == MAX_HEAD {
                self.reject(431);
            }
            return None;
        };
        let rest = &data[end - old..];
        match parse_head(&self.head[..end], self.credentials) {
            Err(status) => {
                self.reject(status);
                // Unless the length is known the rest cannot be told from a next request.
                None
            }
            Ok(Request::Page) => {
                let page = PageWriter::new(self.info);
                self.head_only("200 OK", "text/html; charset=utf-8", "Cache-Control: no-store\r\n", page.len());
                self.page = Some(page);
                self.state = State::Done;
                self.outcome = Some(Outcome::Served);
                None
            }
            Ok(Request::Reject { status, content_length }) => {
                self.respond_status(status);
                self.result = Some(Outcome::Rejected(status));
                self.content_length = content_length;
                self.state = State::Drain;
                Some(rest)
            }
            Ok(Request::Upload { content_length, boundary, expect_continue }) => {
                let boundary = &self.head[boundary.0..boundary.1];
                let len = boundary.len() + 4;
                self.delimiter[..4].copy_from_slice(b"\r\n--");
                let (tail, _) = self.delimiter[4..].split_at_mut(boundary.len());
                tail.copy_from_slice(boundary);
                self.delimiter_len = len;
                // The body starts with the first delimiter without its CRLF: count it as seen.
                self.matched = 2;
                self.content_length = content_length;
                self.state = State::Preamble;
                if expect_continue {
                    self.push(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                Some(rest)
            }
        }
    }

    /// Looks for the delimiter, passing content before it to the flash (`file`) or dropping
    /// it; returns the bytes used. Only a delimiter prefix is carried between calls, and since
    /// the boundary has no CR, a mismatch can only restart the match at a CR.
    fn scan(&mut self, data: &[u8], file: bool) -> usize {
        let mut run = 0;
        for (i, &b) in data.iter().enumerate() {
            if b == self.delimiter[self.matched] {
                if self.matched == 0 && file {
                    self.emit(&data[run..i]);
                }
                self.matched += 1;
                if self.matched == self.delimiter_len {
                    self.matched = 0;
                    self.delimiter_found(file);
                    return i + 1;
                }
                continue;
            }
            if self.matched > 0 {
                // The bytes that looked like a delimiter were content after all.
                if file {
                    let held = self.delimiter;
                    self.emit(&held[..self.matched]);
                }
                self.matched = 0;
                if b == b'\r' {
                    self.matched = 1;
                    continue;
                }
                run = i;
            }
        }
        if self.matched == 0 && file {
            self.emit(&data[run..]);
        }
        data.len()
    }

    fn delimiter_found(&mut self, file: bool) {
        if file {
            self.commit();
        } else {
            self.state = State::AfterDelimiter { dash: false, cr: false };
        }
    }

    fn after_delimiter(&mut self, b: u8, dash: bool, cr: bool) {
        self.state = match (b, dash, cr) {
            // The close delimiter: no (more) file part.
            (b'-', true, false) => return self.fail("the form holds no file"),
            (b'-', false, false) => State::AfterDelimiter { dash: true, cr: false },
            (b' ' | b'\t', false, false) => State::AfterDelimiter { dash, cr },
            (b'\r', false, false) => State::AfterDelimiter { dash: false, cr: true },
            (b'\n', false, true) => {
                self.head_len = 0;
                State::PartHeaders
            }
            _ => return self.fail("the multipart body is malformed"),
        };
    }

    /// Gathers a part's headers; returns the bytes used.
    fn part_headers(&mut self, data: &[u8]) -> usize {
        for (i, &b) in data.iter().enumerate() {
            if self.head_len == MAX_HEAD {
                self.fail("a part's headers are too long");
                return data.len();
            }
            self.head[self.head_len] = b;
            self.head_len += 1;
            let head = &self.head[..self.head_len];
            if head == b"\r\n" || head.ends_with(b"\r\n\r\n") {
                let file = !self.flash_begun && is_file_part(head);
                if file {
                    self.started = true;
                    self.events.push(Event::Started);
                    let size = u32::try_from(self.content_length).unwrap_or(u32::MAX);
                    if let Err(e) = self.flash.begin(size) {
                        self.fail_with(e, e.reason());
                        return data.len();
                    }
                    self.flash_begun = true;
                }
                self.state = State::PartBody { file };
                return i + 1;
            }
        }
        data.len()
    }

    /// Queues content for the flash, writing in blocks of [`STAGE`] bytes.
    fn emit(&mut self, mut data: &[u8]) {
        while !data.is_empty() && self.flash_begun {
            if self.stage_len == 0 && data.len() >= STAGE {
                self.write(data);
                return;
            }
            let take = data.len().min(STAGE - self.stage_len);
            self.stage[self.stage_len..self.stage_len + take].copy_from_slice(&data[..take]);
            self.stage_len += take;
            data = &data[take..];
            if self.stage_len == STAGE && !self.flush_stage() {
                return;
            }
        }
    }

    fn flush_stage(&mut self) -> bool {
        if self.stage_len > 0 {
            let n = self.stage_len;
            self.stage_len = 0;
            let stage = self.stage;
            return self.write(&stage[..n]);
        }
        true
    }

    /// Writes image bytes to the flash and reports progress; false (and failed) on an error.
    fn write(&mut self, data: &[u8]) -> bool {
        if let Err(e) = self.flash.write(data) {
            self.fail_with(e, e.reason());
            return false;
        }
        self.written += data.len() as u64;
        if self.last_progress_at.is_none_or(|at| self.now >= at + PROGRESS_INTERVAL_MS) {
            self.last_progress_at = Some(self.now);
            // Of `Content-Length`, envelope included, as ESPHome reports it.
            self.events.push(Event::Progress(self.written as f32 * 100.0 / self.content_length as f32));
        }
        true
    }

    /// The image's closing delimiter is in: check and commit it.
    fn commit(&mut self) {
        // A write already failed earlier in this read: the image is gone, never commit it.
        if !self.flash_begun || !self.flush_stage() {
            return;
        }
        // An empty file part would leave the slot's previous content to be booted.
        if self.written == 0 {
            return self.fail("the file is empty");
        }
        self.flash_begun = false;
        match self.flash.finish() {
            Ok(()) => {
                self.respond("200 OK", "text/plain", "", SUCCESS_BODY);
                self.result = Some(Outcome::Updated);
                self.state = State::Drain;
                self.events.push(Event::Completed);
            }
            Err(e) => self.fail_with(e, e.reason()),
        }
    }

    /// The request did not carry a whole image (`why`): for `on_error` that is a failed finish.
    fn fail(&mut self, why: &'static str) {
        self.fail_with(FlashError::UpdateEnd, why);
    }

    /// The upload did not produce an image: `Update Failed!` and `why`, then the rest is
    /// discarded.
    fn fail_with(&mut self, error: FlashError, why: &str) {
        if self.started && self.result.is_none() {
            self.events.push(Event::Error(error.code()));
        }
        if self.flash_begun {
            self.flash_begun = false;
            self.flash.abort();
        }
        self.stage_len = 0;
        if self.result.is_none() {
            self.reply_failed(why);
            self.result = Some(Outcome::Failed);
        }
        self.state = State::Drain;
    }

    /// `Update Failed!` and, on its own line, why.
    fn reply_failed(&mut self, why: &str) {
        self.head_only("200 OK", "text/plain; charset=utf-8", "", FAILURE_BODY.len() + 1 + why.len());
        self.push(FAILURE_BODY.as_bytes());
        self.push(b"\n");
        self.push(why.as_bytes());
    }

    /// Every byte of `Content-Length` is in.
    fn body_done(&mut self) {
        match self.state {
            State::Drain => {}
            State::Preamble => self.fail("the body has no part with the boundary its Content-Type names"),
            // The body ended inside the multipart data.
            _ => self.fail("the upload ended before the whole file arrived"),
        }
        self.state = State::Done;
        self.outcome = self.result;
    }

    /// Answers with an error status and ends the connection without reading on.
    fn reject(&mut self, status: u16) {
        self.respond_status(status);
        self.state = State::Done;
        self.outcome = Some(Outcome::Rejected(status));
    }

    fn respond_status(&mut self, status: u16) {
        match status {
            401 => self.respond(
                "401 Unauthorized",
                "text/plain",
                "WWW-Authenticate: Basic realm=\"Login Required\"\r\n",
                "Unauthorized",
            ),
            404 => self.respond("404 Not Found", "text/plain", "", "Not Found"),
            411 => self.respond("411 Length Required", "text/plain", "", "Length Required"),
            431 => self.respond("431 Request Header Fields Too Large", "text/plain", "", "Request Header Fields Too Large"),
            _ => self.respond("400 Bad Request", "text/plain", "", "Bad Request"),
        }
    }

    fn respond(&mut self, status: &str, content_type: &str, headers: &str, body: &str) {
        self.head_only(status, content_type, headers, body.len());
        self.push(body.as_bytes());
    }

    /// A reply's status line and headers, for a body of `length` bytes sent after them.
    fn head_only(&mut self, status: &str, content_type: &str, headers: &str, length: usize) {
        self.push(b"HTTP/1.1 ");
        self.push(status.as_bytes());
        self.push(b"\r\nContent-Type: ");
        self.push(content_type.as_bytes());
        self.push(b"\r\nContent-Length: ");
        let mut digits = [0u8; 20];
        self.push(decimal(length as u64, &mut digits));
        self.push(b"\r\nConnection: close\r\n");
        self.push(headers.as_bytes());
        self.push(b"\r\n");
    }

    fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.out.len() - self.out_len);
        self.out[self.out_len..self.out_len + n].copy_from_slice(&bytes[..n]);
        self.out_len += n;
    }
}

/// What the head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// `GET /` or `GET /update`.
    Page,
    /// Answer `status`, then discard a body of `content_length`.
    Reject { status: u16, content_length: u64 },
    /// `POST /update`; `boundary` is a range of the head.
    Upload { content_length: u64, boundary: (usize, usize), expect_continue: bool },
}

/// Parses and checks a complete head (ending in CRLF CRLF). `Err` is a status to answer
/// without reading on.
fn parse_head(head: &[u8], credentials: Option<Credentials<'_>>) -> Result<Request, u16> {
    let mut lines = head[..head.len() - 4].split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = lines.next().ok_or(400u16)?;
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(400);
    };
    if !version.starts_with(b"HTTP/1.") || method.is_empty() || !target.starts_with(b"/") {
        return Err(400);
    }
    let path = target.split(|&b| b == b'?').next().unwrap_or(target);

    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut content_type: Option<&[u8]> = None;
    let mut authorization: Option<&[u8]> = None;
    let mut expect_continue = false;
    for line in lines {
        let colon = line.iter().position(|&b| b == b':').ok_or(400u16)?;
        let name = &line[..colon];
        if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
            return Err(400);
        }
        let value = trim(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_decimal(value).ok_or(400u16)?;
            if content_length.is_some_and(|c| c != n) {
                return Err(400);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"content-type") {
            content_type = Some(value);
        } else if name.eq_ignore_ascii_case(b"authorization") {
            authorization = Some(value);
        } else if name.eq_ignore_ascii_case(b"expect") {
            expect_continue = value.eq_ignore_ascii_case(b"100-continue");
        }
    }

    let authorized = match credentials {
        None => true,
        Some(c) => authorization.is_some_and(|a| basic_auth_matches(a, c)),
    };
    let is_post = method == b"POST";
    let discard = if chunked { None } else { content_length };
    if !authorized {
        return match discard {
            Some(content_length) => Ok(Request::Reject { status: 401, content_length }),
            None => Err(401),
        };
    }
    if method == b"GET" && (path == b"/" || path == b"/update") {
        return Ok(Request::Page);
    }
    if !(is_post && path == b"/update") {
        return match discard {
            Some(content_length) => Ok(Request::Reject { status: 404, content_length }),
            None => Err(404),
        };
    }
    let Some(content_length) = discard else { return Err(411) };
    let Some(boundary) = content_type.and_then(multipart_boundary) else {
        return Ok(Request::Reject { status: 400, content_length });
    };
    // A range of `head`: the content type value borrows from it.
    let start = boundary.as_ptr() as usize - head.as_ptr() as usize;
    Ok(Request::Upload { content_length, boundary: (start, start + boundary.len()), expect_continue })
}

/// The `boundary` parameter of a `multipart/form-data` content type (quoted or not).
fn multipart_boundary(content_type: &[u8]) -> Option<&[u8]> {
    let mut params = content_type.split(|&b| b == b';');
    let media = trim(params.next()?);
    if !media.eq_ignore_ascii_case(b"multipart/form-data") {
        return None;
    }
    for param in params {
        let param = trim(param);
        let eq = param.iter().position(|&b| b == b'=')?;
        if !trim(&param[..eq]).eq_ignore_ascii_case(b"boundary") {
            continue;
        }
        let mut value = trim(&param[eq + 1..]);
        if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
            value = &value[1..value.len() - 1];
        }
        let valid = !value.is_empty() && value.len() <= MAX_BOUNDARY && value.iter().all(|&b| (b' '..=b'~').contains(&b));
        return valid.then_some(value);
    }
    None
}

/// Whether a part's headers (ending in CRLF CRLF, or just CRLF) describe a file.
fn is_file_part(headers: &[u8]) -> bool {
    headers.split(|&b| b == b'\n').any(|line| {
        let Some(colon) = line.iter().position(|&b| b == b':') else { return false };
        line[..colon].eq_ignore_ascii_case(b"content-disposition") && find_ignore_case(&line[colon + 1..], b"filename").is_some()
    })
}

/// Checks `Basic <base64 of user:password>` in constant time (for equal lengths).
fn basic_auth_matches(authorization: &[u8], credentials: Credentials<'_>) -> bool {
    let Some(space) = authorization.iter().position(|&b| b == b' ') else { return false };
    if !authorization[..space].eq_ignore_ascii_case(b"basic") {
        return false;
    }
    let mut decoded = [0u8; MAX_CREDENTIALS];
    let Some(len) = crate::base64::decode_into(trim(&authorization[space + 1..]), &mut decoded) else { return false };
    let decoded = &decoded[..len];
    let (user, password) = (credentials.username.as_bytes(), credentials.password.as_bytes());
    if decoded.len() != user.len() + 1 + password.len() {
        return false;
    }
    let ok = decoded[..user.len()].ct_eq(user) & decoded[user.len()].ct_eq(&b':') & decoded[user.len() + 1..].ct_eq(password);
    bool::from(ok)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |p| p + 1);
    &s[start..end]
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0')))
}

fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}
