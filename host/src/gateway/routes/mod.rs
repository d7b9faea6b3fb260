//! The HTTP routes. Each request is authenticated by its mTLS certificate,
//! checked natively (signature, freshness, single-use nonce, tenant and
//! operator mapping), decided by a sandboxed policy where one applies, and
//! logged, accept or reject, before the response is sent.

pub mod attest;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::gateway::errors::ApiError;
use crate::gateway::serve::PeerCertificate;
use crate::gateway::start::{AppState, Execution, Peer};
use crate::claims::{Claims, DataDocument};
use crate::digest::Digest;
use crate::log::{DecisionId, NewRecord};
use crate::messages::{
    FeedbackResponse, MessageError, ResponseStatus, Telemetry, TelemetryHeaders, UnixSeconds,
    sign_response, verify_feedback, verify_manifest_from, verify_telemetry,
};
use crate::policy::builtin::{ENGINE_VERSIONS, HOST_VERSION};
use crate::policy::{Decision, Policy, PolicyIdentity, PolicyKind};
use crate::timestamp::Timestamp;

/// The gateway's routes over `state`, for the mTLS listener.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/telemetry", post(telemetry))
        .route("/v1/feedback", post(feedback))
        .route("/v1/manifests/verify", post(manifest))
        .route("/v1/challenge", post(challenge))
        .route("/v1/attest", post(attest))
        .route("/.well-known/jwks.json", get(jwks))
        .merge(operations())
        .fallback(|| async { not_found("no such route") })
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The routes of the plaintext listener (`plaintext_listen`): only
/// `GET /healthz` and `GET /metrics`, which carry no tenant data. Every
/// other path is 404 there, so a signed message sent without TLS never
/// reaches a handler and is never logged.
pub fn operations_router(state: Arc<AppState>) -> Router {
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
    ApiError::new(StatusCode::NOT_FOUND, "not_found", message).into_response_for("")
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route takes another method",
    )
    .into_response_for("")
}

/// A request that passed the checks every route shares.
pub(super) struct Admitted {
    pub(super) peer: Peer,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

/// What a route's own work produced: a response whose decision is logged.
pub(super) type RouteResult = Result<Response, ApiError>;

async fn telemetry(State(state): State<Arc<AppState>>, request: Request) -> Response {
    respond(&state, "telemetry", request, telemetry_route).await
}

async fn feedback(State(state): State<Arc<AppState>>, request: Request) -> Response {
    respond(&state, "feedback", request, feedback_route).await
}

async fn manifest(State(state): State<Arc<AppState>>, request: Request) -> Response {
    respond(&state, "manifests", request, manifest_route).await
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
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_configured",
            "attestation is not configured on this gateway ([attestation])",
        )
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

/// Runs the shared checks and the route, logs any refusal as a host decision,
/// and counts the response.
async fn respond<F, Fut>(
    state: &Arc<AppState>,
    route: &'static str,
    request: Request,
    run: F,
) -> Response
where
    F: FnOnce(Arc<AppState>, String, Admitted) -> Fut,
    Fut: Future<Output = RouteResult>,
{
    let request_id = DecisionId::random().to_string();
    let peer_name = peer_of(state, &request).map(|p| p.name.to_string());
    let result = match admit(state, request).await {
        Ok(admitted) => run(state.clone(), request_id.clone(), admitted).await,
        Err(error) => Err(error),
    };
    let response = match result {
        Ok(response) => response,
        Err(error) => {
            let claims = json!({
                "route": route,
                "request_id": request_id,
                "identity": peer_name,
                "status": error.status.as_u16(),
                "code": error.code,
            });
            match log(
                state,
                &request_id,
                Timestamp::now(),
                host_identity(route),
                claims,
                Decision::deny(error.message.clone()),
            )
            .await
            {
                Ok(_) => error.into_response_for(&request_id),
                Err(unlogged) => unlogged.into_response_for(&request_id),
            }
        }
    };
    state.metrics.request(route, response.status().as_u16());
    response
}

fn peer_of<'a>(state: &'a AppState, request: &Request) -> Option<&'a Peer> {
    let cert = request.extensions().get::<PeerCertificate>()?;
    state.peers.get(&cert.fingerprint)
}

/// Identity (pinned certificate, optional `X-Service-Identity`), rate limit,
/// content type and body size.
async fn admit(state: &AppState, request: Request) -> Result<Admitted, ApiError> {
    let peer = peer_of(state, &request).cloned().ok_or_else(|| {
        ApiError::unauthenticated("the client certificate is not pinned to any service identity")
    })?;
    let (parts, body) = request.into_parts();
    if let Some(claimed) = parts.headers.get("x-service-identity")
        && claimed.as_bytes() != peer.name.as_str().as_bytes()
    {
        return Err(ApiError::unauthenticated(
            "X-Service-Identity does not match the client certificate",
        ));
    }
    if !state.rate.allow(&peer.name) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests for this identity",
        ));
    }
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be application/json",
        ));
    }
    let limit = state.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body exceeds {limit} bytes"),
        )
    };
    if content_length(&parts.headers).is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let body = to_bytes(body, limit).await.map_err(|_| too_large())?;
    Ok(Admitted {
        peer,
        headers: parts.headers,
        body,
    })
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn signed_at(seconds: UnixSeconds) -> i64 {
    i64::try_from(seconds.get()).unwrap_or(i64::MAX)
}

async fn telemetry_route(state: Arc<AppState>, request_id: String, a: Admitted) -> RouteResult {
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
    let hash = telemetry.execution_hash;
    let binding_key = format!("binding:{hash}");
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
    let owner = owner.unwrap_or_else(|| telemetry.tenant_id.to_string());
    // What feedback will be checked against: the first accepted report's.
    let execution_key = format!("execution:{hash}");
    let execution = Execution {
        tenant: telemetry.tenant_id.clone(),
        operator: telemetry.operator_id.clone(),
        attestation_measurement_hash: telemetry.attestation_measurement_hash,
    };
    let details = serde_json::to_string(&execution)
        .map_err(|e| ApiError::unavailable(format!("recording the execution: {e}")))?;
    let recorded_now = state
        .ledger
        .bind(&execution_key, &details, state.binding_retention)
        .await
        .map_err(|e| ApiError::unavailable(format!("binding ledger: {e}")))?
        .is_none();
    let mut bindings = serde_json::Map::new();
    bindings.insert(hash.to_string(), json!(owner));
    let claims = json!({
        "record": {
            "tenant_id": telemetry.tenant_id,
            "operator_id": telemetry.operator_id,
            "campaign_id": telemetry.campaign_id,
            "session_binding_hash": hash,
        },
        "bindings": bindings,
    });
    let decided = decide(&state, &request_id, &state.isolation, "isolation", claims).await;
    let accepted = matches!(&decided, Ok((decision, _)) if decision.allow);
    if !accepted {
        // Claims the policy (or the log) refused are released, so the
        // execution's rightful tenant can still report it.
        if claimed_now {
            let _ = state.ledger.take(&binding_key).await;
        }
        if recorded_now {
            let _ = state.ledger.take(&execution_key).await;
        }
    }
    let (decision, decision_id) = decided?;
    if !decision.allow {
        return Ok(policy_denied(&request_id, &decision_id, &decision));
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"request_id": request_id, "decision_id": decision_id})),
    )
        .into_response())
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

pub(super) fn require_tenant_and_operator(
    state: &AppState,
    peer: &Peer,
    tenant: &crate::ids::TenantId,
    operator: &crate::ids::OperatorId,
) -> Result<(), ApiError> {
    if tenant != &peer.tenant {
        return Err(ApiError::forbidden(format!(
            "identity {} may not act for tenant {tenant}",
            peer.name
        )));
    }
    if state.operators.get(operator) != Some(tenant) {
        return Err(ApiError::forbidden(format!(
            "operator {operator} is not mapped to tenant {tenant}"
        )));
    }
    Ok(())
}

async fn feedback_route(state: Arc<AppState>, request_id: String, a: Admitted) -> RouteResult {
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

    let execution = state
        .ledger
        .get(&format!("execution:{}", fb.data.execution_hash))
        .await
        .map_err(|e| ApiError::unavailable(format!("binding ledger: {e}")))?
        .and_then(|details| serde_json::from_str::<Execution>(&details).ok())
        .map(|e| {
            json!({
                "tenant_id": e.tenant,
                "operator_id": e.operator,
                "attestation_measurement_hash": e.attestation_measurement_hash,
            })
        });
    let claims = json!({
        "checks": {"signature": true, "replay": true},
        "caller": {"tenant_id": a.peer.tenant},
        "execution": execution,
        "feedback": {
            "tenant_id": fb.tenant_id,
            "schema_version": fb.schema_version,
            "kid": fb.kid,
            "data": fb.data,
        },
    });
    let (decision, decision_id) =
        decide(&state, &request_id, &state.feedback, "feedback", claims).await?;
    let response = FeedbackResponse {
        status: if decision.allow {
            ResponseStatus::Accepted
        } else {
            ResponseStatus::Rejected
        },
        decision_id,
        reasons: decision.reasons,
        kid: state.gateway_kid.clone(),
        signed_at: UnixSeconds::new(Timestamp::now().unix_seconds().max(0) as u64)
            .ok_or_else(|| ApiError::unavailable("the clock is out of range"))?,
        nonce: crate::ids::Nonce::parse(&DecisionId::random().to_string())
            .map_err(|e| ApiError::unavailable(e.to_string()))?,
    };
    let signed = sign_response(&state.gateway_key, response)
        .map_err(|e: MessageError| ApiError::unavailable(e.to_string()))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        signed.to_json(),
    )
        .into_response())
}

async fn manifest_route(state: Arc<AppState>, request_id: String, a: Admitted) -> RouteResult {
    let body: Value = serde_json::from_slice(&a.body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("invalid JSON: {e}"),
        )
    })?;
    let token = body.get("jws").and_then(Value::as_str).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "schema",
            "the body must be {\"jws\": \"<compact JWS>\"}",
        )
    })?;
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
    let allow = Decision {
        allow: true,
        reasons: Vec::new(),
        trust_vector: None,
        annotations: Vec::new(),
    };
    let record = log(
        &state,
        &request_id,
        Timestamp::now(),
        host_identity("manifests"),
        summary.clone(),
        allow,
    )
    .await?;
    let body = json!({"request_id": request_id, "decision_id": record, "verified": true, "manifest": summary});
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

/// Evaluates `policy` on `claims` in the sandbox and logs the decision.
pub(super) async fn decide(
    state: &AppState,
    request_id: &str,
    policy: &Policy,
    name: &'static str,
    claims: Value,
) -> Result<(Decision, DecisionId), ApiError> {
    let claims = Claims::from_value(claims)
        .map_err(|e| ApiError::unavailable(format!("building claims: {e}")))?;
    let started = Instant::now();
    let evaluated_at = Timestamp::now();
    let decision = policy.evaluate(&claims, evaluated_at).decision;
    state.metrics.decision(name, started.elapsed());
    let id = log(
        state,
        request_id,
        evaluated_at,
        policy.identity().clone(),
        claims.value().clone(),
        decision.clone(),
    )
    .await?;
    Ok((decision, id))
}

async fn log(
    state: &AppState,
    request_id: &str,
    evaluated_at: Timestamp,
    policy: PolicyIdentity,
    claims: Value,
    decision: Decision,
) -> Result<DecisionId, ApiError> {
    let record = NewRecord {
        timestamp: evaluated_at,
        request_id: Some(request_id.to_string()),
        policy,
        claims,
        decision,
    };
    let written = state
        .log
        .append(record)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(written.id)
}

pub(super) fn policy_denied(
    request_id: &str,
    decision_id: &DecisionId,
    decision: &Decision,
) -> Response {
    let body = json!({"error": {
        "code": "policy_denied",
        "message": decision.reasons.join("; "),
        "request_id": request_id,
        "decision_id": decision_id,
    }});
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

/// The identity of the gateway's own checks, for refusals made before any
/// policy ran. `entrypoint` names the route.
fn host_identity(route: &str) -> PolicyIdentity {
    PolicyIdentity {
        kind: PolicyKind::Host,
        digest: Digest::of(b"verdict-gateway-checks/v1"),
        data_digest: DataDocument::empty().digest(),
        entrypoint: Some(route.to_string()),
        module: None,
        host: HOST_VERSION.to_string(),
        engine: ENGINE_VERSIONS.to_string(),
    }
}
