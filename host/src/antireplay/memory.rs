//! A single-process nonce store on a `moka` cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use moka::notification::RemovalCause;

use crate::ids::{Nonce, TenantId};

use super::store::retention_millis;
use super::{Claim, ClaimFuture, Namespace, NonceStore, StoreError, key};

/// An in-memory [`NonceStore`] for a single process.
///
/// Gives every guarantee of [`NonceStore`] within one process (replicas of a
/// server do not share it: use [`RedisNonceStore`](super::RedisNonceStore)
/// for that). Each entry expires `retention` after its claim.
///
/// # Atomicity
///
/// A claim is `entry(key).or_insert_with(..)` on the cache: moka coalesces
/// concurrent calls for a missing key so that exactly one of them runs the
/// insertion (its entry `is_fresh()`), and the rest wait and read that
/// entry. `Fresh` is returned exactly for the `is_fresh()` call.
///
/// # Capacity: fails closed, never evicts
///
/// The cache itself is unbounded, so moka never evicts a live nonce for
/// size (an evicted nonce could be replayed). Instead the store counts live
/// entries and, once `capacity` are held, refuses *new* nonces with
/// [`StoreError::Full`] until expiries free room; a replay of a nonce it
/// still holds is reported as [`Claim::Replayed`] even then. The count is
/// exact (moka reports each creation and each removal); the check precedes
/// the insertion, so claims already in flight when the limit is reached may
/// overshoot it by at most their number. Expired entries count until moka
/// removes them; a claim at capacity first runs moka's pending maintenance to
/// reclaim them.
///
/// Each entry costs its key (about 40 bytes plus the namespace, tenant and
/// nonce lengths, at most about 350 bytes) plus roughly 150 bytes of cache
/// bookkeeping, so the default [`MemoryNonceStore::DEFAULT_CAPACITY`] of one
/// million entries bounds the store at a few hundred MB at worst.
///
/// Clones, and stores made by [`MemoryNonceStore::namespaced`], share one
/// cache and one capacity.
#[derive(Clone)]
pub struct MemoryNonceStore {
    cache: Cache<String, Duration>,
    live: Arc<AtomicU64>,
    capacity: u64,
    namespace: Option<Namespace>,
}

impl MemoryNonceStore {
    /// The default capacity: 1 000 000 live nonces.
    pub const DEFAULT_CAPACITY: u64 = 1_000_000;

    /// An empty store without a namespace, holding up to
    /// [`Self::DEFAULT_CAPACITY`] live nonces.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty store without a namespace, holding up to `capacity` live
    /// nonces before it refuses new ones with [`StoreError::Full`].
    pub fn with_capacity(capacity: u64) -> Self {
        let live = Arc::new(AtomicU64::new(0));
        let on_removal = Arc::clone(&live);
        let cache = Cache::builder()
            .expire_after(CountingExpiry {
                live: Arc::clone(&live),
            })
            .eviction_listener(move |_key, _retention, _cause: RemovalCause| {
                // Every cause (Expired, Replaced by a re-claim of an expired
                // key, ...) takes one entry away; the re-claim itself was
                // counted by `expire_after_create`.
                let _ = on_removal.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    Some(n.saturating_sub(1))
                });
            })
            .build();
        Self {
            cache,
            live,
            capacity,
            namespace: None,
        }
    }

    /// A handle on the same cache whose keys live in `namespace`: nonces
    /// claimed through it never collide with those of another namespace.
    pub fn namespaced(&self, namespace: Namespace) -> Self {
        Self {
            namespace: Some(namespace),
            ..self.clone()
        }
    }

    /// The namespace of this handle, if any.
    pub fn namespace(&self) -> Option<&Namespace> {
        self.namespace.as_ref()
    }

    /// The capacity, in live nonces, shared by all handles on this cache.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The number of nonces held, across all namespaces. Expired nonces
    /// count until the cache's maintenance removes them.
    pub fn live_entries(&self) -> u64 {
        self.live.load(Ordering::Acquire)
    }

    async fn claim_key(&self, key: String, retention: Duration) -> Result<Claim, StoreError> {
        retention_millis(retention)?;
        if self.live_entries() >= self.capacity {
            if self.cache.contains_key(&key) {
                return Ok(Claim::Replayed);
            }
            self.cache.run_pending_tasks().await;
            if self.live_entries() >= self.capacity {
                tracing::warn!(
                    capacity = self.capacity,
                    "nonce store full, refusing a new nonce"
                );
                return Err(StoreError::Full {
                    capacity: self.capacity,
                });
            }
        }
        let entry = self
            .cache
            .entry(key)
            .or_insert_with(async move { retention })
            .await;
        Ok(if entry.is_fresh() {
            Claim::Fresh
        } else {
            Claim::Replayed
        })
    }
}

impl Default for MemoryNonceStore {
    /// The same as [`MemoryNonceStore::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryNonceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryNonceStore")
            .field("namespace", &self.namespace)
            .field("capacity", &self.capacity)
            .field("live", &self.live_entries())
            .finish_non_exhaustive()
    }
}

impl NonceStore for MemoryNonceStore {
    fn claim<'a>(
        &'a self,
        scope: &'a TenantId,
        nonce: &'a Nonce,
        retention: Duration,
    ) -> ClaimFuture<'a> {
        let key = key::encode(self.namespace.as_ref(), scope, nonce);
        Box::pin(self.claim_key(key, retention))
    }
}

/// Expires each entry after the retention stored as its value, and counts
/// entry creations (moka calls `expire_after_create` once per new entry,
/// including a re-claim of an expired key).
struct CountingExpiry {
    live: Arc<AtomicU64>,
}

impl Expiry<String, Duration> for CountingExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        retention: &Duration,
        _at: Instant,
    ) -> Option<Duration> {
        self.live.fetch_add(1, Ordering::AcqRel);
        Some(*retention)
    }
}
