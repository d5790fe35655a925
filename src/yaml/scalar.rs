//! YAML 1.1 scalar resolution, exactly as PyYAML's `SafeLoader` (and so ESPHome) does it.
//!
//! The rules are PyYAML's implicit resolvers (`yaml/resolver.py`) and its `construct_yaml_*`
//! functions, written out by hand instead of as regexes. A plain scalar that matches none of them
//! is a string; timestamps (`2024-01-31`) stay strings too, because the tree has no date type and
//! `str()` of a date is the same text.

use super::node::Value;

/// Why a scalar that looks like a number can't be one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberError {
    /// More than 4300 digits: Python (3.11+) refuses to convert such an int to text.
    OutOfRange,
    /// Matches the resolver but has no digits, e.g. `0x_` (PyYAML crashes on these).
    NoDigits,
}

/// The value of an untagged plain scalar.
pub fn resolve_plain(text: &str) -> Result<Value, NumberError> {
    if is_null(text) {
        return Ok(Value::Null);
    }
    if let Some(b) = bool_value(text) {
        return Ok(Value::Bool(b));
    }
    // PyYAML tries float before int; the two patterns never overlap.
    if is_float(text) {
        return Ok(Value::Float(construct_float(text).ok_or(NumberError::NoDigits)?));
    }
    if is_int(text) {
        return match construct_int(text) {
            Err(NumberError::OutOfRange) => big_integer(text).map(Value::Str).ok_or(NumberError::OutOfRange),
            other => other.map(Value::Int),
        };
    }
    Ok(Value::Str(text.to_string()))
}

/// A decimal integer beyond `i64`, as the text Python's `str(int)` gives (strings may hold it,
/// e.g. a numeric password); `None` for other notations.
fn big_integer(text: &str) -> Option<String> {
    let (negative, digits) = sign_and_digits(text);
    // Python refuses to print ints of more than 4300 digits; so does this (and it bounds the work).
    if digits.len() > 4300 {
        return None;
    }
    let (radix, body): (u64, Vec<&str>) = if let Some(bin) = digits.strip_prefix("0b") {
        (2, vec![bin])
    } else if let Some(hex) = digits.strip_prefix("0x") {
        (16, vec![hex])
    } else if digits.contains(':') {
        (60, digits.split(':').collect())
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, vec![&digits[1..]])
    } else {
        (10, vec![digits.as_str()])
    };
    // Decimal limbs of nine digits, least significant first.
    const LIMB: u64 = 1_000_000_000;
    let mut limbs: Vec<u64> = vec![0];
    let mut push = |digit: u64, radix: u64| {
        let mut carry = digit;
        for limb in limbs.iter_mut() {
            let v = *limb * radix + carry;
            *limb = v % LIMB;
            carry = v / LIMB;
        }
        while carry > 0 {
            limbs.push(carry % LIMB);
            carry /= LIMB;
        }
    };
    if radix == 60 {
        for part in body {
            let value = u64::try_from(parse_radix(part, 10).ok()?).ok().filter(|v| *v < 60 * LIMB)?;
            push(value, 60);
        }
    } else {
        let body = body[0];
        if body.is_empty() {
            return None;
        }
        for c in body.chars() {
            push(u64::from(c.to_digit(radix as u32)?), radix);
        }
    }
    let mut out = String::from(if negative { "-" } else { "" });
    let mut rest = limbs.iter().rev();
    out.push_str(&rest.next()?.to_string());
    for limb in rest {
        out.push_str(&format!("{limb:09}"));
    }
    Some(out)
}

pub fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// The YAML 1.1 booleans PyYAML resolves implicitly.
pub fn bool_value(text: &str) -> Option<bool> {
    match text {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// `!!bool` accepts any case (`construct_yaml_bool` lowercases first).
pub fn bool_value_any_case(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" => Some(true),
        "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// A cursor over ASCII bytes, for the hand-written resolver patterns.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn new(s: &str) -> Cursor<'_> {
        Cursor { s: s.as_bytes(), i: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += hit as usize;
        hit
    }

    fn eat_str(&mut self, lit: &str) -> bool {
        let hit = self.s[self.i..].starts_with(lit.as_bytes());
        if hit {
            self.i += lit.len();
        }
        hit
    }

    /// Skips bytes matching `f`, returning how many.
    fn skip(&mut self, f: impl Fn(u8) -> bool) -> usize {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        self.i - start
    }

    /// `[0-9_]*` after a dot: always matches.
    fn fraction(&mut self) -> bool {
        self.skip(digit_or_underscore);
        true
    }

    fn sign(&mut self) {
        let _ = self.eat(b'-') || self.eat(b'+');
    }

    fn done(&self) -> bool {
        self.i == self.s.len()
    }

    /// `(?::[0-5]?[0-9])+`: at least one sexagesimal part.
    fn sexagesimal_parts(&mut self) -> bool {
        let mut parts = 0;
        while self.eat(b':') {
            let start = self.i;
            let n = self.skip(|c| c.is_ascii_digit());
            if !(n == 1 || (n == 2 && self.s[start] <= b'5')) {
                return false;
            }
            parts += 1;
        }
        parts > 0
    }

    /// `(?:[eE][-+][0-9]+)?` at the end. Note the mandatory sign: `1.5e3` is a string.
    fn optional_exponent_then_end(&mut self) -> bool {
        let has_exponent = self.eat(b'e') || self.eat(b'E');
        if has_exponent && (!(self.eat(b'-') || self.eat(b'+')) || self.skip(|c| c.is_ascii_digit()) == 0) {
            return false;
        }
        self.done()
    }
}

fn digit_or_underscore(c: u8) -> bool {
    c.is_ascii_digit() || c == b'_'
}

/// PyYAML's float pattern. A dot is required (`1e3` is a string), and an exponent needs a sign.
fn is_float(text: &str) -> bool {
    let alternatives: [fn(&mut Cursor) -> bool; 5] = [
        // [-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?
        |c| {
            c.sign();
            c.peek().is_some_and(|b| b.is_ascii_digit())
                && c.skip(digit_or_underscore) > 0
                && c.eat(b'.')
                && c.fraction()
                && c.optional_exponent_then_end()
        },
        // \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
        |c| {
            c.eat(b'.')
                && c.peek().is_some_and(|b| b.is_ascii_digit())
                && c.skip(digit_or_underscore) > 0
                && c.optional_exponent_then_end()
        },
        // [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
        |c| {
            c.sign();
            c.peek().is_some_and(|b| b.is_ascii_digit())
                && c.skip(digit_or_underscore) > 0
                && c.sexagesimal_parts()
                && c.eat(b'.')
                && c.fraction()
                && c.done()
        },
        // [-+]?\.(?:inf|Inf|INF)
        |c| {
            c.sign();
            (c.eat_str(".inf") || c.eat_str(".Inf") || c.eat_str(".INF")) && c.done()
        },
        // \.(?:nan|NaN|NAN)
        |c| (c.eat_str(".nan") || c.eat_str(".NaN") || c.eat_str(".NAN")) && c.done(),
    ];
    alternatives.iter().any(|alt| alt(&mut Cursor::new(text)))
}

/// PyYAML's int pattern: binary, octal with a leading 0, decimal, hex, and sexagesimal (`1:30`).
fn is_int(text: &str) -> bool {
    let alternatives: [fn(&mut Cursor) -> bool; 5] = [
        |c| {
            c.sign();
            c.eat_str("0b") && c.skip(|b| matches!(b, b'0' | b'1' | b'_')) > 0 && c.done()
        },
        |c| {
            c.sign();
            c.eat(b'0') && c.skip(|b| matches!(b, b'0'..=b'7' | b'_')) > 0 && c.done()
        },
        |c| {
            c.sign();
            if c.eat(b'0') {
                return c.done();
            }
            c.peek().is_some_and(|b| matches!(b, b'1'..=b'9')) && c.skip(digit_or_underscore) > 0 && c.done()
        },
        |c| {
            c.sign();
            c.eat_str("0x") && c.skip(|b| b.is_ascii_hexdigit() || b == b'_') > 0 && c.done()
        },
        |c| {
            c.sign();
            c.peek().is_some_and(|b| matches!(b, b'1'..=b'9'))
                && c.skip(digit_or_underscore) > 0
                && c.sexagesimal_parts()
                && c.done()
        },
    ];
    alternatives.iter().any(|alt| alt(&mut Cursor::new(text)))
}

/// Splits off the sign and removes `_`, as both PyYAML number constructors do first.
fn sign_and_digits(text: &str) -> (bool, String) {
    let cleaned: String = text.chars().filter(|&c| c != '_').collect();
    match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned).to_string()),
    }
}

/// PyYAML's `construct_yaml_int`. Also used for `!!int`, so it checks the pattern itself.
pub fn construct_int(text: &str) -> Result<i64, NumberError> {
    let (negative, digits) = sign_and_digits(text);
    let magnitude: i128 = if let Some(bin) = digits.strip_prefix("0b") {
        parse_radix(bin, 2)?
    } else if let Some(hex) = digits.strip_prefix("0x") {
        parse_radix(hex, 16)?
    } else if digits.contains(':') {
        // Base 60, most significant part first: 1:30 = 90.
        let mut value: i128 = 0;
        for part in digits.split(':') {
            value = value.checked_mul(60).ok_or(NumberError::OutOfRange)? + parse_radix(part, 10)?;
        }
        value
    } else if digits.len() > 1 && digits.starts_with('0') {
        parse_radix(&digits, 8)?
    } else {
        parse_radix(&digits, 10)?
    };
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).map_err(|_| NumberError::OutOfRange)
}

fn parse_radix(digits: &str, radix: u32) -> Result<i128, NumberError> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(NumberError::NoDigits);
    }
    i128::from_str_radix(digits, radix).map_err(|_| NumberError::OutOfRange)
}

/// PyYAML's `construct_yaml_float`. `None` when the text is not a float at all (for `!!float`).
pub fn construct_float(text: &str) -> Option<f64> {
    let (negative, digits) = sign_and_digits(text);
    let digits = digits.to_ascii_lowercase();
    let magnitude = match digits.as_str() {
        ".inf" => f64::INFINITY,
        ".nan" => return Some(f64::NAN),
        _ if digits.contains(':') => {
            let mut value = 0.0;
            for part in digits.split(':') {
                value = value * 60.0 + python_float(part)?;
            }
            value
        }
        _ => python_float(&digits)?,
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Python's `float()` for the unsigned decimal forms the resolver lets through (`1.`, `.5`,
/// `1.e+3`), which Rust's parser doesn't all accept as written.
fn python_float(s: &str) -> Option<f64> {
    if !s.bytes().any(|b| b.is_ascii_digit()) || s.starts_with(['+', '-']) {
        return None;
    }
    let s = s.replace(".e", ".0e");
    let s = if s.starts_with('.') { format!("0{s}") } else { s };
    let s = if s.ends_with('.') { format!("{s}0") } else { s };
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value {
        resolve_plain(text).unwrap()
    }

    #[test]
    fn nulls_and_bools() {
        for t in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(v(t), Value::Null, "{t:?}");
        }
        for t in ["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"] {
            assert_eq!(v(t), Value::Bool(true), "{t}");
        }
        for t in ["no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"] {
            assert_eq!(v(t), Value::Bool(false), "{t}");
        }
        for t in ["nULL", "yEs", "oN", "y", "n", "NuLL"] {
            assert_eq!(v(t), Value::Str(t.into()), "{t}");
        }
    }

    #[test]
    fn ints() {
        let cases = [
            ("0", 0),
            ("-0", 0),
            ("42", 42),
            ("+42", 42),
            ("-17", -17),
            ("1_000", 1000),
            ("0x1F", 31),
            ("0xff", 255),
            ("-0x10", -16),
            ("0b101", 5),
            ("0b1_0", 2),
            ("017", 15),
            ("0_7", 7),
            ("00", 0),
            ("1:30", 90),
            ("-1:00:01", -3601),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ];
        for (text, want) in cases {
            assert_eq!(v(text), Value::Int(want), "{text}");
        }
        // Beyond i64 an integer stays exact, as the text Python's str(int) gives.
        assert_eq!(resolve_plain("9223372036854775808"), Ok(Value::Str("9223372036854775808".into())));
        assert_eq!(resolve_plain("+1_000_000_000_000_000_000_000"), Ok(Value::Str("1000000000000000000000".into())));
        assert_eq!(resolve_plain("0x1_0000_0000_0000_0000"), Ok(Value::Str("18446744073709551616".into())));
        assert_eq!(resolve_plain("0xEC011454E099AA28"), Ok(Value::Str("17005896022705678888".into())));
        assert_eq!(resolve_plain("-0b1111111111111111111111111111111111111111111111111111111111111111"), Ok(Value::Str("-18446744073709551615".into())));
        assert_eq!(resolve_plain("0777777777777777777777777"), Ok(Value::Str("4722366482869645213695".into())));
        assert_eq!(resolve_plain("0x_"), Err(NumberError::NoDigits));
    }

    #[test]
    fn floats() {
        let cases = [
            ("1.5", 1.5),
            ("-1.5", -1.5),
            ("1.", 1.0),
            (".5", 0.5),
            ("1.5e+3", 1500.0),
            ("1.5E-1", 0.15),
            ("1.e+2", 100.0),
            ("1_0.2_5", 10.25),
            ("1:30.5", 90.5),
            ("-.inf", f64::NEG_INFINITY),
            (".Inf", f64::INFINITY),
            ("+.INF", f64::INFINITY),
        ];
        for (text, want) in cases {
            assert_eq!(v(text), Value::Float(want), "{text}");
        }
        assert!(matches!(v(".nan"), Value::Float(f) if f.is_nan()));
    }

    #[test]
    fn look_alikes_are_strings() {
        for t in [
            "1e3", "1.5e3", "-.5", "+.5", ".", "0o17", "09", "0:30", "1:60", "1:30:", "0x", "0b", "1__a", "12:30pm",
            "2024-01-31", "=", "<<", ".nan1", "-.nan", "1.5.5", "1,000", "0x1G", "v1.2", "inf", "nan", "1:3a",
        ] {
            assert_eq!(v(t), Value::Str(t.into()), "{t}");
        }
    }

    #[test]
    fn explicit_constructors() {
        assert_eq!(construct_int("12"), Ok(12));
        assert_eq!(construct_int("abc"), Err(NumberError::NoDigits));
        assert_eq!(construct_float("3"), Some(3.0));
        assert_eq!(construct_float("1e3"), Some(1000.0));
        assert_eq!(construct_float("abc"), None);
        assert_eq!(construct_float("--1"), None);
        assert_eq!(bool_value_any_case("yEs"), Some(true));
        assert_eq!(bool_value_any_case("maybe"), None);
    }
}
