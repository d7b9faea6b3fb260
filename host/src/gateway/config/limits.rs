//! `[limits]`: how much a service identity may send.

use std::num::{NonZeroU32, NonZeroUsize};

/// Request size and rate limits.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    pub(super) max_body_bytes: NonZeroUsize,
    pub(super) rate_per_identity_per_sec: NonZeroU32,
    pub(super) burst: NonZeroU32,
}

impl LimitsConfig {
    /// `max_body_bytes`: the largest request body accepted.
    pub fn max_body_bytes(&self) -> NonZeroUsize {
        self.max_body_bytes
    }

    /// `rate_per_identity_per_sec`: the sustained request rate allowed to
    /// each service identity (the refill rate of its token bucket).
    pub fn rate_per_identity_per_sec(&self) -> NonZeroU32 {
        self.rate_per_identity_per_sec
    }

    /// `burst`: how many requests an idle identity may send at once (the
    /// capacity of its token bucket).
    pub fn burst(&self) -> NonZeroU32 {
        self.burst
    }
}
