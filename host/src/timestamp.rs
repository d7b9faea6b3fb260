//! Evaluation timestamps.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A UTC instant with nanosecond precision. Serializes as RFC 3339 with
/// nanoseconds and a `Z` offset, e.g. `2026-11-21T06:00:00.123456789Z`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    seconds: i64,
    nanoseconds: u32,
}

/// Why a string is not a [`Timestamp`].
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 timestamp")]
pub struct TimestampParseError(pub String);

impl Timestamp {
    /// Now, by the host's wall clock.
    pub fn now() -> Self {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            seconds: since.as_secs() as i64,
            nanoseconds: since.subsec_nanos(),
        }
    }

    /// `seconds` since the Unix epoch plus `nanoseconds` (`< 1_000_000_000`,
    /// larger values are carried into seconds).
    pub fn from_unix(seconds: i64, nanoseconds: u32) -> Self {
        Self {
            seconds: seconds + i64::from(nanoseconds / 1_000_000_000),
            nanoseconds: nanoseconds % 1_000_000_000,
        }
    }

    pub fn unix_seconds(&self) -> i64 {
        self.seconds
    }

    pub fn subsec_nanos(&self) -> u32 {
        self.nanoseconds
    }

    fn to_datetime(self) -> Option<OffsetDateTime> {
        let nanos = i128::from(self.seconds) * 1_000_000_000 + i128::from(self.nanoseconds);
        OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_datetime().and_then(|dt| dt.format(&Rfc3339).ok()) {
            Some(text) => f.write_str(&text),
            None => write!(f, "@{}.{:09}", self.seconds, self.nanoseconds),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let dt = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| TimestampParseError(s.into()))?;
        Ok(Self {
            seconds: dt.unix_timestamp(),
            nanoseconds: dt.nanosecond(),
        })
    }
}

crate::text_serde::serde_as_text!(Timestamp);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip_keeps_nanoseconds() {
        let t = Timestamp::from_unix(1_795_000_000, 123_456_789);
        let text = t.to_string();
        assert_eq!(text, "2026-11-18T11:06:40.123456789Z");
        assert_eq!(text.parse::<Timestamp>().unwrap(), t);
        assert!("yesterday".parse::<Timestamp>().is_err());
    }
}
