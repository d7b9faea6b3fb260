//! Rego inside the sandbox: the rule convention and its errors.

use std::time::Instant;

use serde_json::json;
use verdict_host::policy::LoadError;

use crate::common::{claims, data, now, rego, runtime};
use verdict_host::policy::RegoModule;

const SIMPLE: &str = r#"
package example

default allow := false

allow if input.user == "alice"

deny contains "bob is banned" if input.user == "bob"
"#;

#[test]
fn a_boolean_entrypoint_decides() {
    let started = Instant::now();
    let policy = rego(SIMPLE, json!({}), Some("data.example.allow"));
    eprintln!("load took {:?}", started.elapsed());
    let started = Instant::now();
    assert!(
        policy
            .evaluate(&claims(json!({"user": "alice"})), now())
            .decision
            .allow
    );
    eprintln!("eval took {:?}", started.elapsed());
    let denied = policy
        .evaluate(&claims(json!({"user": "carol"})), now())
        .decision;
    assert!(!denied.allow);
    assert_eq!(denied.reasons, ["data.example.allow is false"]);
}

#[test]
fn allow_and_deny_rules_decide_without_an_entrypoint() {
    let policy = rego(SIMPLE, json!({}), None);
    assert!(
        policy
            .evaluate(&claims(json!({"user": "alice"})), now())
            .decision
            .allow
    );
    let bob = policy
        .evaluate(&claims(json!({"user": "bob"})), now())
        .decision;
    assert!(!bob.allow);
    assert_eq!(bob.reasons, ["bob is banned"]);
}

#[test]
fn a_parse_error_names_its_location() {
    let err = runtime()
        .load_rego(
            RegoModule {
                name: "broken.rego".into(),
                source: "package x\n\nallow if {\n  input.a ==\n".into(),
            },
            data(json!({})),
            None,
        )
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::Rego(_)), "{err}");
    let text = err.to_string();
    assert!(text.contains("broken.rego:"), "{text}");
}

#[test]
fn verdict_now_ns_is_the_recorded_evaluation_time() {
    let policy = rego(
        "package clock\n\ndecision := {\"allow\": verdict.now_ns() < input.expires_ns, \"annotations\": {\"now\": verdict.now_ns()}}\n",
        json!({}),
        None,
    );
    let at = verdict_host::timestamp::Timestamp::from_unix(1_795_000_000, 5);
    let fresh = policy
        .evaluate(
            &claims(json!({"expires_ns": 1_795_000_001_000_000_000_i64})),
            at,
        )
        .decision;
    assert!(fresh.allow, "{fresh:?}");
    assert_eq!(fresh.annotations[0].value, "1795000000000000005");
    let later = verdict_host::timestamp::Timestamp::from_unix(1_795_000_002, 0);
    let stale = policy
        .evaluate(
            &claims(json!({"expires_ns": 1_795_000_001_000_000_000_i64})),
            later,
        )
        .decision;
    assert!(!stale.allow, "{stale:?}");
}

#[test]
fn builtins_that_need_ambient_authority_are_absent() {
    let policy = rego(
        "package t\n\nallow if time.now_ns() > 0\n",
        json!({}),
        Some("data.t.allow"),
    );
    let eval = policy.evaluate(&claims(json!({})), now());
    assert!(!eval.decision.allow);
    assert!(
        eval.decision.reasons[0].contains("time.now_ns"),
        "{:?}",
        eval.decision.reasons
    );
}
