//! Deserializing JSON5 into a `serde_json::Value` without losing anything: `NaN` and
//! `Infinity` (valid JSON5, not representable in JSON) are errors instead of the silent `null`
//! that `serde_json::Value` would make of them.

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON value read without loss.
pub struct Strict(pub Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: Error>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<Strict, E> {
        Number::from_f64(v)
            .map(|n| Strict(Value::Number(n)))
            .ok_or_else(|| E::custom(format!("{v} cannot be represented in JSON")))
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_string())))
    }

    fn visit_string<E: Error>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }

    fn visit_unit<E: Error>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }

    fn visit_none<E: Error>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Strict, D::Error> {
        Strict::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Strict(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut out = Map::new();
        while let Some((k, Strict(v))) = map.next_entry::<String, Strict>()? {
            out.insert(k, v);
        }
        Ok(Strict(Value::Object(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::Strict;
    use serde_json::json;

    fn parse(s: &str) -> Result<serde_json::Value, String> {
        json5::from_str::<Strict>(s)
            .map(|s| s.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn json5_values() {
        assert_eq!(
            parse("{a: 1, 'b': [true, null, 'x', 1.5, -2], c: {d: 0x10}, e: .5, /* c */ f: +1,}"),
            Ok(json!({"a": 1, "b": [true, null, "x", 1.5, -2], "c": {"d": 16}, "e": 0.5, "f": 1}))
        );
        assert_eq!(parse("{a: 1, a: 2}"), Ok(json!({"a": 2})));
    }

    #[test]
    fn non_finite_numbers_are_errors() {
        for s in ["{a: NaN}", "{a: Infinity}", "[-Infinity]"] {
            assert!(parse(s).is_err(), "{s}");
        }
    }
}
