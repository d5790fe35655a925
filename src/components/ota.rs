//! `ota:` final validation, as ESPHome 2026.10 does it: at least one platform; `esphome`
//! entries on the same port merged (when consistent); only one port in all.

use crate::config::{Config, Field, Item, Val};
use crate::diagnostics::Diagnostic;
use crate::schema::engine::Engine;
use crate::source::Span;

pub fn final_validate(engine: &mut Engine, config: &mut Config) {
    let Some(field) = config.components.iter_mut().find(|f| f.key == "ota") else { return };
    let ota_span = field.key_span.or(field.value.span);
    let Val::List(entries) = &mut field.value.value else { return };
    if entries.is_empty() {
        let d = Diagnostic::error(
            "ota::no-platform",
            ota_span,
            "At least one platform must be specified for 'ota'; add 'platform: esphome' for original OTA functionality",
        )
        .with_help("write:\n\n  ota:\n    - platform: esphome");
        engine.diagnostics.push(d);
        return;
    }

    let (native, others): (Vec<Item>, Vec<Item>) =
        std::mem::take(entries).into_iter().partition(|e| e.get("platform").and_then(Item::as_str) == Some("esphome"));
    let mut by_port: Vec<(Option<i64>, Item)> = Vec::new();
    let mut merged_ports = Vec::new();
    for entry in native {
        let port = entry.get("port").and_then(Item::as_int);
        let Some((_, first)) = by_port.iter_mut().find(|(p, _)| *p == port) else {
            by_port.push((port, entry));
            continue;
        };
        if let Some(d) = inconsistency(first, &entry) {
            engine.diagnostics.push(d);
            continue;
        }
        merged_ports.push(port);
        merge(first, entry);
    }
    if by_port.len() > 1 {
        let ports: Vec<String> = by_port.iter().map(|(p, _)| p.map_or("None".into(), |p| p.to_string())).collect();
        let second = &by_port[1].1;
        let mut d = Diagnostic::error(
            "ota::multiple-ports",
            port_span(second),
            format!(
                "Only a single port is supported for 'ota' 'platform: esphome'. Got ports [{}]. Consolidate onto a single port; configs sharing a port are merged automatically.",
                ports.join(", ")
            ),
        )
        .with_help("give every `platform: esphome` entry the same `port:` (or none, for the default)");
        if let Some(span) = port_span(&by_port[0].1) {
            d = d.with_related(span, "the first port");
        }
        engine.diagnostics.push(d);
    }
    if !merged_ports.is_empty() {
        let ports: Vec<String> = merged_ports.iter().map(|p| p.map_or("None".into(), |p| p.to_string())).collect();
        let d = Diagnostic::warning(
            "ota::merged",
            ota_span,
            format!("Found and merged multiple configurations for ota platform esphome port(s) [{}]", ports.join(", ")),
        )
        .with_help("write the settings in one `platform: esphome` entry");
        engine.diagnostics.push(d);
    }
    *entries = others.into_iter().chain(by_port.into_iter().map(|(_, e)| e)).collect();
}

fn port_span(entry: &Item) -> Option<Span> {
    entry.field("port").and_then(|f| f.key_span).or(entry.span)
}

/// The three ways two same-port entries can disagree, in ESPHome's order.
fn inconsistency(first: &Item, second: &Item) -> Option<Diagnostic> {
    let clash = |key: &str, what: &str| {
        let at = second.field(key).and_then(|f| f.key_span).or(second.span);
        let mut d = Diagnostic::error(
            "ota::inconsistent",
            at,
            format!("Found multiple configurations but {key} is inconsistent"),
        )
        .with_help(format!("entries on the same port are merged into one; {what}"));
        if let Some(span) = first.field(key).and_then(|f| f.key_span).or(first.span) {
            d = d.with_related(span, "the other entry on this port");
        }
        d
    };
    if first.get("version").map(|v| &v.value) != second.get("version").map(|v| &v.value) {
        return Some(clash("version", "give them the same `version:`"));
    }
    if first.manual_id().is_some() && second.manual_id().is_some() {
        return Some(clash("id", "keep `id:` on only one of them"));
    }
    let password = |e: &Item| e.get("password").and_then(Item::as_str).map(str::to_string);
    if let (Some(a), Some(b)) = (password(first), password(second)) {
        if a != b {
            return Some(clash("password", "give them the same `password:`, or set it on only one"));
        }
    }
    None
}

/// ESPHome's `merge_config`: the later entry wins key by key; lists are joined; a manual ID
/// wins over an automatic one.
fn merge(into: &mut Item, from: Item) {
    let (Val::Map(target), Val::Map(source)) = (&mut into.value, from.value) else { return };
    for field in source {
        match target.iter_mut().find(|f| f.key == field.key) {
            Some(existing) => merge_field(existing, field),
            None => target.push(field),
        }
    }
}

fn merge_field(existing: &mut Field, field: Field) {
    match (&mut existing.value.value, field.value.value) {
        (Val::Id { auto: false, .. }, Val::Id { auto: true, .. }) => {}
        (Val::List(a), Val::List(b)) => a.extend(b),
        (_, value) if field.value.span.is_none() && existing.value.span.is_some() => {
            // A default never overrides what the user wrote in the other entry.
            let _ = value;
        }
        (_, value) => {
            existing.value = Item { value, ..field.value };
            existing.key_span = field.key_span.or(existing.key_span);
        }
    }
}
