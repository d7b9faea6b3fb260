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
