//! Error responses: `{"error": {"code", "message", "request_id"}}`, and
//! `decision_id` too when a policy denied.
//!
//! Messages say what is wrong with the request, never key material or
//! internals; each [`ErrorCode`] has one status, as docs/gateway.md
//! ("Errors") lists them.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::antireplay::{Rejection, StoreError};
use crate::log::DecisionId;
use crate::messages::{ErrorClass, MessageError};

/// The stable `code` of an error response. Each code has exactly one HTTP
/// status ([`ErrorCode::status`]); both are documented in docs/gateway.md.
///
/// ```
/// use verdict_host::gateway::ErrorCode;
///
/// assert_eq!(ErrorCode::Replay.status().as_u16(), 409);
/// assert_eq!(ErrorCode::Replay.to_string(), "replay");
/// assert_eq!(serde_json::to_value(ErrorCode::PolicyDenied).unwrap(), "policy_denied");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: invalid JSON, a malformed header or token.
    Malformed,
    /// 401: a missing or bad signature, unknown or retired kid, unpinned
    /// certificate, identity header mismatch, stale or future timestamp,
    /// unknown or used challenge.
    Unauthenticated,
    /// 401: attestation evidence that does not verify.
    EvidenceInvalid,
    /// 403: a tenant or operator mapping violated, a key of another identity.
    Forbidden,
    /// 403: a policy denied; the body adds `decision_id`.
    PolicyDenied,
    /// 404: no such route.
    NotFound,
    /// 404: a route whose section (`[attestation]`) is not configured.
    NotConfigured,
    /// 405: the route takes another method.
    MethodNotAllowed,
    /// 409: the nonce was already used.
    Replay,
    /// 413: the body is over `max_body_bytes`.
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422: JSON of the wrong shape or types.
    Schema,
    /// 429: over the identity's rate.
    RateLimited,
    /// 503: the anti-replay store, ledger or decision log is unavailable.
    Unavailable,
}

impl ErrorCode {
    /// Every code, in the order of docs/gateway.md's table.
    pub const ALL: [Self; 14] = [
        Self::Malformed,
        Self::Unauthenticated,
        Self::EvidenceInvalid,
        Self::Forbidden,
        Self::PolicyDenied,
        Self::NotFound,
        Self::NotConfigured,
        Self::MethodNotAllowed,
        Self::Replay,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::Schema,
        Self::RateLimited,
        Self::Unavailable,
    ];

    /// The code as it appears in a response body.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Unauthenticated => "unauthenticated",
            Self::EvidenceInvalid => "evidence_invalid",
            Self::Forbidden => "forbidden",
            Self::PolicyDenied => "policy_denied",
            Self::NotFound => "not_found",
            Self::NotConfigured => "not_configured",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Replay => "replay",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Schema => "schema",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
        }
    }

    /// The HTTP status every response with this code has.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Malformed => StatusCode::BAD_REQUEST,
            Self::Unauthenticated | Self::EvidenceInvalid => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::PolicyDenied => StatusCode::FORBIDDEN,
            Self::NotFound | Self::NotConfigured => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Replay => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Schema => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error` member of a refusal: the one shape every error response
/// (and the attest route's deny) carries. Members are declared in sorted
/// order, as the body has always been written.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// What kind of refusal.
    pub code: ErrorCode,
    /// The decision that refused, when a policy did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<&'a DecisionId>,
    /// That decision's leaf index in the log's Merkle tree (its `seq`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaf_index: Option<u64>,
    /// What is wrong with the request.
    pub message: &'a str,
    /// The request's id, as in the decision log.
    pub request_id: &'a str,
}

/// A whole error response body, `{"error": ErrorBody}`.
#[derive(Serialize)]
struct Envelope<'a> {
    error: ErrorBody<'a>,
}

impl ErrorBody<'_> {
    /// The response: the code's status and `{"error": self}`.
    pub fn into_response(self) -> Response {
        let status = self.code.status();
        (status, Json(Envelope { error: self })).into_response()
    }
}

/// A request the gateway refuses: a stable code (which fixes the status)
/// and a message for the caller.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The refusal's code; its status is `code.status()`.
    pub code: ErrorCode,
    /// What is wrong with the request.
    pub message: String,
}

impl ApiError {
    /// A refusal with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The HTTP status of this refusal.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// 401 `unauthenticated`.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// 503 `unavailable`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// 422 `schema`.
    pub fn schema(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Schema, message)
    }

    /// 404 `not_configured`: `[attestation]` is missing.
    pub fn attestation_not_configured() -> Self {
        Self::new(
            ErrorCode::NotConfigured,
            "attestation is not configured on this gateway ([attestation])",
        )
    }

    /// The response body for request `request_id`.
    pub fn into_response_for(self, request_id: &str) -> Response {
        ErrorBody {
            code: self.code,
            decision_id: None,
            leaf_index: None,
            message: &self.message,
            request_id,
        }
        .into_response()
    }
}

impl From<MessageError> for ApiError {
    fn from(error: MessageError) -> Self {
        let code = match error.class() {
            ErrorClass::Malformed => ErrorCode::Malformed,
            ErrorClass::Unauthenticated => ErrorCode::Unauthenticated,
            ErrorClass::Forbidden => ErrorCode::Forbidden,
            ErrorClass::Schema => ErrorCode::Schema,
        };
        Self::new(code, error.to_string())
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::NotFresh(e) => Self::unauthenticated(e.to_string()),
            Rejection::Replayed => Self::new(ErrorCode::Replay, "this nonce was already used"),
            Rejection::Store(StoreError::Full { .. }) => {
                Self::unavailable("the anti-replay store is full")
            }
            Rejection::Store(_) => Self::unavailable("the anti-replay store is unavailable"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of docs/gateway.md's error table: (status, code) pairs.
    fn documented() -> Vec<(u16, String)> {
        let doc = include_str!("../../../docs/gateway.md");
        let table = doc
            .split("## Errors")
            .nth(1)
            .expect("docs/gateway.md has an Errors section");
        let mut rows = Vec::new();
        for line in table.lines().take_while(|l| !l.starts_with("## ")) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 4 {
                continue;
            }
            let statuses = cells[1].split(" / ");
            let codes = cells[2].split(" / ").map(|c| c.trim_matches('`'));
            for (status, code) in statuses.zip(codes) {
                if let Ok(status) = status.parse() {
                    rows.push((status, code.to_string()));
                }
            }
        }
        rows
    }

    #[test]
    fn every_code_is_documented_with_its_status() {
        let documented = documented();
        for code in ErrorCode::ALL {
            let row = (code.status().as_u16(), code.as_str().to_string());
            assert!(
                documented.contains(&row),
                "docs/gateway.md lacks {row:?}: {documented:?}"
            );
        }
        assert_eq!(
            documented.len(),
            ErrorCode::ALL.len(),
            "docs/gateway.md documents a code the gateway does not have: {documented:?}"
        );
    }

    #[test]
    fn a_code_serializes_as_its_text() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
        }
    }

    #[test]
    fn the_body_has_the_documented_members_only() {
        let id = DecisionId::random();
        let body = serde_json::to_value(ErrorBody {
            code: ErrorCode::PolicyDenied,
            decision_id: Some(&id),
            leaf_index: Some(7),
            message: "no",
            request_id: "r",
        })
        .unwrap();
        let mut members: Vec<&String> = body.as_object().unwrap().keys().collect();
        members.sort();
        assert_eq!(
            members,
            ["code", "decision_id", "leaf_index", "message", "request_id"]
        );
        let without = serde_json::to_value(ErrorBody {
            code: ErrorCode::Replay,
            decision_id: None,
            leaf_index: None,
            message: "no",
            request_id: "r",
        })
        .unwrap();
        assert!(without.get("decision_id").is_none(), "{without}");
        assert!(without.get("leaf_index").is_none(), "{without}");
    }
}
