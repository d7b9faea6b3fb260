use std::sync::Arc;
use std::time::Duration;

use crate::antireplay::{Claim, Namespace, NonceStore, RedisNonceStore, StoreError, Unavailable};

use super::redis_server::{RedisServer, TlsRedis, free_port};
use super::{nonce, race, tenant};

const RETENTION: Duration = Duration::from_secs(900);
const TIMEOUT: Duration = Duration::from_secs(2);

async fn connect(server: &RedisServer) -> RedisNonceStore {
    RedisNonceStore::connect(&server.url(), TIMEOUT)
        .await
        .expect("connect to the test redis-server")
}

/// A plain connection for inspecting the server directly.
async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .expect("redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("raw connection")
}

#[tokio::test]
async fn first_claim_is_fresh_then_replayed() {
    let server = RedisServer::start();
    let store = connect(&server).await;
    let (t, n) = (tenant("tenant-a"), nonce("nonce-0001"));
    assert_eq!(store.claim(&t, &n, RETENTION).await.unwrap(), Claim::Fresh);
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
    // Another connection (another replica) sees the same claims.
    let other = connect(&server).await;
    assert_eq!(
        other.claim(&t, &n, RETENTION).await.unwrap(),
        Claim::Replayed
    );
}

#[tokio::test]
async fn tenants_and_namespaces_are_separate_scopes() {
    let server = RedisServer::start();
    let base = connect(&server).await;
    let telemetry = base.namespaced(Namespace::new("telemetry").unwrap());
    let manifest = base.namespaced(Namespace::new("manifest").unwrap());
    let n = nonce("shared:nonce");
    let (a, b) = (tenant("tenant-a"), tenant("tenant-b"));
    for store in [&base, &telemetry, &manifest] {
        assert_eq!(store.claim(&a, &n, RETENTION).await.unwrap(), Claim::Fresh);
        assert_eq!(store.claim(&b, &n, RETENTION).await.unwrap(), Claim::Fresh);
    }
    for store in [&base, &telemetry, &manifest] {
        assert_eq!(
            store.claim(&a, &n, RETENTION).await.unwrap(),
            Claim::Replayed
        );
        assert_eq!(
            store.claim(&b, &n, RETENTION).await.unwrap(),
            Claim::Replayed
        );
    }
    let mut conn = raw(&server).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("verdict:nonce:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 6);
    assert!(
        keys.contains(&"verdict:nonce:9:telemetry:8:tenant-a:12:shared:nonce".to_string()),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_64_concurrent_claims_is_fresh_across_connections() {
    let server = RedisServer::start();
    let mut stores: Vec<Arc<dyn NonceStore>> = Vec::new();
    for _ in 0..4 {
        stores.push(Arc::new(connect(&server).await));
    }
    for round in 0..10 {
        let fresh = race(&stores, &nonce(&format!("race-nonce-{round}"))).await;
        assert_eq!(fresh, 1, "round {round}");
    }
}

#[tokio::test]
async fn keys_carry_the_retention_as_ttl_and_expire() {
    let server = RedisServer::start();
    let store = connect(&server).await;
    let (t, n) = (tenant("tenant-a"), nonce("nonce-0001"));
    assert_eq!(store.claim(&t, &n, RETENTION).await.unwrap(), Claim::Fresh);
    let mut conn = raw(&server).await;
    let pttl: i64 = redis::cmd("PTTL")
        .arg(store.key_for(&t, &n))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(pttl > 0 && pttl <= 900_000, "PTTL {pttl}");

    // A sub-millisecond retention is rounded up, never down to "no expiry".
    let rounded = nonce("nonce-rounded");
    let retention = Duration::from_micros(1_000_001);
    assert_eq!(
        store.claim(&t, &rounded, retention).await.unwrap(),
        Claim::Fresh
    );
    let pttl: i64 = redis::cmd("PTTL")
        .arg(store.key_for(&t, &rounded))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(pttl > 0 && pttl <= 1_001, "PTTL {pttl}");

    let short = nonce("nonce-short");
    assert_eq!(
        store
            .claim(&t, &short, Duration::from_secs(1))
            .await
            .unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        store
            .claim(&t, &short, Duration::from_secs(1))
            .await
            .unwrap(),
        Claim::Replayed
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(store.key_for(&t, &short))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 0);
    assert_eq!(
        store
            .claim(&t, &short, Duration::from_secs(1))
            .await
            .unwrap(),
        Claim::Fresh
    );
}

#[tokio::test]
async fn retention_outside_the_range_is_refused_without_a_command() {
    let server = RedisServer::start();
    let store = connect(&server).await;
    let (t, n) = (tenant("tenant-a"), nonce("nonce-0001"));
    assert!(matches!(
        store.claim(&t, &n, Duration::ZERO).await,
        Err(StoreError::InvalidRetention { .. })
    ));
    assert_eq!(store.claim(&t, &n, RETENTION).await.unwrap(), Claim::Fresh);
}

#[tokio::test]
async fn a_server_that_goes_away_makes_claims_unavailable() {
    let mut server = RedisServer::start();
    let store = RedisNonceStore::connect(&server.url(), Duration::from_secs(1))
        .await
        .unwrap();
    let t = tenant("tenant-a");
    assert_eq!(
        store
            .claim(&t, &nonce("nonce-0001"), RETENTION)
            .await
            .unwrap(),
        Claim::Fresh
    );
    server.kill();
    // Several claims, new nonces and a replay alike: each must end, and in
    // `Unavailable`, never in a `Claim`. The outer bound only turns a hang
    // into a failure; it is far above the 1 s command timeout.
    for n in ["nonce-0002", "nonce-0003", "nonce-0001"] {
        let outcome = tokio::time::timeout(
            Duration::from_secs(30),
            store.claim(&t, &nonce(n), RETENTION),
        )
        .await
        .expect("a claim against a dead server must not hang");
        assert!(
            matches!(outcome, Err(StoreError::Unavailable(_))),
            "{n}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn claims_resume_when_the_server_comes_back() {
    let mut server = RedisServer::start();
    let store = RedisNonceStore::connect(&server.url(), Duration::from_secs(1))
        .await
        .unwrap();
    let t = tenant("tenant-a");
    server.kill();
    assert!(matches!(
        store.claim(&t, &nonce("nonce-0001"), RETENTION).await,
        Err(StoreError::Unavailable(_))
    ));
    let _server = RedisServer::start_on(server.port());
    // The connection manager reconnects on demand; a few attempts allow for
    // a reconnection already under way when the server came back. Each
    // attempt uses a new nonce, as a client must after a 503: a claim that
    // failed may still have been recorded.
    let mut claimed = None;
    for attempt in 0..50 {
        let n = nonce(&format!("nonce-retry-{attempt}"));
        match store.claim(&t, &n, RETENTION).await {
            Ok(claim) => {
                claimed = Some((n, claim));
                break;
            }
            Err(StoreError::Unavailable(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(other) => panic!("{other}"),
        }
    }
    let (n, claim) = claimed.expect("claims never resumed after the server came back");
    assert_eq!(claim, Claim::Fresh);
    assert_eq!(
        store.claim(&t, &n, RETENTION).await.unwrap(),
        Claim::Replayed
    );
}

#[tokio::test]
async fn connecting_to_a_closed_port_is_unavailable() {
    let url = format!("redis://127.0.0.1:{}/", free_port());
    let outcome = tokio::time::timeout(
        Duration::from_secs(30),
        RedisNonceStore::connect(&url, TIMEOUT),
    )
    .await
    .expect("connect must not hang");
    assert!(
        matches!(
            outcome,
            Err(StoreError::Unavailable(
                Unavailable::Connect(_) | Unavailable::ConnectTimeout(_)
            ))
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn an_invalid_url_is_unavailable() {
    let outcome = RedisNonceStore::connect("not a url", TIMEOUT).await;
    assert!(
        matches!(
            outcome,
            Err(StoreError::Unavailable(Unavailable::InvalidUrl(_)))
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_server_that_may_evict_keys_is_refused_naming_the_setting() {
    for policy in ["allkeys-lru", "volatile-ttl", "allkeys-random"] {
        let server = RedisServer::start_with(free_port(), &["--maxmemory-policy", policy]);
        let refused = RedisNonceStore::connect(&server.url(), Duration::from_secs(2)).await;
        let error = refused.expect_err("an evicting server is refused");
        let message = error.to_string();
        match error {
            StoreError::Evicting { policy: found } => assert_eq!(found, policy),
            other => panic!("{policy}: expected Evicting, got {other:?}"),
        }
        assert!(message.contains("maxmemory-policy noeviction"), "{message}");
    }
    let explicit = RedisServer::start_with(free_port(), &["--maxmemory-policy", "noeviction"]);
    assert!(
        RedisNonceStore::connect(&explicit.url(), Duration::from_secs(2))
            .await
            .is_ok()
    );
}

/// A TLS-only Redis with an ACL user: claims and ledger scripts work with
/// the right user, password and roots, and every other combination fails
/// closed.
#[tokio::test]
async fn a_tls_redis_with_an_acl_user_works_and_refuses_anything_else() {
    let redis = TlsRedis::start();
    let timeout = Duration::from_secs(2);
    let good = redis.url(TlsRedis::USER, TlsRedis::PASSWORD);
    let roots = std::fs::read(redis.ca_file()).unwrap();
    let store = RedisNonceStore::connect_with_roots(&good, Some(roots), timeout)
        .await
        .expect("the ACL user connects over TLS");
    let (t, n) = (tenant("tenant-a"), nonce("tls-nonce-1"));
    let retention = Duration::from_secs(60);
    assert_eq!(store.claim(&t, &n, retention).await.unwrap(), Claim::Fresh);
    assert_eq!(
        store.claim(&t, &n, retention).await.unwrap(),
        Claim::Replayed
    );
    let ledger = crate::antireplay::RedisLedger::new(store);
    use crate::antireplay::Ledger as _;
    assert_eq!(
        ledger
            .bind("binding:x", "tenant-a", retention)
            .await
            .unwrap(),
        None
    );
    assert!(ledger.release("binding:x", "tenant-a").await.unwrap());

    let refused = |url: String, roots: Option<Vec<u8>>| async move {
        RedisNonceStore::connect_with_roots(&url, roots, timeout).await
    };
    let wrong_password = refused(
        redis.url(TlsRedis::USER, "guess"),
        Some(redis.ca_pem.clone()),
    );
    assert!(
        matches!(wrong_password.await, Err(StoreError::Unavailable(_))),
        "a wrong password is refused"
    );
    let port = redis.server.port();
    let anonymous = refused(
        format!("rediss://127.0.0.1:{port}/"),
        Some(redis.ca_pem.clone()),
    );
    assert!(anonymous.await.is_err(), "the default user is off");
    let plaintext = refused(
        format!(
            "redis://{}:{}@127.0.0.1:{port}/",
            TlsRedis::USER,
            TlsRedis::PASSWORD
        ),
        None,
    );
    assert!(plaintext.await.is_err(), "no plaintext on the TLS port");
    let stranger = TlsRedis::start();
    let wrong_roots = refused(good.clone(), Some(stranger.ca_pem.clone()));
    assert!(
        wrong_roots.await.is_err(),
        "a certificate from another CA is refused"
    );
    let system_roots = refused(good, None);
    assert!(
        system_roots.await.is_err(),
        "the test CA is not a system root"
    );
}
