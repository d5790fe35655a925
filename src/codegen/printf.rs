//! printf formats (what `logger.log` takes, as in ESPHome) translated to Rust `format!` strings.
//!
//! Only the text is translated; the arguments stay the user's Rust expressions. Braces are
//! doubled, so a format can never name a variable of the generated code.

/// A printf format turned into a Rust format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// The Rust format string (not yet a literal: the template's `rust_str` filter quotes it).
    pub format: String,
    /// How many arguments it takes.
    pub placeholders: usize,
}

/// A conversion Rust's formatting cannot express, at byte `offset` of the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub offset: usize,
    pub message: String,
}

const FLAGS: &[char] = &['-', '+', ' ', '#', '0'];
const LENGTHS: &[&str] = &["hh", "h", "ll", "l", "j", "z", "t", "L", "q"];

/// Translates `%d`, `%5.1f`, `%-8s`, `%02X`, `%%` … to `{}`, `{:5.1}`, `{:<8}`, `{:02X}`, `%`.
/// C's `%f` prints 6 decimals, so a bare `%f` becomes `{:.6}`.
pub fn translate(format: &str) -> Result<Translated, Unsupported> {
    let mut out = String::with_capacity(format.len() + 8);
    let mut placeholders = 0;
    let mut chars = format.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' => out.push_str("{{"),
            '}' => out.push_str("}}"),
            '%' => {
                let mut flags = String::new();
                while let Some(&(_, f)) = chars.peek().filter(|(_, f)| FLAGS.contains(f)) {
                    flags.push(f);
                    chars.next();
                }
                let width = take_digits(&mut chars, at)?;
                let precision = match chars.peek() {
                    Some(&(_, '.')) => {
                        chars.next();
                        Some(take_digits(&mut chars, at)?.unwrap_or_default())
                    }
                    _ => None,
                };
                let rest = &format[chars.peek().map_or(format.len(), |p| p.0)..];
                if let Some(len) = LENGTHS.iter().find(|l| rest.starts_with(**l)) {
                    for _ in 0..len.len() {
                        chars.next();
                    }
                }
                let Some((_, conversion)) = chars.next() else {
                    return Err(Unsupported { offset: at, message: "the format ends in the middle of a `%` placeholder".into() });
                };
                if conversion == '%' && flags.is_empty() && width.is_none() && precision.is_none() {
                    out.push('%');
                    continue;
                }
                out.push_str(&placeholder(&flags, width, precision, conversion).ok_or_else(|| Unsupported {
                    offset: at,
                    message: format!("`%{conversion}` has no Rust equivalent; use %d, %u, %f, %e, %s, %c, %x, %X, %o or %p"),
                })?);
                placeholders += 1;
            }
            c => out.push(c),
        }
    }
    Ok(Translated { format: out, placeholders })
}

/// Reads a width or precision; `*` (taken from the arguments) has no Rust equivalent.
fn take_digits(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, at: usize) -> Result<Option<String>, Unsupported> {
    if chars.peek().is_some_and(|(_, c)| *c == '*') {
        return Err(Unsupported { offset: at, message: "`*` widths and precisions are not supported: write the number".into() });
    }
    let mut digits = String::new();
    while let Some(&(_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
        digits.push(d);
        chars.next();
    }
    Ok((!digits.is_empty()).then_some(digits))
}

/// One Rust placeholder, `{:[<][+][#][0][width][.precision][type]}`.
fn placeholder(flags: &str, width: Option<String>, precision: Option<String>, conversion: char) -> Option<String> {
    let (kind, default_precision) = match conversion {
        'd' | 'i' | 'u' | 's' | 'c' => ("", None),
        'f' | 'F' => ("", Some("6")),
        'g' | 'G' => ("", None),
        'e' => ("e", Some("6")),
        'E' => ("E", Some("6")),
        'x' => ("x", None),
        'X' => ("X", None),
        'o' => ("o", None),
        'p' => ("p", None),
        _ => return None,
    };
    let mut spec = String::new();
    let left = flags.contains('-');
    if left {
        spec.push('<');
    }
    if flags.contains('+') {
        spec.push('+');
    }
    if flags.contains('#') {
        spec.push('#');
    }
    // C ignores `0` for left-aligned output; Rust would pad with zeros on the right.
    if flags.contains('0') && !left {
        spec.push('0');
    }
    spec.push_str(width.as_deref().unwrap_or(""));
    if let Some(p) = precision.as_deref().or(default_precision) {
        spec.push('.');
        spec.push_str(p);
    }
    spec.push_str(kind);
    Some(if spec.is_empty() { "{}".into() } else { format!("{{:{spec}}}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(format: &str) -> String {
        translate(format).unwrap().format
    }

    #[test]
    fn common_conversions() {
        assert_eq!(t("OTA progress %0.1f%%"), "OTA progress {:0.1}%");
        assert_eq!(t("code 0x%02X"), "code 0x{:02X}");
        assert_eq!(t("%d %i %u %ld %lu %zu %s %c"), "{} {} {} {} {} {} {} {}");
        assert_eq!(t("%f|%.2f|%8.3f|%e"), "{:.6}|{:.2}|{:8.3}|{:.6e}");
        assert_eq!(t("%-8s|%+d|%#x|%-05d|%o|%p"), "{:<8}|{:+}|{:#x}|{:<5}|{:o}|{:p}");
        assert_eq!(translate("%d of %d").unwrap().placeholders, 2);
    }

    #[test]
    fn braces_cannot_reach_format_arguments() {
        let out = translate("{password} {0} {:?} %d").unwrap();
        assert_eq!(out.format, "{{password}} {{0}} {{:?}} {}");
        assert_eq!(out.placeholders, 1);
    }

    #[test]
    fn unsupported_conversions_point_at_the_placeholder() {
        assert_eq!(translate("a %*d").unwrap_err().offset, 2);
        assert!(translate("x %n").unwrap_err().message.contains("`%n`"));
        assert!(translate("ends %").is_err());
        assert_eq!(translate("ü %q").unwrap_err().offset, 3);
    }
}
