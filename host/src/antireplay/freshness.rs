//! How old (or how far ahead) a signed request's timestamp may be.

use std::time::Duration;

use crate::timestamp::Timestamp;

/// The acceptance window for a request's signing time, and how long its
/// nonce must be remembered.
///
/// A request signed at `t` is fresh when `now` lies in
/// `[t - future_skew, t + max_age]` (both ends included).
///
/// # Why `retention >= max_age + future_skew`
///
/// A nonce only stops a replay while it is remembered. The same signed
/// request is acceptable for the whole window above, which is
/// `max_age + future_skew` long: its first use can come as early as
/// `t - future_skew` and a replay as late as `t + max_age`. If the nonce were
/// forgotten sooner than `max_age + future_skew` after its first claim, a
/// replay late in the window would be fresh by timestamp *and* unknown to the
/// store, and be accepted. [`Freshness::new`] therefore refuses a shorter
/// retention; the default leaves a margin (900 s against 330 s) for clock
/// differences between replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Freshness {
    max_age: Duration,
    future_skew: Duration,
    retention: Duration,
}

/// Why a request's signing time is not acceptable now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FreshnessError {
    /// Signed longer ago than `max_age`.
    #[error("request signed {age:?} ago, more than the accepted {max_age:?}")]
    Stale {
        /// How long ago the request was signed.
        age: Duration,
        /// The configured maximum age.
        max_age: Duration,
    },
    /// Signed further in the future than `future_skew` allows.
    #[error("request signed {ahead:?} in the future, more than the tolerated {future_skew:?}")]
    Future {
        /// How far ahead of `now` the signing time is.
        ahead: Duration,
        /// The configured tolerance.
        future_skew: Duration,
    },
}

/// Why a [`Freshness`] configuration is unsafe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FreshnessConfigError {
    /// The retention is shorter than the window in which a timestamp is
    /// acceptable, so a replay late in the window would go unnoticed.
    #[error(
        "retention {retention:?} is shorter than max_age + future_skew = {required:?}: \
         a nonce must be remembered as long as its timestamp is acceptable"
    )]
    RetentionTooShort {
        /// The retention asked for.
        retention: Duration,
        /// `max_age + future_skew`.
        required: Duration,
    },
    /// The retention is zero (possible only with a zero window): nothing
    /// would be remembered at all.
    #[error("retention is zero: no nonce would be remembered")]
    ZeroRetention,
    /// `max_age + future_skew` overflows a `Duration`.
    #[error("max_age {max_age:?} + future_skew {future_skew:?} overflows")]
    WindowOverflow {
        /// The maximum age asked for.
        max_age: Duration,
        /// The future skew asked for.
        future_skew: Duration,
    },
}

impl Freshness {
    /// The default maximum age: 300 s.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
    /// The default future skew: 30 s.
    pub const DEFAULT_FUTURE_SKEW: Duration = Duration::from_secs(30);
    /// The default retention: 900 s.
    pub const DEFAULT_RETENTION: Duration = Duration::from_secs(900);

    /// A window accepting requests signed up to `max_age` ago and up to
    /// `future_skew` ahead, with nonces kept for `retention`.
    ///
    /// Guarantees: the returned value has
    /// `retention >= max_age + future_skew` and `retention > 0`.
    ///
    /// # Errors
    ///
    /// [`FreshnessConfigError::RetentionTooShort`] if
    /// `retention < max_age + future_skew`,
    /// [`FreshnessConfigError::ZeroRetention`] if `retention` is zero,
    /// [`FreshnessConfigError::WindowOverflow`] if the sum overflows.
    pub fn new(
        max_age: Duration,
        future_skew: Duration,
        retention: Duration,
    ) -> Result<Self, FreshnessConfigError> {
        let required =
            max_age
                .checked_add(future_skew)
                .ok_or(FreshnessConfigError::WindowOverflow {
                    max_age,
                    future_skew,
                })?;
        if retention < required {
            return Err(FreshnessConfigError::RetentionTooShort {
                retention,
                required,
            });
        }
        if retention.is_zero() {
            return Err(FreshnessConfigError::ZeroRetention);
        }
        Ok(Self {
            max_age,
            future_skew,
            retention,
        })
    }

    /// The oldest acceptable signing time, relative to now.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// How far in the future a signing time may be.
    pub fn future_skew(&self) -> Duration {
        self.future_skew
    }

    /// How long a claimed nonce is remembered; pass it to
    /// [`NonceStore::claim`](super::NonceStore::claim). At least
    /// `max_age + future_skew`.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// Checks that a request signed at `signed_at` (Unix seconds) is
    /// acceptable at `now`.
    ///
    /// Guarantees: `Ok` exactly when the signing time lies in
    /// `[now - max_age, now + future_skew]`, ends included, compared at
    /// nanosecond precision (`now`'s sub-second part counts, so a request
    /// exactly `max_age` old is fresh and one a nanosecond older is stale).
    /// Never panics, for any `signed_at` and `now`.
    ///
    /// # Errors
    ///
    /// [`FreshnessError::Stale`] if signed more than `max_age` before `now`,
    /// [`FreshnessError::Future`] if more than `future_skew` after it.
    pub fn check(&self, signed_at: i64, now: Timestamp) -> Result<(), FreshnessError> {
        const NANOS: i128 = 1_000_000_000;
        let now_ns = i128::from(now.unix_seconds()) * NANOS + i128::from(now.subsec_nanos());
        let age_ns = now_ns - i128::from(signed_at) * NANOS;
        if age_ns >= 0 {
            let age = duration_from_nanos(age_ns);
            if age > self.max_age {
                return Err(FreshnessError::Stale {
                    age,
                    max_age: self.max_age,
                });
            }
        } else {
            let ahead = duration_from_nanos(-age_ns);
            if ahead > self.future_skew {
                return Err(FreshnessError::Future {
                    ahead,
                    future_skew: self.future_skew,
                });
            }
        }
        Ok(())
    }
}

impl Default for Freshness {
    /// 300 s maximum age, 30 s future skew, 900 s retention.
    fn default() -> Self {
        Self {
            max_age: Self::DEFAULT_MAX_AGE,
            future_skew: Self::DEFAULT_FUTURE_SKEW,
            retention: Self::DEFAULT_RETENTION,
        }
    }
}

/// A non-negative nanosecond count as a `Duration`, saturating at
/// `Duration::MAX` (unreachable for differences of two `i64` second counts,
/// which fit in `u64` seconds).
fn duration_from_nanos(nanos: i128) -> Duration {
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    Duration::new(secs, sub)
}
