//! Tests of the anti-replay module. The Redis tests start their own
//! `redis-server` (see [`redis_server`]); without one they fail, asking for
//! `tests/setup.sh`.

mod freshness;
mod key;
mod ledger;
mod memory;
mod redis;
mod redis_server;

use crate::ids::{Nonce, TenantId};

fn tenant(s: &str) -> TenantId {
    s.parse().expect("test tenant id")
}

fn nonce(s: &str) -> Nonce {
    Nonce::parse(s).expect("test nonce")
}

/// Runs 64 identical claims of `n` for `tenant-a` at once, spread round-robin
/// over `stores`, and counts the `Fresh` answers. Every claim must succeed.
async fn race(stores: &[std::sync::Arc<dyn crate::antireplay::NonceStore>], n: &Nonce) -> usize {
    use std::sync::Arc;

    use crate::antireplay::Claim;

    const CLAIMS: usize = 64;
    let barrier = Arc::new(tokio::sync::Barrier::new(CLAIMS));
    let mut tasks = Vec::with_capacity(CLAIMS);
    for i in 0..CLAIMS {
        let store = Arc::clone(&stores[i % stores.len()]);
        let barrier = Arc::clone(&barrier);
        let n = n.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .claim(&tenant("tenant-a"), &n, std::time::Duration::from_secs(900))
                .await
        }));
    }
    let mut fresh = 0;
    for task in tasks {
        match task.await.expect("claim task") {
            Ok(Claim::Fresh) => fresh += 1,
            Ok(Claim::Replayed) => {}
            Err(e) => panic!("claim failed: {e}"),
        }
    }
    fresh
}
