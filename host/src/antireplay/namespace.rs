//! Namespaces that keep the nonces of different endpoints apart.

use std::fmt;
use std::str::FromStr;

use crate::ids::IdError;

/// A nonce namespace, e.g. `telemetry`, `feedback`, `manifest`: 1-64 of
/// `[a-z0-9_-]`.
///
/// Guarantees: the value is non-empty, at most [`Namespace::MAX_LEN`] bytes,
/// and contains no `:`, so it can be embedded in a store key unambiguously.
/// Two stores with different namespaces never see each other's nonces.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(String);

impl Namespace {
    /// The longest accepted value, in bytes.
    pub const MAX_LEN: usize = 64;

    const RULE: &'static str = "1-64 of [a-z0-9_-]";

    /// Parses a namespace; the same as `s.parse()`.
    ///
    /// # Errors
    ///
    /// An [`IdError`] naming the rule if `s` is empty, longer than
    /// [`Namespace::MAX_LEN`], or has a byte outside `[a-z0-9_-]`.
    pub fn new(s: &str) -> Result<Self, IdError> {
        s.parse()
    }

    /// The namespace as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Namespace {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        let allowed =
            |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_');
        if s.is_empty() || s.len() > Self::MAX_LEN || !s.bytes().all(allowed) {
            return Err(IdError {
                kind: "nonce namespace",
                value: s.chars().take(80).collect(),
                rule: Self::RULE,
            });
        }
        Ok(Self(s.to_string()))
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Namespace({:?})", self.0)
    }
}
