//! The device side of ESPHome's native OTA protocol (spec §1) as a sans-IO state machine.
//!
//! Feed the client's bytes with [`Session::handle_input`], report the clock with
//! [`Session::handle_timeout`] and the end of the stream with [`Session::handle_close`]; drain
//! [`Session::poll_transmit`] to the socket and [`Session::poll_event`] to the automations. Once
//! [`Session::outcome`] is `Some`, flush what is left to send and close the connection.
//!
//! Committing the image (the MD5 check and [`Flash::finish`]) can take a while, and spec §1.3
//! sends `44` before it: so once every byte is in, the session only queues `44`, and commits
//! on the first [`Session::poll_transmit`] after `44` was taken (or on the next
//! `handle_timeout`, `handle_input` or `handle_close`). A driver that writes what it polls
//! before polling again therefore has `44` on the wire while the image is being committed.
//!
//! Resume (a ferrota extension, `docs/ota-extensions.md`): when a client that asked for it
//! drops in the data phase, the session does not abort the image but [`Flash::suspend`]s it and
//! leaves a [`Parked`] upload (the running MD5, the counters, the inflater) for the device's
//! loop to hand to the next session ([`Session::with_parked`]), which continues it when the
//! same image comes again.

use md5::{Digest, Md5};

use crate::auth::{self, Rng, SHA256_HEX_LEN};
use crate::component::Password;
use crate::deflate::Inflater;
use crate::delta::{Applier, ImageId, PatchIo};
use crate::error::{FlashError, OtaError};
use crate::events::{Event, EventQueue};
use crate::flash::Flash;
use crate::hex;
use crate::outbox::Outbox;
use crate::wire::{client_feature, response, server_feature, BLOCK_SIZE, MAGIC, OTA_TYPE_APP, OTA_TYPE_APP_PATCH};

/// Milliseconds from the connection to the end of auth (ESPHome's handshake watchdog).
pub const HANDSHAKE_TIMEOUT_MS: u64 = 20_000;
/// Milliseconds of silence allowed after auth.
pub const DATA_TIMEOUT_MS: u64 = 90_000;
/// Milliseconds the device waits for the client's final `00` before finishing anyway.
pub const FINAL_ACK_TIMEOUT_MS: u64 = 10_000;
/// Minimum milliseconds between two progress events.
pub const PROGRESS_INTERVAL_MS: u64 = 1_000;
/// Milliseconds a dropped upload is kept for its client to resume.
pub const RESUME_KEEP_MS: u64 = 5 * 60_000;

/// The MD5 a client announces for `image`, as lowercase hex (what the session checks).
pub fn image_md5_hex(image: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::encode_into(&Md5::digest(image), &mut out);
    out
}

/// The protocol version byte the device announces (`version:` in the YAML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolVersion {
    /// No per-chunk acks.
    V1 = 1,
    /// One `47` per 8192 received bytes.
    V2 = 2,
}

/// What one session needs to know about its component.
#[derive(Clone, Copy)]
pub struct SessionConfig {
    /// The version byte to announce.
    pub version: ProtocolVersion,
    /// The password for this session; empty means no auth.
    pub password: Password,
    /// Whether to offer streaming deflate to a client that supports it.
    pub deflate: bool,
    /// Whether to offer resume (a ferrota extension) to a client that asks for it.
    pub resume: bool,
    /// Whether to offer delta updates (a ferrota extension) to a client that asks for them.
    pub delta: bool,
}

/// How the payload becomes the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The payload is the image.
    Raw,
    /// A raw deflate stream of the image (spec §1.5b).
    Deflate,
    /// A patch against the running image (ferrota's delta updates).
    Patch,
}

/// What turns the payload into the image, with its state.
enum Decoder {
    Raw,
    Inflate(Inflater),
    Patch(Applier),
}

/// What an upload cut off in its data phase leaves besides the bytes in flash: enough for the
/// next session to continue it where it stopped, if the same image comes again.
pub struct Parked {
    upload: Upload,
    decoder: Decoder,
    since: u64,
}

impl Parked {
    /// True once it was kept [`RESUME_KEEP_MS`]: the loop drops it and aborts the flash.
    pub fn expired(&self, now: u64) -> bool {
        now >= self.since + RESUME_KEEP_MS
    }

    /// Payload bytes received before the connection dropped (where a resume continues).
    pub fn received(&self) -> u64 {
        self.upload.received
    }
}

/// The image being received: what it is and how far it got.
#[derive(Clone)]
struct Upload {
    wire_size: u64,
    image_size: u64,
    mode: Mode,
    expected_md5: [u8; 32],
    md5: Md5,
    received: u64,
    written: u64,
}

impl Upload {
    fn new() -> Self {
        Upload { wire_size: 0, image_size: 0, mode: Mode::Raw, expected_md5: [0; 32], md5: Md5::new(), received: 0, written: 0 }
    }
}

/// Where in spec §1.3 the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Magic,
    Features,
    AuthReply,
    OtaType,
    Size,
    Md5,
    Data,
    /// Every byte is in and `44` is queued; the commit is next.
    Finishing,
    FinalAck { deadline: u64 },
    Closed,
}

impl Step {
    /// Bytes a fixed-length field of this step has (`two_sizes`: deflate or a patch).
    fn field_len(self, two_sizes: bool) -> usize {
        match self {
            Step::Magic => MAGIC.len(),
            Step::AuthReply => 2 * SHA256_HEX_LEN,
            Step::Size if two_sizes => 8,
            Step::Size => 4,
            Step::Md5 => 32,
            _ => 1,
        }
    }
}

/// One client connection, from the magic to the final ack.
pub struct Session<F: Flash> {
    flash: F,
    config: SessionConfig,
    nonce: [u8; SHA256_HEX_LEN],
    step: Step,
    field: [u8; 2 * SHA256_HEX_LEN],
    field_len: usize,
    started_at: u64,
    last_input_at: u64,
    extended: bool,
    deflate: bool,
    /// Resume was agreed: the device tells where the payload continues, and a drop parks.
    resume: bool,
    /// Delta updates were agreed: the client may send a patch against `running`.
    delta: bool,
    running: ImageId,
    /// The image being received; its mode is set by the auth and OTA-type steps.
    upload: Upload,
    acked: u64,
    decoder: Decoder,
    flash_begun: bool,
    /// An upload an earlier session left; its decoder waits in `decoder` until begin.
    parked: Option<(Upload, u64)>,
    last_progress_at: Option<u64>,
    outbox: Outbox,
    events: EventQueue,
    outcome: Option<Result<(), OtaError>>,
}

impl<F: Flash> Session<F> {
    /// Starts a session for a client that connected at `now` (milliseconds).
    pub fn new(config: SessionConfig, flash: F, rng: &mut impl Rng, now: u64) -> Self {
        let nonce = if config.password.is_empty() { [0; SHA256_HEX_LEN] } else { auth::make_nonce(rng) };
        Session {
            flash,
            config,
            nonce,
            step: Step::Magic,
            field: [0; 2 * SHA256_HEX_LEN],
            field_len: 0,
            started_at: now,
            last_input_at: now,
            extended: false,
            deflate: false,
            resume: false,
            delta: false,
            running: ImageId::UNKNOWN,
            upload: Upload::new(),
            acked: 0,
            decoder: Decoder::Raw,
            flash_begun: false,
            parked: None,
            last_progress_at: None,
            outbox: Outbox::default(),
            events: EventQueue::default(),
            outcome: None,
        }
    }

    /// Offers an upload an earlier session parked: continued if this client sends the same
    /// image and asked for resume; kept for the next session if this one never begins an image
    /// ([`Session::take_parked`]); dropped if it begins another.
    pub fn with_parked(mut self, parked: Option<Parked>) -> Self {
        if let Some(Parked { upload, decoder, since }) = parked {
            self.parked = Some((upload, since));
            self.decoder = decoder;
        }
        self
    }

    /// Once the session is over: the upload it parked (a drop in the data phase after resume
    /// was agreed), or the one it was offered and did not touch. The loop keeps it for the
    /// next session; `None` means nothing is parked (any partial image was aborted).
    pub fn take_parked(&mut self) -> Option<Parked> {
        let (upload, since) = self.parked.take()?;
        Some(Parked { upload, decoder: core::mem::replace(&mut self.decoder, Decoder::Raw), since })
    }

    /// Consumes bytes the client sent. Bytes after the session closed are ignored.
    pub fn handle_input(&mut self, now: u64, mut data: &[u8]) {
        if self.step == Step::Closed {
            return;
        }
        self.last_input_at = now;
        while !data.is_empty() && self.step != Step::Closed {
            if self.step == Step::Data {
                let take = data.len().min((self.upload.wire_size - self.upload.received) as usize);
                let (chunk, rest) = data.split_at(take);
                data = rest;
                self.receive_data(now, chunk);
            } else if self.step == Step::Finishing {
                // The client did not wait for `45`: commit now, then read on.
                self.commit();
            } else if let Step::FinalAck { .. } = self.step {
                // Any byte will do: ESPHome logs a wrong final ack and carries on.
                self.complete();
            } else {
                let need = self.step.field_len(self.upload.mode != Mode::Raw);
                let take = data.len().min(need - self.field_len);
                self.field[self.field_len..self.field_len + take].copy_from_slice(&data[..take]);
                self.field_len += take;
                data = &data[take..];
                if self.field_len == need {
                    self.field_len = 0;
                    self.handle_field(need);
                }
            }
        }
    }

    /// Lets timeouts fire; call it whenever [`Session::poll_timeout`]'s instant has passed.
    pub fn handle_timeout(&mut self, now: u64) {
        match self.step {
            Step::Closed => {}
            Step::Finishing => self.commit(),
            Step::FinalAck { deadline } => {
                if now >= deadline {
                    self.complete();
                }
            }
            Step::Magic | Step::Features | Step::AuthReply => {
                if now >= self.started_at + HANDSHAKE_TIMEOUT_MS {
                    self.fail(OtaError::HandshakeTimeout);
                }
            }
            Step::OtaType | Step::Size | Step::Md5 | Step::Data => {
                if now >= self.last_input_at + DATA_TIMEOUT_MS {
                    self.fail(OtaError::DataTimeout);
                }
            }
        }
    }

    /// The client closed its side: fatal unless every byte arrived (then the image is
    /// committed if it checks out) or it is already committed.
    pub fn handle_close(&mut self) {
        match self.step {
            Step::Closed => {}
            Step::Finishing => {
                self.commit();
                self.handle_close();
            }
            Step::FinalAck { .. } => self.complete(),
            _ => self.fail(OtaError::PeerClosed),
        }
    }

    /// The instant (milliseconds) at which [`Session::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.step {
            Step::Closed => None,
            // Due at once: a driver that only calls `handle_timeout` still commits.
            Step::Finishing => Some(self.last_input_at),
            Step::FinalAck { deadline } => Some(deadline),
            Step::Magic | Step::Features | Step::AuthReply => Some(self.started_at + HANDSHAKE_TIMEOUT_MS),
            _ => Some(self.last_input_at + DATA_TIMEOUT_MS),
        }
    }

    /// Copies bytes owed to the client into `buf`; returns how many (0: nothing to send).
    ///
    /// Once `44` was taken by an earlier call, this call commits the image first (module
    /// docs) and returns `45` or the error byte.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        if self.step == Step::Finishing && self.outbox.is_empty() {
            self.commit();
        }
        self.outbox.pop_into(buf)
    }

    /// True while bytes are owed to the client (including the `45` or error byte of a
    /// commit that has not run yet).
    pub fn has_transmit(&self) -> bool {
        !self.outbox.is_empty() || self.step == Step::Finishing
    }

    /// The next event for the automations.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// `Some` once the session is over: `Ok` means a new image is committed and the device
    /// should flush, close and do a safe reboot; `Err` means it keeps running the old image.
    pub fn outcome(&self) -> Option<Result<(), OtaError>> {
        self.outcome
    }

    /// True once the new image is committed, even while the final ack is still awaited: from
    /// then on the boot state belongs to the new build, so the running one must not confirm
    /// itself into it.
    pub fn is_committed(&self) -> bool {
        matches!(self.step, Step::FinalAck { .. }) || self.outcome == Some(Ok(()))
    }

    /// True while an image is being written (auth passed, flash begun, not committed yet):
    /// an update under way that a reboot would cut off.
    pub fn is_receiving_image(&self) -> bool {
        self.flash_begun
    }

    /// The flash backend, e.g. to learn where a committed image went.
    pub fn flash(&self) -> &F {
        &self.flash
    }

    fn handle_field(&mut self, len: usize) {
        let mut field = [0u8; 2 * SHA256_HEX_LEN];
        field[..len].copy_from_slice(&self.field[..len]);
        let field = &field[..len];
        match self.step {
            Step::Magic => {
                if field != MAGIC {
                    return self.fail(OtaError::InvalidMagic);
                }
                self.outbox.push_all(&[response::OK, self.config.version as u8]);
                self.step = Step::Features;
            }
            Step::Features => self.handle_features(field[0]),
            Step::AuthReply => {
                let (cnonce, reply) = field.split_at(SHA256_HEX_LEN);
                if !auth::verify(self.config.password.as_bytes(), &self.nonce, cnonce, reply) {
                    return self.fail(OtaError::AuthInvalid);
                }
                self.auth_passed();
            }
            Step::OtaType => {
                match field[0] {
                    OTA_TYPE_APP => {}
                    OTA_TYPE_APP_PATCH if self.delta => self.upload.mode = Mode::Patch,
                    other => return self.fail(OtaError::UnsupportedOtaType(other)),
                }
                self.step = Step::Size;
            }
            Step::Size => self.handle_size(field),
            Step::Md5 => {
                self.upload.expected_md5.copy_from_slice(field);
                // Deferred from the size step: a parked upload of the same sizes may go on.
                if !self.flash_begun && !self.resume_parked() {
                    if let Err(e) = self.begin() {
                        return self.fail(OtaError::Flash(e));
                    }
                }
                self.outbox.push(response::BIN_MD5_OK);
                if self.resume {
                    let from = u32::try_from(self.upload.received).unwrap_or(u32::MAX);
                    self.outbox.push_all(&from.to_be_bytes());
                }
                self.step = Step::Data;
                if self.upload.received == self.upload.wire_size {
                    self.finish_image();
                }
            }
            Step::Data | Step::Finishing | Step::FinalAck { .. } | Step::Closed => {}
        }
    }

    fn handle_features(&mut self, client: u8) {
        let extended = client & client_feature::EXTENDED_PROTOCOL != 0;
        self.deflate = extended && self.config.deflate && client & client_feature::DEFLATE != 0;
        self.resume = extended && self.config.resume && client & client_feature::RESUME != 0;
        self.delta = extended && self.config.delta && client & client_feature::DELTA != 0;
        if extended {
            let mut flags = if self.deflate { server_feature::DEFLATE } else { 0 };
            if self.resume {
                flags |= server_feature::RESUME;
            }
            if self.delta {
                flags |= server_feature::DELTA;
            }
            self.outbox.push_all(&[response::FEATURE_FLAGS, flags]);
        } else {
            // Never `48` to a client that did not ask: old clients reject it.
            self.outbox.push(response::HEADER_OK);
        }
        self.extended = extended;
        if self.config.password.is_empty() {
            self.auth_passed();
        } else if client & client_feature::SHA256_AUTH != 0 {
            self.outbox.push(response::REQUEST_SHA256_AUTH);
            self.outbox.push_all(&self.nonce);
            self.step = Step::AuthReply;
        } else {
            self.fail(OtaError::Sha256Required);
        }
    }

    fn auth_passed(&mut self) {
        self.outbox.push(response::AUTH_OK);
        self.upload.mode = if self.deflate { Mode::Deflate } else { Mode::Raw };
        if self.delta {
            // Only now: what a device runs is for those who may update it.
            self.running = self.flash.running_image().unwrap_or(ImageId::UNKNOWN);
            self.outbox.push_all(&self.running.to_bytes());
        }
        self.step = if self.extended { Step::OtaType } else { Step::Size };
    }

    fn handle_size(&mut self, field: &[u8]) {
        let be = |b: &[u8]| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        self.upload.wire_size = be(&field[..4]);
        // With deflate or a patch the second field is the image's size: what the flash receives.
        self.upload.image_size = if self.upload.mode == Mode::Raw { self.upload.wire_size } else { be(&field[4..8]) };
        self.events.push(Event::Started);
        // A parked upload of the same sizes may be this one: which, the MD5 tells.
        let this = &self.upload;
        let same_sizes = |(parked, _): &(Upload, u64)| (parked.wire_size, parked.image_size, parked.mode) == (this.wire_size, this.image_size, this.mode);
        if !(self.resume && self.parked.as_ref().is_some_and(same_sizes)) {
            if let Err(e) = self.begin() {
                return self.fail(OtaError::Flash(e));
            }
        }
        self.outbox.push(response::UPDATE_PREPARE_OK);
        self.step = Step::Md5;
    }

    /// Starts a new image in the flash; a parked one is gone from here on.
    fn begin(&mut self) -> Result<(), FlashError> {
        self.parked = None;
        // Both sizes came from 32-bit fields, so the conversion cannot fail.
        let size = u32::try_from(self.upload.image_size).unwrap_or(u32::MAX);
        self.flash.begin(size)?;
        self.flash_begun = true;
        self.decoder = match self.upload.mode {
            Mode::Raw => Decoder::Raw,
            Mode::Deflate => Decoder::Inflate(Inflater::new()),
            Mode::Patch => Decoder::Patch(Applier::new(self.running, size)),
        };
        Ok(())
    }

    /// Continues the parked upload if it is this image (same sizes, same MD5) and the flash
    /// still holds its bytes; false leaves a fresh start to the caller.
    fn resume_parked(&mut self) -> bool {
        let Some((parked, _)) = self.parked.take() else { return false };
        let same = parked.expected_md5.eq_ignore_ascii_case(&self.upload.expected_md5);
        let size = u32::try_from(parked.image_size).unwrap_or(u32::MAX);
        let written = u32::try_from(parked.written).unwrap_or(u32::MAX);
        if !same || self.flash.resume(size, written).is_err() {
            return false;
        }
        self.acked = parked.received / BLOCK_SIZE * BLOCK_SIZE;
        self.upload = parked;
        self.flash_begun = true;
        true
    }

    fn receive_data(&mut self, now: u64, chunk: &[u8]) {
        self.upload.received += chunk.len() as u64;
        let more = self.upload.received < self.upload.wire_size;
        let upload = &mut self.upload;
        let mut sink = Sink { flash: &mut self.flash, md5: &mut upload.md5, written: &mut upload.written, limit: upload.image_size };
        let result = match &mut self.decoder {
            Decoder::Raw => sink.write(chunk),
            Decoder::Inflate(inflater) => inflater.feed(chunk, more, &mut |data| sink.write(data)),
            Decoder::Patch(applier) => applier.feed(chunk, more, &mut sink),
        };
        if let Err(e) = result {
            return self.fail(e);
        }
        if self.config.version == ProtocolVersion::V2 {
            let mut acks = 0;
            while self.acked + BLOCK_SIZE <= self.upload.received || (!more && self.acked < self.upload.wire_size) {
                self.acked += BLOCK_SIZE;
                acks += 1;
            }
            self.outbox.push_run(response::CHUNK_OK, acks);
        }
        if self.last_progress_at.is_none_or(|at| now >= at + PROGRESS_INTERVAL_MS) {
            self.last_progress_at = Some(now);
            self.events.push(Event::Progress(self.upload.received as f32 * 100.0 / self.upload.wire_size as f32));
        }
        if !more {
            self.finish_image();
        }
    }

    /// All announced bytes are in: acknowledge them; the commit follows (module docs).
    fn finish_image(&mut self) {
        self.outbox.push(response::RECEIVE_OK);
        self.step = Step::Finishing;
    }

    /// Checks the received image, then makes it bootable.
    fn commit(&mut self) {
        let decoded = match &self.decoder {
            Decoder::Raw => true,
            Decoder::Inflate(inflater) => inflater.is_done(),
            Decoder::Patch(applier) => applier.is_done(),
        };
        if !decoded || self.upload.written != self.upload.image_size {
            return self.fail(if self.upload.mode == Mode::Patch { OtaError::InvalidPatch } else { OtaError::InvalidDeflateStream });
        }
        let mut actual = [0u8; 32];
        hex::encode_into(&self.upload.md5.finalize_reset(), &mut actual);
        if !actual.eq_ignore_ascii_case(&self.upload.expected_md5) {
            return self.fail(OtaError::Md5Mismatch);
        }
        // An empty image (its MD5 matches `d41d8…`) would leave whatever the update slot held
        // before to be booted: no platform can check what was never written.
        if self.upload.written == 0 {
            return self.fail(OtaError::Flash(FlashError::UpdateEnd));
        }
        if let Err(e) = self.flash.finish() {
            return self.fail(OtaError::Flash(e));
        }
        self.flash_begun = false;
        self.outbox.push(response::UPDATE_END_OK);
        self.step = Step::FinalAck { deadline: self.last_input_at + FINAL_ACK_TIMEOUT_MS };
    }

    fn complete(&mut self) {
        self.step = Step::Closed;
        self.outcome = Some(Ok(()));
        self.events.push(Event::Completed);
    }

    /// Sends the error byte (when the peer can still read it), drops a partial image (or parks
    /// it, when the connection was lost mid-data and the client can resume), closes.
    fn fail(&mut self, error: OtaError) {
        if error != OtaError::PeerClosed {
            self.outbox.push(error.code());
        }
        if self.flash_begun {
            self.flash_begun = false;
            let lost = matches!(error, OtaError::PeerClosed | OtaError::DataTimeout);
            if self.resume && self.step == Step::Data && lost && self.flash.suspend().is_ok() {
                self.parked = Some((self.upload.clone(), self.last_input_at));
            } else {
                self.flash.abort();
            }
        }
        // A parked upload (this one's, or the one offered) keeps its decoder.
        if self.parked.is_none() {
            self.decoder = Decoder::Raw;
        }
        self.step = Step::Closed;
        self.outcome = Some(Err(error));
        self.events.push(Event::Error(error.code()));
    }
}

/// Where decoded image bytes go: hashed, counted against the announced size, written; and,
/// for a patch, where the running image is read.
struct Sink<'a, F: Flash> {
    flash: &'a mut F,
    md5: &'a mut Md5,
    written: &'a mut u64,
    limit: u64,
}

impl<F: Flash> PatchIo for Sink<'_, F> {
    fn read_base(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), OtaError> {
        self.flash.read_running(offset, buf).map_err(OtaError::Flash)
    }

    fn write(&mut self, data: &[u8]) -> Result<(), OtaError> {
        *self.written += data.len() as u64;
        if *self.written > self.limit {
            return Err(OtaError::InvalidDeflateStream);
        }
        self.md5.update(data);
        self.flash.write(data).map_err(OtaError::Flash)
    }
}
