//! A/B slots on the host: which build boots, which one it falls back to, and whether the
//! running build has confirmed itself.
//!
//! Layout of the state directory: `slot-a` and `slot-b` hold uploaded builds, `image.ota.new`
//! is the upload in progress, and `boot-state` says which build is current. The executable the
//! user started is the "factory" build. Every change to `boot-state` is a write to a temporary
//! file, an fsync and a rename, so a crash at any moment leaves either the old or the new state.
//! The file operations go through [`Disk`], so the tests can cut power between any two (and
//! tear a write) and check that the device still boots a good build.

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

    /// The file of an uploaded build's slot.
    fn file(self) -> &'static str {
        match self {
            Slot::Factory => "factory",
            Slot::A => "slot-a",
            Slot::B => "slot-b",
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

/// The state directory's file operations, by file name.
pub trait Disk {
    /// The directory.
    fn dir(&self) -> &Path;
    /// The contents of `name`.
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;
    /// Creates or replaces `name` with `bytes`, flushed to the disk (its directory entry is
    /// durable only after [`Disk::sync_dir`]).
    fn write_synced(&self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to` atomically.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Makes the directory's entries (new files, renames) durable.
    fn sync_dir(&self) -> io::Result<()>;
    /// Lets `name` be executed.
    fn make_executable(&self, name: &str) -> io::Result<()>;
}

/// The real directory.
#[derive(Debug, Clone)]
pub struct DirDisk(PathBuf);

impl Disk for DirDisk {
    fn dir(&self) -> &Path {
        &self.0
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.0.join(name))
    }
    fn write_synced(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let mut file = fs::File::create(self.0.join(name))?;
        file.write_all(bytes)?;
        file.sync_all()
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.0.join(from), self.0.join(to))
    }
    fn sync_dir(&self) -> io::Result<()> {
        #[cfg(unix)]
        fs::File::open(&self.0)?.sync_all()?;
        Ok(())
    }
    fn make_executable(&self, name: &str) -> io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(self.0.join(name), fs::Permissions::from_mode(0o755))?;
        }
        #[cfg(not(unix))]
        let _ = name;
        Ok(())
    }
}

/// The upload in progress.
const STAGING: &str = "image.ota.new";
const BOOT_STATE: &str = "boot-state";
const BOOT_STATE_TMP: &str = "boot-state.tmp";

/// The slot directory of one host device.
#[derive(Debug, Clone)]
pub struct Slots<D: Disk = DirDisk> {
    disk: D,
}

impl Slots {
    /// Slots kept in `dir` (created when missing).
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(Slots { disk: DirDisk(dir) })
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
}

impl<D: Disk> Slots<D> {
    /// Slots on `disk`.
    pub fn on(disk: D) -> Self {
        Slots { disk }
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        self.disk.dir()
    }

    /// Where uploads are staged until their MD5 and format are checked.
    pub fn staging_path(&self) -> PathBuf {
        self.dir().join(STAGING)
    }

    /// The executable of `slot` under `state`.
    pub fn path(&self, state: &BootState, slot: Slot) -> PathBuf {
        match slot {
            Slot::Factory => state.factory.clone(),
            Slot::A | Slot::B => self.dir().join(slot.file()),
        }
    }

    /// Reads `boot-state`; `None` when missing or unreadable.
    pub fn load(&self) -> Option<BootState> {
        let text = String::from_utf8(self.disk.read(BOOT_STATE).ok()?).ok()?;
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
        self.disk.write_synced(BOOT_STATE_TMP, text.as_bytes())?;
        self.disk.rename(BOOT_STATE_TMP, BOOT_STATE)?;
        self.disk.sync_dir()
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
        self.disk.make_executable(STAGING)?;
        self.disk.rename(STAGING, target.file())?;
        self.disk.sync_dir()?;
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

#[cfg(test)]
mod power_cuts {
    //! The slots on a model disk that loses power before any operation: what survives is the
    //! state at the last directory sync plus any prefix of the operations since (a journaling
    //! filesystem keeps their order), and a file being written may be left half written. After
    //! every cut the device must read a boot state and boot a complete build, with a confirmed
    //! one to fall back to while the current build is unconfirmed.

    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    type Files = BTreeMap<String, Vec<u8>>;

    struct ModelDisk {
        dir: PathBuf,
        live: RefCell<Files>,
        /// What may survive a cut: the state at the last sync, then after each operation since.
        survivors: RefCell<Vec<Files>>,
        ops: RefCell<usize>,
        /// Power is lost before operation `cut` (counted from 0).
        cut: Option<usize>,
    }

    impl ModelDisk {
        fn new(files: &Files, cut: Option<usize>) -> Self {
            ModelDisk { dir: PathBuf::from("/state"), live: RefCell::new(files.clone()), survivors: RefCell::new(vec![files.clone()]), ops: RefCell::new(0), cut }
        }

        /// Runs one operation on the live files, unless power is lost first (then `torn`, if
        /// any, is what the operation under way left behind).
        fn op(&self, torn: Option<Files>, apply: impl FnOnce(&mut Files) -> io::Result<()>) -> io::Result<()> {
            let at = *self.ops.borrow();
            *self.ops.borrow_mut() = at + 1;
            if self.cut.is_some_and(|cut| at >= cut) {
                if let Some(torn) = torn.filter(|_| self.cut == Some(at)) {
                    self.survivors.borrow_mut().push(torn);
                }
                return Err(io::Error::other("power lost"));
            }
            apply(&mut self.live.borrow_mut())?;
            self.survivors.borrow_mut().push(self.live.borrow().clone());
            Ok(())
        }

        /// Every state the disk may come back in.
        fn after_the_cut(&self) -> Vec<Files> {
            self.survivors.borrow().clone()
        }
    }

    impl Disk for ModelDisk {
        fn dir(&self) -> &Path {
            &self.dir
        }
        fn read(&self, name: &str) -> io::Result<Vec<u8>> {
            self.live.borrow().get(name).cloned().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }
        fn write_synced(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
            let mut torn = self.live.borrow().clone();
            torn.insert(name.to_string(), bytes[..bytes.len() / 2].to_vec());
            self.op(Some(torn), |files| {
                files.insert(name.to_string(), bytes.to_vec());
                Ok(())
            })
        }
        fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            self.op(None, |files| {
                let bytes = files.remove(from).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
                files.insert(to.to_string(), bytes);
                Ok(())
            })
        }
        fn sync_dir(&self) -> io::Result<()> {
            self.op(None, |_| Ok(()))?;
            // Synced: only the present state survives from here on.
            let live = self.live.borrow().clone();
            *self.survivors.borrow_mut() = vec![live];
            Ok(())
        }
        fn make_executable(&self, name: &str) -> io::Result<()> {
            self.op(None, |files| files.contains_key(name).then_some(()).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound)))
        }
    }

    const GOOD_A: &[u8] = b"build A, confirmed";
    const NEW_B: &[u8] = b"build B, just uploaded";

    fn state(current: Slot, previous: Option<Slot>, confirmed: bool) -> BootState {
        BootState { current, previous, confirmed, factory: PathBuf::from("/usr/bin/device"), factory_id: "7-1".into() }
    }

    /// The files of a device in `state`, with build A in slot-a and B in slot-b.
    fn disk_with(state: &BootState, staged: bool) -> Files {
        let disk = ModelDisk::new(&Files::new(), None);
        Slots::on(&disk).store(state).unwrap();
        let mut files = disk.live.into_inner();
        files.insert("slot-a".into(), GOOD_A.to_vec());
        if staged {
            files.insert(STAGING.into(), NEW_B.to_vec());
        } else {
            files.insert("slot-b".into(), NEW_B.to_vec());
        }
        files
    }

    impl<D: Disk> Disk for &D {
        fn dir(&self) -> &Path {
            (**self).dir()
        }
        fn read(&self, name: &str) -> io::Result<Vec<u8>> {
            (**self).read(name)
        }
        fn write_synced(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
            (**self).write_synced(name, bytes)
        }
        fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            (**self).rename(from, to)
        }
        fn sync_dir(&self) -> io::Result<()> {
            (**self).sync_dir()
        }
        fn make_executable(&self, name: &str) -> io::Result<()> {
            (**self).make_executable(name)
        }
    }

    /// What the supervisor would boot from `files`, with what it falls back to; panics when
    /// the device could not boot a good build.
    fn boots(files: &Files, context: &str) -> (Slot, Vec<u8>, bool) {
        let disk = ModelDisk::new(files, None);
        let slots = Slots::on(&disk);
        let state = slots.load().unwrap_or_else(|| panic!("{context}: no readable boot-state"));
        let exe = |slot: Slot| match slot {
            Slot::Factory => b"factory".to_vec(),
            slot => files.get(slot.file()).cloned().unwrap_or_else(|| panic!("{context}: {slot:?} has no build")),
        };
        let build = exe(state.current);
        assert!(build == GOOD_A || build == NEW_B || build == b"factory", "{context}: {:?} holds a broken build {build:?}", state.current);
        if !state.confirmed {
            let previous = state.previous.unwrap_or_else(|| panic!("{context}: unconfirmed with nothing to fall back to"));
            assert!(exe(previous) == GOOD_A, "{context}: the fall-back {previous:?} is not the confirmed build");
        }
        (state.current, build, state.confirmed)
    }

    /// Runs `step` with power lost before each of its operations in turn; `judge` sees every
    /// state the disk may come back in.
    fn cut_everywhere(files: &Files, step: impl Fn(&Slots<&ModelDisk>), judge: impl Fn(&Files, &str)) {
        let clean = ModelDisk::new(files, None);
        step(&Slots::on(&clean));
        let ops = *clean.ops.borrow();
        assert!(ops > 0);
        for cut in 0..=ops {
            let disk = ModelDisk::new(files, Some(cut));
            step(&Slots::on(&disk));
            for (i, survivor) in disk.after_the_cut().iter().enumerate() {
                judge(survivor, &format!("cut before op {cut}/{ops}, survivor {i}"));
            }
        }
    }

    #[test]
    fn an_install_cut_anywhere_boots_the_confirmed_build_or_the_new_one_with_it_to_fall_back_on() {
        let files = disk_with(&state(Slot::A, None, true), true);
        cut_everywhere(&files, |slots| drop(slots.install_staged()), |survivor, context| {
            let (slot, build, confirmed) = boots(survivor, context);
            assert!((slot, confirmed) == (Slot::A, true) || (slot, confirmed) == (Slot::B, false), "{context}: {slot:?} confirmed={confirmed}");
            if slot == Slot::B {
                assert_eq!(build, NEW_B, "{context}");
            }
        });
    }

    #[test]
    fn a_confirmation_or_a_fall_back_cut_anywhere_leaves_a_bootable_state() {
        let files = disk_with(&state(Slot::B, Some(Slot::A), false), false);
        cut_everywhere(&files, |slots| drop(slots.confirm()), |survivor, context| {
            let (slot, _, _) = boots(survivor, context);
            assert_eq!(slot, Slot::B, "{context}: confirming must not switch builds");
        });
        cut_everywhere(&files, |slots| drop(slots.fall_back()), |survivor, context| {
            let (slot, _, confirmed) = boots(survivor, context);
            assert!((slot, confirmed) == (Slot::B, false) || (slot, confirmed) == (Slot::A, true), "{context}: {slot:?} confirmed={confirmed}");
        });
    }
}
