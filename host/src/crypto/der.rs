//! The DER and PEM encodings of keys.
//!
//! Encoding uses fixed templates, as ring does: every supported key has one
//! DER encoding of constant shape, so writing it out cannot fail, and the
//! exact bytes that key ids hash are visible here. The tests check the
//! templates against the RustCrypto encoders. Decoding goes through the
//! RustCrypto parsers, which reject anything that is not strict DER.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::spki::SubjectPublicKeyInfoRef;
use ed25519_dalek::pkcs8::spki::der::pem;
use ed25519_dalek::pkcs8::{ObjectIdentifier, PrivateKeyInfo};

use super::{KeyError, SignatureAlgorithm, Zeroizing};

/// RFC 8410 `id-Ed25519`.
pub(super) const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// RFC 9881 / NIST CSOR `id-ml-dsa-65`.
pub(super) const ML_DSA_65_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.18");

/// PEM label of a PKCS#8 private key (RFC 7468 section 10).
pub(super) const PRIVATE_KEY_LABEL: &str = "PRIVATE KEY";
/// PEM label of a SubjectPublicKeyInfo (RFC 7468 section 13).
pub(super) const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";

/// SPKI of an Ed25519 key, followed by the 32-byte public key (RFC 8410).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// PKCS#8 v1 of an Ed25519 key, followed by the 32-byte seed (RFC 8410).
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// SPKI of an ML-DSA-65 key, followed by the 1952-byte public key (RFC 9881).
const ML_DSA_65_SPKI_PREFIX: [u8; 22] = [
    0x30, 0x82, 0x07, 0xb2, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03,
    0x12, 0x03, 0x82, 0x07, 0xa1, 0x00,
];
/// PKCS#8 v1 of an ML-DSA-65 key in RFC 9881's seed-only form
/// (`seed [0] IMPLICIT OCTET STRING`), followed by the 32-byte seed.
const ML_DSA_65_PKCS8_PREFIX: [u8; 22] = [
    0x30, 0x34, 0x02, 0x01, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
    0x03, 0x12, 0x04, 0x22, 0x80, 0x20,
];

/// The DER SubjectPublicKeyInfo of a public key given as raw key bytes.
pub(super) fn spki_der(algorithm: SignatureAlgorithm, public_key: &[u8]) -> Vec<u8> {
    let prefix: &[u8] = match algorithm {
        SignatureAlgorithm::Ed25519 => &ED25519_SPKI_PREFIX,
        SignatureAlgorithm::MlDsa65 => &ML_DSA_65_SPKI_PREFIX,
    };
    [prefix, public_key].concat()
}

/// The DER PKCS#8 PrivateKeyInfo of a private key given as its 32-byte seed.
pub(super) fn pkcs8_der(algorithm: SignatureAlgorithm, seed: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    let prefix: &[u8] = match algorithm {
        SignatureAlgorithm::Ed25519 => &ED25519_PKCS8_PREFIX,
        SignatureAlgorithm::MlDsa65 => &ML_DSA_65_PKCS8_PREFIX,
    };
    // Sized up front so the secret is never copied by a reallocation.
    let mut der = Zeroizing::new(Vec::with_capacity(prefix.len() + seed.len()));
    der.extend_from_slice(prefix);
    der.extend_from_slice(seed);
    der
}

/// RFC 7468 PEM: base64 in lines of 64 characters, `\n` line endings.
pub(super) fn pem_encode(label: &str, der: &[u8]) -> Zeroizing<String> {
    let body = Zeroizing::new(STANDARD.encode(der));
    let begin = format!("-----BEGIN {label}-----\n");
    let end = format!("-----END {label}-----\n");
    let lines = body.len().div_ceil(64);
    let mut pem = Zeroizing::new(String::with_capacity(
        begin.len() + body.len() + lines + end.len(),
    ));
    pem.push_str(&begin);
    // Base64 is ASCII, so every 64-byte chunk is a whole `str`.
    for line in body.as_bytes().chunks(64) {
        pem.extend(line.iter().map(|&b| char::from(b)));
        pem.push('\n');
    }
    pem.push_str(&end);
    pem
}

/// The algorithm and DER of a PEM PKCS#8 private key.
pub(super) fn decode_private_pem(
    text: &str,
) -> Result<(SignatureAlgorithm, Zeroizing<Vec<u8>>), KeyError> {
    let der = Zeroizing::new(decode_pem(text, PRIVATE_KEY_LABEL)?);
    let info = PrivateKeyInfo::try_from(der.as_slice()).map_err(|e| KeyError::MalformedDer {
        structure: "PKCS#8 PrivateKeyInfo",
        reason: e.to_string(),
    })?;
    Ok((algorithm_of(info.algorithm.oid)?, der))
}

/// The algorithm and DER of a PEM SubjectPublicKeyInfo.
pub(super) fn decode_public_pem(text: &str) -> Result<(SignatureAlgorithm, Vec<u8>), KeyError> {
    let der = decode_pem(text, PUBLIC_KEY_LABEL)?;
    let info =
        SubjectPublicKeyInfoRef::try_from(der.as_slice()).map_err(|e| KeyError::MalformedDer {
            structure: "SubjectPublicKeyInfo",
            reason: e.to_string(),
        })?;
    Ok((algorithm_of(info.algorithm.oid)?, der))
}

/// The contents of a strict RFC 7468 PEM document labelled `expected`.
fn decode_pem(text: &str, expected: &'static str) -> Result<Vec<u8>, KeyError> {
    let (label, der) = pem::decode_vec(text.as_bytes()).map_err(|e| KeyError::NotPem {
        reason: e.to_string(),
    })?;
    if label != expected {
        return Err(KeyError::WrongPemLabel {
            expected,
            found: label.to_owned(),
            hint: label_hint(label),
        });
    }
    Ok(der)
}

fn algorithm_of(oid: ObjectIdentifier) -> Result<SignatureAlgorithm, KeyError> {
    match oid {
        ED25519_OID => Ok(SignatureAlgorithm::Ed25519),
        ML_DSA_65_OID => Ok(SignatureAlgorithm::MlDsa65),
        other => Err(KeyError::UnsupportedAlgorithm {
            oid: other.to_string(),
        }),
    }
}

/// A nudge for the mistakes people make with key files.
fn label_hint(found: &str) -> &'static str {
    match found {
        PRIVATE_KEY_LABEL => " (this is a private key; give the .pub file)",
        PUBLIC_KEY_LABEL => " (this is a public key; give the .key file)",
        "ENCRYPTED PRIVATE KEY" => " (encrypted private keys are not supported)",
        _ => "",
    }
}
