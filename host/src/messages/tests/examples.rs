//! The worked examples of `docs/federation.md`, recomputed: if one of these
//! tests fails, the code or the document is wrong.
//!
//! `cargo test -- --ignored --nocapture print_worked_examples` prints them.

use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use sha2::{Digest as _, Sha256};

use super::*;

/// The example telemetry body, byte for byte as in the document.
const TELEMETRY_BODY: &str = concat!(
    r#"{"attestation_measurement_hash":"a3f1c2d4e5b6a7980123456789abcdef0fedcba9876543210a1b2c3d4e5f6a7b","#,
    r#""campaign_id":"campaign-7","#,
    r#""execution_hash":"5f0c2b1e9a7d4c3b8e6f1a2d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b","#,
    r#""nonce":"tlm-0001-7f3a9c","operator_id":"op-a1","payload":{"cpu_ms":1234,"status":"ok"},"#,
    r#""signed_metadata":{"campaign_id":"campaign-7","operator_id":"op-a1","tenant_id":"tenant-a"},"#,
    r#""tenant_id":"tenant-a","timestamp":1795000000}"#
);

fn telemetry_body() -> Vec<u8> {
    TELEMETRY_BODY.as_bytes().to_vec()
}

fn telemetry_signature() -> String {
    sign_telemetry(
        &example_key(),
        UnixSeconds::new(1_795_000_000).expect("in range"),
        &nonce("tlm-0001-7f3a9c"),
        &telemetry_body(),
    )
}

fn feedback_body() -> Vec<u8> {
    sign_feedback(&example_key(), feedback_message())
        .expect("signs")
        .to_json()
}

fn response_body() -> Vec<u8> {
    sign_response(&example_key(), response_message())
        .expect("signs")
        .to_json()
}

fn eddsa_token() -> String {
    sign_manifest_eddsa(&example_key(), &kid("issuer-ed"), &manifest()).expect("signs")
}

fn ml_dsa_token() -> String {
    sign_manifest_ml_dsa_65(&ml_dsa_key(), &kid("issuer-ml"), &manifest()).expect("signs")
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("UTF-8")
}

#[test]
#[ignore = "prints the worked examples for docs/federation.md"]
fn print_worked_examples() {
    use ml_dsa::Keypair as _;
    let key = example_key();
    println!("== key");
    println!("seed hex: {EXAMPLE_SEED_HEX}");
    println!(
        "public hex: {}",
        hex::encode(key.verifying_key().to_bytes())
    );
    let pem = key.to_pkcs8_pem(Default::default()).expect("PEM");
    println!("pkcs8:\n{}", pem.as_str());
    let ml_public = ml_dsa_key().verifying_key().encode();
    println!("ml-dsa seed hex: {}", hex::encode(ml_dsa_seed()));
    println!(
        "ml-dsa public sha256: {}",
        hex::encode(Sha256::digest(ml_public.as_slice()))
    );

    println!("== telemetry");
    println!("body: {}", text(telemetry_body()));
    let input = telemetry_signing_input(
        UnixSeconds::new(1_795_000_000).expect("in range"),
        &nonce("tlm-0001-7f3a9c"),
        &telemetry_body(),
    );
    println!("input: {}", text(input.clone()));
    println!("input sha256: {}", hex::encode(Sha256::digest(&input)));
    println!("signature: {}", telemetry_signature());

    println!("== feedback");
    let input = feedback_message().signing_input().expect("canonical");
    println!("input: {}", text(input.clone()));
    println!("input sha256: {}", hex::encode(Sha256::digest(&input)));
    println!("body: {}", text(feedback_body()));

    println!("== response");
    let input = response_message().signing_input().expect("canonical");
    println!("input: {}", text(input.clone()));
    println!("body: {}", text(response_body()));

    println!("== manifest");
    println!(
        "payload: {}",
        text(serde_json::to_vec(&manifest()).expect("JSON"))
    );
    let token = eddsa_token();
    println!("token: {token}");
    let ml = ml_dsa_token();
    let (ml_input, ml_signature) = ml.rsplit_once('.').expect("three parts");
    println!("ml-dsa input: {ml_input}");
    println!("ml-dsa signature chars: {}", ml_signature.len());
    println!(
        "ml-dsa token sha256: {}",
        hex::encode(Sha256::digest(ml.as_bytes()))
    );
}

const PUBLIC_KEY_HEX: &str = "5358bddbbbb4e632376923b724a036eb0c183d2211891b82c796c230c9678005";

/// The example key as documented: PKCS#8 v1 (RFC 8410), as OpenSSL writes it.
const PKCS8_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezZjJnA7rAMcrn9g
-----END PRIVATE KEY-----
";

const TELEMETRY_SIGNATURE: &str =
    "4njR59dXTHtzv2Acp40FEIMme/PMYREu4Eg/UgfLsM+fLnUZdxAwreuuLXfQeFG7jpc0SBvVp8V/ZpUUFmBEBA==";

const FEEDBACK_INPUT: &str = concat!(
    "tenant-a|1795000000|fb-0001-c0ffee|1.0|alpha-k1|",
    r#"{"adjustment":{"reason":"drift","weight":-0.25},"#,
    r#""attestation_measurement_hash":"a3f1c2d4e5b6a7980123456789abcdef0fedcba9876543210a1b2c3d4e5f6a7b","#,
    r#""confidence":0.85,"#,
    r#""execution_hash":"5f0c2b1e9a7d4c3b8e6f1a2d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b","#,
    r#""ttl_seconds":3600}"#
);

const FEEDBACK_SIGNATURE: &str =
    "xx5ruFkwsr1kak16OIqunpnVO9IybiixkRxKluDltkqvW0ibKVJzz52HuisQ0uI0ld64K9reaK570hz4rO/dBw==";

const RESPONSE_INPUT: &str = concat!(
    "gw-k1|1795000001|gw-0001-beef42|",
    r#"{"decision_id":"0123456789abcdef0123456789abcdef","#,
    r#""reasons":["ttl_seconds is not in [60, 86400]"],"status":"rejected"}"#
);

const RESPONSE_SIGNATURE: &str =
    "ahxR0Kzxmi1ykEmOmum78zh/XkixNZKGKcCUq3z8QkzanoO5xZR1wUkGiSwf7+bwhKPgrYSLaCrpG8fWzob4CA==";

const MANIFEST_TOKEN: &str = concat!(
    "eyJhbGciOiJFZERTQSIsImtpZCI6Imlzc3Vlci1lZCJ9.",
    "eyJ0YXNrX2NvbnRleHQiOnsidGFza19pZCI6InRhc2stNDIiLCJ0ZW5hbnRfaWQiOiJ0ZW5hbnQtYSIsIm9wZXJhdG9y",
    "X2lkIjoib3AtYTEiLCJzb3VyY2UiOiJzY2hlZHVsZXIiLCJhY3Rpb24iOiJzY2FuIiwicmVxdWVzdGVkX2F0IjoxNzk1",
    "MDAwMDAwLCJjb3JyZWxhdGlvbl9pZCI6ImNvcnItOWY4ZTdkIn0sInRhcmdldF91cm4iOiJ1cm46ZXhhbXBsZTpob3N0",
    "L3dlYi0wMSIsInRvb2xfc2hhMjU2Ijoic2hhMjU2OjVmMGMyYjFlOWE3ZDRjM2I4ZTZmMWEyZDBjOWI4YTdmNmU1ZDRj",
    "M2IyYTFmMGU5ZDhjN2I2YTVmNGUzZDJjMWIiLCJub25jZSI6Im1mLTAwMDEtYTFiMmMzIiwicGFyYW1ldGVycyI6eyJk",
    "ZXB0aCI6MiwicG9ydHMiOls4MCw0NDNdfSwiaXNzdWVkX2F0IjoxNzk1MDAwMDA1LCJtYW5pZmVzdF92ZXJzaW9uIjoi",
    "MS4wLjAifQ.",
    "80eLX2C6xF70xuMDle3rXUirtGaNZusRyOxyyh6Yw51M8h53ba5JTvFYmmiiaqzZD8-wbzHlPgkeSb2fbpiFDA"
);

const ML_DSA_PUBLIC_KEY_SHA256: &str =
    "d666806e11cee19a7c989f7445f90dd419cf4d2d51db8c0fdb4c0f0a542238c9";

const ML_DSA_INPUT_SHA256: &str =
    "58e66540442d5ba39e874da49a10b1123f2ad7a84bc204f8e7bef5fc2440fb53";

const ML_DSA_TOKEN_SHA256: &str =
    "b0df5d0c382179b68d2d6246baf03158baf66b0cd9b347140bb9c6ce80be7ef3";

#[test]
fn example_key_is_as_documented() {
    let key = example_key();
    assert_eq!(hex::encode(key.verifying_key().to_bytes()), PUBLIC_KEY_HEX);
    let documented = SigningKey::from_pkcs8_pem(PKCS8_PEM).expect("PKCS#8");
    assert_eq!(documented.to_bytes(), key.to_bytes());
}

#[test]
fn telemetry_example_is_as_documented() {
    assert_eq!(telemetry_signature(), TELEMETRY_SIGNATURE);
    let headers = TelemetryHeaders::parse(
        Some("1795000000"),
        Some("tlm-0001-7f3a9c"),
        Some(TELEMETRY_SIGNATURE),
    )
    .expect("valid headers");
    let verified = verify_telemetry(
        &headers,
        TELEMETRY_BODY.as_bytes(),
        &example_key().verifying_key(),
    )
    .expect("verifies");
    assert_eq!(
        serde_json::to_value(&verified).expect("JSON"),
        telemetry_value()
    );
}

#[test]
fn feedback_example_is_as_documented() {
    let signed = sign_feedback(&example_key(), feedback_message()).expect("signs");
    assert_eq!(
        text(feedback_message().signing_input().expect("canonical")),
        FEEDBACK_INPUT
    );
    assert_eq!(signed.signature_base64(), FEEDBACK_SIGNATURE);
    let verified = verify_feedback(&feedback_body(), &keyring(), &identity("alpha"));
    assert_eq!(verified.expect("verifies"), feedback_message());
}

#[test]
fn response_example_is_as_documented() {
    let signed = sign_response(&example_key(), response_message()).expect("signs");
    assert_eq!(
        text(response_message().signing_input().expect("canonical")),
        RESPONSE_INPUT
    );
    assert_eq!(signed.signature_base64(), RESPONSE_SIGNATURE);
    let verified = verify_response(&response_body(), &keyring(), &identity("gateway"));
    assert_eq!(verified.expect("verifies"), response_message());
}

#[test]
fn manifest_examples_are_as_documented() {
    assert_eq!(eddsa_token(), MANIFEST_TOKEN);
    assert_eq!(
        verify_manifest(MANIFEST_TOKEN, &keyring()).expect("verifies"),
        manifest()
    );
    use ml_dsa::Keypair as _;
    let public = ml_dsa_key().verifying_key().encode();
    assert_eq!(
        hex::encode(Sha256::digest(public.as_slice())),
        ML_DSA_PUBLIC_KEY_SHA256
    );
    let ml = ml_dsa_token();
    let (input, signature) = ml.rsplit_once('.').expect("three parts");
    assert_eq!(
        hex::encode(Sha256::digest(input.as_bytes())),
        ML_DSA_INPUT_SHA256
    );
    assert_eq!(signature.len(), 4412, "3309 bytes, unpadded base64url");
    assert_eq!(
        hex::encode(Sha256::digest(ml.as_bytes())),
        ML_DSA_TOKEN_SHA256
    );
    assert_eq!(
        verify_manifest(&ml, &keyring()).expect("verifies"),
        manifest()
    );
}
