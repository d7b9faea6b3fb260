//! The dev setup's Ed25519 signing keys: PKCS#8 v1 PEM private keys (RFC
//! 8410, as OpenSSL writes them) and SubjectPublicKeyInfo PEM public keys.

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;
use ed25519_dalek::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, KeypairBytes};
use rand_core::OsRng;

use super::DevError;

/// A fresh Ed25519 key pair, PEM-encoded.
pub(super) struct Ed25519Pem {
    /// PKCS#8 PEM (`PRIVATE KEY`), zeroized on drop.
    pub private: Zeroizing<String>,
    /// SubjectPublicKeyInfo PEM (`PUBLIC KEY`).
    pub public: String,
}

/// Generates a key for `what` (named in errors) from the OS random source.
pub(super) fn generate(what: &str) -> Result<Ed25519Pem, DevError> {
    let failed = |reason: String| DevError::SigningKey {
        what: what.to_owned(),
        reason,
    };
    let key = SigningKey::generate(&mut OsRng);
    let private = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map_err(|e| failed(e.to_string()))?;
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| failed(e.to_string()))?;
    Ok(Ed25519Pem { private, public })
}
