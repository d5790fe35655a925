//! The schema files as `build.rs` pre-parsed them: their structure in a compact text form
//! (`M<n>;` a mapping of n pairs, `L<n>;` a list, `P<len>;text` a plain scalar, `Q<len>;text`
//! a quoted or block one). Scalars are typed here with the loader's own YAML 1.1 rules, so the
//! tree is the one the loader builds (`Registry::check_all` compares them), without parsing
//! YAML at run time: that was most of a `ferrota config` run.

use crate::source::{FileId, Span};
use crate::yaml::{Entry, Node, Value};

/// The tree of one schema file; `None` if `tree` is not what `build.rs` writes.
pub fn node(tree: &str) -> Option<Node> {
    let mut rest = tree;
    let node = read(&mut rest)?;
    rest.is_empty().then_some(node)
}

fn read(rest: &mut &str) -> Option<Node> {
    let span = Span::point(FileId(0), 0);
    let kind = rest.chars().next()?;
    let (count, after) = rest[1..].split_once(';')?;
    let count: usize = count.parse().ok()?;
    *rest = after;
    let value = match kind {
        'P' | 'Q' => {
            let text = rest.get(..count)?;
            *rest = &rest[count..];
            if kind == 'P' { crate::yaml::plain_scalar(text) } else { Value::Str(text.to_string()) }
        }
        'L' => Value::Seq((0..count).map(|_| read(rest)).collect::<Option<_>>()?),
        'M' => Value::Map(
            (0..count)
                .map(|_| {
                    let key = read(rest)?;
                    let text = if key.is_null() { "None".to_string() } else { key.key_text() };
                    Some(Entry { key: Node::new(span, Value::Str(text)), value: read(rest)? })
                })
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    };
    Some(Node::new(span, value))
}

/// The tree without its spans, to compare with the loader's (`Registry::check_all`).
pub fn without_spans(node: &Node) -> Node {
    let span = Span::point(FileId(0), 0);
    let value = match &node.value {
        Value::Seq(items) => Value::Seq(items.iter().map(without_spans).collect()),
        Value::Map(entries) => Value::Map(
            entries.iter().map(|e| Entry { key: without_spans(&e.key), value: without_spans(&e.value) }).collect(),
        ),
        other => other.clone(),
    };
    Node::new(span, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_compact_form() {
        let n = node("M2;P4;portP4;3232P3;docQ5;a: b!").unwrap();
        assert_eq!(n.get("port").unwrap().value, Value::Int(3232));
        assert_eq!(n.get("doc").unwrap().value, Value::Str("a: b!".into()));
        assert_eq!(node("L2;P3;yesP0;").unwrap().as_seq().unwrap()[0].value, Value::Bool(true));
        assert!(node("M1;P1;a").is_none(), "a pair needs its value");
        assert!(node("P9;short").is_none());
        assert!(node("X1;").is_none());
    }
}
