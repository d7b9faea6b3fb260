//! [`RegionId`]: a region's name within a report.

use std::fmt;
use std::str::FromStr;

/// A region's name within a report.
///
/// Guarantees: 1 to [`RegionId::MAX_LEN`] bytes, each one of
/// `A-Z a-z 0-9 . _ : -`. Serialized as that plain string; deserializing
/// validates it the same way as [`FromStr`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct RegionId(String);

/// Why a string is not a valid [`RegionId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid region id `{value}`: {rule}")]
pub struct RegionIdError {
    /// The rejected value, cut to its first 80 characters.
    pub value: String,
    /// The rule it breaks.
    pub rule: &'static str,
}

impl RegionId {
    /// The longest accepted id, in bytes.
    pub const MAX_LEN: usize = 128;

    /// The id as validated text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn allowed(b: u8) -> bool {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')
    }
}

impl FromStr for RegionId {
    type Err = RegionIdError;

    fn from_str(s: &str) -> Result<Self, RegionIdError> {
        if s.is_empty() || s.len() > Self::MAX_LEN || !s.bytes().all(Self::allowed) {
            return Err(RegionIdError {
                value: s.chars().take(80).collect(),
                rule: "must be 1-128 characters of [A-Za-z0-9._:-]",
            });
        }
        Ok(Self(s.to_string()))
    }
}

impl fmt::Display for RegionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::text_serde::serde_as_text!(RegionId);
