//! `POST /v1/telemetry`: signed telemetry, decided by the tenant-isolation
//! policy after the execution is claimed for the tenant in the ledger.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;

use crate::digest::Digest;
use crate::gateway::errors::ApiError;
use crate::gateway::ledger::{Execution, LedgerKey, holder};
use crate::gateway::pipeline::{
    Admitted, RouteResult, decide, policy_denied, require_tenant_and_operator, signed_at,
};
use crate::gateway::policy_input::{IsolationInput, IsolationRecord};
use crate::gateway::state::{AppState, Peer};
use crate::messages::{Telemetry, TelemetryHeaders, verify_telemetry};
use crate::timestamp::Timestamp;

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(super) async fn route(state: Arc<AppState>, request_id: String, a: Admitted) -> RouteResult {
    let headers = TelemetryHeaders::parse(
        header_str(&a.headers, "x-telemetry-timestamp"),
        header_str(&a.headers, "x-telemetry-nonce"),
        header_str(&a.headers, "x-telemetry-signature"),
    )?;
    let telemetry = verify_with_any_key(&headers, &a.body, &a.peer)?;
    require_tenant_and_operator(
        &state,
        &a.peer,
        &telemetry.tenant_id,
        &telemetry.operator_id,
    )?;
    state
        .guards
        .telemetry
        .admit(
            &telemetry.tenant_id,
            headers.nonce(),
            signed_at(telemetry.timestamp),
            Timestamp::now(),
        )
        .await?;

    // Claim the execution for this tenant atomically before deciding, so
    // two tenants reporting it at once cannot both be accepted; a claim the
    // policy then refuses is released.
    let hash = telemetry.execution_hash.to_digest();
    let binding_key = LedgerKey::Binding(&hash).to_string();
    let owner = state
        .ledger
        .bind(
            &binding_key,
            telemetry.tenant_id.as_str(),
            state.binding_retention,
        )
        .await
        .map_err(|e| ApiError::unavailable(format!("binding ledger: {e}")))?;
    let claimed_now = owner.is_none();
    let owner = match owner {
        None => telemetry.tenant_id.clone(),
        Some(owner) => holder(LedgerKey::Binding(&hash), &owner)
            .map_err(|e| ApiError::unavailable(format!("binding ledger: {e}")))?,
    };
    // What feedback will be checked against, recorded only once the policy
    // allowed, so a refused report never leaves (or removes) a record.
    let execution = Execution {
        tenant: telemetry.tenant_id.clone(),
        operator: telemetry.operator_id.clone(),
        attestation_measurement_hash: telemetry.attestation_measurement_hash,
    };
    let tenant = telemetry.tenant_id.clone();
    let input = IsolationInput::new(
        IsolationRecord {
            tenant_id: telemetry.tenant_id,
            operator_id: telemetry.operator_id,
            campaign_id: Some(telemetry.campaign_id),
            session_binding_hash: telemetry.execution_hash,
        },
        owner,
    );
    let decided = decide(&state, &request_id, &state.isolation, "isolation", &input).await;
    let accepted = matches!(&decided, Ok((decision, _)) if decision.allow);
    if !accepted && claimed_now {
        // A claim the policy (or the log) refused is released, so the
        // execution's rightful tenant can still report it; only while it is
        // still this tenant's, never another request's claim.
        let _ = state.ledger.release(&binding_key, tenant.as_str()).await;
    }
    let (decision, record) = decided?;
    if !decision.allow {
        return Ok(policy_denied(&request_id, &record, &decision));
    }
    record_execution(&state, &hash, &execution).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({
            "request_id": request_id,
            "decision_id": record.id,
            "leaf_index": record.seq,
        })),
    )
        .into_response())
}

/// Records what feedback on an accepted execution is checked against: the
/// first accepted report's tenant, operator and measurement.
async fn record_execution(
    state: &AppState,
    hash: &Digest,
    execution: &Execution,
) -> Result<(), ApiError> {
    let details = execution
        .to_record()
        .map_err(|e| ApiError::unavailable(format!("recording the execution: {e}")))?;
    state
        .ledger
        .bind(
            &LedgerKey::Execution(hash).to_string(),
            &details,
            state.binding_retention,
        )
        .await
        .map_err(|e| ApiError::unavailable(format!("binding ledger: {e}")))?;
    Ok(())
}

/// Telemetry carries no key id: any of the identity's active keys may sign it
/// (rotation keeps the old one active until it is retired).
fn verify_with_any_key(
    headers: &TelemetryHeaders,
    body: &[u8],
    peer: &Peer,
) -> Result<Telemetry, ApiError> {
    let mut first_error = None;
    for key in &peer.telemetry_keys {
        match verify_telemetry(headers, body, key) {
            Ok(telemetry) => return Ok(telemetry),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    Err(first_error.map_or_else(
        || ApiError::unauthenticated("this identity has no active signing key"),
        ApiError::from,
    ))
}
