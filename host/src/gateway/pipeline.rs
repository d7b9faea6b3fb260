//! The steps every signed route shares, in order: admit (pinned identity,
//! rate limit, content type, body size), the route's own checks, decide (a
//! sandboxed policy), log (durably, accept or refuse), respond (refusals in
//! the one error envelope of [`crate::gateway::errors`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Bytes, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use crate::claims::{Claims, DataDocument};
use crate::digest::Digest;
use crate::gateway::errors::{ApiError, ErrorBody, ErrorCode};
use crate::gateway::serve::PeerCertificate;
use crate::gateway::state::{AppState, Peer};
use crate::ids::{OperatorId, TenantId};
use crate::log::{Appended, DecisionId, NewRecord};
use crate::messages::UnixSeconds;
use crate::policy::builtin::{ENGINE_VERSIONS, HOST_VERSION};
use crate::policy::{Decision, Policy, PolicyIdentity, PolicyKind};
use crate::timestamp::Timestamp;

/// A request that passed the checks every route shares.
pub(crate) struct Admitted {
    pub(crate) peer: Peer,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// What a route's own work produced: a response whose decision is logged.
pub(crate) type RouteResult = Result<Response, ApiError>;

/// The claims of a refusal made before or instead of a policy decision, as
/// logged under [`host_identity`].
#[derive(Serialize)]
struct Refusal<'a> {
    route: &'static str,
    request_id: &'a str,
    identity: Option<String>,
    status: u16,
    code: ErrorCode,
}

/// Runs the shared checks and the route, logs any refusal as a host decision,
/// and counts the response.
pub(crate) async fn respond<F, Fut>(
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
            let claims = Refusal {
                route,
                request_id: &request_id,
                identity: peer_name,
                status: error.status().as_u16(),
                code: error.code,
            };
            let logged = match host_claims(&claims) {
                Ok(claims) => {
                    log(
                        state,
                        &request_id,
                        Timestamp::now(),
                        host_identity(route),
                        claims,
                        Decision::deny(error.message.clone()),
                    )
                    .await
                }
                Err(unbuilt) => Err(unbuilt),
            };
            match logged {
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
            ErrorCode::RateLimited,
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
            ErrorCode::UnsupportedMediaType,
            "the body must be application/json",
        ));
    }
    let limit = state.max_body_bytes;
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
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

/// A message's signing time as the freshness check takes it.
pub(crate) fn signed_at(seconds: UnixSeconds) -> i64 {
    i64::try_from(seconds.get()).unwrap_or(i64::MAX)
}

/// The request's tenant must be the identity's, and its operator mapped to
/// that tenant.
pub(crate) fn require_tenant_and_operator(
    state: &AppState,
    peer: &Peer,
    tenant: &TenantId,
    operator: &OperatorId,
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

/// `input` as the claims a policy is given (canonical) and the log records.
fn policy_claims(input: &impl Serialize) -> Result<Claims, ApiError> {
    let value = host_claims(input)?;
    Claims::from_value(value).map_err(|e| ApiError::unavailable(format!("building claims: {e}")))
}

/// The claims of a host decision, as the log records them.
fn host_claims(claims: &impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(claims).map_err(|e| ApiError::unavailable(format!("building claims: {e}")))
}

/// Evaluates `policy` on `input` in the sandbox and logs the decision.
pub(crate) async fn decide(
    state: &AppState,
    request_id: &str,
    policy: &Policy,
    name: &'static str,
    input: &impl Serialize,
) -> Result<(Decision, Appended), ApiError> {
    let claims = policy_claims(input)?;
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

/// Logs the gateway's own decision to accept `claims` on `route` (no policy
/// ran: the native checks are the whole decision).
pub(crate) async fn log_host_accept(
    state: &AppState,
    request_id: &str,
    route: &'static str,
    claims: &impl Serialize,
) -> Result<Appended, ApiError> {
    let allow = Decision {
        allow: true,
        reasons: Vec::new(),
        trust_vector: None,
        annotations: Vec::new(),
    };
    log(
        state,
        request_id,
        Timestamp::now(),
        host_identity(route),
        host_claims(claims)?,
        allow,
    )
    .await
}

async fn log(
    state: &AppState,
    request_id: &str,
    evaluated_at: Timestamp,
    policy: PolicyIdentity,
    claims: Value,
    decision: Decision,
) -> Result<Appended, ApiError> {
    let record = NewRecord {
        timestamp: evaluated_at,
        request_id: Some(request_id.to_string()),
        policy,
        claims,
        decision,
    };
    state
        .log
        .append(record)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))
}

/// The header a feedback response carries its decision's leaf index in
/// (its signed body's members are fixed by docs/federation.md).
pub(crate) const LEAF_INDEX_HEADER: &str = "x-verdict-leaf-index";

/// 403 `policy_denied`: the decision's reasons, its id and leaf index.
pub(crate) fn policy_denied(request_id: &str, record: &Appended, decision: &Decision) -> Response {
    ErrorBody {
        code: ErrorCode::PolicyDenied,
        decision_id: Some(&record.id),
        leaf_index: Some(record.seq),
        message: &decision.reasons.join("; "),
        request_id,
    }
    .into_response()
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
