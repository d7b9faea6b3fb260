//! The HTTP routes. Each request is authenticated by its mTLS certificate,
//! checked natively (signature, freshness, single-use nonce, tenant and
//! operator mapping), decided by a sandboxed policy where one applies, and
//! logged, accept or reject, before the response is sent
//! ([`crate::gateway::pipeline`] runs those steps; each route its own).

pub mod attest;
mod feedback;
mod log;
mod manifest;
mod telemetry;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::gateway::errors::{ApiError, ErrorCode};
use crate::gateway::pipeline::respond;
use crate::gateway::state::AppState;
use crate::log::DecisionId;

/// The gateway's routes over `state`, for the mTLS listener.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/telemetry", post(telemetry))
        .route("/v1/feedback", post(feedback))
        .route("/v1/manifests/verify", post(manifest))
        .route("/v1/challenge", post(challenge))
        .route("/v1/attest", post(attest))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/v1/log/checkpoint", get(log::checkpoint))
        .route("/v1/log/proof", get(log::proof))
        .route("/v1/log/consistency", get(log::consistency))
        .merge(operations())
        .fallback(|| async { not_found("no such route") })
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The routes of the plaintext listener (`plaintext_listen`): only
/// `GET /healthz` and `GET /metrics`, which carry no tenant data. Every
/// other path is 404 there, so a signed message sent without TLS never
/// reaches a handler and is never logged.
pub(crate) fn operations_router(state: Arc<AppState>) -> Router {
    operations()
        .fallback(|| async {
            not_found("the plaintext listener serves only /healthz and /metrics; the other routes need mTLS")
        })
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

fn operations() -> Router<Arc<AppState>> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
}

fn not_found(message: &str) -> Response {
    ApiError::new(ErrorCode::NotFound, message).into_response_for("")
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route takes another method",
    )
    .into_response_for("")
}

async fn telemetry(State(state): State<Arc<AppState>>, request: Request) -> Response {
    respond(&state, "telemetry", request, telemetry::route).await
}

async fn feedback(State(state): State<Arc<AppState>>, request: Request) -> Response {
    respond(&state, "feedback", request, feedback::route).await
}

async fn manifest(State(state): State<Arc<AppState>>, request: Request) -> Response {
    respond(&state, "manifests", request, manifest::route).await
}

async fn challenge(State(state): State<Arc<AppState>>, request: Request) -> Response {
    respond(&state, "challenge", request, attest::challenge_route).await
}

async fn attest(State(state): State<Arc<AppState>>, request: Request) -> Response {
    respond(&state, "attest", request, attest::attest_route).await
}

async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    let response = match &state.attestation {
        Some(attestation) => axum::Json(attestation.ear.jwks()).into_response(),
        None => ApiError::attestation_not_configured()
            .into_response_for(&DecisionId::random().to_string()),
    };
    state.metrics.request("jwks", response.status().as_u16());
    response
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
