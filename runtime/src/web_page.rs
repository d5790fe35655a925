//! The device's page at `/`: who the device is, which build it runs, and a firmware upload
//! form that works in any browser (plain HTML; with JavaScript it also shows the upload's
//! progress and waits for the device to come back).
//!
//! The page is a constant (`web_page.html`) with `{{key}}` markers. [`PageWriter`] streams it
//! into whatever buffer the socket offers, each marker replaced by the device's value, HTML
//! escaped: no copy of the page is ever made, so serving it costs a few words of state.

/// The page, with its markers.
const PAGE: &str = include_str!("web_page.html");

/// What the page says about the device.
#[derive(Debug, Clone, Copy)]
pub struct DeviceInfo<'a> {
    /// `esphome: name`.
    pub name: &'a str,
    /// `esphome: friendly_name` (may be empty).
    pub friendly_name: &'a str,
    /// The ferrota version that built the firmware.
    pub version: &'a str,
    /// When the firmware was built (UTC, as text).
    pub build_time: &'a str,
    /// The running image's MD5 in hex, as `ferrota upload` and ESPHome compute it; empty when
    /// the device can't tell.
    pub image_md5: &'a str,
    /// Whether safe mode is active (only updates run).
    pub safe_mode: bool,
}

impl<'a> DeviceInfo<'a> {
    /// The value of a marker (`None`: not a marker of this page).
    fn value(&self, key: &str) -> Option<&'a str> {
        Some(match key {
            "title" if self.friendly_name.is_empty() => self.name,
            "title" => self.friendly_name,
            "name" => self.name,
            "version" => self.version,
            "build_time" => self.build_time,
            "md5" if self.image_md5.is_empty() => "unknown",
            "md5" => self.image_md5,
            "state" if self.safe_mode => "Safe mode: only updates run",
            "state" => "Running",
            "state_class" if self.safe_mode => "safe",
            "state_class" => "running",
            _ => return None,
        })
    }
}

/// The page for one request, written piece by piece.
#[derive(Debug, Clone)]
pub struct PageWriter<'a> {
    info: DeviceInfo<'a>,
    /// Where in [`PAGE`] the next constant text starts.
    at: usize,
    /// The value being written: how many of its bytes are out, and how much of the next one's
    /// escape (an entity may straddle two writes).
    value: Option<(&'a str, usize, usize)>,
}

impl<'a> PageWriter<'a> {
    /// The page for `info`, from its first byte.
    pub fn new(info: DeviceInfo<'a>) -> Self {
        PageWriter { info, at: 0, value: None }
    }

    /// The page's length in bytes (for `Content-Length`).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        let mut writer = PageWriter::new(self.info);
        let mut buf = [0u8; 256];
        let mut total = 0;
        loop {
            match writer.write(&mut buf) {
                0 => return total,
                n => total += n,
            }
        }
    }

    /// Whether every byte was written.
    pub fn is_done(&self) -> bool {
        self.value.is_none() && self.at == PAGE.len()
    }

    /// Writes the next bytes of the page into `buf`; returns how many (0 once it is all out, or
    /// for an empty `buf`).
    pub fn write(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() && !self.is_done() {
            if let Some((value, mut sent, mut part)) = self.value {
                while sent < value.len() && n < buf.len() {
                    let escaped = escape(&value.as_bytes()[sent]);
                    let take = (escaped.len() - part).min(buf.len() - n);
                    buf[n..n + take].copy_from_slice(&escaped[part..part + take]);
                    n += take;
                    part += take;
                    if part == escaped.len() {
                        sent += 1;
                        part = 0;
                    }
                }
                self.value = (sent < value.len()).then_some((value, sent, part));
                continue;
            }
            // Bytes, not `str`: a write may end inside a multi-byte character.
            let rest = &PAGE.as_bytes()[self.at..];
            match marker(rest) {
                Some((0, key, len)) => {
                    self.at += len;
                    self.value = self.info.value(key).map(|v| (v, 0, 0));
                }
                found => {
                    let text = found.map_or(rest.len(), |(at, _, _)| at);
                    let take = text.min(buf.len() - n);
                    buf[n..n + take].copy_from_slice(&rest[..take]);
                    n += take;
                    self.at += take;
                }
            }
        }
        n
    }
}

/// The first `{{key}}` in `text`: where it starts, its key and its length.
fn marker(text: &[u8]) -> Option<(usize, &str, usize)> {
    let find = |text: &[u8], what: &[u8]| text.windows(2).position(|w| w == what);
    let start = find(text, b"{{")?;
    let end = find(&text[start..], b"}}")?;
    let key = core::str::from_utf8(&text[start + 2..start + end]).ok()?;
    Some((start, key, end + 2))
}

/// A byte as HTML text: itself, or the entity of a special character.
fn escape(byte: &u8) -> &[u8] {
    match byte {
        b'&' => b"&amp;",
        b'<' => b"&lt;",
        b'>' => b"&gt;",
        b'"' => b"&quot;",
        b'\'' => b"&#39;",
        _ => core::slice::from_ref(byte),
    }
}
