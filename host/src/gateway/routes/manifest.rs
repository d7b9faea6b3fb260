//! `POST /v1/manifests/verify`: a JWS execution manifest, verified natively
//! (no policy) and logged as the gateway's own decision.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::gateway::errors::{ApiError, ErrorCode};
use crate::gateway::pipeline::{
    Admitted, RouteResult, log_host_accept, require_tenant_and_operator, signed_at,
};
use crate::gateway::state::AppState;
use crate::messages::verify_manifest_from;
use crate::timestamp::Timestamp;

pub(super) async fn route(state: Arc<AppState>, request_id: String, a: Admitted) -> RouteResult {
    let body: Value = serde_json::from_slice(&a.body)
        .map_err(|e| ApiError::new(ErrorCode::Malformed, format!("invalid JSON: {e}")))?;
    let token = body
        .get("jws")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::schema("the body must be {\"jws\": \"<compact JWS>\"}"))?;
    let manifest = verify_manifest_from(token, &state.keyring, &a.peer.name)?;
    let context = &manifest.task_context;
    require_tenant_and_operator(&state, &a.peer, &context.tenant_id, &context.operator_id)?;
    state
        .guards
        .manifest
        .admit(
            &context.tenant_id,
            &manifest.nonce,
            signed_at(manifest.issued_at),
            Timestamp::now(),
        )
        .await?;
    let summary = json!({
        "task_id": context.task_id,
        "tenant_id": context.tenant_id,
        "operator_id": context.operator_id,
        "target_urn": manifest.target_urn.as_str(),
        "tool_sha256": manifest.tool_sha256.to_string(),
        "manifest_version": manifest.manifest_version.version().to_string(),
    });
    let record = log_host_accept(&state, &request_id, "manifests", &summary).await?;
    let body = json!({
        "request_id": request_id,
        "decision_id": record.id,
        "leaf_index": record.seq,
        "verified": true,
        "manifest": summary,
    });
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}
