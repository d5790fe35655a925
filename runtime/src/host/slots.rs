//! A/B slots on the host: which build boots, which one it falls back to, and whether the
//! running build has confirmed itself.
//!
//! Layout of the state directory: `slot-a` and `slot-b` hold uploaded builds, `image.ota.new`
//! is the upload in progress, and `boot-state` says which build is current. The executable the
//! user started is the "factory" build. Every change to `boot-state` is a write to a temporary
//! file, an fsync and a rename, so a crash at any moment leaves either the old or the new state.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One place a build can live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The executable the user started (flashed "over USB").
    Factory,
    /// `slot-a` in the state directory.
    A,
    /// `slot-b` in the state directory.
    B,
}

impl Slot {
    fn name(self) -> &'static str {
        match self {
            Slot::Factory => "factory",
            Slot::A => "a",
            Slot::B => "b",
        }
    }

    fn parse(s: &str) -> Option<Slot> {
        match s {
            "factory" => Some(Slot::Factory),
            "a" => Some(Slot::A),
            "b" => Some(Slot::B),
            _ => None,
        }
    }
}

/// The contents of `boot-state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootState {
    /// The build that boots.
    pub current: Slot,
    /// The build to fall back to while `current` is unconfirmed: always the last confirmed
    /// one, never a build that has not proven itself.
    pub previous: Option<Slot>,
    /// True once `current` has proven it stays up.
    pub confirmed: bool,
    /// Path of the factory executable.
    pub factory: PathBuf,
    /// Size and modification time of the factory executable: a different file there means the
    /// user installed a new build by hand, which resets the slots (like a serial flash).
    pub factory_id: String,
}

/// The slot directory of one host device.
#[derive(Debug, Clone)]
pub struct Slots {
    dir: PathBuf,
}

impl Slots {
    /// Slots kept in `dir` (created when missing).
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(Slots { dir })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where uploads are staged until their MD5 and format are checked.
    pub fn staging_path(&self) -> PathBuf {
        self.dir.join("image.ota.new")
    }

    /// The executable of `slot` under `state`.
    pub fn path(&self, state: &BootState, slot: Slot) -> PathBuf {
        match slot {
            Slot::Factory => state.factory.clone(),
            Slot::A => self.dir.join("slot-a"),
            Slot::B => self.dir.join("slot-b"),
        }
    }

    /// Reads `boot-state`; `None` when missing or unreadable.
    pub fn load(&self) -> Option<BootState> {
        let text = fs::read_to_string(self.dir.join("boot-state")).ok()?;
        let field = |key: &str| text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('='));
        Some(BootState {
            current: Slot::parse(field("current")?)?,
            previous: match field("previous")? {
                "none" => None,
                s => Some(Slot::parse(s)?),
            },
            confirmed: field("confirmed")? == "1",
            factory: PathBuf::from(field("factory")?),
            factory_id: field("factory_id")?.to_string(),
        })
    }

    /// Atomically replaces `boot-state`.
    pub fn store(&self, state: &BootState) -> io::Result<()> {
        let text = format!(
            "current={}\nprevious={}\nconfirmed={}\nfactory={}\nfactory_id={}\n",
            state.current.name(),
            state.previous.map_or("none", Slot::name),
            u8::from(state.confirmed),
            state.factory.display(),
            state.factory_id,
        );
        let tmp = self.dir.join("boot-state.tmp");
        let mut file = fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, self.dir.join("boot-state"))?;
        sync_dir(&self.dir)
    }

    /// The state for a device started from `factory`: the stored one, or a fresh one when
    /// there is none or the factory executable changed.
    pub fn load_for_factory(&self, factory: &Path) -> io::Result<BootState> {
        let id = file_id(factory)?;
        match self.load() {
            Some(state) if state.factory == factory && state.factory_id == id => Ok(state),
            _ => {
                let state = BootState { current: Slot::Factory, previous: None, confirmed: true, factory: factory.to_path_buf(), factory_id: id };
                self.store(&state)?;
                Ok(state)
            }
        }
    }

    /// Marks the current build as good: it no longer falls back.
    pub fn confirm(&self) -> io::Result<bool> {
        match self.load() {
            Some(mut state) if !state.confirmed => {
                state.confirmed = true;
                state.previous = None;
                self.store(&state).map(|()| true)
            }
            _ => Ok(false),
        }
    }

    /// Installs the verified staging file as the next build, keeping the last confirmed build
    /// to fall back to. Returns the new state.
    ///
    /// While the current build is unconfirmed the fall-back stays the confirmed `previous`
    /// and the upload replaces the unconfirmed build (renaming over a running executable is
    /// fine on Unix): falling back to a build that never proved itself could end with no
    /// working build at all.
    pub fn install_staged(&self) -> io::Result<BootState> {
        let mut state = self.load().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no boot-state"))?;
        let keep = match state.previous {
            Some(previous) if !state.confirmed => previous,
            _ => state.current,
        };
        let target = if keep == Slot::A { Slot::B } else { Slot::A };
        let path = self.path(&state, target);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(self.staging_path(), fs::Permissions::from_mode(0o755))?;
        }
        fs::rename(self.staging_path(), &path)?;
        sync_dir(&self.dir)?;
        state.previous = Some(keep);
        state.current = target;
        state.confirmed = false;
        self.store(&state)?;
        Ok(state)
    }

    /// After the current build died before confirming itself: boot the previous one again,
    /// which is confirmed (see [`Slots::install_staged`]). Returns the slot fallen back to, if
    /// there was one.
    pub fn fall_back(&self) -> io::Result<Option<Slot>> {
        match self.load() {
            Some(mut state) if !state.confirmed => {
                let Some(previous) = state.previous else { return Ok(None) };
                state.current = previous;
                state.previous = None;
                state.confirmed = true;
                self.store(&state)?;
                Ok(Some(previous))
            }
            _ => Ok(None),
        }
    }
}

fn file_id(path: &Path) -> io::Result<String> {
    let meta = fs::metadata(path)?;
    let mtime = meta.modified()?.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    Ok(format!("{}-{}", meta.len(), mtime))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_confirm_and_fall_back() {
        let dir = std::env::temp_dir().join(format!("ferrota-slots-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let slots = Slots::new(&dir).unwrap();
        let factory = dir.join("factory-exe");
        fs::write(&factory, b"v1").unwrap();
        let state = slots.load_for_factory(&factory).unwrap();
        assert_eq!((state.current, state.confirmed), (Slot::Factory, true));

        fs::write(slots.staging_path(), b"v2").unwrap();
        let state = slots.install_staged().unwrap();
        assert_eq!((state.current, state.previous, state.confirmed), (Slot::A, Some(Slot::Factory), false));
        assert_eq!(fs::read(dir.join("slot-a")).unwrap(), b"v2");
        assert_eq!(slots.fall_back().unwrap(), Some(Slot::Factory));
        assert_eq!(slots.load().unwrap().current, Slot::Factory);

        fs::write(slots.staging_path(), b"v3").unwrap();
        slots.install_staged().unwrap();
        assert!(slots.confirm().unwrap());
        assert_eq!(slots.fall_back().unwrap(), None, "a confirmed build stays");
        fs::write(slots.staging_path(), b"v4").unwrap();
        assert_eq!(slots.install_staged().unwrap().current, Slot::B);

        // A different factory executable is a fresh install.
        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(&factory, b"v1 rebuilt").unwrap();
        assert_eq!(slots.load_for_factory(&factory).unwrap().current, Slot::Factory);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_upload_before_confirming_keeps_the_last_confirmed_build() {
        let dir = std::env::temp_dir().join(format!("ferrota-slots-unconfirmed-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let slots = Slots::new(&dir).unwrap();
        let factory = dir.join("factory-exe");
        fs::write(&factory, b"v1").unwrap();
        slots.load_for_factory(&factory).unwrap();
        let install = |bytes: &[u8]| {
            fs::write(slots.staging_path(), bytes).unwrap();
            let state = slots.install_staged().unwrap();
            (state.current, state.previous, state.confirmed)
        };

        // Two uploads in a row: the second replaces the unconfirmed first, Factory stays.
        assert_eq!(install(b"v2"), (Slot::A, Some(Slot::Factory), false));
        assert_eq!(install(b"v3"), (Slot::A, Some(Slot::Factory), false));
        assert_eq!(fs::read(dir.join("slot-a")).unwrap(), b"v3");
        assert_eq!(slots.fall_back().unwrap(), Some(Slot::Factory));
        assert_eq!((slots.load().unwrap().current, slots.load().unwrap().confirmed), (Slot::Factory, true));

        // The same from a confirmed slot: B replaces B, A (confirmed) stays the fall-back.
        install(b"v4");
        assert!(slots.confirm().unwrap());
        assert_eq!(install(b"v5"), (Slot::B, Some(Slot::A), false));
        assert_eq!(install(b"v6"), (Slot::B, Some(Slot::A), false));
        assert_eq!(fs::read(dir.join("slot-a")).unwrap(), b"v4", "the confirmed build is untouched");
        assert_eq!(slots.fall_back().unwrap(), Some(Slot::A));
        assert_eq!(fs::read(dir.join("slot-a")).unwrap(), b"v4");
        fs::remove_dir_all(&dir).unwrap();
    }
}
