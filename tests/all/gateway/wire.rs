//! Signed requests as a federation peer builds them: telemetry, feedback
//! and manifests, through the `sign_*` helpers of `verdict_host::messages`.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use serde_json::{Value, json};

use verdict_host::digest::Digest;
use verdict_host::gateway::dev::DevLayout;
use verdict_host::ids::{Kid, Nonce};
use verdict_host::log::DecisionId;
use verdict_host::messages::{
    Feedback, FeedbackData, FiniteNumber, JsonObject, KeyEntry, Keyring, Manifest, SafeInteger,
    SchemaVersion, TaskContext, UnixSeconds, sign_feedback, sign_manifest_eddsa, sign_telemetry,
};

use super::harness::{Req, identity};

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A fresh random nonce.
pub fn nonce() -> String {
    format!("n-{}", DecisionId::random())
}

/// A fresh 64-hex-digit hash, distinct for every call.
pub fn fresh_hash(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Digest::of(format!("{label}/{n}/{}", DecisionId::random()).as_bytes()).hex()
}

/// `identity`'s Ed25519 message-signing key (kid `<identity>-k1`).
pub fn signing_key(layout: &DevLayout, name: &str) -> SigningKey {
    let pem =
        fs::read_to_string(layout.client_signing_key(&identity(name))).expect("read signing key");
    SigningKey::from_pkcs8_pem(&pem).expect("Ed25519 PKCS#8 key")
}

pub fn verifying_key(path: &Path) -> ed25519_dalek::VerifyingKey {
    let pem = fs::read_to_string(path).expect("read public key");
    ed25519_dalek::VerifyingKey::from_public_key_pem(&pem).expect("Ed25519 SPKI key")
}

/// A keyring holding only the gateway's feedback-signing key, as a peer
/// would configure it to check the gateway's answers.
pub fn gateway_keyring(layout: &DevLayout) -> Keyring {
    let mut keyring = Keyring::new();
    let key = verifying_key(&layout.gateway_feedback_pub());
    keyring
        .insert(kid("gateway-k1"), KeyEntry::new(identity("gateway"), key))
        .expect("one key");
    keyring
}

pub fn kid(s: &str) -> Kid {
    s.parse().expect("key id")
}

/// One telemetry report, before signing.
#[derive(Clone, Debug)]
pub struct Telemetry {
    pub tenant: String,
    pub operator: String,
    pub campaign: String,
    pub execution_hash: String,
    pub measurement_hash: String,
    pub timestamp: u64,
    pub nonce: String,
}

impl Telemetry {
    /// A report signed now, with a fresh nonce.
    pub fn new(tenant: &str, operator: &str, execution_hash: &str, measurement_hash: &str) -> Self {
        Self {
            tenant: tenant.into(),
            operator: operator.into(),
            campaign: "campaign-7".into(),
            execution_hash: execution_hash.into(),
            measurement_hash: measurement_hash.into(),
            timestamp: now_secs(),
            nonce: nonce(),
        }
    }

    pub fn value(&self) -> Value {
        json!({
            "tenant_id": self.tenant,
            "operator_id": self.operator,
            "campaign_id": self.campaign,
            "execution_hash": self.execution_hash,
            "attestation_measurement_hash": self.measurement_hash,
            "timestamp": self.timestamp,
            "nonce": self.nonce,
            "signed_metadata": {
                "tenant_id": self.tenant,
                "operator_id": self.operator,
                "campaign_id": self.campaign,
            },
            "payload": {"cpu_ms": 1234, "status": "ok"},
        })
    }

    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&self.value()).expect("JSON")
    }

    /// The request, signed by `key` over this report's body.
    pub fn signed(&self, key: &SigningKey) -> Req {
        signed_telemetry(key, self.timestamp, &self.nonce, self.body())
    }
}

/// A telemetry request whose signature is `key`'s over exactly `body`.
pub fn signed_telemetry(key: &SigningKey, timestamp: u64, nonce: &str, body: Vec<u8>) -> Req {
    let signature = sign_telemetry(
        key,
        UnixSeconds::new(timestamp).expect("timestamp in range"),
        &Nonce::parse(nonce).expect("nonce"),
        &body,
    );
    Req::post_json("/v1/telemetry", body)
        .header("x-telemetry-timestamp", timestamp.to_string())
        .header("x-telemetry-nonce", nonce)
        .header("x-telemetry-signature", signature)
}

/// Feedback on an execution, before signing.
pub fn feedback(
    kid_name: &str,
    tenant: &str,
    execution_hash: &str,
    measurement_hash: &str,
) -> Feedback {
    Feedback {
        tenant_id: tenant.parse().expect("tenant"),
        signed_at: UnixSeconds::new(now_secs()).expect("now"),
        nonce: Nonce::parse(&nonce()).expect("nonce"),
        schema_version: SchemaVersion::V1_0,
        kid: kid(kid_name),
        data: FeedbackData {
            execution_hash: execution_hash.parse().expect("execution hash"),
            attestation_measurement_hash: measurement_hash.parse().expect("measurement hash"),
            confidence: FiniteNumber::new(0.9).expect("finite"),
            ttl_seconds: SafeInteger::new(3600).expect("safe"),
            adjustment: JsonObject::try_from(json!({"reason": "drift", "weight": -0.25}))
                .expect("I-JSON"),
        },
    }
}

/// `POST /v1/feedback` with `feedback` signed by `key`.
pub fn signed_feedback(key: &SigningKey, feedback: Feedback) -> Req {
    let signed = sign_feedback(key, feedback).expect("feedback signs");
    Req::post_json("/v1/feedback", signed.to_json())
}

/// An execution manifest for tenant-a / op-a1, issued now.
pub fn manifest() -> Manifest {
    let now = UnixSeconds::new(now_secs()).expect("now");
    Manifest {
        task_context: TaskContext {
            task_id: "task-42".parse().expect("label"),
            tenant_id: "tenant-a".parse().expect("tenant"),
            operator_id: "op-a1".parse().expect("operator"),
            source: "scheduler".parse().expect("label"),
            action: "scan".parse().expect("label"),
            requested_at: now,
            correlation_id: "corr-9f8e7d".parse().expect("label"),
        },
        target_urn: "urn:example:host/web-01".parse().expect("URN"),
        tool_sha256: Digest::of(b"the tool"),
        nonce: Nonce::parse(&nonce()).expect("nonce"),
        parameters: JsonObject::try_from(json!({"depth": 2, "ports": [80, 443]})).expect("I-JSON"),
        issued_at: now,
        manifest_version: "1.0.0".parse().expect("version"),
    }
}

/// `manifest` as a compact JWS, `alg: EdDSA`, signed by `key` as `kid`.
pub fn eddsa_token(key: &SigningKey, kid_name: &str, manifest: &Manifest) -> String {
    sign_manifest_eddsa(key, &kid(kid_name), manifest).expect("manifest signs")
}

/// A compact JWS with an arbitrary protected header and signature bytes.
pub fn raw_token(header: &Value, manifest: &Manifest, signature: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).expect("JSON"));
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(manifest).expect("JSON"));
    format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// `POST /v1/manifests/verify` with `{"jws": token}`.
pub fn manifest_request(token: &str) -> Req {
    Req::post_json(
        "/v1/manifests/verify",
        serde_json::to_vec(&json!({"jws": token})).expect("JSON"),
    )
}
