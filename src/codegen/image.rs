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
