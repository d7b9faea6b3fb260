//! What the gateway gives its policies as `input`: one type per policy,
//! serializing to exactly the JSON its Rego reads (and docs/claims.md
//! describes member by member). tests/all/gateway/policy_input.rs evaluates
//! the shipped Rego on these types, so a renamed member fails a test instead
//! of silently denying.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ids::{Kid, OperatorId, TenantId};
use crate::messages::{CampaignId, FeedbackData, SchemaVersion, Sha256Hex};

/// The input of the tenant-isolation policy, `policies/isolation.rego`
/// (package `verdict.isolation`; its Rust twin is `components/isolation`).
///
/// The policy allows when the record has a tenant and a session binding,
/// the binding is held by the record's tenant, and the record's operator is
/// mapped to that tenant in the policy's data.
///
/// ```
/// use verdict_host::digest::Digest;
/// use verdict_host::gateway::policy_input::{IsolationInput, IsolationRecord};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let hash = Digest::of(b"execution");
/// let record = IsolationRecord {
///     tenant_id: "tenant-a".parse()?,
///     operator_id: "op-a1".parse()?,
///     campaign_id: None,
///     session_binding_hash: hash.into(),
/// };
/// let input = serde_json::to_value(IsolationInput::new(record, "tenant-a".parse()?))?;
/// assert_eq!(input["record"]["session_binding_hash"], hash.hex());
/// assert_eq!(input["bindings"][hash.hex()], "tenant-a");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IsolationInput {
    /// `input.record`: the request being decided.
    pub record: IsolationRecord,
    /// `input.bindings`: who holds each session binding,
    /// `{<session_binding_hash>: <tenant>}`. The gateway gives the record's
    /// own binding only.
    pub bindings: BTreeMap<Sha256Hex, TenantId>,
}

/// `input.record` of [`IsolationInput`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IsolationRecord {
    /// `tenant_id`: the tenant the request acts for.
    pub tenant_id: TenantId,
    /// `operator_id`: the operator it names; must map to `tenant_id`.
    pub operator_id: OperatorId,
    /// `campaign_id`: telemetry's campaign; absent for an attestation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<CampaignId>,
    /// `session_binding_hash`: the execution hash of telemetry, or the
    /// session binding of an attestation.
    pub session_binding_hash: Sha256Hex,
}

impl IsolationInput {
    /// The input deciding `record`, whose session binding `holder` holds
    /// (the record's own tenant, unless another claimed it first).
    pub fn new(record: IsolationRecord, holder: TenantId) -> Self {
        let bindings = BTreeMap::from([(record.session_binding_hash, holder)]);
        Self { record, bindings }
    }
}

/// The input of the feedback-acceptance policy, `policies/feedback.rego`
/// (package `verdict.feedback`; its Rust twin is `components/feedback`;
/// docs/claims.md, "feedback").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackInput {
    /// `input.checks`: what the gateway verified before asking.
    pub checks: FeedbackChecks,
    /// `input.caller`: the authenticated peer.
    pub caller: FeedbackCaller,
    /// `input.execution`: what accepted telemetry recorded about the
    /// execution the feedback names; `null` when nothing was recorded.
    pub execution: Option<RecordedExecution>,
    /// `input.feedback`: the verified feedback message.
    pub feedback: FeedbackMessage,
}

/// `input.checks` of [`FeedbackInput`]; the policy passes only on `true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FeedbackChecks {
    /// `signature`: the message's signature verified.
    pub signature: bool,
    /// `replay`: the message is fresh and its nonce unused.
    pub replay: bool,
}

/// `input.caller` of [`FeedbackInput`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedbackCaller {
    /// `tenant_id`: the calling identity's tenant.
    pub tenant_id: TenantId,
}

/// `input.execution` of [`FeedbackInput`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedExecution {
    /// `tenant_id`: the tenant whose telemetry was accepted.
    pub tenant_id: TenantId,
    /// `operator_id`: the operator that telemetry named.
    pub operator_id: OperatorId,
    /// `attestation_measurement_hash`: the measurement it reported.
    pub attestation_measurement_hash: Sha256Hex,
}

/// `input.feedback` of [`FeedbackInput`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackMessage {
    /// `tenant_id`: the tenant the feedback is about.
    pub tenant_id: TenantId,
    /// `schema_version`: must be one the policy's data lists.
    pub schema_version: SchemaVersion,
    /// `kid`: the key that signed the feedback.
    pub kid: Kid,
    /// `data`: the feedback itself.
    pub data: FeedbackData,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn record(campaign: Option<&str>) -> IsolationRecord {
        IsolationRecord {
            tenant_id: "tenant-a".parse().unwrap(),
            operator_id: "op-a1".parse().unwrap(),
            campaign_id: campaign.map(|c| c.parse().unwrap()),
            session_binding_hash: Digest::of(b"execution").into(),
        }
    }

    #[test]
    fn isolation_input_has_the_members_the_rego_reads() {
        let hash = Digest::of(b"execution").hex();
        let input = IsolationInput::new(record(Some("c1")), "tenant-b".parse().unwrap());
        assert_eq!(
            serde_json::to_value(&input).unwrap(),
            serde_json::json!({
                "record": {
                    "tenant_id": "tenant-a",
                    "operator_id": "op-a1",
                    "campaign_id": "c1",
                    "session_binding_hash": hash,
                },
                "bindings": {hash.clone(): "tenant-b"},
            })
        );
        let attestation = serde_json::to_value(IsolationInput::new(
            record(None),
            "tenant-a".parse().unwrap(),
        ))
        .unwrap();
        assert!(
            attestation["record"].get("campaign_id").is_none(),
            "no campaign member without a campaign: {attestation}"
        );
    }
}
