//! A NOR flash model for power-cut tests, after MCUboot's simulator: it enforces NOR's rules
//! (writes aligned to `WRITE_SIZE` and only into erased bytes, erases of whole sectors) and can
//! lose power before any operation, optionally tearing the one under way (a word half
//! programmed, a sector half erased). Shared by every check that cuts power.

use alloc::vec::Vec;
use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};

/// A flash sector (ESP32, RP2040).
pub const SECTOR: usize = 4096;
/// The default size: 16 sectors.
pub const CAPACITY: usize = 16 * SECTOR;

/// What the model returns once power is lost.
#[derive(Debug)]
pub struct Misuse;

impl NorFlashError for Misuse {
    fn kind(&self) -> NorFlashErrorKind {
        NorFlashErrorKind::Other
    }
}

/// NOR flash of `CAP` bytes in memory, starting with old content (not erased), counting erased
/// sectors and operations (a sector erased or a word written is one).
pub struct Nor<const W: usize, const CAP: usize = CAPACITY> {
    pub bytes: Vec<u8>,
    pub erases: usize,
    pub ops: usize,
    /// Power is lost before operation number `at` (counted from 0), maybe tearing it. Every
    /// operation after the cut fails, as nothing runs any more.
    pub cut: Option<Cut>,
}

/// Where power is lost.
#[derive(Clone, Copy, Debug)]
pub struct Cut {
    /// Before operation number `at` (counted from 0).
    pub at: usize,
    /// How that operation is left.
    pub torn: Torn,
}

/// How the operation under way when power is lost is left.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Torn {
    /// Not started.
    No,
    /// A write: half the word programmed. An erase: the sector's first half erased.
    FirstHalf,
    /// A write: as `FirstHalf`. An erase: the sector's second half erased (an erase need not
    /// proceed from the start), leaving the old content at the start.
    SecondHalf,
}

impl<const W: usize, const CAP: usize> Nor<W, CAP> {
    pub fn with_old_content() -> Self {
        Nor { bytes: (0..CAP).map(|i| (i * 7 % 251) as u8).collect(), erases: 0, ops: 0, cut: None }
    }

    /// The same flash after a reboot: its content, power back.
    pub fn rebooted(&self) -> Self {
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

