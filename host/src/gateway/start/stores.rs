//! The anti-replay guards and the ledger, in memory or on Redis (`[replay]`).

use std::sync::Arc;

use crate::antireplay::{
    AntiReplay, Freshness, Ledger, MemoryLedger, MemoryNonceStore, Namespace, NonceStore,
    RedisLedger, RedisNonceStore,
};
use crate::gateway::config::{GatewayConfig, ReplayBackend};
use crate::gateway::state::Guards;

use super::error::{StartError, read_bytes};

/// Live challenges and session bindings held in memory, at most this many.
const MAX_LEDGER_ENTRIES: usize = 1_000_000;

/// One guard per route, each in its own namespace, and the ledger.
pub(super) async fn guards(
    config: &GatewayConfig,
) -> Result<(Guards, Arc<dyn Ledger>), StartError> {
    let replay = config.replay();
    let freshness = Freshness::new(replay.max_age(), replay.future_skew(), replay.retention())
        .map_err(StartError::Freshness)?;
    let namespace = |name: &str| Namespace::new(name).map_err(StartError::Namespace);
    let (stores, ledger): ([Arc<dyn NonceStore>; 3], Arc<dyn Ledger>) = match replay.backend() {
        ReplayBackend::Memory => {
            let memory = MemoryNonceStore::new();
            let stores: [Arc<dyn NonceStore>; 3] = [
                Arc::new(memory.namespaced(namespace("telemetry")?)),
                Arc::new(memory.namespaced(namespace("feedback")?)),
                Arc::new(memory.namespaced(namespace("manifest")?)),
            ];
            (
                stores,
                Arc::new(MemoryLedger::with_capacity(MAX_LEDGER_ENTRIES)),
            )
        }
        ReplayBackend::Redis(url) => {
            let roots = match replay.redis_ca() {
                Some(path) => Some(read_bytes(path)?),
                None => None,
            };
            let redis = RedisNonceStore::connect_with_roots(
                url.as_str(),
                roots,
                RedisNonceStore::DEFAULT_TIMEOUT,
            )
            .await
            .map_err(StartError::Store)?;
            let stores: [Arc<dyn NonceStore>; 3] = [
                Arc::new(redis.namespaced(namespace("telemetry")?)),
                Arc::new(redis.namespaced(namespace("feedback")?)),
                Arc::new(redis.namespaced(namespace("manifest")?)),
            ];
            (stores, Arc::new(RedisLedger::new(redis)))
        }
    };
    let [telemetry, feedback, manifest] = stores.map(|store| AntiReplay::new(freshness, store));
    let guards = Guards {
        telemetry,
        feedback,
        manifest,
    };
    Ok((guards, ledger))
}
