//! The firmware image `ferrota upload` sends, at `<project>/firmware.bin`, and how a chip's ELF
//! becomes it: the ESP-IDF app image for the ESP32s (what `espflash save-image` writes).

use crate::diagnostics::Diagnostic;
use espflash::flasher::{FlashData, FlashSettings, FlashSize};
use espflash::image_format::idf::IdfBootloaderFormat;
use espflash::target::{Chip, XtalFrequency};
use std::io;
use std::path::{Path, PathBuf};

/// The image's place in a project folder (where `ferrota upload` looks for it by default).
pub fn image_path(project: &Path) -> PathBuf {
    project.join("firmware.bin")
}

/// Installs `bytes` as the image at `path`, executable. An identical image is left alone:
/// a host device started from it would otherwise see a "new factory build" and reset its
/// A/B slots.
pub fn install(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::rename(&tmp, path)
}

/// The ESP-IDF app image of an ESP32 ELF: the bytes the bootloader boots from an OTA app slot
/// and esp-bootloader-esp-idf's `OtaUpdater` writes, i.e. the OTA payload (an image header
/// with the chip id, the segments, the XOR checksum and the appended SHA-256).
///
/// `chip` is the HAL's name (`esp32c3`), `flash_size` the config's `esp32: flash_size`
/// (`4MB`), and `partitions` the project's `partitions.csv`: the image must fit its first app
/// slot. Made with espflash's own `IdfBootloaderFormat`, the code behind `espflash save-image`.
pub fn esp_app_image(elf: &[u8], chip: &str, flash_size: &str, partitions: &Path) -> Result<Vec<u8>, Box<Diagnostic>> {
    let error = |message: String| Box::new(Diagnostic::error("codegen::image", None, message));
    let chip = match chip {
        "esp32" => Chip::Esp32,
        "esp32c2" => Chip::Esp32c2,
        "esp32c3" => Chip::Esp32c3,
        "esp32c6" => Chip::Esp32c6,
        "esp32s2" => Chip::Esp32s2,
        "esp32s3" => Chip::Esp32s3,
        other => return Err(error(format!("no ESP app image format for `{other}` (a bug in ferrota)"))),
    };
    let size: FlashSize = flash_size.parse().map_err(|_| error(format!("unknown flash size `{flash_size}`")))?;
    let settings = FlashSettings::new(None, Some(size), None);
    // Every chip ferrota builds for runs from a 40 MHz crystal on the boards ESPHome knows
    // (the ESP32-C2's 26 MHz variant would need its own bootloader header, not the app's).
    let flash = FlashData::new(settings, 0, None, chip, XtalFrequency::_40Mhz);
    let format = IdfBootloaderFormat::new(elf, &flash, Some(partitions), None, None, None)
        .map_err(|e| error(format!("cannot make the ESP app image from the ELF: {e}")))?;
    let image: Vec<u8> = format.ota_segments().flat_map(|segment| segment.data().to_vec()).collect();
    Ok(image)
}

/// The flat binary of the ELF's loadable contents in `flash` (what `objcopy -O binary` writes
/// for an image that lives in flash), starting at `flash.start`: the Pico W's OTA payload
/// (embassy-boot copies it byte for byte into its ACTIVE region) and its bootloader image.
/// Segments are placed by their load (physical) address, so `.data`'s initial values, which
/// run from RAM, come along from flash; gaps are zero. Anything loadable outside `flash` is an
/// error: it would silently be missing from the image.
pub fn flat_binary(elf: &[u8], flash: std::ops::Range<u64>) -> Result<Vec<u8>, Box<Diagnostic>> {
    use object::read::elf::{ElfFile32, FileHeader, ProgramHeader};
    let error = |message: String| Box::new(Diagnostic::error("codegen::image", None, message));
    let file = ElfFile32::<object::Endianness>::parse(elf).map_err(|e| error(format!("the build is not a 32-bit ELF: {e}")))?;
    let endian = file.endian();
    let mut image: Vec<u8> = Vec::new();
    let headers = file.elf_header().program_headers(endian, elf).map_err(|e| error(format!("unreadable ELF program headers: {e}")))?;
    for header in headers {
        if header.p_type(endian) != object::elf::PT_LOAD || header.p_filesz(endian) == 0 {
            continue;
        }
        let start = u64::from(header.p_paddr(endian));
        let data = header.data(endian, elf).map_err(|_| error(format!("an ELF segment at {start:#x} runs past the end of the file")))?;
        let end = start + data.len() as u64;
        if start < flash.start || end > flash.end {
            return Err(error(format!("the ELF loads {start:#x}..{end:#x}, outside the image's flash range {:#x}..{:#x}", flash.start, flash.end)));
        }
        let (from, to) = ((start - flash.start) as usize, (end - flash.start) as usize);
        if image.len() < to {
            image.resize(to, 0);
        }
        image[from..to].copy_from_slice(data);
    }
    if image.is_empty() {
        return Err(error("the ELF has nothing to load into flash".to_string()));
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal little-endian ELF32 with the given (paddr, bytes) PT_LOAD segments.
    fn elf(segments: &[(u32, &[u8])]) -> Vec<u8> {
        let phoff = 52u32;
        let data_at = phoff + 32 * segments.len() as u32;
        let mut out = vec![0x7F, b'E', b'L', b'F', 1, 1, 1];
        out.resize(16, 0);
        let half = |v: u16| v.to_le_bytes();
        let word = |v: u32| v.to_le_bytes();
        out.extend(half(2)); // ET_EXEC
        out.extend(half(40)); // EM_ARM
        out.extend(word(1));
        out.extend(word(0)); // entry
        out.extend(word(phoff));
        out.extend(word(0)); // shoff
        out.extend(word(0x0500_0200)); // flags
        out.extend(half(52));
        out.extend(half(32));
        out.extend(half(segments.len() as u16));
        out.extend(half(40));
        out.extend(half(0));
        out.extend(half(0));
        let mut offset = data_at;
        for (paddr, bytes) in segments {
            for v in [1, offset, paddr.wrapping_add(0x1000_0000), *paddr, bytes.len() as u32, bytes.len() as u32, 5, 4] {
                out.extend(word(v));
            }
            offset += bytes.len() as u32;
        }
        for (_, bytes) in segments {
            out.extend_from_slice(bytes);
        }
        out
    }

    #[test]
    fn segments_land_at_their_load_address_with_zero_gaps() {
        let elf = elf(&[(0x1000_7000, &[1, 2, 3, 4]), (0x1000_7008, &[9, 9])]);
        let image = flat_binary(&elf, 0x1000_7000..0x1010_2000).unwrap();
        assert_eq!(image, [1, 2, 3, 4, 0, 0, 0, 0, 9, 9]);
    }

    #[test]
    fn a_segment_outside_the_flash_range_is_an_error_not_dropped() {
        let elf = elf(&[(0x1000_7000, &[1, 2, 3, 4]), (0x2000_0000, &[5])]);
        let error = flat_binary(&elf, 0x1000_7000..0x1010_2000).unwrap_err();
        assert!(error.message.contains("outside the image's flash range"), "{}", error.message);
        assert!(flat_binary(b"not an elf", 0..1).is_err());
    }
}
