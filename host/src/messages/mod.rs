//! Signed federation messages, parsed and verified natively before any
//! policy runs.
//!
//! - [`telemetry`]: `POST /v1/telemetry`, a JSON body signed with headers
//!   by an operator's Ed25519 key ([`verify_telemetry`]).
//! - [`feedback`]: `POST /v1/feedback`, a peer's JSON feedback signed by a
//!   key of its [`Keyring`] entry ([`verify_feedback`]), and the gateway's
//!   signed answer ([`response`]: [`sign_response`], [`verify_response`]).
//! - [`manifest`]: an execution manifest as a compact JWS signed with
//!   Ed25519 or ML-DSA-65, the algorithm pinned by the key
//!   ([`verify_manifest`]).
//!
//! Every function here either returns a message whose signature verified
//! and whose every member has its type, or a [`MessageError`] whose
//! [`class`](MessageError::class) is the HTTP answer to give. Nothing here
//! panics on any input. Freshness of timestamps and single use of nonces
//! are left to the caller, which keeps the state. The exact byte formats are
//! specified in `docs/federation.md`.

mod encoding;
mod error;
pub mod feedback;
mod fields;
mod json;
pub(crate) mod jws;
mod keyring;
pub mod manifest;
pub mod response;
mod signed;
pub mod telemetry;

#[cfg(test)]
mod tests;

pub use error::{ErrorClass, MessageError, MessageKind};
pub use feedback::{
    Feedback, FeedbackData, SchemaVersion, SignedFeedback, sign_feedback, verify_feedback,
};
pub use fields::{
    CampaignId, FiniteNumber, Label, NotFinite, SafeInteger, SafeIntegerError, Sha256Hex,
    Sha256HexError, UnixSeconds, UnixSecondsError,
};
pub use json::{JsonObject, NotIJson};
pub use jws::MAX_TOKEN_LEN;
pub use keyring::{KeyAlgorithm, KeyEntry, Keyring, KeyringError, PublicKey};
pub use manifest::{
    Manifest, ManifestVersion, TaskContext, Urn, sign_manifest_eddsa, sign_manifest_ml_dsa_65,
    verify_manifest, verify_manifest_from,
};
pub use response::{
    FeedbackResponse, ResponseStatus, SignedFeedbackResponse, sign_response, verify_response,
};
pub use signed::{Signed, SigningInput};
pub use telemetry::{
    SignedMetadata, Telemetry, TelemetryHeaders, sign_telemetry, telemetry_signing_input,
    verify_telemetry,
};
