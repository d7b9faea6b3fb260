//! The attacks of the anchored-attestation issue, through `/v1/challenge`
//! and `/v1/attest` of a dev gateway with the shipped appraisal policy.
//! Every signature in them verifies; what they sign with is the attacker's
//! choice. Each must get a non-affirming result, a logged deny, and leave
//! no session binding behind.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use p256::pkcs8::{EncodePublicKey as _, LineEnding};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use verdict_host::ear;
use verdict_host::evidence::memory::region::{InMemory, Protection, RegionSource};
use verdict_host::evidence::{EvidenceDocument, EvidenceEntry, EvidenceNonce};
use verdict_host::policy::PolicyKind;

use super::attest::{Runner, attest, attest_setup, bound, challenge, set_appraisal_data};
use super::harness::{Gateway, Reply, Req, Setup};
use super::wire::{Telemetry, signing_key};
use crate::cli::{code, stderr};
use crate::common::root;

const MEASUREMENT: &str = "a3f1c2d4e5b6a7980123456789abcdef0fedcba9876543210a1b2c3d4e5f6a7b";

/// What a refused attestation must show: a 403 with the policy's reasons,
/// an EAR that verifies with the gateway's JWKS and is contraindicated.
async fn assert_refused(gw: &Gateway, reply: &Reply, reason: &str) -> Value {
    assert_eq!(reply.status, 403, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["status"], "contraindicated", "{body}");
    assert_eq!(body["error"]["code"], "policy_denied");
    let reasons = body["reasons"].as_array().unwrap();
    assert!(
        reasons.iter().any(|r| r.as_str().unwrap().contains(reason)),
        "{reason:?} not in {reasons:?}"
    );
    let mut client = gw.client("alpha").await;
    let jwks = client
        .send(&Req::get("/.well-known/jwks.json"))
        .await
        .expect(200);
    let now = verdict_host::timestamp::Timestamp::now().unix_seconds();
    let token = ear::verify(body["ear"].as_str().unwrap(), &jwks, now).unwrap();
    assert_eq!(token["submods"]["verdict"]["ear.status"], "contraindicated");
    token["submods"]["verdict"]["ear.trustworthiness-vector"].clone()
}

/// The binding a refused attestation computed is free: another tenant's
/// telemetry can take it, which it could not if the refusal had bound it.
async fn assert_nothing_bound(gw: &Gateway, reply: &Reply) {
    let binding = reply.json()["session_binding_hash"]
        .as_str()
        .expect("the refusal names its binding")
        .to_string();
    let beta_key = signing_key(gw.layout(), "beta");
    let mut beta = gw.client("beta").await;
    let t = Telemetry::new("tenant-b", "op-b1", &binding, MEASUREMENT);
    beta.send(&t.signed(&beta_key)).await.expect(202);
}

/// The refusal is in the log as the appraisal policy's deny.
fn assert_logged_deny(setup: &Setup, decision_id: &str) {
    let log = setup.log();
    let record = log
        .iter()
        .find(|e| e.record.id.to_string() == decision_id)
        .expect("the appraisal is logged");
    assert_eq!(record.record.policy.kind, PolicyKind::Rego);
    assert!(!record.record.decision.allow);
}

/// A TPMS_ATTEST built by hand, carrying the verifier's nonce and the PCR
/// values the attacker likes, signed by a P-256 key made in software.
fn forged_quote(nonce: &[u8], pcr0: [u8; 32]) -> (EvidenceEntry, String) {
    let seed = Sha256::digest(EvidenceNonce::random().as_bytes());
    let key = p256::ecdsa::SigningKey::from_slice(&seed).unwrap();
    let mut quote = Vec::new();
    quote.extend_from_slice(&0xff54_4347u32.to_be_bytes()); // TPM_GENERATED_VALUE
    quote.extend_from_slice(&0x8018u16.to_be_bytes()); // TPM_ST_ATTEST_QUOTE
    push_tpm2b(&mut quote, &[0x00, 0x0b, 0xaa, 0xbb]); // qualifiedSigner
    push_tpm2b(&mut quote, nonce); // extraData
    quote.extend_from_slice(&1_000u64.to_be_bytes()); // clock
    quote.extend_from_slice(&1u32.to_be_bytes()); // resetCount
    quote.extend_from_slice(&0u32.to_be_bytes()); // restartCount
    quote.push(1); // safe
    quote.extend_from_slice(&0u64.to_be_bytes()); // firmwareVersion
    quote.extend_from_slice(&1u32.to_be_bytes()); // one PCR selection:
    quote.extend_from_slice(&0x000bu16.to_be_bytes()); // sha256,
    quote.extend_from_slice(&[3, 0b0000_0001, 0, 0]); // PCR 0
    push_tpm2b(&mut quote, &Sha256::digest(pcr0));
    let signature: p256::ecdsa::Signature = key.sign_prehash(&Sha256::digest(&quote)).unwrap();
    let (r, s) = signature.split_bytes();
    let mut tpmt = Vec::new();
    tpmt.extend_from_slice(&0x0018u16.to_be_bytes()); // TPM_ALG_ECDSA
    tpmt.extend_from_slice(&0x000bu16.to_be_bytes()); // SHA-256
    push_tpm2b(&mut tpmt, &r);
    push_tpm2b(&mut tpmt, &s);
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let entry = json!({
        "type": "tpm",
        "ak_public": public,
        "quote": BASE64.encode(&quote),
        "signature": BASE64.encode(&tpmt),
        "pcrs": {"sha256": {"0": hex::encode(pcr0)}},
    });
    let document = EvidenceDocument::from_value(json!({"evidence": [entry]})).unwrap();
    let fingerprint = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(
            key.verifying_key().to_public_key_der().unwrap().as_bytes()
        ))
    );
    (document.evidence.into_iter().next().unwrap(), fingerprint)
}

fn push_tpm2b(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
    out.extend_from_slice(data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_by_a_software_ak_with_the_reference_pcrs_is_not_affirmed() {
    let pcr0 = [0x5a; 32];
    let setup = attest_setup();
    // The operator trusts one real AK (not the attacker's) and publishes its
    // PCR 0 reference, which the attacker copies into the forged quote.
    set_appraisal_data(
        &setup,
        json!({"required": ["tpm"], "tpm": {
            "trusted_aks": [format!("sha256:{}", "11".repeat(32))],
            "pcrs": {"sha256": {"0": hex::encode(pcr0)}},
        }}),
    );
    let gw = setup.start().await;
    let mut alpha = gw.client("alpha").await;
    let runner = Runner::of(gw.layout(), "alpha");
    let nonce = challenge(&mut alpha, "tenant-a", "op-a1").await;
    let bound_nonce = bound(&nonce, &runner.ephemeral("tenant-a", "op-a1"));
    let (quote, fingerprint) = forged_quote(bound_nonce.as_bytes(), pcr0);
    let document = EvidenceDocument {
        nonce: Some(bound_nonce),
        evidence: vec![quote],
    };
    let (body, _) = runner.signed(&nonce, "tenant-a", "op-a1", document.to_value());
    let reply = attest(&mut alpha, body).await;
    let vector = assert_refused(&gw, &reply, &format!("TPM AK {fingerprint} is not trusted")).await;
    assert_eq!(
        (
            vector["instance-identity"].clone(),
            vector["hardware"].clone()
        ),
        (json!(97), json!(97))
    );
    assert_nothing_bound(&gw, &reply).await;
    let decision_id = reply.json()["decision_id"].as_str().unwrap().to_string();
    drop(alpha);
    assert_logged_deny(&gw.stop().await, &decision_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_report_signed_by_its_own_key_is_refused() {
    let gw = attest_setup().start().await;
    let mut alpha = gw.client("alpha").await;
    let runner = Runner::self_signed();
    let nonce = challenge(&mut alpha, "tenant-a", "op-a1").await;
    let (body, _) = runner.request(&nonce, "tenant-a", "op-a1", bound);
    let reply = attest(&mut alpha, body).await;
    let message = reply.expect_error(401, "evidence_invalid");
    assert!(
        message.contains("is not one of the trusted report keys"),
        "{message}"
    );
    assert!(reply.json().get("ear").is_none(), "no result is issued");
    let request_id = reply.json()["error"]["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    drop(alpha);
    let setup = gw.stop().await;
    let refusal = setup
        .log()
        .into_iter()
        .find(|e| e.record.request_id.as_deref() == Some(request_id.as_str()))
        .expect("the refusal is logged");
    assert_eq!(refusal.record.policy.kind, PolicyKind::Host);
    assert!(!refusal.record.decision.allow);
}

/// Lenient drift mode, asked for explicitly: a report from a trusted
/// attester that leaves out the pinned region and measures an unrelated
/// one is still refused, with both named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenient_mode_refuses_a_missing_pinned_region_and_an_unpinned_one() {
    let setup = attest_setup();
    setup.edit_config(|text| {
        text.replacen(
            "[attestation.memory]\n",
            "[attestation.memory]\ndrift = \"lenient\"\n",
            1,
        )
    });
    let gw = setup.start().await;
    let mut alpha = gw.client("alpha").await;
    let runner = Runner::of(gw.layout(), "alpha");
    let nonce = challenge(&mut alpha, "tenant-a", "op-a1").await;
    let bound_nonce = bound(&nonce, &runner.ephemeral("tenant-a", "op-a1"));
    let unrelated = InMemory::new(
        "scratch".parse().unwrap(),
        "anything",
        b"not what was pinned".to_vec(),
        Protection::READ_ONLY,
    );
    let sources: [&dyn RegionSource; 1] = [&unrelated];
    let evidence = runner.evidence_of(&bound_nonce, &sources);
    let (body, _) = runner.signed(&nonce, "tenant-a", "op-a1", evidence);
    let reply = attest(&mut alpha, body).await;
    let vector = assert_refused(
        &gw,
        &reply,
        "pinned memory region weights is missing from report",
    )
    .await;
    assert_eq!(vector["executables"], 96);
    let reasons = reply.json()["reasons"].to_string();
    assert!(
        reasons.contains("memory region scratch has no pinned digest"),
        "{reasons}"
    );
    assert_nothing_bound(&gw, &reply).await;
    let decision_id = reply.json()["decision_id"].as_str().unwrap().to_string();
    drop(alpha);
    assert_logged_deny(&gw.stop().await, &decision_id);
}

/// The SEV-SNP references cannot be bypassed by leaving the SNP report out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_out_a_required_snp_report_is_refused() {
    let setup = attest_setup();
    let mut data: Value =
        serde_json::from_str(include_str!("../../../examples/attestation/data.json")).unwrap();
    data["required"] = json!(["sev-snp", "memory-report"]);
    set_appraisal_data(&setup, data);
    let gw = setup.start().await;
    let mut alpha = gw.client("alpha").await;
    let runner = Runner::of(gw.layout(), "alpha");
    let nonce = challenge(&mut alpha, "tenant-a", "op-a1").await;
    let (body, _) = runner.request(&nonce, "tenant-a", "op-a1", bound);
    let reply = attest(&mut alpha, body).await;
    let vector = assert_refused(
        &gw,
        &reply,
        "required evidence type sev-snp was not presented",
    )
    .await;
    assert_eq!(vector["hardware"], 97);
    assert_eq!(
        vector["executables"], 2,
        "the memory report itself was fine"
    );
    assert_nothing_bound(&gw, &reply).await;
    let decision_id = reply.json()["decision_id"].as_str().unwrap().to_string();
    drop(alpha);
    assert_logged_deny(&gw.stop().await, &decision_id);
}

/// `verdict serve` refuses an `[attestation]` section under which nothing
/// could be affirmed, and says what to configure.
#[test]
fn serve_refuses_an_attestation_section_that_trusts_nothing() {
    let setup = Setup::new();
    let config = setup.layout().config();
    let config = config.to_str().unwrap();
    let text = std::fs::read_to_string(config).unwrap();
    let start = text.find("trusted_keys = [").unwrap();
    let end = start + text[start..].find('\n').unwrap();
    std::fs::write(
        config,
        format!("{}trusted_keys = []{}", &text[..start], &text[end..]),
    )
    .unwrap();
    let out = serve_refused(config);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "requires `memory-report` evidence but trusts no memory-report attester: \
             list ML-DSA-65 public keys in [attestation.memory] trusted_keys"
        ),
        "{}",
        stderr(&out)
    );

    set_appraisal_data(&setup, json!({"required": []}));
    let out = serve_refused(config);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("requires no evidence type"),
        "{}",
        stderr(&out)
    );

    set_appraisal_data(&setup, json!({"required": ["tpm"]}));
    let out = serve_refused(config);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("tpm.trusted_aks"), "{}", stderr(&out));
}

/// Runs `verdict serve --config CONFIG`, which must exit on its own: a
/// gateway that started after all is killed and the test fails.
pub(super) fn serve_refused(config: &str) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["serve", "--config", config, "--listen", "127.0.0.1:0"])
        .env("VERDICT_CACHE_DIR", root().join("target/test-cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run verdict serve");
    for _ in 0..600 {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().expect("kill");
    let out = child.wait_with_output().expect("output");
    panic!(
        "verdict serve started instead of refusing: {}",
        stderr(&out)
    );
}
