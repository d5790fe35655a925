//! ESPHome's scalar validators (`cv.string`, `cv.int_`, `cv.boolean`, `cv.one_of`, time
//! periods …): the same conversions and the same accept/reject decisions, with messages that
//! also say how to fix the value.

use crate::config::Val;
use crate::yaml::{python_float_repr, Node, Value};

/// Why a value was rejected; `help` says how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub message: String,
    pub help: Option<String>,
}

impl Invalid {
    pub fn new(message: impl Into<String>) -> Invalid {
        Invalid { message: message.into(), help: None }
    }

    pub fn help(mut self, help: impl Into<String>) -> Invalid {
        self.help = Some(help.into());
        self
    }
}

type Result<T> = std::result::Result<T, Invalid>;

fn not_templatable(node: &Node) -> Result<()> {
    if matches!(node.value, Value::Lambda(_)) {
        return Err(Invalid::new("This option is not templatable!")
            .help("write a plain value here; `!lambda` is only allowed where a value is computed at runtime"));
    }
    Ok(())
}

/// `cv.string`: strings as they are, numbers as Python prints them.
pub fn string(node: &Node) -> Result<String> {
    not_templatable(node)?;
    match &node.value {
        Value::Str(s) => Ok(s.clone()),
        Value::Int(_) | Value::Float(_) => Ok(node.value.to_python_str().unwrap_or_default()),
        Value::Bool(b) => Err(Invalid::new("Auto-converted this value to boolean, please wrap the value in quotes.")
            .help(format!("YAML reads this as the boolean {b}; write it in quotes to keep it text"))),
        Value::Null => Err(Invalid::new("string value is None").help("give this key a value, or remove it")),
        Value::Seq(_) | Value::Map(_) => Err(Invalid::new("string value cannot be dictionary or list.")
            .help("this key takes a single text value")),
        Value::Lambda(_) => unreachable!("rejected by not_templatable"),
    }
}

/// `cv.string_strict`: only real strings; a number must be quoted.
pub fn string_strict(node: &Node) -> Result<String> {
    match &node.value {
        Value::Str(s) => Ok(s.clone()),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => Err(Invalid::new(format!(
            "Must be string, got {}. did you forget putting quotes around the value?",
            python_type(&node.value)
        ))
        .help("put the value in quotes")),
        _ => string(node),
    }
}

fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "<class 'int'>",
        Value::Float(_) => "<class 'float'>",
        Value::Bool(_) => "<class 'bool'>",
        Value::Str(_) => "<class 'str'>",
        Value::Null => "<class 'NoneType'>",
        Value::Seq(_) => "<class 'list'>",
        Value::Map(_) => "<class 'dict'>",
        Value::Lambda(_) => "<class 'esphome.core.Lambda'>",
    }
}

/// `cv.boolean`: booleans, and the words true/yes/on/enable, false/no/off/disable.
pub fn boolean(node: &Node) -> Result<bool> {
    not_templatable(node)?;
    match &node.value {
        Value::Bool(b) => Ok(*b),
        Value::Str(s) => match s.to_lowercase().as_str() {
            "true" | "yes" | "on" | "enable" => Ok(true),
            "false" | "no" | "off" | "disable" => Ok(false),
            _ => Err(bool_error(&node.value)),
        },
        other => Err(bool_error(other)),
    }
}

fn bool_error(v: &Value) -> Invalid {
    let shown = v.to_python_str().unwrap_or_else(|| "None".into());
    Invalid::new(format!(
        "Expected boolean value, but cannot convert {shown} to a boolean. Please use 'true' or 'false'"
    ))
    .help("write `true` or `false`")
}

/// `cv.int_`: integers; booleans count as 0/1 (as in Python); whole floats; decimal or `0x`
/// strings.
pub fn int(node: &Node) -> Result<i64> {
    not_templatable(node)?;
    match &node.value {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(*b as i64),
        Value::Float(f) if f.fract() == 0.0 && f.is_finite() && f.abs() < 9.2e18 => Ok(*f as i64),
        Value::Float(f) => Err(Invalid::new(format!(
            "This option only accepts integers with no fractional part. Please remove the fractional part from {}",
            python_float_repr(*f)
        ))
        .help("write a whole number")),
        Value::Str(s) => {
            let t = s.trim();
            let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(hex) => i64::from_str_radix(hex, 16).ok(),
                None => t.parse::<i64>().ok(),
            };
            parsed.ok_or_else(|| {
                Invalid::new(format!("Expected integer, but cannot parse {s} as an integer")).help("write a whole number")
            })
        }
        other => Err(Invalid::new(format!(
            "Expected integer, but cannot parse {} as an integer",
            other.to_python_str().unwrap_or_else(|| "None".into())
        ))
        .help("write a whole number")),
    }
}

/// voluptuous `Range` on integers.
pub fn int_range(value: i64, min: Option<i64>, max: Option<i64>) -> Result<i64> {
    if let Some(min) = min.filter(|m| value < *m) {
        return Err(Invalid::new(format!("value must be at least {min}.")).help(range_help(min, max)));
    }
    if let Some(max) = max.filter(|m| value > *m) {
        return Err(Invalid::new(format!("value must be at most {max}.")).help(range_help(min.unwrap_or(i64::MIN), Some(max))));
    }
    Ok(value)
}

fn range_help(min: i64, max: Option<i64>) -> String {
    match max {
        Some(max) if min > i64::MIN => format!("use a value from {min} to {max}"),
        Some(max) => format!("use a value of at most {max}"),
        None => format!("use a value of at least {min}"),
    }
}

/// `cv.float_`: numbers, booleans (as Python's `float(True)`), numeric strings.
pub fn float(node: &Node) -> Result<f64> {
    not_templatable(node)?;
    match &node.value {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Bool(b) => Ok(*b as i64 as f64),
        Value::Str(s) => parse_python_float(s.trim())
            .ok_or_else(|| Invalid::new(format!("Invalid value '{s}' for float")).help("write a number such as 600 or 1.5")),
        other => Err(Invalid::new(format!(
            "Expected float, but got {}",
            other.to_python_str().unwrap_or_else(|| "None".into())
        ))
        .help("write a number such as 600 or 1.5")),
    }
}

fn parse_python_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if matches!(body, "inf" | "infinity" | "nan") || s.parse::<f64>().is_ok() {
        return s.replace('_', "").parse().ok().or_else(|| lower.parse().ok());
    }
    None
}

/// `cv.one_of(..., int=/lower=/upper=)`: the converted value must be one of `values`.
pub fn one_of(node: &Node, values: &[String], conv: crate::schema::model::OneOfConv) -> Result<Val> {
    use crate::schema::model::OneOfConv;
    let (text, val) = match conv {
        OneOfConv::Int => {
            let i = int(node)?;
            (i.to_string(), Val::Int(i))
        }
        OneOfConv::Lower => {
            let s = string(node)?.to_lowercase();
            (s.clone(), Val::Str(s))
        }
        OneOfConv::Upper => {
            let s = string(node)?.to_uppercase();
            (s.clone(), Val::Str(s))
        }
        OneOfConv::None => {
            let s = string(node)?;
            (s.clone(), Val::Str(s))
        }
    };
    if values.contains(&text) {
        return Ok(val);
    }
    let options: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    let close = crate::suggest::close_matches(&text, values.iter().map(String::as_str));
    let message = if close.is_empty() {
        format!("Unknown value '{text}', valid options are {}.", options.join(", "))
    } else {
        let close: Vec<String> = close.iter().map(|c| format!("'{c}'")).collect();
        format!("Unknown value '{text}', did you mean {}?", close.join(", "))
    };
    Err(Invalid::new(message).help(format!("use one of {}", options.join(", "))))
}

const UNITS: &[(&str, f64)] = &[
    ("us", 0.001),
    ("microseconds", 0.001),
    ("ms", 1.0),
    ("milliseconds", 1.0),
    ("s", 1_000.0),
    ("sec", 1_000.0),
    ("secs", 1_000.0),
    ("seconds", 1_000.0),
    ("min", 60_000.0),
    ("mins", 60_000.0),
    ("minutes", 60_000.0),
    ("h", 3_600_000.0),
    ("hours", 3_600_000.0),
    ("d", 86_400_000.0),
    ("days", 86_400_000.0),
];

/// `cv.positive_time_period_milliseconds`: `500ms`, `60s`, `1.5min`, `HH:MM[:SS]`, or a
/// mapping of `days`/`hours`/`minutes`/`seconds`/`milliseconds`; never a bare number.
pub fn time_period_ms(node: &Node) -> Result<u64> {
    not_templatable(node)?;
    let ms = match &node.value {
        Value::Int(i) => {
            return Err(Invalid::new(format!(
                "Don't know what '{i}' means as it has no time *unit*! Did you mean '{i}s'?"
            ))
            .help(format!("add a unit, e.g. `{i}s`, `{i}ms` or `{i}min`")))
        }
        Value::Str(s) => parse_period(s.trim())?,
        Value::Map(entries) => {
            let mut total = 0.0;
            for e in entries {
                let key = e.key.key_text();
                let factor = match key.as_str() {
                    "days" => 86_400_000.0,
                    "hours" => 3_600_000.0,
                    "minutes" => 60_000.0,
                    "seconds" => 1_000.0,
                    "milliseconds" => 1.0,
                    "microseconds" => 0.001,
                    _ => {
                        return Err(Invalid::new(format!("[{key}] is an invalid option for a time period."))
                            .help("use days, hours, minutes, seconds, milliseconds or microseconds"))
                    }
                };
                total += float(&e.value)? * factor;
            }
            total
        }
        _ => return Err(Invalid::new("Expected string for time period with unit.").help("write e.g. `60s` or `5min`")),
    };
    if ms < 0.0 {
        return Err(Invalid::new("Value must be a positive time period.").help("write a duration of zero or more"));
    }
    if ms.fract() != 0.0 {
        return Err(Invalid::new("Maximum precision is milliseconds").help("round the duration to whole milliseconds"));
    }
    Ok(ms as u64)
}

fn parse_period(s: &str) -> Result<f64> {
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        let nums: Option<Vec<u64>> = parts.iter().map(|p| p.parse::<u64>().ok()).collect();
        return match nums.as_deref() {
            Some([h, m]) => Ok(((h * 60 + m) * 60_000) as f64),
            Some([h, m, sec]) => Ok(((h * 3600 + m * 60 + sec) * 1_000) as f64),
            _ => Err(Invalid::new(format!("Expected time period with unit, got {s}")).help("write e.g. `60s` or `5min`")),
        };
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(s.len());
    let (number, unit) = (&s[..split], s[split..].trim_start());
    let bad = || Invalid::new(format!("Expected time period with unit, got {s}")).help("write e.g. `60s` or `5min`");
    let value: f64 = number.parse().map_err(|_| bad())?;
    if unit.is_empty() {
        return Err(Invalid::new(format!("Don't know what '{s}' means as it has no time *unit*! Did you mean '{s}s'?"))
            .help(format!("add a unit, e.g. `{s}s`")));
    }
    let Some((_, factor)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        let names: Vec<&str> = UNITS.iter().map(|(u, _)| *u).collect();
        let close = crate::suggest::close_matches(unit, names.iter().copied());
        let message = match close.first() {
            Some(c) => format!("Unknown value '{unit}', did you mean '{c}'?"),
            None => format!("Unknown value '{unit}', valid options are {}.", names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")),
        };
        return Err(Invalid::new(message).help("time units: us, ms, s, min, h, d"));
    };
    Ok(value * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, Span};

    fn node(v: Value) -> Node {
        Node::new(Span::point(FileId(0), 0), v)
    }

    #[test]
    fn strings_convert_numbers_like_python() {
        assert_eq!(string(&node(Value::Int(123))).unwrap(), "123");
        assert_eq!(string(&node(Value::Float(1.0))).unwrap(), "1.0");
        assert!(string(&node(Value::Bool(true))).unwrap_err().message.contains("boolean"));
        assert_eq!(string(&node(Value::Null)).unwrap_err().message, "string value is None");
        assert!(string_strict(&node(Value::Int(1))).is_err());
    }

    #[test]
    fn ints_follow_cv_int() {
        assert_eq!(int(&node(Value::Str("0x10".into()))).unwrap(), 16);
        assert_eq!(int(&node(Value::Str(" 2 ".into()))).unwrap(), 2);
        assert_eq!(int(&node(Value::Bool(true))).unwrap(), 1);
        assert_eq!(int(&node(Value::Float(2.0))).unwrap(), 2);
        assert!(int(&node(Value::Float(1.5))).unwrap_err().message.contains("fractional part from 1.5"));
        assert_eq!(int_range(0, Some(1), Some(65535)).unwrap_err().message, "value must be at least 1.");
        assert_eq!(int_range(65536, Some(1), Some(65535)).unwrap_err().message, "value must be at most 65535.");
    }

    #[test]
    fn time_periods() {
        let s = |t: &str| time_period_ms(&node(Value::Str(t.into())));
        assert_eq!(s("1min").unwrap(), 60_000);
        assert_eq!(s("500ms").unwrap(), 500);
        assert_eq!(s("1.5s").unwrap(), 1_500);
        assert_eq!(s("00:01:30").unwrap(), 90_000);
        assert!(s("10").unwrap_err().message.contains("no time *unit*"));
        assert!(time_period_ms(&node(Value::Int(10))).unwrap_err().message.contains("Did you mean '10s'?"));
        assert!(s("10 parsecs").is_err());
    }

    #[test]
    fn one_of_converts_then_checks() {
        use crate::schema::model::OneOfConv;
        let values = vec!["1".to_string(), "2".to_string()];
        assert_eq!(one_of(&node(Value::Str("2".into())), &values, OneOfConv::Int).unwrap(), Val::Int(2));
        assert_eq!(
            one_of(&node(Value::Int(3)), &values, OneOfConv::Int).unwrap_err().message,
            "Unknown value '3', valid options are '1', '2'."
        );
    }
}
