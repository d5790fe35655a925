//! Properties of delta updates' applier (`docs/ota-extensions.md`), as CI runs them every time
//! (the fuzz target `delta_apply` goes deeper): whatever the record stream, no read leaves the
//! running image and no more than the announced image is written; a patch fed in any split
//! rebuilds the image, and a patch with a byte changed never commits another image.

mod common;

use common::*;
use ferrota_ota::delta::{Applier, ImageId, PatchIo};
use ferrota_ota::{OtaComponent, OtaConfig, OtaError, ProtocolVersion};
use proptest::prelude::*;

/// A base that panics on a read outside it, and counts what is written.
struct Bounded<'a> {
    base: &'a [u8],
    written: usize,
    limit: usize,
}

impl PatchIo for Bounded<'_> {
    fn read_base(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), OtaError> {
        let at = offset as usize;
        buf.copy_from_slice(self.base.get(at..at + buf.len()).expect("a read outside the running image"));
        Ok(())
    }
    fn write(&mut self, data: &[u8]) -> Result<(), OtaError> {
        self.written += data.len();
        assert!(self.written <= self.limit, "more than the announced image");
        Ok(())
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The image after `edits` (at, removed, inserted bytes) to `base`, as a rebuild moves things.
fn edited(base: &[u8], edits: &[(usize, usize, Vec<u8>)]) -> Vec<u8> {
    let mut new = base.to_vec();
    for (at, removed, inserted) in edits {
        let at = at % (new.len() + 1);
        let end = (at + removed).min(new.len());
        new.splice(at..end, inserted.iter().copied());
    }
    new
}

/// A delta client's bytes (features 0x84) sending `patch` for `new`, with the final ack.
fn patch_script(patch: &[u8], new: &[u8]) -> Vec<u8> {
    let mut s = vec![0x6C, 0x26, 0xF7, 0x5C, 0x45, 0x84, 0x80];
    s.extend((patch.len() as u32).to_be_bytes());
    s.extend((new.len() as u32).to_be_bytes());
    s.extend(md5_hex(new).as_bytes());
    s.extend(patch);
    s.push(0x00);
    s
}

/// What a device running `base` commits from `pieces` of a client's bytes.
fn device_commits(base: &[u8], pieces: &[&[u8]]) -> (Option<Result<(), OtaError>>, Option<Vec<u8>>) {
    let ota = OtaComponent::new(OtaConfig { port: 1, version: ProtocolVersion::V2, deflate: true });
    let mut s = ota.start_session(MemFlash { running: base.to_vec(), ..MemFlash::default() }, &mut ZeroRng, 0);
    for piece in pieces {
        s.handle_input(0, piece);
        drain(&mut s);
    }
    s.handle_close();
    (s.outcome(), s.flash().committed.clone())
}

fn edits() -> impl Strategy<Value = Vec<(usize, usize, Vec<u8>)>> {
    prop::collection::vec((any::<usize>(), 0usize..64, prop::collection::vec(any::<u8>(), 0..64)), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_record_stream_stays_inside_the_base_and_the_announced_length(
        base in prop::collection::vec(any::<u8>(), 0..300),
        records in prop::collection::vec((any::<bool>(), -2i64..=2, any::<bool>(), 0u64..40, 0u8..3, -2i64..=2), 0..8),
        new_len_off in -2i64..=2,
        noise in prop::collection::vec(any::<u8>(), 0..40),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        // Records aimed at the edges: adds up to the base's end give or take two bytes, seeks
        // to around its start or its end, an announced length around what they make; then
        // bytes that may be anything. Out-of-bounds attempts are the common case, not luck.
        let base_len = base.len() as i64;
        let (mut stream, mut cursor, mut made) = (Vec::new(), 0i64, 0i64);
        for (to_end, d, same, copy, seek_to, e) in records {
            let add = if to_end { (base_len - cursor + d).max(0) } else { d.abs() * 7 };
            let after = cursor + add;
            let seek = match seek_to {
                0 => -after + e,
                1 => base_len - after + e,
                _ => e * 5,
            };
            varint(&mut stream, (add as u64) << 1 | u64::from(same));
            varint(&mut stream, copy);
            varint(&mut stream, ((seek << 1) ^ (seek >> 63)) as u64);
            if !same {
                stream.extend((0..add).map(|i| i as u8));
            }
            stream.extend((0..copy).map(|i| i as u8));
            cursor = after + seek;
            made += add + copy as i64;
        }
        stream.extend(noise);
        let new_len = (made + new_len_off).max(0) as u32;
        let patch = patch_with(&base, new_len as usize, &stream);
        let mut applier = Applier::new(ImageId::of(&base), new_len);
        let mut io = Bounded { base: &base, written: 0, limit: new_len as usize };
        let pieces = split(&patch, &cuts);
        let mut result = Ok(());
        for (i, piece) in pieces.iter().enumerate() {
            result = applier.feed(piece, i + 1 < pieces.len(), &mut io);
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() && applier.is_done() {
            prop_assert_eq!(io.written, new_len as usize);
        }
    }

    #[test]
    fn a_patch_in_any_split_rebuilds_the_image_and_a_changed_byte_commits_no_other(
        seed in any::<u32>(),
        len in 1usize..20_000,
        edits in edits(),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
        flip_at in any::<usize>(),
        flip in 1u8..=255,
    ) {
        let base = sample(len, seed);
        let new = edited(&base, &edits);
        prop_assume!(!new.is_empty());
        let patch = simple_patch(&base, &new);
        let script = patch_script(&patch, &new);
        let (outcome, committed) = device_commits(&base, &split(&script, &cuts));
        prop_assert_eq!(outcome, Some(Ok(())));
        prop_assert_eq!(committed.as_deref(), Some(&new[..]));
        // One byte of the patch changed: refused, or (a change that cancels out) the same image.
        let mut bad = patch.clone();
        let at = flip_at % bad.len();
        bad[at] ^= flip;
        let (outcome, committed) = device_commits(&base, &split(&patch_script(&bad, &new), &cuts));
        match committed {
            Some(image) => prop_assert_eq!(image, new),
            None => prop_assert!(matches!(outcome, Some(Err(_))), "{:?}", outcome),
        }
    }
}
