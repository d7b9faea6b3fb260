use ed25519_dalek::Signer as _;
use serde_json::{Value, json};

use super::*;
use crate::messages::encoding::encode_url;

/// A compact JWS of `header` and `payload` (as given, byte for byte) with
/// the signature `sign` computes over the signing input.
fn token(header: &str, payload: &[u8], sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", encode_url(header.as_bytes()), encode_url(payload));
    let signature = sign(input.as_bytes());
    format!("{input}.{}", encode_url(&signature))
}

fn ed25519(key: &SigningKey) -> impl FnOnce(&[u8]) -> Vec<u8> + '_ {
    move |input| key.sign(input).to_bytes().to_vec()
}

fn ml_dsa(input: &[u8]) -> Vec<u8> {
    ml_dsa_key()
        .expanded_key()
        .sign_deterministic(input, b"")
        .expect("empty context")
        .encode()
        .to_vec()
}

fn payload() -> Vec<u8> {
    serde_json::to_vec(&manifest_value()).expect("serializable")
}

const ED_HEADER: &str = r#"{"alg":"EdDSA","kid":"issuer-ed"}"#;

fn verify(token: &str) -> Result<Manifest, MessageError> {
    verify_manifest(token, &keyring())
}

#[test]
fn eddsa_round_trip() {
    let token = sign_manifest_eddsa(&example_key(), &kid("issuer-ed"), &manifest()).expect("signs");
    assert_eq!(verify(&token).expect("verifies"), manifest());
    let by_hand = token_of_example();
    assert_eq!(verify(&by_hand).expect("verifies"), manifest());
}

fn token_of_example() -> String {
    token(ED_HEADER, &payload(), ed25519(&example_key()))
}

#[test]
fn ml_dsa_65_round_trip() {
    let token =
        sign_manifest_ml_dsa_65(&ml_dsa_key(), &kid("issuer-ml"), &manifest()).expect("signs");
    assert_eq!(verify(&token).expect("verifies"), manifest());
    // A signature made with a non-empty context does not verify.
    let with_context = token_with(r#"{"alg":"ML-DSA-65","kid":"issuer-ml"}"#, |input| {
        ml_dsa_key()
            .expanded_key()
            .sign_deterministic(input, b"verdict")
            .expect("short context")
            .encode()
            .to_vec()
    });
    assert_eq!(class(verify(&with_context)), ErrorClass::Unauthenticated);
}

fn token_with(header: &str, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    token(header, &payload(), sign)
}

#[test]
fn typ_is_allowed() {
    let t = token_with(
        r#"{"typ":"JWT","alg":"EdDSA","kid":"issuer-ed"}"#,
        ed25519(&example_key()),
    );
    assert!(verify(&t).is_ok());
}

#[test]
fn alg_none_is_unauthenticated() {
    for header in [
        r#"{"alg":"none","kid":"issuer-ed"}"#,
        r#"{"alg":"none"}"#,
        r#"{"alg":"None","kid":"issuer-ed"}"#,
    ] {
        let unsigned = token_with(header, |_| Vec::new());
        assert!(unsigned.ends_with('.'));
        let err = verify(&unsigned).unwrap_err();
        assert!(
            matches!(err, MessageError::UnsupportedAlgorithm { .. }),
            "{header}: {err}"
        );
        assert_eq!(err.class(), ErrorClass::Unauthenticated);
        // Even with a real Ed25519 signature attached.
        let signed = token_with(header, ed25519(&example_key()));
        assert_eq!(class(verify(&signed)), ErrorClass::Unauthenticated);
    }
    // And an EdDSA header with no signature at all.
    let empty = token_with(ED_HEADER, |_| Vec::new());
    let err = verify(&empty).unwrap_err();
    assert_eq!(
        err,
        MessageError::BadSignature {
            kind: MessageKind::Manifest
        }
    );
}

#[test]
fn hs256_keyed_with_the_public_key_is_unauthenticated() {
    let public = example_key().verifying_key().to_bytes();
    let forged = token_with(r#"{"alg":"HS256","kid":"issuer-ed"}"#, |input| {
        hmac_sha256(&public, input).to_vec()
    });
    let err = verify(&forged).unwrap_err();
    assert_eq!(
        err,
        MessageError::UnsupportedAlgorithm {
            alg: "HS256".into()
        }
    );
    assert_eq!(err.class(), ErrorClass::Unauthenticated);
    // The error names neither key nor signature bytes.
    assert!(!err.to_string().contains(&encode_url(&public)));
}

#[test]
fn unknown_algorithms_are_unauthenticated() {
    for alg in [
        "RS256",
        "ES256",
        "Ed25519",
        "eddsa",
        "ML-DSA-44",
        "ML-DSA-87",
        "",
    ] {
        let header = format!(r#"{{"alg":"{alg}","kid":"issuer-ed"}}"#);
        let t = token_with(&header, ed25519(&example_key()));
        let err = verify(&t).unwrap_err();
        assert!(
            matches!(err, MessageError::UnsupportedAlgorithm { .. }),
            "{alg}: {err}"
        );
    }
}

#[test]
fn alg_that_differs_from_the_key_is_unauthenticated() {
    // ML-DSA-65 claimed for the Ed25519 key, signed either way.
    for sign in [ml_dsa as fn(&[u8]) -> Vec<u8>, |input: &[u8]| {
        ed25519(&example_key())(input)
    }] {
        let t = token_with(r#"{"alg":"ML-DSA-65","kid":"issuer-ed"}"#, sign);
        let err = verify(&t).unwrap_err();
        assert!(
            matches!(err, MessageError::AlgorithmMismatch { .. }),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Unauthenticated);
    }
    // EdDSA claimed for the ML-DSA-65 key.
    let t = token_with(
        r#"{"alg":"EdDSA","kid":"issuer-ml"}"#,
        ed25519(&example_key()),
    );
    let err = verify(&t).unwrap_err();
    assert!(
        matches!(err, MessageError::AlgorithmMismatch { .. }),
        "{err}"
    );
}

#[test]
fn kid_problems_are_unauthenticated() {
    let cases = [
        (r#"{"alg":"EdDSA"}"#, "missing"),
        (r#"{"alg":"EdDSA","kid":"nobody"}"#, "unknown"),
        (r#"{"alg":"EdDSA","kid":"has space"}"#, "invalid"),
        (r#"{"alg":"EdDSA","kid":""}"#, "empty"),
        (r#"{"alg":"EdDSA","kid":"issuer-old"}"#, "retired"),
        (r#"{"kid":"issuer-ed"}"#, "no alg"),
    ];
    for (header, what) in cases {
        let t = token_with(header, ed25519(&example_key()));
        assert_eq!(class(verify(&t)), ErrorClass::Unauthenticated, "{what}");
    }
    let retired = token_with(
        r#"{"alg":"EdDSA","kid":"issuer-old"}"#,
        ed25519(&other_key(3)),
    );
    assert_eq!(
        verify(&retired).unwrap_err(),
        MessageError::RetiredKid {
            kid: kid("issuer-old")
        }
    );
    let missing = token_with(r#"{"alg":"EdDSA"}"#, ed25519(&example_key()));
    assert_eq!(verify(&missing).unwrap_err(), MessageError::MissingKid);
}

#[test]
fn wrong_key_and_tampering_are_unauthenticated() {
    let t = token_with(ED_HEADER, ed25519(&other_key(4)));
    assert_eq!(
        verify(&t).unwrap_err(),
        MessageError::BadSignature {
            kind: MessageKind::Manifest
        }
    );
    // Swap in another payload under the original signature.
    let original = token_of_example();
    let parts: Vec<&str> = original.split('.').collect();
    let other_payload = encode_url(
        &serde_json::to_vec(&edit(
            manifest_value(),
            "nonce",
            Some(json!("mf-0002-a1b2c3")),
        ))
        .expect("serializable"),
    );
    let swapped = format!("{}.{other_payload}.{}", parts[0], parts[2]);
    assert_eq!(class(verify(&swapped)), ErrorClass::Unauthenticated);
}

#[test]
fn header_problems_are_malformed() {
    for header in [
        r#"{"alg":"EdDSA","kid":"issuer-ed","crit":["exp"]}"#,
        r#"{"alg":"EdDSA","kid":"issuer-ed","crit":[]}"#,
        r#"{"alg":"EdDSA","kid":"issuer-ed","jwk":{"kty":"OKP"}}"#,
        r#"{"alg":"EdDSA","kid":"issuer-ed","b64":false}"#,
        r#"{"alg":"EdDSA","alg":"EdDSA","kid":"issuer-ed"}"#,
        r#"{"alg":"EdDSA","kid":"issuer-ed","kid":"issuer-ml"}"#,
        r#"{"alg":["EdDSA"],"kid":"issuer-ed"}"#,
        r#"{"alg":"EdDSA","kid":7}"#,
        r#"{"alg":"EdDSA","kid":"issuer-ed","typ":1}"#,
        r#"["EdDSA"]"#,
        r#"{"alg":"EdDSA""#,
        "",
    ] {
        let t = token_with(header, ed25519(&example_key()));
        assert_eq!(class(verify(&t)), ErrorClass::Malformed, "{header}");
    }
    let crit = token_with(
        r#"{"alg":"EdDSA","kid":"issuer-ed","crit":["x"]}"#,
        ed25519(&example_key()),
    );
    assert_eq!(verify(&crit).unwrap_err(), MessageError::CriticalHeader);
}

#[test]
fn token_shape_problems_are_malformed() {
    let good = token_of_example();
    let (input, signature) = good.rsplit_once('.').expect("three parts");
    let oversized = format!("{good}{}", "A".repeat(MAX_TOKEN_LEN));
    let cases = [
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        input.to_owned(),
        format!("{good}."),
        format!("{good}.AAAA"),
        format!(".{good}"),
        format!("{good}="),
        format!("{input}.{signature}=="),
        format!(" {good}"),
        format!("{good}\n"),
        good.replacen('.', ". ", 1),
        good.replacen('A', "+", 1),
        good.replacen('.', "..", 1),
        format!("{input}.{}", &signature[1..]), // 85 characters: not base64url
        oversized,
        "garbage".into(),
        "a.b.c".into(),
        "eyJ.eyJ.eyJ".into(),
        "\u{0}\u{0}.\u{0}.\u{0}".into(),
        "ünïcödé.ünïcödé.ünïcödé".into(),
    ];
    for bad in cases {
        let err = verify(&bad).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Malformed, "{bad:?}: {err}");
    }
    let too_large = verify(&format!("{good}{}", "A".repeat(MAX_TOKEN_LEN))).unwrap_err();
    assert!(matches!(too_large, MessageError::TooLarge { .. }));
}

#[test]
fn truncated_signatures_are_refused() {
    let good = token_of_example();
    for cut in 1..good.len() {
        assert!(verify(&good[..cut]).is_err(), "{cut}");
    }
}

fn signed_payload(value: &Value) -> String {
    token(
        ED_HEADER,
        &serde_json::to_vec(value).expect("serializable"),
        ed25519(&example_key()),
    )
}

#[test]
fn payload_fields_are_strictly_typed() {
    let cases: Vec<(&str, Option<Value>)> = vec![
        ("target_urn", Some(json!("urn:urn:thing"))),
        ("target_urn", Some(json!("urn:x:thing"))),
        ("target_urn", Some(json!("urn:example:"))),
        ("target_urn", Some(json!("https://example.com"))),
        ("target_urn", Some(json!("URN:example:host"))),
        ("target_urn", Some(json!("urn:-example:host"))),
        ("target_urn", Some(json!("urn:example:host?+r"))),
        ("tool_sha256", Some(json!(EXECUTION_HASH))),
        (
            "tool_sha256",
            Some(json!(format!("sha256:{}", EXECUTION_HASH.to_uppercase()))),
        ),
        (
            "tool_sha256",
            Some(json!(format!("sha512:{EXECUTION_HASH}"))),
        ),
        ("nonce", Some(json!("short"))),
        ("nonce", Some(json!("has space here"))),
        ("nonce", Some(json!("x".repeat(129)))),
        ("manifest_version", Some(json!("2.0.0"))),
        ("manifest_version", Some(json!("0.9.0"))),
        ("manifest_version", Some(json!("1.0"))),
        ("manifest_version", Some(json!("v1.0.0"))),
        ("manifest_version", Some(json!("01.0.0"))),
        ("manifest_version", Some(json!(1))),
        ("issued_at", Some(json!(1.7e9))),
        ("issued_at", Some(json!("1795000005"))),
        ("parameters", Some(json!([]))),
        ("parameters", Some(json!(null))),
        ("parameters/too_big", Some(json!(u64::MAX))),
        ("task_context/requested_at", Some(json!(-1))),
        ("task_context/task_id", Some(json!(""))),
        ("task_context/tenant_id", Some(json!("tenant a"))),
        ("task_context/correlation_id", Some(json!(5))),
        ("task_context/extra", Some(json!(1))),
        ("task_context/action", None),
        ("extra", Some(json!({}))),
        ("issued_at", None),
    ];
    for (path, new) in cases {
        let t = signed_payload(&edit(manifest_value(), path, new.clone()));
        let err = verify(&t).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Schema, "{path} = {new:?}: {err}");
    }
    for version in ["1.0.0", "1.2.3", "1.0.0-rc.1", "1.0.0+build.5"] {
        let t = signed_payload(&edit(
            manifest_value(),
            "manifest_version",
            Some(json!(version)),
        ));
        assert!(verify(&t).is_ok(), "{version}");
    }
}

#[test]
fn signed_non_json_payload_is_malformed() {
    for payload in [&b"not json"[..], b"{", b"{}{}"] {
        let t = token(ED_HEADER, payload, ed25519(&example_key()));
        assert_eq!(class(verify(&t)), ErrorClass::Malformed);
    }
    let t = token(ED_HEADER, b"[]", ed25519(&example_key()));
    assert_eq!(class(verify(&t)), ErrorClass::Schema);
}

#[test]
fn urns_follow_rfc_8141() {
    for good in [
        "urn:example:a",
        "urn:isbn:0451450523",
        "urn:ietf:rfc:8141",
        "urn:example:a/b%20c:d@e~f!$&'()*+,;=",
        "urn:A-1:x",
        &format!("urn:{}:x", "a".repeat(32)),
    ] {
        let urn: Urn = good.parse().unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(urn.as_str(), good);
    }
    let urn: Urn = "urn:example:host/web-01".parse().expect("valid");
    assert_eq!((urn.nid(), urn.nss()), ("example", "host/web-01"));
    for bad in [
        "",
        "urn:",
        "urn:example",
        "urn::x",
        "urn:a:x",
        "urn:URN:x",
        "urn:-ab:x",
        "urn:ab-:x",
        "urn:a_b:x",
        "urn:example:/x",
        "urn:example:a b",
        "urn:example:a#f",
        "urn:example:a?=q",
        "urn:example:%zz",
        "urn:example:%4",
        "urn:example:é",
        &format!("urn:{}:x", "a".repeat(33)),
        &format!("urn:example:{}", "x".repeat(Urn::MAX_LEN)),
    ] {
        assert!(bad.parse::<Urn>().is_err(), "{bad:?}");
    }
}
