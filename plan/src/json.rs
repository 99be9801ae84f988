//! Strict JSON reading, shared by the compiler (spec files) and the runtime (request bodies):
//! a repeated key is refused, because two parsers that keep different copies disagree on the
//! document (a known validation bypass), and nesting is bounded.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A larger `max_depth` is capped to this, so that our refusal (with its clear message) always comes
/// before serde_json's own recursion limit of 128.
pub const DEPTH_CEILING: u32 = 126;

/// Parses JSON text with no repeated key in any object and at most `max_depth` levels of nesting.
///
/// Errors carry serde_json's line and column. Their messages start with `duplicate key` or
/// `nesting deeper than` for those two refusals.
pub fn parse_strict(text: &[u8], max_depth: u32) -> Result<Value, serde_json::Error> {
    parse_bounded(text, max_depth, true)
}

/// Like [`parse_strict`]; with `reject_duplicates` false, a repeated key keeps its last value.
pub fn parse_bounded(
    text: &[u8],
    max_depth: u32,
    reject_duplicates: bool,
) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let max_depth = max_depth.min(DEPTH_CEILING);
    let value = Strict {
        depth_left: max_depth,
        max_depth,
        reject_duplicates,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

#[derive(Clone, Copy)]
struct Strict {
    depth_left: u32,
    max_depth: u32,
    reject_duplicates: bool,
}

/// The depth left inside one more level of nesting, or the refusal of a reader bounded to
/// `max_depth` levels (its message starts with `nesting deeper than`).
pub fn nested<E: de::Error>(depth_left: u32, max_depth: u32) -> Result<u32, E> {
    depth_left
        .checked_sub(1)
        .ok_or_else(|| E::custom(format_args!("nesting deeper than {max_depth} levels")))
}

impl Strict {
    fn nested<E: de::Error>(self) -> Result<Self, E> {
        let depth_left = nested(self.depth_left, self.max_depth)?;
        Ok(Self { depth_left, ..self })
    }
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            // One lookup per key: the entry both detects a repeat (reported at the repeated key)
            // and takes the value.
            match map.entry(key) {
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(access.next_value_seed(inner)?);
                }
                serde_json::map::Entry::Occupied(slot) if self.reject_duplicates => {
                    return Err(de::Error::custom(format_args!(
                        "duplicate key `{}`",
                        slot.key()
                    )));
                }
                serde_json::map::Entry::Occupied(slot) => {
                    *slot.into_mut() = access.next_value_seed(inner)?;
                }
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_repeated_keys_at_any_depth() {
        let e = parse_strict(br#"{"a": {"role": "user", "role": "admin"}}"#, 64).unwrap_err();
        assert!(e.to_string().starts_with("duplicate key `role`"), "{e}");
        assert!(parse_strict(br#"{"a": 1, "b": {"a": 2}}"#, 64).is_ok());
    }

    #[test]
    fn bounds_nesting() {
        assert!(parse_strict(b"[[[1]]]", 3).is_ok());
        let e = parse_strict(b"[[[[1]]]]", 3).unwrap_err();
        assert!(
            e.to_string().starts_with("nesting deeper than 3 levels"),
            "{e}"
        );
        let deep = "[".repeat(1000) + &"]".repeat(1000);
        assert!(
            parse_strict(deep.as_bytes(), 10_000).is_err(),
            "capped at serde_json's own limit"
        );
    }
}
