//! Making the patches of ferrota's delta updates (`docs/ota-extensions.md`): bidiff finds the
//! bsdiff-style matches between the running build and the new one; they are written as the
//! device's record stream, deflated through the 4 KiB window the device inflates with.

use ferrota_ota::delta::{Applier, Header, ImageId, PatchIo};
use ferrota_ota::OtaError;

use super::image::deflate_4k;

/// The patch that turns `base` into `new`, checked by applying it with the device's own applier;
/// `None` when there is nothing to diff against, the images are too large for the format, or
/// the check fails (then the whole image goes instead).
pub fn make_patch(base: &[u8], new: &[u8]) -> Option<Vec<u8>> {
    if base.is_empty() || new.is_empty() {
        return None;
    }
    let base_id = ImageId::of(base);
    let new_len = u32::try_from(new.len()).ok()?;
    u32::try_from(base.len()).ok()?;
    // bidiff asserts on inputs it did not foresee: a panic there means no patch, not no upload.
    let records = std::panic::catch_unwind(|| records(base, new)).ok()??;
    let mut patch = Header { base: base_id, new_len }.emit().to_vec();
    patch.extend(deflate_4k(&records).ok()?);
    (apply(base, &patch, new_len).as_deref() == Ok(new)).then_some(patch)
}

/// The inflated record stream (`docs/ota-extensions.md`) of bidiff's matches.
fn records(base: &[u8], new: &[u8]) -> Option<Vec<u8>> {
    let mut records = Vec::with_capacity(new.len() / 8);
    let mut translator = bidiff::Translator::new(base, new, |control: &bidiff::Control| -> Result<(), std::io::Error> {
        // Runs of the base left as they are (zero differences) go as `same` records.
        let add = control.add;
        let (mut start, mut at) = (0, 0);
        while at < add.len() {
            let run = add[at..].iter().take_while(|&&b| b == 0).count();
            if run >= MIN_SAME {
                push_record(&mut records, &add[start..at], None, &[], 0);
                push_record(&mut records, &[], Some(run), &[], 0);
                start = at + run;
            }
            at += run.max(1);
        }
        push_record(&mut records, &add[start..], None, control.copy, control.seek);
        Ok(())
    });
    bidiff::diff(base, new, &bidiff::DiffParams::default(), |m| translator.translate(m)).ok()?;
    translator.close().ok()?;
    Some(records)
}

/// Applies `patch` to `base` the way a device does (tests, and `make_patch`'s own check).
pub fn apply(base: &[u8], patch: &[u8], new_len: u32) -> Result<Vec<u8>, OtaError> {
    struct Memory<'a> {
        base: &'a [u8],
        out: Vec<u8>,
    }
    impl PatchIo for Memory<'_> {
        fn read_base(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), OtaError> {
            let at = offset as usize;
            buf.copy_from_slice(self.base.get(at..at + buf.len()).ok_or(OtaError::InvalidPatch)?);
            Ok(())
        }
        fn write(&mut self, data: &[u8]) -> Result<(), OtaError> {
            self.out.extend_from_slice(data);
            Ok(())
        }
    }
    let mut applier = Applier::new(ImageId::of(base), new_len);
    let mut io = Memory { base, out: Vec::with_capacity(new_len as usize) };
    // In blocks, as they come off the wire.
    let blocks = patch.chunks(8192).count();
    for (i, block) in patch.chunks(8192).enumerate() {
        applier.feed(block, i + 1 < blocks, &mut io)?;
    }
    if !applier.is_done() {
        return Err(OtaError::InvalidPatch);
    }
    Ok(io.out)
}

/// The shortest run of unchanged base bytes worth a record of its own.
const MIN_SAME: usize = 32;

/// One record: `add` (or `same` unchanged bytes of the base), `copy`, then the cursor's `seek`.
/// An empty record (nothing added, copied or moved) is left out.
fn push_record(records: &mut Vec<u8>, add: &[u8], same: Option<usize>, copy: &[u8], seek: i64) {
    let (len, flag) = match same {
        Some(n) => (n, 1),
        None => (add.len(), 0),
    };
    if len == 0 && copy.is_empty() && seek == 0 {
        return;
    }
    write_varint(records, (len as u64) << 1 | flag);
    write_varint(records, copy.len() as u64);
    write_varint(records, ((seek << 1) ^ (seek >> 63)) as u64);
    records.extend_from_slice(add);
    records.extend_from_slice(copy);
}

/// LEB128: seven bits a byte, low first, the high bit set on all but the last.
fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize, seed: u32) -> Vec<u8> {
        ferrota_test_support::sample(len, seed)
    }

    #[test]
    fn a_small_change_makes_a_small_patch_that_rebuilds_the_image() {
        let base = sample(300_000, 1);
        let mut new = base.clone();
        // A string changed, and everything after it moved by 3 bytes.
        new.splice(120_000..120_005, b"Hello, world".iter().copied());
        new[250_000] ^= 0x55;
        let patch = make_patch(&base, &new).unwrap();
        assert!(patch.len() < 1_000, "{} bytes", patch.len());
        assert_eq!(apply(&base, &patch, new.len() as u32).unwrap(), new);
    }

    #[test]
    fn unrelated_images_still_round_trip() {
        let (base, new) = (sample(50_000, 1), sample(70_000, 2));
        let patch = make_patch(&base, &new).unwrap();
        assert_eq!(apply(&base, &patch, 70_000).unwrap(), new);
        assert_eq!(make_patch(&[], &new), None, "nothing to diff against");
        assert_eq!(make_patch(&base, &[]), None);
    }

    #[test]
    fn a_patch_for_another_base_or_length_is_refused() {
        let base = sample(20_000, 1);
        let mut new = base.clone();
        new[10] = 1;
        let patch = make_patch(&base, &new).unwrap();
        assert_eq!(apply(&sample(20_000, 3), &patch, 20_000), Err(OtaError::PatchBaseMismatch));
        assert_eq!(apply(&base, &patch, 19_999), Err(OtaError::InvalidPatch));
        assert_eq!(apply(&base, &patch[..patch.len() - 1], 20_000), Err(OtaError::InvalidPatch));
        let mut bad_magic = patch.clone();
        bad_magic[0] = b'X';
        assert_eq!(apply(&base, &bad_magic, 20_000), Err(OtaError::InvalidPatch));
    }

    #[test]
    fn varints() {
        let mut out = Vec::new();
        for v in [0u64, 127, 128, 300, u64::MAX] {
            write_varint(&mut out, v);
        }
        assert_eq!(out[..5], [0x00, 0x7F, 0x80, 0x01, 0xAC]);
        assert_eq!(out.len(), 1 + 1 + 2 + 2 + 10);
    }
}
