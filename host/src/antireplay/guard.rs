//! Freshness and single use, checked together for one signed request.

use std::sync::Arc;

use crate::ids::{Nonce, TenantId};
use crate::timestamp::Timestamp;

use super::{Claim, Freshness, FreshnessError, NonceStore, StoreError};

/// A freshness window and a nonce store: admits each signed request at most
/// once, and only while its timestamp is acceptable.
///
/// Use it only *after* the request's signature has been verified: the
/// timestamp and nonce mean nothing before, and unauthenticated claims would
/// let anyone fill the store.
#[derive(Debug, Clone)]
pub struct AntiReplay {
    freshness: Freshness,
    store: Arc<dyn NonceStore>,
}

/// Why a request was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The signing time is outside the freshness window; the nonce was not
    /// claimed. The client's fault.
    #[error(transparent)]
    NotFresh(#[from] FreshnessError),
    /// The nonce was already used within its retention. The client's fault
    /// (or an attacker's).
    #[error("nonce already used: replayed request")]
    Replayed,
    /// The store could not decide; the request must be refused as
    /// temporarily unserviceable (HTTP 503), never accepted.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AntiReplay {
    /// Checks requests against `freshness`, claiming nonces in `store` for
    /// [`Freshness::retention`], which covers the whole acceptance window.
    pub fn new(freshness: Freshness, store: Arc<dyn NonceStore>) -> Self {
        Self { freshness, store }
    }

    /// The freshness window.
    pub fn freshness(&self) -> &Freshness {
        &self.freshness
    }

    /// Admits a request signed at `signed_at` (Unix seconds) carrying
    /// `nonce` for `scope`.
    ///
    /// Guarantees: `Ok` only if the signing time is fresh at `now` *and* this
    /// is the first claim of the nonce within the retention; the freshness
    /// check comes first, so a stale request claims nothing. Any store
    /// failure is `Err`.
    ///
    /// # Errors
    ///
    /// [`Rejection::NotFresh`] if the signing time is outside the window,
    /// [`Rejection::Replayed`] if the nonce was already claimed,
    /// [`Rejection::Store`] if the store could not decide.
    pub async fn admit(
        &self,
        scope: &TenantId,
        nonce: &Nonce,
        signed_at: i64,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        self.freshness.check(signed_at, now)?;
        match self
            .store
            .claim(scope, nonce, self.freshness.retention())
            .await?
        {
            Claim::Fresh => Ok(()),
            Claim::Replayed => Err(Rejection::Replayed),
        }
    }
}
