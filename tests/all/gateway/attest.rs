//! Mutual attestation end to end: challenge, evidence bound to the
//! challenge and the runner's ephemeral key, appraisal, the EAR checked
//! against the served JWKS, the control plane's own evidence, and every
//! terminal failure.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use verdict_host::crypto::{SignatureAlgorithm, SigningKey};
use verdict_host::digest::Digest;
use verdict_host::evidence::memory::region::{InMemory, Protection, RegionSource};
use verdict_host::evidence::memory::report::{self, DriftMode, MemoryAppraisal, ReportRequest};
use verdict_host::evidence::session::{
    KeyThumbprint, bound_nonce, control_plane_nonce, ephemeral_key,
};
use verdict_host::evidence::{self, EvidenceDocument, EvidenceEntry, EvidenceNonce, VerifyOptions};
use verdict_host::gateway::attest::sign_request;
use verdict_host::policy::PolicyKind;
use verdict_host::replay::{PolicyDirectory, replay};
use verdict_host::timestamp::Timestamp;

use super::harness::{Client, Req, Setup};
use super::wire::{Telemetry, signing_key};
use crate::common::runtime;
use verdict_host::gateway::dev::DevLayout;

const MEASUREMENT: &str = "a3f1c2d4e5b6a7980123456789abcdef0fedcba9876543210a1b2c3d4e5f6a7b";

pub(super) async fn challenge(client: &mut Client, tenant: &str, operator: &str) -> EvidenceNonce {
    let body = json!({"tenant_id": tenant, "operator_id": operator});
    let reply = client
        .send(&Req::post_json(
            "/v1/challenge",
            body.to_string().into_bytes(),
        ))
        .await
        .expect(201);
    reply["challenge"]
        .as_str()
        .expect("challenge")
        .parse()
        .expect("hex")
}

/// A runner: its root secret and the memory it attests.
pub(super) struct Runner {
    root: [u8; 32],
    report_key: SigningKey,
    execution: Digest,
}

/// What the runners' one region holds; `attest_setup` pins its digest.
const WEIGHTS: &[u8] = b"the weights of a small model";

fn weights(id: &str) -> InMemory {
    InMemory::new(
        id.parse().unwrap(),
        "model weights",
        WEIGHTS.to_vec(),
        Protection::READ_ONLY,
    )
}

/// A dev setup whose `[attestation.memory]` pins the runners' `weights`
/// region (the dev setup already trusts each identity's attester key).
pub(super) fn attest_setup() -> Setup {
    let setup = Setup::new();
    let digest = report::measure(&weights("weights"), 1).unwrap().sha3_256;
    setup.edit_config(|text| {
        text.replacen(
            "[attestation.memory]\n",
            &format!(
                "[attestation.memory]\npins = {{ weights = \"{}\" }}\n",
                digest.hex()
            ),
            1,
        )
    });
    setup
}

/// Replaces the appraisal data the gateway loads at start.
pub(super) fn set_appraisal_data(setup: &Setup, data: Value) {
    std::fs::write(setup.layout().attestation_data(), data.to_string()).unwrap();
}

impl Runner {
    /// A runner of `identity` that signs its memory reports with the
    /// identity's attester key, which the dev gateway trusts.
    pub(super) fn of(layout: &DevLayout, identity: &str) -> Self {
        let key = layout.client_attester_key(&identity.parse().unwrap());
        Self::with_report_key(verdict_host::crypto::load_signing_key(&key).unwrap())
    }

    /// A runner whose report key nobody configured: it signs with a key it
    /// made itself.
    pub(super) fn self_signed() -> Self {
        Self::with_report_key(SigningKey::generate(SignatureAlgorithm::MlDsa65))
    }

    fn with_report_key(report_key: SigningKey) -> Self {
        Self {
            root: rand_bytes(),
            report_key,
            execution: Digest::of(&rand_bytes()),
        }
    }

    fn evidence(&self, nonce: &EvidenceNonce) -> Value {
        self.evidence_of(nonce, &[&weights("weights")])
    }

    /// A memory report of `sources`, bound to `nonce`.
    pub(super) fn evidence_of(
        &self,
        nonce: &EvidenceNonce,
        sources: &[&dyn RegionSource],
    ) -> Value {
        let report = report::create(
            &ReportRequest {
                sources,
                workload_id: "llm-7",
                platform: "linux-x86_64",
                nonce,
                expected: BTreeMap::new(),
                ttl: report::DEFAULT_TTL,
                now: Timestamp::now(),
                threads: 1,
            },
            &self.report_key,
        )
        .unwrap();
        let document = EvidenceDocument {
            nonce: Some(nonce.clone()),
            evidence: vec![EvidenceEntry::memory_report(&report)],
        };
        document.to_value()
    }

    /// This runner's ephemeral key for one execution of `tenant`/`operator`.
    pub(super) fn ephemeral(&self, tenant: &str, operator: &str) -> SigningKey {
        let (tenant, operator) = (tenant.parse().unwrap(), operator.parse().unwrap());
        ephemeral_key(&self.root, &self.execution, &tenant, &operator)
    }

    /// An attest request carrying `evidence`, signed by the ephemeral key;
    /// returns the body and the runner's nonce.
    pub(super) fn signed(
        &self,
        challenge: &EvidenceNonce,
        tenant: &str,
        operator: &str,
        evidence: Value,
    ) -> (Vec<u8>, EvidenceNonce) {
        let runner_nonce = EvidenceNonce::random();
        let unsigned = json!({
            "challenge": challenge,
            "tenant_id": tenant,
            "operator_id": operator,
            "execution_fingerprint": self.execution,
            "runner_nonce": runner_nonce,
            "evidence": evidence,
        });
        let Value::Object(map) = unsigned else {
            unreachable!()
        };
        let signed = sign_request(&self.ephemeral(tenant, operator), map).unwrap();
        (signed.to_string().into_bytes(), runner_nonce)
    }

    /// A signed attest request; `bind` picks the nonce the evidence binds.
    pub(super) fn request(
        &self,
        challenge: &EvidenceNonce,
        tenant: &str,
        operator: &str,
        bind: impl Fn(&EvidenceNonce, &SigningKey) -> EvidenceNonce,
    ) -> (Vec<u8>, EvidenceNonce) {
        let nonce = bind(challenge, &self.ephemeral(tenant, operator));
        self.signed(challenge, tenant, operator, self.evidence(&nonce))
    }
}

/// The control plane's own regions are not pinned by these runners: they
/// check its report's signature and nonce, and read its digests.
fn lenient() -> MemoryAppraisal {
    MemoryAppraisal {
        mode: DriftMode::Lenient,
        ..MemoryAppraisal::default()
    }
}

pub(super) fn bound(challenge: &EvidenceNonce, ephemeral: &SigningKey) -> EvidenceNonce {
    bound_nonce(challenge, ephemeral.verifying_key())
}

fn rand_bytes() -> [u8; 32] {
    *EvidenceNonce::random().as_bytes().first_chunk().unwrap()
}

pub(super) async fn attest(client: &mut Client, body: Vec<u8>) -> super::harness::Reply {
    client.send(&Req::post_json("/v1/attest", body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_attestation_gets_an_ear_the_jwks_verifies_and_control_plane_evidence() {
    let gw = attest_setup().start().await;
    let mut alpha = gw.client("alpha").await;
    let runner = Runner::of(gw.layout(), "alpha");
    let nonce = challenge(&mut alpha, "tenant-a", "op-a1").await;
    let (body, runner_nonce) = runner.request(&nonce, "tenant-a", "op-a1", bound);
    let reply = attest(&mut alpha, body).await.expect(200);
    assert_eq!(reply["status"], "affirming", "{reply}");

    let jwks = alpha
        .send(&Req::get("/.well-known/jwks.json"))
        .await
        .expect(200);
    let now = Timestamp::now().unix_seconds();
    let ear = verdict_host::ear::verify(reply["ear"].as_str().unwrap(), &jwks, now).unwrap();
    let submod = &ear["submods"]["verdict"];
    assert_eq!(submod["ear.status"], "affirming");
    assert_eq!(submod["ear.trustworthiness-vector"]["instance-identity"], 2);
    assert_eq!(
        submod["verdict.session-binding-hash"],
        reply["session_binding_hash"]
    );
    assert_eq!(ear["eat_nonce"], nonce.hex());
    assert!(ear["exp"].as_i64().unwrap() > now);
    // The result is confirmed to the runner's ephemeral key by its full
    // RFC 7638 thumbprint, not a 64-bit key id.
    let ephemeral = runner.ephemeral("tenant-a", "op-a1");
    let thumbprint = KeyThumbprint::of(ephemeral.verifying_key()).unwrap();
    assert_eq!(ear["cnf"]["jkt"], thumbprint.to_string());
    assert_eq!(reply["ephemeral_key_thumbprint"], thumbprint.to_string());
    assert!(submod.get("verdict.ephemeral-key-id").is_none());

    // The control plane's own evidence binds the runner's nonce and the
    // session: it cannot be relayed into another session.
    let document = EvidenceDocument::from_value(reply["control_plane_evidence"].clone()).unwrap();
    let options = |nonce: EvidenceNonce| VerifyOptions {
        expected_nonce: Some(nonce),
        now: Timestamp::now(),
        memory: lenient(),
    };
    let session: Digest = format!("sha256:{}", reply["session_binding_hash"].as_str().unwrap())
        .parse()
        .unwrap();
    let answered = control_plane_nonce(&runner_nonce, &session);
    let claims = evidence::verify(&document, &options(answered)).unwrap();
    assert_eq!(
        claims.to_value().unwrap()["evidence"][0]["workload_id"],
        "verdict-gateway"
    );
    assert!(evidence::verify(&document, &options(runner_nonce.clone())).is_err());
    let other_session = Digest::of(b"another session");
    let relayed = control_plane_nonce(&runner_nonce, &other_session);
    assert!(evidence::verify(&document, &options(relayed)).is_err());

    drop(alpha);
    let setup = gw.stop().await;
    let log = setup.log();
    let appraisal = log
        .iter()
        .find(|e| e.record.id.to_string() == reply["decision_id"].as_str().unwrap())
        .expect("the appraisal is logged");
    assert_eq!(appraisal.record.policy.kind, PolicyKind::Rego);
    assert!(appraisal.record.decision.trust_vector.is_some());
    let key = verdict_host::crypto::load_verifying_key(&setup.layout().decision_log_pub()).unwrap();
    let policies = PolicyDirectory::scan(&setup.dir().join("policies")).unwrap();
    let report = replay(&log, &key, &policies, runtime(), |_| {});
    assert!(report.passed(), "replay failed: {:?}", report.failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_is_terminal_and_named() {
    let gw = attest_setup().start().await;
    let mut alpha = gw.client("alpha").await;
    let mut beta = gw.client("beta").await;
    let runner = Runner::of(gw.layout(), "alpha");

    // Evidence bound to the bare challenge, not to challenge + key: refused,
    // and the challenge is spent.
    let nonce = challenge(&mut alpha, "tenant-a", "op-a1").await;
    let (unbound, _) = runner.request(&nonce, "tenant-a", "op-a1", |c, _| c.clone());
    let message = attest(&mut alpha, unbound)
        .await
        .expect_error(401, "evidence_invalid");
    assert!(message.contains("nonce"), "{message}");
    let (retry, _) = runner.request(&nonce, "tenant-a", "op-a1", bound);
    attest(&mut alpha, retry)
        .await
        .expect_error(401, "unauthenticated");

    // Another tenant cannot answer alpha's challenge (and spends it).
    let nonce = challenge(&mut alpha, "tenant-a", "op-a1").await;
    let (stolen, _) = runner.request(&nonce, "tenant-b", "op-b1", bound);
    attest(&mut beta, stolen)
        .await
        .expect_error(403, "forbidden");
    let (late, _) = runner.request(&nonce, "tenant-a", "op-a1", bound);
    attest(&mut alpha, late)
        .await
        .expect_error(401, "unauthenticated");

    // A challenge for a tenant the identity does not serve is refused.
    let body = json!({"tenant_id": "tenant-b", "operator_id": "op-b1"}).to_string();
    alpha
        .send(&Req::post_json("/v1/challenge", body.into_bytes()))
        .await
        .expect_error(403, "forbidden");

    // A request whose signature is not by its ephemeral key.
    let nonce = challenge(&mut alpha, "tenant-a", "op-a1").await;
    let (body, _) = runner.request(&nonce, "tenant-a", "op-a1", bound);
    let mut tampered: Value = serde_json::from_slice(&body).unwrap();
    tampered["execution_fingerprint"] = json!(Digest::of(b"other"));
    let refused = attest(&mut alpha, tampered.to_string().into_bytes()).await;
    refused.expect_error(401, "unauthenticated");

    // Malformed bodies.
    attest(&mut alpha, b"{".to_vec())
        .await
        .expect_error(400, "malformed");
    let twice = br#"{"challenge": "00112233445566778899", "challenge": "aabbccddeeff00112233"}"#;
    let message = attest(&mut alpha, twice.to_vec())
        .await
        .expect_error(422, "schema");
    assert!(message.contains("duplicate"), "{message}");
    attest(&mut alpha, b"{\"challenge\": 1}".to_vec())
        .await
        .expect_error(422, "schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_binding_cannot_be_reused_by_another_tenant() {
    let gw = attest_setup().start().await;
    let mut alpha = gw.client("alpha").await;
    let mut beta = gw.client("beta").await;
    let runner = Runner::of(gw.layout(), "alpha");
    let nonce = challenge(&mut alpha, "tenant-a", "op-a1").await;
    let (body, _) = runner.request(&nonce, "tenant-a", "op-a1", bound);
    let reply = attest(&mut alpha, body).await.expect(200);
    let binding = reply["session_binding_hash"].as_str().unwrap();

    // Tenant b reports telemetry under tenant a's session binding.
    let beta_key = signing_key(gw.layout(), "beta");
    let t = Telemetry::new("tenant-b", "op-b1", binding, MEASUREMENT);
    let message = beta
        .send(&t.signed(&beta_key))
        .await
        .expect_error(403, "policy_denied");
    assert!(
        message.contains("already bound to another tenant"),
        "{message}"
    );
    // Tenant a may.
    let alpha_key = signing_key(gw.layout(), "alpha");
    let t = Telemetry::new("tenant-a", "op-a1", binding, MEASUREMENT);
    alpha.send(&t.signed(&alpha_key)).await.expect(202);
}

/// Many bindings raced by both tenants at once: each is won by exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_of_many_bindings_each_have_one_winner() {
    let gw = attest_setup().start().await;
    let bindings: Vec<String> = (0..24)
        .map(|i| Digest::of(format!("b{i}-{}", EvidenceNonce::random()).as_bytes()).hex())
        .collect();
    let mut tasks = Vec::new();
    for (name, tenant, operator) in [
        ("alpha", "tenant-a", "op-a1"),
        ("beta", "tenant-b", "op-b1"),
    ] {
        for worker in 0..3 {
            let key = signing_key(gw.layout(), name);
            let mut client = gw.client(name).await;
            let bindings = bindings.clone();
            tasks.push(tokio::spawn(async move {
                let mut won = Vec::new();
                for binding in bindings.iter().skip(worker) {
                    let t = Telemetry::new(tenant, operator, binding, MEASUREMENT);
                    let reply = client.send(&t.signed(&key)).await;
                    assert!(matches!(reply.status, 202 | 403), "{}", reply.text());
                    if reply.status == 202 {
                        won.push((binding.clone(), tenant));
                    }
                }
                won
            }));
        }
    }
    let mut winners: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for task in tasks {
        for (binding, tenant) in task.await.unwrap() {
            winners.entry(binding).or_default().push(tenant);
        }
    }
    assert_eq!(winners.len(), bindings.len(), "every binding has a winner");
    for (binding, tenants) in winners {
        let first = tenants[0];
        assert!(
            tenants.iter().all(|t| *t == first),
            "{binding} accepted for {tenants:?}"
        );
    }
}

/// The runner quotes a real (software) TPM over the bound nonce; the
/// gateway's session binding hash is the documented formula over the quote's
/// PCR digest, recomputed here from what the runner knows.
#[cfg(feature = "tpm-collect")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tpm_quote_over_the_bound_nonce_attests_and_binds_its_pcr_digest() {
    use verdict_host::evidence::session::SessionBinding;
    use verdict_host::evidence::tpm::{self, AkAlgorithm, PcrSelectionSpec, QuoteRequest};

    let swtpm = crate::evidence::swtpm::Swtpm::start();
    let pcrs: PcrSelectionSpec = "sha256:0,1,2,3,7".parse().unwrap();
    let take_quote = |nonce: &[u8]| {
        tpm::quote(&QuoteRequest {
            tcti: &swtpm.tcti(),
            nonce,
            pcrs: &pcrs,
            ak_algorithm: AkAlgorithm::EcdsaP256,
            persistent_ak: Some(0x8101_0004),
        })
        .unwrap()
    };
    // Enrol the runner's persistent AK by its fingerprint, as an operator
    // would after checking it belongs to this TPM.
    let ak = tpm::verify(&take_quote(&[0; 16]), None)
        .unwrap()
        .ak_fingerprint;
    let setup = attest_setup();
    set_appraisal_data(
        &setup,
        json!({"required": ["tpm"], "tpm": {"trusted_aks": [ak]}}),
    );
    let gw = setup.start().await;
    let mut alpha = gw.client("alpha").await;
    let runner = Runner::of(gw.layout(), "alpha");
    let challenge = challenge(&mut alpha, "tenant-a", "op-a1").await;
    let ephemeral = runner.ephemeral("tenant-a", "op-a1");
    let nonce = bound(&challenge, &ephemeral);
    let quote = take_quote(nonce.as_bytes());
    let pcr_digest = tpm::verify(&quote, Some(nonce.as_bytes()))
        .unwrap()
        .pcr_digest;
    let document = EvidenceDocument {
        nonce: Some(nonce),
        evidence: vec![EvidenceEntry::Tpm(quote)],
    };
    let (body, _) = runner.signed(&challenge, "tenant-a", "op-a1", document.to_value());
    let reply = attest(&mut alpha, body).await.expect(200);

    let server_cert = super::harness::pem_certs(&gw.layout().server_cert());
    let control_plane = Digest::of(server_cert[0].as_ref());
    let expected = SessionBinding {
        control_plane: &control_plane,
        challenge: &challenge,
        tenant: &"tenant-a".parse().unwrap(),
        operator: &"op-a1".parse().unwrap(),
        pcr_digest: &hex::decode(pcr_digest).unwrap(),
        ephemeral_key: &KeyThumbprint::of(ephemeral.verifying_key()).unwrap(),
    }
    .hash();
    assert_eq!(reply["session_binding_hash"], expected.hex());
    let jwks = alpha
        .send(&Req::get("/.well-known/jwks.json"))
        .await
        .expect(200);
    let ear = verdict_host::ear::verify(
        reply["ear"].as_str().unwrap(),
        &jwks,
        Timestamp::now().unix_seconds(),
    )
    .unwrap();
    // Hardware evidence verified, no PCR references configured: 3.
    assert_eq!(
        ear["submods"]["verdict"]["ear.trustworthiness-vector"]["hardware"],
        3
    );
}

/// Malformed evidence of every type, inside an otherwise valid, signed
/// request: a 4xx naming the fault, and the gateway keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_evidence_of_every_type_is_a_4xx_naming_the_fault() {
    let gw = attest_setup().start().await;
    let mut alpha = gw.client("alpha").await;
    let runner = Runner::of(gw.layout(), "alpha");
    let report = runner.evidence(&EvidenceNonce::random())["evidence"][0]["report"].clone();
    let mut truncated_report = report.clone();
    truncated_report.as_object_mut().unwrap().remove("regions");
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("not an object", json!([1]), 422, "must be a JSON object"),
        (
            "no entries",
            json!({"evidence": []}),
            422,
            "1 to 16 entries",
        ),
        (
            "too many entries",
            json!({"evidence": vec![json!({"type": "tpm"}); 17]}),
            422,
            "1 to 16 entries",
        ),
        (
            "unknown type",
            json!({"evidence": [{"type": "sgx"}]}),
            422,
            "unknown evidence type",
        ),
        (
            "tpm wrong types",
            json!({"evidence": [{"type": "tpm", "ak_public": 1, "quote": [], "signature": {}, "pcrs": 2}]}),
            422,
            "evidence[0]",
        ),
        (
            "tpm truncated quote",
            json!({"evidence": [{"type": "tpm", "ak_public": "", "quote": "/1RDRw==", "signature": "", "pcrs": {}}]}),
            401,
            "evidence[0] (tpm)",
        ),
        (
            "sev-snp truncated",
            json!({"evidence": [{"type": "sev-snp", "report": "AAAA", "vcek": "AAAA"}]}),
            401,
            "1184 bytes",
        ),
        (
            "sev-snp oversized",
            json!({"evidence": [{"type": "sev-snp", "report": "A".repeat(4000)}]}),
            401,
            "evidence[0] (sev-snp)",
        ),
        (
            "memory report truncated",
            json!({"evidence": [{"type": "memory-report", "report": truncated_report}]}),
            422,
            "missing field `regions`",
        ),
        (
            "memory report wrong type",
            json!({"evidence": [{"type": "memory-report", "report": "x"}]}),
            422,
            "must be an object",
        ),
    ];
    for (name, evidence, status, needle) in cases {
        let nonce = challenge(&mut alpha, "tenant-a", "op-a1").await;
        let (body, _) = runner.signed(&nonce, "tenant-a", "op-a1", evidence);
        let reply = attest(&mut alpha, body).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.text());
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains(needle), "{name}: {message}");
    }
    assert_eq!(alpha.send(&Req::get("/healthz")).await.status, 200);
}

/// With `tpm_tcti`, the gateway's own evidence adds a quote from its TPM
/// over the runner's nonce, signed by the same persistent AK every time.
#[cfg(feature = "tpm-collect")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_plane_quotes_its_own_tpm_over_the_runner_nonce() {
    let swtpm = crate::evidence::swtpm::Swtpm::start();
    let setup = attest_setup();
    let tcti = swtpm.tcti();
    setup.edit_config(|text| {
        text.replacen(
            "ear_ttl_secs = 300\n",
            &format!("ear_ttl_secs = 300\ntpm_tcti = \"{tcti}\"\ntpm_ak_handle = 0x81010003\n"),
            1,
        )
    });
    let gw = setup.start().await;
    let mut alpha = gw.client("alpha").await;
    let runner = Runner::of(gw.layout(), "alpha");
    let mut fingerprints = Vec::new();
    for _ in 0..2 {
        let nonce = challenge(&mut alpha, "tenant-a", "op-a1").await;
        let (body, runner_nonce) = runner.request(&nonce, "tenant-a", "op-a1", bound);
        let reply = attest(&mut alpha, body).await.expect(200);
        let document =
            EvidenceDocument::from_value(reply["control_plane_evidence"].clone()).unwrap();
        let session: Digest = format!("sha256:{}", reply["session_binding_hash"].as_str().unwrap())
            .parse()
            .unwrap();
        let options = VerifyOptions {
            expected_nonce: Some(control_plane_nonce(&runner_nonce, &session)),
            now: Timestamp::now(),
            memory: lenient(),
        };
        let claims = evidence::verify(&document, &options)
            .unwrap()
            .to_value()
            .unwrap();
        assert_eq!(claims["evidence"][1]["type"], "tpm", "{claims}");
        fingerprints.push(claims["evidence"][1]["ak_fingerprint"].clone());
    }
    assert_eq!(fingerprints[0], fingerprints[1], "one persistent AK");
}
