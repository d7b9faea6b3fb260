//! The keys peers sign federation messages with, by key id.
//!
//! Each key id (`kid`) names one public key, the [`ServiceIdentity`] that
//! owns it, and whether it is retired. An identity may own several keys, so
//! a key can be rotated by adding the new one and retiring the old one. A
//! key's algorithm is part of the key, never of the message: a message that
//! claims another algorithm than its key's is refused.

use std::collections::BTreeMap;
use std::fmt;

use ml_dsa::MlDsa65;

use super::encoding;
use super::error::{MessageError, MessageKind};
use crate::ids::{Kid, ServiceIdentity};

/// A signature algorithm a keyring key is pinned to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// Ed25519 (RFC 8032), verified with the strict rules of
    /// [`ed25519_dalek::VerifyingKey::verify_strict`]. JOSE name `EdDSA`.
    EdDsa,
    /// ML-DSA-65 (FIPS 204), pure (not pre-hashed), with the empty context
    /// string. JOSE name `ML-DSA-65`.
    MlDsa65,
}

impl KeyAlgorithm {
    /// The algorithm's JOSE `alg` name: `EdDSA` or `ML-DSA-65`.
    pub const fn jose_name(self) -> &'static str {
        match self {
            KeyAlgorithm::EdDsa => "EdDSA",
            KeyAlgorithm::MlDsa65 => "ML-DSA-65",
        }
    }

    /// The algorithm whose JOSE name is exactly `name` (case-sensitive).
    pub fn from_jose_name(name: &str) -> Option<Self> {
        [KeyAlgorithm::EdDsa, KeyAlgorithm::MlDsa65]
            .into_iter()
            .find(|alg| alg.jose_name() == name)
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.jose_name())
    }
}

/// A public key, which fixes the one algorithm it verifies.
#[derive(Clone)]
pub enum PublicKey {
    /// An Ed25519 key.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// An ML-DSA-65 key.
    MlDsa65(Box<ml_dsa::VerifyingKey<MlDsa65>>),
}

impl PublicKey {
    /// The algorithm the key verifies.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            PublicKey::Ed25519(_) => KeyAlgorithm::EdDsa,
            PublicKey::MlDsa65(_) => KeyAlgorithm::MlDsa65,
        }
    }

    /// Whether `signature` is a valid signature of `message` by this key:
    /// Ed25519 with `verify_strict`, ML-DSA-65 with the empty context.
    /// Signature bytes of the wrong length or encoding are simply invalid.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok()),
            PublicKey::MlDsa65(key) => ml_dsa::Signature::<MlDsa65>::try_from(signature)
                .is_ok_and(|sig| key.verify_with_context(message, b"", &sig)),
        }
    }
}

impl fmt::Debug for PublicKey {
    /// Names the algorithm only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.algorithm())
    }
}

impl From<ed25519_dalek::VerifyingKey> for PublicKey {
    fn from(key: ed25519_dalek::VerifyingKey) -> Self {
        PublicKey::Ed25519(key)
    }
}

impl From<ml_dsa::VerifyingKey<MlDsa65>> for PublicKey {
    fn from(key: ml_dsa::VerifyingKey<MlDsa65>) -> Self {
        PublicKey::MlDsa65(Box::new(key))
    }
}

/// One keyring key: who owns it, the key, and whether it is retired.
#[derive(Clone, Debug)]
pub struct KeyEntry {
    owner: ServiceIdentity,
    key: PublicKey,
    retired: bool,
}

impl KeyEntry {
    /// A live key owned by `owner`.
    pub fn new(owner: ServiceIdentity, key: impl Into<PublicKey>) -> Self {
        Self {
            owner,
            key: key.into(),
            retired: false,
        }
    }

    /// The same entry, retired (`true`) or live (`false`).
    pub fn with_retired(mut self, retired: bool) -> Self {
        self.retired = retired;
        self
    }

    /// The identity that owns the key.
    pub fn owner(&self) -> &ServiceIdentity {
        &self.owner
    }

    /// The public key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// Whether the key is retired; a retired key verifies nothing.
    pub fn is_retired(&self) -> bool {
        self.retired
    }

    /// Checks a standard-base64 Ed25519 `signature` of `message` by this
    /// entry's key (named `kid`): [`MessageError::WrongKeyAlgorithm`] if the
    /// key is not Ed25519, [`MessageError::SignatureEncoding`] if the text is
    /// not padded base64 of 64 bytes, [`MessageError::BadSignature`] if
    /// `verify_strict` fails. All three are Unauthenticated.
    pub(crate) fn verify_ed25519_base64(
        &self,
        kid: &Kid,
        kind: MessageKind,
        message: &[u8],
        signature: &str,
    ) -> Result<(), MessageError> {
        let PublicKey::Ed25519(key) = &self.key else {
            return Err(MessageError::WrongKeyAlgorithm {
                kind,
                kid: kid.clone(),
                key_alg: self.key.algorithm().jose_name(),
                needed: KeyAlgorithm::EdDsa.jose_name(),
            });
        };
        let signature = encoding::decode_ed25519_signature(signature).ok_or(
            MessageError::SignatureEncoding {
                kind,
                expected: "standard padded base64 of 64 bytes",
            },
        )?;
        key.verify_strict(message, &signature)
            .map_err(|_| MessageError::BadSignature { kind })
    }
}

/// Why a key cannot be added to a [`Keyring`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    /// The key id is already in the keyring; ids are never reused.
    #[error("key id {0} is already in the keyring")]
    DuplicateKid(Kid),
}

/// Public keys by key id. A key id names at most one key, forever.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: BTreeMap<Kid, KeyEntry>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `entry` under `kid`, refusing an id already present.
    pub fn insert(&mut self, kid: Kid, entry: KeyEntry) -> Result<(), KeyringError> {
        if self.keys.contains_key(&kid) {
            return Err(KeyringError::DuplicateKid(kid));
        }
        self.keys.insert(kid, entry);
        Ok(())
    }

    /// Retires the key `kid`; returns whether the keyring has it.
    pub fn retire(&mut self, kid: &Kid) -> bool {
        match self.keys.get_mut(kid) {
            Some(entry) => {
                entry.retired = true;
                true
            }
            None => false,
        }
    }

    /// The entry for `kid`, retired or not.
    pub fn get(&self, kid: &Kid) -> Option<&KeyEntry> {
        self.keys.get(kid)
    }

    /// Every key id with its entry, in key id order.
    pub fn iter(&self) -> impl Iterator<Item = (&Kid, &KeyEntry)> {
        self.keys.iter()
    }

    /// The live key `kid`: [`MessageError::UnknownKid`] if absent,
    /// [`MessageError::RetiredKid`] if retired.
    pub(crate) fn live(&self, kid: &Kid) -> Result<&KeyEntry, MessageError> {
        let entry = self.keys.get(kid).ok_or_else(|| MessageError::UnknownKid {
            kid: kid.to_string(),
        })?;
        if entry.retired {
            return Err(MessageError::RetiredKid { kid: kid.clone() });
        }
        Ok(entry)
    }

    /// The live key `kid` owned by `identity`: as [`Self::live`], then
    /// [`MessageError::ForeignKid`] if another identity owns it.
    pub(crate) fn live_owned_by(
        &self,
        kid: &Kid,
        identity: &ServiceIdentity,
    ) -> Result<&KeyEntry, MessageError> {
        let entry = self.live(kid)?;
        if entry.owner != *identity {
            return Err(MessageError::ForeignKid {
                kid: kid.clone(),
                caller: identity.clone(),
            });
        }
        Ok(entry)
    }
}
