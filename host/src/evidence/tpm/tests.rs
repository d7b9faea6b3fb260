//! Unit tests on synthetic quotes signed by a fixed P-256 key.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use p256::pkcs8::{EncodePublicKey as _, LineEnding};
use sha2::{Digest as _, Sha256};

use super::*;

const NONCE: &[u8] = b"0123456789abcdef0123456789abcdef";

const RSA_1024_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCeHBv5fhAWSASSHNGQ8lcRDiYl
aztuB3B4XJGL474GLTYBvvyV3eHCjmxytdYxBHIaEA41e2yDTYtLlRrKevak+WAV
h1E/G7hB8jqAvATwwe6YUsxqsq9Tg+zt4SneTUOmAghUj0vcnbRaepqRPjmBir7j
72KP9carRKo0FfelzwIDAQAB
-----END PUBLIC KEY-----
";

const P384_PEM: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAExxzTG9LMwiewT5LqGtJi4BME96Eynyqk
I87kIaaRWv6QrEat261bDI2DqRNAcRsn+ce054144rAMfZcgJhwy98nEvycaI7jM
GzSKmXIMP341Rr/3P6MdpMWkYztt3qGT
-----END PUBLIC KEY-----
";

/// A bank and its (index, value) pairs, indices ascending.
type Bank = (HashAlg, Vec<(u8, Vec<u8>)>);

/// A synthetic quote's ingredients.
struct Fixture {
    key: SigningKey,
    /// (bank, [(index, value)]) in selection order.
    banks: Vec<Bank>,
    nonce: Vec<u8>,
}

impl Fixture {
    fn new() -> Self {
        let value = |b: u8, len: usize| vec![b; len];
        Self {
            key: SigningKey::from_slice(&[7u8; 32]).unwrap(),
            banks: vec![
                (HashAlg::Sha1, vec![(0, value(0x11, 20))]),
                (
                    HashAlg::Sha256,
                    vec![
                        (0, value(0xa0, 32)),
                        (2, value(0xa2, 32)),
                        (10, value(0xaa, 32)),
                    ],
                ),
            ],
            nonce: NONCE.to_vec(),
        }
    }

    fn quote_bytes(&self) -> Vec<u8> {
        let mut q = Vec::new();
        q.extend_from_slice(&TPM_GENERATED_VALUE.to_be_bytes());
        q.extend_from_slice(&TPM_ST_ATTEST_QUOTE.to_be_bytes());
        push_tpm2b(&mut q, &[0x00, 0x0b, 0x55, 0x66]);
        push_tpm2b(&mut q, &self.nonce);
        q.extend_from_slice(&1234u64.to_be_bytes());
        q.extend_from_slice(&5u32.to_be_bytes());
        q.extend_from_slice(&6u32.to_be_bytes());
        q.push(1);
        q.extend_from_slice(&0x0102_0304_0506_0708u64.to_be_bytes());
        self.push_selection(&mut q);
        push_tpm2b(&mut q, &Sha256::digest(self.concatenated()));
        q
    }

    fn push_selection(&self, q: &mut Vec<u8>) {
        q.extend_from_slice(&(self.banks.len() as u32).to_be_bytes());
        for (bank, values) in &self.banks {
            q.extend_from_slice(&bank.tpm_id().to_be_bytes());
            let mut bitmap = [0u8; 3];
            for (i, _) in values {
                bitmap[usize::from(i / 8)] |= 1 << (i % 8);
            }
            q.push(3);
            q.extend_from_slice(&bitmap);
        }
    }

    fn concatenated(&self) -> Vec<u8> {
        self.banks
            .iter()
            .flat_map(|(_, v)| v.iter().flat_map(|(_, d)| d.clone()))
            .collect()
    }

    fn signature_bytes(&self, quote: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = self.key.sign_prehash(&Sha256::digest(quote)).unwrap();
        let (r, s) = sig.split_bytes();
        let mut out = Vec::new();
        out.extend_from_slice(&TPM_ALG_ECDSA.to_be_bytes());
        out.extend_from_slice(&HashAlg::Sha256.tpm_id().to_be_bytes());
        push_tpm2b(&mut out, &r);
        push_tpm2b(&mut out, &s);
        out
    }

    fn pcrs(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        self.banks
            .iter()
            .map(|(bank, values)| {
                let values = values.iter().map(|(i, d)| (i.to_string(), hex::encode(d)));
                (bank.name().to_owned(), values.collect())
            })
            .collect()
    }

    fn entry(&self) -> TpmEntry {
        let quote = self.quote_bytes();
        entry_from(self, &quote, &self.signature_bytes(&quote))
    }
}

fn entry_from(f: &Fixture, quote: &[u8], sig: &[u8]) -> TpmEntry {
    TpmEntry {
        ak_public: f
            .key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
        quote: STANDARD.encode(quote),
        signature: STANDARD.encode(sig),
        pcrs: f.pcrs(),
    }
}

/// An entry whose quote is `quote`, correctly signed.
fn signed_entry(quote: &[u8]) -> TpmEntry {
    let f = Fixture::new();
    entry_from(&f, quote, &f.signature_bytes(quote))
}

fn push_tpm2b(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

#[test]
fn valid_quote_verifies_with_claims() {
    let claims = verify(&Fixture::new().entry(), Some(NONCE)).unwrap();
    assert_eq!(claims.ak_algorithm, "ecdsa-p256");
    assert_eq!(claims.signature_algorithm, "ecdsa-sha256");
    assert_eq!(claims.nonce, hex::encode(NONCE));
    assert_eq!(claims.qualified_signer, "000b5566");
    assert_eq!(claims.firmware_version_hex, "0102030405060708");
    assert!(claims.ak_fingerprint.starts_with("sha256:"));
    assert_eq!(claims.ak_fingerprint.len(), 7 + 64);
    let json = serde_json::to_string(&claims).unwrap();
    assert!(json.contains(r#""sha256":{"0":"#), "{json}");
    let order: Vec<_> = ["\"0\":", "\"2\":", "\"10\":"]
        .map(|k| json.rfind(k).unwrap())
        .into();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "numeric key order: {json}"
    );
    assert!(
        json.contains(r#""clock":{"clock":1234,"reset_count":5,"restart_count":6,"safe":true}"#)
    );
}

#[test]
fn no_expected_nonce_only_reports_it() {
    let claims = verify(&Fixture::new().entry(), None).unwrap();
    assert_eq!(claims.nonce, hex::encode(NONCE));
}

#[test]
fn wrong_nonce_is_rejected() {
    let err = verify(&Fixture::new().entry(), Some(b"other")).unwrap_err();
    assert!(matches!(err, TpmError::NonceMismatch { .. }), "{err}");
}

#[test]
fn truncated_quote_at_every_offset_errors() {
    let quote = Fixture::new().quote_bytes();
    for len in 0..quote.len() {
        let err = verify(&signed_entry(&quote[..len]), None).unwrap_err();
        assert!(
            matches!(err, TpmError::QuoteTruncated { .. }),
            "len {len}: {err}"
        );
    }
}

#[test]
fn truncated_signature_at_every_offset_errors() {
    let mut entry = Fixture::new().entry();
    let sig = STANDARD.decode(&entry.signature).unwrap();
    for len in 0..sig.len() {
        entry.signature = STANDARD.encode(&sig[..len]);
        let err = verify(&entry, None).unwrap_err();
        assert!(
            matches!(err, TpmError::SignatureTruncated { .. }),
            "len {len}: {err}"
        );
    }
}

#[test]
fn trailing_byte_in_quote_is_rejected() {
    let mut quote = Fixture::new().quote_bytes();
    quote.push(0);
    let err = verify(&signed_entry(&quote), None).unwrap_err();
    assert!(
        matches!(
            err,
            TpmError::TrailingBytes {
                blob: "quote",
                extra: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn trailing_byte_in_signature_is_rejected() {
    let f = Fixture::new();
    let quote = f.quote_bytes();
    let mut sig = f.signature_bytes(&quote);
    sig.push(0);
    let err = verify(&entry_from(&f, &quote, &sig), None).unwrap_err();
    assert!(
        matches!(
            err,
            TpmError::TrailingBytes {
                blob: "signature",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn wrong_magic_is_rejected() {
    let mut quote = Fixture::new().quote_bytes();
    quote[0] = 0x00;
    let err = verify(&signed_entry(&quote), None).unwrap_err();
    assert_eq!(err, TpmError::BadMagic(0x0054_4347));
}

#[test]
fn wrong_type_is_rejected() {
    let mut quote = Fixture::new().quote_bytes();
    quote[5] = 0x17; // TPM_ST_ATTEST_CERTIFY
    let err = verify(&signed_entry(&quote), None).unwrap_err();
    assert_eq!(err, TpmError::WrongType(0x8017));
}

#[test]
fn flipped_quote_byte_fails_signature() {
    let f = Fixture::new();
    let quote = f.quote_bytes();
    let sig = f.signature_bytes(&quote);
    let mut tampered = quote.clone();
    tampered[20] ^= 1; // inside extraData
    let err = verify(&entry_from(&f, &tampered, &sig), None).unwrap_err();
    assert_eq!(err, TpmError::SignatureInvalid);
}

#[test]
fn random_mutations_never_panic() {
    let quote = Fixture::new().quote_bytes();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..3000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut q = quote.clone();
        let at = (state % q.len() as u64) as usize;
        q[at] = (state >> 32) as u8;
        let _ = verify(&signed_entry(&q), None);
    }
}

#[test]
fn malformed_base64_is_rejected() {
    let mut entry = Fixture::new().entry();
    entry.quote.insert(3, '!');
    let err = verify(&entry, None).unwrap_err();
    assert!(
        matches!(err, TpmError::Base64 { field: "quote", .. }),
        "{err}"
    );
    let mut entry = Fixture::new().entry();
    entry.signature = "abc".into();
    let err = verify(&entry, None).unwrap_err();
    assert!(
        matches!(
            err,
            TpmError::Base64 {
                field: "signature",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn oversize_quote_is_rejected() {
    let quote = vec![0u8; MAX_QUOTE_LEN + 1];
    let err = verify(&signed_entry(&quote), None).unwrap_err();
    assert!(
        matches!(err, TpmError::TooLarge { field: "quote", .. }),
        "{err}"
    );
    let mut entry = Fixture::new().entry();
    entry.signature = "A".repeat(1 << 20);
    let err = verify(&entry, None).unwrap_err();
    assert!(
        matches!(
            err,
            TpmError::TooLarge {
                field: "signature",
                ..
            }
        ),
        "{err}"
    );
}

fn with_pcr(bank: &str, index: &str, value: &str) -> TpmError {
    let mut entry = Fixture::new().entry();
    entry
        .pcrs
        .entry(bank.into())
        .or_default()
        .insert(index.into(), value.into());
    verify(&entry, None).unwrap_err()
}

#[test]
fn bad_pcr_values_are_rejected() {
    let upper = "A0".repeat(32);
    for bad in [
        upper.as_str(),
        "a0",
        "zz",
        &"a0".repeat(33),
        &"0".repeat(63),
    ] {
        let err = with_pcr("sha256", "0", bad);
        assert!(
            matches!(
                err,
                TpmError::BadPcrValue {
                    bank: "sha256",
                    index: 0,
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn bad_pcr_indices_and_banks_are_rejected() {
    let v = "a0".repeat(32);
    for bad in ["07", "24", "x", "", "-1", "+1", "256"] {
        let err = with_pcr("sha256", bad, &v);
        assert!(matches!(err, TpmError::BadPcrIndex { .. }), "{bad}: {err}");
    }
    let err = with_pcr("sm3", "0", &v);
    assert!(matches!(err, TpmError::UnknownPcrBank { .. }), "{err}");
    let mut entry = Fixture::new().entry();
    entry.pcrs.insert("sha384".into(), BTreeMap::new());
    assert!(matches!(
        verify(&entry, None),
        Err(TpmError::EmptyPcrBank { .. })
    ));
}

#[test]
fn tampered_pcr_value_is_rejected() {
    let err = with_pcr("sha256", "2", &"b2".repeat(32));
    assert!(matches!(err, TpmError::PcrDigestMismatch { .. }), "{err}");
}

#[test]
fn extra_or_missing_pcr_is_rejected() {
    let err = with_pcr("sha256", "3", &"a3".repeat(32));
    assert!(
        matches!(err, TpmError::PcrSelectionMismatch { .. }),
        "{err}"
    );
    let mut entry = Fixture::new().entry();
    entry.pcrs.remove("sha1");
    let err = verify(&entry, None).unwrap_err();
    assert!(
        matches!(err, TpmError::PcrSelectionMismatch { .. }),
        "{err}"
    );
}

#[test]
fn bad_aks_are_rejected() {
    let cases = [
        ("garbage", "not a PEM"),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "label",
        ),
        (P384_PEM, "P-256"),
    ];
    for (pem, want) in cases {
        let mut entry = Fixture::new().entry();
        entry.ak_public = pem.into();
        let err = verify(&entry, None).unwrap_err();
        assert!(
            matches!(&err, TpmError::AkKey(m) if m.contains(want)),
            "{err}"
        );
    }
    let mut entry = Fixture::new().entry();
    entry.ak_public = RSA_1024_PEM.into();
    assert_eq!(
        verify(&entry, None),
        Err(TpmError::AkTooSmall { bits: 1024 })
    );
}

#[test]
fn rsa_signature_with_ec_key_is_rejected() {
    let f = Fixture::new();
    let quote = f.quote_bytes();
    let mut sig = TPM_ALG_RSASSA.to_be_bytes().to_vec();
    sig.extend_from_slice(&HashAlg::Sha256.tpm_id().to_be_bytes());
    push_tpm2b(&mut sig, &[1u8; 256]);
    let err = verify(&entry_from(&f, &quote, &sig), None).unwrap_err();
    assert!(
        matches!(err, TpmError::SignatureKeyMismatch { .. }),
        "{err}"
    );
}

#[test]
fn unsupported_signature_scheme_and_hash() {
    let f = Fixture::new();
    let quote = f.quote_bytes();
    let mut sig = f.signature_bytes(&quote);
    sig[1] = 0x16; // RSAPSS
    let err = verify(&entry_from(&f, &quote, &sig), None).unwrap_err();
    assert_eq!(err, TpmError::UnsupportedSignatureAlgorithm(0x0016));
    let mut sig = f.signature_bytes(&quote);
    sig[3] = 0x04; // SHA-1
    let err = verify(&entry_from(&f, &quote, &sig), None).unwrap_err();
    assert_eq!(err, TpmError::UnsupportedHash(0x0004));
}

#[test]
fn entry_refuses_unknown_fields() {
    let mut json = serde_json::to_value(Fixture::new().entry()).unwrap();
    json["extra"] = serde_json::json!(1);
    assert!(serde_json::from_value::<TpmEntry>(json).is_err());
}

#[test]
fn pcr_selection_spec_parses_and_prints() {
    let spec: PcrSelectionSpec = "sha1:0,1+sha256:7,0".parse().unwrap();
    assert_eq!(spec.to_string(), "sha1:0,1+sha256:0,7");
    assert_eq!(
        PcrSelectionSpec::default().to_string(),
        DEFAULT_PCR_SELECTION
    );
    assert_eq!(
        DEFAULT_PCR_SELECTION.parse(),
        Ok(PcrSelectionSpec::default())
    );
}

#[test]
fn pcr_selection_spec_errors_are_precise() {
    let err = |s: &str| s.parse::<PcrSelectionSpec>().unwrap_err();
    assert_eq!(err(""), PcrSpecError::Empty);
    assert_eq!(err("sha256:0+"), PcrSpecError::Empty);
    assert!(matches!(err("0,1"), PcrSpecError::MissingBank { .. }));
    assert!(matches!(err("md5:0"), PcrSpecError::UnknownBank { .. }));
    assert!(matches!(err("sha256:"), PcrSpecError::NoIndices { .. }));
    assert!(matches!(err("sha256:24"), PcrSpecError::BadIndex { .. }));
    assert!(matches!(err("sha256:1,,2"), PcrSpecError::BadIndex { .. }));
    assert!(matches!(
        err("sha256:1,1"),
        PcrSpecError::DuplicateIndex { index: 1, .. }
    ));
    assert!(matches!(
        err("sha256:1+sha256:2"),
        PcrSpecError::DuplicateBank { .. }
    ));
}

#[test]
fn ak_algorithm_parses() {
    assert_eq!("ecdsa-p256".parse(), Ok(AkAlgorithm::EcdsaP256));
    assert_eq!("rsa-2048".parse(), Ok(AkAlgorithm::Rsa2048));
    assert!("rsa-1024".parse::<AkAlgorithm>().is_err());
}
