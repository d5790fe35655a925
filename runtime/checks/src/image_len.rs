//! A flat image's own length (`ferrota_ota::image_len`): the compiler fills the slot the
//! firmware declares, and the device hashes exactly the file that was sent, not the old bytes
//! after it in its region.

use crate::support::md5_hex;
use crate::support::to_hex;
use alloc::vec::Vec;
use ferrota_ota::image_len::{fill, md5_of, read, SLOT};

checks! {
    fn the_compiler_fills_the_slot_and_the_device_hashes_up_to_it() {
        let mut image: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
        image[1000..1016].copy_from_slice(&SLOT);
        assert_eq!(read(&SLOT), None, "an empty slot: a build ferrota compile did not make");
        assert!(fill(&mut image));
        let slot: [u8; 16] = image[1000..1016].try_into().unwrap();
        assert_eq!(read(&slot), Some(3000));

        // The region: the image, then what an older, longer build left there.
        let mut region = image.clone();
        region.extend((0..5000u32).map(|i| (i % 13) as u8));
        let md5 = md5_of(3000, |at, buf| {
            buf.copy_from_slice(&region[at as usize..at as usize + buf.len()]);
            true
        });
        assert_eq!(md5.map(|m| to_hex(&m)), Some(md5_hex(&image)));
        assert_eq!(md5_of(3000, |_, _| false), None, "a failed read names nothing");
    }

    fn an_image_without_a_slot_is_left_alone() {
        let mut image = alloc::vec![0u8; 100];
        assert!(!fill(&mut image));
        assert!(image.iter().all(|b| *b == 0));
    }
}
