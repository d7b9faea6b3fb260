//! End-to-end: quotes from swtpm (via `quote()` and via tpm2-tools) verify,
//! and tampered ones do not.

use super::swtpm::{Swtpm, tpm2_tools_quote};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use verdict_host::evidence::tpm::{
    AkAlgorithm, PcrSelectionSpec, QuoteRequest, TpmEntry, TpmError, quote, verify,
};

const NONCE: &[u8] = b"verdict-test-nonce-0123456789abc";

fn take(tpm: &Swtpm, alg: AkAlgorithm, pcrs: &str) -> TpmEntry {
    let spec: PcrSelectionSpec = pcrs.parse().unwrap();
    let tcti = tpm.tcti();
    let req = QuoteRequest {
        tcti: &tcti,
        nonce: NONCE,
        pcrs: &spec,
        ak_algorithm: alg,
        persistent_ak: None,
    };
    quote(&req).unwrap()
}

#[test]
fn ecdsa_quote_verifies() {
    let tpm = Swtpm::start();
    let claims = verify(
        &take(&tpm, AkAlgorithm::EcdsaP256, "sha256:0,1,2,3,7"),
        Some(NONCE),
    )
    .unwrap();
    assert_eq!(
        (
            claims.ak_algorithm.as_str(),
            claims.signature_algorithm.as_str()
        ),
        ("ecdsa-p256", "ecdsa-sha256")
    );
    assert_eq!(claims.pcrs["sha256"].len(), 5);
}

#[test]
fn rsa_quote_verifies() {
    let tpm = Swtpm::start();
    let claims = verify(&take(&tpm, AkAlgorithm::Rsa2048, "sha256:0,7"), Some(NONCE)).unwrap();
    assert_eq!(
        (
            claims.ak_algorithm.as_str(),
            claims.signature_algorithm.as_str()
        ),
        ("rsa-2048", "rsassa-sha256")
    );
}

#[test]
fn many_pcrs_over_two_banks_verify() {
    // More than 8 PCRs: TPM2_PCR_Read needs several calls.
    let tpm = Swtpm::start();
    let all: Vec<String> = (0..24).map(|i| i.to_string()).collect();
    let spec = format!("sha1:0,1+sha256:{}", all.join(","));
    let claims = verify(&take(&tpm, AkAlgorithm::EcdsaP256, &spec), Some(NONCE)).unwrap();
    assert_eq!(claims.pcrs["sha256"].len(), 24);
    assert_eq!(
        claims.pcr_digest.len(),
        64,
        "pcrDigest is SHA-256 even with a SHA-1 bank"
    );
}

#[test]
fn wrong_nonce_fails() {
    let tpm = Swtpm::start();
    let entry = take(&tpm, AkAlgorithm::EcdsaP256, "sha256:0");
    assert!(matches!(
        verify(&entry, Some(b"another nonce")),
        Err(TpmError::NonceMismatch { .. })
    ));
}

#[test]
fn tampered_pcr_value_fails() {
    let tpm = Swtpm::start();
    let mut entry = take(&tpm, AkAlgorithm::EcdsaP256, "sha256:0,7");
    entry
        .pcrs
        .get_mut("sha256")
        .unwrap()
        .insert("7".into(), "ab".repeat(32));
    assert!(matches!(
        verify(&entry, Some(NONCE)),
        Err(TpmError::PcrDigestMismatch { .. })
    ));
}

#[test]
fn flipped_quote_byte_fails() {
    let tpm = Swtpm::start();
    let mut entry = take(&tpm, AkAlgorithm::Rsa2048, "sha256:0");
    let mut bytes = STANDARD.decode(&entry.quote).unwrap();
    bytes[40] ^= 0x01; // inside qualifiedSigner: still parses
    entry.quote = STANDARD.encode(bytes);
    assert_eq!(verify(&entry, None), Err(TpmError::SignatureInvalid));
}

#[test]
fn signature_under_another_ak_fails() {
    let tpm = Swtpm::start();
    let mut first = take(&tpm, AkAlgorithm::EcdsaP256, "sha256:0");
    let second = take(&tpm, AkAlgorithm::EcdsaP256, "sha256:0");
    assert_ne!(
        first.ak_public, second.ak_public,
        "each quote uses a fresh AK"
    );
    first.ak_public = second.ak_public;
    assert_eq!(verify(&first, Some(NONCE)), Err(TpmError::SignatureInvalid));
}

fn tools_entry(tpm: &Swtpm, key: &str, pcrs: &str) -> TpmEntry {
    let q = tpm2_tools_quote(tpm, key, &hex::encode(NONCE), pcrs);
    TpmEntry {
        ak_public: q.ak_pem,
        quote: STANDARD.encode(q.quote),
        signature: STANDARD.encode(q.signature),
        pcrs: q.pcrs,
    }
}

#[test]
fn tpm2_tools_ecc_quote_verifies() {
    let tpm = Swtpm::start();
    let claims = verify(
        &tools_entry(&tpm, "ecc", "sha1:0,1+sha256:0,7"),
        Some(NONCE),
    )
    .unwrap();
    assert_eq!(claims.pcrs.keys().collect::<Vec<_>>(), ["sha1", "sha256"]);
}

#[test]
fn tpm2_tools_rsa_quote_verifies() {
    let tpm = Swtpm::start();
    let claims = verify(&tools_entry(&tpm, "rsa", "sha256:0,1,2,3,7"), Some(NONCE)).unwrap();
    assert_eq!(claims.signature_algorithm, "rsassa-sha256");
}

#[test]
fn attest_tpm_writes_a_document_that_verify_accepts_only_with_its_nonce() {
    use crate::cli::{code, stderr, verdict};
    let tpm = Swtpm::start();
    let dir = tempfile::TempDir::new().unwrap();
    let out = dir.path().join("quote.json");
    let nonce = hex::encode(NONCE);
    let made = verdict(&[
        "attest",
        "tpm",
        "--tcti",
        &tpm.tcti(),
        "--nonce",
        &nonce,
        "--ak",
        "rsa-2048",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&made), 0, "{}", stderr(&made));
    let ok = verdict(&["verify", out.to_str().unwrap(), "--nonce", &nonce]);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    let claims: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(claims["evidence"][0]["type"], "tpm");
    assert_eq!(claims["evidence"][0]["ak_algorithm"], "rsa-2048");
    let warning = format!(
        "warning: evidence[0] (tpm): the AK {} is not anchored to a TPM",
        claims["evidence"][0]["ak_fingerprint"].as_str().unwrap()
    );
    assert!(stderr(&ok).contains(&warning), "{}", stderr(&ok));
    let other = "ff".repeat(32);
    let bad = verdict(&["verify", out.to_str().unwrap(), "--nonce", &other]);
    assert_eq!(code(&bad), 1, "{}", stderr(&bad));
}

#[test]
fn a_persistent_ak_is_made_once_and_signs_every_later_quote() {
    let tpm = Swtpm::start();
    let spec: PcrSelectionSpec = "sha256:0,7".parse().unwrap();
    let tcti = tpm.tcti();
    let request = |ak_algorithm| QuoteRequest {
        tcti: &tcti,
        nonce: NONCE,
        pcrs: &spec,
        ak_algorithm,
        persistent_ak: Some(0x8101_0002),
    };
    let first = quote(&request(AkAlgorithm::EcdsaP256)).unwrap();
    let second = quote(&request(AkAlgorithm::EcdsaP256)).unwrap();
    assert_eq!(first.ak_public, second.ak_public, "the same AK signs both");
    assert_ne!(first.quote, second.quote, "two quotes");
    let claims = [&first, &second].map(|q| verify(q, Some(NONCE)).unwrap().ak_fingerprint);
    assert_eq!(claims[0], claims[1]);
    // A transient AK differs from the persistent one.
    let transient = quote(&QuoteRequest {
        persistent_ak: None,
        ..request(AkAlgorithm::EcdsaP256)
    })
    .unwrap();
    assert_ne!(transient.ak_public, first.ak_public);
    // The handle holds an ECDSA key: asking it for RSA is refused by name.
    let error = quote(&request(AkAlgorithm::Rsa2048))
        .unwrap_err()
        .to_string();
    assert!(error.contains("0x81010002"), "{error}");
    let error = quote(&QuoteRequest {
        persistent_ak: Some(0x8000_0001),
        ..request(AkAlgorithm::EcdsaP256)
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("not a persistent handle"), "{error}");
}
