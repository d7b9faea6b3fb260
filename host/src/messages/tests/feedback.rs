use serde_json::{Value, json};

use super::*;

fn alpha() -> ServiceIdentity {
    identity("alpha")
}

/// The signed example feedback as a JSON value.
fn signed_value(message: Feedback, key: &SigningKey) -> Value {
    let signed = sign_feedback(key, message).expect("signable");
    serde_json::from_slice(&signed.to_json()).expect("JSON")
}

fn verify_value(value: &Value) -> Result<Feedback, MessageError> {
    let body = serde_json::to_vec(value).expect("serializable");
    verify_feedback(&body, &keyring(), &alpha())
}

#[test]
fn round_trip() {
    let signed = sign_feedback(&example_key(), feedback_message()).expect("signable");
    let verified = verify_feedback(&signed.to_json(), &keyring(), &alpha()).expect("verifies");
    assert_eq!(&verified, signed.message());
    assert_eq!(verified.data.confidence.get(), 0.85);
    assert_eq!(verified.data.ttl_seconds.get(), 3600);
}

#[test]
fn signing_input_frames_fields_then_canonical_data() {
    let input = feedback_message().signing_input().expect("canonical");
    let text = String::from_utf8(input).expect("UTF-8");
    let expected = format!(
        "tenant-a|1795000000|fb-0001-c0ffee|1.0|alpha-k1|\
         {{\"adjustment\":{{\"reason\":\"drift\",\"weight\":-0.25}},\
         \"attestation_measurement_hash\":\"{MEASUREMENT_HASH}\",\
         \"confidence\":0.85,\"execution_hash\":\"{EXECUTION_HASH}\",\"ttl_seconds\":3600}}"
    );
    assert_eq!(text, expected);
}

#[test]
fn the_signature_covers_data_not_its_spelling() {
    // Reordered members, whitespace and another spelling of the same number
    // give the same canonical data, so the signature still verifies.
    let signature = sign_feedback(&example_key(), feedback_message())
        .expect("signable")
        .signature_base64();
    let body = format!(
        r#"{{ "signature": "{signature}", "kid": "alpha-k1", "data": {{
            "ttl_seconds": 3600, "confidence": 8.5e-1,
            "adjustment": {{ "weight": -0.250, "reason": "dri\u0066t" }},
            "execution_hash": "{EXECUTION_HASH}",
            "attestation_measurement_hash": "{MEASUREMENT_HASH}" }},
          "schema_version": "1.0", "nonce": "fb-0001-c0ffee",
          "signed_at": 1795000000, "tenant_id": "tenant-a" }}"#
    );
    let verified = verify_feedback(body.as_bytes(), &keyring(), &alpha()).expect("verifies");
    assert_eq!(verified, feedback_message());
}

#[test]
fn tampering_is_unauthenticated() {
    let signed = signed_value(feedback_message(), &example_key());
    for (path, new) in [
        ("data/confidence", json!(0.86)),
        ("data/ttl_seconds", json!(3601)),
        ("data/adjustment/weight", json!(0.25)),
        ("data/execution_hash", json!(MEASUREMENT_HASH)),
        ("tenant_id", json!("tenant-b")),
        ("signed_at", json!(1_795_000_001u64)),
        ("nonce", json!("fb-0002-c0ffee")),
    ] {
        let err = verify_value(&edit(signed.clone(), path, Some(new))).unwrap_err();
        assert_eq!(
            err,
            MessageError::BadSignature {
                kind: MessageKind::Feedback
            },
            "{path}"
        );
        assert_eq!(err.class(), ErrorClass::Unauthenticated);
    }
}

#[test]
fn wrong_key_is_unauthenticated() {
    let value = signed_value(feedback_message(), &other_key(5));
    assert_eq!(class(verify_value(&value)), ErrorClass::Unauthenticated);
}

#[test]
fn unknown_kid_is_unauthenticated() {
    let mut message = feedback_message();
    message.kid = kid("alpha-k9");
    let err = verify_value(&signed_value(message, &example_key())).unwrap_err();
    assert_eq!(
        err,
        MessageError::UnknownKid {
            kid: "alpha-k9".into()
        }
    );
    assert_eq!(err.class(), ErrorClass::Unauthenticated);
}

#[test]
fn retired_kid_is_unauthenticated() {
    let mut message = feedback_message();
    message.kid = kid("alpha-k0");
    let err = verify_value(&signed_value(message, &other_key(1))).unwrap_err();
    assert_eq!(
        err,
        MessageError::RetiredKid {
            kid: kid("alpha-k0")
        }
    );
    assert_eq!(err.class(), ErrorClass::Unauthenticated);
    assert!(err.to_string().contains("retired"), "{err}");
}

#[test]
fn foreign_kid_is_forbidden() {
    // beta signs correctly with its own key, but alpha is the caller.
    let mut message = feedback_message();
    message.kid = kid("beta-k1");
    let value = signed_value(message, &other_key(2));
    let err = verify_value(&value).unwrap_err();
    assert_eq!(
        err,
        MessageError::ForeignKid {
            kid: kid("beta-k1"),
            caller: alpha()
        }
    );
    assert_eq!(err.class(), ErrorClass::Forbidden);
    let body = serde_json::to_vec(&value).expect("serializable");
    assert!(verify_feedback(&body, &keyring(), &identity("beta")).is_ok());
}

#[test]
fn ml_dsa_key_cannot_sign_feedback() {
    let mut ring = keyring();
    use ml_dsa::Keypair as _;
    ring.insert(
        kid("alpha-pq"),
        KeyEntry::new(alpha(), ml_dsa_key().verifying_key()),
    )
    .expect("new kid");
    let mut message = feedback_message();
    message.kid = kid("alpha-pq");
    let body = sign_feedback(&example_key(), message)
        .expect("signable")
        .to_json();
    let err = verify_feedback(&body, &ring, &alpha()).unwrap_err();
    assert!(
        matches!(err, MessageError::WrongKeyAlgorithm { .. }),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Unauthenticated);
}

#[test]
fn bad_signature_encodings_are_unauthenticated() {
    let signed = signed_value(feedback_message(), &example_key());
    let sig = signed["signature"].as_str().expect("string").to_owned();
    for bad in [
        json!(""),
        json!("!!!!"),
        json!(sig.trim_end_matches('=')),
        json!(format!("{sig}AAAA")),
        json!(sig.replace('+', "-").replace('/', "_")),
        json!(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            [0u8; 64]
        )),
    ] {
        if bad == json!(sig) {
            continue;
        }
        let value = edit(signed.clone(), "signature", Some(bad.clone()));
        assert_eq!(
            class(verify_value(&value)),
            ErrorClass::Unauthenticated,
            "{bad}"
        );
    }
}

#[test]
fn schema_version_must_be_1_0() {
    let signed = signed_value(feedback_message(), &example_key());
    for bad in [
        json!("2.0"),
        json!("1.0.0"),
        json!(1.0),
        json!(null),
        json!("1.0 "),
    ] {
        let err =
            verify_value(&edit(signed.clone(), "schema_version", Some(bad.clone()))).unwrap_err();
        assert!(
            matches!(err, MessageError::UnsupportedSchemaVersion { .. }),
            "{bad}: {err}"
        );
        assert_eq!(err.class(), ErrorClass::Schema);
    }
}

#[test]
fn wrong_types_are_schema_errors() {
    let signed = signed_value(feedback_message(), &example_key());
    let cases: Vec<(&str, Option<Value>)> = vec![
        ("data/confidence", Some(json!("0.85"))),
        ("data/confidence", Some(json!(null))),
        ("data/ttl_seconds", Some(json!(3600.5))),
        ("data/ttl_seconds", Some(json!(3600.0))),
        ("data/ttl_seconds", Some(json!("3600"))),
        ("data/ttl_seconds", Some(json!(9_007_199_254_740_992u64))),
        ("data/adjustment", Some(json!([1]))),
        ("data/adjustment", Some(json!(null))),
        ("data/adjustment/big", Some(json!(u64::MAX))),
        (
            "data/execution_hash",
            Some(json!(EXECUTION_HASH.to_uppercase())),
        ),
        ("data/attestation_measurement_hash", Some(json!("abc"))),
        ("data/extra", Some(json!(1))),
        ("data/confidence", None),
        ("signed_at", Some(json!("1795000000"))),
        ("signed_at", Some(json!(-5))),
        ("tenant_id", Some(json!("tenant a"))),
        ("kid", Some(json!("kid|with|pipes"))),
        ("nonce", Some(json!("short"))),
        ("signature", Some(json!(42))),
        ("signature", None),
        ("extra", Some(json!("x"))),
    ];
    for (path, new) in cases {
        let err = verify_value(&edit(signed.clone(), path, new.clone())).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Schema, "{path} = {new:?}: {err}");
    }
    // Range checks are the policy's: out-of-range values still verify.
    let mut message = feedback_message();
    message.data.confidence = FiniteNumber::new(7.5).expect("finite");
    message.data.ttl_seconds = SafeInteger::new(-1).expect("safe");
    assert!(verify_value(&signed_value(message, &example_key())).is_ok());
}

#[test]
fn invalid_json_and_oversized_bodies_are_malformed() {
    for bad in [&b""[..], b"{", b"nul", b"{\"a\":1}x"] {
        assert_eq!(
            class(verify_feedback(bad, &keyring(), &alpha())),
            ErrorClass::Malformed
        );
    }
    let big = vec![b' '; crate::messages::feedback::MAX_FEEDBACK_BODY_LEN + 1];
    assert_eq!(
        class(verify_feedback(&big, &keyring(), &alpha())),
        ErrorClass::Malformed
    );
}

#[test]
fn non_finite_numbers_cannot_be_built() {
    assert!(FiniteNumber::new(f64::NAN).is_err());
    assert!(FiniteNumber::new(f64::INFINITY).is_err());
    assert!(SafeInteger::new(i64::MAX).is_err());
}
