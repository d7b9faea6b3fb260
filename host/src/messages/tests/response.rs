use serde_json::{Value, json};

use super::*;

fn gateway() -> ServiceIdentity {
    identity("gateway")
}

fn signed_value(message: FeedbackResponse, key: &SigningKey) -> Value {
    let signed = sign_response(key, message).expect("signable");
    serde_json::from_slice(&signed.to_json()).expect("JSON")
}

fn verify_value(value: &Value) -> Result<FeedbackResponse, MessageError> {
    let body = serde_json::to_vec(value).expect("serializable");
    verify_response(&body, &keyring(), &gateway())
}

#[test]
fn round_trip() {
    let signed = sign_response(&example_key(), response_message()).expect("signable");
    let verified = verify_response(&signed.to_json(), &keyring(), &gateway()).expect("verifies");
    assert_eq!(&verified, signed.message());
    let mut accepted = response_message();
    accepted.status = ResponseStatus::Accepted;
    accepted.reasons.clear();
    assert!(verify_value(&signed_value(accepted, &example_key())).is_ok());
}

#[test]
fn signing_input_frames_fields_then_canonical_answer() {
    let input = response_message().signing_input().expect("canonical");
    assert_eq!(
        String::from_utf8(input).expect("UTF-8"),
        "gw-k1|1795000001|gw-0001-beef42|\
         {\"decision_id\":\"0123456789abcdef0123456789abcdef\",\
         \"reasons\":[\"ttl_seconds is not in [60, 86400]\"],\"status\":\"rejected\"}"
    );
}

#[test]
fn tampering_is_unauthenticated() {
    let signed = signed_value(response_message(), &example_key());
    for (path, new) in [
        ("status", json!("accepted")),
        ("reasons", json!([])),
        ("decision_id", json!("00000000000000000000000000000000")),
        ("signed_at", json!(1)),
        ("nonce", json!("gw-0002-beef42")),
    ] {
        let err = verify_value(&edit(signed.clone(), path, Some(new))).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Unauthenticated, "{path}: {err}");
    }
}

#[test]
fn keys_of_other_identities_are_forbidden() {
    let mut message = response_message();
    message.kid = kid("alpha-k1");
    let err = verify_value(&signed_value(message, &example_key())).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Forbidden);
    let mut message = response_message();
    message.kid = kid("gw-k9");
    let err = verify_value(&signed_value(message, &example_key())).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unauthenticated);
}

#[test]
fn wrong_types_are_schema_errors() {
    let signed = signed_value(response_message(), &example_key());
    for (path, new) in [
        ("status", Some(json!("Accepted"))),
        ("status", Some(json!("maybe"))),
        (
            "decision_id",
            Some(json!("0123456789ABCDEF0123456789ABCDEF")),
        ),
        ("decision_id", Some(json!("0123"))),
        ("reasons", Some(json!("one reason"))),
        ("reasons", Some(json!([1]))),
        ("extra", Some(json!(0))),
        ("kid", None),
    ] {
        let err = verify_value(&edit(signed.clone(), path, new.clone())).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Schema, "{path} = {new:?}: {err}");
    }
}
