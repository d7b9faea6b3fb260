//! Anti-replay for signed requests: a timestamp freshness window and
//! single-use nonces.
//!
//! A signed request carries its signing time and a nonce. [`Freshness`]
//! bounds how old (or how far ahead) the signing time may be; a
//! [`NonceStore`] remembers each nonce, scoped by tenant and namespace, for
//! at least as long as its timestamp stays acceptable, so a request is
//! admitted at most once. [`AntiReplay`] applies both, in that order.
//!
//! Two stores: [`MemoryNonceStore`] for one process, [`RedisNonceStore`] for
//! replicas sharing a Redis server. Both fail closed: when a store cannot
//! decide, it returns a [`StoreError`] (serve HTTP 503), never
//! [`Claim::Fresh`]. Either is held as `Arc<dyn NonceStore>`.

mod freshness;
mod guard;
mod key;
mod ledger;
mod memory;
mod namespace;
mod redis_store;
mod store;

#[cfg(test)]
mod tests;

pub use freshness::{Freshness, FreshnessConfigError, FreshnessError};
pub use guard::{AntiReplay, Rejection};
pub use ledger::{Ledger, LedgerFuture, MemoryLedger, RedisLedger};
pub use memory::MemoryNonceStore;
pub use namespace::Namespace;
pub use redis_store::RedisNonceStore;
pub use store::{
    Claim, ClaimFuture, MAX_RETENTION, MIN_RETENTION, NonceStore, StoreError, Unavailable,
};
