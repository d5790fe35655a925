//! Writes generated files only when their content changed, so cargo's fingerprints (file
//! modification times) stay put and a regeneration rebuilds only what really changed.

use std::io;
use std::path::Path;

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Written,
    Unchanged,
}

/// Writes `content` to `path` (creating its directory) unless it already holds exactly that.
/// The new content goes to a temporary file that is renamed over the old one, so an
/// interrupted run never leaves half a file for cargo to compile.
pub fn write_if_changed(path: &Path, content: &[u8]) -> io::Result<Outcome> {
    if std::fs::read(path).is_ok_and(|old| old == content) {
        return Ok(Outcome::Unchanged);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path)?;
    Ok(Outcome::Written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_content_keeps_the_file_untouched() {
        let dir = std::env::temp_dir().join(format!("ferrota-write-{}", std::process::id()));
        let path = dir.join("src/main.rs");
        assert_eq!(write_if_changed(&path, b"fn main() {}").unwrap(), Outcome::Written);
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(write_if_changed(&path, b"fn main() {}").unwrap(), Outcome::Unchanged);
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), before);
        assert_eq!(write_if_changed(&path, b"fn main() { }").unwrap(), Outcome::Written);
        assert_eq!(std::fs::read(&path).unwrap(), b"fn main() { }");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
