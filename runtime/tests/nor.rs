//! `NorImageWriter` and `NorBootCounter` against a NOR flash model that enforces NOR's rules
//! (writes aligned to `WRITE_SIZE` and only into erased bytes, erases aligned to whole sectors)
//! and can lose power before any operation, optionally tearing the one under way (a word half
//! programmed, a sector half erased), as MCUboot's simulator does.

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
/// sectors and operations (a sector erased or a word written is one).
struct Nor<const W: usize, const CAP: usize = CAPACITY> {
    bytes: Vec<u8>,
    erases: usize,
    ops: usize,
    /// Power is lost before operation number `at` (counted from 0), maybe tearing it. Every
    /// operation after the cut fails, as nothing runs any more.
    cut: Option<Cut>,
}

#[derive(Clone, Copy, Debug)]
struct Cut {
    at: usize,
    torn: Torn,
}

/// How the operation under way when power is lost is left.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Torn {
    /// Not started.
    No,
    /// A write: half the word programmed. An erase: the sector's first half erased.
    FirstHalf,
    /// A write: as `FirstHalf`. An erase: the sector's second half erased (an erase need not
    /// proceed from the start), leaving the old content at the start.
    SecondHalf,
}

impl<const W: usize, const CAP: usize> Nor<W, CAP> {
    fn with_old_content() -> Self {
        Nor { bytes: (0..CAP).map(|i| (i * 7 % 251) as u8).collect(), erases: 0, ops: 0, cut: None }
    }

    /// The same flash after a reboot: its content, power back.
    fn rebooted(&self) -> Self {
        Nor { bytes: self.bytes.clone(), erases: 0, ops: 0, cut: None }
    }

    /// Counts an operation; `Some(how it is torn)` when power is lost at this one.
    fn power_lost(&mut self) -> Option<Torn> {
        let at = self.ops;
        self.ops += 1;
        self.cut.filter(|c| at >= c.at).map(|c| if at == c.at { c.torn } else { Torn::No })
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
        for sector in (from..to).step_by(SECTOR) {
            match self.power_lost() {
                None => {}
                Some(torn) => {
                    match torn {
                        Torn::No => {}
                        Torn::FirstHalf => self.bytes[sector..sector + SECTOR / 2].fill(0xFF),
                        Torn::SecondHalf => self.bytes[sector + SECTOR / 2..sector + SECTOR].fill(0xFF),
                    }
                    return Err(Misuse);
                }
            }
            self.bytes[sector..sector + SECTOR].fill(0xFF);
            self.erases += 1;
        }
        Ok(())
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Misuse> {
        let at = offset as usize;
        assert!(at % W == 0 && bytes.len() % W == 0, "unaligned write of {} at {at}", bytes.len());
        assert!(self.bytes[at..at + bytes.len()].iter().all(|&b| b == 0xFF), "write at {at} into bytes that were not erased");
        for (i, word) in bytes.chunks(W).enumerate() {
            let lost = self.power_lost();
            let target = &mut self.bytes[at + i * W..at + (i + 1) * W];
            match lost {
                None => target.copy_from_slice(word),
                Some(torn) => {
                    if torn != Torn::No {
                        // Half programmed: the first half of the word's bytes, and of a single
                        // byte only its low bits.
                        let half = W / 2;
                        target[..half].copy_from_slice(&word[..half]);
                        target[half] &= word[half] | 0xF0;
                    }
                    return Err(Misuse);
                }
            }
        }
        Ok(())
    }
}

fn image(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Writes `image` in pieces cut at `cuts`; the length, or the first failure.
fn write_image<const W: usize>(writer: &mut NorImageWriter<Nor<W>>, image: &[u8], cuts: &[usize]) -> Result<u32, FlashError> {
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

/// MCUboot-style: an update over old content with power lost before each flash operation in
/// turn (whole or torn); after the reboot the same update, started again, writes the exact
/// image (the model refuses any write into bytes that were not erased first).
#[test]
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

    /// A sector holding the records `1..=n` as the counter wrote them.
    fn with_records<const W: usize>(n: u32) -> Sector<W> {
        let mut counter = NorBootCounter::new(sector::<W>(&[]));
        (1..=n).for_each(|v| counter.save(v));
        counter.flash().rebooted()
    }

    /// MCUboot-style: the save of `n + 1` over records `1..=n`, with power lost before each of
    /// its flash operations in turn (whole or torn). After each reboot the counter reads `n`,
    /// `n + 1`, or 0 when the cut hit the erase of a full sector; and from there it counts
    /// right for longer than a sector holds (stale records must never come back).
    fn power_cuts_during_a_save<const W: usize>(n: u32) {
        let mut clean = NorBootCounter::new(with_records::<W>(n));
        clean.save(n + 1);
        let ops = clean.flash().ops;
        let erased = clean.flash().erases > 0;
        for at in 0..ops {
            for torn in [Torn::No, Torn::FirstHalf, Torn::SecondHalf] {
                let mut flash = with_records::<W>(n);
                flash.cut = Some(Cut { at, torn });
                let mut counter = NorBootCounter::new(flash);
                counter.save(n + 1);
                let mut counter = NorBootCounter::new(counter.flash().rebooted());
                let read = counter.load();
                // An erase torn so that it left the sector's start holds an older count: one
                // sector can't keep a value through its own erase (a known limit; see the note
                // on `NorBootCounter`). Anything else reads the count before or after the save.
                let erase_torn = erased && torn == Torn::SecondHalf;
                let allowed = read == n || read == n + 1 || (erased && read == 0) || (erase_torn && read < n);
                assert!(allowed, "W={W} n={n} cut at op {at}/{ops} torn={torn:?}: read {read}");
                for value in read + 1..read + 400 {
                    counter.save(value);
                    assert_eq!(counter.load(), value, "W={W} n={n} cut at op {at} torn={torn:?}: after saving {value}");
                }
            }
        }
    }

    #[test]
    fn power_cuts_while_appending_and_while_erasing_a_full_sector() {
        // 12-byte records after the first slot: 340 fill a 4 KiB sector, so the 341st erases it.
        for n in [0, 5, 340] {
            power_cuts_during_a_save::<1>(n);
            power_cuts_during_a_save::<4>(n);
        }
    }

    #[test]
    fn old_records_beyond_the_end_of_the_log_are_never_read() {
        // Records 1..=3, then erased slots, then an old record (value 300) left by an erase
        // that power cut short, at a record boundary.
        let mut counter = NorBootCounter::new(sector::<4>(&[]));
        (1..=3).for_each(|v| counter.save(v));
        let stale = [0x46, 0x4F, 0x54, 0x41, 44, 1, 0, 0, !44, !1, 0xFF, 0xFF];
        counter.flash().bytes[120..132].copy_from_slice(&stale);
        assert_eq!(counter.load(), 3);
        for value in 4..=20 {
            counter.save(value);
            assert_eq!(counter.load(), value);
        }
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
