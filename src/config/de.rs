//! The validated tree read into types with serde: `config::read::<T>(item)`. The tree is already
//! checked against `schema/` and complete with its defaults, so a type that doesn't fit is a
//! bug in ferrota (a schema and its typed config disagree), reported as such.

use super::{Item, Val};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// A typed config that does not fit the validated tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeError(pub String);

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the validated config does not fit its type (a bug in ferrota): {}", self.0)
    }
}

impl std::error::Error for TypeError {}

impl de::Error for TypeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        TypeError(msg.to_string())
    }
}

/// A key a typed config accepts and does not read (it lists why, or another diagnostic covers
/// it).
pub type Unused = Option<de::IgnoredAny>;

/// `item` as a `T`.
pub fn read<'a, T: Deserialize<'a>>(item: &'a Item) -> Result<T, TypeError> {
    T::deserialize(ItemDeserializer(item))
}

struct ItemDeserializer<'a>(&'a Item);

impl<'de> de::Deserializer<'de> for ItemDeserializer<'de> {
    type Error = TypeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        match &self.0.value {
            Val::Null => visitor.visit_unit(),
            Val::Bool(b) => visitor.visit_bool(*b),
            Val::Int(i) => visitor.visit_i64(*i),
            Val::Float(f) => visitor.visit_f64(*f),
            Val::Str(s) | Val::Lambda(s) => visitor.visit_borrowed_str(s),
            Val::Id { name, .. } => visitor.visit_borrowed_str(name),
            Val::Millis(ms) => visitor.visit_u64(*ms),
            Val::List(items) => visitor.visit_seq(Items(items.iter())),
            Val::Map(fields) => visitor.visit_map(Fields { fields: fields.iter(), value: None }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        match self.0.value {
            Val::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(self, _name: &'static str, _variants: &'static [&'static str], visitor: V) -> Result<V::Value, TypeError> {
        match &self.0.value {
            Val::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Val::Int(i) => visitor.visit_enum(i.to_string().into_deserializer()),
            other => Err(TypeError(format!("expected a choice, found {other:?}"))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct Items<'a>(std::slice::Iter<'a, Item>);

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = TypeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, TypeError> {
        self.0.next().map(|item| seed.deserialize(ItemDeserializer(item))).transpose()
    }
}

struct Fields<'a> {
    fields: std::slice::Iter<'a, super::Field>,
    value: Option<&'a Item>,
}

impl<'de> MapAccess<'de> for Fields<'de> {
    type Error = TypeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, TypeError> {
        let Some(field) = self.fields.next() else { return Ok(None) };
        self.value = Some(&field.value);
        seed.deserialize(de::value::BorrowedStrDeserializer::new(&field.key)).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, TypeError> {
        let value = self.value.take().ok_or_else(|| TypeError("a value without its key".into()))?;
        seed.deserialize(ItemDeserializer(value))
    }
}

/// The keys a typed config struct reads (its serde field names), e.g. to hold a schema and its
/// type to the same keys.
pub fn field_names<'a, T: Deserialize<'a>>() -> &'static [&'static str] {
    struct Names(Option<&'static [&'static str]>);
    impl<'de> de::Deserializer<'de> for &mut Names {
        type Error = TypeError;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, TypeError> {
            Err(TypeError("not a struct".into()))
        }
        fn deserialize_struct<V: Visitor<'de>>(self, _: &'static str, fields: &'static [&'static str], _: V) -> Result<V::Value, TypeError> {
            self.0 = Some(fields);
            Err(TypeError("names only".into()))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut names = Names(None);
    let _ = T::deserialize(&mut names);
    names.0.unwrap_or(&[])
}
