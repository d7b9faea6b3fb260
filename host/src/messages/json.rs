//! Strict JSON: parsing with errors sorted into Malformed and Schema,
//! I-JSON objects, and RFC 8785 canonical serialization.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::error::{MessageError, MessageKind, clip};
use super::fields::SafeInteger;

/// Parses `bytes` as one JSON text of type `T`.
///
/// Bytes that are not one JSON text (invalid UTF-8, a syntax error,
/// trailing data, nesting deeper than 128, a number out of the range of a
/// double) are [`MessageError::InvalidJson`] (Malformed), whatever else is
/// wrong with them: the syntax is checked in full before the schema. JSON
/// that does not fit `T` is [`MessageError::Schema`].
pub(crate) fn parse<T: DeserializeOwned>(
    kind: MessageKind,
    bytes: &[u8],
) -> Result<T, MessageError> {
    let malformed = |detail: String| MessageError::InvalidJson {
        kind,
        detail: clip(detail),
    };
    let text = std::str::from_utf8(bytes).map_err(|err| malformed(err.to_string()))?;
    serde_json::from_str::<de::IgnoredAny>(text).map_err(|err| malformed(err.to_string()))?;
    serde_json::from_str(text).map_err(|err| {
        let detail = err.to_string();
        match err.classify() {
            serde_json::error::Category::Data => MessageError::Schema {
                kind,
                detail: clip(detail),
            },
            _ => malformed(detail),
        }
    })
}

/// The RFC 8785 (JCS) canonical JSON of `value`.
pub(crate) fn canonical<T: Serialize + ?Sized>(
    kind: MessageKind,
    value: &T,
) -> Result<Vec<u8>, MessageError> {
    serde_jcs::to_vec(value).map_err(|err| MessageError::CannotEncode {
        kind,
        detail: err.to_string(),
    })
}

/// A JSON object that every JSON implementation reads the same way (I-JSON,
/// RFC 7493): at every depth, no member name appears twice in one object and
/// every integer is within ±(2^53 - 1). Its RFC 8785 form is therefore the
/// same in every language.
///
/// Parsing refuses anything else with a serde error (Schema), so a
/// duplicate member can never be read one way by the verifier and another
/// way by a policy.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct JsonObject(Map<String, Value>);

/// Why a `serde_json` object is not a [`JsonObject`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("object holds {0}, outside the I-JSON integer range ±(2^53-1)")]
pub struct NotIJson(pub String);

impl JsonObject {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// The members.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The members, consuming the object.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

impl TryFrom<Map<String, Value>> for JsonObject {
    type Error = NotIJson;

    /// Accepts `map` if every integer in it is within ±(2^53 - 1) (a `Map`
    /// cannot hold duplicate names).
    fn try_from(map: Map<String, Value>) -> Result<Self, NotIJson> {
        fn check(value: &Value) -> Result<(), NotIJson> {
            match value {
                Value::Number(n) => {
                    let safe = match (n.as_i64(), n.as_u64()) {
                        (Some(i), _) => SafeInteger::new(i).is_ok(),
                        (None, Some(_)) => false,
                        (None, None) => true, // a double
                    };
                    if safe {
                        Ok(())
                    } else {
                        Err(NotIJson(n.to_string()))
                    }
                }
                Value::Array(items) => items.iter().try_for_each(check),
                Value::Object(members) => members.values().try_for_each(check),
                Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
            }
        }
        map.values().try_for_each(check)?;
        Ok(Self(map))
    }
}

impl TryFrom<Value> for JsonObject {
    type Error = NotIJson;

    /// Accepts an object value under the rules of the `Map` conversion.
    fn try_from(value: Value) -> Result<Self, NotIJson> {
        match value {
            Value::Object(map) => Self::try_from(map),
            other => Err(NotIJson(format!("a non-object ({})", kind_of(&other)))),
        }
    }
}

impl fmt::Debug for JsonObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Serialize for JsonObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor).map(Self)
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Builds a `Value` refusing duplicate names and unsafe integers.
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

fn unsafe_integer<E: de::Error>(value: impl fmt::Display) -> E {
    E::custom(format_args!(
        "integer {value} is outside the I-JSON range ±(2^53-1)"
    ))
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        SafeInteger::new(v).map_err(|_| unsafe_integer(v))?;
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        let i = i64::try_from(v).map_err(|_| unsafe_integer(v))?;
        SafeInteger::new(i).map_err(|_| unsafe_integer(v))?;
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        ObjectVisitor.visit_map(map).map(Value::Object)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member {:?}",
                    super::error::quote(&name)
                )));
            }
            let value = map.next_value_seed(StrictValue)?;
            members.insert(name, value);
        }
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::error::ErrorClass;

    fn object(text: &str) -> Result<JsonObject, MessageError> {
        parse(MessageKind::Telemetry, text.as_bytes())
    }

    #[test]
    fn objects_parse_and_canonicalize() {
        let o = object(r#"{"b":[1,2.50,{"z":null,"a":true}],"a":"x"}"#).unwrap();
        let jcs = canonical(MessageKind::Telemetry, &o).unwrap();
        assert_eq!(jcs, br#"{"a":"x","b":[1,2.5,{"a":true,"z":null}]}"#);
    }

    #[test]
    fn duplicates_and_unsafe_integers_are_schema_errors() {
        for bad in [
            r#"{"a":1,"a":2}"#,
            r#"{"x":{"a":1,"a":1}}"#,
            r#"{"x":[{"k":1,"k":1}]}"#,
            r#"{"n":9007199254740992}"#,
            r#"{"n":-9007199254740992}"#,
            r#"[1]"#,
            r#""s""#,
        ] {
            assert_eq!(
                object(bad).unwrap_err().class(),
                ErrorClass::Schema,
                "{bad}"
            );
        }
        assert!(object(r#"{"n":9007199254740991,"m":1e300}"#).is_ok());
    }

    #[test]
    fn details_are_clipped() {
        let long = format!(r#"{{"a":1,"a":{{"{}":1}}}}"#, "x".repeat(1000));
        let text = format!(r#"{{"{0}":1,"{0}":2}}"#, "y".repeat(1000));
        for input in [long, text] {
            let err = object(&input).unwrap_err();
            assert!(err.to_string().chars().count() < 300, "{err}");
        }
    }

    #[test]
    fn syntax_errors_are_malformed() {
        let deep = format!("{}{}", "{\"a\":".repeat(200), "}".repeat(200));
        for bad in ["", "{", "{}x", "{\"a\":1e999}", "\u{feff}{}", deep.as_str()] {
            assert_eq!(
                object(bad).unwrap_err().class(),
                ErrorClass::Malformed,
                "{bad}"
            );
        }
        let invalid_utf8 = parse::<JsonObject>(MessageKind::Telemetry, b"{\"a\":\"\xff\"}");
        assert_eq!(invalid_utf8.unwrap_err().class(), ErrorClass::Malformed);
    }

    #[test]
    fn conversions_enforce_the_integer_range() {
        let ok: Value = serde_json::json!({"a": [1, 2.5]});
        assert!(JsonObject::try_from(ok).is_ok());
        let big: Value = serde_json::json!({"a": {"b": u64::MAX}});
        assert!(JsonObject::try_from(big).is_err());
        assert!(JsonObject::try_from(Value::Null).is_err());
    }
}
