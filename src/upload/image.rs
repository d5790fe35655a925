//! A firmware image and what the protocol derives from it (MD5, gzip, 4 KiB-window deflate),
//! each computed at most once and shared by every upload of the same image (fleets).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use ferrota_ota::delta::ImageId;
use ferrota_ota::protocol::image_md5_hex;
use flate2::{Compress, CompressError, Compression, FlushCompress, Status};

/// ESPHome compresses with level 9 (spec §1.5, §1.5b).
const LEVEL: u32 = 9;
/// The deflate window the device inflates through: 2^12 = 4 KiB (`wbits = -12`).
pub const DEFLATE_WINDOW_BITS: u8 = 12;
const WINDOW: usize = 1 << DEFLATE_WINDOW_BITS;
/// Below this size a deflate segment is not worth a thread of its own.
const MIN_SEGMENT: usize = 1 << 20;

/// The bytes to upload plus their lazily computed forms.
pub struct Image {
    bytes: Vec<u8>,
    md5: OnceLock<String>,
    worth_compressing: OnceLock<bool>,
    deflate: OnceLock<Result<Vec<u8>, CompressError>>,
    gzip: OnceLock<(Vec<u8>, String)>,
    id: OnceLock<ImageId>,
    /// Patches from bases (by SHA-256) to this image; `None`: none could be made.
    patches: Mutex<HashMap<[u8; 32], Option<Arc<Vec<u8>>>>>,
}

impl Image {
    pub fn new(bytes: Vec<u8>) -> Image {
        Image {
            bytes,
            md5: OnceLock::new(),
            worth_compressing: OnceLock::new(),
            deflate: OnceLock::new(),
            gzip: OnceLock::new(),
            id: OnceLock::new(),
            patches: Mutex::new(HashMap::new()),
        }
    }

    pub fn read(path: &Path) -> std::io::Result<Image> {
        std::fs::read(path).map(Image::new)
    }

    /// The image as built.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Lowercase hex MD5 of the image.
    pub fn md5_hex(&self) -> &str {
        self.md5.get_or_init(|| md5_hex(&self.bytes))
    }

    /// The SHA-256 and length, as delta updates name images.
    pub fn id(&self) -> ImageId {
        *self.id.get_or_init(|| ImageId::of(&self.bytes))
    }

    /// The patch that makes this image from the image `base` names, with `load` fetching the
    /// base's bytes (checked to be that image: `ImageStore::find` does); made once per base and
    /// shared (a fleet of devices running the same build makes it once). `None` when the base
    /// can't be had or no patch could be made. (A patch always names the bytes it was made
    /// from, so one made from the wrong bytes is refused by the device, never misapplied.)
    pub fn patch_from(&self, base: &ImageId, load: impl FnOnce() -> Option<Vec<u8>>) -> Option<Arc<Vec<u8>>> {
        // Held while the patch is made: a second upload of the same pair waits for this one.
        let mut patches = self.patches.lock().unwrap_or_else(|p| p.into_inner());
        patches.entry(base.sha256).or_insert_with(|| load().and_then(|b| super::delta::make_patch(&b, &self.bytes)).map(Arc::new)).clone()
    }

    /// Whether compressing would shrink the image by at least 5 %, judged from a few samples
    /// deflated quickly: an image of already compressed or random data goes as it is, without
    /// spending a second of CPU to make it bigger.
    pub fn worth_compressing(&self) -> bool {
        *self.worth_compressing.get_or_init(|| sampled_gain_worth_it(&self.bytes))
    }

    /// Raw deflate, level 9, 4 KiB window: what a device offering streaming deflate inflates.
    /// `Err` only when the compressor failed; never a truncated stream.
    pub fn try_deflate(&self) -> Result<&[u8], CompressError> {
        self.deflate.get_or_init(|| deflate_4k(&self.bytes)).as_deref().map_err(Clone::clone)
    }

    /// The gzip container (level 9) and its MD5: what a device answering `46` stores.
    pub fn gzip(&self) -> (&[u8], &str) {
        let (bytes, md5) = self.gzip.get_or_init(|| {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Compression::new(LEVEL));
            // Writing into a Vec cannot fail.
            let bytes = encoder.write_all(&self.bytes).and_then(|()| encoder.finish()).unwrap_or_default();
            let md5 = md5_hex(&bytes);
            (bytes, md5)
        });
        (bytes, md5)
    }
}

/// [`Image::worth_compressing`], computed.
fn sampled_gain_worth_it(data: &[u8]) -> bool {
    const SAMPLE: usize = 64 * 1024;
    const SAMPLES: usize = 8;
    let step = (data.len() / SAMPLES).max(SAMPLE);
    let (mut read, mut written) = (0u64, 0u64);
    for start in (0..data.len()).step_by(step).take(SAMPLES) {
        let sample = &data[start..(start + SAMPLE).min(data.len())];
        let mut c = Compress::new_with_window_bits(Compression::fast(), false, DEFLATE_WINDOW_BITS);
        let Ok(out) = compress_all(&mut c, sample, true) else { return true };
        read += sample.len() as u64;
        written += out.len() as u64;
    }
    written * 100 < read * 95
}

/// Lowercase hex, as every hash goes on the wire (the device crate's encoder).
pub fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    ferrota_ota::hex::encode_into(bytes, &mut out).to_owned()
}

/// The MD5 the device checks, computed the way the device computes it.
fn md5_hex(bytes: &[u8]) -> String {
    // The device's hex is ASCII, so nothing is ever replaced.
    String::from_utf8_lossy(&image_md5_hex(bytes)).into_owned()
}

/// A raw deflate stream of `data` with no back reference further than 4 KiB.
///
/// Level 9 is slow, so large images are cut into one segment per core, pigz style: each
/// segment is primed with the 4 KiB before it (all the window can see anyway) and ends with a
/// sync flush, so the segments concatenate into one valid stream.
pub fn deflate_4k(data: &[u8]) -> Result<Vec<u8>, CompressError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let segments = (data.len() / MIN_SEGMENT).clamp(1, cores);
    let size = data.len().div_ceil(segments).max(1);
    let bounds: Vec<(usize, usize)> =
        (0..segments).map(|i| (i * size, ((i + 1) * size).min(data.len()))).filter(|(s, e)| s < e || *s == 0).collect();
    let last = bounds.len() - 1;
    let parts: Vec<Result<Vec<u8>, CompressError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .iter()
            .enumerate()
            .map(|(i, &(start, end))| scope.spawn(move || deflate_segment(data, start, end, i == last)))
            .collect();
        // A compression thread only panics on a bug in the compressor; fall back to one thread.
        handles.into_iter().map(|h| h.join()).collect::<Result<_, _>>().unwrap_or_else(|_| vec![deflate_segment(data, 0, data.len(), true)])
    });
    Ok(parts.into_iter().collect::<Result<Vec<_>, _>>()?.concat())
}

/// Compresses `data[start..end]` with the preceding window as dictionary.
fn deflate_segment(data: &[u8], start: usize, end: usize, last: bool) -> Result<Vec<u8>, CompressError> {
    let mut c = Compress::new_with_window_bits(Compression::new(LEVEL), false, DEFLATE_WINDOW_BITS);
    if start > 0 {
        c.set_dictionary(&data[start.saturating_sub(WINDOW)..start])?;
    }
    compress_all(&mut c, &data[start..end], last)
}

/// Feeds all of `input` to `c`, ending with the end of the stream (`last`) or a sync flush.
fn compress_all(c: &mut Compress, mut input: &[u8], last: bool) -> Result<Vec<u8>, CompressError> {
    let mut out = Vec::with_capacity(input.len() / 2 + 1024);
    let flush = if last { FlushCompress::Finish } else { FlushCompress::Sync };
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        let before = c.total_in();
        let status = c.compress_vec(input, &mut out, flush)?;
        input = &input[(c.total_in() - before) as usize..];
        match status {
            Status::StreamEnd => return Ok(out),
            // Sync flush: done once all input is in and the output buffer was not filled.
            _ if !last && input.is_empty() && out.len() < out.capacity() => return Ok(out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};
    use md5::{Digest, Md5};

    fn sample(len: usize) -> Vec<u8> {
        ferrota_test_support::sample(len, 7)
    }

    fn inflate_full(stream: &[u8], len: usize) -> Vec<u8> {
        let mut d = Decompress::new(false);
        let mut out = Vec::with_capacity(len + 16);
        d.decompress_vec(stream, &mut out, FlushDecompress::Finish).unwrap();
        out
    }

    /// Inflating through the device's own 4 KiB ring proves no distance exceeds the window.
    fn inflate_ring(stream: &[u8]) -> Vec<u8> {
        let mut inflater = ferrota_ota::deflate::Inflater::new();
        let mut out = Vec::new();
        for (i, piece) in stream.chunks(8192).enumerate() {
            let more = (i + 1) * 8192 < stream.len();
            inflater
                .feed(piece, more, &mut |run: &[u8]| {
                    out.extend_from_slice(run);
                    Ok(())
                })
                .unwrap();
        }
        assert!(inflater.is_done());
        out
    }

    #[test]
    fn only_images_that_shrink_are_compressed() {
        assert!(Image::new(sample(3 << 20)).worth_compressing(), "firmware-like");
        assert!(Image::new(vec![0; 100]).worth_compressing(), "tiny and repetitive");
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let random: Vec<u8> = (0..3 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        assert!(!Image::new(random).worth_compressing(), "random");
    }

    #[test]
    fn deflate_round_trips_through_the_device_ring() {
        for len in [1, 4095, 4097, 100_000, 3 * MIN_SEGMENT + 12345] {
            let data = sample(len);
            let stream = deflate_4k(&data).unwrap();
            assert!(stream.len() < data.len() || len < 5000, "{len}: {}", stream.len());
            assert_eq!(inflate_full(&stream, len), data, "{len}");
            assert_eq!(inflate_ring(&stream), data, "{len}");
        }
    }

    #[test]
    fn deflate_of_repeats_far_apart_stays_in_window() {
        // A block repeated 6 KiB later: a 32 KiB window would reference it, 4 KiB must not.
        let block = sample(2048);
        let mut data = block.clone();
        data.extend(std::iter::repeat_n(0u8, 6000).chain(block.iter().copied()));
        data.extend(sample(2 * MIN_SEGMENT));
        let stream = deflate_4k(&data).unwrap();
        assert_eq!(inflate_ring(&stream), data);
    }

    #[test]
    fn a_compressor_error_is_an_error_not_a_short_stream() {
        // A finished stream refuses a sync flush: the error must come out, not the bytes so far.
        let mut c = Compress::new_with_window_bits(Compression::new(LEVEL), false, DEFLATE_WINDOW_BITS);
        compress_all(&mut c, b"first", true).unwrap();
        assert!(compress_all(&mut c, &sample(10_000), false).is_err());
    }

    #[test]
    fn gzip_is_a_gzip_container_of_the_image() {
        let image = Image::new(sample(50_000));
        let (gz, md5) = image.gzip();
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        assert_eq!(md5, hex(&Md5::digest(gz)));
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut out).unwrap();
        assert_eq!(out, image.bytes());
    }

    #[test]
    fn md5_is_lowercase_hex() {
        let image = Image::new(b"Hello world, ferrota!".to_vec());
        assert_eq!(image.md5_hex(), hex(&Md5::digest(image.bytes())));
        assert_eq!(image.md5_hex().len(), 32);
        assert_eq!(image.md5_hex(), image.md5_hex().to_lowercase());
        assert_eq!(Image::new(b"abc".to_vec()).md5_hex(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(hex(&[0x00, 0xAB, 0x7F]), "00ab7f");
    }
}
