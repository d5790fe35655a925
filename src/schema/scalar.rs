//! ESPHome's scalar validators (`cv.string`, `cv.int_`, `cv.boolean`, `cv.one_of`, time
//! periods …): the same conversions and the same accept/reject decisions, with messages that
//! also say how to fix the value.

use crate::config::Val;
use crate::schema::model::OneOfConv;
use crate::yaml::{python_float_repr, Node, Value};

/// Why a value was rejected; `help` says how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub message: String,
    pub help: Option<String>,
    /// The value to write instead, when there is one clear candidate (a quick fix).
    pub replacement: Option<String>,
}

impl Invalid {
    pub fn new(message: impl Into<String>) -> Invalid {
        Invalid { message: message.into(), help: None, replacement: None }
    }

    pub fn help(mut self, help: impl Into<String>) -> Invalid {
        self.help = Some(help.into());
        self
    }

    pub fn replace_with(mut self, value: impl Into<String>) -> Invalid {
        self.replacement = Some(value.into());
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
        // (`!extend`/`!remove` never reach validation: the loader resolves them.)
        Value::Null | Value::Extend(_) | Value::Remove(_) => Err(Invalid::new("string value is None").help("give this key a value, or remove it")),
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
        Value::Null | Value::Extend(_) | Value::Remove(_) => "<class 'NoneType'>",
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
            // `int(value, 16 if value.startswith("0x") else 10)` after lowercasing, as cv.int_.
            let lower = s.to_lowercase();
            let parsed = if lower.starts_with("0x") { python_int(&lower, 16) } else { python_int(&lower, 10) };
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

/// ESPHome's `float_with_unit(…, optional_unit=True)` (e.g. `cv.decibel`): a number, or a
/// number with one of `units` after an optional metric prefix (`14dB`, `2.4GHz`).
pub fn float_with_unit(node: &Node, units: &[String]) -> Result<f64> {
    if let Ok(f) = float(node) {
        return Ok(f);
    }
    let text = string(node)?;
    let Some((number, prefix)) = units.iter().find_map(|u| {
        let rest = text.strip_suffix(u.as_str())?;
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || "+-.".contains(c))).unwrap_or(rest.len());
        Some((&rest[..digits], rest[digits..].trim_start()))
    }) else {
        return Err(Invalid::new(format!("Expected {} with unit, got {text}", units[0]))
            .help(format!("write a number with a unit, e.g. `14{}`", units[0])));
    };
    const PREFIXES: &[(&str, f64)] = &[
        ("Q", 1e30), ("R", 1e27), ("Y", 1e24), ("Z", 1e21), ("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6),
        ("k", 1e3), ("h", 1e2), ("da", 1e1), ("", 1.0), ("d", 1e-1), ("c", 1e-2), ("m", 1e-3), ("µ", 1e-6), ("u", 1e-6),
        ("n", 1e-9), ("p", 1e-12), ("f", 1e-15), ("a", 1e-18),
    ];
    let mantissa: f64 = number.parse().map_err(|_| Invalid::new(format!("Expected {} with unit, got {text}", units[0])))?;
    match PREFIXES.iter().find(|(p, _)| *p == prefix) {
        Some((_, multiplier)) => Ok(mantissa * multiplier),
        None => Err(Invalid::new(format!("Invalid {} suffix {prefix}", units[0])).help("use a metric prefix such as k, M or m")),
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
pub fn one_of(node: &Node, values: &[String], conv: OneOfConv) -> Result<Val> {
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
    one_of_text(&text, values)?;
    Ok(val)
}

/// The membership check of `cv.one_of`, with ESPHome's did-you-mean message.
fn one_of_text(text: &str, values: &[String]) -> Result<()> {
    if values.iter().any(|v| v == text) {
        return Ok(());
    }
    let options: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    let close = crate::suggest::close_matches(text, values.iter().map(String::as_str));
    let message = if close.is_empty() {
        format!("Unknown value '{text}', valid options are {}.", options.join(", "))
    } else {
        let close: Vec<String> = close.iter().map(|c| format!("'{c}'")).collect();
        format!("Unknown value '{text}', did you mean {}?", close.join(", "))
    };
    let invalid = Invalid::new(message).help(format!("use one of {}", options.join(", ")));
    Err(match close.first() {
        Some(best) => invalid.replace_with(best.trim_matches('\'')),
        None => invalid,
    })
}

/// ESPHome's time units, each with its level in [`Period`] (0 = days … 6 = nanoseconds).
pub const UNITS: &[(&str, usize)] = &[
    ("ns", 6),
    ("nanoseconds", 6),
    ("us", 5),
    ("µs", 5),
    ("microseconds", 5),
    ("ms", 4),
    ("milliseconds", 4),
    ("s", 3),
    ("sec", 3),
    ("seconds", 3),
    ("min", 2),
    ("minutes", 2),
    ("h", 1),
    ("hours", 1),
    ("d", 0),
    ("days", 0),
];

/// Python's `math.isclose`-like test ESPHome uses: within 0.001 of a whole number.
fn approximately_integer(v: f64) -> bool {
    (v - v.round()).abs() < 0.001
}

/// ESPHome's `TimePeriod`: days, hours, minutes, seconds, milliseconds, microseconds and
/// nanoseconds, kept apart. A fraction moves down one level at a time (`1.5s` is 1 s + 500 ms),
/// so `1.5ms` has a microsecond part, which a millisecond period rejects.
#[derive(Default)]
struct Period([f64; 7]);

impl Period {
    /// Adds `value` at `level`, carrying its fraction down as ESPHome's constructor does.
    fn add(&mut self, level: usize, value: f64) -> Result<()> {
        const DOWN: [f64; 6] = [24.0, 60.0, 60.0, 1000.0, 1000.0, 1000.0];
        let mut v = value;
        for (l, slot) in self.0.iter_mut().enumerate().skip(level) {
            if approximately_integer(v) {
                *slot += v.round();
                return Ok(());
            }
            if l == 6 {
                break;
            }
            *slot += v.trunc();
            v = v.fract() * DOWN[l];
        }
        Err(Invalid::new("Maximum precision is nanoseconds").help("round the duration"))
    }

    /// The whole period in milliseconds; microseconds are not allowed (`positive_time_period_milliseconds`).
    fn millis(&self) -> Result<u64> {
        if self.0[5] != 0.0 {
            return Err(Invalid::new("Maximum precision is milliseconds").help("round the duration to whole milliseconds"));
        }
        const MS: [f64; 7] = [86_400_000.0, 3_600_000.0, 60_000.0, 1_000.0, 1.0, 0.001, 0.000_001];
        let total: f64 = self.0.iter().zip(MS).map(|(v, f)| v * f).sum();
        if total < 0.0 {
            return Err(Invalid::new("value must be at least 0s.").help("write a duration of zero or more"));
        }
        if !total.is_finite() || total >= u64::MAX as f64 {
            return Err(Invalid::new("This time period is too long.").help("write a shorter duration"));
        }
        Ok(total.floor() as u64)
    }
}

/// `cv.positive_time_period_milliseconds`: `500ms`, `60s`, `1.5min`, `HH:MM[:SS]`, or a
/// mapping of `days`/`hours`/`minutes`/`seconds`/`milliseconds`/…; never a bare number.
pub fn time_period_ms(node: &Node) -> Result<u64> {
    not_templatable(node)?;
    let mut period = Period::default();
    match &node.value {
        Value::Int(i) => {
            return Err(Invalid::new(format!(
                "Don't know what '{i}' means as it has no time *unit*! Did you mean '{i}s'?"
            ))
            .help(format!("add a unit, e.g. `{i}s`, `{i}ms` or `{i}min`")))
        }
        Value::Str(s) if s.contains(':') => {
            let parts: Option<Vec<f64>> = s.split(':').map(|p| python_int(p, 10).map(|i| i as f64)).collect();
            let (h, m, sec) = match parts.as_deref() {
                Some([h, m]) => (*h, *m, 0.0),
                Some([h, m, sec]) => (*h, *m, *sec),
                _ => return Err(Invalid::new(format!("Expected time period with unit, got {s}")).help("write e.g. `01:30`, `60s` or `5min`")),
            };
            period.add(1, h)?;
            period.add(2, m)?;
            period.add(3, sec)?;
        }
        Value::Str(s) => {
            let (value, level) = parse_with_unit(s.trim())?;
            period.add(level, value)?;
        }
        Value::Map(entries) => {
            const KEYS: [&str; 7] = ["days", "hours", "minutes", "seconds", "milliseconds", "microseconds", "nanoseconds"];
            for e in entries {
                let key = e.key.key_text();
                let Some(level) = KEYS.iter().position(|k| *k == key) else {
                    return Err(Invalid::new(format!("[{key}] is an invalid option for a time period."))
                        .help("use days, hours, minutes, seconds, milliseconds, microseconds or nanoseconds"));
                };
                period.add(level, float(&e.value)?)?;
            }
        }
        _ => return Err(Invalid::new("Expected string for time period with unit.").help("write e.g. `60s` or `5min`")),
    }
    period.millis()
}

/// Python's `int(text, radix)`: surrounding spaces, a sign, `_` between digits, and for base
/// 16 a `0x` prefix (which may be followed by one `_`).
fn python_int(text: &str, radix: u32) -> Option<i64> {
    let t = text.trim();
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let body = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(rest) if radix == 16 => rest.strip_prefix('_').unwrap_or(rest),
        _ => body,
    };
    let well_formed = !body.is_empty()
        && !body.starts_with('_')
        && !body.ends_with('_')
        && !body.contains("__")
        && body.chars().all(|c| c == '_' || c.is_digit(radix));
    if !well_formed {
        return None;
    }
    let value = i64::from_str_radix(&body.replace('_', ""), radix).ok()?;
    Some(if negative { -value } else { value })
}

/// `<number><unit>` as ESPHome's regex `^([-+]?[0-9]*\.?[0-9]*)\s*(\w*)$` reads it.
fn parse_with_unit(s: &str) -> Result<(f64, usize)> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(s.len());
    let (number, unit) = (&s[..split], s[split..].trim_start());
    let bad = || Invalid::new(format!("Expected time period with unit, got {s}")).help("write e.g. `60s` or `5min`");
    let value: f64 = number.parse().map_err(|_| bad())?;
    if unit.is_empty() {
        return Err(Invalid::new(format!("Don't know what '{s}' means as it has no time *unit*! Did you mean '{s}s'?"))
            .help(format!("add a unit, e.g. `{s}s`")));
    }
    let names: Vec<String> = UNITS.iter().map(|(u, _)| u.to_string()).collect();
    let level = match UNITS.iter().find(|(u, _)| *u == unit) {
        Some((_, level)) => *level,
        None => {
            one_of_text(unit, &names)?;
            return Err(bad());
        }
    };
    Ok((value, level))
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
        assert_eq!(int(&node(Value::Str("1_000".into()))).unwrap(), 1000);
        assert_eq!(int(&node(Value::Str("0X1f".into()))).unwrap(), 31);
        assert!(int(&node(Value::Str("1__0".into()))).is_err());
        assert!(int(&node(Value::Str("-+5".into()))).is_err());
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
        assert_eq!(s("1000000ns").unwrap(), 1, "nanoseconds are kept, as in ESPHome");
        assert!(s("1000us").unwrap_err().message.contains("Maximum precision is milliseconds"));
        assert!(s("1.5ms").unwrap_err().message.contains("Maximum precision is milliseconds"));
        assert!(s("30secs").unwrap_err().message.contains("did you mean 'sec'"), "{:?}", s("30secs"));
        assert_eq!(s("1: 30").unwrap(), 5_400_000);
        assert_eq!(s("1_0:00").unwrap(), 36_000_000);
        // ESPHome accepts absurd periods; ours must at least not overflow: it says why it refuses.
        assert!(s("99999999999999999:0").unwrap_err().message.contains("too long"));
        assert!(s("-10s").is_err());
    }

    #[test]
    fn one_of_converts_then_checks() {
        let values = vec!["1".to_string(), "2".to_string()];
        assert_eq!(one_of(&node(Value::Str("2".into())), &values, OneOfConv::Int).unwrap(), Val::Int(2));
        assert_eq!(
            one_of(&node(Value::Int(3)), &values, OneOfConv::Int).unwrap_err().message,
            "Unknown value '3', valid options are '1', '2'."
        );
    }
}
