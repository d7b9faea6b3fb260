//! Signed memory reports: the happy path and every way a report must fail.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use super::region::{InMemory, Protection, RegionSource};
use super::report::{self, DriftMode, MemoryAppraisal, MemoryError, RegionStatus, ReportRequest};
use super::snapshot::{SnapshotDigest, digest_bytes};
use crate::crypto::{SignatureAlgorithm, SigningKey};
use crate::evidence::EvidenceNonce;
use crate::timestamp::Timestamp;

const T0: i64 = 1_800_000_000;

fn key() -> SigningKey {
    SigningKey::generate(SignatureAlgorithm::MlDsa65)
}

fn nonce() -> EvidenceNonce {
    "00112233445566778899aabbccddeeff".parse().unwrap()
}

fn weights() -> InMemory {
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    InMemory::new(
        "weights".parse().unwrap(),
        "model weights",
        bytes,
        Protection::READ_ONLY,
    )
}

fn make(key: &SigningKey) -> Value {
    let region = weights();
    let sources: [&dyn RegionSource; 1] = [&region];
    let report = report::create(
        &ReportRequest {
            sources: &sources,
            workload_id: "llm-7",
            platform: "linux-x86_64",
            nonce: &nonce(),
            expected: BTreeMap::new(),
            ttl: report::DEFAULT_TTL,
            now: Timestamp::from_unix(T0, 0),
            threads: 2,
        },
        key,
    )
    .unwrap();
    serde_json::to_value(report).unwrap()
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix(T0 + seconds, 0)
}

fn pinned(digest: SnapshotDigest, mode: DriftMode) -> MemoryAppraisal {
    MemoryAppraisal {
        pinned: BTreeMap::from([("weights".to_string(), digest)]),
        mode,
        ..MemoryAppraisal::default()
    }
}

fn right_digest() -> SnapshotDigest {
    digest_bytes(weights().bytes(), 1)
}

#[test]
fn a_fresh_report_verifies_and_reports_its_regions() {
    let key = key();
    let report = make(&key);
    let appraisal = MemoryAppraisal {
        trusted_keys: vec![key.verifying_key().clone()],
        ..pinned(right_digest(), DriftMode::Strict)
    };
    let claims = report::verify(&report, Some(&nonce()), at(10), &appraisal).unwrap();
    assert_eq!(claims.workload_id, "llm-7");
    assert!(claims.signer.pinned);
    assert_eq!(claims.regions[0].sha3_256, right_digest());
    assert_eq!(claims.regions[0].status, RegionStatus::Match);
    assert_eq!(claims.regions[0].size, 3_000_000);
    assert!(!claims.drift);
}

#[test]
fn the_signature_is_ml_dsa_65_over_the_jcs_of_the_report_without_signature() {
    let key = key();
    let report = make(&key);
    let message = report::signed_message(&report).unwrap();
    let text = String::from_utf8(message.clone()).unwrap();
    assert!(!text.contains("\"signature\""));
    assert!(
        text.starts_with("{\"claims\":"),
        "JCS sorts members: {text}"
    );
    let value = BASE64
        .decode(report["signature"]["value"].as_str().unwrap())
        .unwrap();
    assert_eq!(value.len(), 3309);
    key.verifying_key()
        .verify(report::SIGNING_CONTEXT, &message, &value)
        .unwrap();
}

#[test]
fn expired_and_future_reports_fail() {
    let report = make(&key());
    let lenient = MemoryAppraisal {
        mode: DriftMode::Lenient,
        ..MemoryAppraisal::default()
    };
    let expired = report::verify(&report, None, at(300 + 31), &lenient);
    assert!(
        matches!(expired, Err(MemoryError::Expired { .. })),
        "{expired:?}"
    );
    assert!(report::verify(&report, None, at(300 + 29), &lenient).is_ok());
    let early = report::verify(&report, None, at(-31), &lenient);
    assert!(
        matches!(early, Err(MemoryError::NotYetValid { .. })),
        "{early:?}"
    );
}

#[test]
fn a_wrong_nonce_fails() {
    let report = make(&key());
    let other: EvidenceNonce = "ffeeddccbbaa99887766554433221100".parse().unwrap();
    let result = report::verify(&report, Some(&other), at(1), &MemoryAppraisal::default());
    assert!(
        matches!(result, Err(MemoryError::NonceMismatch { .. })),
        "{result:?}"
    );
}

#[test]
fn drift_fails_in_strict_mode_and_is_reported_in_lenient_mode() {
    let report = make(&key());
    let wrong = digest_bytes(b"other weights", 1);
    let strict = report::verify(&report, None, at(1), &pinned(wrong, DriftMode::Strict));
    assert!(
        matches!(strict, Err(MemoryError::Drift { .. })),
        "{strict:?}"
    );
    let lenient = report::verify(&report, None, at(1), &pinned(wrong, DriftMode::Lenient)).unwrap();
    assert!(lenient.drift);
    assert_eq!(lenient.regions[0].status, RegionStatus::Drift);
    let unpinned = MemoryAppraisal {
        mode: DriftMode::Strict,
        ..MemoryAppraisal::default()
    };
    let result = report::verify(&report, None, at(1), &unpinned);
    assert!(
        matches!(result, Err(MemoryError::Unpinned(_))),
        "{result:?}"
    );
    let missing = MemoryAppraisal {
        pinned: BTreeMap::from([
            ("weights".to_string(), right_digest()),
            ("tokenizer".to_string(), right_digest()),
        ]),
        mode: DriftMode::Strict,
        ..MemoryAppraisal::default()
    };
    let result = report::verify(&report, None, at(1), &missing);
    assert!(
        matches!(result, Err(MemoryError::MissingRegion(_))),
        "{result:?}"
    );
}

#[test]
fn a_flipped_signature_bit_or_any_edited_member_fails() {
    let report = make(&key());
    let mut flipped = report.clone();
    let mut value = BASE64
        .decode(flipped["signature"]["value"].as_str().unwrap())
        .unwrap();
    value[100] ^= 1;
    flipped["signature"]["value"] = BASE64.encode(value).into();
    let result = report::verify(&flipped, None, at(1), &MemoryAppraisal::default());
    assert!(
        matches!(result, Err(MemoryError::Signature(_))),
        "{result:?}"
    );

    for (path, replacement) in [
        ("/regions/0/sha3_256", Value::from("00".repeat(32))),
        ("/regions/0/size", Value::from(4)),
        ("/claims/workload_id", Value::from("llm-8")),
        ("/expires_at", Value::from(T0 + 9_000)),
    ] {
        let mut edited = report.clone();
        *edited.pointer_mut(path).unwrap() = replacement;
        let result = report::verify(&edited, None, at(1), &MemoryAppraisal::default());
        assert!(
            matches!(result, Err(MemoryError::Signature(_))),
            "{path}: {result:?}"
        );
    }
}

#[test]
fn the_wrong_key_fails() {
    let report = make(&key());
    let stranger = key();
    let trusting_another = MemoryAppraisal {
        trusted_keys: vec![stranger.verifying_key().clone()],
        ..MemoryAppraisal::default()
    };
    let result = report::verify(&report, None, at(1), &trusting_another);
    assert!(
        matches!(result, Err(MemoryError::UntrustedKey(_))),
        "{result:?}"
    );

    // Swapping in another key (and its matching kid) breaks the signature.
    let mut swapped = report.clone();
    swapped["signature"]["public_key"] = BASE64.encode(stranger.verifying_key().raw()).into();
    swapped["signature"]["kid"] = stranger.key_id().to_string().into();
    let result = report::verify(&swapped, None, at(1), &MemoryAppraisal::default());
    assert!(
        matches!(result, Err(MemoryError::Signature(_))),
        "{result:?}"
    );

    let mut wrong_kid = report.clone();
    wrong_kid["signature"]["kid"] = stranger.key_id().to_string().into();
    let result = report::verify(&wrong_kid, None, at(1), &MemoryAppraisal::default());
    assert!(
        matches!(result, Err(MemoryError::KidMismatch { .. })),
        "{result:?}"
    );
}

#[test]
fn malformed_reports_fail_with_named_reasons() {
    let report = make(&key());
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: [(&str, Edit); 6] = [
        ("unknown member", Box::new(|r| r["extra"] = 1.into())),
        ("format", Box::new(|r| r["format"] = "v0".into())),
        (
            "alg",
            Box::new(|r| r["signature"]["alg"] = "ML-DSA-44".into()),
        ),
        (
            "base64",
            Box::new(|r| r["signature"]["value"] = "***".into()),
        ),
        (
            "public_key",
            Box::new(|r| r["signature"]["public_key"] = "AAAA".into()),
        ),
        ("regions", Box::new(|r| r["regions"] = Value::Array(vec![]))),
    ];
    for (what, edit) in cases {
        let mut bad = report.clone();
        edit(&mut bad);
        let error = report::verify(&bad, None, at(1), &MemoryAppraisal::default()).unwrap_err();
        assert!(
            !matches!(error, MemoryError::Signature(_)),
            "{what}: {error}"
        );
    }
    let not_object = report::verify(&Value::from(3), None, at(1), &MemoryAppraisal::default());
    assert!(matches!(not_object, Err(MemoryError::Malformed(_))));
}

#[test]
fn only_ml_dsa_65_keys_sign_reports() {
    let region = weights();
    let sources: [&dyn RegionSource; 1] = [&region];
    let result = report::create(
        &ReportRequest {
            sources: &sources,
            workload_id: "w",
            platform: "p",
            nonce: &nonce(),
            expected: BTreeMap::new(),
            ttl: Duration::from_secs(60),
            now: at(0),
            threads: 1,
        },
        &SigningKey::generate(SignatureAlgorithm::Ed25519),
    );
    assert!(matches!(result, Err(MemoryError::WrongKeyAlgorithm(_))));
}
