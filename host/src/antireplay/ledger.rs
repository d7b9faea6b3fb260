//! A ledger of short-lived facts that must be decided once: which tenant a
//! challenge was issued to (taken exactly once), and which tenant a session
//! binding belongs to (the first tenant wins). It lives next to the nonces:
//! in process ([`MemoryLedger`]) or on the replicas' shared Redis
//! ([`RedisLedger`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::StoreError;
use super::redis_store::RedisNonceStore;
use super::store::retention_millis;

/// The future a [`Ledger`] call returns.
pub type LedgerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A key/value store with two atomic operations.
///
/// Guarantees of every implementation:
/// - **First writer wins.** Of any number of concurrent [`Ledger::bind`]
///   calls for one key within its retention, exactly one records its value
///   and gets `None`; every other gets `Some(first value)`.
/// - **Taken once.** Of any number of concurrent [`Ledger::take`] calls for
///   one key, at most one gets the value; the key is then gone.
/// - **Fail closed.** When the store cannot tell, it returns an error, which
///   callers must treat as a refusal.
pub trait Ledger: Send + Sync + std::fmt::Debug {
    /// Records `value` under `key` for `retention` unless the key is held;
    /// returns the value already held, if any.
    fn bind<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        retention: Duration,
    ) -> LedgerFuture<'a, Option<String>>;

    /// Removes `key` and returns its value, if it was held and unexpired.
    fn take<'a>(&'a self, key: &'a str) -> LedgerFuture<'a, Option<String>>;

    /// The value held under `key`, if any and unexpired; the key stays.
    fn get<'a>(&'a self, key: &'a str) -> LedgerFuture<'a, Option<String>>;

    /// Removes `key` if it still holds `value` (compare and delete, as one
    /// step); returns whether it did.
    fn release<'a>(&'a self, key: &'a str, value: &'a str) -> LedgerFuture<'a, bool>;
}

/// A [`Ledger`] in this process's memory: fine for one gateway.
///
/// A map under a mutex rather than a cache: a cache may evict an entry
/// early to make room, and a ledger that forgot a binding would let a second
/// tenant claim it. Expired entries are dropped when the map is full (and
/// on access); past `capacity` live entries it refuses new keys.
#[derive(Clone)]
pub struct MemoryLedger {
    entries: Arc<Mutex<HashMap<String, Held>>>,
    capacity: usize,
}

struct Held {
    value: Arc<str>,
    deadline: Instant,
}

impl MemoryLedger {
    /// An empty ledger that refuses new keys (fails closed) beyond `capacity`
    /// live entries rather than evict one.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Arc::new(Mutex::new(HashMap::new())),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (every update is one insert or remove), so a poisoned lock is safe
        // to keep using.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bind_key(
        &self,
        key: &str,
        value: &str,
        retention: Duration,
    ) -> Result<Option<String>, StoreError> {
        retention_millis(retention)?;
        let now = Instant::now();
        let mut entries = self.lock();
        if let Some(held) = entries.get(key).filter(|held| held.deadline > now) {
            return Ok(Some(held.value.to_string()));
        }
        if entries.len() >= self.capacity {
            entries.retain(|_, held| held.deadline > now);
            if entries.len() >= self.capacity {
                return Err(StoreError::Full {
                    capacity: self.capacity as u64,
                });
            }
        }
        let held = Held {
            value: Arc::from(value),
            deadline: now + retention,
        };
        entries.insert(key.to_string(), held);
        Ok(None)
    }

    fn get_key(&self, key: &str) -> Option<String> {
        let now = Instant::now();
        self.lock()
            .get(key)
            .filter(|held| held.deadline > now)
            .map(|held| held.value.to_string())
    }

    fn release_key(&self, key: &str, value: &str) -> bool {
        let mut entries = self.lock();
        let ours = entries
            .get(key)
            .is_some_and(|held| held.deadline > Instant::now() && *held.value == *value);
        if ours {
            entries.remove(key);
        }
        ours
    }

    fn take_key(&self, key: &str) -> Option<String> {
        let held = self.lock().remove(key)?;
        (held.deadline > Instant::now()).then(|| held.value.to_string())
    }
}

impl std::fmt::Debug for MemoryLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLedger")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Ledger for MemoryLedger {
    fn bind<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        retention: Duration,
    ) -> LedgerFuture<'a, Option<String>> {
        let result = self.bind_key(key, value, retention);
        Box::pin(async move { result })
    }

    fn take<'a>(&'a self, key: &'a str) -> LedgerFuture<'a, Option<String>> {
        let taken = self.take_key(key);
        Box::pin(async move { Ok(taken) })
    }

    fn get<'a>(&'a self, key: &'a str) -> LedgerFuture<'a, Option<String>> {
        let held = self.get_key(key);
        Box::pin(async move { Ok(held) })
    }

    fn release<'a>(&'a self, key: &'a str, value: &'a str) -> LedgerFuture<'a, bool> {
        let released = self.release_key(key, value);
        Box::pin(async move { Ok(released) })
    }
}

/// Compare and delete in one step on the server: Redis runs a script
/// atomically, so no other command lands between the GET and the DEL.
const RELEASE_SCRIPT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// A [`Ledger`] on Redis, shared by every replica: `SET key value NX GET PX`
/// binds (Redis 7.0 or later), `GETDEL` takes, `GET` reads, a compare-and-
/// delete script releases. Keys are prefixed `verdict:ledger:`.
#[derive(Clone, Debug)]
pub struct RedisLedger {
    store: RedisNonceStore,
}

impl RedisLedger {
    /// A ledger on the same connection (and timeout) as `store`.
    pub fn new(store: RedisNonceStore) -> Self {
        Self { store }
    }

    fn key(key: &str) -> String {
        format!("verdict:ledger:{key}")
    }
}

impl Ledger for RedisLedger {
    fn bind<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        retention: Duration,
    ) -> LedgerFuture<'a, Option<String>> {
        Box::pin(async move {
            let millis = retention_millis(retention)?;
            let command = redis::cmd("SET")
                .arg(Self::key(key))
                .arg(value)
                .arg("NX")
                .arg("GET")
                .arg("PX")
                .arg(millis)
                .to_owned();
            self.store.query(command).await
        })
    }

    fn take<'a>(&'a self, key: &'a str) -> LedgerFuture<'a, Option<String>> {
        Box::pin(async move {
            let command = redis::cmd("GETDEL").arg(Self::key(key)).to_owned();
            self.store.query(command).await
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> LedgerFuture<'a, Option<String>> {
        Box::pin(async move {
            let command = redis::cmd("GET").arg(Self::key(key)).to_owned();
            self.store.query(command).await
        })
    }

    fn release<'a>(&'a self, key: &'a str, value: &'a str) -> LedgerFuture<'a, bool> {
        Box::pin(async move {
            let command = redis::cmd("EVAL")
                .arg(RELEASE_SCRIPT)
                .arg(1)
                .arg(Self::key(key))
                .arg(value)
                .to_owned();
            let deleted: i64 = self.store.query(command).await?;
            Ok(deleted == 1)
        })
    }
}
