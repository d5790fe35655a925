//! Shared test doubles: ferrota-ota-checks' (an in-memory flash, a repeatable RNG, hex
//! transcripts), plus what needs std (a deflater, host device helpers).
#![allow(dead_code, unused_imports)]

pub mod host;


pub use ferrota_ota_checks::support::*;


/// A raw deflate stream with a 4 KiB window, as ESPHome 2026.10 sends it.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut c = Compress::new_with_window_bits(Compression::new(9), false, 12);
    let mut out = Vec::with_capacity(data.len() + 1024);
    c.compress_vec(data, &mut out, FlushCompress::Finish).unwrap();
    out
}


/// `bytes` cut into reads at the `cuts` (taken modulo its length, in order; empty reads too).
pub fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut at = 0;
    for c in cuts.into_iter().chain([bytes.len()]) {
        pieces.push(&bytes[at..c]);
        at = c;
    }
    pieces
}
