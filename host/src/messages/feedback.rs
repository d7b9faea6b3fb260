//! `POST /v1/feedback`: a peer's signed feedback on an execution.
//!
//! The body is one JSON object whose `signature` member is standard padded
//! base64 of an Ed25519 signature, by the key `kid`, over the bytes
//!
//! ```text
//! tenant_id "|" signed_at "|" nonce "|" schema_version "|" kid "|" JCS(data)
//! ```
//!
//! where each field is its JSON string's value (or, for `signed_at`, the
//! canonical decimal digits of its integer) and `JCS(data)` is the RFC 8785
//! canonical JSON of the `data` member. None of the five fields can contain
//! `|`, so the framing is unambiguous. See `docs/federation.md`.
//!
//! Only types are checked here: whether `confidence`, `ttl_seconds` and the
//! rest are acceptable is the feedback policy's decision.

use super::signed::{Signed, SigningInput};
use std::fmt;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::error::{MessageError, MessageKind, quote};
use super::fields::{FiniteNumber, SafeInteger, Sha256Hex, UnixSeconds, deserialize_nonce};
use super::json::{self, JsonObject};
use super::keyring::Keyring;
use crate::ids::{Kid, Nonce, ServiceIdentity, TenantId};

/// The largest feedback body accepted, in bytes (64 KiB).
pub const MAX_FEEDBACK_BODY_LEN: usize = 64 * 1024;

/// A feedback schema version; only `1.0` exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchemaVersion {
    /// `"1.0"`.
    V1_0,
}

impl SchemaVersion {
    /// The version as written in JSON: `1.0`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SchemaVersion::V1_0 => "1.0",
        }
    }
}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SchemaVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SchemaVersion {
    /// Accepts exactly the JSON string `"1.0"`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "1.0" => Ok(SchemaVersion::V1_0),
            other => Err(serde::de::Error::custom(format_args!(
                "schema_version {:?} is not supported",
                quote(other)
            ))),
        }
    }
}

/// What the feedback says about one execution. Exactly these members, each
/// of its type; their ranges are the policy's to judge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackData {
    /// The execution, as 64 lowercase hex digits.
    pub execution_hash: Sha256Hex,
    /// The attestation measurement the peer saw, as 64 lowercase hex digits.
    pub attestation_measurement_hash: Sha256Hex,
    /// The peer's confidence: any JSON number.
    pub confidence: FiniteNumber,
    /// How long the feedback holds, in seconds: a JSON integer within
    /// ±(2^53 - 1).
    pub ttl_seconds: SafeInteger,
    /// The adjustment the peer proposes: an I-JSON object.
    pub adjustment: JsonObject,
}

/// A feedback message without its signature. From [`verify_feedback`], it
/// was signed by the live key `kid`, owned by the caller.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Feedback {
    /// The tenant the feedback is about.
    pub tenant_id: TenantId,
    /// When the peer signed it.
    pub signed_at: UnixSeconds,
    /// A single-use nonce.
    pub nonce: Nonce,
    /// The schema version, always `1.0`.
    pub schema_version: SchemaVersion,
    /// The key that signed it.
    pub kid: Kid,
    /// The feedback itself.
    pub data: FeedbackData,
}

impl SigningInput for Feedback {
    /// The bytes the signature covers:
    /// `tenant_id|signed_at|nonce|schema_version|kid|` followed by the RFC
    /// 8785 canonical JSON of `data`.
    fn signing_input(&self) -> Result<Vec<u8>, MessageError> {
        let mut input = format!(
            "{}|{}|{}|{}|{}|",
            self.tenant_id, self.signed_at, self.nonce, self.schema_version, self.kid
        )
        .into_bytes();
        input.extend(json::canonical(MessageKind::Feedback, &self.data)?);
        Ok(input)
    }
}

/// A feedback message with its Ed25519 signature, as a client sends it.
pub type SignedFeedback = Signed<Feedback>;

/// Signs `feedback` with `signing_key`; see [`Signed::sign`].
pub fn sign_feedback(
    signing_key: &SigningKey,
    feedback: Feedback,
) -> Result<SignedFeedback, MessageError> {
    Signed::sign(signing_key, feedback)
}

/// The body as received, before its schema version and signature are
/// checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    tenant_id: TenantId,
    signed_at: UnixSeconds,
    #[serde(deserialize_with = "deserialize_nonce")]
    nonce: Nonce,
    schema_version: Value,
    kid: Kid,
    data: FeedbackData,
    signature: String,
}

/// Verifies a feedback body sent by `caller` and returns the message.
///
/// In order: the body is at most [`MAX_FEEDBACK_BODY_LEN`] bytes and JSON
/// (else Malformed); it has exactly the members above, of their types
/// (else [`MessageError::Schema`]), and `schema_version` is `"1.0"` (else
/// [`MessageError::UnsupportedSchemaVersion`], Schema); `kid` is in the
/// keyring ([`MessageError::UnknownKid`], Unauthenticated), not retired
/// ([`MessageError::RetiredKid`], Unauthenticated), owned by `caller`
/// ([`MessageError::ForeignKid`], Forbidden) and an Ed25519 key; the
/// signature is padded base64 of 64 bytes and verifies with
/// `verify_strict` (else Unauthenticated).
///
/// Freshness of `signed_at` and single use of `nonce` are the caller's to
/// check; the policy judges the rest.
pub fn verify_feedback(
    body: &[u8],
    keyring: &Keyring,
    caller: &ServiceIdentity,
) -> Result<Feedback, MessageError> {
    if body.len() > MAX_FEEDBACK_BODY_LEN {
        return Err(MessageError::TooLarge {
            kind: MessageKind::Feedback,
            len: body.len(),
            max: MAX_FEEDBACK_BODY_LEN,
        });
    }
    let wire: Wire = json::parse(MessageKind::Feedback, body)?;
    let schema_version = match &wire.schema_version {
        Value::String(s) if s == SchemaVersion::V1_0.as_str() => SchemaVersion::V1_0,
        other => {
            return Err(MessageError::UnsupportedSchemaVersion {
                found: quote(&other.to_string()),
            });
        }
    };
    let feedback = Feedback {
        tenant_id: wire.tenant_id,
        signed_at: wire.signed_at,
        nonce: wire.nonce,
        schema_version,
        kid: wire.kid,
        data: wire.data,
    };
    let entry = keyring.live_owned_by(&feedback.kid, caller)?;
    entry.verify_ed25519_base64(
        &feedback.kid,
        MessageKind::Feedback,
        &feedback.signing_input()?,
        &wire.signature,
    )?;
    Ok(feedback)
}
