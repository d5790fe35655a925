//! `ferrota upload`: the client half of ESPHome's OTA (spec §1 native protocol, §8 web_server).

pub mod errors;
pub mod image;
pub mod protocol;
