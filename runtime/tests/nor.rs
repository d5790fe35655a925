//! `NorImageWriter` in any split, over the NOR model of ferrota-ota-checks (property tests need
//! std; the power-cut checks live in ferrota-ota-checks and run on the chips too).

use ferrota_ota::nor::NorImageWriter;
use ferrota_ota::FlashError;
use ferrota_ota_checks::nor_model::{Nor, SECTOR};
use ferrota_ota_checks::nor_writer::{image, write_image};
use proptest::prelude::*;

fn check<const W: usize>(image: &[u8], cuts: &[usize]) {
    let mut writer = NorImageWriter::new(Nor::<W>::with_old_content());
    if image.is_empty() {
        // Nothing written: the region still holds its old content, which must not be taken.
        assert_eq!(write_image(&mut writer, image, cuts), Err(FlashError::UpdateEnd));
        return;
    }
    assert_eq!(write_image(&mut writer, image, cuts), Ok(image.len() as u32));
    let flash = writer.flash();
    assert_eq!(&flash.bytes[..image.len()], image);
    // The tail of the last write unit is padded with erased bytes.
    let padded = image.len().next_multiple_of(W);
    assert!(flash.bytes[image.len()..padded].iter().all(|&b| b == 0xFF));
    // Only the sectors the image reaches are erased.
    assert_eq!(flash.erases, image.len().div_ceil(SECTOR));
}

proptest! {
    #[test]
    fn any_split_writes_the_image(len in 0usize..3 * SECTOR + 100, seed in any::<u8>(), cuts in prop::collection::vec(any::<usize>(), 0..30)) {
        let image = image(len, seed);
        check::<1>(&image, &cuts);
        check::<4>(&image, &cuts);
        check::<32>(&image, &cuts);
    }

    #[test]
    fn an_update_after_an_aborted_one_erases_again(stopped_at in 0usize..2 * SECTOR, cuts in prop::collection::vec(any::<usize>(), 0..10)) {
        let mut writer = NorImageWriter::new(Nor::<4>::with_old_content());
        let first = image(2 * SECTOR, 1);
        writer.begin(first.len() as u32).unwrap();
        writer.write(&first[..stopped_at]).unwrap();
        // Aborted: the next image starts over in the sectors the first one already erased.
        let second = image(3 * SECTOR - 5, 2);
        write_image(&mut writer, &second, &cuts).unwrap();
        prop_assert_eq!(&writer.flash().bytes[..second.len()], &second[..]);
    }
}

