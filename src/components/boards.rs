//! Boards and chip variants: the target block's `board` sets its `variant` (esp32, rp2040) or
//! `family` (LibreTiny chips), as ESPHome's board tables say; an unknown board needs the
//! variant or family spelled out. ESP8266 takes any board.

use crate::config::{Config, Field, Item, Val};
use crate::diagnostics::Diagnostic;
use crate::schema::engine::Engine;
use crate::source::Span;

const BOARDS: &str = include_str!("data/boards.tsv");

/// A board ESPHome knows: its table (`esp32`, `rp2`, `bk72xx`, …) and variant or family.
struct Board {
    table: &'static str,
    name: &'static str,
    chip: &'static str,
    has_wifi: bool,
}

fn boards() -> impl Iterator<Item = Board> {
    BOARDS.lines().filter(|l| !l.starts_with('#')).filter_map(|line| {
        let mut cols = line.split('\t');
        let (table, name, info) = (cols.next()?, cols.next()?, cols.next()?);
        let (chip, wifi) = info.split_once(',').unwrap_or((info, "wifi"));
        Some(Board { table, name, chip, has_wifi: wifi != "nowifi" })
    })
}

fn board(table: &str, name: &str) -> Option<Board> {
    boards().find(|b| b.table == table && b.name == name)
}

pub fn check(engine: &mut Engine, config: &mut Config) {
    let Some(target) = config.target().map(str::to_string) else { return };
    let wifi = config.get("wifi").is_some();
    let Some(field) = config.components.iter_mut().find(|f| f.key == target) else { return };
    let block_span = field.key_span.or(field.value.span);
    match target.as_str() {
        "esp32" => chip_from_board(engine, &mut field.value, block_span, "esp32", "variant", "esp32"),
        "rp2040" => {
            if field.value.get("board").is_none() && field.value.get("variant").is_none() {
                let d = Diagnostic::error("target::board", block_span, "Must contain at least one of board, variant.")
                    .with_help("add `board: rpipicow` (Pico W) or `variant: RP2040`");
                engine.diagnostics.push(d);
                return;
            }
            chip_from_board(engine, &mut field.value, block_span, "rp2", "variant", "rp2040");
            let board_name = field.value.get("board").and_then(Item::as_str).unwrap_or_default();
            if let (Some(b), true) = (board("rp2", board_name), wifi) {
                if !b.has_wifi {
                    let span = field.value.get("board").and_then(|i| i.span);
                    let d = Diagnostic::error(
                        "target::no-wifi",
                        span,
                        format!("Board '{board_name}' does not have WiFi support (no CYW43 wireless chip). Use a WiFi-capable board like 'rpipicow' or 'rpipico2w'."),
                    )
                    .with_help("use `board: rpipicow`, or remove `wifi:`");
                    engine.diagnostics.push(d);
                }
            }
        }
        "bk72xx" | "rtl87xx" | "ln882x" => chip_from_board(engine, &mut field.value, block_span, &target, "family", &target),
        _ => {}
    }
}

/// Fills `key` (variant or family) from the board, or reports why it can't be.
fn chip_from_board(engine: &mut Engine, block: &mut Item, block_span: Option<Span>, table: &str, key: &str, component: &str) {
    let board_field = block.field("board").map(|f| (f.value.as_str().unwrap_or_default().to_string(), f.value.span));
    let given = block.field(key).map(|f| (f.value.as_str().unwrap_or_default().to_string(), f.value.span));
    let Some((name, board_span)) = board_field else {
        if given.is_none() {
            let d = Diagnostic::error(
                "target::board",
                block_span,
                format!("This board is unknown, if you are sure you want to compile with this board selection, override with option '{key}'"),
            )
            .with_help(format!("add `board:` (e.g. `board: {}`)", example_board(table)));
            engine.diagnostics.push(d);
        }
        return;
    };
    let known = board(table, &name).or_else(|| libretiny_board_elsewhere(table, &name));
    match (known, given) {
        (Some(b), _) if b.table != table => {
            let d = Diagnostic::error(
                "target::family",
                board_span,
                format!("The chosen family doesn't belong to '{component}' component. The correct component is '{}'", b.table),
            )
            .with_help(format!("board `{name}` is a {} chip: rename the `{component}:` block to `{}:`", b.chip, b.table));
            engine.diagnostics.push(d);
        }
        (Some(b), Some((chip, span))) if b.chip != chip => {
            let message = if table == "rp2" {
                format!("Option 'variant' ({chip}) does not match the selected board '{name}' ({}).", b.chip)
            } else {
                format!("Option '{key}' does not match selected board.")
            };
            let mut d = Diagnostic::error("target::variant", span, message)
                .with_help(format!("remove `{key}:` (the board sets it) or write `{key}: {}`", b.chip));
            if let Some(at) = board_span {
                d = d.with_related(at, format!("board `{name}` is a {}", b.chip));
            }
            engine.diagnostics.push(d);
        }
        (Some(b), None) => {
            if let Val::Map(fields) = &mut block.value {
                fields.push(Field { key: key.into(), key_span: None, value: Item::new(Val::Str(b.chip.into()), None) });
            }
        }
        (None, None) => {
            let names: Vec<&str> = boards().filter(|b| b.table == table).map(|b| b.name).collect();
            let close = crate::suggest::close_matches(&name, names.iter().copied());
            let help = match close.first() {
                Some(c) => format!("did you mean `{c}`? For a board ESPHome doesn't list, add `{key}:`"),
                None => format!("check the board name, or add `{key}:` to build for a board ESPHome doesn't list"),
            };
            let message = if table == "rp2" {
                "This board is unknown; please specify the chip variant using the 'variant' option.".to_string()
            } else {
                format!("This board is unknown, if you are sure you want to compile with this board selection, override with option '{key}'")
            };
            let mut d = Diagnostic::error("target::unknown-board", board_span, message).with_help(help);
            if let (Some(best), Some(span)) = (close.first(), board_span) {
                d = d.replace_with(span, *best);
            }
            engine.diagnostics.push(d);
        }
        _ => {}
    }
}

/// A LibreTiny board listed under a sibling family's table (e.g. an RTL board in `bk72xx:`).
fn libretiny_board_elsewhere(table: &str, name: &str) -> Option<Board> {
    const LIBRETINY: [&str; 3] = ["bk72xx", "rtl87xx", "ln882x"];
    if !LIBRETINY.contains(&table) {
        return None;
    }
    LIBRETINY.iter().filter(|t| **t != table).find_map(|t| board(t, name))
}

fn example_board(table: &str) -> &'static str {
    match table {
        "esp32" => "esp32dev",
        "rp2" => "rpipicow",
        "bk72xx" => "generic-bk7231n-qfn32-tuya",
        "rtl87xx" => "generic-rtl8710bn-2mb-788k",
        _ => "generic-ln882h",
    }
}
