//! Mutual attestation's key schedule: the runner's per-execution ephemeral
//! key, the nonce its evidence binds, and the session binding hash
//! (docs/attestation.md gives every byte).

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
/// The prefix of the session binding hash's input.
pub const SESSION_BINDING_PREFIX: &[u8] = b"verdict/session-binding/v1";

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

/// What the session binding hash covers.
pub struct SessionBinding<'a> {
    /// The control plane's identity: the SHA-256 of its TLS certificate.
    pub control_plane: &'a Digest,
    pub challenge: &'a EvidenceNonce,
    pub tenant: &'a TenantId,
    pub operator: &'a OperatorId,
    /// The TPM quote's PCR digest, empty when the evidence has no quote.
    pub pcr_digest: &'a [u8],
    /// The ephemeral key's id (`ed25519-<16 hex>`).
    pub ephemeral_key_id: &'a str,
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
            self.ephemeral_key_id.as_bytes(),
        ] {
            push_field(&mut input, field);
        }
        Digest::of(&input)
    }
}
