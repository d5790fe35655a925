//! The client half of ESPHome's native OTA protocol (spec §1) as a sans-IO state machine.
//!
//! No sockets, clocks or randomness: the caller feeds device bytes to [`Client::handle_input`],
//! writes what [`Client::pending`] holds and reports it with [`Client::sent`], and tells the
//! client about a closed connection or a network error. Every byte sequence is therefore
//! testable as an exact transcript.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use ferrota_ota::delta::ImageId;
use ferrota_ota::wire::{self, client_feature, response, server_feature};
use md5::{Digest, Md5};
use sha2::Sha256;

use super::errors::{Step, UploadError};
use super::image::{hex, Image};

/// Every feature this client implements: gzip, SHA-256 auth, the extended protocol and
/// streaming deflate (0x17, what ESPHome 2026.10 sends without an encryption key), plus
/// ferrota's resume and delta updates, which ESPHome's devices ignore
/// (`docs/ota-extensions.md`).
pub const ALL_FEATURES: u8 = client_feature::COMPRESSION
    | client_feature::SHA256_AUTH
    | client_feature::EXTENDED_PROTOCOL
    | client_feature::DEFLATE
    | client_feature::RESUME
    | client_feature::DELTA;

/// Where the client gets a patch to the image it sends from the image a device runs (the
/// image store, through [`Image::patch_from`]); `None`: no such base kept.
pub type PatchSource = Arc<dyn Fn(&ImageId) -> Option<Arc<Vec<u8>>> + Send + Sync>;

/// Socket timeout from connect through auth (spec §1.8).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// Socket timeout once auth passed: the device may erase flash or verify a large image.
pub const DATA_TIMEOUT: Duration = Duration::from_secs(90);

/// The socket timeouts of a session, for reads and writes alike (a device that stops reading
/// must not block a write forever). [`Timeouts::default`] is ESPHome's; tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From connect through auth.
    pub handshake: Duration,
    /// Once auth passed.
    pub data: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { handshake: HANDSHAKE_TIMEOUT, data: DATA_TIMEOUT }
    }
}

const BLOCK: usize = wire::BLOCK_SIZE as usize;

/// How the image travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// A gzip file the device stores and inflates at boot (`46` / flag 0x01).
    Gzip,
    /// Raw deflate, 4 KiB window, inflated while receiving (flag 0x08, spec §1.5b).
    Deflate,
    /// A patch against the image the device runs (ferrota's delta updates, flag 0x80).
    Delta,
}

/// The challenge/response hash the device asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Md5,
    Sha256,
}

/// Something the user may want to hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The device answered the magic bytes.
    Connected { version: u8 },
    /// The image was compressed for this device.
    Compressed { mode: Compression, size: usize },
    /// A patch goes instead of the image: `size` bytes instead of `whole`.
    Delta { size: usize, whole: usize },
    /// The device could take a patch, but the whole image goes.
    NoDelta(NoDelta),
    /// Auth passed (`None`: the device has no password).
    Authenticated(Option<AuthMethod>),
    /// The device prepared its flash; the data phase starts.
    DataStarted { total: usize },
    /// The device kept the first `from` payload bytes of a dropped upload of this image: the
    /// data phase continues there.
    Resumed { from: usize, total: usize },
    /// `sent` of `total` payload bytes were handed to the network.
    Progress { sent: usize, total: usize },
    /// The device has every byte (`44`).
    Received,
    /// The device verified and committed the image (`45`).
    Committed,
}

/// Why a device that takes patches gets the whole image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoDelta {
    /// ferrota did not keep the image the device runs (or the device can't tell).
    UnknownBase(ImageId),
    /// The patch would be `size` bytes: no fewer than the whole image's.
    NotSmaller { size: usize },
}

/// What the client waits for from the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Version,
    Features,
    FeatureFlags,
    Auth,
    Nonce(AuthMethod),
    AuthResult(AuthMethod),
    /// The SHA-256 and length of the image the device runs (delta agreed).
    RunningImage,
    Prepare,
    ChecksumResult,
    ResumeOffset,
    Data,
    Receive,
    End,
    Done,
}

/// One upload session over one connection.
pub struct Client {
    image: Arc<Image>,
    password: Option<String>,
    features: u8,
    /// Random bytes for the cnonce (the first 16 for MD5, all 32 for SHA-256).
    cnonce_seed: [u8; 32],
    state: State,
    version: u8,
    extended: bool,
    /// Resume was agreed: the device says where the payload continues.
    resume: bool,
    /// Delta updates were agreed: the device says what it runs after auth.
    delta: bool,
    patch_source: Option<PatchSource>,
    patch: Option<Arc<Vec<u8>>>,
    mode: Compression,
    /// Control bytes not yet written, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    /// The step the bytes in `out` belong to, for send errors.
    out_step: Step,
    /// A multi-byte device message being collected (version, nonce).
    partial: Vec<u8>,
    /// Payload bytes written so far.
    data_sent: usize,
    /// Payload bytes the device confirmed (version 2: one `47` per 8 KiB block it read).
    acked: usize,
    /// How far (in bytes) writing may run ahead of the device's acks (version 2).
    window: usize,
    events: VecDeque<Event>,
    outcome: Option<Result<(), UploadError>>,
}

impl Client {
    /// A session that uploads `image`; it starts with the magic bytes pending.
    pub fn new(image: Arc<Image>, password: Option<String>, cnonce_seed: [u8; 32]) -> Client {
        Client::with_features(image, password, cnonce_seed, ALL_FEATURES)
    }

    /// Like [`Client::new`] but offering only `features` (tests; old-client emulation).
    pub fn with_features(image: Arc<Image>, password: Option<String>, cnonce_seed: [u8; 32], features: u8) -> Client {
        let mut client = Client {
            image,
            password,
            features,
            cnonce_seed,
            state: State::Version,
            version: 0,
            extended: false,
            resume: false,
            delta: false,
            patch_source: None,
            patch: None,
            mode: Compression::None,
            out: wire::MAGIC.to_vec(),
            out_pos: 0,
            out_step: Step::Magic,
            partial: Vec::new(),
            data_sent: 0,
            acked: 0,
            window: BLOCK,
            events: VecDeque::new(),
            outcome: None,
        };
        let len = client.image.bytes().len() as u64;
        if len == 0 || len > u64::from(u32::MAX) {
            client.fail(UploadError::BadImageSize(len));
        }
        client
    }

    /// Lets version 2's payload run up to `bytes` (whole blocks, at least one) ahead of the
    /// device's acks instead of waiting a round trip per block. Nothing in the protocol asks
    /// the client to wait: the device acks each block whenever it has read it, so the acks are
    /// still counted one per block, and a device that stops acking still runs into the socket
    /// timeout once the window is full.
    pub fn set_window(&mut self, bytes: usize) {
        self.window = (bytes / BLOCK).max(1) * BLOCK;
    }

    /// Lets the client send a patch instead of the image to a device that takes patches and
    /// runs an image `source` has a patch from.
    pub fn set_patch_source(&mut self, source: PatchSource) {
        self.patch_source = Some(source);
    }

    /// Where the payload written may run to before the next ack.
    fn data_limit(&self) -> usize {
        let total = self.payload().len();
        if self.version == 1 { total } else { total.min(self.acked + self.window) }
    }

    /// Bytes to write now; empty while the client waits for the device.
    pub fn pending(&self) -> &[u8] {
        if self.outcome.as_ref().is_some_and(|o| o.is_err()) {
            return &[];
        }
        if self.out_pos < self.out.len() {
            return &self.out[self.out_pos..];
        }
        if self.state == State::Data {
            // One block at a time even in version 1, so progress and device errors are seen per
            // block; blocks end at multiples of 8 KiB also after a resume mid-block.
            let end = self.data_limit().min((self.data_sent / BLOCK + 1) * BLOCK);
            return self.payload().get(self.data_sent..end).unwrap_or_default();
        }
        &[]
    }

    /// `n` bytes of [`Client::pending`] were written.
    pub fn sent(&mut self, n: usize) {
        if self.out_pos < self.out.len() {
            self.out_pos = (self.out_pos + n).min(self.out.len());
            if self.out_pos == self.out.len() {
                self.out.clear();
                self.out_pos = 0;
                if self.state == State::Done && self.outcome.is_none() {
                    // Our final ack is out: the update is done (spec §1.3 step 13).
                    self.outcome = Some(Ok(()));
                }
            }
            return;
        }
        if self.state == State::Data && n > 0 {
            self.data_sent = (self.data_sent + n).min(self.data_limit());
            let total = self.payload().len();
            self.events.push_back(Event::Progress { sent: self.data_sent, total });
            if self.data_sent == total && self.version == 1 {
                self.state = State::Receive;
            }
        }
    }

    /// Feeds bytes the device sent.
    pub fn handle_input(&mut self, mut input: &[u8]) {
        while let Some((&byte, rest)) = input.split_first() {
            if self.outcome.is_some() {
                return;
            }
            input = rest;
            self.handle_byte(byte);
        }
    }

    /// The device closed the connection.
    pub fn handle_close(&mut self) {
        if self.outcome.is_none() {
            let committed = self.committed();
            self.fail(UploadError::Closed { step: self.receive_step(), committed });
        }
    }

    /// Reading from the device failed (including a read timeout).
    pub fn receive_failed(&mut self, err: &std::io::Error) {
        if self.outcome.is_none() {
            self.fail(UploadError::network(self.receive_step(), err, self.committed()));
        }
    }

    /// Writing [`Client::pending`] failed.
    pub fn send_failed(&mut self, err: &std::io::Error) {
        if self.outcome.is_none() {
            let step = if self.out_pos < self.out.len() { self.out_step } else { Step::Data };
            // The final ack: the device already committed (it ignores a missing ack).
            let committed = self.committed() || step == Step::EndAck;
            self.fail(UploadError::network(step, err, committed));
        }
    }

    /// `Some` once the session is over: `Ok` after `45` and our final ack.
    pub fn outcome(&self) -> Option<&Result<(), UploadError>> {
        self.outcome.as_ref()
    }

    /// The next thing worth reporting.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The socket timeout (read and write) for the current step.
    pub fn socket_timeout(&self, timeouts: &Timeouts) -> Duration {
        match self.state {
            State::Version | State::Features | State::FeatureFlags | State::Auth | State::Nonce(_) | State::AuthResult(_) => {
                timeouts.handshake
            }
            // After auth: the device may hash the image it runs before it answers.
            _ => timeouts.data,
        }
    }

    /// True while the payload is being sent (where a write error may hide a device error byte).
    pub fn in_data_phase(&self) -> bool {
        self.state == State::Data
    }

    /// The protocol version the device speaks (0 before it said).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// How the image is sent to this device.
    pub fn compression(&self) -> Compression {
        self.mode
    }

    /// The device may have every payload byte, and so may commit: from here on nothing is
    /// retried. With blocks in flight, every byte written is not every byte read: that takes
    /// every block but the last acknowledged (the device may have read the last and gone on).
    fn committed(&self) -> bool {
        let total = self.payload().len();
        match self.state {
            State::Receive | State::End | State::Done => true,
            State::Data => self.data_sent == total && self.acked + BLOCK >= total,
            _ => false,
        }
    }

    fn payload(&self) -> &[u8] {
        match self.mode {
            Compression::None => self.image.bytes(),
            Compression::Gzip => self.image.gzip().0,
            // Deflate is agreed only after `try_deflate` succeeded (see the feature step).
            Compression::Deflate => self.image.try_deflate().unwrap_or_default(),
            Compression::Delta => self.patch.as_deref().map_or(&[], |p| &p[..]),
        }
    }

    fn fail(&mut self, err: UploadError) {
        self.outcome = Some(Err(err));
    }

    fn send(&mut self, step: Step, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.out_step = step;
    }

    /// The step whose answer the client is waiting for.
    fn receive_step(&self) -> Step {
        match self.state {
            State::Version => Step::Version,
            State::Features => Step::Features,
            State::FeatureFlags => Step::FeatureFlags,
            State::Auth => Step::Auth,
            State::Nonce(_) => Step::AuthNonce,
            State::AuthResult(_) => Step::AuthResult,
            State::RunningImage => Step::RunningImage,
            State::Prepare => Step::Prepare,
            State::ChecksumResult => Step::ChecksumResult,
            State::ResumeOffset => Step::ResumeOffset,
            State::Data => Step::Chunk,
            State::Receive => Step::Receive,
            State::End => Step::End,
            State::Done => Step::EndAck,
        }
    }

    /// Error bytes end the session at every status step (the newest client checks even
    /// nonces).
    fn check_error(&mut self, byte: u8) -> bool {
        if byte >= 0x80 {
            self.fail(UploadError::Device { step: self.receive_step(), code: byte });
            return true;
        }
        false
    }

    fn unexpected(&mut self, byte: u8) {
        self.fail(UploadError::Unexpected { step: self.receive_step(), byte });
    }

    fn handle_byte(&mut self, byte: u8) {
        // The flags byte after `48` is a bit set, not a status: a future flag 0x80 is no error;
        // nor is the resume offset a status.
        if !matches!(self.state, State::FeatureFlags | State::ResumeOffset | State::RunningImage) && self.check_error(byte) {
            return;
        }
        match self.state {
            State::Version => {
                self.partial.push(byte);
                if self.partial.len() == 1 && byte != response::OK {
                    return self.unexpected(byte);
                }
                if self.partial.len() == 2 {
                    self.partial.clear();
                    if byte != 1 && byte != 2 {
                        return self.fail(UploadError::UnsupportedVersion(byte));
                    }
                    self.version = byte;
                    self.events.push_back(Event::Connected { version: byte });
                    self.send(Step::FeatureByte, &[self.features]);
                    self.state = State::Features;
                }
            }
            State::Features => match byte {
                response::FEATURE_FLAGS if self.features & client_feature::EXTENDED_PROTOCOL != 0 => {
                    self.extended = true;
                    self.state = State::FeatureFlags;
                }
                response::HEADER_OK => self.negotiated(0),
                response::SUPPORTS_COMPRESSION => self.negotiated(server_feature::COMPRESSION),
                _ => self.unexpected(byte),
            },
            State::FeatureFlags => self.negotiated(byte),
            State::Auth => match byte {
                response::AUTH_OK => self.authenticated(None),
                response::REQUEST_AUTH | response::REQUEST_SHA256_AUTH => {
                    if self.password.is_none() {
                        return self.fail(UploadError::PasswordRequired);
                    }
                    let method = if byte == response::REQUEST_AUTH { AuthMethod::Md5 } else { AuthMethod::Sha256 };
                    self.state = State::Nonce(method);
                }
                _ => self.unexpected(byte),
            },
            State::Nonce(method) => {
                if !byte.is_ascii_hexdigit() {
                    return self.unexpected(byte);
                }
                self.partial.push(byte);
                let len = match method {
                    AuthMethod::Md5 => 32,
                    AuthMethod::Sha256 => 64,
                };
                if self.partial.len() == len {
                    let nonce = std::mem::take(&mut self.partial);
                    self.answer_challenge(method, &nonce);
                }
            }
            State::AuthResult(method) => match byte {
                response::AUTH_OK => self.authenticated(Some(method)),
                _ => self.unexpected(byte),
            },
            State::RunningImage => {
                self.partial.push(byte);
                if self.partial.len() == 36 {
                    let mut record = [0u8; 36];
                    record.copy_from_slice(&self.partial);
                    self.partial.clear();
                    self.choose_payload(ImageId::from_bytes(&record));
                }
            }
            State::Prepare => match byte {
                response::UPDATE_PREPARE_OK => {
                    let md5 = match self.mode {
                        // The device hashes what it writes: the inflated or patched image.
                        Compression::None | Compression::Deflate | Compression::Delta => self.image.md5_hex().to_owned(),
                        Compression::Gzip => self.image.gzip().1.to_owned(),
                    };
                    self.send(Step::Checksum, md5.as_bytes());
                    self.state = State::ChecksumResult;
                }
                _ => self.unexpected(byte),
            },
            State::ChecksumResult => match byte {
                response::BIN_MD5_OK if self.resume => self.state = State::ResumeOffset,
                response::BIN_MD5_OK => self.start_data(0),
                _ => self.unexpected(byte),
            },
            State::ResumeOffset => {
                self.partial.push(byte);
                if self.partial.len() == 4 {
                    let from = u32::from_be_bytes([self.partial[0], self.partial[1], self.partial[2], self.partial[3]]) as usize;
                    self.partial.clear();
                    // Every byte already there would have been committed, not parked.
                    if from >= self.payload().len() {
                        return self.fail(UploadError::BadResumeOffset { offset: from as u64, size: self.payload().len() as u64 });
                    }
                    self.start_data(from);
                }
            }
            State::Data => {
                // Version 2: one `47` per block, and only for a block that was written whole.
                let total = self.payload().len();
                let block_end = (self.acked + BLOCK).min(total);
                if byte != response::CHUNK_OK || self.version != 2 || self.data_sent < block_end {
                    return self.unexpected(byte);
                }
                self.acked = block_end;
                if self.acked == total {
                    self.state = State::Receive;
                }
            }
            State::Receive => match byte {
                response::RECEIVE_OK => {
                    self.events.push_back(Event::Received);
                    self.state = State::End;
                }
                _ => self.unexpected(byte),
            },
            State::End => match byte {
                response::UPDATE_END_OK => {
                    self.events.push_back(Event::Committed);
                    self.send(Step::EndAck, &[response::OK]);
                    self.state = State::Done;
                }
                _ => self.unexpected(byte),
            },
            State::Done => self.unexpected(byte),
        }
    }

    /// The data phase starts, at payload offset `from` (0 unless the device resumes).
    fn start_data(&mut self, from: usize) {
        let total = self.payload().len();
        self.data_sent = from;
        // Acks count whole 8 KiB blocks from the payload's start (the device's rule).
        self.acked = from / BLOCK * BLOCK;
        self.state = State::Data;
        if from > 0 {
            self.events.push_back(Event::Resumed { from, total });
        }
        self.events.push_back(Event::DataStarted { total });
    }

    /// The feature ack arrived: pick the compression and wait for the auth request.
    fn negotiated(&mut self, flags: u8) {
        let offered = |bit: u8| self.features & bit != 0;
        self.resume = self.extended && flags & server_feature::RESUME != 0 && offered(client_feature::RESUME);
        self.delta = self.extended && flags & server_feature::DELTA != 0 && offered(client_feature::DELTA);
        self.mode = if self.extended && flags & server_feature::DEFLATE != 0 && offered(client_feature::DEFLATE) {
            Compression::Deflate
        } else if flags & server_feature::COMPRESSION != 0 && offered(client_feature::COMPRESSION) {
            Compression::Gzip
        } else {
            Compression::None
        };
        self.state = State::Auth;
    }

    fn answer_challenge(&mut self, method: AuthMethod, nonce: &[u8]) {
        let password = self.password.as_deref().unwrap_or_default().as_bytes();
        let (cnonce, result) = match method {
            AuthMethod::Md5 => {
                let cnonce = hex(&self.cnonce_seed[..16]);
                let digest = Md5::new().chain_update(password).chain_update(nonce).chain_update(&cnonce).finalize();
                (cnonce, hex(&digest))
            }
            AuthMethod::Sha256 => {
                let cnonce = hex(&self.cnonce_seed);
                let digest = Sha256::new().chain_update(password).chain_update(nonce).chain_update(&cnonce).finalize();
                (cnonce, hex(&digest))
            }
        };
        self.send(Step::AuthResponse, cnonce.as_bytes());
        self.send(Step::AuthResponse, result.as_bytes());
        self.state = State::AuthResult(method);
    }

    /// Auth passed: with delta agreed, the device says what it runs next; otherwise the
    /// header goes out now.
    fn authenticated(&mut self, method: Option<AuthMethod>) {
        self.events.push_back(Event::Authenticated(method));
        if self.delta {
            self.state = State::RunningImage;
        } else {
            self.send_header();
        }
    }

    /// The device runs `running`: a patch from it goes if one can be had and is smaller than
    /// the image as it would go otherwise.
    fn choose_payload(&mut self, running: ImageId) {
        let Some(source) = self.patch_source.clone() else { return self.send_header() };
        if self.mode == Compression::Deflate && self.image.try_deflate().is_err() {
            // The whole image can't be deflated: `send_header` reports it.
            return self.send_header();
        }
        let patch = if running == ImageId::UNKNOWN { None } else { source(&running) };
        let whole = self.payload().len();
        match patch {
            None => self.events.push_back(Event::NoDelta(NoDelta::UnknownBase(running))),
            Some(patch) if patch.len() >= whole => self.events.push_back(Event::NoDelta(NoDelta::NotSmaller { size: patch.len() })),
            Some(patch) => {
                self.events.push_back(Event::Delta { size: patch.len(), whole });
                self.patch = Some(patch);
                self.mode = Compression::Delta;
            }
        }
        self.send_header();
    }

    /// Sends the OTA type (extended), the size(s), and waits for the prepare ack.
    fn send_header(&mut self) {
        if self.mode == Compression::Deflate {
            if let Err(e) = self.image.try_deflate() {
                return self.fail(UploadError::Compress(e.to_string()));
            }
        }
        let raw_len = self.image.bytes().len();
        let payload_len = self.payload().len();
        if !matches!(self.mode, Compression::None | Compression::Delta) {
            self.events.push_back(Event::Compressed { mode: self.mode, size: payload_len });
        }
        let Ok(size) = u32::try_from(payload_len) else {
            return self.fail(UploadError::BadImageSize(payload_len as u64));
        };
        if self.extended {
            let ota_type = if self.mode == Compression::Delta { wire::OTA_TYPE_APP_PATCH } else { wire::OTA_TYPE_APP };
            self.send(Step::OtaType, &[ota_type]);
        }
        self.send(Step::Size, &size.to_be_bytes());
        if matches!(self.mode, Compression::Deflate | Compression::Delta) {
            // Checked in `with_features`: the raw image fits 32 bits.
            self.send(Step::Size, &(raw_len as u32).to_be_bytes());
        }
        self.state = State::Prepare;
    }
}
