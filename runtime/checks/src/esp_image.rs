//! The ESP-IDF app image check (`EspImageCheck`) the ESP32 runs on an upload before it may
//! boot: chip id, segments, XOR checksum and appended SHA-256, fed in pieces of any size.

use crate::support::esp_image;
use ferrota_ota::esp_image::*;

fn check(bytes: &[u8], chip: u16, piece: usize) -> Result<(), ImageError> {
    let mut c = EspImageCheck::new(chip);
    for chunk in bytes.chunks(piece.max(1)) {
        c.update(chunk);
    }
    c.finish()
}

checks! {
    fn a_good_image_passes_in_pieces_of_any_size() {
        for hash in [false, true] {
            let img = esp_image(5, &[64, 0, 1028, 4], hash);
            for piece in [1, 3, 16, 4096] {
                assert_eq!(check(&img, 5, piece), Ok(()), "hash={hash} piece={piece}");
            }
        }
    }

    fn every_kind_of_bad_image_is_refused() {
        let good = esp_image(5, &[64, 128], true);
        assert_eq!(check(&good, 13, 7), Err(ImageError::Chip { expected: 13, found: 5 }));
        let mut magic = good.clone();
        magic[0] = 0x7F;
        assert_eq!(check(&magic, 5, 7), Err(ImageError::Magic(0x7F)));
        assert_eq!(check(&good[..good.len() - 1], 5, 7), Err(ImageError::Truncated));
        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(check(&longer, 5, 7), Err(ImageError::TrailingData));
        // A flipped bit in a segment: the checksum catches it.
        let mut flipped = good.clone();
        flipped[24 + 8 + 10] ^= 0x01;
        assert!(matches!(check(&flipped, 5, 7), Err(ImageError::Checksum { .. })));
        // Two flips that cancel in the XOR: the hash still catches them.
        let mut twice = good.clone();
        twice[24 + 8 + 10] ^= 0x01;
        twice[24 + 8 + 11] ^= 0x01;
        assert_eq!(check(&twice, 5, 7), Err(ImageError::Hash));
        let odd = esp_image(5, &[6], false);
        assert_eq!(check(&odd, 5, 7), Err(ImageError::SegmentLength { index: 0, len: 6 }));
        let mut none = good.clone();
        none[1] = 0;
        assert_eq!(check(&none, 5, 7), Err(ImageError::SegmentCount(0)));
        assert_eq!(check(&[], 5, 7), Err(ImageError::Truncated));
    }

    fn an_unknown_chip_refuses_every_esp_image() {
        let img = esp_image(5, &[64], true);
        assert_eq!(check(&img, 5, 16), Ok(()));
        let mut c = EspImageCheck::for_chip("esp32c3");
        c.update(&img);
        assert_eq!(c.finish(), Ok(()));
        let mut c = EspImageCheck::for_chip("esp8266");
        c.update(&img);
        assert_eq!(c.finish(), Err(ImageError::Chip { expected: u16::MAX, found: 5 }));
    }

    fn chip_names_map_to_esp_idf_ids() {
        assert_eq!(chip_id("esp32c3"), Some(5));
        assert_eq!(chip_id("esp32c6"), Some(13));
        assert_eq!(chip_id("esp32"), Some(0));
        assert_eq!(chip_id("rp2040"), None);
    }
}
