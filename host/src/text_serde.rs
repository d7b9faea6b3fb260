//! Serde for types whose JSON form is their text form.

/// Implements `Serialize` through `Display` and `Deserialize` through
/// `FromStr`, for each type given: the JSON value is a string, and a string
/// that does not parse is a deserialization error carrying the parse error's
/// message. Parse-once types (`Digest`, `KeyId`, ...) thereby hold their
/// invariants when read from JSON too.
macro_rules! serde_as_text {
    ($($ty:ty),+ $(,)?) => {$(
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }
    )+};
}

pub(crate) use serde_as_text;
