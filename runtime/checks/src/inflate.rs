//! The device's streaming inflater (`ferrota_ota::deflate`): 4 KiB window, any piece size.

use crate::support::{deflated, sample};
use alloc::vec::Vec;
use ferrota_ota::deflate::Inflater;
use ferrota_ota::OtaError;

fn inflate_in_pieces(stream: &[u8], piece: usize) -> Result<Vec<u8>, OtaError> {
    let mut inflater = Inflater::new();
    let mut out = Vec::new();
    let mut fed = 0;
    for part in stream.chunks(piece.max(1)) {
        fed += part.len();
        inflater.feed(part, fed < stream.len(), &mut |run| {
            out.extend_from_slice(run);
            Ok(())
        })?;
    }
    Ok(out)
}


checks! {
    fn inflates_across_many_windows_in_any_piece_size() {
        let data = sample(100_000, 12345);
        let stream = deflated(100_000, 12345);
        assert!(stream.len() < data.len());
        for piece in [1, 7, 4096, 8192, stream.len()] {
            assert_eq!(inflate_in_pieces(stream, piece).unwrap(), data, "piece {piece}");
        }
    }

    fn truncated_and_trailing_streams_fail() {
        let stream = deflated(10_000, 12345);
        assert_eq!(inflate_in_pieces(&stream[..stream.len() - 3], 100), Err(OtaError::InvalidDeflateStream));
        let mut long = stream.to_vec();
        long.push(0);
        assert_eq!(inflate_in_pieces(&long, 100), Err(OtaError::InvalidDeflateStream));
        assert!(inflate_in_pieces(&[0xFF; 64], 10).is_err());
    }
}
