//! The gateway's policy inputs (`gateway::policy_input`) against the Rego
//! they are written for: the shipped policies are evaluated on the typed
//! inputs, so a member renamed on either side fails here rather than
//! silently denying every request.

use serde_json::json;
use verdict_host::digest::Digest;
use verdict_host::gateway::policy_input::{
    FeedbackCaller, FeedbackChecks, FeedbackInput, FeedbackMessage, IsolationInput,
    IsolationRecord, RecordedExecution,
};
use verdict_host::messages::Sha256Hex;
use verdict_host::policy::{Decision, Policy};

use crate::common::{claims, now, rego_file, root};

fn policy(name: &str) -> Policy {
    let data = std::fs::read_to_string(root().join(format!("examples/{name}/data.json")))
        .expect("example data");
    rego_file(
        &root().join(format!("policies/{name}.rego")),
        serde_json::from_str(&data).expect("data is JSON"),
    )
}

fn decide(policy: &Policy, input: serde_json::Value) -> Decision {
    policy.evaluate(&claims(input), now()).decision
}

/// A typed input as the JSON the gateway gives the policy.
macro_rules! input {
    ($input:expr) => {
        serde_json::to_value($input).expect("the input serializes")
    };
}

fn hash(label: &str) -> Sha256Hex {
    Digest::of(label.as_bytes()).into()
}

fn isolation_record(tenant: &str, operator: &str) -> IsolationRecord {
    IsolationRecord {
        tenant_id: tenant.parse().unwrap(),
        operator_id: operator.parse().unwrap(),
        campaign_id: Some("campaign-1".parse().unwrap()),
        session_binding_hash: hash("execution"),
    }
}

#[test]
fn isolation_rego_reads_every_member_of_its_input() {
    let isolation = policy("isolation");
    let allowed = decide(
        &isolation,
        input!(&IsolationInput::new(
            isolation_record("tenant-a", "op-a1"),
            "tenant-a".parse().unwrap()
        )),
    );
    assert!(allowed.allow, "{allowed:?}");
    // `bindings`: the binding held by another tenant.
    let held = decide(
        &isolation,
        input!(&IsolationInput::new(
            isolation_record("tenant-a", "op-a1"),
            "tenant-b".parse().unwrap()
        )),
    );
    assert_eq!(
        held.reasons,
        ["session binding is already bound to another tenant"]
    );
    // `record.operator_id`: an operator of another tenant.
    let operator = decide(
        &isolation,
        input!(&IsolationInput::new(
            isolation_record("tenant-a", "op-b1"),
            "tenant-a".parse().unwrap()
        )),
    );
    assert_eq!(
        operator.reasons,
        ["operator op-b1 is not mapped to the record's tenant"]
    );
    // An attestation's record has no campaign; the policy does not need one.
    let mut record = isolation_record("tenant-b", "op-b1");
    record.campaign_id = None;
    let attested = decide(
        &isolation,
        input!(&IsolationInput::new(record, "tenant-b".parse().unwrap())),
    );
    assert!(attested.allow, "{attested:?}");
}

fn feedback_input(execution: Option<RecordedExecution>) -> FeedbackInput {
    FeedbackInput {
        checks: FeedbackChecks {
            signature: true,
            replay: true,
        },
        caller: FeedbackCaller {
            tenant_id: "tenant-a".parse().unwrap(),
        },
        execution,
        feedback: FeedbackMessage {
            tenant_id: "tenant-a".parse().unwrap(),
            schema_version: serde_json::from_value(json!("1.0")).unwrap(),
            kid: "alpha-k1".parse().unwrap(),
            data: serde_json::from_value(json!({
                "execution_hash": hash("execution"),
                "attestation_measurement_hash": hash("measurement"),
                "confidence": 0.5,
                "ttl_seconds": 600,
                "adjustment": {},
            }))
            .expect("feedback data"),
        },
    }
}

fn recorded(operator: &str, measurement: &str) -> RecordedExecution {
    RecordedExecution {
        tenant_id: "tenant-a".parse().unwrap(),
        operator_id: operator.parse().unwrap(),
        attestation_measurement_hash: hash(measurement),
    }
}

#[test]
fn feedback_rego_reads_every_member_of_its_input() {
    let feedback = policy("feedback");
    let allowed = decide(
        &feedback,
        input!(&feedback_input(Some(recorded("op-a1", "measurement")))),
    );
    assert!(allowed.allow, "{allowed:?}");
    // `execution` is null when no telemetry was accepted for it.
    let missing = decide(&feedback, input!(&feedback_input(None)));
    assert_eq!(
        missing.reasons,
        ["no execution is recorded for execution_hash"]
    );
    let measurement = decide(
        &feedback,
        input!(&feedback_input(Some(recorded("op-a1", "other")))),
    );
    assert_eq!(
        measurement.reasons,
        ["attestation_measurement_hash differs from the one recorded for the execution"]
    );
    let operator = decide(
        &feedback,
        input!(&feedback_input(Some(recorded("op-b1", "measurement")))),
    );
    assert_eq!(
        operator.reasons,
        ["operator op-b1 is not mapped to the feedback's tenant"]
    );
    let mut unchecked = feedback_input(Some(recorded("op-a1", "measurement")));
    unchecked.checks.replay = false;
    let unchecked = decide(&feedback, input!(&unchecked));
    assert_eq!(unchecked.reasons, ["replay check did not pass"]);
}
