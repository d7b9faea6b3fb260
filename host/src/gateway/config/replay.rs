//! `[replay]`: where seen nonces are kept and for how long requests are fresh.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// How signed requests are checked for freshness and replay.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    pub(super) backend: ReplayBackend,
    pub(super) redis_ca: Option<PathBuf>,
    pub(super) max_age_secs: u64,
    pub(super) future_skew_secs: u64,
    pub(super) retention_secs: u64,
}

impl ReplayConfig {
    /// Where seen nonces are stored.
    pub fn backend(&self) -> &ReplayBackend {
        &self.backend
    }

    /// `redis_ca`: PEM certificates trusted to issue the Redis server's TLS
    /// certificate (only with a `rediss://` URL); without it, the system's
    /// roots.
    pub fn redis_ca(&self) -> Option<&Path> {
        self.redis_ca.as_deref()
    }

    /// `max_age_secs`: the oldest a request's timestamp may be.
    pub fn max_age(&self) -> Duration {
        Duration::from_secs(self.max_age_secs)
    }

    /// `future_skew_secs`: how far ahead of the gateway's clock a request's
    /// timestamp may be.
    pub fn future_skew(&self) -> Duration {
        Duration::from_secs(self.future_skew_secs)
    }

    /// `retention_secs`: how long a seen nonce is remembered; at least
    /// [`max_age`](Self::max_age) + [`future_skew`](Self::future_skew), so a
    /// nonce is never forgotten while a request carrying it could be accepted.
    pub fn retention(&self) -> Duration {
        Duration::from_secs(self.retention_secs)
    }
}

/// `replay.backend`, with what that backend needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayBackend {
    /// `"memory"`: in this process; forgotten on restart, not shared between
    /// gateway instances.
    Memory,
    /// `"redis"`: in Redis at `replay.redis_url`, shared between instances.
    Redis(RedisUrl),
}

/// A Redis connection URL: `redis://`, `rediss://` (TLS), `redis+unix://` or
/// `unix://`, followed by at least one character, with no whitespace or
/// control characters. Displayed and debug-printed with any password
/// replaced by `***`; [`as_str`](Self::as_str) gives it whole.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

/// Why a string is not a [`RedisUrl`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid redis_url: {reason}")]
pub struct RedisUrlError {
    /// What is wrong with it.
    pub reason: &'static str,
}

impl RedisUrl {
    const SCHEMES: [&'static str; 4] = ["redis://", "rediss://", "redis+unix://", "unix://"];

    /// The URL as written, password included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL with the password of its user info, if any, replaced by `***`.
    pub fn redacted(&self) -> String {
        let Some(scheme_end) = self.0.find("://").map(|i| i + 3) else {
            return self.0.clone();
        };
        let rest = &self.0[scheme_end..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let Some(at) = rest[..authority_end].rfind('@') else {
            return self.0.clone();
        };
        let Some(colon) = rest[..at].find(':') else {
            return self.0.clone();
        };
        format!(
            "{}{}***{}",
            &self.0[..scheme_end],
            &rest[..=colon],
            &rest[at..]
        )
    }
}

impl FromStr for RedisUrl {
    type Err = RedisUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some(scheme) = Self::SCHEMES.iter().find(|scheme| s.starts_with(*scheme)) else {
            return Err(RedisUrlError {
                reason: "must start with redis://, rediss://, redis+unix:// or unix://",
            });
        };
        if s.len() == scheme.len() {
            return Err(RedisUrlError {
                reason: "names no host or socket",
            });
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(RedisUrlError {
                reason: "contains whitespace or control characters",
            });
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({:?})", self.redacted())
    }
}

impl<'de> Deserialize<'de> for RedisUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}
