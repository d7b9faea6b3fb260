//! Signed checkpoints: a C2SP tlog-checkpoint body in a C2SP signed note.
//!
//! ```text
//! <origin>
//! <tree size, decimal>
//! <root hash, base64>
//!
//! — <origin> base64(key id ‖ signature)
//! ```
//!
//! The note's key name is the log's origin. Ed25519 keys sign as C2SP
//! specifies (type `0x01`); ML-DSA-65 keys use type `0xff` followed by the
//! ASCII identifier [`ML_DSA_65_NOTE_TYPE`], as `docs/decision-log.md`
//! specifies.

use std::fmt;
use std::str::FromStr;

use signed_note::{Note, NoteError, Verifier, VerifierList};

use super::merkle::TreeHash;
use crate::crypto::{SignError, SignatureAlgorithm, SigningKey, VerifyingKey};

/// The identifier after the `0xff` signature type byte for ML-DSA-65 note
/// signatures, for which C2SP has assigned no type byte.
pub const ML_DSA_65_NOTE_TYPE: &str = "verdict/ml-dsa-65";

/// A log's origin: the first line of its checkpoints and the name of its
/// note signatures. Non-empty, at most 255 bytes, printable, without
/// whitespace or `+`; by convention a schema-less URL such as
/// `verdict.example/decision-log/replica-1`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin(String);

/// Why a string is not an [`Origin`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a log origin: 1 to 255 printable characters without whitespace or `+`")]
pub struct OriginParseError(pub String);

impl Origin {
    /// The origin a log gets when none is configured:
    /// `verdict/decision-log/<key id>`. Replicas that share a key must each
    /// be given their own.
    pub fn for_key(key: &VerifyingKey) -> Self {
        Self(format!("verdict/decision-log/{}", key.key_id()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Origin {
    type Err = OriginParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = !s.is_empty()
            && s.len() <= 255
            && signed_note::is_key_name_valid(s)
            && !s.chars().any(char::is_control);
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(OriginParseError(s.chars().take(80).collect()))
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What a checkpoint commits to: the tree of the first `size` records of
/// the log named `origin` has root `root`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: Origin,
    pub size: u64,
    pub root: TreeHash,
}

impl Checkpoint {
    /// The C2SP tlog-checkpoint body: three lines, each ended by `\n`.
    pub fn body(&self) -> String {
        let body = tlog_tiles::Checkpoint::new(
            self.origin.as_str(),
            self.size,
            tlog_tiles::Hash(self.root.0),
            "",
        )
        .expect("an origin is never empty, and there are no extensions");
        String::from_utf8(body.to_bytes()).expect("origins are UTF-8")
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} size {} root {}", self.origin, self.size, self.root)
    }
}

/// A checkpoint together with its signed note, exactly as published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: String,
}

/// Why a signed checkpoint was refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The text is not a signed note (C2SP signed-note syntax).
    #[error("not a signed note: {0}")]
    NotANote(#[source] NoteError),
    /// The note text is not a checkpoint body this log writes: origin, size
    /// and root hash, and nothing else.
    #[error("not a checkpoint: {0}")]
    NotACheckpoint(String),
    /// The note carries no signature by the log's key under its origin, or
    /// that signature does not verify.
    #[error("checkpoint for {origin} is not signed by key {key}: {source}")]
    BadSignature {
        origin: Origin,
        key: crate::crypto::KeyId,
        #[source]
        source: NoteError,
    },
    /// Signing the note failed.
    #[error("cannot sign the checkpoint: {0}")]
    Sign(#[source] SignError),
}

impl SignedCheckpoint {
    /// Signs `checkpoint` with `key` under the checkpoint's origin.
    pub fn sign(checkpoint: Checkpoint, key: &SigningKey) -> Result<Self, CheckpointError> {
        let body = checkpoint.body();
        let signature = key
            .sign_note(body.as_bytes())
            .map_err(CheckpointError::Sign)?;
        let id = note_key_id(checkpoint.origin.as_str(), key.verifying_key());
        let signature = signed_note::Signature::new(checkpoint.origin.to_string(), id, signature)
            .map_err(CheckpointError::NotANote)?;
        let note = Note::new(body.as_bytes(), &[signature]).map_err(CheckpointError::NotANote)?;
        let note = String::from_utf8(note.to_bytes()).expect("a note is UTF-8");
        Ok(Self { checkpoint, note })
    }

    /// Parses a signed note and verifies it is a checkpoint signed by `key`
    /// under the origin its first line names. Signatures by other keys
    /// (witness cosignatures) are kept in the note and otherwise ignored.
    pub fn verify(note: &str, key: &VerifyingKey) -> Result<Self, CheckpointError> {
        let parsed = Note::from_bytes(note.as_bytes()).map_err(CheckpointError::NotANote)?;
        let text = std::str::from_utf8(parsed.text()).expect("a parsed note is UTF-8");
        let checkpoint = parse_body(text)?;
        let verifier = NoteVerifier {
            name: checkpoint.origin.to_string(),
            id: note_key_id(checkpoint.origin.as_str(), key),
            key: key.clone(),
        };
        parsed
            .verify(&VerifierList::new(vec![Box::new(verifier)]))
            .map_err(|source| CheckpointError::BadSignature {
                origin: checkpoint.origin.clone(),
                key: key.key_id().clone(),
                source,
            })?;
        Ok(Self {
            checkpoint,
            note: note.to_owned(),
        })
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note, as written and published.
    pub fn note(&self) -> &str {
        &self.note
    }
}

/// Parses exactly `origin\nsize\nroot\n` (C2SP tlog-checkpoint, by
/// `tlog_tiles`), refusing extension lines and anything that does not
/// round-trip.
fn parse_body(text: &str) -> Result<Checkpoint, CheckpointError> {
    let bad = |why: String| CheckpointError::NotACheckpoint(why);
    let parsed = tlog_tiles::Checkpoint::from_bytes(text.as_bytes())
        .map_err(|_| bad("not origin, size and root hash lines".into()))?;
    if !parsed.extension().is_empty() {
        return Err(bad("extension lines are not used by this log".into()));
    }
    let checkpoint = Checkpoint {
        origin: parsed
            .origin()
            .parse()
            .map_err(|e: OriginParseError| bad(e.to_string()))?,
        size: parsed.size(),
        root: TreeHash(parsed.hash().0),
    };
    if checkpoint.body() != text {
        return Err(bad("the body is not in canonical form".into()));
    }
    Ok(checkpoint)
}

/// The note key id: the first four bytes, big-endian, of
/// SHA-256(name ‖ `\n` ‖ type ‖ public key), as C2SP recommends.
pub fn note_key_id(name: &str, key: &VerifyingKey) -> u32 {
    signed_note::key_id(name, &note_public_key(key))
}

/// The signature type and public key that a note key id hashes.
fn note_public_key(key: &VerifyingKey) -> Vec<u8> {
    let mut encoded = match key.algorithm() {
        SignatureAlgorithm::Ed25519 => vec![0x01],
        SignatureAlgorithm::MlDsa65 => {
            let mut typ = vec![0xff];
            typ.extend_from_slice(ML_DSA_65_NOTE_TYPE.as_bytes());
            typ
        }
    };
    encoded.extend_from_slice(&key.raw());
    encoded
}

struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl Verifier for NoteVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.key.verify_note(msg, sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(origin: &str, size: u64) -> Checkpoint {
        Checkpoint {
            origin: origin.parse().unwrap(),
            size,
            root: TreeHash::leaf(b"root"),
        }
    }

    #[test]
    fn checkpoints_round_trip_for_both_algorithms() {
        for alg in SignatureAlgorithm::ALL {
            let key = SigningKey::generate(alg);
            let signed = SignedCheckpoint::sign(checkpoint("example.org/log", 7), &key).unwrap();
            let verified = SignedCheckpoint::verify(signed.note(), key.verifying_key()).unwrap();
            assert_eq!(verified, signed);
            assert!(signed.note().starts_with("example.org/log\n7\n"));
            assert!(signed.note().contains("\n\n— example.org/log "));
        }
    }

    #[test]
    fn ed25519_checkpoints_verify_as_plain_c2sp_notes() {
        // signed_note's own Ed25519 verifier, built from the C2SP verifier
        // key encoding, accepts what the log signs.
        let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
        let signed = SignedCheckpoint::sign(checkpoint("example.org/log", 1), &key).unwrap();
        let raw: [u8; 32] = key.verifying_key().raw().try_into().unwrap();
        let vkey = signed_note::new_ed25519_verifier_key(
            "example.org/log",
            &ed25519_dalek::VerifyingKey::from_bytes(&raw).unwrap(),
        );
        let verifier = signed_note::StandardVerifier::new(&vkey).unwrap();
        let note = Note::from_bytes(signed.note().as_bytes()).unwrap();
        note.verify(&VerifierList::new(vec![Box::new(verifier)]))
            .unwrap();
    }

    #[test]
    fn tampered_or_foreign_checkpoints_are_refused() {
        let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
        let other = SigningKey::generate(SignatureAlgorithm::Ed25519);
        let note = SignedCheckpoint::sign(checkpoint("example.org/log", 7), &key)
            .unwrap()
            .note()
            .to_owned();
        let verify = |text: &str| SignedCheckpoint::verify(text, key.verifying_key());
        assert!(matches!(
            verify(&note.replacen("\n7\n", "\n8\n", 1)),
            Err(CheckpointError::BadSignature { .. })
        ));
        assert!(matches!(
            SignedCheckpoint::verify(&note, other.verifying_key()),
            Err(CheckpointError::BadSignature { .. })
        ));
        // Another origin: the signature names the original one.
        let renamed = note.replacen("example.org/log\n", "example.org/fork\n", 1);
        assert!(verify(&renamed).is_err());
        assert!(matches!(
            verify(&note.replacen("\n7\n", "\n07\n", 1)),
            Err(CheckpointError::NotACheckpoint(_))
        ));
        assert!(matches!(verify("junk"), Err(CheckpointError::NotANote(_))));
    }

    #[test]
    fn origins_are_validated() {
        for good in [
            "example.org/log",
            "verdict/decision-log/ed25519-0011223344556677",
        ] {
            assert!(good.parse::<Origin>().is_ok());
        }
        for bad in ["", "a b", "a+b", "a\tb", &"x".repeat(256)] {
            assert!(bad.parse::<Origin>().is_err(), "{bad:?}");
        }
    }
}
