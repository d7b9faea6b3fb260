//! Error responses: `{"error": {"code", "message", "request_id"}}`.
//!
//! Messages say what is wrong with the request, never key material or
//! internals; the status follows the documented table (docs/gateway.md).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::antireplay::{Rejection, StoreError};
use crate::messages::{ErrorClass, MessageError};

/// A request the gateway refuses, with its HTTP status and stable code.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// The response body for request `request_id`.
    pub fn into_response_for(self, request_id: &str) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message, "request_id": request_id}});
        (self.status, Json(body)).into_response()
    }
}

impl From<MessageError> for ApiError {
    fn from(error: MessageError) -> Self {
        let (status, code) = match error.class() {
            ErrorClass::Malformed => (StatusCode::BAD_REQUEST, "malformed"),
            ErrorClass::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ErrorClass::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ErrorClass::Schema => (StatusCode::UNPROCESSABLE_ENTITY, "schema"),
        };
        Self::new(status, code, error.to_string())
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::NotFresh(e) => Self::unauthenticated(e.to_string()),
            Rejection::Replayed => Self::new(
                StatusCode::CONFLICT,
                "replay",
                "this nonce was already used",
            ),
            Rejection::Store(StoreError::Full { .. }) => {
                Self::unavailable("the anti-replay store is full")
            }
            Rejection::Store(_) => Self::unavailable("the anti-replay store is unavailable"),
        }
    }
}
