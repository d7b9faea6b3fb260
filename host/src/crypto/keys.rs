//! Signing and verifying keys, and the context-bound signature scheme.

use std::fmt;

use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use ed25519_dalek::pkcs8::DecodePublicKey as _;
use ml_dsa::pkcs8::DecodePrivateKey as _;
use ml_dsa::pkcs8::spki::DecodePublicKey as _;
use ml_dsa::{Keypair as _, MlDsa65};
use rand_core::{OsRng, RngCore as _};

use super::der::{self, PRIVATE_KEY_LABEL, PUBLIC_KEY_LABEL};
use super::{
    ContextError, KeyError, KeyId, SignError, SignatureAlgorithm, SignatureError, Zeroizing,
    check_context,
};

/// A private key that signs. Holds its public half and key id, so asking for
/// them never fails. The secret is zeroized when the key is dropped.
pub struct SigningKey {
    inner: SecretKey,
    verifying_key: VerifyingKey,
}

enum SecretKey {
    Ed25519(Box<ed25519_dalek::SigningKey>),
    MlDsa65(Box<ml_dsa::SigningKey<MlDsa65>>),
}

/// A public key that verifies signatures made by the matching
/// [`SigningKey`], under the rules in the [module docs](super).
#[derive(Clone)]
pub struct VerifyingKey {
    inner: PublicKey,
    key_id: KeyId,
}

#[derive(Clone)]
enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    MlDsa65(Box<ml_dsa::VerifyingKey<MlDsa65>>),
}

impl SigningKey {
    /// A fresh key from the operating system's random number generator. An
    /// ML-DSA-65 key is derived from a random 32-byte seed (FIPS 204
    /// `ML-DSA.KeyGen_internal`).
    pub fn generate(algorithm: SignatureAlgorithm) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut seed[..]);
        Self::from_seed(algorithm, &seed)
    }

    /// The key whose 32-byte private seed is `seed` (the RFC 8032 private key
    /// for Ed25519, FIPS 204's `ξ` for ML-DSA-65).
    pub(crate) fn from_seed(algorithm: SignatureAlgorithm, seed: &[u8; 32]) -> Self {
        match algorithm {
            SignatureAlgorithm::Ed25519 => {
                Self::from_ed25519(ed25519_dalek::SigningKey::from_bytes(seed))
            }
            SignatureAlgorithm::MlDsa65 => {
                Self::from_ml_dsa(ml_dsa::SigningKey::from_seed(&(*seed).into()))
            }
        }
    }

    fn from_ed25519(key: ed25519_dalek::SigningKey) -> Self {
        let verifying_key = VerifyingKey::from_inner(PublicKey::Ed25519(key.verifying_key()));
        Self {
            inner: SecretKey::Ed25519(Box::new(key)),
            verifying_key,
        }
    }

    fn from_ml_dsa(key: ml_dsa::SigningKey<MlDsa65>) -> Self {
        let verifying_key =
            VerifyingKey::from_inner(PublicKey::MlDsa65(Box::new(key.verifying_key())));
        Self {
            inner: SecretKey::MlDsa65(Box::new(key)),
            verifying_key,
        }
    }

    /// Parses a PEM `PRIVATE KEY` (PKCS#8, unencrypted). The algorithm is
    /// taken from the key's OID; ML-DSA-65 keys must be in RFC 9881's
    /// seed-only form.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let (algorithm, key_der) = der::decode_private_pem(pem)?;
        let malformed = |reason: String| KeyError::MalformedKey { algorithm, reason };
        match algorithm {
            SignatureAlgorithm::Ed25519 => ed25519_dalek::SigningKey::from_pkcs8_der(&key_der)
                .map(Self::from_ed25519)
                .map_err(|e| malformed(e.to_string())),
            SignatureAlgorithm::MlDsa65 => ml_dsa::SigningKey::<MlDsa65>::from_pkcs8_der(&key_der)
                .map(Self::from_ml_dsa)
                .map_err(|e| {
                    malformed(format!(
                        "{e} (only the seed-only private key form is supported)"
                    ))
                }),
        }
    }

    /// The key as a PEM `PRIVATE KEY`: PKCS#8 v1 holding the 32-byte seed
    /// (RFC 8410 for Ed25519, RFC 9881 seed-only form for ML-DSA-65).
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        let der = match &self.inner {
            SecretKey::Ed25519(key) => der::pkcs8_der(SignatureAlgorithm::Ed25519, key.as_bytes()),
            SecretKey::MlDsa65(key) => {
                der::pkcs8_der(SignatureAlgorithm::MlDsa65, &key.as_seed().0)
            }
        };
        der::pem_encode(PRIVATE_KEY_LABEL, &der)
    }

    /// The public half of this key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying_key
    }

    /// The id of this key's public half.
    pub fn key_id(&self) -> &KeyId {
        self.verifying_key.key_id()
    }

    /// This key's algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.verifying_key.algorithm()
    }

    /// Signs `message` under `context` as the module docs describe. Ed25519
    /// signatures are 64 bytes, ML-DSA-65 signatures 3309 bytes. Both are
    /// deterministic: the same key, context and message give the same bytes.
    pub fn sign(&self, context: &str, message: &[u8]) -> Result<Vec<u8>, SignError> {
        check_context(context)?;
        match &self.inner {
            SecretKey::Ed25519(key) => {
                let framed = ed25519_framed(context, message);
                Ok(ed25519_dalek::Signer::sign(key.as_ref(), &framed)
                    .to_bytes()
                    .to_vec())
            }
            SecretKey::MlDsa65(key) => {
                // `expanded_key` is the only way into ML-DSA signing with a
                // context in ml-dsa 0.1 (its `Signer` impl fixes ctx = "").
                let signature = key
                    .expanded_key()
                    .sign_deterministic(message, context.as_bytes())
                    .map_err(|_| SignError::Failed {
                        algorithm: SignatureAlgorithm::MlDsa65,
                    })?;
                Ok(signature.encode().to_vec())
            }
        }
    }
}

impl SigningKey {
    /// Signs the text of a C2SP signed note (<https://c2sp.org/signed-note>),
    /// which defines its own signing input: plain RFC 8032 Ed25519 over
    /// `text`, or pure ML-DSA-65 (deterministic) over `text` with an empty
    /// FIPS 204 context. This cannot collide with a context-bound signature:
    /// a note text holds no NUL byte (refused here), while every
    /// context-bound Ed25519 input has one after its context, and ML-DSA's
    /// contexts differ.
    pub fn sign_note(&self, text: &[u8]) -> Result<Vec<u8>, SignError> {
        check_note_text(text)?;
        match &self.inner {
            SecretKey::Ed25519(key) => Ok(ed25519_dalek::Signer::sign(key.as_ref(), text)
                .to_bytes()
                .to_vec()),
            SecretKey::MlDsa65(key) => key
                .expanded_key()
                .sign_deterministic(text, b"")
                .map(|signature| signature.encode().to_vec())
                .map_err(|_| SignError::Failed {
                    algorithm: SignatureAlgorithm::MlDsa65,
                }),
        }
    }
}

/// A signed note's text holds no NUL byte (C2SP forbids every control
/// character but newline); that is what keeps [`SigningKey::sign_note`]
/// apart from context-bound signatures.
fn check_note_text(text: &[u8]) -> Result<(), ContextError> {
    match text.iter().position(|&b| b == 0) {
        Some(offset) => Err(ContextError::ContainsNul { offset }),
        None => Ok(()),
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", self.key_id())
            .finish_non_exhaustive()
    }
}

/// Length of a raw ML-DSA-65 public key (FIPS 204, table 2).
const ML_DSA_65_PUBLIC_KEY_LEN: usize = 1952;

/// The Ed25519 signing input: `context || 0x00 || message`.
fn ed25519_framed(context: &str, message: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(context.len() + 1 + message.len());
    framed.extend_from_slice(context.as_bytes());
    framed.push(0);
    framed.extend_from_slice(message);
    framed
}

impl VerifyingKey {
    fn from_inner(inner: PublicKey) -> Self {
        let (algorithm, raw) = match &inner {
            PublicKey::Ed25519(key) => (SignatureAlgorithm::Ed25519, key.as_bytes().to_vec()),
            PublicKey::MlDsa65(key) => (SignatureAlgorithm::MlDsa65, key.encode().to_vec()),
        };
        let key_id = KeyId::derive(algorithm, &der::spki_der(algorithm, &raw));
        Self { inner, key_id }
    }

    /// The key whose raw public key bytes are `raw`: 32 bytes for Ed25519
    /// (RFC 8032), 1952 bytes for ML-DSA-65 (FIPS 204 `pkEncode`).
    pub fn from_raw(algorithm: SignatureAlgorithm, raw: &[u8]) -> Result<Self, KeyError> {
        let malformed = |reason: String| KeyError::MalformedKey { algorithm, reason };
        let inner = match algorithm {
            SignatureAlgorithm::Ed25519 => {
                let bytes: &[u8; 32] = raw.try_into().map_err(|_| {
                    malformed(format!("a raw key is 32 bytes, this one {}", raw.len()))
                })?;
                ed25519_dalek::VerifyingKey::from_bytes(bytes)
                    .map(PublicKey::Ed25519)
                    .map_err(|e| malformed(e.to_string()))?
            }
            SignatureAlgorithm::MlDsa65 => {
                let encoded =
                    ml_dsa::EncodedVerifyingKey::<MlDsa65>::try_from(raw).map_err(|_| {
                        malformed(format!(
                            "a raw key is {ML_DSA_65_PUBLIC_KEY_LEN} bytes, this one {}",
                            raw.len()
                        ))
                    })?;
                PublicKey::MlDsa65(Box::new(ml_dsa::VerifyingKey::<MlDsa65>::decode(&encoded)))
            }
        };
        Ok(Self::from_inner(inner))
    }

    /// The raw public key bytes, as [`VerifyingKey::from_raw`] takes them.
    pub fn raw(&self) -> Vec<u8> {
        match &self.inner {
            PublicKey::Ed25519(key) => key.as_bytes().to_vec(),
            PublicKey::MlDsa65(key) => key.encode().to_vec(),
        }
    }

    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo). The algorithm is
    /// taken from the key's OID.
    pub fn from_public_key_pem(pem: &str) -> Result<Self, KeyError> {
        let (algorithm, key_der) = der::decode_public_pem(pem)?;
        let malformed = |reason: String| KeyError::MalformedKey { algorithm, reason };
        let inner = match algorithm {
            SignatureAlgorithm::Ed25519 => {
                ed25519_dalek::VerifyingKey::from_public_key_der(&key_der)
                    .map(PublicKey::Ed25519)
                    .map_err(|e| malformed(e.to_string()))?
            }
            SignatureAlgorithm::MlDsa65 => {
                ml_dsa::VerifyingKey::<MlDsa65>::from_public_key_der(&key_der)
                    .map(|key| PublicKey::MlDsa65(Box::new(key)))
                    .map_err(|e| malformed(e.to_string()))?
            }
        };
        Ok(Self::from_inner(inner))
    }

    /// The key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo, RFC 8410 for
    /// Ed25519, RFC 9881 for ML-DSA-65). Its DER is what [`KeyId`] hashes.
    pub fn to_public_key_pem(&self) -> String {
        der::pem_encode(PUBLIC_KEY_LABEL, &self.spki_der()).to_string()
    }

    /// The DER SubjectPublicKeyInfo of this key.
    pub fn spki_der(&self) -> Vec<u8> {
        match &self.inner {
            PublicKey::Ed25519(key) => der::spki_der(SignatureAlgorithm::Ed25519, key.as_bytes()),
            PublicKey::MlDsa65(key) => der::spki_der(SignatureAlgorithm::MlDsa65, &key.encode()),
        }
    }

    /// This key's id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// This key's algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match self.inner {
            PublicKey::Ed25519(_) => SignatureAlgorithm::Ed25519,
            PublicKey::MlDsa65(_) => SignatureAlgorithm::MlDsa65,
        }
    }

    /// Succeeds only if `signature` is a valid signature by this key on
    /// `message` under `context`, as the module docs describe.
    pub fn verify(
        &self,
        context: &str,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        check_context(context)?;
        let ed25519_input = match self.inner {
            PublicKey::Ed25519(_) => ed25519_framed(context, message),
            PublicKey::MlDsa65(_) => Vec::new(),
        };
        self.verify_signature(&ed25519_input, message, context.as_bytes(), signature)
    }

    /// Succeeds only if `signature` is this key's C2SP signed-note signature
    /// on `text`, made as [`SigningKey::sign_note`] describes (Ed25519 is
    /// verified strictly).
    pub fn verify_note(&self, text: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        check_note_text(text)?;
        self.verify_signature(text, text, b"", signature)
    }

    /// Verifies `signature` over `ed25519_input` (strictly) for an Ed25519
    /// key, or over `message` with FIPS 204 context `ml_dsa_context` for an
    /// ML-DSA-65 key.
    fn verify_signature(
        &self,
        ed25519_input: &[u8],
        message: &[u8],
        ml_dsa_context: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let valid = match &self.inner {
            PublicKey::Ed25519(key) => {
                let signature = ed25519_dalek::Signature::from_slice(signature).map_err(|_| {
                    self.wrong_length(ed25519_dalek::SIGNATURE_LENGTH, signature.len())
                })?;
                key.verify_strict(ed25519_input, &signature).is_ok()
            }
            PublicKey::MlDsa65(key) => {
                let signature = ml_dsa::Signature::<MlDsa65>::try_from(signature)
                    .map_err(|_| self.wrong_length(ML_DSA_65_SIGNATURE_LEN, signature.len()))?;
                key.verify_with_context(message, ml_dsa_context, &signature)
            }
        };
        if valid {
            Ok(())
        } else {
            Err(SignatureError::Invalid {
                algorithm: self.algorithm(),
                key_id: self.key_id.clone(),
            })
        }
    }

    fn wrong_length(&self, expected: usize, found: usize) -> SignatureError {
        // ML-DSA also rejects right-length bytes whose hint encoding is
        // malformed; those can never verify, so they are reported as invalid.
        if expected == found {
            SignatureError::Invalid {
                algorithm: self.algorithm(),
                key_id: self.key_id.clone(),
            }
        } else {
            SignatureError::WrongLength {
                algorithm: self.algorithm(),
                expected,
                found,
            }
        }
    }
}

/// FIPS 204 Table 2: the size of an ML-DSA-65 signature.
const ML_DSA_65_SIGNATURE_LEN: usize = 3309;

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki_der() == other.spki_der()
    }
}

impl Eq for VerifyingKey {}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::ContextError;
    use ed25519_dalek::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};

    const CONTEXT: &str = "verdict/test/v1";

    fn keys() -> [SigningKey; 2] {
        SignatureAlgorithm::ALL.map(SigningKey::generate)
    }

    #[test]
    fn sign_verify_round_trip() {
        for key in keys() {
            let signature = key.sign(CONTEXT, b"hello").unwrap();
            let expected_len = match key.algorithm() {
                SignatureAlgorithm::Ed25519 => 64,
                SignatureAlgorithm::MlDsa65 => ML_DSA_65_SIGNATURE_LEN,
            };
            assert_eq!(signature.len(), expected_len);
            key.verifying_key()
                .verify(CONTEXT, b"hello", &signature)
                .unwrap();
            assert_eq!(
                key.sign(CONTEXT, b"hello").unwrap(),
                signature,
                "signing is deterministic"
            );
        }
    }

    #[test]
    fn wrong_context_or_message_fails() {
        for key in keys() {
            let vk = key.verifying_key();
            let signature = key.sign(CONTEXT, b"hello").unwrap();
            assert!(matches!(
                vk.verify("verdict/other/v1", b"hello", &signature),
                Err(SignatureError::Invalid { .. })
            ));
            assert!(matches!(
                vk.verify(CONTEXT, b"hellO", &signature),
                Err(SignatureError::Invalid { .. })
            ));
            assert!(matches!(
                vk.verify("", b"hello", &signature),
                Err(SignatureError::Invalid { .. })
            ));
        }
    }

    #[test]
    fn ed25519_framing_separates_context_from_message() {
        let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
        let signature = key.sign("ab", b"c").unwrap();
        assert!(key.verifying_key().verify("a", b"bc", &signature).is_err());
        // The framing is exactly context || 0x00 || message under plain Ed25519.
        let SecretKey::Ed25519(inner) = &key.inner else {
            unreachable!()
        };
        let plain = ed25519_dalek::Signer::sign(inner.as_ref(), b"ab\0c").to_bytes();
        assert_eq!(signature, plain);
    }

    #[test]
    fn invalid_contexts_are_refused() {
        for key in keys() {
            assert!(matches!(
                key.sign("a\0b", b"m"),
                Err(SignError::Context(ContextError::ContainsNul { offset: 1 }))
            ));
            let long = "x".repeat(256);
            assert!(matches!(
                key.sign(&long, b"m"),
                Err(SignError::Context(ContextError::TooLong { len: 256 }))
            ));
            assert!(matches!(
                key.verifying_key().verify(&long, b"m", &[0; 64]),
                Err(SignatureError::Context(ContextError::TooLong { len: 256 }))
            ));
        }
    }

    #[test]
    fn flipped_signature_bits_fail() {
        for key in keys() {
            let signature = key.sign(CONTEXT, b"hello").unwrap();
            for position in [0, signature.len() / 2, signature.len() - 1] {
                let mut bad = signature.clone();
                bad[position] ^= 0x01;
                let result = key.verifying_key().verify(CONTEXT, b"hello", &bad);
                assert!(
                    matches!(result, Err(SignatureError::Invalid { .. })),
                    "{result:?} at {position}"
                );
            }
            let truncated = &signature[..signature.len() - 1];
            assert!(matches!(
                key.verifying_key().verify(CONTEXT, b"hello", truncated),
                Err(SignatureError::WrongLength { found, .. }) if found == signature.len() - 1
            ));
        }
    }

    #[test]
    fn wrong_key_fails() {
        for alg in SignatureAlgorithm::ALL {
            let (signer, other) = (SigningKey::generate(alg), SigningKey::generate(alg));
            assert_ne!(signer.key_id(), other.key_id());
            let signature = signer.sign(CONTEXT, b"hello").unwrap();
            let result = other.verifying_key().verify(CONTEXT, b"hello", &signature);
            assert!(
                matches!(&result, Err(SignatureError::Invalid { key_id, .. }) if key_id == other.key_id())
            );
        }
        let [ed, ml] = keys();
        let signature = ed.sign(CONTEXT, b"hello").unwrap();
        assert!(
            ml.verifying_key()
                .verify(CONTEXT, b"hello", &signature)
                .is_err()
        );
    }

    #[test]
    fn pem_round_trip_preserves_key_and_id() {
        for key in keys() {
            let private = SigningKey::from_pkcs8_pem(&key.to_pkcs8_pem()).unwrap();
            assert_eq!(private.key_id(), key.key_id());
            let public =
                VerifyingKey::from_public_key_pem(&key.verifying_key().to_public_key_pem())
                    .unwrap();
            assert_eq!(public.key_id(), key.key_id());
            assert_eq!(&public, key.verifying_key());
            let signature = private.sign(CONTEXT, b"m").unwrap();
            public.verify(CONTEXT, b"m", &signature).unwrap();
            let prefix = format!("{}-", key.algorithm());
            assert!(key.key_id().as_str().starts_with(&prefix));
        }
    }

    #[test]
    fn templates_match_the_rustcrypto_encoders() {
        let ed = ed25519_dalek::SigningKey::generate(&mut OsRng);
        let ours = SigningKey::from_ed25519(ed.clone());
        assert_eq!(
            ours.verifying_key().spki_der(),
            ed.verifying_key().to_public_key_der().unwrap().as_bytes()
        );
        // RFC 8410 v1: the seed alone, without the optional public key.
        let v1 = ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: ed.to_bytes(),
            public_key: None,
        };
        let pem = v1
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        assert_eq!(ours.to_pkcs8_pem().as_str(), pem.as_str());
        // The v2 form with the public key, as other tools write it, is read too.
        let v2 = ed
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        assert_eq!(
            SigningKey::from_pkcs8_pem(&v2).unwrap().key_id(),
            ours.key_id()
        );

        use ml_dsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
        let ml = ml_dsa::SigningKey::<MlDsa65>::from_seed(&[7u8; 32].into());
        let ours = SigningKey::from_ml_dsa(ml.clone());
        assert_eq!(
            ours.verifying_key().spki_der(),
            ml.verifying_key().to_public_key_der().unwrap().as_bytes()
        );
        let SecretKey::MlDsa65(_) = &ours.inner else {
            unreachable!()
        };
        let library = ml.to_pkcs8_der().unwrap();
        let decoded =
            SigningKey::from_pkcs8_pem(&der::pem_encode(PRIVATE_KEY_LABEL, library.as_bytes()))
                .unwrap();
        assert_eq!(decoded.key_id(), ours.key_id());
        assert_eq!(
            der::pkcs8_der(SignatureAlgorithm::MlDsa65, &[7u8; 32]).as_slice(),
            library.as_bytes()
        );
    }

    #[test]
    fn key_id_is_sha256_of_spki() {
        use sha2::Digest as _;
        for key in keys() {
            let digest = sha2::Sha256::digest(key.verifying_key().spki_der());
            let expected = format!("{}-{}", key.algorithm(), hex::encode(&digest[..8]));
            assert_eq!(key.key_id().as_str(), expected);
        }
    }

    #[test]
    fn garbage_pem_gives_clear_errors() {
        let err = SigningKey::from_pkcs8_pem("hello").unwrap_err();
        assert!(matches!(err, KeyError::NotPem { .. }), "{err}");
        assert!(err.to_string().starts_with("not a PEM document"), "{err}");

        let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
        let err = SigningKey::from_pkcs8_pem(&key.verifying_key().to_public_key_pem()).unwrap_err();
        assert!(
            matches!(
                err,
                KeyError::WrongPemLabel {
                    expected: "PRIVATE KEY",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("give the .key file"), "{err}");
        let err = VerifyingKey::from_public_key_pem(&key.to_pkcs8_pem()).unwrap_err();
        assert!(
            matches!(
                err,
                KeyError::WrongPemLabel {
                    expected: "PUBLIC KEY",
                    ..
                }
            ),
            "{err}"
        );

        let not_der = der::pem_encode(PRIVATE_KEY_LABEL, b"definitely not DER");
        let err = SigningKey::from_pkcs8_pem(&not_der).unwrap_err();
        assert!(
            matches!(
                err,
                KeyError::MalformedDer {
                    structure: "PKCS#8 PrivateKeyInfo",
                    ..
                }
            ),
            "{err}"
        );

        // An ML-DSA-44 public key: well-formed SPKI, unsupported OID.
        let mut spki = key.verifying_key().spki_der();
        let ml_dsa_44 = [
            0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x11,
        ];
        spki.splice(2..9, ml_dsa_44);
        spki[1] = 0x30;
        let err = VerifyingKey::from_public_key_pem(&der::pem_encode(PUBLIC_KEY_LABEL, &spki))
            .unwrap_err();
        assert!(
            matches!(&err, KeyError::UnsupportedAlgorithm { oid } if oid == "2.16.840.1.101.3.4.3.17"),
            "{err}"
        );

        // The right OID around a key of the wrong size.
        let mut short = key.verifying_key().spki_der();
        short.pop();
        short[1] -= 1;
        short[10] -= 1;
        let err = VerifyingKey::from_public_key_pem(&der::pem_encode(PUBLIC_KEY_LABEL, &short))
            .unwrap_err();
        assert!(
            matches!(
                err,
                KeyError::MalformedKey {
                    algorithm: SignatureAlgorithm::Ed25519,
                    ..
                }
            ),
            "{err}"
        );
    }
}
