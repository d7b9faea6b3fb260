//! The federation gateway end to end: a generated dev setup served over
//! mTLS on a loopback port, driven by a peer's HTTP/1.1 client with signed
//! telemetry, feedback and manifests. Every refusal is checked for its
//! status, its `{"error": {code, message, request_id}}` body, and a message
//! free of key material.

mod attacks;
mod attest;
mod harness;
mod policy_input;
// The same throwaway redis-server as the host's unit tests; not every
// helper of it is used here.
#[allow(dead_code)]
#[path = "../../host/src/antireplay/tests/redis_server.rs"]
mod redis;
mod wire;

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Barrier;

use verdict_host::crypto::load_verifying_key;
use verdict_host::messages::{ResponseStatus, verify_response};
use verdict_host::policy::PolicyKind;
use verdict_host::replay::{PolicyDirectory, replay};

use crate::common::runtime;
use harness::{Client, Gateway, Reply, Req, Setup, identity, is_id, tls_client, try_once};
use wire::{
    Telemetry, eddsa_token, feedback, fresh_hash, gateway_keyring, manifest, manifest_request,
    now_secs, raw_token, signed_feedback, signed_telemetry, signing_key,
};

/// The measurement every accepted execution here records.
const MEASUREMENT: &str = "a3f1c2d4e5b6a7980123456789abcdef0fedcba9876543210a1b2c3d4e5f6a7b";
/// Another measurement, for feedback that disagrees.
const OTHER_MEASUREMENT: &str = "0000000000000000000000000000000000000000000000000000000000000001";

/// Sends alpha's signed telemetry for a fresh execution and expects 202.
async fn accepted_execution(gw: &Gateway, client: &mut Client) -> Telemetry {
    let t = Telemetry::new("tenant-a", "op-a1", &fresh_hash("execution"), MEASUREMENT);
    client
        .send(&t.signed(&signing_key(gw.layout(), "alpha")))
        .await
        .expect(202);
    t
}

/// The members of a JSON object, sorted.
fn members(value: &Value) -> Vec<String> {
    let mut names: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .cloned()
        .collect();
    names.sort_unstable();
    names
}

// ---------------------------------------------------------------- 2xx

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_telemetry_is_logged_and_the_log_replays() {
    let gw = Setup::new().start().await;
    let alpha = signing_key(gw.layout(), "alpha");
    let mut client = gw.client("alpha").await;

    let t = Telemetry::new("tenant-a", "op-a1", &fresh_hash("accepted"), MEASUREMENT);
    let request = t.signed(&alpha);
    let body = client.send(&request).await.expect(202);
    assert_eq!(
        members(&body),
        ["decision_id", "leaf_index", "request_id"],
        "{body}"
    );
    let request_id = body["request_id"].as_str().expect("request_id").to_string();
    let decision_id = body["decision_id"]
        .as_str()
        .expect("decision_id")
        .to_string();
    assert!(is_id(&request_id) && is_id(&decision_id), "{body}");
    // A refusal too, so the log holds a host record for replay to skip.
    client.send(&request).await.expect_error(409, "replay");

    drop(client);
    let setup = gw.stop().await;
    let log = setup.log();
    let accepted = log
        .iter()
        .find(|entry| entry.record.id.to_string() == decision_id)
        .unwrap_or_else(|| panic!("decision {decision_id} is in the log"));
    let record = &accepted.record;
    assert_eq!(record.request_id.as_deref(), Some(request_id.as_str()));
    assert!(record.decision.allow, "{:?}", record.decision);
    assert_eq!(record.policy.kind, PolicyKind::Rego);
    assert_eq!(
        record.input.claims["record"]["session_binding_hash"],
        t.execution_hash.as_str()
    );
    assert_eq!(record.input.claims["record"]["tenant_id"], "tenant-a");
    let refused = log
        .iter()
        .find(|entry| entry.record.policy.kind == PolicyKind::Host)
        .expect("the refusal is logged as a host decision");
    assert!(!refused.record.decision.allow);
    assert_eq!(refused.record.input.claims["code"], "replay");
    assert_eq!(refused.record.input.claims["status"], 409);
    assert_eq!(refused.record.input.claims["identity"], "alpha");

    let key = load_verifying_key(&setup.layout().decision_log_pub()).expect("decision log key");
    let policies = PolicyDirectory::scan(&setup.dir().join("policies")).expect("policies");
    let report = replay(&log, &key, &policies, runtime(), |_| {});
    assert_eq!(report.records, log.len());
    assert!(report.passed(), "replay failed: {:?}", report.failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics() {
    let gw = Setup::new().start().await;
    let mut client = gw.client("alpha").await;
    let health = client.send(&Req::get("/healthz")).await;
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.text(), "ok\n");

    accepted_execution(&gw, &mut client).await;
    let refused =
        Req::post_json("/v1/telemetry", b"{}".to_vec()).header("content-type", "text/plain");
    client
        .send(&refused)
        .await
        .expect_error(415, "unsupported_media_type");

    let metrics = client.send(&Req::get("/metrics")).await;
    assert_eq!(metrics.status, 200, "{}", metrics.text());
    let text = metrics.text();
    let has_line = |prefix: &str, labels: &[&str]| {
        text.lines()
            .any(|line| line.starts_with(prefix) && labels.iter().all(|label| line.contains(label)))
    };
    assert!(text.contains("verdict_requests"), "{text}");
    assert!(
        has_line(
            "verdict_requests",
            &["route=\"telemetry\"", "status=\"202\""]
        ),
        "{text}"
    );
    assert!(
        has_line(
            "verdict_requests",
            &["route=\"telemetry\"", "status=\"415\""]
        ),
        "{text}"
    );
    assert!(text.contains("verdict_decision_seconds"), "{text}");
    assert!(
        has_line("verdict_decision_seconds", &["policy=\"isolation\""]),
        "{text}"
    );
}

// ---------------------------------------------------------------- 401 and the handshake

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_authentication_failures_are_401() {
    let gw = Setup::new().start().await;
    let alpha = signing_key(gw.layout(), "alpha");
    let mut client = gw.client("alpha").await;
    let fresh = || {
        Telemetry::new(
            "tenant-a",
            "op-a1",
            &fresh_hash("unauthenticated"),
            MEASUREMENT,
        )
    };

    // One byte of the body changed after signing.
    let mut tampered = fresh().signed(&alpha);
    let at = tampered
        .body
        .windows(4)
        .position(|w| w == b"1234")
        .expect("payload cpu_ms");
    tampered.body[at] = b'9';
    let message = client
        .send(&tampered)
        .await
        .expect_error(401, "unauthenticated");
    let signature = tampered
        .headers
        .iter()
        .find(|(n, _)| n == "x-telemetry-signature")
        .unwrap()
        .1
        .clone();
    assert!(!message.contains(&signature), "{message}");

    // No signature header.
    let unsigned = fresh()
        .signed(&alpha)
        .without_header("x-telemetry-signature");
    let message = client
        .send(&unsigned)
        .await
        .expect_error(401, "unauthenticated");
    assert!(
        message.to_ascii_lowercase().contains("signature"),
        "names the header: {message}"
    );

    // Signed 400 s ago (max age 300 s), and 120 s ahead (skew 30 s).
    for offset in [-400i64, 120] {
        let mut t = fresh();
        t.timestamp = now_secs().checked_add_signed(offset).unwrap();
        client
            .send(&t.signed(&alpha))
            .await
            .expect_error(401, "unauthenticated");
    }

    // X-Service-Identity must name the certificate's identity.
    let claimed = fresh().signed(&alpha).header("x-service-identity", "beta");
    client
        .send(&claimed)
        .await
        .expect_error(401, "unauthenticated");
    let matching = fresh().signed(&alpha).header("x-service-identity", "alpha");
    client.send(&matching).await.expect(202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_from_another_ca_fails_the_handshake() {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, SanType,
    };
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let gw = Setup::new().start().await;
    // Rogue CAs issuing a certificate that looks like alpha's in every name:
    // one named like the dev CA (so only its signature gives it away), one
    // named otherwise (an unknown issuer).
    for ca_name in ["verdict dev CA", "rogue CA"] {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name.push(DnType::CommonName, ca_name);
        ca.distinguished_name
            .push(DnType::OrganizationName, "verdict dev");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let rogue = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
        leaf.distinguished_name.push(DnType::CommonName, "alpha");
        leaf.distinguished_name
            .push(DnType::OrganizationName, "verdict dev");
        leaf.subject_alt_names = vec![SanType::URI(
            "spiffe://verdict.local/alpha".try_into().unwrap(),
        )];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&key, &rogue).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));

        let tls = tls_client(
            &gw.layout().ca_cert(),
            Some((vec![cert.der().clone()], key)),
        );
        let outcome = try_once(gw.addr(), tls, &Req::get("/healthz")).await;
        // TLS 1.3: the client finishes its side first, then reads the
        // server's alert, or finds the connection closed, depending on which
        // arrives first; in no case an HTTP response.
        let error = outcome.expect_err("a foreign client certificate got an HTTP response");
        assert!(
            error.contains("AlertReceived") || error.contains("connection closed"),
            "{ca_name}: {error}"
        );
    }

    // The same request with alpha's real certificate is answered.
    let answered = try_once(gw.addr(), gw.tls_for("alpha"), &Req::get("/healthz")).await;
    assert_eq!(answered.expect("alpha is served").status, 200);
}

/// A certificate from the trusted CA that no identity pins gets through the
/// handshake but is no one: every signed route refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpinned_certificate_from_the_trusted_ca_is_401() {
    use rcgen::{
        CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let gw = Setup::new().start().await;
    // Issue with the dev CA's own key, under its own name.
    let ca_key = std::fs::read_to_string(gw.layout().ca_key()).expect("read ca.key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "verdict dev CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "verdict dev");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let issuer = Issuer::new(ca, KeyPair::from_pem(&ca_key).expect("CA key"));
    let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "gamma");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    leaf.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let tls = tls_client(
        &gw.layout().ca_cert(),
        Some((vec![cert.der().clone()], key)),
    );

    let mut gamma = Client::connect(gw.addr(), tls)
        .await
        .expect("a certificate of the trusted CA completes the handshake");
    let alpha = signing_key(gw.layout(), "alpha");
    let t = Telemetry::new("tenant-a", "op-a1", &fresh_hash("gamma"), MEASUREMENT);
    let message = gamma
        .send(&t.signed(&alpha))
        .await
        .expect_error(401, "unauthenticated");
    assert!(message.contains("pinned"), "{message}");
    let token = eddsa_token(&alpha, "alpha-k1", &manifest());
    gamma
        .send(&manifest_request(&token))
        .await
        .expect_error(401, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_client_certificate_fails_the_handshake() {
    use tokio::io::AsyncReadExt as _;

    let gw = Setup::new().start().await;
    let tls = tls_client(&gw.layout().ca_cert(), None);
    // TLS 1.3 finishes the client's side of the handshake before the server
    // has judged the (missing) certificate, so read the server's verdict
    // without sending anything first: a request the server never reads
    // could make its close a reset that destroys the alert in flight.
    let tcp = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .expect("the client's side of the handshake completes");
    let mut byte = [0u8; 1];
    let error = match stream.read(&mut byte).await {
        Ok(n) => panic!("a client without a certificate read {n} bytes"),
        Err(error) => format!("{error:?}"),
    };
    assert!(
        error.contains("AlertReceived(CertificateRequired)"),
        "{error}"
    );
}

// ---------------------------------------------------------------- 403

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_outside_the_identitys_tenant_is_403() {
    let gw = Setup::new().start().await;
    let alpha = signing_key(gw.layout(), "alpha");
    let mut client = gw.client("alpha").await;

    // alpha acts for tenant-a only.
    let other_tenant = Telemetry::new("tenant-b", "op-b1", &fresh_hash("tenant-b"), MEASUREMENT);
    let message = client
        .send(&other_tenant.signed(&alpha))
        .await
        .expect_error(403, "forbidden");
    assert!(message.contains("tenant-b"), "{message}");

    // op-b1 belongs to tenant-b.
    let other_operator = Telemetry::new("tenant-a", "op-b1", &fresh_hash("op-b1"), MEASUREMENT);
    let message = client
        .send(&other_operator.signed(&alpha))
        .await
        .expect_error(403, "forbidden");
    assert!(message.contains("op-b1"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_policy_denies_an_execution_reported_by_another_tenant() {
    let gw = Setup::new().start().await;
    let hash = fresh_hash("shared");
    let mut alpha = gw.client("alpha").await;
    let mut beta = gw.client("beta").await;

    let first = Telemetry::new("tenant-a", "op-a1", &hash, MEASUREMENT);
    alpha
        .send(&first.signed(&signing_key(gw.layout(), "alpha")))
        .await
        .expect(202);
    let second = Telemetry::new("tenant-b", "op-b1", &hash, MEASUREMENT);
    let reply = beta
        .send(&second.signed(&signing_key(gw.layout(), "beta")))
        .await;
    let message = reply.expect_error(403, "policy_denied");
    assert!(
        message.contains("session binding is already bound to another tenant"),
        "{message}"
    );

    // beta on an execution of its own is fine.
    let own = Telemetry::new("tenant-b", "op-b1", &fresh_hash("beta-own"), MEASUREMENT);
    beta.send(&own.signed(&signing_key(gw.layout(), "beta")))
        .await
        .expect(202);
}

/// The binding of an execution to its first tenant must hold when two
/// tenants report the same execution at the same moment: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_binding_holds_under_concurrent_reports() {
    let gw = Setup::new().start().await;
    let keys = [
        signing_key(gw.layout(), "alpha"),
        signing_key(gw.layout(), "beta"),
    ];
    let mut double_accepts = Vec::new();
    for round in 0..8 {
        let hash = fresh_hash("race");
        let requests = [
            Telemetry::new("tenant-a", "op-a1", &hash, MEASUREMENT).signed(&keys[0]),
            Telemetry::new("tenant-b", "op-b1", &hash, MEASUREMENT).signed(&keys[1]),
        ];
        let (mut c0, mut c1) = (gw.client("alpha").await, gw.client("beta").await);
        let barrier = Barrier::new(2);
        let (a, b) = tokio::join!(
            send_after(&barrier, &mut c0, &requests[0]),
            send_after(&barrier, &mut c1, &requests[1])
        );
        let mut statuses = [a, b];
        statuses.sort_unstable();
        if statuses == [202, 202] {
            double_accepts.push(round);
        } else {
            assert_eq!(statuses, [202, 403], "round {round}");
        }
    }
    assert!(
        double_accepts.is_empty(),
        "both tenants were accepted for one execution in rounds {double_accepts:?}"
    );
}

async fn send_after(barrier: &Barrier, client: &mut Client, request: &Req) -> u16 {
    barrier.wait().await;
    client.send(request).await.status
}

// ---------------------------------------------------------------- 409

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_telemetry_is_409() {
    let gw = Setup::new().start().await;
    let mut client = gw.client("alpha").await;
    let t = Telemetry::new("tenant-a", "op-a1", &fresh_hash("replayed"), MEASUREMENT);
    let request = t.signed(&signing_key(gw.layout(), "alpha"));
    client.send(&request).await.expect(202);
    client.send(&request).await.expect_error(409, "replay");
    // On another connection too.
    let mut other = gw.client("alpha").await;
    other.send(&request).await.expect_error(409, "replay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_copies_are_accepted_once() {
    let gw = Setup::new().start().await;
    let t = Telemetry::new("tenant-a", "op-a1", &fresh_hash("concurrent"), MEASUREMENT);
    let request = t.signed(&signing_key(gw.layout(), "alpha"));
    let barrier = Arc::new(Barrier::new(16));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let mut client = gw.client("alpha").await;
        let (request, barrier) = (request.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            client.send(&request).await
        }));
    }
    let mut replies: Vec<Reply> = Vec::new();
    for task in tasks {
        replies.push(task.await.expect("request task"));
    }
    let accepted = replies.iter().filter(|r| r.status == 202).count();
    let replayed: Vec<&Reply> = replies.iter().filter(|r| r.status == 409).collect();
    assert_eq!(
        (accepted, replayed.len()),
        (1, 15),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for reply in replayed {
        reply.expect_error(409, "replay");
    }
}

// ---------------------------------------------------------------- 400, 413, 415, 422, 429

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_schema_and_media_type_errors() {
    let gw = Setup::new().start().await;
    let alpha = signing_key(gw.layout(), "alpha");
    let mut client = gw.client("alpha").await;

    // 400: a correctly signed body that is not JSON.
    let malformed = signed_telemetry(
        &alpha,
        now_secs(),
        &wire::nonce(),
        b"{\"tenant_id\": \"tenant-a\",".to_vec(),
    );
    client.send(&malformed).await.expect_error(400, "malformed");

    // 422: correctly signed JSON whose execution_hash is not 64 hex digits.
    let mut t = Telemetry::new("tenant-a", "op-a1", &fresh_hash("schema"), MEASUREMENT);
    t.execution_hash = "XYZ-not-a-hash".into();
    let message = client
        .send(&t.signed(&alpha))
        .await
        .expect_error(422, "schema");
    assert!(
        message.contains("XYZ-not-a-hash"),
        "names the bad value: {message}"
    );

    // 415: a signed telemetry request sent as text/plain, or with no type.
    let good =
        Telemetry::new("tenant-a", "op-a1", &fresh_hash("media"), MEASUREMENT).signed(&alpha);
    client
        .send(&good.clone().header("content-type", "text/plain"))
        .await
        .expect_error(415, "unsupported_media_type");
    client
        .send(&good.clone().without_header("content-type"))
        .await
        .expect_error(415, "unsupported_media_type");
    // The refusals claimed no nonce: the same request, as JSON, is accepted.
    client.send(&good).await.expect(202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_the_limit_is_413() {
    let setup = Setup::new();
    setup.set_limits(256, 200, 400);
    let gw = setup.start().await;
    let alpha = signing_key(gw.layout(), "alpha");
    let mut client = gw.client("alpha").await;
    let request =
        Telemetry::new("tenant-a", "op-a1", &fresh_hash("large"), MEASUREMENT).signed(&alpha);
    assert!(
        request.body.len() > 256,
        "the telemetry body is {} bytes",
        request.body.len()
    );
    let message = client
        .send(&request)
        .await
        .expect_error(413, "payload_too_large");
    assert!(message.contains("256"), "{message}");
    // Chunked, without a Content-Length: the limit holds while reading.
    let chunked = Telemetry::new("tenant-a", "op-a1", &fresh_hash("chunked"), MEASUREMENT)
        .signed(&alpha)
        .header("transfer-encoding", "chunked");
    let mut other = gw.client("alpha").await;
    other
        .send(&chunked)
        .await
        .expect_error(413, "payload_too_large");
    // A small body still gets through to the checks.
    let small = signed_telemetry(&alpha, now_secs(), &wire::nonce(), b"[]".to_vec());
    client.send(&small).await.expect_error(422, "schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_rate_are_429() {
    let setup = Setup::new();
    setup.set_limits(1 << 20, 1, 2);
    let gw = setup.start().await;
    let alpha = signing_key(gw.layout(), "alpha");
    let mut client = gw.client("alpha").await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let t = Telemetry::new("tenant-a", "op-a1", &fresh_hash("rate"), MEASUREMENT);
        let reply = client.send(&t.signed(&alpha)).await;
        if reply.status == 429 {
            reply.expect_error(429, "rate_limited");
        }
        statuses.push(reply.status);
    }
    // A burst of 2, refilled at 1/s: the first two pass, and at most one of
    // the rest could (were the five requests to take over a second).
    assert_eq!(statuses[..2], [202, 202], "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == 429).count() >= 2,
        "{statuses:?}"
    );
    // Identities have buckets of their own.
    let mut beta = gw.client("beta").await;
    let t = Telemetry::new("tenant-b", "op-b1", &fresh_hash("rate-beta"), MEASUREMENT);
    beta.send(&t.signed(&signing_key(gw.layout(), "beta")))
        .await
        .expect(202);
}

// ---------------------------------------------------------------- feedback

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_answered_with_a_signed_response() {
    let gw = Setup::new().start().await;
    let alpha = signing_key(gw.layout(), "alpha");
    let mut client = gw.client("alpha").await;
    let keyring = gateway_keyring(gw.layout());
    let t = accepted_execution(&gw, &mut client).await;

    // Accepted: same execution and measurement.
    let accepted = client
        .send(&signed_feedback(
            &alpha,
            feedback("alpha-k1", "tenant-a", &t.execution_hash, MEASUREMENT),
        ))
        .await;
    let leaf_index = accepted
        .leaf_index
        .expect("the X-Verdict-Leaf-Index header");
    let body = accepted.expect(200);
    assert_eq!(
        members(&body),
        [
            "decision_id",
            "kid",
            "nonce",
            "reasons",
            "signature",
            "signed_at",
            "status"
        ]
    );
    assert_eq!(body["status"], "accepted", "{body}");
    assert_eq!(body["reasons"], json!([]));
    assert_eq!(body["kid"], "gateway-k1");
    let verified = verify_response(&accepted.body, &keyring, &identity("gateway"))
        .expect("the gateway's signature verifies");
    assert_eq!(verified.status, ResponseStatus::Accepted);
    assert_eq!(
        verified.decision_id.to_string(),
        body["decision_id"].as_str().unwrap()
    );
    assert!(verified.signed_at.get().abs_diff(now_secs()) < 60);
    let accepted_id = verified.decision_id.to_string();

    // Rejected by the policy: a measurement other than the recorded one.
    let rejected = client
        .send(&signed_feedback(
            &alpha,
            feedback("alpha-k1", "tenant-a", &t.execution_hash, OTHER_MEASUREMENT),
        ))
        .await;
    let body = rejected.expect(200);
    assert_eq!(body["status"], "rejected", "{body}");
    assert_eq!(
        body["reasons"],
        json!(["attestation_measurement_hash differs from the one recorded for the execution"])
    );
    let verified =
        verify_response(&rejected.body, &keyring, &identity("gateway")).expect("signed too");
    assert_eq!(verified.status, ResponseStatus::Rejected);
    // The answer's signature covers the status: flip it and it fails.
    let forged = rejected.text().replace("\"rejected\"", "\"accepted\"");
    assert!(verify_response(forged.as_bytes(), &keyring, &identity("gateway")).is_err());

    // The same signed feedback twice.
    let once = signed_feedback(
        &alpha,
        feedback("alpha-k1", "tenant-a", &t.execution_hash, MEASUREMENT),
    );
    client.send(&once).await.expect(200);
    client.send(&once).await.expect_error(409, "replay");

    drop(client);
    let setup = gw.stop().await;
    let log = setup.log();
    let record = log
        .iter()
        .find(|e| e.record.id.to_string() == accepted_id)
        .expect("feedback decision logged");
    assert!(record.record.decision.allow);
    assert_eq!(record.record.input.claims["feedback"]["kid"], "alpha-k1");
    assert_eq!(
        record.record.seq, leaf_index,
        "the header names the record's leaf"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_with_the_wrong_key_is_refused() {
    let gw = Setup::new().start().await;
    let beta_key = signing_key(gw.layout(), "beta");
    let mut client = gw.client("alpha").await;
    let t = accepted_execution(&gw, &mut client).await;

    // beta's key, claiming kid alpha-k1: the signature does not verify.
    let wrong_key = signed_feedback(
        &beta_key,
        feedback("alpha-k1", "tenant-a", &t.execution_hash, MEASUREMENT),
    );
    client
        .send(&wrong_key)
        .await
        .expect_error(401, "unauthenticated");

    // alpha using beta's kid (properly signed by beta's key): not alpha's key.
    let foreign = signed_feedback(
        &beta_key,
        feedback("beta-k1", "tenant-a", &t.execution_hash, MEASUREMENT),
    );
    let message = client.send(&foreign).await.expect_error(403, "forbidden");
    assert!(message.contains("beta-k1"), "{message}");

    // An unknown kid.
    let unknown = signed_feedback(
        &beta_key,
        feedback("nobody-k1", "tenant-a", &t.execution_hash, MEASUREMENT),
    );
    client
        .send(&unknown)
        .await
        .expect_error(401, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_rotate() {
    use ed25519_dalek::pkcs8::EncodePublicKey as _;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;

    let setup = Setup::new();
    let k1 = signing_key(setup.layout(), "alpha");
    let k2 = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let k2_pub = setup.dir().join("clients/alpha/signing-k2.pub.pem");
    std::fs::write(
        &k2_pub,
        k2.verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
    )
    .unwrap();
    let k1_line = "public_key = \"clients/alpha/signing.pub.pem\"\n";
    setup.edit_config(|text| {
        text.replacen(
            k1_line,
            &format!("{k1_line}\n[[identities.keys]]\nkid = \"alpha-k2\"\npublic_key = \"clients/alpha/signing-k2.pub.pem\"\n"),
            1,
        )
    });

    // Both keys live.
    let gw = setup.start().await;
    let mut client = gw.client("alpha").await;
    let t = accepted_execution(&gw, &mut client).await;
    let by_k2 = Telemetry::new("tenant-a", "op-a1", &fresh_hash("k2"), MEASUREMENT);
    client.send(&by_k2.signed(&k2)).await.expect(202);
    for (key, kid) in [(&k1, "alpha-k1"), (&k2, "alpha-k2")] {
        let reply = client
            .send(&signed_feedback(
                key,
                feedback(kid, "tenant-a", &t.execution_hash, MEASUREMENT),
            ))
            .await;
        assert_eq!(reply.expect(200)["status"], "accepted", "{kid}");
    }
    drop(client);
    let setup = gw.stop().await;

    // alpha-k1 retired.
    setup.edit_config(|text| text.replacen(k1_line, &format!("{k1_line}retired = true\n"), 1));
    let gw = setup.start().await;
    let mut client = gw.client("alpha").await;
    let by_k1 = Telemetry::new("tenant-a", "op-a1", &fresh_hash("k1-retired"), MEASUREMENT);
    client
        .send(&by_k1.signed(&k1))
        .await
        .expect_error(401, "unauthenticated");
    let t = Telemetry::new("tenant-a", "op-a1", &fresh_hash("k2-only"), MEASUREMENT);
    client.send(&t.signed(&k2)).await.expect(202);
    let retired = signed_feedback(
        &k1,
        feedback("alpha-k1", "tenant-a", &t.execution_hash, MEASUREMENT),
    );
    let message = client
        .send(&retired)
        .await
        .expect_error(401, "unauthenticated");
    assert!(message.contains("alpha-k1"), "{message}");
    let live = client
        .send(&signed_feedback(
            &k2,
            feedback("alpha-k2", "tenant-a", &t.execution_hash, MEASUREMENT),
        ))
        .await;
    let body = live.expect(200);
    assert_eq!(body["status"], "accepted", "{body}");
    verify_response(
        &live.body,
        &gateway_keyring(gw.layout()),
        &identity("gateway"),
    )
    .expect("signed answer");
}

// ---------------------------------------------------------------- manifests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_are_verified() {
    let gw = Setup::new().start().await;
    let alpha = signing_key(gw.layout(), "alpha");
    let mut client = gw.client("alpha").await;

    let m = manifest();
    let token = eddsa_token(&alpha, "alpha-k1", &m);
    let reply = client.send(&manifest_request(&token)).await;
    let body = reply.expect(200);
    assert_eq!(body["verified"], true, "{body}");
    assert!(body["decision_id"].as_str().is_some_and(is_id), "{body}");
    assert!(body["request_id"].as_str().is_some_and(is_id), "{body}");
    assert_eq!(body["manifest"]["tenant_id"], "tenant-a");
    assert_eq!(body["manifest"]["target_urn"], "urn:example:host/web-01");

    // The same token again: its nonce is spent.
    client
        .send(&manifest_request(&token))
        .await
        .expect_error(409, "replay");

    // alg none, with no signature.
    let none = raw_token(&json!({"alg": "none", "kid": "alpha-k1"}), &manifest(), b"");
    client
        .send(&manifest_request(&none))
        .await
        .expect_error(401, "unauthenticated");
    // HS256, "signed" with the public key as the HMAC secret.
    let public = alpha.verifying_key().to_bytes();
    let hs256 = raw_token(
        &json!({"alg": "HS256", "kid": "alpha-k1"}),
        &manifest(),
        &public,
    );
    client
        .send(&manifest_request(&hs256))
        .await
        .expect_error(401, "unauthenticated");
    // A kid no keyring holds.
    let unknown = eddsa_token(&alpha, "nobody-k1", &manifest());
    client
        .send(&manifest_request(&unknown))
        .await
        .expect_error(401, "unauthenticated");
    // EdDSA by the right key id but another key.
    let forged = eddsa_token(&signing_key(gw.layout(), "beta"), "alpha-k1", &manifest());
    client
        .send(&manifest_request(&forged))
        .await
        .expect_error(401, "unauthenticated");
    // Validly signed by beta's own key, but presented by alpha: a service
    // identity only presents manifests it signed itself.
    let beta_signed = eddsa_token(&signing_key(gw.layout(), "beta"), "beta-k1", &manifest());
    client
        .send(&manifest_request(&beta_signed))
        .await
        .expect_error(403, "forbidden");
    // Not {"jws": ...}.
    let wrong_shape = Req::post_json(
        "/v1/manifests/verify",
        serde_json::to_vec(&json!({"token": token})).unwrap(),
    );
    client.send(&wrong_shape).await.expect_error(422, "schema");
}

// ---------------------------------------------------------------- Redis

/// A Redis that may evict keys would forget nonces and bindings early:
/// `verdict serve` refuses it at start-up, naming the setting.
#[test]
fn serve_refuses_a_redis_that_may_evict_keys() {
    let redis =
        redis::RedisServer::start_with(redis::free_port(), &["--maxmemory-policy", "allkeys-lru"]);
    let setup = Setup::new();
    let url = redis.url();
    setup.use_redis(&url, None);
    let out = attacks::serve_refused(setup.layout().config().to_str().unwrap());
    let stderr = crate::cli::stderr(&out);
    assert_eq!(crate::cli::code(&out), 2, "{stderr}");
    assert!(
        stderr.contains("maxmemory-policy is `allkeys-lru`")
            && stderr.contains("set `maxmemory-policy noeviction`"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_backend_detects_replays_and_fails_closed() {
    let mut redis = redis::RedisServer::start();
    let setup = Setup::new();
    let url = redis.url();
    setup.use_redis(&url, None);
    let gw = setup.start().await;
    let alpha = signing_key(gw.layout(), "alpha");
    let mut client = gw.client("alpha").await;

    let request =
        Telemetry::new("tenant-a", "op-a1", &fresh_hash("redis"), MEASUREMENT).signed(&alpha);
    client.send(&request).await.expect(202);
    client.send(&request).await.expect_error(409, "replay");

    redis.kill();
    for _ in 0..2 {
        let t = Telemetry::new("tenant-a", "op-a1", &fresh_hash("redis-down"), MEASUREMENT);
        let message = client
            .send(&t.signed(&alpha))
            .await
            .expect_error(503, "unavailable");
        assert!(
            !message.contains("redis://"),
            "the store's address is not shown: {message}"
        );
    }
}

/// Redis killed (SIGKILL) under load and started again on its data: 503
/// while it is down, service resumes without restarting the gateway, and no
/// request is ever accepted twice, before or after the crash (Redis runs
/// with `appendfsync always`, as docs/gateway-config.md asks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_under_load_recovers_without_a_duplicate_accept() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let durable = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        dir.as_str(),
    ];
    let port = redis::free_port();
    let mut server = redis::RedisServer::start_with(port, &durable);
    let setup = Setup::new();
    let url = server.url();
    setup.use_redis(&url, None);
    let gw = setup.start().await;
    let alpha = signing_key(gw.layout(), "alpha");
    let mut client = gw.client("alpha").await;
    let mut accepted = Vec::new();
    let send = async |client: &mut Client, i: usize| {
        let hash = fresh_hash(&format!("load-{i}"));
        let request = Telemetry::new("tenant-a", "op-a1", &hash, MEASUREMENT).signed(&alpha);
        let status = client.send(&request).await.status;
        (request, status)
    };
    for i in 0..15 {
        let (request, status) = send(&mut client, i).await;
        assert_eq!(status, 202, "request {i} before the crash");
        accepted.push(request);
    }
    server.kill();
    for i in 15..20 {
        let (_, status) = send(&mut client, i).await;
        assert_eq!(status, 503, "request {i} while redis is down");
    }
    server = redis::RedisServer::start_with(port, &durable);
    // The gateway reconnects on demand, without a restart; a client retries
    // a 503 with a new request (a refused claim may have been recorded).
    let mut i = 20;
    let resumed = loop {
        let (request, status) = send(&mut client, i).await;
        i += 1;
        match status {
            202 => break request,
            503 if i < 120 => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            other => panic!("request {i}: {other} after redis came back"),
        }
    };
    accepted.push(resumed);
    for j in i..i + 10 {
        let (request, status) = send(&mut client, j).await;
        assert_eq!(status, 202, "request {j} after recovery");
        accepted.push(request);
    }
    // Every accepted request, replayed, is refused: the nonces recorded
    // before the crash survived it.
    for request in &accepted {
        client.send(request).await.expect_error(409, "replay");
    }
    drop(server);
}

/// The production store: a TLS-only Redis (`rediss://`, roots from
/// `replay.redis_ca`) with an ACL user. Replays are caught through it, and
/// the password never reaches a client or the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_redis_with_an_acl_user_backs_the_gateway() {
    let redis = redis::TlsRedis::start();
    let setup = Setup::new();
    let url = redis.url(redis::TlsRedis::USER, redis::TlsRedis::PASSWORD);
    let ca = redis.ca_file();
    setup.use_redis(&url, Some(&ca));
    let gw = setup.start().await;
    let alpha = signing_key(gw.layout(), "alpha");
    let mut client = gw.client("alpha").await;
    let request =
        Telemetry::new("tenant-a", "op-a1", &fresh_hash("tls"), MEASUREMENT).signed(&alpha);
    let accepted = client.send(&request).await;
    accepted.expect(202);
    client.send(&request).await.expect_error(409, "replay");
    drop(client);
    let setup = gw.stop().await;
    let log = std::fs::read_to_string(setup.layout().decision_log()).unwrap();
    assert!(!log.contains(redis::TlsRedis::PASSWORD));

    // A wrong password: the gateway refuses to start, without echoing it.
    let wrong = redis.url(redis::TlsRedis::USER, "not-the-password");
    setup.edit_config(|text| text.replace(&url, &wrong));
    let out = attacks::serve_refused(setup.layout().config().to_str().unwrap());
    let stderr = crate::cli::stderr(&out);
    assert_eq!(crate::cli::code(&out), 2, "{stderr}");
    assert!(stderr.contains("anti-replay store"), "{stderr}");
    assert!(!stderr.contains("not-the-password"), "{stderr}");
}

/// Two replicas on one Redis: an execution reported to one is held for its
/// tenant on the other, and feedback sent to the other is checked against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_sharing_redis_share_bindings_and_executions() {
    let redis = redis::RedisServer::start();
    let url = redis.url();
    let first = Setup::new();
    first.use_redis(&url, None);
    let second = first.replica();
    let (one, two) = (first.start().await, second.start().await);
    let alpha = signing_key(one.layout(), "alpha");
    let beta = signing_key(one.layout(), "beta");

    let t = accepted_execution(&one, &mut one.client("alpha").await).await;
    let stolen = Telemetry::new("tenant-b", "op-b1", &t.execution_hash, MEASUREMENT);
    let message = two
        .client("beta")
        .await
        .send(&stolen.signed(&beta))
        .await
        .expect_error(403, "policy_denied");
    assert!(
        message.contains("already bound to another tenant"),
        "{message}"
    );

    let on_two = two
        .client("alpha")
        .await
        .send(&signed_feedback(
            &alpha,
            feedback("alpha-k1", "tenant-a", &t.execution_hash, MEASUREMENT),
        ))
        .await
        .expect(200);
    assert_eq!(on_two["status"], "accepted", "{on_two}");
}

/// Stores `value` under the ledger key `key` of the Redis at `port`, as
/// something other than a gateway (or damage) would.
fn redis_set(port: u16, key: &str, value: &str) {
    let status = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &port.to_string(),
            "SET",
            &format!("verdict:ledger:{key}"),
            value,
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run redis-cli");
    assert!(status.success(), "redis-cli SET {key}");
}

/// A ledger record that does not parse is refused with 503, never read as
/// "nothing recorded": feedback on a corrupt execution record, and
/// telemetry whose binding names no tenant, both fail closed and are logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_ledger_record_fails_closed() {
    let redis = redis::RedisServer::start();
    let url = redis.url();
    let setup = Setup::new();
    setup.use_redis(&url, None);
    let gw = setup.start().await;
    let alpha = signing_key(gw.layout(), "alpha");
    let mut client = gw.client("alpha").await;

    let corrupt_execution = fresh_hash("corrupt-execution");
    redis_set(
        redis.port(),
        &format!("execution:{corrupt_execution}"),
        "{\"tenant\": ",
    );
    let message = client
        .send(&signed_feedback(
            &alpha,
            feedback("alpha-k1", "tenant-a", &corrupt_execution, MEASUREMENT),
        ))
        .await
        .expect_error(503, "unavailable");
    assert!(message.contains("corrupt"), "{message}");

    let corrupt_binding = fresh_hash("corrupt-binding");
    redis_set(
        redis.port(),
        &format!("binding:{corrupt_binding}"),
        "not a tenant!",
    );
    let t = Telemetry::new("tenant-a", "op-a1", &corrupt_binding, MEASUREMENT);
    let message = client
        .send(&t.signed(&alpha))
        .await
        .expect_error(503, "unavailable");
    assert!(message.contains("corrupt"), "{message}");

    let setup = gw.stop().await;
    let refusals: Vec<_> = setup
        .log()
        .into_iter()
        .filter(|entry| entry.record.input.claims["code"] == "unavailable")
        .collect();
    assert_eq!(refusals.len(), 2, "both refusals are logged");
}

// ---------------------------------------------------------------- the log

/// An auditor fetches the signed checkpoint, proves an acknowledged
/// decision into it, and proves the next checkpoint extends it, all over
/// the gateway's routes and checked offline with the log's public key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_routes_serve_checkpoints_and_proofs_that_verify() {
    use verdict_host::log::{ConsistencyBundle, InclusionBundle, SignedCheckpoint};

    let gw = Setup::new().start().await;
    let log_key = load_verifying_key(&gw.layout().decision_log_pub()).unwrap();
    let alpha = signing_key(gw.layout(), "alpha");
    let mut client = gw.client("alpha").await;
    let t = Telemetry::new("tenant-a", "op-a1", &fresh_hash("log-1"), MEASUREMENT);
    let accepted = client.send(&t.signed(&alpha)).await.expect(202);

    let reply = client.send(&Req::get("/v1/log/checkpoint")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let first = SignedCheckpoint::verify(&reply.text(), &log_key).expect("a signed checkpoint");
    let first_size = first.checkpoint().size;
    assert!(first_size >= 1);

    // The acknowledged decision names its leaf and proves itself into that
    // checkpoint.
    let seq = accepted["leaf_index"].as_u64().expect("the leaf index");
    assert!(seq < first_size);
    let reply = client
        .send(&Req::get(&format!("/v1/log/proof?seq={seq}")))
        .await;
    let bundle: InclusionBundle = serde_json::from_slice(&reply.body).expect("a proof bundle");
    let verified = bundle.verify(&log_key).expect("the proof verifies");
    assert_eq!(
        verified.record.id.to_string(),
        accepted["decision_id"].as_str().unwrap()
    );
    let mut tampered = bundle.clone();
    tampered.record = tampered.record.replace("tenant-a", "tenant-b");
    assert!(tampered.verify(&log_key).is_err(), "an edited record fails");

    // A later checkpoint extends the first.
    let t = Telemetry::new("tenant-a", "op-a1", &fresh_hash("log-2"), MEASUREMENT);
    client.send(&t.signed(&alpha)).await.expect(202);
    let reply = client
        .send(&Req::get(&format!("/v1/log/consistency?from={first_size}")))
        .await;
    let body = reply.expect(200);
    let latest = SignedCheckpoint::verify(body["checkpoint"].as_str().unwrap(), &log_key).unwrap();
    assert!(latest.checkpoint().size > first_size);
    let proof = serde_json::from_value(body["proof"].clone()).unwrap();
    let bundle = ConsistencyBundle::new(&first, &latest, proof);
    bundle
        .verify(&log_key)
        .expect("the later tree extends the earlier");

    // Bad requests name their fault; sizes beyond the checkpoint are 404.
    for (path, status, code) in [
        ("/v1/log/proof", 400, "malformed"),
        ("/v1/log/proof?seq=x", 400, "malformed"),
        ("/v1/log/proof?seq=99999", 404, "not_found"),
        ("/v1/log/consistency?to=1", 400, "malformed"),
        ("/v1/log/consistency?from=1&to=99999", 404, "not_found"),
    ] {
        client
            .send(&Req::get(path))
            .await
            .expect_error(status, code);
    }
}
