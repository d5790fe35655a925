//! `NorImageWriter` against a NOR flash model that enforces NOR's rules: writes aligned to
//! `WRITE_SIZE` and only into erased bytes, erases aligned to whole sectors.

use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};
use ferrota_ota::nor::NorImageWriter;
use ferrota_ota::FlashError;
use proptest::prelude::*;

const SECTOR: usize = 4096;
const CAPACITY: usize = 16 * SECTOR;

#[derive(Debug)]
struct Misuse;

impl NorFlashError for Misuse {
    fn kind(&self) -> NorFlashErrorKind {
        NorFlashErrorKind::Other
    }
}

/// NOR flash of `CAP` bytes in memory, starting with old content (not erased), counting erased
/// sectors.
struct Nor<const W: usize, const CAP: usize = CAPACITY> {
    bytes: Vec<u8>,
    erases: usize,
}

impl<const W: usize, const CAP: usize> Nor<W, CAP> {
    fn with_old_content() -> Self {
        Nor { bytes: (0..CAP).map(|i| (i * 7 % 251) as u8).collect(), erases: 0 }
    }
}

impl<const W: usize, const CAP: usize> ErrorType for Nor<W, CAP> {
    type Error = Misuse;
}

impl<const W: usize, const CAP: usize> ReadNorFlash for Nor<W, CAP> {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Misuse> {
        let at = offset as usize;
        bytes.copy_from_slice(&self.bytes[at..at + bytes.len()]);
        Ok(())
    }
    fn capacity(&self) -> usize {
        CAP
    }
}

impl<const W: usize, const CAP: usize> NorFlash for Nor<W, CAP> {
    const WRITE_SIZE: usize = W;
    const ERASE_SIZE: usize = SECTOR;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), Misuse> {
        let (from, to) = (from as usize, to as usize);
        assert!(from % SECTOR == 0 && to % SECTOR == 0 && from <= to && to <= CAP, "erase {from}..{to}");
        self.bytes[from..to].fill(0xFF);
        self.erases += (to - from) / SECTOR;
        Ok(())
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Misuse> {
        let at = offset as usize;
        assert!(at % W == 0 && bytes.len() % W == 0, "unaligned write of {} at {at}", bytes.len());
        let target = &mut self.bytes[at..at + bytes.len()];
        assert!(target.iter().all(|&b| b == 0xFF), "write at {at} into bytes that were not erased");
        target.copy_from_slice(bytes);
        Ok(())
    }
}

fn image(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Writes `image` in pieces cut at `cuts`; returns the flash's first bytes and the length.
fn write_image<const W: usize>(writer: &mut NorImageWriter<Nor<W>>, image: &[u8], cuts: &[usize]) -> Result<u32, FlashError> {
    writer.begin(image.len() as u32).unwrap();
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (image.len() + 1)).collect();
    at.sort_unstable();
    let mut prev = 0;
    for c in at.into_iter().chain([image.len()]) {
        writer.write(&image[prev..c]).unwrap();
        prev = c;
    }
    writer.finish()
}

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

#[test]
fn an_image_larger_than_the_region_is_refused() {
    let mut writer = NorImageWriter::new(Nor::<1>::with_old_content());
    assert_eq!(writer.begin(CAPACITY as u32 + 1), Err(FlashError::NotEnoughSpace));
    writer.begin(10).unwrap();
    writer.write(&image(CAPACITY, 0)).unwrap();
    assert_eq!(writer.write(&[0]), Err(FlashError::NotEnoughSpace));
}

mod boot_counter {
    use super::*;
    use ferrota_ota::nor::NorBootCounter;
    use ferrota_ota::safe_mode::BootCounterStore;

    /// One 4 KiB sector, as the chips use.
    type Sector<const W: usize> = Nor<W, SECTOR>;

    fn sector<const W: usize>(content: &[u8]) -> Sector<W> {
        let mut nor = Sector::<W>::with_old_content();
        nor.bytes.fill(0xFF);
        nor.bytes[..content.len()].copy_from_slice(content);
        nor
    }

    #[test]
    fn saves_append_and_only_a_full_sector_is_erased() {
        let mut counter = NorBootCounter::new(sector::<4>(&[]));
        assert_eq!(counter.load(), 0);
        for value in 1..=1000u32 {
            counter.save(value);
            assert_eq!(counter.load(), value);
        }
        // 12-byte records after the first (kept erased): 340 per sector, so 1000 saves erase
        // it twice.
        assert_eq!(counter.flash().erases, 2);
        // Word 0 stays erased, so an older build reading a bare counter word there reads 0.
        assert_eq!(&counter.flash().bytes[..4], &[0xFF; 4]);
    }

    #[test]
    fn another_firmwares_data_reads_as_zero_and_is_replaced() {
        // ESPHome's NVS page header (page state ACTIVE) where our counter goes.
        let mut counter = NorBootCounter::new(sector::<4>(&[0xFE, 0xFF, 0xFF, 0xFF, 0x01, 0, 0, 0]));
        assert_eq!(counter.load(), 0);
        counter.save(1);
        assert_eq!(counter.load(), 1);
    }

    #[test]
    fn a_torn_record_leaves_the_value_before_it() {
        let mut counter = NorBootCounter::new(sector::<1>(&[]));
        counter.save(3);
        counter.save(4);
        // Power cut while writing the third record: tag and value written, complement not.
        let torn = [0x46, 0x4F, 0x54, 0x41, 9, 0, 0, 0];
        counter.flash().bytes[36..44].copy_from_slice(&torn);
        assert_eq!(counter.load(), 4);
        counter.save(5);
        assert_eq!(counter.load(), 5);
    }
}
