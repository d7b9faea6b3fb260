//! The decision log's transparency routes (docs/gateway.md, "The log"):
//! `GET /v1/log/checkpoint`, `GET /v1/log/proof?seq=N` and
//! `GET /v1/log/consistency?from=A[&to=B]`. Read-only, over mTLS; every
//! answer is made against the latest signed checkpoint, so a reader never
//! sees a record the writer has not checkpointed. The formats are those of
//! `verdict log` (docs/decision-log.md).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::gateway::errors::{ApiError, ErrorCode};
use crate::gateway::state::AppState;
use crate::log::{DecisionId, ProveError};

/// The latest signed checkpoint, as the C2SP signed note it is
/// (`text/plain`), so witnesses and `verdict log` read it unchanged.
pub(super) async fn checkpoint(State(state): State<Arc<AppState>>) -> Response {
    let note = state.published.checkpoint().note().to_string();
    let response = ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response();
    state.metrics.request("log", response.status().as_u16());
    response
}

/// The inclusion proof bundle of record `seq` (`verdict log prove`'s
/// format), against the latest checkpoint.
pub(super) async fn proof(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = members(query.as_deref());
    let answer = size(&query, "seq").and_then(|seq| {
        let seq = seq.ok_or_else(|| malformed("`seq` is required"))?;
        let bundle = state.published.inclusion_proof(seq).map_err(refused)?;
        Ok(axum::Json(bundle).into_response())
    });
    finish(&state, answer)
}

/// The RFC 6962 consistency proof from the tree of the first `from` records
/// to that of the first `to` (default: the latest checkpoint's size), with
/// the latest checkpoint note.
pub(super) async fn consistency(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = members(query.as_deref());
    let answer = (|| {
        let from = size(&query, "from")?.ok_or_else(|| malformed("`from` is required"))?;
        let checkpoint = state.published.checkpoint();
        let latest = checkpoint.checkpoint().size;
        let to = size(&query, "to")?.unwrap_or(latest);
        let proof = state
            .published
            .consistency_proof(from, to)
            .map_err(refused)?;
        Ok(axum::Json(json!({
            "from": from,
            "to": to,
            "proof": proof,
            "checkpoint": checkpoint.note(),
        }))
        .into_response())
    })();
    finish(&state, answer)
}

/// The `name=value` members of a query string. Values are record counts,
/// so no percent-decoding is needed: anything else fails to parse as one.
fn members(query: Option<&str>) -> HashMap<&str, &str> {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|member| member.split_once('='))
        .collect()
}

/// Query member `name` as a record count, if present.
fn size(query: &HashMap<&str, &str>, name: &str) -> Result<Option<u64>, ApiError> {
    query
        .get(name)
        .map(|text| {
            text.parse::<u64>()
                .map_err(|_| malformed(&format!("`{name}` must be a whole number, got `{text}`")))
        })
        .transpose()
}

fn malformed(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Malformed, message)
}

/// A proof that cannot be made names why: sizes beyond the checkpoint are
/// 404 (not yet published), anything else about the log is 503.
fn refused(error: ProveError) -> ApiError {
    match error {
        ProveError::NotCheckpointed { .. } | ProveError::Proof(_) => {
            ApiError::new(ErrorCode::NotFound, error.to_string())
        }
        other => {
            tracing::error!(error = %other, "decision log proof");
            ApiError::unavailable("the decision log cannot prove this now")
        }
    }
}

fn finish(state: &AppState, answer: Result<Response, ApiError>) -> Response {
    let response =
        answer.unwrap_or_else(|error| error.into_response_for(&DecisionId::random().to_string()));
    state.metrics.request("log", response.status().as_u16());
    response
}
