//! Feedback acceptance: accepts a peer's feedback on an execution only when the
//! host's verification succeeded and the feedback is consistent with what the
//! host recorded for that execution. Twin of `policies/feedback.rego`; the
//! claims schema is in docs/claims.md ("feedback").

use policy_sdk::{Checks, Claims, Decision, Input, Policy, Value};

const MIN_TTL_SECONDS: f64 = 60.0;
const MAX_TTL_SECONDS: f64 = 86_400.0;

struct Feedback;

impl Policy for Feedback {
    fn evaluate(input: Input) -> Decision {
        match Claims::parse(&input) {
            Ok(claims) => decide(&claims),
            Err(deny) => deny,
        }
    }
}

fn decide(c: &Claims) -> Decision {
    let mut checks = Checks::new();
    let is_true = |p: &str| c.claim(p) == Some(&Value::Bool(true));
    checks.require(is_true("/checks/signature"), "signature check did not pass");
    checks.require(is_true("/checks/replay"), "replay check did not pass");

    let tenant = c.str("/feedback/tenant_id");
    checks.require(
        tenant.is_some() && tenant == c.str("/caller/tenant_id"),
        "feedback tenant does not match the caller's tenant",
    );
    require_execution(c, tenant, &mut checks);

    let confidence = c.claim("/feedback/data/confidence").and_then(Value::as_f64);
    checks.require(
        confidence.is_some_and(|v| (0.0..=1.0).contains(&v)),
        "confidence is not a number in [0, 1]",
    );
    let ttl = c.claim("/feedback/data/ttl_seconds").and_then(Value::as_f64);
    checks.require(
        ttl.is_some_and(|v| (MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&v)),
        "ttl_seconds is not in [60, 86400]",
    );
    let known = |v: &Value| c.claim("/feedback/schema_version").is_some_and(|w| same(v, w));
    checks.require(
        c.data("/schema_versions")
            .and_then(Value::as_array)
            .is_some_and(|versions| versions.iter().any(known)),
        "schema version is not known",
    );
    checks.into_decision()
}

/// JSON equality as in Rego: numbers compare by value, so a data document
/// listing `1.0` knows the claim `1` (claims reach the policy in canonical
/// form, where `1.0` is written `1`; the data document is kept as given).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || ((x.is_f64() || y.is_f64()) && x.as_f64() == y.as_f64())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The feedback must name an execution the host recorded, for the same tenant,
/// run by an operator of that tenant, with the same attestation measurement.
fn require_execution(c: &Claims, tenant: Option<&str>, checks: &mut Checks) {
    let Some(execution_tenant) = c.str("/execution/tenant_id") else {
        checks.require(false, "no execution is recorded for execution_hash");
        return;
    };
    checks.require(
        Some(execution_tenant) == tenant,
        "execution belongs to another tenant",
    );
    let operator = c.str("/execution/operator_id").unwrap_or("");
    let operator_tenant = c
        .data("/operators")
        .and_then(|ops| ops.get(operator))
        .and_then(Value::as_str);
    checks.require(
        operator_tenant.is_some() && operator_tenant == tenant,
        format!("operator {operator} is not mapped to the feedback's tenant"),
    );
    let claimed = c.str("/feedback/data/attestation_measurement_hash");
    checks.require(
        claimed.is_some() && claimed == c.str("/execution/attestation_measurement_hash"),
        "attestation_measurement_hash differs from the one recorded for the execution",
    );
}

policy_sdk::export_policy!(Feedback with_types_in policy_sdk::bindings);
