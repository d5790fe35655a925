//! Lowercase ASCII hex, the way hashes travel on the wire.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lowercase hex into `out`, which must be twice as long.
pub fn encode_into(bytes: &[u8], out: &mut [u8]) {
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0F)];
    }
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
        encode_into(&[0x00, 0xAB, 0x7F], &mut hex);
        assert_eq!(&hex, b"00ab7f");
        let mut back = [0u8; 3];
        assert!(decode_into(b"00AB7f", &mut back));
        assert_eq!(back, [0x00, 0xAB, 0x7F]);
        assert!(!decode_into(b"00ag7f", &mut back));
        assert!(!decode_into(b"00ab7", &mut back));
    }
}
