//! `POST /v1/feedback`: signed feedback, decided by the feedback-acceptance
//! policy against what accepted telemetry recorded; the answer is signed.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::gateway::errors::ApiError;
use crate::gateway::ledger::{Execution, LedgerKey};
use crate::gateway::pipeline::{Admitted, LEAF_INDEX_HEADER, RouteResult, decide, signed_at};
use crate::gateway::policy_input::{
    FeedbackCaller, FeedbackChecks, FeedbackInput, FeedbackMessage, RecordedExecution,
};
use crate::gateway::state::AppState;
use crate::ids::Nonce;
use crate::log::DecisionId;
use crate::messages::{
    FeedbackResponse, MessageError, ResponseStatus, UnixSeconds, sign_response, verify_feedback,
};
use crate::timestamp::Timestamp;

pub(super) async fn route(state: Arc<AppState>, request_id: String, a: Admitted) -> RouteResult {
    let fb = verify_feedback(&a.body, &state.keyring, &a.peer.name)?;
    if fb.tenant_id != a.peer.tenant {
        return Err(ApiError::forbidden(format!(
            "identity {} may not act for tenant {}",
            a.peer.name, fb.tenant_id
        )));
    }
    state
        .guards
        .feedback
        .admit(
            &fb.tenant_id,
            &fb.nonce,
            signed_at(fb.signed_at),
            Timestamp::now(),
        )
        .await?;

    let input = FeedbackInput {
        checks: FeedbackChecks {
            signature: true,
            replay: true,
        },
        caller: FeedbackCaller {
            tenant_id: a.peer.tenant.clone(),
        },
        execution: recorded_execution(&state, &fb.data.execution_hash.to_digest()).await?,
        feedback: FeedbackMessage {
            tenant_id: fb.tenant_id,
            schema_version: fb.schema_version,
            kid: fb.kid,
            data: fb.data,
        },
    };
    let (decision, record) =
        decide(&state, &request_id, &state.feedback, "feedback", &input).await?;
    let response = FeedbackResponse {
        status: if decision.allow {
            ResponseStatus::Accepted
        } else {
            ResponseStatus::Rejected
        },
        decision_id: record.id,
        reasons: decision.reasons,
        kid: state.gateway_kid.clone(),
        signed_at: UnixSeconds::new(Timestamp::now().unix_seconds().max(0) as u64)
            .ok_or_else(|| ApiError::unavailable("the clock is out of range"))?,
        nonce: Nonce::parse(&DecisionId::random().to_string())
            .map_err(|e| ApiError::unavailable(e.to_string()))?,
    };
    let signed = sign_response(&state.gateway_key, response)
        .map_err(|e: MessageError| ApiError::unavailable(e.to_string()))?;
    // The signed body's members are fixed (docs/federation.md), so the
    // decision's leaf index travels beside it, as a header.
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::HeaderName::from_static(LEAF_INDEX_HEADER),
                record.seq.to_string(),
            ),
        ],
        signed.to_json(),
    )
        .into_response())
}

/// What accepted telemetry recorded about the execution `hash`; `None`
/// when nothing was, an error when the record is corrupt.
async fn recorded_execution(
    state: &AppState,
    hash: &crate::digest::Digest,
) -> Result<Option<RecordedExecution>, ApiError> {
    let key = LedgerKey::Execution(hash);
    let Some(record) = state
        .ledger
        .get(&key.to_string())
        .await
        .map_err(|e| ApiError::unavailable(format!("binding ledger: {e}")))?
    else {
        return Ok(None);
    };
    let execution = Execution::from_record(key, &record)
        .map_err(|e| ApiError::unavailable(format!("binding ledger: {e}")))?;
    Ok(Some(RecordedExecution {
        tenant_id: execution.tenant,
        operator_id: execution.operator,
        attestation_measurement_hash: execution.attestation_measurement_hash,
    }))
}
