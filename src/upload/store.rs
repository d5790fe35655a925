//! The images ferrota built or sent, kept by content under a config's `.ferrota/images/`, so
//! that the next upload to a device running one of them can be a patch against it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ferrota_ota::delta::ImageId;

use super::image::{hex, Image};

/// How many images a store keeps (the most recently used): a fleet's builds of the last
/// few rounds, without a folder that grows forever.
pub const KEPT: usize = 24;

/// A folder of images named by their SHA-256.
#[derive(Debug, Clone)]
pub struct ImageStore {
    dir: PathBuf,
}

impl ImageStore {
    pub fn new(dir: impl Into<PathBuf>) -> ImageStore {
        ImageStore { dir: dir.into() }
    }

    /// The store of the config at `config_path`: `<config dir>/.ferrota/images/` (beside the
    /// build folders; `.ferrota/` is git-ignored).
    pub fn for_config(config_path: &Path) -> ImageStore {
        let dir = config_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        ImageStore::new(dir.join(".ferrota").join("images"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps `image` (written once, through a temporary file, so a reader never sees half of
    /// it; marked as used when it is already there), then forgets all but the newest [`KEPT`].
    pub fn keep(&self, image: &Image) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let path = self.path(&image.id());
        if path.exists() {
            // Used again: it moves to the front of the queue.
            fs::File::options().append(true).open(&path)?.set_modified(SystemTime::now())?;
        } else {
            let temporary = path.with_extension(format!("tmp{}", std::process::id()));
            fs::write(&temporary, image.bytes())?;
            fs::rename(&temporary, &path)?;
        }
        self.prune()
    }

    /// The image with this id, if the store has it and it still is what its name says.
    pub fn find(&self, id: &ImageId) -> Option<Vec<u8>> {
        let bytes = fs::read(self.path(id)).ok()?;
        (ImageId::of(&bytes) == *id).then_some(bytes)
    }

    fn path(&self, id: &ImageId) -> PathBuf {
        self.dir.join(format!("{}.bin", hex(&id.sha256)))
    }

    fn prune(&self) -> io::Result<()> {
        let mut images: Vec<(SystemTime, PathBuf)> = fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        images.sort_by(|a, b| b.0.cmp(&a.0));
        for (_, old) in images.iter().skip(KEPT) {
            fs::remove_file(old)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_finds_and_forgets_the_oldest() {
        let dir = std::env::temp_dir().join(format!("ferrota-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let store = ImageStore::new(&dir);
        let images: Vec<Image> = (0..KEPT as u32 + 2).map(|i| Image::new(ferrota_test_support::sample(1000, i))).collect();
        for (i, image) in images.iter().enumerate() {
            store.keep(image).unwrap();
            // Distinct modification times, oldest first.
            let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000 + i as u64);
            fs::File::options().append(true).open(store.path(&image.id())).unwrap().set_modified(at).unwrap();
        }
        store.keep(&images[KEPT + 1]).unwrap();
        assert_eq!(fs::read_dir(&dir).unwrap().count(), KEPT);
        assert_eq!(store.find(&images[0].id()), None, "the oldest went");
        assert_eq!(store.find(&images[KEPT + 1].id()).as_deref(), Some(images[KEPT + 1].bytes()));
        // A file that is not what its name says is not a base.
        fs::write(store.path(&images[5].id()), b"something else").unwrap();
        assert_eq!(store.find(&images[5].id()), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
