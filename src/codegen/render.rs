//! The templates: minijinja with strict undefined and an output rule that no string reaches
//! the generated Rust unless a filter made it safe:
//!
//! - `rust_str`: a Rust string literal (every character that could end or bend it escaped);
//! - `ident`: a Rust identifier or `::` path (checked; keywords become raw identifiers);
//! - `toml_str`: a TOML basic string (for `Cargo.toml`);
//! - `comment`: text for a `//` comment (line breaks and control characters escaped);
//! - `code`: a lambda's code region, placed with its lines indented like the line it starts on;
//! - `hex`: an integer as `0x…` (flash offsets and sizes).
//!
//! A template that prints any other string fails to render, so a YAML string can't slip into
//! the generated source by a forgotten filter.

use minijinja::value::Value;
use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};

/// Start, middle and end of a code region in the rendered text, before [`place_regions`].
const OPEN: char = '\u{1}';
const MID: char = '\u{2}';
const CLOSE: char = '\u{3}';

/// Where a code region ended up in a generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub region: usize,
    /// Byte range in the generated file.
    pub start: usize,
    pub end: usize,
    /// For each line of the region's text: (where it starts in the file, where in the text).
    pub lines: Vec<(usize, usize)>,
}

/// A rendered file and its code regions.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub text: String,
    pub placed: Vec<Placed>,
}

/// The template environment with the filters and the output rule.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Block tags on their own lines leave no blank lines behind; files end with a newline.
    if let Ok(syntax) = SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).keep_trailing_newline(true).build() {
        env.set_syntax(syntax);
    }
    // No way around the filters below.
    env.remove_filter("safe");
    env.set_formatter(|out, _state, value| {
        if value.as_str().is_some() && !value.is_safe() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("template prints the string {value:?} without rust_str, ident, comment or code"),
            ));
        }
        write!(out, "{value}").map_err(|_| Error::new(ErrorKind::WriteFailure, "write failed"))
    });
    env.add_filter("rust_str", |s: String| Value::from_safe_string(rust_str(&s)));
    env.add_filter("comment", |s: String| Value::from_safe_string(comment(&s)));
    env.add_filter("toml_str", |s: String| Value::from_safe_string(toml_str(&s)));
    env.add_filter("ident", |s: String| {
        let segments: Option<Vec<String>> = s.split("::").map(ident).collect();
        segments.map(|s| Value::from_safe_string(s.join("::"))).ok_or_else(|| {
            Error::new(ErrorKind::InvalidOperation, format!("{s:?} is not a Rust identifier"))
        })
    });
    env.add_filter("hex", |n: u64| Value::from_safe_string(format!("{n:#x}")));
    env.add_filter("code", |code: Value| -> Result<Value, Error> {
        let region = code.get_attr("region")?;
        let text = code.get_attr("text")?;
        let text = text.as_str().ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "code without text"))?;
        Ok(Value::from_safe_string(format!("{OPEN}{region}{MID}{text}{CLOSE}")))
    });
    env
}

/// A Rust string literal holding `s`. Control characters and the bidi overrides that rustc
/// rejects in literals are written as `\u{…}` escapes.
pub fn rust_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_bidi(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML basic string holding `s` (TOML escapes are `\uXXXX`/`\UXXXXXXXX`, not Rust's).
pub fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || is_bidi(c) => out.push_str(&format!("\\U{:08X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for a `//` comment: one line, no control or bidi characters.
pub fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() || is_bidi(c) { format!("\\u{{{:x}}}", c as u32) } else { c.to_string() })
        .collect()
}

/// `name` as a Rust identifier: keywords as raw identifiers (`r#type`), and the few names
/// that can't be raw (`self`, `crate` …) with `_` appended. `None` for anything else.
pub fn ident(name: &str) -> Option<String> {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "box", "break", "const", "continue", "do", "dyn", "else", "enum", "extern", "false", "final",
        "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv",
        "pub", "ref", "return", "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
        "virtual", "where", "while", "yield", "abstract", "become",
    ];
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return None;
    }
    Some(match name {
        "self" | "Self" | "super" | "crate" | "_" => format!("{name}_"),
        n if KEYWORDS.contains(&n) => format!("r#{n}"),
        n => n.to_string(),
    })
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}')
}

/// Renders `source` and places its code regions.
pub fn render(env: &Environment<'_>, name: &str, context: &Value) -> Result<Rendered, Error> {
    let raw = env.get_template(name)?.render(context)?;
    Ok(place_regions(&raw))
}

/// Removes the region markers; each line after a region's first is indented like the line the
/// region starts on (blank lines stay empty), and every line's position is recorded.
fn place_regions(raw: &str) -> Rendered {
    let mut text = String::with_capacity(raw.len());
    let mut placed = Vec::new();
    let mut rest = raw;
    while let Some(open) = rest.find(OPEN) {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let (Some(mid), Some(close)) = (after.find(MID), after.find(CLOSE)) else {
            // Markers come only from the `code` filter, which always writes all three.
            text.push_str(after);
            rest = "";
            break;
        };
        let region = after[..mid].parse().unwrap_or(usize::MAX);
        let code = &after[mid + 1..close];
        let line_start = text.rfind('\n').map_or(0, |n| n + 1);
        let indent: String = text[line_start..].chars().take_while(|c| *c == ' ').collect();
        let start = text.len();
        let mut lines = Vec::new();
        let mut code_at = 0;
        for (i, line) in code.split('\n').enumerate() {
            if i > 0 {
                text.push('\n');
                if !line.is_empty() {
                    text.push_str(&indent);
                }
            }
            lines.push((text.len(), code_at));
            text.push_str(line);
            code_at += line.len() + 1;
        }
        placed.push(Placed { region, start, end: text.len(), lines });
        rest = &after[close + 1..];
    }
    text.push_str(rest);
    Rendered { text, placed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_become_literals_that_cannot_escape() {
        assert_eq!(rust_str("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(rust_str("\u{202e}x\u{0}"), r#""\u{202e}x\u{0}""#);
        assert_eq!(comment("x\n}fn evil(){"), "x\\u{a}}fn evil(){");
        assert_eq!(ident("my_ota").as_deref(), Some("my_ota"));
        assert_eq!(ident("type").as_deref(), Some("r#type"));
        assert_eq!(ident("self").as_deref(), Some("self_"));
        assert_eq!(ident("a-b"), None);
        assert_eq!(toml_str("C:\\x \"y\"\n"), r#""C:\\x \"y\"\U0000000A""#);
    }

    #[test]
    fn unfiltered_strings_and_unknown_names_fail_to_render() {
        let mut env = environment();
        env.add_template("t", "{{ s }}").unwrap();
        let ctx = Value::from(minijinja::value::Serde(serde_json::json!({"s": "x"})));
        assert!(render(&env, "t", &ctx).is_err());
        env.add_template("u", "{{ nope | rust_str }}").unwrap();
        assert!(render(&env, "u", &ctx).is_err());
        env.add_template("v", "{{ s | safe }}").unwrap();
        assert!(render(&env, "v", &ctx).is_err());
        env.add_template("w", "let s = {{ s | rust_str }}; // {{ 8082 }}").unwrap();
        assert_eq!(render(&env, "w", &ctx).unwrap().text, "let s = \"x\"; // 8082");
    }

    #[test]
    fn regions_are_indented_and_located() {
        let mut env = environment();
        env.add_template("t", "fn f() {\n    {{ c | code }}\n}\n").unwrap();
        let ctx = Value::from(minijinja::value::Serde(serde_json::json!({"c": {"region": 7, "text": "a();\n\nb();"}})));
        let out = render(&env, "t", &ctx).unwrap();
        assert_eq!(out.text, "fn f() {\n    a();\n\n    b();\n}\n");
        let p = &out.placed[0];
        assert_eq!(p.region, 7);
        assert_eq!(&out.text[p.start..p.end], "a();\n\n    b();");
        assert_eq!(p.lines, vec![(13, 0), (18, 5), (23, 6)]);
    }
}
