//! Signing keys for the decision log: Ed25519 and ML-DSA-65.
//!
//! Every signature is bound to a *context string* naming what is signed
//! (for decision records, `verdict/decision-record/v1`), so a signature made
//! for one purpose can never be replayed as a signature for another:
//!
//! - **ML-DSA-65** signs with FIPS 204 pure ML-DSA (`ML-DSA.Sign`, in its
//!   deterministic variant) and verifies with `ML-DSA.Verify`, passing the
//!   context string as the FIPS 204 context `ctx`. The message is signed as
//!   given; there is no pre-hashing.
//! - **Ed25519** has no context parameter (RFC 8032 Ed25519ctx is not used),
//!   so it signs the bytes `context || 0x00 || message` with plain RFC 8032
//!   Ed25519 and verifies with the strict rules of
//!   [`ed25519_dalek::VerifyingKey::verify_strict`] (no small-order keys, no
//!   non-canonical `R`).
//!
//! A context string is at most 255 bytes (the FIPS 204 limit) and contains no
//! NUL byte, which keeps the Ed25519 framing unambiguous: the first `0x00`
//! always ends the context. Signing or verifying with any other context fails
//! with [`ContextError`].
//!
//! Keys are stored as PEM: private keys as PKCS#8 `PRIVATE KEY` (RFC 5958;
//! for ML-DSA-65 the seed-only form of RFC 9881), public keys as
//! SubjectPublicKeyInfo `PUBLIC KEY` (RFC 5280 / RFC 8410 / RFC 9881). A key
//! is named by its [`KeyId`], derived from its SubjectPublicKeyInfo.

mod der;
mod files;
mod keys;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A value that is overwritten with zeros when dropped; holds private key
/// PEM. (The `zeroize` crate's type, reached through ed25519-dalek's
/// re-exports so that this module needs no dependency of its own for it.)
pub use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;
pub use files::{KeyPairFiles, load_signing_key, load_verifying_key, write_keypair};
pub use keys::{SigningKey, VerifyingKey};

/// The longest context string, in bytes (FIPS 204's limit on `ctx`).
pub const MAX_CONTEXT_LEN: usize = 255;

/// A signature algorithm. Written `ed25519` or `ml-dsa-65` in text, JSON and
/// key ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SignatureAlgorithm {
    /// RFC 8032 Ed25519.
    Ed25519,
    /// FIPS 204 ML-DSA with parameter set ML-DSA-65.
    MlDsa65,
}

impl SignatureAlgorithm {
    /// Every supported algorithm.
    pub const ALL: [SignatureAlgorithm; 2] =
        [SignatureAlgorithm::Ed25519, SignatureAlgorithm::MlDsa65];

    /// The algorithm's name: `ed25519` or `ml-dsa-65`.
    pub const fn name(self) -> &'static str {
        match self {
            SignatureAlgorithm::Ed25519 => "ed25519",
            SignatureAlgorithm::MlDsa65 => "ml-dsa-65",
        }
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a string names no [`SignatureAlgorithm`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signature algorithm `{0}` (expected `ed25519` or `ml-dsa-65`)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for SignatureAlgorithm {
    type Err = UnknownAlgorithm;

    /// Accepts exactly `ed25519` or `ml-dsa-65` (case-sensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.name() == s)
            .ok_or_else(|| UnknownAlgorithm(s.chars().take(40).collect()))
    }
}

crate::text_serde::serde_as_text!(SignatureAlgorithm);

/// The name of a public key: `<algorithm>-<16 hex digits>`, e.g.
/// `ed25519-0123456789abcdef`, where the hex digits are the first 8 bytes of
/// the SHA-256 of the key's DER SubjectPublicKeyInfo, in lowercase.
///
/// Parsing accepts exactly that form, so every `KeyId` names an algorithm.
/// An id is a name for finding a key, not a security boundary: signatures
/// are always checked against the key itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

/// Length of the hex part of a [`KeyId`].
const KEY_ID_HEX_LEN: usize = 16;

impl KeyId {
    /// The id of the key whose DER SubjectPublicKeyInfo is `spki_der`.
    pub(crate) fn derive(algorithm: SignatureAlgorithm, spki_der: &[u8]) -> Self {
        let digest = Sha256::digest(spki_der);
        let hex = hex::encode(&digest[..KEY_ID_HEX_LEN / 2]);
        KeyId(format!("{algorithm}-{hex}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The algorithm the id names.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        // Construction guarantees the text starts with one of the two names.
        if self.0.starts_with("ml-dsa-65-") {
            SignatureAlgorithm::MlDsa65
        } else {
            SignatureAlgorithm::Ed25519
        }
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a string is not a [`KeyId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a key id of the form <ed25519|ml-dsa-65>-<16 lowercase hex digits>")]
pub struct KeyIdParseError(pub String);

impl FromStr for KeyId {
    type Err = KeyIdParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || KeyIdParseError(s.chars().take(80).collect());
        let (alg, hex) = s.rsplit_once('-').ok_or_else(err)?;
        alg.parse::<SignatureAlgorithm>().map_err(|_| err())?;
        let lower_hex = hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if hex.len() != KEY_ID_HEX_LEN || !lower_hex {
            return Err(err());
        }
        Ok(KeyId(s.to_owned()))
    }
}

crate::text_serde::serde_as_text!(KeyId);

/// Why a string cannot be used as a signing context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// Longer than [`MAX_CONTEXT_LEN`] bytes.
    #[error("signing context is {len} bytes long; at most {MAX_CONTEXT_LEN} are allowed")]
    TooLong { len: usize },
    /// Contains `0x00`, which would make the Ed25519 framing ambiguous.
    #[error("signing context contains a NUL byte at offset {offset}")]
    ContainsNul { offset: usize },
}

/// Checks the rules every context string obeys (see the module docs).
pub(crate) fn check_context(context: &str) -> Result<(), ContextError> {
    if context.len() > MAX_CONTEXT_LEN {
        return Err(ContextError::TooLong { len: context.len() });
    }
    match context.bytes().position(|b| b == 0) {
        Some(offset) => Err(ContextError::ContainsNul { offset }),
        None => Ok(()),
    }
}

/// Why signing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The context string breaks the rules in the module docs.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// ML-DSA's rejection sampling gave up, which FIPS 204 permits an
    /// implementation to do after a bounded number of attempts; the chance
    /// is negligible.
    #[error("{algorithm} signing failed to produce a signature")]
    Failed { algorithm: SignatureAlgorithm },
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The context string breaks the rules in the module docs.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// The bytes cannot be a signature of this algorithm at all.
    #[error("a {algorithm} signature is {expected} bytes, this one is {found}")]
    WrongLength {
        algorithm: SignatureAlgorithm,
        expected: usize,
        found: usize,
    },
    /// The signature is well-formed but is not a valid signature by this key
    /// on this context and message.
    #[error("the {algorithm} signature does not verify under key {key_id}")]
    Invalid {
        algorithm: SignatureAlgorithm,
        key_id: KeyId,
    },
}

/// Why a key could not be parsed, loaded or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The text is not a PEM document (RFC 7468).
    #[error("not a PEM document: {reason}")]
    NotPem { reason: String },
    /// The PEM document is of another kind than expected.
    #[error("PEM label is `{found}`, expected `{expected}`{hint}")]
    WrongPemLabel {
        expected: &'static str,
        found: String,
        hint: &'static str,
    },
    /// The DER inside the PEM is not a PKCS#8 PrivateKeyInfo or a
    /// SubjectPublicKeyInfo.
    #[error("malformed {structure}: {reason}")]
    MalformedDer {
        structure: &'static str,
        reason: String,
    },
    /// The key is for an algorithm this crate does not support.
    #[error(
        "unsupported key algorithm OID {oid} (supported: 1.3.101.112 = ed25519, 2.16.840.1.101.3.4.3.18 = ml-dsa-65)"
    )]
    UnsupportedAlgorithm { oid: String },
    /// The structure names a supported algorithm but the key in it is bad.
    #[error("malformed {algorithm} key: {reason}")]
    MalformedKey {
        algorithm: SignatureAlgorithm,
        reason: String,
    },
    /// A key file does not exist.
    #[error("key file {} does not exist", path.display())]
    Missing { path: PathBuf },
    /// A key file could not be read.
    #[error("cannot read key file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A key file's contents are not a valid key.
    #[error("key file {}: {source}", path.display())]
    InFile {
        path: PathBuf,
        source: Box<KeyError>,
    },
    /// [`write_keypair`] never replaces an existing file.
    #[error("refusing to overwrite existing key file {}", path.display())]
    AlreadyExists { path: PathBuf },
    /// A key file could not be created, written or synced.
    #[error("cannot write key file {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A key pair name must be a plain file name stem.
    #[error(
        "invalid key name `{name}`: use a non-empty name without `/`, `\\`, NUL or a leading `.`"
    )]
    InvalidName { name: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip() {
        for alg in SignatureAlgorithm::ALL {
            assert_eq!(alg.to_string().parse::<SignatureAlgorithm>().unwrap(), alg);
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(
                serde_json::from_str::<SignatureAlgorithm>(&json).unwrap(),
                alg
            );
        }
        assert_eq!(
            serde_json::to_string(&SignatureAlgorithm::MlDsa65).unwrap(),
            "\"ml-dsa-65\""
        );
        assert!("Ed25519".parse::<SignatureAlgorithm>().is_err());
        assert!("ml-dsa-44".parse::<SignatureAlgorithm>().is_err());
    }

    #[test]
    fn key_ids_parse_only_the_documented_form() {
        for good in ["ed25519-0123456789abcdef", "ml-dsa-65-0123456789abcdef"] {
            let id: KeyId = good.parse().unwrap();
            assert_eq!(id.as_str(), good);
            assert_eq!(
                serde_json::from_str::<KeyId>(&format!("\"{good}\"")).unwrap(),
                id
            );
        }
        assert_eq!(
            "ml-dsa-65-0123456789abcdef"
                .parse::<KeyId>()
                .unwrap()
                .algorithm(),
            SignatureAlgorithm::MlDsa65
        );
        assert_eq!(
            "ed25519-0123456789abcdef"
                .parse::<KeyId>()
                .unwrap()
                .algorithm(),
            SignatureAlgorithm::Ed25519
        );
        for bad in [
            "",
            "ed25519",
            "ed25519-0123456789ABCDEF",
            "ed25519-0123456789abcde",
            "ed25519-0123456789abcdef0",
            "rsa-0123456789abcdef",
            "ml-dsa-0123456789abcdef",
        ] {
            assert!(bad.parse::<KeyId>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn contexts_are_checked() {
        assert_eq!(check_context(""), Ok(()));
        assert_eq!(check_context("verdict/decision-record/v1"), Ok(()));
        assert_eq!(check_context(&"x".repeat(255)), Ok(()));
        assert_eq!(
            check_context(&"x".repeat(256)),
            Err(ContextError::TooLong { len: 256 })
        );
        assert_eq!(
            check_context("a\0b"),
            Err(ContextError::ContainsNul { offset: 1 })
        );
    }
}
