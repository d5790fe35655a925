//! A Cortex-M application image (the Pico W's OTA payload, linked for embassy-boot's ACTIVE
//! region) starts with its vector table. It is checked before the bootloader is told to swap
//! the image in: an image whose initial stack pointer is not in RAM, or whose reset, NMI or
//! HardFault handler is not a Thumb address inside the image's flash region, would never boot
//! (and on the Pico W would be swapped back only after a failed boot).

use core::ops::{Range, RangeInclusive};

/// Why an image's vector table is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VectorTableError {
    /// Shorter than the four words checked.
    Truncated,
    /// The initial stack pointer (word 0) is not in RAM.
    StackPointer(u32),
    /// A handler (reset, NMI, HardFault: words 1 to 3) is not a Thumb address in the region.
    Handler {
        /// Which word of the table.
        index: usize,
        /// Its value.
        address: u32,
    },
}

/// Checks the first 16 bytes of an image for RAM `ram` (where the stack starts; its top is
/// included) and the flash region `flash` the image is linked for.
pub fn check(image_start: &[u8], ram: RangeInclusive<u32>, flash: Range<u32>) -> Result<(), VectorTableError> {
    let word = |i: usize| -> Option<u32> {
        let bytes = image_start.get(i * 4..i * 4 + 4)?;
        Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    let sp = word(0).ok_or(VectorTableError::Truncated)?;
    if !ram.contains(&sp) {
        return Err(VectorTableError::StackPointer(sp));
    }
    for index in 1..4 {
        let address = word(index).ok_or(VectorTableError::Truncated)?;
        if address & 1 == 0 || !flash.contains(&(address & !1)) {
            return Err(VectorTableError::Handler { index, address });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAM: RangeInclusive<u32> = 0x2000_0000..=0x2004_2000;
    const ACTIVE: Range<u32> = 0x1000_7000..0x1010_2000;

    fn table(words: [u32; 4]) -> [u8; 16] {
        let mut out = [0u8; 16];
        for (i, w) in words.iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    #[test]
    fn a_table_for_the_region_passes_and_others_do_not() {
        assert_eq!(check(&table([0x2004_2000, 0x1000_7101, 0x1000_7201, 0x1000_7301]), RAM, ACTIVE), Ok(()));
        assert_eq!(check(&table([0x1000_0000, 0x1000_7101, 0x1000_7201, 0x1000_7301]), RAM, ACTIVE), Err(VectorTableError::StackPointer(0x1000_0000)));
        // Even address: not Thumb.
        assert_eq!(
            check(&table([0x2004_2000, 0x1000_7100, 0x1000_7201, 0x1000_7301]), RAM, ACTIVE),
            Err(VectorTableError::Handler { index: 1, address: 0x1000_7100 })
        );
        // Linked for the start of flash (a plain Pico build, not for embassy-boot's ACTIVE).
        assert_eq!(
            check(&table([0x2004_2000, 0x1000_0101, 0x1000_7201, 0x1000_7301]), RAM, ACTIVE),
            Err(VectorTableError::Handler { index: 1, address: 0x1000_0101 })
        );
        assert_eq!(check(&[0xFF; 12], RAM, ACTIVE), Err(VectorTableError::StackPointer(0xFFFF_FFFF)));
        assert_eq!(check(&table([0x2004_2000, 0x1000_7101, 0x1000_7201, 0x1000_7301])[..12], RAM, ACTIVE), Err(VectorTableError::Truncated));
    }
}
