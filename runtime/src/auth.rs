//! SHA-256 challenge/response (spec §1.4): the device's nonce and the check of the reply.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::hex;

/// Length of a SHA-256 nonce, cnonce or response in hex characters.
pub const SHA256_HEX_LEN: usize = 64;

/// Randomness for nonces, injected so the core needs no OS and tests are repeatable.
pub trait Rng {
    /// Fills `buf` with unpredictable bytes.
    fn fill_bytes(&mut self, buf: &mut [u8]);
}

impl<R: Rng + ?Sized> Rng for &mut R {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        (**self).fill_bytes(buf)
    }
}

/// A device nonce as ESPHome 2025.10+ makes it: the SHA-256 hex of 8 random bytes.
///
/// Hashing keeps the nonce ASCII hex, so its first byte is never mistaken for an error code.
pub fn make_nonce(rng: &mut impl Rng) -> [u8; SHA256_HEX_LEN] {
    let mut seed = [0u8; 8];
    rng.fill_bytes(&mut seed);
    let mut nonce = [0u8; SHA256_HEX_LEN];
    hex::encode_into(&Sha256::digest(seed), &mut nonce);
    nonce
}

/// The expected response digest: SHA-256(password ‖ nonce ‖ cnonce).
pub fn expected_response(password: &[u8], nonce: &[u8], cnonce: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(password);
    hasher.update(nonce);
    hasher.update(cnonce);
    hasher.finalize().into()
}

/// Checks the client's hex `response` (either case) in constant time.
pub fn verify(password: &[u8], nonce: &[u8], cnonce: &[u8], response: &[u8]) -> bool {
    let expected = expected_response(password, nonce, cnonce);
    let mut got = [0u8; 32];
    let parsed = hex::decode_into(response, &mut got);
    bool::from(expected.ct_eq(&got)) & parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const CNONCE: &[u8] = b"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

    #[test]
    fn spec_vectors() {
        let pw = b"superlongpasswordthatnoonewillknow";
        let ok = b"57c0a54f2a7d5cda8764f336155413c265e1973268c8928fb14a2d8405dcf1aa";
        assert!(verify(pw, NONCE, CNONCE, ok));
        assert!(verify(pw, NONCE, CNONCE, &ok.to_ascii_uppercase()));
        let empty = b"6d4fff3af2a78b85c721c6b8ae395eb25026b56d13abebe2cdab1d56e84b2180";
        assert!(verify(b"", NONCE, CNONCE, empty));
        assert!(!verify(b"x", NONCE, CNONCE, ok));
        let mut bad = *ok;
        bad[63] = b'g';
        assert!(!verify(pw, NONCE, CNONCE, &bad));
    }
}
