//! Tests of the federation messages, sharing fixed keys and sample messages.

mod examples;
mod feedback;
mod manifest;
mod response;
mod robustness;
mod telemetry;

use ed25519_dalek::SigningKey;
use ml_dsa::MlDsa65;
use serde_json::{Value, json};

use super::*;
use crate::ids::{Kid, Nonce, ServiceIdentity};

/// The Ed25519 seed of the documented example key (a fixed test value).
pub(super) const EXAMPLE_SEED_HEX: &str =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b366326703bac031cae7f60";

/// The seed of the documented ML-DSA-65 example key: bytes 0, 1, ..., 31.
pub(super) fn ml_dsa_seed() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

/// The documented example Ed25519 key.
pub(super) fn example_key() -> SigningKey {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(EXAMPLE_SEED_HEX, &mut seed).expect("valid hex");
    SigningKey::from_bytes(&seed)
}

/// A deterministic Ed25519 key other than the example key.
pub(super) fn other_key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// The documented example ML-DSA-65 key.
pub(super) fn ml_dsa_key() -> ml_dsa::SigningKey<MlDsa65> {
    ml_dsa::SigningKey::<MlDsa65>::from_seed(&ml_dsa_seed().into())
}

pub(super) fn kid(s: &str) -> Kid {
    s.parse().expect("valid kid")
}

pub(super) fn identity(s: &str) -> ServiceIdentity {
    s.parse().expect("valid identity")
}

pub(super) fn nonce(s: &str) -> Nonce {
    Nonce::parse(s).expect("valid nonce")
}

/// `alpha` owns the live `alpha-k1` (the example key) and the retired
/// `alpha-k0`; `beta` owns `beta-k1`; the gateway `gateway` owns `gw-k1`
/// (the example key too); `issuer` owns `issuer-ed` (Ed25519, the example
/// key), `issuer-ml` (ML-DSA-65) and the retired `issuer-old`.
pub(super) fn keyring() -> Keyring {
    use ml_dsa::Keypair as _;
    let mut ring = Keyring::new();
    let entries = [
        (
            "alpha-k1",
            KeyEntry::new(identity("alpha"), example_key().verifying_key()),
        ),
        (
            "alpha-k0",
            KeyEntry::new(identity("alpha"), other_key(1).verifying_key()).with_retired(true),
        ),
        (
            "beta-k1",
            KeyEntry::new(identity("beta"), other_key(2).verifying_key()),
        ),
        (
            "gw-k1",
            KeyEntry::new(identity("gateway"), example_key().verifying_key()),
        ),
        (
            "issuer-ed",
            KeyEntry::new(identity("issuer"), example_key().verifying_key()),
        ),
        (
            "issuer-ml",
            KeyEntry::new(identity("issuer"), ml_dsa_key().verifying_key()),
        ),
        (
            "issuer-old",
            KeyEntry::new(identity("issuer"), other_key(3).verifying_key()),
        ),
    ];
    for (id, entry) in entries {
        ring.insert(kid(id), entry).expect("distinct kids");
    }
    assert!(ring.retire(&kid("issuer-old")));
    ring
}

pub(super) const EXECUTION_HASH: &str =
    "5f0c2b1e9a7d4c3b8e6f1a2d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b";
pub(super) const MEASUREMENT_HASH: &str =
    "a3f1c2d4e5b6a7980123456789abcdef0fedcba9876543210a1b2c3d4e5f6a7b";

/// The example telemetry body's JSON value.
pub(super) fn telemetry_value() -> Value {
    json!({
        "tenant_id": "tenant-a",
        "operator_id": "op-a1",
        "campaign_id": "campaign-7",
        "execution_hash": EXECUTION_HASH,
        "attestation_measurement_hash": MEASUREMENT_HASH,
        "timestamp": 1_795_000_000u64,
        "nonce": "tlm-0001-7f3a9c",
        "signed_metadata": {
            "tenant_id": "tenant-a",
            "operator_id": "op-a1",
            "campaign_id": "campaign-7"
        },
        "payload": {"cpu_ms": 1234, "status": "ok"}
    })
}

/// The example feedback message (unsigned).
pub(super) fn feedback_message() -> Feedback {
    let data = json!({
        "execution_hash": EXECUTION_HASH,
        "attestation_measurement_hash": MEASUREMENT_HASH,
        "confidence": 0.85,
        "ttl_seconds": 3600,
        "adjustment": {"weight": -0.25, "reason": "drift"}
    });
    Feedback {
        tenant_id: "tenant-a".parse().expect("valid"),
        signed_at: UnixSeconds::new(1_795_000_000).expect("in range"),
        nonce: nonce("fb-0001-c0ffee"),
        schema_version: SchemaVersion::V1_0,
        kid: kid("alpha-k1"),
        data: serde_json::from_value(data).expect("valid data"),
    }
}

/// The example gateway answer (unsigned).
pub(super) fn response_message() -> FeedbackResponse {
    FeedbackResponse {
        status: ResponseStatus::Rejected,
        decision_id: "0123456789abcdef0123456789abcdef".parse().expect("valid"),
        reasons: vec!["ttl_seconds is not in [60, 86400]".to_owned()],
        kid: kid("gw-k1"),
        signed_at: UnixSeconds::new(1_795_000_001).expect("in range"),
        nonce: nonce("gw-0001-beef42"),
    }
}

/// The example manifest's JSON value.
pub(super) fn manifest_value() -> Value {
    json!({
        "task_context": {
            "task_id": "task-42",
            "tenant_id": "tenant-a",
            "operator_id": "op-a1",
            "source": "scheduler",
            "action": "scan",
            "requested_at": 1_795_000_000u64,
            "correlation_id": "corr-9f8e7d"
        },
        "target_urn": "urn:example:host/web-01",
        "tool_sha256": format!("sha256:{EXECUTION_HASH}"),
        "nonce": "mf-0001-a1b2c3",
        "parameters": {"depth": 2, "ports": [80, 443]},
        "issued_at": 1_795_000_005u64,
        "manifest_version": "1.0.0"
    })
}

pub(super) fn manifest() -> Manifest {
    serde_json::from_value(manifest_value()).expect("valid manifest")
}

/// The class of `result`'s error; panics (in tests) if it is `Ok`.
pub(super) fn class<T: std::fmt::Debug>(result: Result<T, MessageError>) -> ErrorClass {
    result.expect_err("expected a rejection").class()
}

/// `value` with the member at `path` (names separated by `/`) replaced by
/// `new`, or removed when `new` is `None`.
pub(super) fn edit(mut value: Value, path: &str, new: Option<Value>) -> Value {
    let (parents, last) = path.rsplit_once('/').unwrap_or(("", path));
    let mut target = &mut value;
    for name in parents.split('/').filter(|p| !p.is_empty()) {
        target = &mut target[name];
    }
    let object = target.as_object_mut().expect("an object");
    match new {
        Some(new) => {
            object.insert(last.to_owned(), new);
        }
        None => {
            object.remove(last);
        }
    }
    value
}

/// HMAC-SHA256 (RFC 2104), for forging `HS256` tokens.
pub(super) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[test]
fn hmac_matches_rfc_4231_test_case_2() {
    assert_eq!(
        hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn every_class_has_its_status() {
    assert_eq!(ErrorClass::Malformed.status(), 400);
    assert_eq!(ErrorClass::Unauthenticated.status(), 401);
    assert_eq!(ErrorClass::Forbidden.status(), 403);
    assert_eq!(ErrorClass::Schema.status(), 422);
}

#[test]
fn keyring_refuses_a_reused_kid() {
    let mut ring = keyring();
    let entry = KeyEntry::new(identity("alpha"), other_key(9).verifying_key());
    assert_eq!(
        ring.insert(kid("alpha-k1"), entry),
        Err(KeyringError::DuplicateKid(kid("alpha-k1")))
    );
    assert!(!ring.retire(&kid("nobody")));
    assert_eq!(ring.iter().count(), 7);
    let debug = format!("{:?}", ring.get(&kid("alpha-k1")).expect("present"));
    assert!(
        debug.contains("EdDSA") && !debug.contains("VerifyingKey"),
        "{debug}"
    );
}
