//! `POST /v1/telemetry`: a JSON body signed, together with a timestamp and
//! a nonce sent as headers, by the operator's Ed25519 key.
//!
//! The signature (header `X-Telemetry-Signature`, standard padded base64 of
//! 64 bytes) is Ed25519 over the bytes
//!
//! ```text
//! ASCII(timestamp) || "." || ASCII(nonce) || "." || body
//! ```
//!
//! where `timestamp` and `nonce` are the header values exactly as sent
//! (`X-Telemetry-Timestamp`, canonical decimal unix seconds, and
//! `X-Telemetry-Nonce`) and `body` is the raw request body. The signature is
//! checked before the body is parsed; then the body's `timestamp` and
//! `nonce` must equal the headers' and its `signed_metadata` must name the
//! body's tenant, operator and campaign. See `docs/federation.md`.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::encoding;
use super::error::{MessageError, MessageKind};
use super::fields::{CampaignId, Sha256Hex, UnixSeconds, UnixSecondsError, deserialize_nonce};
use super::json::{self, JsonObject};
use crate::ids::{Nonce, OperatorId, TenantId};

/// The header carrying the signed timestamp.
pub const TIMESTAMP_HEADER: &str = "X-Telemetry-Timestamp";
/// The header carrying the signed nonce.
pub const NONCE_HEADER: &str = "X-Telemetry-Nonce";
/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Telemetry-Signature";

/// The largest telemetry body accepted, in bytes (1 MiB).
pub const MAX_TELEMETRY_BODY_LEN: usize = 1 << 20;

/// The three `X-Telemetry-*` headers, each parsed strictly. Values are
/// taken as given: no whitespace is trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelemetryHeaders {
    timestamp: UnixSeconds,
    nonce: Nonce,
    signature: ed25519_dalek::Signature,
}

impl TelemetryHeaders {
    /// Parses the header values (`None` when a header is absent).
    ///
    /// An absent header is [`MessageError::MissingHeader`] (Unauthenticated).
    /// A timestamp that is not canonical decimal unix seconds, or a nonce
    /// that is not 8-128 of `[A-Za-z0-9._:-]`, is
    /// [`MessageError::MalformedHeader`] (Malformed). A signature that is not
    /// standard padded base64 of 64 bytes is
    /// [`MessageError::SignatureEncoding`] (Unauthenticated).
    pub fn parse(
        timestamp: Option<&str>,
        nonce: Option<&str>,
        signature: Option<&str>,
    ) -> Result<Self, MessageError> {
        let missing = |header| MessageError::MissingHeader { header };
        let timestamp = timestamp.ok_or_else(|| missing(TIMESTAMP_HEADER))?;
        let nonce = nonce.ok_or_else(|| missing(NONCE_HEADER))?;
        let signature = signature.ok_or_else(|| missing(SIGNATURE_HEADER))?;
        let timestamp =
            timestamp
                .parse()
                .map_err(|err: UnixSecondsError| MessageError::MalformedHeader {
                    header: TIMESTAMP_HEADER,
                    reason: err.to_string(),
                })?;
        let nonce = Nonce::parse(nonce).map_err(|err| MessageError::MalformedHeader {
            header: NONCE_HEADER,
            reason: err.to_string(),
        })?;
        let signature = encoding::decode_ed25519_signature(signature).ok_or(
            MessageError::SignatureEncoding {
                kind: MessageKind::Telemetry,
                expected: "standard padded base64 of 64 bytes",
            },
        )?;
        Ok(Self {
            timestamp,
            nonce,
            signature,
        })
    }

    /// The signed timestamp.
    pub fn timestamp(&self) -> UnixSeconds {
        self.timestamp
    }

    /// The signed nonce.
    pub fn nonce(&self) -> &Nonce {
        &self.nonce
    }
}

/// The tenant, operator and campaign the telemetry's sender enrolled for;
/// must repeat the body's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedMetadata {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The operator.
    pub operator_id: OperatorId,
    /// The campaign.
    pub campaign_id: CampaignId,
}

/// A telemetry body. Parsed from JSON it has exactly these members, each of
/// its type; from [`verify_telemetry`] it is also authentic and consistent
/// with its headers and metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Telemetry {
    /// The tenant the execution ran for.
    pub tenant_id: TenantId,
    /// The operator that ran it.
    pub operator_id: OperatorId,
    /// The campaign it belongs to.
    pub campaign_id: CampaignId,
    /// The execution, as 64 lowercase hex digits.
    pub execution_hash: Sha256Hex,
    /// The attestation measurement, as 64 lowercase hex digits.
    pub attestation_measurement_hash: Sha256Hex,
    /// When it was sent; equals the `X-Telemetry-Timestamp` header.
    pub timestamp: UnixSeconds,
    /// A single-use nonce; equals the `X-Telemetry-Nonce` header.
    #[serde(deserialize_with = "deserialize_nonce")]
    pub nonce: Nonce,
    /// The enrolled tenant, operator and campaign.
    pub signed_metadata: SignedMetadata,
    /// The telemetry itself, an I-JSON object.
    pub payload: JsonObject,
}

impl Telemetry {
    /// Parses a body without checking any signature. Longer than
    /// [`MAX_TELEMETRY_BODY_LEN`] or not JSON: Malformed; a missing, unknown
    /// or duplicate member or a value of the wrong type or format: Schema.
    pub fn parse(body: &[u8]) -> Result<Self, MessageError> {
        check_len(body)?;
        json::parse(MessageKind::Telemetry, body)
    }
}

fn check_len(body: &[u8]) -> Result<(), MessageError> {
    if body.len() > MAX_TELEMETRY_BODY_LEN {
        return Err(MessageError::TooLarge {
            kind: MessageKind::Telemetry,
            len: body.len(),
            max: MAX_TELEMETRY_BODY_LEN,
        });
    }
    Ok(())
}

/// The bytes a telemetry signature covers:
/// `ASCII(timestamp) || "." || ASCII(nonce) || "." || body`.
pub fn telemetry_signing_input(timestamp: UnixSeconds, nonce: &Nonce, body: &[u8]) -> Vec<u8> {
    let prefix = format!("{timestamp}.{nonce}.");
    let mut input = Vec::with_capacity(prefix.len() + body.len());
    input.extend_from_slice(prefix.as_bytes());
    input.extend_from_slice(body);
    input
}

/// Signs a telemetry body, for clients: the value of
/// `X-Telemetry-Signature` (standard padded base64 of the Ed25519
/// signature over [`telemetry_signing_input`]).
pub fn sign_telemetry(
    signing_key: &SigningKey,
    timestamp: UnixSeconds,
    nonce: &Nonce,
    body: &[u8],
) -> String {
    let input = telemetry_signing_input(timestamp, nonce, body);
    encoding::encode_std(&signing_key.sign(&input).to_bytes())
}

/// Verifies a telemetry request and returns its body.
///
/// In order: the body is at most [`MAX_TELEMETRY_BODY_LEN`] bytes
/// (Malformed); the signature verifies under `verifying_key` with
/// `verify_strict` ([`MessageError::BadSignature`], Unauthenticated); the
/// body parses ([`Telemetry::parse`]); its `timestamp` and `nonce` equal
/// the headers' ([`MessageError::HeaderMismatch`], Unauthenticated); its
/// `signed_metadata` equals its tenant, operator and campaign
/// ([`MessageError::MetadataMismatch`], Forbidden).
///
/// Freshness of the timestamp and single use of the nonce are the caller's
/// to check.
pub fn verify_telemetry(
    headers: &TelemetryHeaders,
    body: &[u8],
    verifying_key: &VerifyingKey,
) -> Result<Telemetry, MessageError> {
    check_len(body)?;
    let input = telemetry_signing_input(headers.timestamp, &headers.nonce, body);
    verifying_key
        .verify_strict(&input, &headers.signature)
        .map_err(|_| MessageError::BadSignature {
            kind: MessageKind::Telemetry,
        })?;
    let telemetry = Telemetry::parse(body)?;
    let mismatch = |field, header| MessageError::HeaderMismatch {
        kind: MessageKind::Telemetry,
        field,
        header,
    };
    if telemetry.timestamp != headers.timestamp {
        return Err(mismatch("timestamp", TIMESTAMP_HEADER));
    }
    if telemetry.nonce != headers.nonce {
        return Err(mismatch("nonce", NONCE_HEADER));
    }
    let metadata = &telemetry.signed_metadata;
    let metadata_mismatch = |field| MessageError::MetadataMismatch { field };
    if metadata.tenant_id != telemetry.tenant_id {
        return Err(metadata_mismatch("tenant_id"));
    }
    if metadata.operator_id != telemetry.operator_id {
        return Err(metadata_mismatch("operator_id"));
    }
    if metadata.campaign_id != telemetry.campaign_id {
        return Err(metadata_mismatch("campaign_id"));
    }
    Ok(telemetry)
}
