//! A flat image's own length, for a device that hashes the build it runs but can't tell where
//! that build ends (the Pico W's flat binary sits at the start of its region, followed by
//! whatever the flash held before). The firmware keeps a [`SLOT`] in its read-only data;
//! `ferrota compile` finds it in the built image and writes the image's length into it, so
//! the device can hash exactly the bytes of the file that was sent.

/// What the slot starts with, so the compiler can find it.
pub const MARKER: [u8; 12] = *b"FERROTA-LEN:";

/// The slot as the firmware declares it: the marker, then the length (little-endian u32, 0
/// until `ferrota compile` fills it in).
pub const SLOT: [u8; 16] = *b"FERROTA-LEN:\0\0\0\0";

/// Writes `image`'s length into its slots (a build holds one; a copy the linker made is
/// filled too); false when it has none.
pub fn fill(image: &mut [u8]) -> bool {
    let len = (image.len() as u32).to_le_bytes();
    let mut found = false;
    let mut at = 0;
    while let Some(i) = image[at..].windows(SLOT.len()).position(|w| w == SLOT) {
        let start = at + i + MARKER.len();
        image[start..start + 4].copy_from_slice(&len);
        found = true;
        at = start + 4;
    }
    found
}

/// The length a filled slot holds (`None` for an empty one: a build not made by `ferrota
/// compile`). The firmware reads its slot with `read_volatile`, so the placeholder is never
/// folded into the code; the marker is not compared here, so that it is in the firmware once.
pub fn read(slot: &[u8; 16]) -> Option<u32> {
    let len = u32::from_le_bytes([slot[12], slot[13], slot[14], slot[15]]);
    (len > 0).then_some(len)
}

/// The delta-update id (SHA-256 and length) of the first `len` bytes of a region, read in
/// pieces through `read(offset, buf)` (false: the read failed).
pub fn id_of(len: u32, read: impl FnMut(u32, &mut [u8]) -> bool) -> Option<crate::delta::ImageId> {
    Some(crate::delta::ImageId { sha256: digest_of::<sha2::Sha256>(len, read)?.into(), len })
}

/// The MD5 of the first `len` bytes of a region, read the same way.
pub fn md5_of(len: u32, read: impl FnMut(u32, &mut [u8]) -> bool) -> Option<[u8; 16]> {
    Some(digest_of::<md5::Md5>(len, read)?.into())
}

/// A hash of the first `len` bytes of a region, read in 512-byte pieces.
fn digest_of<D: md5::Digest>(len: u32, mut read: impl FnMut(u32, &mut [u8]) -> bool) -> Option<md5::digest::Output<D>> {
    let mut hash = D::new();
    let mut buf = [0u8; 512];
    let mut at = 0;
    while at < len {
        let n = buf.len().min((len - at) as usize);
        if !read(at, &mut buf[..n]) {
            return None;
        }
        hash.update(&buf[..n]);
        at += n as u32;
    }
    Some(hash.finalize())
}
