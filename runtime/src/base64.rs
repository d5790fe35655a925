//! Standard base64 decoding without allocation: HTTP Basic auth on the device, and key checks
//! in the compiler.

/// Standard base64 (padding optional) into `out`; `None` when invalid or too long.
pub fn decode_into(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let input = input.strip_suffix(b"==").or_else(|| input.strip_suffix(b"=")).unwrap_or(input);
    let (mut acc, mut bits, mut len) = (0u32, 0u32, 0usize);
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(len)? = (acc >> bits) as u8;
            len += 1;
            acc &= (1 << bits) - 1;
        }
    }
    (bits < 6).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_with_and_without_padding() {
        let mut out = [0u8; 8];
        assert_eq!(decode_into(b"YWJj", &mut out).map(|n| &out[..n]), Some(&b"abc"[..]));
        assert_eq!(decode_into(b"YWI=", &mut out).map(|n| &out[..n]), Some(&b"ab"[..]));
        assert_eq!(decode_into(b"YWI", &mut out).map(|n| &out[..n]), Some(&b"ab"[..]));
        assert_eq!(decode_into(b"YW=I", &mut out), None, "padding only at the end");
        assert_eq!(decode_into(b"YWJjZGVmZ2hp", &mut out), None, "longer than out");
    }
}
