//! The binding ledger under contention: many tenants racing for many
//! bindings, in memory and on a real redis-server shared by two connections
//! (two replicas). Each binding must have exactly one owner, and every
//! loser must be told who owns it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::antireplay::{Ledger, MemoryLedger, RedisLedger, RedisNonceStore};

use super::redis_server::RedisServer;

const TENANTS: usize = 32;
const BINDINGS: usize = 64;
const RETENTION: Duration = Duration::from_secs(60);

/// Every tenant tries to bind every binding, all at once, spread over
/// `ledgers`; returns, per binding, the owners each caller was told of.
async fn race(ledgers: Vec<Arc<dyn Ledger>>) -> BTreeMap<usize, Vec<String>> {
    let barrier = Arc::new(tokio::sync::Barrier::new(TENANTS));
    let mut tasks = Vec::new();
    for tenant in 0..TENANTS {
        let ledger = Arc::clone(&ledgers[tenant % ledgers.len()]);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let me = format!("tenant-{tenant}");
            let mut seen = Vec::new();
            for binding in 0..BINDINGS {
                let key = format!("binding:{binding}");
                let owner = ledger.bind(&key, &me, RETENTION).await.expect("bind");
                seen.push((binding, owner.unwrap_or(me.clone())));
            }
            seen
        }));
    }
    let mut owners: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for task in tasks {
        for (binding, owner) in task.await.expect("task") {
            owners.entry(binding).or_default().push(owner);
        }
    }
    owners
}

fn assert_one_owner_each(owners: &BTreeMap<usize, Vec<String>>) {
    assert_eq!(owners.len(), BINDINGS);
    for (binding, told) in owners {
        assert_eq!(told.len(), TENANTS);
        assert!(
            told.iter().all(|owner| owner == &told[0]),
            "binding {binding} has several owners: {told:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bindings_have_one_owner_under_contention() {
    let ledger: Arc<dyn Ledger> = Arc::new(MemoryLedger::with_capacity(10_000));
    assert_one_owner_each(&race(vec![ledger]).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_bindings_have_one_owner_across_replicas() {
    let server = RedisServer::start();
    let mut ledgers: Vec<Arc<dyn Ledger>> = Vec::new();
    for _ in 0..2 {
        let store = RedisNonceStore::connect(&server.url(), Duration::from_secs(2))
            .await
            .expect("connect");
        ledgers.push(Arc::new(RedisLedger::new(store)));
    }
    assert_one_owner_each(&race(ledgers).await);
}

/// A ledger in memory and one on `server`, to hold to the same contract.
async fn both_ledgers(server: &RedisServer) -> [Arc<dyn Ledger>; 2] {
    let store = RedisNonceStore::connect(&server.url(), Duration::from_secs(2))
        .await
        .expect("connect");
    [
        Arc::new(MemoryLedger::with_capacity(10)),
        Arc::new(RedisLedger::new(store)),
    ]
}

#[tokio::test]
async fn a_taken_key_is_gone_and_taken_once() {
    let server = RedisServer::start();
    for ledger in both_ledgers(&server).await {
        assert_eq!(
            ledger
                .bind("challenge:1", "tenant-a", RETENTION)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            ledger.take("challenge:1").await.unwrap().as_deref(),
            Some("tenant-a")
        );
        assert_eq!(ledger.take("challenge:1").await.unwrap(), None);
    }
}

#[tokio::test]
async fn a_key_is_released_only_while_it_holds_the_releasers_value() {
    let server = RedisServer::start();
    for ledger in both_ledgers(&server).await {
        ledger
            .bind("binding:1", "tenant-a", RETENTION)
            .await
            .unwrap();
        assert!(!ledger.release("binding:1", "tenant-b").await.unwrap());
        assert_eq!(
            ledger.get("binding:1").await.unwrap().as_deref(),
            Some("tenant-a"),
            "another holder's release leaves the key"
        );
        assert!(ledger.release("binding:1", "tenant-a").await.unwrap());
        assert_eq!(ledger.get("binding:1").await.unwrap(), None);
        assert!(!ledger.release("binding:1", "tenant-a").await.unwrap());
        assert_eq!(
            ledger
                .bind("binding:1", "tenant-b", RETENTION)
                .await
                .unwrap(),
            None,
            "a released key can be bound anew"
        );
    }
}

#[tokio::test]
async fn an_expired_key_is_gone() {
    let ledger = MemoryLedger::with_capacity(10);
    ledger
        .bind("challenge:2", "t", Duration::from_millis(50))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(ledger.take("challenge:2").await.unwrap(), None);
}

#[tokio::test]
async fn a_full_memory_ledger_refuses_new_keys() {
    let ledger = MemoryLedger::with_capacity(2);
    for key in ["a", "b"] {
        ledger.bind(key, "t", RETENTION).await.unwrap();
    }
    let error = ledger.bind("c", "t", RETENTION).await.unwrap_err();
    assert!(error.to_string().contains("full"), "{error}");
}

#[tokio::test]
async fn a_vanished_redis_fails_closed() {
    let server = RedisServer::start();
    let store = RedisNonceStore::connect(&server.url(), Duration::from_millis(500))
        .await
        .expect("connect");
    let ledger = RedisLedger::new(store);
    drop(server);
    assert!(ledger.bind("binding:x", "t", RETENTION).await.is_err());
    assert!(ledger.take("challenge:x").await.is_err());
}
