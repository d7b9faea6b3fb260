//! A nonce store shared by every replica, on Redis.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::ids::{Nonce, TenantId};

use super::store::retention_millis;
use super::{Claim, ClaimFuture, Namespace, NonceStore, StoreError, Unavailable, key};

/// A [`NonceStore`] on Redis, shared by every process that uses the same
/// server.
///
/// A claim is one `SET <key> 1 NX PX <retention ms>`: Redis sets the key
/// only if it is absent, atomically, so of any number of concurrent claims
/// (from any number of connections or processes) exactly one gets `OK`
/// ([`Claim::Fresh`]) and the others nil ([`Claim::Replayed`]); the key
/// expires after the retention, rounded up to whole milliseconds. Keys are
/// laid out as `verdict:nonce:<len>:<namespace>:<len>:<tenant>:<len>:<nonce>`
/// (see [`RedisNonceStore::key_for`]); length prefixes keep the key
/// unambiguous although a nonce may contain `:`.
///
/// # Failing closed
///
/// Every Redis error, broken connection or unanswered command becomes
/// [`StoreError::Unavailable`], never a `Claim`. Each call is bounded by the
/// timeout given to [`RedisNonceStore::connect`], so a vanished server costs
/// a caller at most that long. A call that fails for want of the server
/// (an I/O error or a timeout) drops the connection, and the next call
/// connects afresh, so claims resume as soon as the server is back, without
/// a restart.
///
/// An `Unavailable` claim may nevertheless have been recorded (a command can
/// reach Redis and its reply be lost): a client retrying after a 503 must
/// sign a new request with a new nonce, or it may be told `Replayed`.
///
/// Its durability is Redis's: a server restarted without persistence forgets
/// every nonce, so run it with persistence (or accept replays for up to one
/// retention after a restart). A server that may evict keys under memory
/// pressure would forget them too: [`RedisNonceStore::connect`] refuses any
/// `maxmemory-policy` but `noeviction`.
///
/// Clones, and stores made by [`RedisNonceStore::namespaced`], share one
/// connection.
#[derive(Clone)]
pub struct RedisNonceStore {
    client: redis::Client,
    /// The live connection, or `None` after a failure: the next call
    /// reconnects. Shared by clones and namespaced handles.
    connection: Arc<Mutex<Option<ConnectionManager>>>,
    timeout: Duration,
    namespace: Option<Namespace>,
}

impl RedisNonceStore {
    /// The default bound on connecting and on each command: 2 s.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    /// Connects to the Redis server at `url` (e.g. `redis://127.0.0.1:6379/`),
    /// with `timeout` bounding the connection and every later command.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] with [`Unavailable::InvalidUrl`] if `url`
    /// does not parse, [`Unavailable::Connect`] if the server refuses or
    /// fails the connection, [`Unavailable::ConnectTimeout`] if it does not
    /// answer within `timeout`; [`StoreError::Evicting`] if the server's
    /// `maxmemory-policy` is not `noeviction`.
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        Self::connect_with_roots(url, None, timeout).await
    }

    /// As [`connect`](Self::connect), for a `rediss://` URL whose server
    /// certificate chains to one of `roots` (PEM certificates) instead of
    /// the system's trusted roots. The URL may carry an ACL user and its
    /// password (`rediss://user:password@host:port/`).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect); [`Unavailable::Tls`] if `roots` holds
    /// no usable certificate.
    pub async fn connect_with_roots(
        url: &str,
        roots: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let client = match roots {
            None => redis::Client::open(url).map_err(Unavailable::InvalidUrl)?,
            Some(root_cert) => {
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                };
                redis::Client::build_with_tls(url, certificates).map_err(Unavailable::Tls)?
            }
        };
        let connection = open(&client, timeout).await?;
        let store = Self {
            client,
            connection: Arc::new(Mutex::new(Some(connection))),
            timeout,
            namespace: None,
        };
        store.refuse_eviction().await?;
        Ok(store)
    }

    /// The live connection, or a fresh one if the last call lost it.
    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        if let Some(live) = self.slot().clone() {
            return Ok(live);
        }
        let fresh = open(&self.client, self.timeout).await?;
        *self.slot() = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drops the connection after `error` if it says the server is gone or
    /// did not answer, so the next call reconnects instead of waiting on a
    /// dead socket or a reconnection stuck in backoff.
    fn forget_connection_after(&self, error: &Unavailable) {
        let lost = match error {
            Unavailable::CommandTimeout(_) => true,
            Unavailable::Command(e) => {
                e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error()
            }
            _ => false,
        };
        if lost {
            *self.slot() = None;
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<ConnectionManager>> {
        // Every update is one assignment: a poisoned lock holds a whole value.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the eviction policy from `INFO memory` (which an ACL user
    /// allowed `@connection`-level commands can run, unlike `CONFIG GET`);
    /// anything but `noeviction`, or no policy at all, is refused.
    async fn refuse_eviction(&self) -> Result<(), StoreError> {
        let info: String = self
            .query(redis::cmd("INFO").arg("memory").to_owned())
            .await?;
        let policy = info
            .lines()
            .find_map(|line| line.strip_prefix("maxmemory_policy:"))
            .map(str::trim)
            .unwrap_or("(not reported)");
        if policy == "noeviction" {
            Ok(())
        } else {
            Err(StoreError::Evicting {
                policy: policy.to_string(),
            })
        }
    }

    /// A handle on the same connection whose keys live in `namespace`:
    /// nonces claimed through it never collide with those of another
    /// namespace.
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

    /// The bound on each command.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The Redis key a claim of `nonce` for `scope` sets through this handle.
    /// Distinct (namespace, tenant, nonce) triples always give distinct keys.
    pub fn key_for(&self, scope: &TenantId, nonce: &Nonce) -> String {
        key::encode(self.namespace.as_ref(), scope, nonce)
    }

    async fn claim_key(&self, key: String, retention: Duration) -> Result<Claim, StoreError> {
        let millis = retention_millis(retention)?;
        let command = redis::cmd("SET")
            .arg(&key)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis)
            .to_owned();
        let reply: Option<String> = self.query(command).await.inspect_err(|error| {
            tracing::warn!(%error, "redis nonce claim failed");
        })?;
        match reply.as_deref() {
            Some("OK") => Ok(Claim::Fresh),
            None => Ok(Claim::Replayed),
            Some(other) => {
                Err(Unavailable::UnexpectedReply(other.chars().take(80).collect()).into())
            }
        }
    }
}

impl RedisNonceStore {
    /// Runs `command` on this handle's connection, bounded by its timeout;
    /// every failure is [`Unavailable`].
    pub(super) async fn query<T: redis::FromRedisValue>(
        &self,
        command: redis::Cmd,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection().await?;
        let reply = tokio::time::timeout(self.timeout, command.query_async::<T>(&mut connection))
            .await
            .map_err(|_| Unavailable::CommandTimeout(self.timeout))
            .and_then(|reply| reply.map_err(Unavailable::Command));
        reply.map_err(|error| {
            self.forget_connection_after(&error);
            error.into()
        })
    }
}

/// A connection manager for `client`, bounded by `timeout` to connect and
/// for each answer.
async fn open(client: &redis::Client, timeout: Duration) -> Result<ConnectionManager, Unavailable> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(timeout)
        .set_response_timeout(timeout)
        .set_number_of_retries(2);
    tokio::time::timeout(
        timeout,
        ConnectionManager::new_with_config(client.clone(), config),
    )
    .await
    .map_err(|_| Unavailable::ConnectTimeout(timeout))?
    .map_err(Unavailable::Connect)
}

impl std::fmt::Debug for RedisNonceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection (and its URL, which may hold a password) is not shown.
        f.debug_struct("RedisNonceStore")
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl NonceStore for RedisNonceStore {
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
