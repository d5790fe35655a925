//! Lowercase ASCII hex, the way hashes travel on the wire.
//!
//! Public so the client (`ferrota upload`) encodes with the same code as the device; no
//! allocation, so the device stays `no_std`.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lowercase hex into `out` and returns the hex written. `out` should be
/// twice as long as `bytes`; when it is shorter, only the bytes that fit are encoded.
pub fn encode_into<'a>(bytes: &[u8], out: &'a mut [u8]) -> &'a str {
    let mut len = 0;
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0F)];
        len += 2;
    }
    // Only ASCII digits were written, so this never falls back to "".
    core::str::from_utf8(&out[..len]).unwrap_or_default()
}

/// Parses hex of either case into `out` (half as long); `false` on any non-hex digit.
pub fn decode_into(hex: &[u8], out: &mut [u8]) -> bool {
    if hex.len() != out.len() * 2 {
        return false;
    }
    let mut ok = true;
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (hi, lo) = (nibble(pair[0]), nibble(pair[1]));
        ok &= hi.is_some() && lo.is_some();
        *byte = (hi.unwrap_or(0) << 4) | lo.unwrap_or(0);
    }
    ok
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut hex = [0u8; 6];
        assert_eq!(encode_into(&[0x00, 0xAB, 0x7F], &mut hex), "00ab7f");
        assert_eq!(&hex, b"00ab7f");
        let mut short = [0u8; 3];
        assert_eq!(encode_into(&[0x00, 0xAB], &mut short), "00");
        let mut back = [0u8; 3];
        assert!(decode_into(b"00AB7f", &mut back));
        assert_eq!(back, [0x00, 0xAB, 0x7F]);
        assert!(!decode_into(b"00ag7f", &mut back));
        assert!(!decode_into(b"00ab7", &mut back));
    }
}
