//! The nonce-store contract shared by every backend.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::ids::{Nonce, TenantId};

/// What a [`NonceStore::claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Claim {
    /// This call is the first claim of the nonce within its retention: the
    /// store has recorded it, and every later claim of the same key within
    /// the retention returns [`Claim::Replayed`].
    Fresh,
    /// The nonce was already claimed within its retention: the request is a
    /// replay and must be rejected.
    Replayed,
}

/// The future returned by [`NonceStore::claim`]: boxed so that the trait is
/// object-safe and `Arc<dyn NonceStore>` can be shared across tasks.
pub type ClaimFuture<'a> = Pin<Box<dyn Future<Output = Result<Claim, StoreError>> + Send + 'a>>;

/// A record of nonces seen, for single-use enforcement.
///
/// Guarantees every implementation gives:
/// - **Single use.** Within `retention` of the first claim of a key, exactly
///   one call returns [`Claim::Fresh`]; every other returns
///   [`Claim::Replayed`]. This holds under concurrency: of N simultaneous
///   identical claims exactly one is `Fresh`.
/// - **Scoping.** The key is (the store's namespace, `scope`, `nonce`): the
///   same nonce under two tenants, or in two namespaces, is two claims.
/// - **Fail closed.** When the store cannot tell, it returns an error, never
///   `Fresh`. Callers must reject the request on any `Err` (HTTP 503), never
///   accept it.
/// - **Never forgets early.** A claim is remembered for at least `retention`
///   (rounded up to whole milliseconds); it may be remembered a little longer.
pub trait NonceStore: Send + Sync + fmt::Debug {
    /// Records the first use of `nonce` for `scope`, remembering it for at
    /// least `retention`. See the trait docs for the guarantees.
    ///
    /// `retention` must lie in `MIN_RETENTION..=MAX_RETENTION`, otherwise
    /// the call fails with [`StoreError::InvalidRetention`] and records
    /// nothing.
    fn claim<'a>(
        &'a self,
        scope: &'a TenantId,
        nonce: &'a Nonce,
        retention: Duration,
    ) -> ClaimFuture<'a>;
}

/// The shortest retention a store accepts: one millisecond (the resolution
/// of Redis `PX`). A zero retention would remember nothing.
pub const MIN_RETENTION: Duration = Duration::from_millis(1);

/// The longest retention a store accepts: 30 days. Longer is almost surely a
/// unit mistake, and would hold memory (or Redis keys) for that long.
pub const MAX_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Why a claim could not be decided. Every variant means "reject the
/// request": none of them is ever a reason to accept it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backing store could not be reached or did not answer in time.
    /// Serve HTTP 503.
    #[error("nonce store unavailable: {0}")]
    Unavailable(#[source] Unavailable),
    /// The in-memory store already holds its maximum number of live nonces
    /// and refuses new ones rather than evict one that could then be
    /// replayed. Serve HTTP 503.
    #[error("nonce store full: {capacity} live nonces, refusing new claims")]
    Full {
        /// The configured capacity, in entries.
        capacity: u64,
    },
    /// The requested retention is outside
    /// [`MIN_RETENTION`]`..=`[`MAX_RETENTION`]; a configuration error.
    #[error(
        "retention {retention:?} outside the accepted range {MIN_RETENTION:?}..={MAX_RETENTION:?}"
    )]
    InvalidRetention {
        /// The retention that was asked for.
        retention: Duration,
    },
    /// The Redis server may evict keys before they expire: a forgotten nonce
    /// reopens replay and a forgotten binding lets a second tenant claim it,
    /// so the store refuses such a server at start-up.
    #[error(
        "the redis server's maxmemory-policy is `{policy}`, which may evict nonces and bindings \
         before they expire: set `maxmemory-policy noeviction` on the server"
    )]
    Evicting {
        /// The server's `maxmemory_policy`, as `INFO memory` reports it.
        policy: String,
    },
}

/// Why a remote nonce store is unavailable.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// The connection URL could not be parsed. (The URL itself is not
    /// repeated: it may carry a password.)
    #[error("invalid redis URL: {0}")]
    InvalidUrl(#[source] redis::RedisError),
    /// The TLS roots given for a `rediss://` server are unusable.
    #[error("redis TLS roots: {0}")]
    Tls(#[source] redis::RedisError),
    /// Connecting to the server failed.
    #[error("connecting to redis failed: {0}")]
    Connect(#[source] redis::RedisError),
    /// Connecting to the server did not finish within the timeout.
    #[error("connecting to redis timed out after {0:?}")]
    ConnectTimeout(Duration),
    /// The server answered a command with an error, or the connection broke.
    #[error("redis command failed: {0}")]
    Command(#[source] redis::RedisError),
    /// A command got no answer within the timeout.
    #[error("redis command timed out after {0:?}")]
    CommandTimeout(Duration),
    /// The server answered `SET .. NX` with something other than `OK` or nil.
    #[error("redis answered SET NX with an unexpected reply: {0}")]
    UnexpectedReply(String),
}

impl From<Unavailable> for StoreError {
    fn from(reason: Unavailable) -> Self {
        StoreError::Unavailable(reason)
    }
}

/// Checks `retention` against [`MIN_RETENTION`]`..=`[`MAX_RETENTION`] and
/// returns it in whole milliseconds, rounded up so a store never forgets
/// early.
pub(crate) fn retention_millis(retention: Duration) -> Result<u64, StoreError> {
    if !(MIN_RETENTION..=MAX_RETENTION).contains(&retention) {
        return Err(StoreError::InvalidRetention { retention });
    }
    let millis = retention.as_nanos().div_ceil(1_000_000);
    // In range by the check above: MAX_RETENTION is 2.6e9 ms.
    u64::try_from(millis).map_err(|_| StoreError::InvalidRetention { retention })
}
