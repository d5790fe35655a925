//! Where the update machinery is in this device's flash: the partition table read once at
//! start-up, for ferrota-ota's `EspSlots` (the OTA app slots and `otadata`) and safe mode's
//! boot counter.

use crate::SharedFlash;
use esp_bootloader_esp_idf::partitions::{self, PARTITION_TABLE_MAX_LEN};
use esp_storage::FlashStorage;
use ferrota_ota::esp_otadata::{EspSlots, Layout, MAX_SLOTS};
use ferrota_ota::nor::{NorBootCounter, Region, Shared};

/// The update slot of an ESP32.
pub type AppSlots = EspSlots<Shared<'static, FlashStorage<'static>>>;
/// Safe mode's boot counter: ferrota-ota's record log in the first sector of the `nvs` data
/// partition (ferrota's firmware keeps no other NVS data), erased only when full; what an
/// earlier firmware left there reads as no count.
pub type BootCounter = NorBootCounter<Region<Shared<'static, FlashStorage<'static>>>>;

/// Partition types and subtypes (ESP-IDF's `esp_partition_type_t`).
const APP: u8 = 0x00;
const DATA: u8 = 0x01;
const OTA_0: u8 = 0x10;
const DATA_OTA: u8 = 0x00;
const DATA_NVS: u8 = 0x02;

/// The update slot and the boot counter of the device in `flash`.
pub fn slots(flash: &'static SharedFlash) -> (AppSlots, BootCounter) {
    let mut layout = Layout::default();
    let mut nvs = None;
    {
        let mut storage = flash.borrow_mut();
        let mut buffer = [0u8; PARTITION_TABLE_MAX_LEN];
        match partitions::read_partition_table(&mut storage, &mut buffer) {
            Ok(table) => {
                let booted = table.booted_partition().ok().flatten().map(|entry| entry.offset());
                for entry in table.iter() {
                    match (entry.raw_type(), entry.raw_subtype()) {
                        (APP, subtype @ OTA_0..) if usize::from(subtype - OTA_0) < MAX_SLOTS => {
                            let slot = u32::from(subtype - OTA_0);
                            layout.slots[slot as usize] = (entry.offset(), entry.len());
                            layout.slot_count = layout.slot_count.max(slot + 1);
                            if booted == Some(entry.offset()) {
                                layout.booted = Some(slot);
                            }
                        }
                        (DATA, DATA_OTA) => layout.otadata = Some(entry.offset()),
                        (DATA, DATA_NVS) => nvs = Some(entry.offset()),
                        _ => {}
                    }
                }
            }
            Err(e) => log::error!("[E][ota]: cannot read the partition table: {e:?}"),
        }
    }
    if layout.otadata.is_none() || layout.slot_count < 2 {
        log::error!("[E][ota]: the partition table needs `otadata` and two OTA app slots: updates are refused");
    }
    if nvs.is_none() {
        log::error!("[E][safe_mode]: no `nvs` partition: the boot counter is not kept");
    }
    let shared = Shared(flash);
    let sector = FlashStorage::SECTOR_SIZE;
    // Without `nvs`, an empty region: every access fails and the count reads as 0.
    let counter = NorBootCounter::new(Region::new(shared, nvs.unwrap_or(0), if nvs.is_some() { sector } else { 0 }));
    (EspSlots::new(shared, layout, crate::CHIP), counter)
}
