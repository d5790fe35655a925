//! The `id(x)` references in a lambda's code, as ESPHome finds them, with their YAML spans:
//! one scanner for validation (every reference must name a declared ID) and for code generation
//! (each becomes a parameter of the lambda's function).

use crate::source::{Sources, Span};

/// Every `id(name)` in a lambda, with its byte offset in the code. Comments are skipped, string
/// literals are kept (ESPHome does the same before its `id\(\s*(\w+)\s*\)` scan).
pub fn reference_offsets(code: &str) -> Vec<(String, usize)> {
    let masked = mask_comments(code);
    let bytes = masked.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(found) = masked[i..].find("id(") {
        let start = i + found;
        i = start + 3;
        // ESPHome's `\bid\(`: `my_id(x)` is not a reference.
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        let mut j = i;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        let name_start = j;
        if j < bytes.len() && (bytes[j].is_ascii_alphabetic() || bytes[j] == b'_') {
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            let name_end = j;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b')' {
                out.push((masked[name_start..name_end].to_string(), start));
            }
        }
    }
    out
}

/// A Home Assistant entity ID written as `id(sensor.kitchen)`, which `id()` can't reach
/// (ESPHome rejects it; its regex needs a non-word character before `id(`).
pub fn entity_id_reference(code: &str) -> Option<&str> {
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(found) = code[from..].find("id(") {
        let at = from + found;
        from = at + 3;
        if at == 0 || bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' {
            continue;
        }
        let inner = code[from..].split(')').next().unwrap_or_default().trim();
        let (head, tail) = inner.split_once('.').unwrap_or((inner, ""));
        let word = |s: &str, dots: bool| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || (dots && b == b'.'))
        };
        if word(head, false) && word(tail, true) {
            return Some(inner);
        }
    }
    None
}

/// The code with `//` and `/* */` comments blanked out (same length, so offsets still hold).
fn mask_comments(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut chars = code.char_indices().peekable();
    let mut in_string: Option<char> = None;
    while let Some((_, c)) = chars.next() {
        match in_string {
            Some(q) => {
                out.push(c);
                if c == '\\' {
                    if let Some((_, n)) = chars.next() {
                        out.push(n);
                    }
                } else if c == q {
                    in_string = None;
                }
            }
            None if c == '"' || c == '\'' => {
                in_string = Some(c);
                out.push(c);
            }
            None if c == '/' && chars.peek().map(|p| p.1) == Some('/') => {
                out.push(' ');
                while let Some(&(_, n)) = chars.peek() {
                    if n == '\n' {
                        break;
                    }
                    blank(&mut out, n);
                    chars.next();
                }
            }
            None if c == '/' && chars.peek().map(|p| p.1) == Some('*') => {
                out.push(' ');
                let mut prev = ' ';
                for (_, n) in chars.by_ref() {
                    blank(&mut out, n);
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
            }
            None => out.push(c),
        }
    }
    out
}

/// Blanks out `c`, keeping line breaks and byte offsets.
fn blank(out: &mut String, c: char) {
    if c == '\n' {
        out.push('\n');
    } else {
        out.extend(std::iter::repeat_n(' ', c.len_utf8()));
    }
}

/// Every `id(name)` in `code` (from the YAML node at `span`), with the YAML span of the whole
/// `id(…)`, for diagnostics about the reference.
pub fn references(sources: &Sources, span: Span, code: &str) -> Vec<(String, Span)> {
    let lines = yaml_lines(sources, span, code);
    reference_offsets(code)
        .into_iter()
        .map(|(name, start)| {
            let end = reference_end(code, start).unwrap_or(start + 3);
            (name, code_span(&lines, span, start, end))
        })
        .collect()
}

/// The YAML span of bytes `start..end` of the code of the node at `node`, with its `lines`
/// from [`yaml_lines`].
pub(crate) fn code_span(lines: &[(usize, Option<usize>)], node: Span, start: usize, end: usize) -> Span {
    let at = |code: usize| {
        let line = lines.partition_point(|(s, _)| *s <= code).saturating_sub(1);
        match lines.get(line) {
            Some((line_start, Some(yaml))) => yaml + (code - line_start),
            _ => node.start as usize,
        }
    };
    let start_at = at(start);
    Span::new(node.file, start_at, at(end.max(start)).max(start_at))
}

/// Where `id(` at `start` ends: after `id(`, spaces, the name, spaces and `)`.
pub(crate) fn reference_end(code: &str, start: usize) -> Option<usize> {
    let close = code[start..].find(')')?;
    Some(start + close + 1)
}

/// Each code line's start in the code and where that line's text is in the YAML file. Block
/// scalars strip indentation, so lines are found by searching the node's text in order;
/// a line that can't be found (escapes in a quoted string) maps to the node's start.
pub(crate) fn yaml_lines(sources: &Sources, span: Span, code: &str) -> Vec<(usize, Option<usize>)> {
    let yaml = sources.text(span);
    let mut searched_to = 0;
    let mut out = Vec::new();
    let mut line_start = 0;
    for line in code.split('\n') {
        let found = if line.trim().is_empty() {
            None
        } else {
            yaml.get(searched_to..).and_then(|rest| rest.find(line)).map(|at| searched_to + at)
        };
        if let Some(at) = found {
            searched_to = at + line.len();
        }
        out.push((line_start, found.map(|at| span.start as usize + at)));
        line_start += line.len() + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ids_outside_comments() {
        let code = "id(my_ota).set_auth_password(\"id(x)\"); // id(commented)\n/* id(block) */ id( other ).foo(); my_id(not_one);";
        let refs: Vec<String> = reference_offsets(code).into_iter().map(|(n, _)| n).collect();
        assert_eq!(refs, vec!["my_ota", "x", "other"]);
    }

    #[test]
    fn spots_entity_style_ids() {
        assert_eq!(entity_id_reference("return id(sensor.kitchen_temp).state;"), Some("sensor.kitchen_temp"));
        assert_eq!(entity_id_reference("id(my_ota).set_auth_password(\"x\");"), None);
        assert_eq!(entity_id_reference("id(sensor.x)"), None, "ESPHome needs a character before id(");
    }
}
