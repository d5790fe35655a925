//! How configs combine, as ESPHome 2026.10 does it: [`merge`] (its `merge_config`, used for
//! `packages:`) and [`resolve_extend_remove`], the pass after it that applies `!extend` and
//! `!remove`.

use super::node::{Entry, Node, Value};
use crate::diagnostics::Diagnostic;
use crate::source::Span;
use std::collections::HashSet;

/// `merge_config(old, new)`: mappings merge key by key (the new value wins, the old keys keep
/// their place and spans), lists concatenate (old items first), a null new value keeps the old
/// one, `!remove` replaces anything, and any other new value replaces the old.
pub fn merge(old: Node, new: Node) -> Node {
    let Node { span: new_span, value: new_value, secret: new_secret } = new;
    match (old.value, new_value) {
        (_, Value::Remove(name)) => Node { span: new_span, value: Value::Remove(name), secret: None },
        (Value::Map(mut entries), Value::Map(more)) => {
            for entry in more {
                match entries.iter().position(|e| e.key.as_str() == entry.key.as_str()) {
                    Some(i) => {
                        let placeholder = Node::new(entry.value.span, Value::Null);
                        let previous = std::mem::replace(&mut entries[i].value, placeholder);
                        entries[i].value = merge(previous, entry.value);
                    }
                    None => entries.push(entry),
                }
            }
            Node::new(new_span, Value::Map(entries))
        }
        (Value::Seq(mut items), Value::Seq(more)) => {
            items.extend(more);
            Node::new(new_span, Value::Seq(items))
        }
        (value, Value::Null) => Node { span: old.span, value, secret: old.secret },
        (_, value) => Node { span: new_span, value, secret: new_secret },
    }
}

/// What a list item's `id:` says.
enum ItemId {
    Plain(String),
    Extend(String, Span),
    Remove(String),
}

/// The `id:` of a list item, or of the single mapping inside it (`- obj: {id: x}`), as ESPHome's
/// `_get_item_id` finds it.
fn item_id(item: &Node) -> Option<ItemId> {
    let id = match item.get("id") {
        Some(id) => id,
        None => match item.as_map() {
            Some([only]) => only.value.get("id")?,
            _ => return None,
        },
    };
    match &id.value {
        Value::Str(name) => Some(ItemId::Plain(name.clone())),
        Value::Extend(name) => Some(ItemId::Extend(name.clone(), id.span)),
        Value::Remove(name) => Some(ItemId::Remove(name.clone())),
        _ => None,
    }
}

/// Drops the `id: !extend x` from an extending item, so merging it keeps the original id.
fn strip_extend_id(item: &mut Node) {
    let is_extend = |e: &Entry| e.key.as_str() == Some("id") && matches!(e.value.value, Value::Extend(_));
    if let Value::Map(entries) = &mut item.value {
        if entries.iter().any(is_extend) {
            entries.retain(|e| !is_extend(e));
        } else if let [only] = entries.as_mut_slice() {
            if let Value::Map(inner) = &mut only.value.value {
                inner.retain(|e| !is_extend(e));
            }
        }
    }
}

/// ESPHome's `resolve_extend_remove`: in every list, items with `id: !extend x` are merged into
/// the item with id `x` and items with `id: !remove x` drop it (null items go too); in every
/// mapping, keys whose value is `!remove` are dropped.
pub fn resolve_extend_remove(node: &mut Node, diagnostics: &mut Vec<Diagnostic>) {
    match &mut node.value {
        Value::Seq(items) => {
            let marked = items.iter().any(|i| i.is_null() || matches!(item_id(i), Some(ItemId::Extend(..) | ItemId::Remove(_))));
            if marked {
                apply_list_markers(items, diagnostics);
            }
            for item in items.iter_mut() {
                resolve_extend_remove(item, diagnostics);
            }
        }
        Value::Map(entries) => {
            entries.retain(|e| !matches!(e.value.value, Value::Remove(_)));
            for entry in entries.iter_mut() {
                resolve_extend_remove(&mut entry.value, diagnostics);
            }
        }
        Value::Extend(name) => {
            diagnostics.push(
                Diagnostic::error("yaml::extend", node.span, format!("`!extend {name}` can only be the `id:` of a list item"))
                    .with_help("write it as the id of the item to extend, e.g. `- id: !extend my_sensor`"),
            );
            node.value = Value::Null;
        }
        Value::Remove(name) => {
            diagnostics.push(
                Diagnostic::error("yaml::remove", node.span, format!("`!remove {name}` can only be a mapping value or the `id:` of a list item"))
                    .with_help("write `key: !remove` to drop a key, or `- id: !remove my_sensor` to drop a list item"),
            );
            node.value = Value::Null;
        }
        _ => {}
    }
}

/// Rebuilds a list with its `!extend` and `!remove` items applied (ESPHome's `_build_list_index`).
fn apply_list_markers(items: &mut Vec<Node>, diagnostics: &mut Vec<Diagnostic>) {
    // Items keyed by their id (the first item with a given id; later duplicates and items
    // without an id are kept under `None`).
    let mut index: Vec<(Option<String>, Node)> = Vec::with_capacity(items.len());
    let mut extensions = Vec::new();
    let mut removals = HashSet::new();
    for mut item in items.drain(..) {
        if item.is_null() {
            continue;
        }
        match item_id(&item) {
            Some(ItemId::Extend(name, span)) => {
                strip_extend_id(&mut item);
                extensions.push((name, span, item));
            }
            Some(ItemId::Remove(name)) => {
                removals.insert(name);
            }
            Some(ItemId::Plain(name)) if !index.iter().any(|(k, _)| k.as_deref() == Some(name.as_str())) => {
                index.push((Some(name), item));
            }
            _ => index.push((None, item)),
        }
    }
    for (name, span, item) in extensions {
        if removals.contains(&name) {
            continue;
        }
        match index.iter_mut().find(|(k, _)| k.as_deref() == Some(name.as_str())) {
            Some((_, old)) => {
                let previous = std::mem::replace(old, Node::new(span, Value::Null));
                *old = merge(previous, item);
            }
            None => diagnostics.push(
                Diagnostic::error("yaml::extend", span, format!("Source for extension of ID '{name}' was not found."))
                    .with_label("no item in this list has this id")
                    .with_help(format!("`!extend {name}` merges into the item with `id: {name}` in the same list (from a package or the config)")),
            ),
        }
    }
    index.retain(|(k, _)| !k.as_ref().is_some_and(|k| removals.contains(k)));
    *items = index.into_iter().map(|(_, item)| item).collect();
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    fn merged(old: &str, new: &str) -> Node {
        let (_, a) = load_text(old);
        let (_, b) = load_text(new);
        merge(a.root, b.root)
    }

    #[test]
    fn mappings_merge_lists_concatenate_null_keeps() {
        let m = merged("a: {x: 1, y: 2}\nl: [1, 2]\nn: {k: v}\ns: old\n", "a: {y: 3, z: 4}\nl: [3]\nn:\ns: new\nt: 5\n");
        assert_eq!(keys(&m), ["a", "l", "n", "s", "t"]);
        assert_eq!(keys(get(&m, &["a"])), ["x", "y", "z"]);
        assert_eq!(get(&m, &["a", "y"]).value, Value::Int(3));
        assert_eq!(get(&m, &["l"]).as_seq().unwrap().len(), 3);
        assert_eq!(get(&m, &["n", "k"]).value, Value::Str("v".into()));
        assert_eq!(get(&m, &["s"]).value, Value::Str("new".into()));
    }

    #[test]
    fn extend_merges_into_the_item_and_remove_drops() {
        let text = "sensor:\n  - id: a\n    name: A\n    filters: [x]\n  - id: b\n    name: B\n  - id: !extend a\n    name: A2\n    filters: [y]\n  - id: !remove b\nwifi: !remove\nlogger: {}\n";
        let (s, mut l) = load_text(text);
        let mut d = Vec::new();
        resolve_extend_remove(&mut l.root, &mut d);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(keys(&l.root), ["sensor", "logger"]);
        let sensors = get(&l.root, &["sensor"]).as_seq().unwrap();
        assert_eq!(sensors.len(), 1);
        assert_eq!(get(&sensors[0], &["id"]).value, Value::Str("a".into()));
        assert_eq!(get(&sensors[0], &["name"]).value, Value::Str("A2".into()));
        assert_eq!(get(&sensors[0], &["filters"]).as_seq().unwrap().len(), 2);
        assert_eq!(at(&s, get(&sensors[0], &["id"]).span), "device.yaml:2:9");
    }

    #[test]
    fn extend_without_a_source_is_an_error_at_the_tag() {
        // (The loader runs the pass.)
        let (s, l) = load_text("sensor:\n  - id: a\n  - id: !extend nope\n");
        let d = &l.diagnostics;
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "Source for extension of ID 'nope' was not found.");
        assert_eq!(at(&s, d[0].span.unwrap()), "device.yaml:3:9");
    }

    #[test]
    fn single_key_items() {
        let (_, mut l) = load_text("script:\n  - obj: {id: s, v: 1}\n  - obj: {id: !extend s, v: 2}\n");
        let mut d = Vec::new();
        resolve_extend_remove(&mut l.root, &mut d);
        let items = get(&l.root, &["script"]).as_seq().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(get(&items[0], &["obj", "v"]).value, Value::Int(2));
        assert_eq!(get(&items[0], &["obj", "id"]).value, Value::Str("s".into()));
        assert!(d.is_empty());
    }
}
