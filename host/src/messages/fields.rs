//! The scalar field types of federation messages, each parsed strictly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::Digest;
use crate::ids::{IdError, Nonce};
use crate::timestamp::Timestamp;

/// A SHA-256 hash written as exactly 64 lowercase hex digits, without a
/// prefix (e.g. an `execution_hash`). Parsing accepts nothing else.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hex([u8; 32]);

/// Why a string is not a [`Sha256Hex`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not 64 lowercase hex digits")]
pub struct Sha256HexError(pub String);

impl Sha256Hex {
    /// The hash with these bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The hash's 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The same hash as a [`Digest`] (`sha256:`-prefixed when displayed).
    pub fn to_digest(&self) -> Digest {
        Digest::from_bytes(self.0)
    }
}

impl From<Digest> for Sha256Hex {
    fn from(digest: Digest) -> Self {
        Self(*digest.as_bytes())
    }
}

impl FromStr for Sha256Hex {
    type Err = Sha256HexError;

    /// Accepts exactly 64 characters of `[0-9a-f]`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower_hex = s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let mut bytes = [0u8; 32];
        if s.len() != 64 || !lower_hex || hex::decode_to_slice(s, &mut bytes).is_err() {
            return Err(Sha256HexError(super::error::quote(s)));
        }
        Ok(Self(bytes))
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Hex({self})")
    }
}

impl Serialize for Sha256Hex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256Hex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Whole seconds since the Unix epoch, from 0 to [`UnixSeconds::MAX`]
/// (9999-12-31T23:59:59Z). In JSON a non-negative integer (`1.7e9`,
/// `"1700000000"` and `1700000000.0` are refused); in text canonical decimal
/// digits (no sign, no leading zero except for `0` itself).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnixSeconds(u64);

/// Why a value is not [`UnixSeconds`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not unix seconds: canonical decimal digits from 0 to 253402300799")]
pub struct UnixSecondsError(pub String);

impl UnixSeconds {
    /// The largest value: 9999-12-31T23:59:59Z.
    pub const MAX: u64 = 253_402_300_799;

    /// `seconds` since the epoch, if at most [`Self::MAX`].
    pub const fn new(seconds: u64) -> Option<Self> {
        if seconds <= Self::MAX {
            Some(Self(seconds))
        } else {
            None
        }
    }

    /// The number of seconds.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The instant as a [`Timestamp`] (exact: the range fits).
    pub fn to_timestamp(self) -> Timestamp {
        // MAX < i64::MAX, so the conversion never saturates.
        Timestamp::from_unix(i64::try_from(self.0).unwrap_or(i64::MAX), 0)
    }
}

impl FromStr for UnixSeconds {
    type Err = UnixSecondsError;

    /// Accepts canonical decimal digits only: `0`, or a non-zero digit
    /// followed by digits, with a value of at most [`Self::MAX`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || UnixSecondsError(super::error::quote(s));
        let canonical = !s.is_empty()
            && s.len() <= 12
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'));
        if !canonical {
            return Err(err());
        }
        s.parse::<u64>().ok().and_then(Self::new).ok_or_else(err)
    }
}

impl fmt::Display for UnixSeconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for UnixSeconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixSeconds({})", self.0)
    }
}

impl Serialize for UnixSeconds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for UnixSeconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seconds = u64::deserialize(deserializer)?;
        Self::new(seconds)
            .ok_or_else(|| serde::de::Error::custom(UnixSecondsError(seconds.to_string())))
    }
}

/// An integer that every JSON implementation reads exactly: from
/// -(2^53 - 1) to 2^53 - 1 (I-JSON, RFC 7493 section 2.2). In JSON an
/// integer literal; `60.0` and `6e1` are refused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct SafeInteger(i64);

/// Why a number is not a [`SafeInteger`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is outside the I-JSON integer range ±(2^53-1)")]
pub struct SafeIntegerError(pub i128);

impl SafeInteger {
    /// The largest value, 2^53 - 1.
    pub const MAX: i64 = (1 << 53) - 1;

    /// `value`, if its magnitude is at most [`Self::MAX`].
    pub const fn new(value: i64) -> Result<Self, SafeIntegerError> {
        if value >= -Self::MAX && value <= Self::MAX {
            Ok(Self(value))
        } else {
            Err(SafeIntegerError(value as i128))
        }
    }

    /// The value.
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl Serialize for SafeInteger {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for SafeInteger {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntegerVisitor;

        impl serde::de::Visitor<'_> for IntegerVisitor {
            type Value = SafeInteger;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer within ±(2^53-1)")
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<SafeInteger, E> {
                SafeInteger::new(v).map_err(E::custom)
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SafeInteger, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(|v| SafeInteger::new(v).ok())
                    .ok_or_else(|| E::custom(SafeIntegerError(i128::from(v))))
            }
        }

        deserializer.deserialize_i64(IntegerVisitor)
    }
}

/// A finite JSON number (every JSON number parses to one; values built in
/// code are checked by [`FiniteNumber::new`]), so it always has an RFC 8785
/// form.
#[derive(Clone, Copy, PartialEq, PartialOrd, Debug)]
pub struct FiniteNumber(f64);

/// Why an `f64` is not a [`FiniteNumber`].
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("{0} is not a finite number")]
pub struct NotFinite(pub f64);

impl FiniteNumber {
    /// `value`, if it is neither infinite nor NaN.
    pub fn new(value: f64) -> Result<Self, NotFinite> {
        if value.is_finite() {
            Ok(Self(value))
        } else {
            Err(NotFinite(value))
        }
    }

    /// The value.
    pub const fn get(self) -> f64 {
        self.0
    }
}

impl Serialize for FiniteNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for FiniteNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        Self::new(value).map_err(serde::de::Error::custom)
    }
}

crate::ids::identifier!(
    /// A telemetry campaign, e.g. `campaign-7`: 1-128 of `[A-Za-z0-9._-]`
    /// (the rule of [`crate::ids::TenantId`]).
    CampaignId, "campaign id", 128,
    |b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'),
    "1-128 of [A-Za-z0-9._-]"
);

crate::ids::identifier!(
    /// An opaque manifest label (`task_id`, `source`, `action`,
    /// `correlation_id`): 1-128 of `[A-Za-z0-9._:/-]`, enough for UUIDs,
    /// ULIDs, dotted names and `scheme:path` references.
    Label, "label", 128,
    |b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'),
    "1-128 of [A-Za-z0-9._:/-]"
);

/// Deserializes a [`Nonce`] with its full rule, 8-128 characters
/// ([`Nonce`]'s own `Deserialize` does not check the length floor).
pub(crate) fn deserialize_nonce<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Nonce, D::Error> {
    let text = String::deserialize(deserializer)?;
    Nonce::parse(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_64_lowercase_hex_digits() {
        let text = "ab".repeat(32);
        let parsed: Sha256Hex = text.parse().unwrap();
        assert_eq!(parsed.to_string(), text);
        assert_eq!(Sha256Hex::from(parsed.to_digest()), parsed);
        for bad in [
            "".to_owned(),
            "AB".repeat(32),
            "ab".repeat(31),
            "ab".repeat(33),
            format!("sha256:{text}"),
            format!("{}g", "a".repeat(63)),
            format!("{}é", "a".repeat(62)),
        ] {
            assert!(bad.parse::<Sha256Hex>().is_err(), "{bad}");
        }
    }

    #[test]
    fn unix_seconds_text_is_canonical() {
        assert_eq!("0".parse::<UnixSeconds>().unwrap().get(), 0);
        assert_eq!(
            "1700000000".parse::<UnixSeconds>().unwrap().get(),
            1_700_000_000
        );
        assert_eq!(
            "253402300799"
                .parse::<UnixSeconds>()
                .unwrap()
                .to_timestamp()
                .to_string(),
            "9999-12-31T23:59:59Z"
        );
        for bad in [
            "",
            "01",
            "+1",
            "-1",
            "1.0",
            " 1",
            "1e9",
            "253402300800",
            "99999999999999999999",
        ] {
            assert!(bad.parse::<UnixSeconds>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unix_seconds_json_is_an_integer() {
        assert!(serde_json::from_str::<UnixSeconds>("1700000000").is_ok());
        for bad in [
            "1.7e9",
            "1700000000.0",
            "\"1700000000\"",
            "-1",
            "253402300800",
            "null",
        ] {
            assert!(serde_json::from_str::<UnixSeconds>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn safe_integers_stop_at_two_to_the_53() {
        assert!(serde_json::from_str::<SafeInteger>("9007199254740991").is_ok());
        assert!(serde_json::from_str::<SafeInteger>("-9007199254740991").is_ok());
        for bad in [
            "9007199254740992",
            "18446744073709551615",
            "60.0",
            "6e1",
            "\"60\"",
        ] {
            assert!(serde_json::from_str::<SafeInteger>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_and_campaigns() {
        assert!("0f8e-uuid:task/1".parse::<Label>().is_ok());
        assert!("camp.1_a-b".parse::<CampaignId>().is_ok());
        for bad in ["", "a b", "a|b", &"x".repeat(129)] {
            assert!(bad.parse::<Label>().is_err(), "{bad:?}");
            assert!(bad.parse::<CampaignId>().is_err(), "{bad:?}");
        }
        assert!("a:b".parse::<CampaignId>().is_err());
    }
}
