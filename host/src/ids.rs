//! Identifiers that cross the host's boundary, parsed once and then trusted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not a valid identifier of some kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{value}`: {rule}")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
    pub rule: &'static str,
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal, $allowed:expr, $rule:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in bytes.
            pub const MAX_LEN: usize = $max;

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                let allowed: fn(u8) -> bool = $allowed;
                if s.is_empty() || s.len() > $max || !s.bytes().all(allowed) {
                    return Err(IdError { kind: $kind, value: s.chars().take(80).collect(), rule: $rule });
                }
                Ok(Self(s.to_string()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Other modules define their validated text types with the same macro.
pub(crate) use identifier;

fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

fn nonce_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')
}

identifier!(
    /// A tenant, e.g. `tenant-a`.
    TenantId, "tenant id", 128, name_byte, "1-128 of [A-Za-z0-9._-]"
);
identifier!(
    /// An operator, e.g. `op-a1`; each maps to one tenant.
    OperatorId, "operator id", 128, name_byte, "1-128 of [A-Za-z0-9._-]"
);
identifier!(
    /// A federated service identity, e.g. `alpha`, pinned to a client certificate.
    ServiceIdentity, "service identity", 128, name_byte, "1-128 of [A-Za-z0-9._-]"
);
identifier!(
    /// A signing key's id in a keyring, e.g. `alpha-k1`.
    Kid, "key id", 128, name_byte, "1-128 of [A-Za-z0-9._-]"
);
identifier!(
    /// A single-use nonce: 8-128 of `[A-Za-z0-9._:-]` (the length floor is
    /// checked by [`Nonce::parse`]).
    Nonce, "nonce", 128, nonce_byte, "8-128 of [A-Za-z0-9._:-]"
);

impl Nonce {
    /// Parses a nonce, requiring at least 8 characters.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.len() < 8 {
            return Err(IdError {
                kind: "nonce",
                value: s.chars().take(80).collect(),
                rule: "8-128 of [A-Za-z0-9._:-]",
            });
        }
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_reject_what_they_should() {
        assert!("tenant-a".parse::<TenantId>().is_ok());
        for bad in ["", "tenant a", "tenant/a", "ténant", &"x".repeat(129)] {
            assert!(bad.parse::<TenantId>().is_err(), "{bad:?}");
        }
        assert!(Nonce::parse("abc:123.x-Y_z").is_ok());
        assert!(Nonce::parse("short").is_err());
        assert!(Nonce::parse("has space!").is_err());
        let err = "a b".parse::<OperatorId>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid operator id `a b`: 1-128 of [A-Za-z0-9._-]"
        );
    }
}
