//! Mutual attestation over HTTP: `POST /v1/challenge`, `POST /v1/attest`
//! and the EAR verification keys at `GET /.well-known/jwks.json`
//! (docs/attestation.md).
//!
//! Every failure is terminal: a challenge is taken from the ledger before
//! anything else is checked, so an attempt that fails for any reason cannot
//! be retried with the same challenge.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::antireplay::StoreError;
use crate::crypto::{SignatureAlgorithm, SigningKey, VerifyingKey};
use crate::digest::Digest;
use crate::ear::{AttestationResult, EarStatus};
use crate::evidence::memory::report::{self, MemoryAppraisal};
use crate::evidence::session::{KeyThumbprint, SessionBinding, bound_nonce, control_plane_nonce};
use crate::evidence::{
    self, EntryClaims, EvidenceDocument, EvidenceEntry, EvidenceNonce, VerifyOptions,
};
use crate::gateway::errors::{ApiError, ErrorBody, ErrorCode};
use crate::gateway::ledger::{LedgerKey, holder};
use crate::gateway::pipeline::{
    Admitted, RouteResult, decide, policy_denied, require_tenant_and_operator,
};
use crate::gateway::policy_input::{IsolationInput, IsolationRecord};
use crate::gateway::state::{AppState, Attestation, ControlPlaneTpm};
use crate::ids::{OperatorId, TenantId};
use crate::messages::JsonObject;
use crate::timestamp::Timestamp;

/// The context string of the runner's signature over its attest request.
pub const ATTEST_REQUEST_CONTEXT: &str = "verdict/attest-request/v1";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeRequest {
    tenant_id: TenantId,
    operator_id: OperatorId,
}

/// The body of `POST /v1/attest`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttestRequest {
    challenge: EvidenceNonce,
    tenant_id: TenantId,
    operator_id: OperatorId,
    execution_fingerprint: Digest,
    ephemeral_public_key: String,
    runner_nonce: EvidenceNonce,
    evidence: Value,
    signature: String,
}

fn attestation(state: &AppState) -> Result<&Attestation, ApiError> {
    state
        .attestation
        .as_ref()
        .ok_or_else(ApiError::attestation_not_configured)
}

fn schema(message: impl Into<String>) -> ApiError {
    ApiError::schema(message)
}

/// Parses a body as I-JSON (no member named twice, at any depth): 400 when
/// it is not JSON, 422 when it is not an object.
fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map_err(|e| ApiError::new(ErrorCode::Malformed, format!("invalid JSON: {e}")))?;
    let object: JsonObject = serde_json::from_slice(body).map_err(|e| schema(e.to_string()))?;
    Ok(object.into_map())
}

/// Reads a parsed body as `T` (422 when it does not fit).
fn parse<T: serde::de::DeserializeOwned>(object: &Map<String, Value>) -> Result<T, ApiError> {
    T::deserialize(object).map_err(|e| schema(e.to_string()))
}

fn store_error(error: StoreError) -> ApiError {
    ApiError::unavailable(format!("attestation ledger: {error}"))
}

/// `POST /v1/challenge`: a fresh nonce bound to the caller's tenant and
/// operator, answerable once within the challenge TTL.
pub(super) async fn challenge_route(
    state: Arc<AppState>,
    _request_id: String,
    a: Admitted,
) -> RouteResult {
    let attestation = attestation(&state)?;
    let request: ChallengeRequest = parse(&parse_object(&a.body)?)?;
    require_tenant_and_operator(&state, &a.peer, &request.tenant_id, &request.operator_id)?;
    let nonce = EvidenceNonce::random();
    let owner = challenge_owner(
        &request.tenant_id,
        &request.operator_id,
        a.peer.name.as_str(),
    );
    let taken = state
        .ledger
        .bind(
            &LedgerKey::Challenge(&nonce).to_string(),
            &owner,
            attestation.challenge_ttl,
        )
        .await
        .map_err(store_error)?;
    if taken.is_some() {
        return Err(ApiError::unavailable("a random challenge collided; retry"));
    }
    let expires_at = Timestamp::now().unix_seconds() + attestation.challenge_ttl.as_secs() as i64;
    let body = json!({"challenge": nonce, "expires_at": expires_at});
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

fn challenge_owner(tenant: &TenantId, operator: &OperatorId, identity: &str) -> String {
    format!("{tenant} {operator} {identity}")
}

/// `POST /v1/attest`: see the module docs and docs/attestation.md.
pub(super) async fn attest_route(
    state: Arc<AppState>,
    request_id: String,
    a: Admitted,
) -> RouteResult {
    let attestation = attestation(&state)?;
    let object = parse_object(&a.body)?;
    let request: AttestRequest = parse(&object)?;
    take_challenge(&state, &request, a.peer.name.as_str()).await?;
    require_tenant_and_operator(&state, &a.peer, &request.tenant_id, &request.operator_id)?;
    let ephemeral = verify_request_signature(object, &request)?;
    let thumbprint = KeyThumbprint::of(&ephemeral)
        .ok_or_else(|| schema("ephemeral_public_key must be an Ed25519 key"))?;
    let expected = bound_nonce(&request.challenge, &ephemeral);
    let claims = verify_evidence(request.evidence, expected, &attestation.memory)?;
    let binding = SessionBinding {
        control_plane: &attestation.control_plane,
        challenge: &request.challenge,
        tenant: &request.tenant_id,
        operator: &request.operator_id,
        pcr_digest: &pcr_digest(&claims.evidence),
        ephemeral_key: &thumbprint,
    }
    .hash();
    // Read, not bound: the binding is recorded only once the appraisal
    // affirms (below), so a denied attestation leaves nothing usable behind.
    let owner = match state
        .ledger
        .get(&LedgerKey::Binding(&binding).to_string())
        .await
        .map_err(store_error)?
    {
        None => request.tenant_id.clone(),
        Some(owner) => holder(LedgerKey::Binding(&binding), &owner)
            .map_err(|e| ApiError::unavailable(format!("attestation ledger: {e}")))?,
    };
    let isolation_claims = IsolationInput::new(
        IsolationRecord {
            tenant_id: request.tenant_id.clone(),
            operator_id: request.operator_id.clone(),
            campaign_id: None,
            session_binding_hash: binding.into(),
        },
        owner,
    );
    let (isolation, isolation_record) = decide(
        &state,
        &request_id,
        &state.isolation,
        "isolation",
        &isolation_claims,
    )
    .await?;
    if !isolation.allow {
        return Ok(policy_denied(&request_id, &isolation_record, &isolation));
    }
    let appraisal_claims = json!({
        "evidence": claims.to_value().map_err(|e| ApiError::unavailable(e.to_string()))?,
        "session": {
            "tenant_id": request.tenant_id,
            "operator_id": request.operator_id,
            "identity": a.peer.name,
            "execution_fingerprint": request.execution_fingerprint,
            "ephemeral_key_id": ephemeral.key_id(),
            "ephemeral_key_thumbprint": thumbprint,
            "session_binding_hash": binding.hex(),
        },
    });
    let (decision, record) = decide(
        &state,
        &request_id,
        &attestation.policy,
        "attestation",
        &appraisal_claims,
    )
    .await?;
    if decision.allow {
        bind_session(&state, attestation, &binding, &request.tenant_id).await?;
    }
    let status = EarStatus::of_decision(&decision);
    let now = Timestamp::now().unix_seconds();
    let mut extensions = serde_json::Map::new();
    extensions.insert("verdict.decision-id".into(), json!(record.id));
    extensions.insert("verdict.session-binding-hash".into(), json!(binding.hex()));
    extensions.insert("verdict.tenant".into(), json!(request.tenant_id));
    let ear = attestation.ear.issue(&AttestationResult {
        status,
        trust_vector: decision.trust_vector,
        policy_id: &attestation.policy_id,
        policy_digest: &attestation.policy.identity().digest,
        nonce: &request.challenge.hex(),
        issued_at: now,
        expires_at: now + attestation.ear_ttl.as_secs() as i64,
        confirmation_key: Some(&thumbprint),
        extensions,
    });
    let control_plane_evidence = control_plane_evidence(
        attestation,
        &control_plane_nonce(&request.runner_nonce, &binding),
    )
    .await?;
    let http_status = if decision.allow {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    let mut body = json!({
        "request_id": request_id,
        "decision_id": record.id,
        "leaf_index": record.seq,
        "status": status,
        "reasons": decision.reasons,
        "ear": ear,
        "session_binding_hash": binding.hex(),
        "ephemeral_key_id": ephemeral.key_id(),
        "ephemeral_key_thumbprint": thumbprint,
        "control_plane_evidence": control_plane_evidence,
    });
    if !decision.allow {
        let error = ErrorBody {
            code: ErrorCode::PolicyDenied,
            decision_id: None,
            leaf_index: None,
            message: &decision.reasons.join("; "),
            request_id: &request_id,
        };
        body["error"] = serde_json::to_value(error)
            .map_err(|e| ApiError::unavailable(format!("the error body: {e}")))?;
    }
    Ok((http_status, axum::Json(body)).into_response())
}

/// Records the affirmed session binding for `tenant`. The binding hash
/// covers the single-use challenge, so another holder means a concurrent
/// request raced this one: refused, never shared.
async fn bind_session(
    state: &AppState,
    attestation: &Attestation,
    binding: &Digest,
    tenant: &TenantId,
) -> Result<(), ApiError> {
    let held = state
        .ledger
        .bind(
            &LedgerKey::Binding(binding).to_string(),
            tenant.as_str(),
            attestation.binding_retention,
        )
        .await
        .map_err(store_error)?;
    match held {
        Some(owner) if owner != tenant.as_str() => Err(ApiError::forbidden(
            "the session binding was bound to another tenant meanwhile",
        )),
        _ => Ok(()),
    }
}

async fn take_challenge(
    state: &AppState,
    request: &AttestRequest,
    identity: &str,
) -> Result<(), ApiError> {
    let owner = state
        .ledger
        .take(&LedgerKey::Challenge(&request.challenge).to_string())
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            ApiError::unauthenticated("the challenge is unknown, expired or already used")
        })?;
    if owner != challenge_owner(&request.tenant_id, &request.operator_id, identity) {
        return Err(ApiError::forbidden(
            "the challenge was issued to another tenant, operator or identity",
        ));
    }
    Ok(())
}

/// Checks the runner's Ed25519 signature, by the ephemeral key the request
/// carries, over the RFC 8785 canonical JSON of the request without its
/// `signature` member; proves the runner holds the key its evidence binds.
fn verify_request_signature(
    object: Map<String, Value>,
    request: &AttestRequest,
) -> Result<VerifyingKey, ApiError> {
    let raw = BASE64
        .decode(&request.ephemeral_public_key)
        .map_err(|_| schema("ephemeral_public_key is not base64"))?;
    let key = VerifyingKey::from_raw(SignatureAlgorithm::Ed25519, &raw)
        .map_err(|e| schema(format!("ephemeral_public_key: {e}")))?;
    let signature = BASE64
        .decode(&request.signature)
        .map_err(|_| schema("signature is not base64"))?;
    let message = signing_input(object);
    key.verify(ATTEST_REQUEST_CONTEXT, &message, &signature)
        .map_err(|_| {
            ApiError::unauthenticated("the request signature by the ephemeral key does not verify")
        })?;
    Ok(key)
}

/// The runner's side: adds `ephemeral_public_key` and `signature` to an
/// attest request, signed by its ephemeral key over [`signing_input`].
pub fn sign_request(
    ephemeral: &SigningKey,
    mut request: Map<String, Value>,
) -> Result<Value, crate::crypto::SignError> {
    request.insert(
        "ephemeral_public_key".into(),
        Value::String(BASE64.encode(ephemeral.verifying_key().raw())),
    );
    let signature = ephemeral.sign(ATTEST_REQUEST_CONTEXT, &signing_input(request.clone()))?;
    request.insert("signature".into(), Value::String(BASE64.encode(signature)));
    Ok(Value::Object(request))
}

/// What the ephemeral key signs: the RFC 8785 canonical JSON of the request
/// without its `signature` member.
pub fn signing_input(mut request: Map<String, Value>) -> Vec<u8> {
    request.remove("signature");
    // Serializing a map of JSON values cannot fail; an empty input would
    // only make the signature check fail, never pass.
    serde_jcs::to_vec(&request).unwrap_or_default()
}

fn verify_evidence(
    evidence: Value,
    expected: EvidenceNonce,
    memory: &MemoryAppraisal,
) -> Result<evidence::EvidenceClaims, ApiError> {
    let document =
        EvidenceDocument::from_value(evidence).map_err(|e| schema(format!("evidence: {e}")))?;
    let options = VerifyOptions {
        expected_nonce: Some(expected),
        now: Timestamp::now(),
        memory: memory.clone(),
    };
    evidence::verify(&document, &options)
        .map_err(|e| ApiError::new(ErrorCode::EvidenceInvalid, e.to_string()))
}

/// The PCR digest of the first TPM quote (empty without one).
fn pcr_digest(evidence: &[EntryClaims]) -> Vec<u8> {
    evidence
        .iter()
        .find_map(|entry| match entry {
            EntryClaims::Tpm(tpm) => hex::decode(&tpm.pcr_digest).ok(),
            _ => None,
        })
        .unwrap_or_default()
}

/// The control plane's own evidence over `nonce` (the runner's nonce bound
/// to the session, [`control_plane_nonce`]): a memory report of its
/// executable and attestation policy, signed now, and a quote from its own
/// TPM when one is configured.
async fn control_plane_evidence(
    attestation: &Attestation,
    nonce: &EvidenceNonce,
) -> Result<Value, ApiError> {
    let platform = report::platform();
    let signed = report::sign_measured(
        attestation.self_regions.clone(),
        report::ReportMeta {
            workload_id: "verdict-gateway",
            platform: &platform,
            nonce,
            expected: BTreeMap::new(),
            ttl: report::DEFAULT_TTL,
            now: Timestamp::now(),
        },
        &attestation.evidence_key,
    )
    .map_err(|e| ApiError::unavailable(format!("control-plane evidence: {e}")))?;
    let mut evidence = vec![EvidenceEntry::memory_report(&signed)];
    if let Some(tpm) = &attestation.tpm {
        evidence.push(control_plane_quote(tpm, nonce).await?);
    }
    let document = EvidenceDocument {
        nonce: Some(nonce.clone()),
        evidence,
    };
    Ok(document.to_value())
}

#[cfg(feature = "tpm-collect")]
async fn control_plane_quote(
    tpm: &ControlPlaneTpm,
    nonce: &EvidenceNonce,
) -> Result<EvidenceEntry, ApiError> {
    use crate::evidence::tpm::{AkAlgorithm, PcrSelectionSpec, QuoteRequest, quote};
    let _one_at_a_time = tpm.lock.lock().await;
    let (tcti, ak_handle, nonce) = (tpm.tcti.clone(), tpm.ak_handle, nonce.as_bytes().to_vec());
    let entry = tokio::task::spawn_blocking(move || {
        quote(&QuoteRequest {
            tcti: &tcti,
            nonce: &nonce,
            pcrs: &PcrSelectionSpec::default(),
            ak_algorithm: AkAlgorithm::EcdsaP256,
            persistent_ak: ak_handle,
        })
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("control-plane quote: {e}")))?
    .map_err(|e| ApiError::unavailable(format!("control-plane quote: {e}")))?;
    Ok(EvidenceEntry::Tpm(entry))
}

#[cfg(not(feature = "tpm-collect"))]
async fn control_plane_quote(
    _: &ControlPlaneTpm,
    _: &EvidenceNonce,
) -> Result<EvidenceEntry, ApiError> {
    // Refused at start-up (gateway/start/attestation.rs); unreachable at run time.
    Err(ApiError::unavailable("this build cannot quote a TPM"))
}
