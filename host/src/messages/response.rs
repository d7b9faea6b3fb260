//! The gateway's signed answer to a feedback message.
//!
//! The body is one JSON object
//! `{status, decision_id, reasons, kid, signed_at, nonce, signature}` whose
//! `signature` is standard padded base64 of an Ed25519 signature, by the
//! gateway's key `kid`, over the bytes
//!
//! ```text
//! kid "|" signed_at "|" nonce "|" JCS({"decision_id", "reasons", "status"})
//! ```
//!
//! that is, the three framing fields as in a feedback message, then the RFC
//! 8785 canonical JSON of the object holding exactly the members `status`,
//! `decision_id` and `reasons`. See `docs/federation.md`.

use super::signed::{Signed, SigningInput};
use crate::log::DecisionId;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use super::error::{MessageError, MessageKind};
use super::fields::{UnixSeconds, deserialize_nonce};
use super::json;
use super::keyring::Keyring;
use crate::ids::{Kid, Nonce, ServiceIdentity};

/// The largest response body accepted, in bytes (64 KiB).
pub const MAX_RESPONSE_BODY_LEN: usize = 64 * 1024;

/// Whether the gateway accepted the feedback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseStatus {
    /// `"accepted"`: the policy allowed the feedback.
    Accepted,
    /// `"rejected"`: the policy denied it; `reasons` says why.
    Rejected,
}

/// The gateway's answer, without its signature. From [`verify_response`],
/// it was signed by the live key `kid`, owned by the expected gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackResponse {
    /// Accepted or rejected.
    pub status: ResponseStatus,
    /// The recorded decision.
    pub decision_id: DecisionId,
    /// Why the feedback was rejected (empty when accepted).
    pub reasons: Vec<String>,
    /// The gateway key that signed the answer.
    pub kid: Kid,
    /// When the gateway signed it.
    pub signed_at: UnixSeconds,
    /// A single-use nonce (the gateway's own, not the feedback's).
    #[serde(deserialize_with = "deserialize_nonce")]
    pub nonce: Nonce,
}

impl SigningInput for FeedbackResponse {
    /// The bytes the signature covers: `kid|signed_at|nonce|` followed by
    /// the RFC 8785 canonical JSON of `{status, decision_id, reasons}`.
    fn signing_input(&self) -> Result<Vec<u8>, MessageError> {
        #[derive(Serialize)]
        struct Signed<'a> {
            status: ResponseStatus,
            decision_id: DecisionId,
            reasons: &'a [String],
        }
        let signed = Signed {
            status: self.status,
            decision_id: self.decision_id,
            reasons: &self.reasons,
        };
        let mut input = format!("{}|{}|{}|", self.kid, self.signed_at, self.nonce).into_bytes();
        input.extend(json::canonical(MessageKind::FeedbackResponse, &signed)?);
        Ok(input)
    }
}

/// A gateway answer with its Ed25519 signature, as the gateway sends it.
pub type SignedFeedbackResponse = Signed<FeedbackResponse>;

/// Signs `response` with `signing_key`; see [`Signed::sign`].
pub fn sign_response(
    signing_key: &SigningKey,
    response: FeedbackResponse,
) -> Result<SignedFeedbackResponse, MessageError> {
    Signed::sign(signing_key, response)
}

/// The body as received, before its signature is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    status: ResponseStatus,
    decision_id: DecisionId,
    reasons: Vec<String>,
    kid: Kid,
    signed_at: UnixSeconds,
    #[serde(deserialize_with = "deserialize_nonce")]
    nonce: Nonce,
    signature: String,
}

/// Verifies a gateway answer, for clients, and returns it. `gateway` is the
/// identity whose keys may sign answers.
///
/// The same rules as [`super::verify_feedback`]: at most
/// [`MAX_RESPONSE_BODY_LEN`] bytes of JSON (Malformed), exactly the members
/// above (Schema), a live Ed25519 key owned by `gateway` (unknown or
/// retired: Unauthenticated; owned by another identity: Forbidden) and a
/// signature that verifies with `verify_strict` (Unauthenticated).
pub fn verify_response(
    body: &[u8],
    keyring: &Keyring,
    gateway: &ServiceIdentity,
) -> Result<FeedbackResponse, MessageError> {
    if body.len() > MAX_RESPONSE_BODY_LEN {
        return Err(MessageError::TooLarge {
            kind: MessageKind::FeedbackResponse,
            len: body.len(),
            max: MAX_RESPONSE_BODY_LEN,
        });
    }
    let wire: Wire = json::parse(MessageKind::FeedbackResponse, body)?;
    let response = FeedbackResponse {
        status: wire.status,
        decision_id: wire.decision_id,
        reasons: wire.reasons,
        kid: wire.kid,
        signed_at: wire.signed_at,
        nonce: wire.nonce,
    };
    let entry = keyring.live_owned_by(&response.kid, gateway)?;
    entry.verify_ed25519_base64(
        &response.kid,
        MessageKind::FeedbackResponse,
        &response.signing_input()?,
        &wire.signature,
    )?;
    Ok(response)
}
