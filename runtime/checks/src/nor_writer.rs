//! `NorImageWriter` against the NOR model (`nor_model`): an update cut by a power loss at any
//! flash operation is written whole the next time; an image too large is refused.

use crate::nor_model::{Cut, Nor, Torn, CAPACITY, SECTOR};
use alloc::vec::Vec;
use ferrota_ota::nor::NorImageWriter;
use ferrota_ota::FlashError;

/// `len` bytes of an image, the same for the same `seed`.
pub fn image(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Writes `image` in pieces cut at `cuts`; the length, or the first failure.
pub fn write_image<const W: usize>(writer: &mut NorImageWriter<Nor<W>>, image: &[u8], cuts: &[usize]) -> Result<u32, FlashError> {
    writer.begin(image.len() as u32)?;
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (image.len() + 1)).collect();
    at.sort_unstable();
    let mut prev = 0;
    for c in at.into_iter().chain([image.len()]) {
        writer.write(&image[prev..c])?;
        prev = c;
    }
    writer.finish()
}



checks! {
    /// MCUboot-style: an update over old content with power lost before each flash operation in
    /// turn (whole or torn); after the reboot the same update, started again, writes the exact
    /// image (the model refuses any write into bytes that were not erased first).
    fn an_update_cut_at_any_flash_operation_is_written_whole_the_next_time() {
        fn run<const W: usize>() {
            let image = image(2 * SECTOR + 300, 7);
            let pieces = [1000, 1, 3000, 1500];
            let mut clean = NorImageWriter::new(Nor::<W>::with_old_content());
            write_image(&mut clean, &image, &pieces).unwrap();
            let ops = clean.flash().ops;
            for at in 0..ops {
                for torn in [Torn::No, Torn::FirstHalf, Torn::SecondHalf] {
                    let mut flash = Nor::<W>::with_old_content();
                    flash.cut = Some(Cut { at, torn });
                    let mut writer = NorImageWriter::new(flash);
                    let _ = write_image(&mut writer, &image, &pieces);
                    let mut again = NorImageWriter::new(writer.flash().rebooted());
                    assert_eq!(write_image(&mut again, &image, &pieces), Ok(image.len() as u32), "W={W} cut at {at} {torn:?}");
                    assert_eq!(&again.flash().bytes[..image.len()], &image[..], "W={W} cut at {at} {torn:?}");
                }
            }
        }
        run::<4>();
        run::<32>();
    }

    fn an_image_larger_than_the_region_is_refused() {
        let mut writer = NorImageWriter::new(Nor::<1>::with_old_content());
        assert_eq!(writer.begin(CAPACITY as u32 + 1), Err(FlashError::NotEnoughSpace));
        writer.begin(10).unwrap();
        writer.write(&image(CAPACITY, 0)).unwrap();
        assert_eq!(writer.write(&[0]), Err(FlashError::NotEnoughSpace));
    }

    /// A window of a flash (a partition) refuses every access outside it, a reversed erase
    /// included, and an empty one (an ESP32 without `nvs`) leaves the boot counter at 0.
    fn a_region_refuses_what_is_outside_it() {
        use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
        use ferrota_ota::nor::{NorBootCounter, Region};
        use ferrota_ota::safe_mode::BootCounterStore;
        let mut region = Region::new(Nor::<4>::with_old_content(), SECTOR as u32, 2 * SECTOR as u32);
        let mut word = [0u8; 4];
        assert!(region.read(2 * SECTOR as u32 - 4, &mut word).is_ok());
        assert!(region.read(2 * SECTOR as u32 - 3, &mut word).is_err(), "past the end");
        assert!(region.erase(SECTOR as u32, 0).is_err(), "a reversed erase");
        assert!(region.erase(0, 3 * SECTOR as u32).is_err(), "past the end");
        assert!(region.write(u32::MAX - 1, &word).is_err(), "an offset that overflows");
        region.erase(0, SECTOR as u32).unwrap();
        let mut counter = NorBootCounter::new(Region::new(Nor::<4>::with_old_content(), 0, 0));
        assert_eq!(counter.load(), 0);
        counter.save(3);
        assert_eq!(counter.load(), 0, "nothing to keep it in");
    }
}
