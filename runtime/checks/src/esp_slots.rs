//! The ESP32's update path (`EspSlots`: the next OTA app slot, the image check, `otadata`)
//! against the NOR model, with ESP-IDF's bootloader choice as the judge: an update, a
//! confirmation and a rollback, each cut by a power loss at every flash operation (whole and
//! torn). After every cut the device boots either the build it had or the new one complete and
//! checked, and the same step done again completes it.

use crate::nor_model::{Cut, Nor, Torn, SECTOR};
use crate::support::{drain, esp_image, h, md5_hex, simple_patch, ZeroRng};
use alloc::vec::Vec;
use core::cell::RefCell;
use ferrota_ota::esp_image::chip_id;
use ferrota_ota::esp_otadata::{choose, decode, encode, EspSlots, ImageState, Layout, Selection};
use ferrota_ota::nor::Shared;
use ferrota_ota::{Flash, FlashError, OtaComponent, OtaConfig, OtaError, ProtocolVersion, UpdateSlot};

/// `otadata` (2 sectors), then `ota_0` and `ota_1` of 3 sectors each.
const CAP: usize = 8 * SECTOR;
const OTADATA: u32 = 0;
const SLOT: [u32; 2] = [0x2000, 0x5000];
const SLOT_SIZE: u32 = 0x3000;

type Flash4 = Nor<4, CAP>;

fn layout(booted: u32) -> Layout {
    let mut layout = Layout { otadata: Some(OTADATA), slot_count: 2, booted: Some(booted), ..Layout::default() };
    layout.slots[0] = (SLOT[0], SLOT_SIZE);
    layout.slots[1] = (SLOT[1], SLOT_SIZE);
    layout
}

fn c3_image(seed: usize) -> Vec<u8> {
    esp_image(chip_id("esp32c3").unwrap(), &[4000 + 4 * seed, 3000], true)
}

/// A device fresh from the serial flash: `image` in `ota_0`, `otadata` blank.
fn serial_flashed(image: &[u8]) -> Flash4 {
    let mut nor = Flash4::with_old_content();
    nor.bytes[..2 * SECTOR].fill(0xFF);
    nor.bytes[SLOT[0] as usize..][..image.len()].copy_from_slice(image);
    nor
}

/// What ESP-IDF's bootloader boots (no rollback in the bootloader: the firmware does it).
fn bootloader(nor: &Flash4) -> Option<Selection> {
    let entry = |at: usize| -> [u8; 32] { nor.bytes[at..at + 32].try_into().unwrap() };
    choose([&entry(0), &entry(SECTOR)], 2, false)
}

fn slot_holds(nor: &Flash4, slot: u32, image: &[u8]) -> bool {
    nor.bytes[SLOT[slot as usize] as usize..][..image.len()] == *image
}

/// An upload of `image` in uneven pieces, as a session writes it.
fn upload(slots: &mut impl Flash, image: &[u8]) -> Result<(), FlashError> {
    slots.begin(image.len() as u32)?;
    for piece in image.chunks(1500) {
        slots.write(piece)?;
    }
    slots.finish()
}

/// A delta update (`docs/ota-extensions.md`) of `new` as a patch against the running build,
/// through a whole native session as a ferrota client sends it.
fn patch_upload(slots: &mut EspSlots<Shared<'_, Flash4>>, patch: &[u8], new: &[u8]) -> Result<(), OtaError> {
    let ota = OtaComponent::new(OtaConfig { port: 8082, version: ProtocolVersion::V2, deflate: true });
    let mut session = ota.start_session(slots, &mut ZeroRng, 0);
    let mut input = h("6C26F75C45 84 80");
    input.extend_from_slice(&(patch.len() as u32).to_be_bytes());
    input.extend_from_slice(&(new.len() as u32).to_be_bytes());
    input.extend_from_slice(md5_hex(new).as_bytes());
    for part in [&input[..], patch, &[0x00]] {
        for piece in part.chunks(1500) {
            session.handle_input(0, piece);
            drain(&mut session);
        }
    }
    session.handle_close();
    session.outcome().expect("the session ended")
}

/// Runs `step` on `nor` (booted from `booted`) with power lost at each of its flash operations
/// in turn, whole and torn; `judge` sees the flash after each cut's reboot.
fn cut_everywhere(nor: &Flash4, booted: u32, step: impl Fn(&mut EspSlots<Shared<'_, Flash4>>), judge: impl Fn(&Flash4, usize, Torn)) {
    let clean = RefCell::new(nor.rebooted());
    step(&mut EspSlots::new(Shared(&clean), layout(booted), "esp32c3"));
    let ops = clean.borrow().ops;
    assert!(ops > 0, "the step writes flash");
    for at in 0..ops {
        for torn in [Torn::No, Torn::FirstHalf, Torn::SecondHalf] {
            let mut cut = nor.rebooted();
            cut.cut = Some(Cut { at, torn });
            let cut = RefCell::new(cut);
            step(&mut EspSlots::new(Shared(&cut), layout(booted), "esp32c3"));
            judge(&cut.borrow().rebooted(), at, torn);
        }
    }
}

/// A device that took `new` over `old` and rebooted into it, not confirmed yet.
fn updated(old: &[u8], new: &[u8]) -> Flash4 {
    let nor = RefCell::new(serial_flashed(old));
    upload(&mut EspSlots::new(Shared(&nor), layout(0), "esp32c3"), new).unwrap();
    let nor = nor.into_inner();
    assert_eq!(bootloader(&nor).map(|s| (s.slot, s.state)), Some((1, ImageState::New)));
    nor
}

checks! {
    fn an_update_goes_to_the_other_slot_and_boots_once_checked() {
        let (old, new) = (c3_image(0), c3_image(1));
        let nor = updated(&old, &new);
        assert!(slot_holds(&nor, 1, &new) && slot_holds(&nor, 0, &old));
        // The new build confirms itself: still slot 1, now valid; the next update goes to slot 0.
        let nor = RefCell::new(nor);
        let mut slots = EspSlots::new(Shared(&nor), layout(1), "esp32c3");
        assert!(slots.unconfirmed());
        assert_eq!(upload(&mut slots, &old), Err(FlashError::UpdatePrepare), "no update before the running build confirmed itself");
        slots.confirm();
        assert_eq!(bootloader(&nor.borrow()).map(|s| (s.slot, s.state)), Some((1, ImageState::Valid)));
        upload(&mut slots, &old).unwrap();
        assert_eq!(bootloader(&nor.borrow()).map(|s| s.slot), Some(0));
    }

    fn the_running_image_is_named_by_its_md5() {
        let (old, new) = (c3_image(0), c3_image(1));
        let fresh = RefCell::new(serial_flashed(&old));
        let md5 = |nor: &RefCell<Flash4>, booted| EspSlots::new(Shared(nor), layout(booted), "esp32c3").running_image_md5().map(|m| crate::support::to_hex(&m));
        assert_eq!(md5(&fresh, 0), Some(crate::support::md5_hex(&old)), "the image, not the slot's erased tail");
        let nor = RefCell::new(updated(&old, &new));
        assert_eq!(md5(&nor, 1), Some(crate::support::md5_hex(&new)));
        // A slot without a whole image: no name.
        assert_eq!(md5(&RefCell::new(Flash4::with_old_content()), 1), None);
    }

    fn images_that_cannot_boot_here_are_refused_and_the_running_build_stays() {
        let old = c3_image(0);
        let c6 = esp_image(chip_id("esp32c6").unwrap(), &[4000, 3000], true);
        let mut corrupted = c3_image(1);
        corrupted[100] ^= 0x10;
        let too_big = esp_image(chip_id("esp32c3").unwrap(), &[SLOT_SIZE as usize], true);
        for (name, image, error) in [("another chip's", &c6, FlashError::UpdateEnd), ("a corrupted", &corrupted, FlashError::UpdateEnd), ("an empty", &Vec::new(), FlashError::UpdateEnd), ("a too large", &too_big, FlashError::NotEnoughSpace)] {
            let nor = RefCell::new(serial_flashed(&old));
            let mut slots = EspSlots::new(Shared(&nor), layout(0), "esp32c3");
            assert_eq!(upload(&mut slots, image), Err(error), "{name} image");
            let nor = nor.borrow();
            assert_eq!(bootloader(&nor).map(|s| (s.slot, s.state)), Some((0, ImageState::Valid)), "{name} image");
            assert!(slot_holds(&nor, 0, &old), "{name} image");
        }
    }

    fn without_otadata_or_a_second_slot_updates_are_refused() {
        let old = c3_image(0);
        let nor = RefCell::new(serial_flashed(&old));
        let mut no_otadata = layout(0);
        no_otadata.otadata = None;
        assert_eq!(upload(&mut EspSlots::new(Shared(&nor), no_otadata, "esp32c3"), &old), Err(FlashError::NoUpdatePartition));
        let mut one_slot = layout(0);
        one_slot.slot_count = 1;
        assert_eq!(upload(&mut EspSlots::new(Shared(&nor), one_slot, "esp32c3"), &old), Err(FlashError::NoUpdatePartition));
        assert!(slot_holds(&nor.borrow(), 0, &old));
    }

    /// MCUboot-style, the whole update from a fresh serial flash (adopting `ota_0`, writing
    /// `ota_1`, selecting it): after a cut at any operation the bootloader boots the old build
    /// from `ota_0` intact, or the new one complete; the update done again then succeeds.
    fn an_update_cut_at_any_flash_operation_boots_the_old_build_or_the_whole_new_one() {
        let (old, new) = (c3_image(0), c3_image(1));
        let step = |slots: &mut EspSlots<Shared<'_, Flash4>>| {
            let _ = upload(slots, &new);
        };
        cut_everywhere(&serial_flashed(&old), 0, step, |nor, at, torn| {
            match bootloader(nor) {
                Some(Selection { slot: 1, state: ImageState::New, .. }) => assert!(slot_holds(nor, 1, &new), "cut at {at} {torn:?}: ota_1 selected but not whole"),
                None | Some(Selection { slot: 0, .. }) => {
                    assert!(slot_holds(nor, 0, &old), "cut at {at} {torn:?}: the old build was damaged");
                    let again = RefCell::new(nor.rebooted());
                    upload(&mut EspSlots::new(Shared(&again), layout(0), "esp32c3"), &new).unwrap_or_else(|e| panic!("cut at {at} {torn:?}: the retry failed: {e:?}"));
                    assert_eq!(bootloader(&again.borrow()).map(|s| s.slot), Some(1), "cut at {at} {torn:?}");
                }
                other => panic!("cut at {at} {torn:?}: the bootloader would boot {other:?}"),
            }
        });
    }

    /// A delta update reads the running build in `ota_0` while it writes `ota_1`: the patch
    /// applies (the new build boots whole), and a power cut at any flash operation leaves the
    /// old build intact and booting, or the new one complete; the update done again succeeds.
    fn a_delta_update_cut_at_any_flash_operation_boots_the_old_build_or_the_whole_new_one() {
        let (old, new) = (c3_image(0), c3_image(1));
        let patch = simple_patch(&old, &new);
        let flashed = serial_flashed(&old);
        let whole = RefCell::new(flashed.rebooted());
        patch_upload(&mut EspSlots::new(Shared(&whole), layout(0), "esp32c3"), &patch, &new).unwrap();
        assert_eq!(bootloader(&whole.borrow()).map(|s| s.slot), Some(1));
        assert!(slot_holds(&whole.borrow(), 1, &new) && slot_holds(&whole.borrow(), 0, &old));
        let step = |slots: &mut EspSlots<Shared<'_, Flash4>>| {
            let _ = patch_upload(slots, &patch, &new);
        };
        cut_everywhere(&flashed, 0, step, |nor, at, torn| match bootloader(nor) {
            Some(Selection { slot: 1, state: ImageState::New, .. }) => assert!(slot_holds(nor, 1, &new), "cut at {at} {torn:?}: ota_1 selected but not whole"),
            None | Some(Selection { slot: 0, .. }) => {
                assert!(slot_holds(nor, 0, &old), "cut at {at} {torn:?}: the running build was damaged");
                let again = RefCell::new(nor.rebooted());
                patch_upload(&mut EspSlots::new(Shared(&again), layout(0), "esp32c3"), &patch, &new).unwrap_or_else(|e| panic!("cut at {at} {torn:?}: the retry failed: {e:?}"));
                assert_eq!(bootloader(&again.borrow()).map(|s| s.slot), Some(1), "cut at {at} {torn:?}");
            }
            other => panic!("cut at {at} {torn:?}: the bootloader would boot {other:?}"),
        });
    }

    /// Confirming the new build, cut at any operation, never boots the previous one: it stays
    /// selected, unconfirmed (and confirms on the next try) or confirmed. (Rewriting the chosen
    /// `otadata` entry in place, as esp-bootloader-esp-idf does, fails this: a cut between its
    /// erase and its write boots the old build.)
    fn a_confirmation_cut_at_any_flash_operation_keeps_the_new_build() {
        let (old, new) = (c3_image(0), c3_image(1));
        cut_everywhere(&updated(&old, &new), 1, |slots| slots.confirm(), |nor, at, torn| {
            let chosen = bootloader(nor).unwrap_or_else(|| panic!("cut at {at} {torn:?}: nothing selected"));
            assert_eq!(chosen.slot, 1, "cut at {at} {torn:?}: the new build lost its selection");
            if chosen.state != ImageState::Valid {
                assert_eq!(chosen.state, ImageState::New, "cut at {at} {torn:?}");
                let again = RefCell::new(nor.rebooted());
                EspSlots::new(Shared(&again), layout(1), "esp32c3").confirm();
                assert_eq!(bootloader(&again.borrow()).map(|s| (s.slot, s.state)), Some((1, ImageState::Valid)), "cut at {at} {torn:?}");
            }
        });
    }

    /// A rollback of a boot-looping new build, cut at any operation: the device boots the new
    /// build still unconfirmed (safe mode rolls back again) or the old one, valid.
    fn a_rollback_cut_at_any_flash_operation_ends_in_the_old_build_or_retries() {
        let (old, new) = (c3_image(0), c3_image(1));
        cut_everywhere(&updated(&old, &new), 1, |slots| slots.roll_back(), |nor, at, torn| {
            match bootloader(nor) {
                Some(Selection { slot: 0, state: ImageState::Valid, .. }) => assert!(slot_holds(nor, 0, &old), "cut at {at} {torn:?}"),
                Some(Selection { slot: 1, state: ImageState::New, .. }) => {
                    let again = RefCell::new(nor.rebooted());
                    EspSlots::new(Shared(&again), layout(1), "esp32c3").roll_back();
                    assert_eq!(bootloader(&again.borrow()).map(|s| (s.slot, s.state)), Some((0, ImageState::Valid)), "cut at {at} {torn:?}");
                }
                other => panic!("cut at {at} {torn:?}: the bootloader would boot {other:?}"),
            }
        });
    }

    /// Entries esp-bootloader-esp-idf writes (its own test fixtures), byte for byte.
    fn entries_match_esp_idf() {
        let seq1_undefined = [1u8, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 154, 152, 67, 71];
        let seq2_new = [2u8, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 116, 55, 246, 85];
        let seq3_pending = [3u8, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1, 0, 0, 0, 17, 80, 74, 237];
        assert_eq!(encode(1, ImageState::Undefined), seq1_undefined);
        assert_eq!(encode(2, ImageState::New), seq2_new);
        assert_eq!(encode(3, ImageState::PendingVerify), seq3_pending);
        assert_eq!(decode(&seq3_pending), Some((3, ImageState::PendingVerify)));
    }

    fn the_bootloader_takes_the_highest_valid_sequence() {
        let (a, b) = (encode(4, ImageState::Valid), encode(5, ImageState::New));
        assert_eq!(choose([&a, &b], 2, false), Some(Selection { slot: 0, seq: 5, state: ImageState::New, sector: 1 }));
        let mut torn = b;
        torn[29] = 0xFF;
        assert_eq!(choose([&a, &torn], 2, false).map(|s| s.seq), Some(4), "a torn entry is not valid");
        let invalid = encode(5, ImageState::Invalid);
        assert_eq!(choose([&a, &invalid], 2, true).map(|s| s.seq), Some(4), "with rollback, Invalid is skipped");
        assert_eq!(choose([&[0xFF; 32], &[0xFF; 32]], 2, false), None);
        assert_eq!(choose([&a, &a], 2, false).map(|s| s.sector), Some(0), "a tie goes to the first sector");
    }
}
