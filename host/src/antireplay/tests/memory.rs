use std::sync::Arc;
use std::time::Duration;

use crate::antireplay::{
    AntiReplay, Claim, Freshness, MAX_RETENTION, MemoryNonceStore, Namespace, NonceStore,
    Rejection, StoreError,
};
use crate::timestamp::Timestamp;

use super::{nonce, race, tenant};

const RETENTION: Duration = Duration::from_secs(900);

#[tokio::test]
async fn first_claim_is_fresh_then_replayed() {
    let store = MemoryNonceStore::new();
    let (t, n) = (tenant("tenant-a"), nonce("nonce-0001"));
    assert_eq!(store.claim(&t, &n, RETENTION).await.unwrap(), Claim::Fresh);
    assert_eq!(
        store.claim(&t, &n, RETENTION).await.unwrap(),
        Claim::Replayed
    );
    assert_eq!(
        store.claim(&t, &n, RETENTION).await.unwrap(),
        Claim::Replayed
    );
    assert_eq!(
        store
            .claim(&t, &nonce("nonce-0002"), RETENTION)
            .await
            .unwrap(),
        Claim::Fresh
    );
}

#[tokio::test]
async fn tenants_are_separate_scopes() {
    let store = MemoryNonceStore::new();
    let n = nonce("shared:nonce");
    assert_eq!(
        store
            .claim(&tenant("tenant-a"), &n, RETENTION)
            .await
            .unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        store
            .claim(&tenant("tenant-b"), &n, RETENTION)
            .await
            .unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        store
            .claim(&tenant("tenant-a"), &n, RETENTION)
            .await
            .unwrap(),
        Claim::Replayed
    );
    assert_eq!(
        store
            .claim(&tenant("tenant-b"), &n, RETENTION)
            .await
            .unwrap(),
        Claim::Replayed
    );
}

#[tokio::test]
async fn namespaces_are_separate_but_share_the_cache() {
    let base = MemoryNonceStore::new();
    let telemetry = base.namespaced(Namespace::new("telemetry").unwrap());
    let feedback = base.namespaced(Namespace::new("feedback").unwrap());
    let (t, n) = (tenant("tenant-a"), nonce("nonce-0001"));
    assert_eq!(
        telemetry.claim(&t, &n, RETENTION).await.unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        feedback.claim(&t, &n, RETENTION).await.unwrap(),
        Claim::Fresh
    );
    assert_eq!(base.claim(&t, &n, RETENTION).await.unwrap(), Claim::Fresh);
    assert_eq!(
        telemetry.clone().claim(&t, &n, RETENTION).await.unwrap(),
        Claim::Replayed
    );
    assert_eq!(
        feedback.claim(&t, &n, RETENTION).await.unwrap(),
        Claim::Replayed
    );
    assert_eq!(base.live_entries(), 3);
}

#[tokio::test]
async fn a_claim_is_forgotten_after_its_retention() {
    let store = MemoryNonceStore::new();
    let (t, n) = (tenant("tenant-a"), nonce("nonce-0001"));
    let short = Duration::from_secs(1);
    assert_eq!(store.claim(&t, &n, short).await.unwrap(), Claim::Fresh);
    assert_eq!(store.claim(&t, &n, short).await.unwrap(), Claim::Replayed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(store.claim(&t, &n, short).await.unwrap(), Claim::Fresh);
    assert_eq!(store.claim(&t, &n, short).await.unwrap(), Claim::Replayed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_64_concurrent_claims_is_fresh() {
    let store: Arc<dyn NonceStore> = Arc::new(MemoryNonceStore::new());
    for round in 0..20 {
        let n = nonce(&format!("race-nonce-{round}"));
        let fresh = race(&[Arc::clone(&store)], &n).await;
        assert_eq!(fresh, 1, "round {round}");
    }
}

#[tokio::test]
async fn at_capacity_new_nonces_are_refused_not_evicted() {
    let store = MemoryNonceStore::with_capacity(2);
    let t = tenant("tenant-a");
    let short = Duration::from_secs(1);
    assert_eq!(
        store.claim(&t, &nonce("nonce-0001"), short).await.unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        store.claim(&t, &nonce("nonce-0002"), short).await.unwrap(),
        Claim::Fresh
    );
    assert!(matches!(
        store.claim(&t, &nonce("nonce-0003"), short).await,
        Err(StoreError::Full { capacity: 2 })
    ));
    // Held nonces are still recognised as replays, never forgotten.
    assert_eq!(
        store.claim(&t, &nonce("nonce-0001"), short).await.unwrap(),
        Claim::Replayed
    );
    assert_eq!(
        store.claim(&t, &nonce("nonce-0002"), short).await.unwrap(),
        Claim::Replayed
    );
    // Once they expire, room is reclaimed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        store.claim(&t, &nonce("nonce-0003"), short).await.unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        store.claim(&t, &nonce("nonce-0001"), short).await.unwrap(),
        Claim::Fresh
    );
    assert_eq!(store.live_entries(), 2);
    assert!(matches!(
        store.claim(&t, &nonce("nonce-0004"), short).await,
        Err(StoreError::Full { capacity: 2 })
    ));
}

#[tokio::test]
async fn retention_outside_the_range_is_refused() {
    let store = MemoryNonceStore::new();
    let (t, n) = (tenant("tenant-a"), nonce("nonce-0001"));
    for retention in [
        Duration::ZERO,
        Duration::from_micros(999),
        MAX_RETENTION + Duration::from_secs(1),
    ] {
        assert!(matches!(
            store.claim(&t, &n, retention).await,
            Err(StoreError::InvalidRetention { retention: r }) if r == retention
        ));
    }
    // Nothing was recorded by the refused calls.
    assert_eq!(store.claim(&t, &n, RETENTION).await.unwrap(), Claim::Fresh);
}

#[tokio::test]
async fn anti_replay_checks_freshness_before_claiming() {
    let guard = AntiReplay::new(Freshness::default(), Arc::new(MemoryNonceStore::new()));
    let (t, n) = (tenant("tenant-a"), nonce("nonce-0001"));
    let now = Timestamp::from_unix(1_795_000_000, 0);
    let signed_at = now.unix_seconds();
    assert!(matches!(
        guard.admit(&t, &n, signed_at - 301, now).await,
        Err(Rejection::NotFresh(_))
    ));
    assert!(matches!(
        guard.admit(&t, &n, signed_at + 31, now).await,
        Err(Rejection::NotFresh(_))
    ));
    // The refused requests claimed nothing: the nonce is still unused.
    guard.admit(&t, &n, signed_at, now).await.unwrap();
    assert!(matches!(
        guard.admit(&t, &n, signed_at, now).await,
        Err(Rejection::Replayed)
    ));
}

/// Many racers over many nonces at once, on a multi-threaded runtime: each
/// nonce is fresh for exactly one of them. (The binding ledger's first,
/// moka-based version failed this shape of test; this pins the nonce store.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_racers_over_many_nonces_each_nonce_is_fresh_once() {
    const RACERS: usize = 32;
    const NONCES: usize = 64;
    let store = MemoryNonceStore::new();
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let t = tenant("tenant-a");
            let mut fresh = Vec::new();
            for i in 0..NONCES {
                let n = nonce(&format!("nonce-{i:04}"));
                if store.claim(&t, &n, RETENTION).await.unwrap() == Claim::Fresh {
                    fresh.push(i);
                }
            }
            fresh
        }));
    }
    let mut count = [0usize; NONCES];
    for task in tasks {
        for i in task.await.unwrap() {
            count[i] += 1;
        }
    }
    assert!(count.iter().all(|c| *c == 1), "fresh counts: {count:?}");
}
