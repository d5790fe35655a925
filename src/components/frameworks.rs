//! ESPHome's `cv.require_framework_version` on the ESP32: components that need at least some
//! ESP-IDF or Arduino version. Only an explicit `esp32: framework: version: 5.3.1` can be too
//! old: `recommended`, `latest` and `dev` all name versions newer than any minimum here. The
//! check covers components ferrota does not validate yet too, since ESPHome refuses the config.

use crate::config::Config;
use crate::diagnostics::Diagnostic;
use crate::schema::engine::Engine;

/// `(component, ESP-IDF minimum, Arduino minimum)`, from the components' `validate_config`.
const MINIMUMS: &[(&str, [u32; 3], [u32; 3])] = &[("i2c", [5, 4, 2], [3, 2, 1])];

/// `5.3.1` (or `5.3`) as numbers; `None` for names such as `recommended`.
fn parse_version(text: &str) -> Option<[u32; 3]> {
    let mut parts = text.trim().trim_start_matches('v').split('.').map(|p| p.parse::<u32>().ok());
    Some([parts.next()??, parts.next().unwrap_or(Some(0))?, parts.next().unwrap_or(Some(0))?])
}

pub fn check(engine: &mut Engine, config: &Config) {
    let Some(esp32) = config.get("esp32") else { return };
    let framework = esp32.get("framework");
    let kind = framework.and_then(|f| f.get("type")).and_then(|t| t.as_str()).unwrap_or("esp-idf");
    let Some(version) = framework.and_then(|f| f.get("version")).and_then(|v| v.as_str()).and_then(parse_version) else { return };
    for (component, idf, arduino) in MINIMUMS {
        let minimum = if kind == "arduino" { arduino } else { idf };
        let Some(field) = config.components.iter().find(|f| f.key == *component) else { continue };
        if version < *minimum {
            let [a, b, c] = minimum;
            let d = Diagnostic::error(
                "config::framework-version",
                field.key_span.or(field.value.span),
                format!("This feature requires at least framework version {a}.{b}.{c}."),
            )
            .with_help(format!("`{component}:` needs {kind} {a}.{b}.{c} or newer: raise `esp32: framework: version:`, or remove it to get the recommended version"));
            engine.diagnostics.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_numbers() {
        assert_eq!(parse_version("5.3.1"), Some([5, 3, 1]));
        assert_eq!(parse_version("5.4"), Some([5, 4, 0]));
        assert_eq!(parse_version("recommended"), None);
        assert!(parse_version("5.3.1").unwrap() < [5, 4, 2]);
        assert!(parse_version("5.10.0").unwrap() > [5, 4, 2]);
    }
}
