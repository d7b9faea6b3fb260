//! Mutual attestation's key schedule: the runner's per-execution ephemeral
//! key and its thumbprint, the nonce its evidence binds, the session binding
//! hash, and the nonce the control plane's own evidence binds
//! (docs/attestation.md gives every byte, with test vectors).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hkdf::Hkdf;
use sha2::{Digest as _, Sha256};

use super::EvidenceNonce;
use crate::crypto::{SignatureAlgorithm, SigningKey, VerifyingKey};
use crate::digest::Digest;
use crate::ids::{OperatorId, TenantId};

/// The HKDF salt of the ephemeral key.
pub const EPHEMERAL_KEY_SALT: &[u8] = b"verdict/ephemeral-key/v1";
/// The prefix hashed before the challenge and key into the bound nonce.
pub const BOUND_NONCE_PREFIX: &[u8] = b"verdict/attest-nonce/v1";
/// The prefix of the session binding hash's input. v2 binds the key's full
/// thumbprint; v1 bound a 64-bit key id.
pub const SESSION_BINDING_PREFIX: &[u8] = b"verdict/session-binding/v2";
/// The prefix hashed before the runner's nonce and the session binding into
/// the nonce the control plane's evidence binds.
pub const CONTROL_PLANE_NONCE_PREFIX: &[u8] = b"verdict/control-plane-nonce/v1";

/// Appends `part` to `out` as a 4-byte big-endian length and the bytes, so
/// that concatenated fields can never be re-split differently.
fn push_field(out: &mut Vec<u8>, part: &[u8]) {
    // Fields are ids, hashes and keys: far below 4 GiB.
    out.extend_from_slice(&(part.len() as u32).to_be_bytes());
    out.extend_from_slice(part);
}

/// The runner's Ed25519 key for one execution: HKDF-SHA256 with salt
/// [`EPHEMERAL_KEY_SALT`], input key material `root_secret`, and info the
/// length-prefixed execution fingerprint (32 bytes), tenant and operator;
/// the 32 output bytes are the Ed25519 private key (RFC 8032 seed).
///
/// The same inputs always give the same key; any other execution, tenant or
/// operator gives an unrelated one, and the root secret never leaves the
/// runner.
pub fn ephemeral_key(
    root_secret: &[u8],
    execution: &Digest,
    tenant: &TenantId,
    operator: &OperatorId,
) -> SigningKey {
    let mut info = Vec::new();
    push_field(&mut info, execution.as_bytes());
    push_field(&mut info, tenant.as_str().as_bytes());
    push_field(&mut info, operator.as_str().as_bytes());
    let mut seed = crate::crypto::Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit: expand cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(EPHEMERAL_KEY_SALT), root_secret).expand(&info, &mut seed[..]);
    SigningKey::from_seed(SignatureAlgorithm::Ed25519, &seed)
}

/// The nonce the runner's evidence binds:
/// `SHA-256(BOUND_NONCE_PREFIX || challenge || raw ephemeral public key)`,
/// so the evidence proves both freshness and which key the session uses.
pub fn bound_nonce(challenge: &EvidenceNonce, ephemeral: &VerifyingKey) -> EvidenceNonce {
    let mut hasher = Sha256::new();
    hasher.update(BOUND_NONCE_PREFIX);
    hasher.update(challenge.as_bytes());
    hasher.update(ephemeral.raw());
    EvidenceNonce::from_hash(hasher.finalize().into())
}

/// The RFC 7638 JWK SHA-256 thumbprint of a public key: what the session
/// binding and the EAR's `cnf.jkt` name the runner's ephemeral key by, in
/// full (a 64-bit key id could be matched by a second key with 2^32 work).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyThumbprint([u8; 32]);

impl KeyThumbprint {
    /// The thumbprint of an Ed25519 key: SHA-256 of the UTF-8 JSON
    /// `{"crv":"Ed25519","kty":"OKP","x":"<base64url of the 32-byte key>"}`
    /// (RFC 8037's OKP members in RFC 7638's order, no whitespace). `None`
    /// for any other algorithm: ephemeral keys are Ed25519.
    pub fn of(key: &VerifyingKey) -> Option<Self> {
        if key.algorithm() != SignatureAlgorithm::Ed25519 {
            return None;
        }
        let jwk = format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
            B64URL.encode(key.raw())
        );
        Some(Self(Sha256::digest(jwk.as_bytes()).into()))
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Unpadded base64url, as RFC 7638 and `cnf.jkt` (RFC 9449) write it.
impl fmt::Display for KeyThumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64URL.encode(self.0))
    }
}

impl serde::Serialize for KeyThumbprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What the session binding hash covers.
pub struct SessionBinding<'a> {
    /// The control plane's identity: the SHA-256 of the DER of its TLS leaf
    /// certificate.
    pub control_plane: &'a Digest,
    pub challenge: &'a EvidenceNonce,
    pub tenant: &'a TenantId,
    pub operator: &'a OperatorId,
    /// The TPM quote's PCR digest, empty when the evidence has no quote.
    pub pcr_digest: &'a [u8],
    /// The ephemeral key's full thumbprint.
    pub ephemeral_key: &'a KeyThumbprint,
}

impl SessionBinding<'_> {
    /// `SHA-256(SESSION_BINDING_PREFIX || field...)` over the fields in the
    /// order of the struct, each as a 4-byte big-endian length and its bytes.
    pub fn hash(&self) -> Digest {
        let mut input = SESSION_BINDING_PREFIX.to_vec();
        for field in [
            self.control_plane.as_bytes().as_slice(),
            self.challenge.as_bytes(),
            self.tenant.as_str().as_bytes(),
            self.operator.as_str().as_bytes(),
            self.pcr_digest,
            self.ephemeral_key.as_bytes(),
        ] {
            push_field(&mut input, field);
        }
        Digest::of(&input)
    }
}

/// The nonce the control plane's own evidence binds:
/// `SHA-256(CONTROL_PLANE_NONCE_PREFIX || field(runner nonce) || field(S))`,
/// each field a 4-byte big-endian length and its bytes. Binding the session
/// as well as the runner's nonce means the answer cannot be relayed into
/// another session that reuses the nonce.
pub fn control_plane_nonce(runner_nonce: &EvidenceNonce, session: &Digest) -> EvidenceNonce {
    let mut input = CONTROL_PLANE_NONCE_PREFIX.to_vec();
    push_field(&mut input, runner_nonce.as_bytes());
    push_field(&mut input, session.as_bytes());
    EvidenceNonce::from_hash(Sha256::digest(&input).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key schedule's test vectors, also printed in docs/attestation.md
    /// ("Test vectors") for implementations in other languages.
    struct Vector {
        root: [u8; 32],
        execution: Digest,
        tenant: TenantId,
        operator: OperatorId,
        challenge: EvidenceNonce,
        control_plane: Digest,
        runner_nonce: EvidenceNonce,
    }

    fn vector() -> Vector {
        Vector {
            root: [0x42; 32],
            execution: Digest::of(b"run-1"),
            tenant: "tenant-a".parse().unwrap(),
            operator: "op-a1".parse().unwrap(),
            challenge: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
                .parse()
                .unwrap(),
            control_plane: Digest::of(b"the gateway's leaf certificate DER"),
            runner_nonce: "ffeeddccbbaa99887766554433221100".parse().unwrap(),
        }
    }

    #[test]
    fn the_documented_test_vectors_hold() {
        let v = vector();
        let key = ephemeral_key(&v.root, &v.execution, &v.tenant, &v.operator);
        let public = key.verifying_key();
        let thumbprint = KeyThumbprint::of(public).unwrap();
        let nonce = bound_nonce(&v.challenge, public);
        let binding = SessionBinding {
            control_plane: &v.control_plane,
            challenge: &v.challenge,
            tenant: &v.tenant,
            operator: &v.operator,
            pcr_digest: &[],
            ephemeral_key: &thumbprint,
        }
        .hash();
        let answer = control_plane_nonce(&v.runner_nonce, &binding);
        let got = [
            hex::encode(public.raw()),
            thumbprint.to_string(),
            nonce.hex(),
            binding.hex(),
            answer.hex(),
        ];
        assert_eq!(got, EXPECTED, "{got:#?}");
    }

    /// The ephemeral public key, its thumbprint, the bound nonce `N`, the
    /// session binding `S`, and the control plane's nonce; recomputed
    /// independently (Python's hashlib, hmac and `cryptography`) before
    /// they went into the docs.
    const EXPECTED: [&str; 5] = [
        "7ed82a2b53aa19dbd506198b0330f6b72fc6168a136eb1ecbc27f0f941faba9d",
        "xM0Yfd0doga-HIvh6nELglUQmaiRADyl9Yscx-XSKZM",
        "aa53ac2025613d01ee24d98a27832743d2364a0c414fb08746cb863cebac726c",
        "67100b41b26166aecb1be9fc148d3741a08676536a5c87de5b4e4b4730c22f52",
        "f77bfe0530b5f2752f463e6c3884f34b667f9fdec406c12706fbe234b2762547",
    ];

    #[test]
    fn the_thumbprint_is_rfc_7638_over_the_okp_jwk() {
        let key = SigningKey::from_seed(SignatureAlgorithm::Ed25519, &[7; 32]);
        let public = key.verifying_key();
        // RFC 7638: the required members, sorted, no whitespace.
        let mut jwk = std::collections::BTreeMap::new();
        jwk.insert("kty", "OKP".to_string());
        jwk.insert("crv", "Ed25519".to_string());
        jwk.insert("x", B64URL.encode(public.raw()));
        let canonical = serde_json::to_string(&jwk).unwrap();
        let expected = B64URL.encode(Sha256::digest(canonical.as_bytes()));
        assert_eq!(KeyThumbprint::of(public).unwrap().to_string(), expected);
        let ml_dsa = SigningKey::generate(SignatureAlgorithm::MlDsa65);
        assert_eq!(KeyThumbprint::of(ml_dsa.verifying_key()), None);
    }

    #[test]
    fn every_input_changes_the_binding_and_the_control_plane_nonce() {
        let v = vector();
        let key = ephemeral_key(&v.root, &v.execution, &v.tenant, &v.operator);
        let thumbprint = KeyThumbprint::of(key.verifying_key()).unwrap();
        let other_key = ephemeral_key(&[0x43; 32], &v.execution, &v.tenant, &v.operator);
        let other_thumbprint = KeyThumbprint::of(other_key.verifying_key()).unwrap();
        let binding = |thumbprint: &KeyThumbprint, pcr: &[u8]| {
            SessionBinding {
                control_plane: &v.control_plane,
                challenge: &v.challenge,
                tenant: &v.tenant,
                operator: &v.operator,
                pcr_digest: pcr,
                ephemeral_key: thumbprint,
            }
            .hash()
        };
        let base = binding(&thumbprint, &[]);
        assert_ne!(base, binding(&other_thumbprint, &[]));
        assert_ne!(base, binding(&thumbprint, &[0; 32]));
        let answer = control_plane_nonce(&v.runner_nonce, &base);
        assert_ne!(
            answer,
            control_plane_nonce(&v.runner_nonce, &binding(&other_thumbprint, &[]))
        );
        assert_ne!(answer, control_plane_nonce(&v.challenge, &base));
    }
}
