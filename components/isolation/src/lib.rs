//! Tenant isolation: denies a record that lacks a tenant or a session binding,
//! whose session binding is already bound to another tenant, or whose operator
//! is not mapped to its tenant. Twin of `policies/isolation.rego`; the claims
//! schema is in docs/claims.md ("isolation").

use policy_sdk::{Checks, Claims, Decision, Input, Policy, Value};

struct Isolation;

impl Policy for Isolation {
    fn evaluate(input: Input) -> Decision {
        match Claims::parse(&input) {
            Ok(claims) => decide(&claims),
            Err(deny) => deny,
        }
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

fn decide(c: &Claims) -> Decision {
    let mut checks = Checks::new();
    let tenant = non_empty(c.str("/record/tenant_id"));
    let binding = non_empty(c.str("/record/session_binding_hash"));
    checks.require(tenant.is_some(), "record lacks a tenant");
    checks.require(binding.is_some(), "record lacks a session binding");

    if let (Some(tenant), Some(binding)) = (tenant, binding) {
        let bound_to = c
            .claim("/bindings")
            .and_then(|b| b.get(binding))
            .and_then(Value::as_str);
        checks.require(
            bound_to.is_none_or(|t| t == tenant),
            "session binding is already bound to another tenant",
        );
    }

    let operator = c.str("/record/operator_id").unwrap_or("");
    let operator_tenant = c
        .data("/operators")
        .and_then(|ops| ops.get(operator))
        .and_then(Value::as_str);
    checks.require(
        tenant.is_some() && operator_tenant == tenant,
        format!("operator {operator} is not mapped to the record's tenant"),
    );
    checks.into_decision()
}

policy_sdk::export_policy!(Isolation with_types_in policy_sdk::bindings);
