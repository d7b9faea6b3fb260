//! One decision record: its JSON shape, canonical form and signing input.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::{OsRng, RngCore as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::crypto::{KeyId, SignatureAlgorithm};
use crate::digest::Digest;
use crate::policy::decision::Decision;
use crate::policy::identity::PolicyIdentity;
use crate::timestamp::Timestamp;

/// The record format version this crate writes and verifies (`"v": 1`).
pub const RECORD_VERSION: u32 = 1;

/// The context string every decision record signature is bound to.
pub const SIGNING_CONTEXT: &str = "verdict/decision-record/v1";

/// One line of the decision log. Serializes to, and parses from, exactly
/// the JSON object described in `docs/decision-log.md`; unknown members are
/// rejected at every level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRecord {
    /// Format version; [`RECORD_VERSION`] for every record this crate writes.
    pub v: u32,
    /// Position in the log, counting from 0 with no gaps.
    pub seq: u64,
    /// A random, unique name for this decision.
    pub id: DecisionId,
    /// When the policy was evaluated.
    pub timestamp: Timestamp,
    /// The caller's request id, if it gave one. Always present in JSON,
    /// `null` when absent.
    pub request_id: Option<String>,
    /// The policy that decided.
    pub policy: PolicyIdentity,
    /// What the policy was given.
    pub input: RecordInput,
    /// What the policy decided.
    pub decision: Decision,
    /// SHA-256 of the previous line's bytes (without its `\n`), or
    /// [`Digest::ZERO`] for the first record.
    pub prev: Digest,
    /// The signature over every other member (see
    /// [`DecisionRecord::signing_input`]). The writer signs the last record
    /// of every write (a group commit); the records before it in the same
    /// write carry none, because the signed record's `prev` chain commits
    /// to each of them (docs/decision-log.md, "Signatures"). A log's last
    /// record is always signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<RecordSignature>,
}

/// The input a decision was made on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    /// The claims document, as JSON.
    pub claims: serde_json::Value,
    /// The time the policy saw as "now"; equal to the record's `timestamp`.
    pub evaluated_at: Timestamp,
}

/// A record's signature and the key that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSignature {
    /// The signature algorithm.
    pub alg: SignatureAlgorithm,
    /// The id of the signing key.
    pub kid: KeyId,
    /// The signature bytes.
    pub value: SignatureBytes,
}

impl DecisionRecord {
    /// The bytes the signature covers: the RFC 8785 (JCS) canonical JSON of
    /// this record with the `signature` member removed. For a record
    /// without a signature, that is its log line.
    pub fn signing_input(&self) -> Result<Vec<u8>, serde_json::Error> {
        if self.signature.is_none() {
            return serde_jcs::to_vec(self);
        }
        let mut value = serde_json::to_value(self)?;
        if let serde_json::Value::Object(members) = &mut value {
            members.remove("signature");
        }
        serde_jcs::to_vec(&value)
    }

    /// The record's log line without its `\n`: the RFC 8785 (JCS)
    /// canonical JSON of the whole record.
    pub fn canonical_json(&self) -> Result<String, serde_json::Error> {
        serde_jcs::to_string(self)
    }
}

/// What a caller supplies for a new record; the log fills in the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRecord {
    /// When the policy was evaluated; becomes both `timestamp` and
    /// `input.evaluated_at`.
    pub timestamp: Timestamp,
    /// The caller's request id, if any.
    pub request_id: Option<String>,
    /// The policy that decided.
    pub policy: PolicyIdentity,
    /// The claims the policy was given.
    pub claims: serde_json::Value,
    /// What the policy decided.
    pub decision: Decision,
}

/// A decision's id: 16 random bytes, written as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DecisionId([u8; 16]);

impl DecisionId {
    /// A fresh id from the operating system's random number generator.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The id with these bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for DecisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for DecisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a [`DecisionId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a decision id of 32 lowercase hex digits")]
pub struct DecisionIdParseError(pub String);

impl FromStr for DecisionId {
    type Err = DecisionIdParseError;

    /// Accepts exactly 32 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DecisionIdParseError(s.chars().take(80).collect());
        if s.len() != 32 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(err());
        }
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| err())?;
        Ok(Self(bytes))
    }
}

impl Serialize for DecisionId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DecisionId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Signature bytes, written in JSON as standard base64 with padding
/// (RFC 4648 section 4). Parsing rejects any other alphabet, missing
/// padding and non-zero trailing bits, so each value has one spelling.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureBytes(pub Vec<u8>);

impl fmt::Debug for SignatureBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignatureBytes({} bytes)", self.0.len())
    }
}

impl Serialize for SignatureBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for SignatureBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        STANDARD.decode(&s).map(SignatureBytes).map_err(|e| {
            serde::de::Error::custom(format_args!(
                "signature value is not padded standard base64: {e}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_ids_are_32_lowercase_hex() {
        let id = DecisionId::random();
        assert_eq!(id.to_string().len(), 32);
        assert_eq!(id.to_string().parse::<DecisionId>().unwrap(), id);
        assert_ne!(DecisionId::random(), id);
        let fixed = DecisionId::from_bytes([0xab; 16]);
        assert_eq!(
            serde_json::to_string(&fixed).unwrap(),
            format!("\"{}\"", "ab".repeat(16))
        );
        for bad in [
            "",
            "00",
            &"AB".repeat(16),
            &"ab".repeat(17),
            &format!("{}g", "a".repeat(31)),
        ] {
            assert!(bad.parse::<DecisionId>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn signature_bytes_accept_only_padded_standard_base64() {
        let parse = |s: &str| serde_json::from_str::<SignatureBytes>(&format!("\"{s}\""));
        assert_eq!(parse("AAE=").unwrap(), SignatureBytes(vec![0, 1]));
        assert_eq!(
            serde_json::to_string(&SignatureBytes(vec![0xfb, 0xff])).unwrap(),
            "\"+/8=\""
        );
        for bad in ["AAE", "AAF=", "-_8=", "AA E="] {
            assert!(parse(bad).is_err(), "{bad} parsed");
        }
    }
}
