use serde_json::{Value, json};

use super::*;
use crate::messages::telemetry::MAX_TELEMETRY_BODY_LEN;

/// Signs `body` with `key` under the body's own timestamp and nonce
/// (unless overridden), returning parsed headers.
fn headers_for(
    key: &SigningKey,
    timestamp: u64,
    nonce_text: &str,
    body: &[u8],
) -> TelemetryHeaders {
    let ts = UnixSeconds::new(timestamp).expect("in range");
    let signature = sign_telemetry(key, ts, &nonce(nonce_text), body);
    TelemetryHeaders::parse(Some(&ts.to_string()), Some(nonce_text), Some(&signature))
        .expect("valid headers")
}

fn signed(value: &Value) -> (TelemetryHeaders, Vec<u8>) {
    let body = serde_json::to_vec(value).expect("serializable");
    let ts = value["timestamp"].as_u64().unwrap_or(1_795_000_000);
    let n = value["nonce"].as_str().unwrap_or("tlm-0001-7f3a9c");
    (headers_for(&example_key(), ts, n, &body), body)
}

fn verify(headers: &TelemetryHeaders, body: &[u8]) -> Result<Telemetry, MessageError> {
    verify_telemetry(headers, body, &example_key().verifying_key())
}

#[test]
fn round_trip() {
    let (headers, body) = signed(&telemetry_value());
    let telemetry = verify(&headers, &body).expect("verifies");
    assert_eq!(telemetry.tenant_id.as_str(), "tenant-a");
    assert_eq!(telemetry.campaign_id.as_str(), "campaign-7");
    assert_eq!(telemetry.execution_hash.to_string(), EXECUTION_HASH);
    assert_eq!(telemetry.timestamp.get(), 1_795_000_000);
    assert_eq!(telemetry.payload.as_map()["cpu_ms"], json!(1234));
    assert_eq!(headers.timestamp().get(), 1_795_000_000);
    assert_eq!(headers.nonce().as_str(), "tlm-0001-7f3a9c");
}

#[test]
fn signing_input_is_timestamp_dot_nonce_dot_body() {
    let input = telemetry_signing_input(
        UnixSeconds::new(17).expect("in range"),
        &nonce("abcdefgh"),
        b"{}",
    );
    assert_eq!(input, b"17.abcdefgh.{}");
}

#[test]
fn tampered_body_byte_is_unauthenticated() {
    let (headers, mut body) = signed(&telemetry_value());
    let at = body.windows(4).position(|w| w == b"1234").expect("present");
    body[at] = b'9';
    let err = verify(&headers, &body).unwrap_err();
    assert_eq!(
        err,
        MessageError::BadSignature {
            kind: MessageKind::Telemetry
        }
    );
    assert_eq!(err.class(), ErrorClass::Unauthenticated);
}

#[test]
fn wrong_key_is_unauthenticated() {
    let (headers, body) = signed(&telemetry_value());
    let result = verify_telemetry(&headers, &body, &other_key(7).verifying_key());
    assert_eq!(class(result), ErrorClass::Unauthenticated);
}

#[test]
fn header_body_mismatch_is_unauthenticated() {
    let body = serde_json::to_vec(&telemetry_value()).expect("serializable");
    // Signed correctly, but under another timestamp or nonce than the body's.
    let other_time = headers_for(&example_key(), 1_795_000_999, "tlm-0001-7f3a9c", &body);
    let err = verify(&other_time, &body).unwrap_err();
    assert!(
        matches!(
            err,
            MessageError::HeaderMismatch {
                field: "timestamp",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Unauthenticated);
    let other_nonce = headers_for(&example_key(), 1_795_000_000, "tlm-0002-7f3a9c", &body);
    let err = verify(&other_nonce, &body).unwrap_err();
    assert!(
        matches!(err, MessageError::HeaderMismatch { field: "nonce", .. }),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Unauthenticated);
}

#[test]
fn metadata_mismatch_is_forbidden() {
    for (field, other) in [
        ("tenant_id", "tenant-b"),
        ("operator_id", "op-b1"),
        ("campaign_id", "campaign-8"),
    ] {
        let value = edit(
            telemetry_value(),
            &format!("signed_metadata/{field}"),
            Some(json!(other)),
        );
        let (headers, body) = signed(&value);
        let err = verify(&headers, &body).unwrap_err();
        assert_eq!(err, MessageError::MetadataMismatch { field });
        assert_eq!(err.class(), ErrorClass::Forbidden);
    }
}

#[test]
fn missing_headers_are_unauthenticated() {
    let (_, body) = signed(&telemetry_value());
    let ts = UnixSeconds::new(1_795_000_000).expect("in range");
    let sig = sign_telemetry(&example_key(), ts, &nonce("tlm-0001-7f3a9c"), &body);
    let (t, n, s) = (
        Some("1795000000"),
        Some("tlm-0001-7f3a9c"),
        Some(sig.as_str()),
    );
    for (headers, name) in [
        ((None, n, s), "X-Telemetry-Timestamp"),
        ((t, None, s), "X-Telemetry-Nonce"),
        ((t, n, None), "X-Telemetry-Signature"),
    ] {
        let err = TelemetryHeaders::parse(headers.0, headers.1, headers.2).unwrap_err();
        assert_eq!(err, MessageError::MissingHeader { header: name });
        assert_eq!(err.class(), ErrorClass::Unauthenticated);
    }
    assert!(TelemetryHeaders::parse(t, n, s).is_ok());
}

#[test]
fn malformed_headers() {
    let sig = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 64]);
    let ok_nonce = Some("tlm-0001-7f3a9c");
    for bad_time in [
        "",
        "01795000000",
        "+1795000000",
        "1795000000.0",
        " 1795000000",
        "1e9",
        "x",
    ] {
        let result = TelemetryHeaders::parse(Some(bad_time), ok_nonce, Some(&sig));
        assert_eq!(class(result), ErrorClass::Malformed, "{bad_time:?}");
    }
    for bad_nonce in ["", "short", "has space!", "nonce|with|pipes"] {
        let result = TelemetryHeaders::parse(Some("1"), Some(bad_nonce), Some(&sig));
        assert_eq!(class(result), ErrorClass::Malformed, "{bad_nonce:?}");
    }
    let url_safe = sig.replace('+', "-").replace('/', "_") + "-_";
    for bad_sig in [
        "",
        "not base64!",
        &sig[..sig.len() - 2], // no padding
        &base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 63]),
        &url_safe,
    ] {
        let result = TelemetryHeaders::parse(Some("1"), ok_nonce, Some(bad_sig));
        assert_eq!(class(result), ErrorClass::Unauthenticated, "{bad_sig:?}");
    }
}

#[test]
fn wrong_types_are_schema_errors() {
    let cases: Vec<(&str, Option<Value>)> = vec![
        ("timestamp", Some(json!("1795000000"))),
        ("timestamp", Some(json!(1.795e9))),
        ("timestamp", Some(json!(-1))),
        ("nonce", Some(json!("short"))),
        ("nonce", Some(json!(12345678))),
        ("execution_hash", Some(json!(EXECUTION_HASH.to_uppercase()))),
        (
            "execution_hash",
            Some(json!(format!("sha256:{EXECUTION_HASH}"))),
        ),
        (
            "attestation_measurement_hash",
            Some(json!(&MEASUREMENT_HASH[1..])),
        ),
        ("campaign_id", Some(json!("campaign 7"))),
        ("tenant_id", Some(json!(""))),
        ("payload", Some(json!([1, 2]))),
        ("payload", Some(json!("text"))),
        ("payload", Some(json!({"n": 9_007_199_254_740_992u64}))),
        ("signed_metadata/extra", Some(json!(1))),
        ("signed_metadata/campaign_id", None),
        ("surprise", Some(json!(true))),
        ("payload", None),
    ];
    for (path, new) in cases {
        let value = edit(telemetry_value(), path, new.clone());
        let body = serde_json::to_vec(&value).expect("serializable");
        let err = Telemetry::parse(&body).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Schema, "{path} = {new:?}: {err}");
    }
    let duplicate = br#"{"tenant_id":"a","tenant_id":"b"}"#;
    assert_eq!(class(Telemetry::parse(duplicate)), ErrorClass::Schema);
    assert_eq!(class(Telemetry::parse(b"[]")), ErrorClass::Schema);
}

#[test]
fn schema_errors_after_a_valid_signature_keep_their_class() {
    let value = edit(telemetry_value(), "payload", Some(json!([])));
    let (headers, body) = signed(&value);
    assert_eq!(class(verify(&headers, &body)), ErrorClass::Schema);
}

#[test]
fn invalid_json_is_malformed() {
    for bad in [&b""[..], b"{", b"{\"tenant_id\":}", b"{} {}", b"\xff\xfe"] {
        assert_eq!(
            class(Telemetry::parse(bad)),
            ErrorClass::Malformed,
            "{bad:?}"
        );
        // Signed garbage is still garbage.
        let headers = headers_for(&example_key(), 1, "abcdefgh", bad);
        assert_eq!(
            class(verify(&headers, bad)),
            ErrorClass::Malformed,
            "{bad:?}"
        );
    }
}

#[test]
fn oversized_body_is_malformed() {
    let body = vec![b' '; MAX_TELEMETRY_BODY_LEN + 1];
    let headers = headers_for(&example_key(), 1, "abcdefgh", &body);
    let err = verify(&headers, &body).unwrap_err();
    assert!(matches!(err, MessageError::TooLarge { .. }));
    assert_eq!(err.class(), ErrorClass::Malformed);
}
