//! The firmware image `ferrota upload` sends, at `<project>/firmware.bin`.

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
