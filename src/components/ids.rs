//! IDs: ESPHome's naming rules, duplicates anywhere in the config, references (including
//! `id(x)` inside lambdas) that must name a declared ID, and unique automatic IDs.

use crate::config::{Config, Item, Val};
use crate::diagnostics::Diagnostic;
use crate::schema::engine::Engine;
use crate::schema::scalar::Invalid;

/// C++ keywords and names the generated code uses (ESPHome 2026.10's RESERVED_IDS).
const RESERVED: &[&str] = &[
    "alarm", "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case",
    "catch", "char", "char16_t", "char32_t", "class", "clock", "compl", "concept", "const", "constexpr",
    "const_cast", "continue", "decltype", "default", "delete", "do", "double", "dynamic_cast", "else", "enum",
    "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if", "inline", "int", "long",
    "mutable", "namespace", "new", "noexcept", "not", "not_eq", "nullptr", "operator", "or", "or_eq", "private",
    "protected", "public", "register", "reinterpret_cast", "requires", "return", "short", "signed", "sizeof",
    "static", "static_assert", "static_cast", "struct", "switch", "template", "text", "this", "thread_local",
    "throw", "true", "try", "typedef", "typeid", "typename", "union", "unsigned", "using", "virtual", "void",
    "volatile", "wchar_t", "while", "xor", "xor_eq", "App", "pinMode", "delay", "delayMicroseconds",
    "digitalRead", "digitalWrite", "INPUT", "OUTPUT", "uint8_t", "uint16_t", "uint32_t", "uint64_t", "int8_t",
    "int16_t", "int32_t", "int64_t", "close", "pause", "sleep", "open", "setup", "loop", "spi0", "spi1", "uart0",
    "uart1", "uart2", "crc16_be", "crc16_le", "crc32_be", "crc32_le", "crc8_be", "crc8_le", "dbg_state",
    "debug_timer", "one_bits", "recv_packet", "send_packet", "check_pos", "software_reset",
];

/// ESPHome's `validate_id_name`, in its order. `loaded` are the integrations of this config.
pub fn check_id_name(value: &str, loaded: &[String]) -> Result<(), Invalid> {
    let suggestion = || {
        let mut s: String = value.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            s.insert(0, '_');
        }
        s
    };
    if value.is_empty() {
        return Err(Invalid::new("ID must not be empty").help("give it a name such as `my_ota`, or remove `id:`"));
    }
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(Invalid::new("First character in ID cannot be a digit.").help(format!("try `{}`", suggestion())));
    }
    if value.contains('-') {
        return Err(Invalid::new("Dashes are not supported in IDs, please use underscores instead.")
            .help(format!("try `{}`", value.replace('-', "_"))));
    }
    if let Some(c) = value.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(Invalid::new(format!(
            "IDs must only consist of upper/lowercase characters, the underscorecharacter and numbers. The character '{c}' cannot be used"
        ))
        .help(format!("try `{}`", suggestion())));
    }
    if RESERVED.contains(&value) {
        return Err(Invalid::new(format!("ID '{value}' is reserved internally and cannot be used"))
            .help(format!("try `my_{value}`")));
    }
    if loaded.iter().any(|l| l == value) {
        return Err(Invalid::new(format!(
            "ID '{value}' conflicts with the name of an esphome integration, please use another ID name."
        ))
        .help(format!("try `my_{value}`")));
    }
    Ok(())
}

/// Duplicate declarations, dangling references, and automatic IDs that collide with manual ones.
pub fn check(engine: &mut Engine, config: &mut Config) {
    let declared = engine.declared.clone();
    for (i, id) in declared.iter().enumerate() {
        if let Some(first) = declared[..i].iter().find(|d| d.name == id.name) {
            let d = Diagnostic::error("id::duplicate", id.span, format!("ID {} redefined! Check {}", id.name, first.path))
                .with_related(first.span, "first defined here")
                .with_help("every ID must be unique across the whole config: rename one of them");
            engine.diagnostics.push(d);
        }
    }
    let names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
    for reference in engine.references.clone() {
        if let Some(target) = declared.iter().find(|d| d.name == reference.name) {
            // Classes are known only where both sides have a schema here.
            if let Some(wanted) = reference.class.as_deref().filter(|w| !target.class.is_empty() && target.class != *w) {
                let d = Diagnostic::error(
                    "id::wrong-type",
                    reference.span,
                    format!(
                        "ID '{}' of type {} doesn't inherit from {wanted}. Please double check your ID is pointing to the correct value.",
                        reference.name, target.class
                    ),
                )
                .with_related(target.span, format!("`{}` is declared here, as {}", reference.name, target.class))
                .with_help(format!("name the ID of a {wanted} here"));
                engine.diagnostics.push(d);
            }
            continue;
        }
        let close = crate::suggest::close_matches(&reference.name, names.iter().copied());
        let mut message = format!(
            "Couldn't find ID '{}'. Please check you have defined an ID with that name in your configuration.",
            reference.name
        );
        let help = if close.is_empty() {
            format!("declare it with `id: {}` on the component you mean", reference.name)
        } else {
            let quoted: Vec<String> = close.iter().map(|c| format!("\"{c}\"")).collect();
            message.push_str(&format!(" These IDs look similar: {}.", quoted.join(", ")));
            format!("did you mean `{}`?", close[0])
        };
        let mut d = Diagnostic::error("id::not-found", reference.span, message).with_help(help);
        if let Some(best) = close.first() {
            // A lambda's reference spans its whole `id(name)`: replace the name only.
            let written = engine.sources.text(reference.span);
            let at = written.rfind(reference.name.as_str()).unwrap_or(0) + reference.span.start as usize;
            let name = crate::source::Span::new(reference.span.file, at, at + reference.name.len());
            d = d.replace_with(if written == reference.name { reference.span } else { name }, *best);
        }
        engine.diagnostics.push(d);
    }
    for component in &mut config.components {
        rename_colliding_auto_ids(&mut component.value, &names);
    }
}

fn rename_colliding_auto_ids(item: &mut Item, manual: &[&str]) {
    match &mut item.value {
        Val::Id { name, auto: true } if manual.contains(&name.as_str()) => {
            let base = name.clone();
            let mut n = 2;
            while manual.contains(&name.as_str()) {
                *name = format!("{base}_{n}");
                n += 1;
            }
        }
        Val::List(items) => items.iter_mut().for_each(|i| rename_colliding_auto_ids(i, manual)),
        Val::Map(fields) => fields.iter_mut().for_each(|f| rename_colliding_auto_ids(&mut f.value, manual)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_rules_in_esphome_order() {
        let loaded = vec!["wifi".to_string()];
        assert!(check_id_name("my_ota", &loaded).is_ok());
        assert_eq!(check_id_name("1ota", &loaded).unwrap_err().message, "First character in ID cannot be a digit.");
        assert!(check_id_name("my-ota", &loaded).unwrap_err().message.starts_with("Dashes"));
        assert!(check_id_name("my.ota", &loaded).unwrap_err().message.contains("'.' cannot be used"));
        assert!(check_id_name("delay", &loaded).unwrap_err().message.contains("reserved"));
        assert!(check_id_name("wifi", &loaded).unwrap_err().message.contains("conflicts"));
    }
}
