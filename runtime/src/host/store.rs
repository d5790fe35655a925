//! Safe mode's boot counter in a file, and the OS randomness for nonces.

use std::fs;
use std::io::{Read, Write};
use std::path::PathBuf;

use crate::auth::Rng;
use crate::safe_mode::BootCounterStore;

/// The counter as 4 little-endian bytes in a file; a missing or short file reads as 0.
#[derive(Debug, Clone)]
pub struct FileCounterStore {
    path: PathBuf,
}

impl FileCounterStore {
    /// A counter kept at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileCounterStore { path: path.into() }
    }
}

impl BootCounterStore for FileCounterStore {
    fn load(&mut self) -> u32 {
        match fs::read(&self.path) {
            Ok(b) if b.len() == 4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            _ => 0,
        }
    }

    fn save(&mut self, value: u32) {
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&self.path)?;
            f.write_all(&value.to_le_bytes())?;
            f.sync_all()
        };
        if let Err(e) = write() {
            eprintln!("[safe_mode] cannot store the boot counter: {e}");
        }
    }
}

/// The operating system's randomness (`/dev/urandom`).
#[derive(Debug, Default)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        let read = fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf));
        if read.is_err() {
            // No /dev/urandom: std's per-process random hash keys are the next best source.
            use std::hash::{BuildHasher, Hasher};
            for (i, chunk) in buf.chunks_mut(8).enumerate() {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_usize(i);
                h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
                chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
            }
        }
    }
}
