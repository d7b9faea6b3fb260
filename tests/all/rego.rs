//! Rego inside the sandbox: the rule convention and its errors.

use std::time::Instant;

use serde_json::json;
use verdict_host::policy::LoadError;

use crate::common::{claims, data, now, rego, runtime};
use verdict_host::policy::RegoModule;
use verdict_host::timestamp::Timestamp;

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
fn time_now_ns_is_the_recorded_evaluation_time_as_in_opa() {
    let policy = rego(
        "package cert\n\nallow if time.parse_rfc3339_ns(input.not_after) > time.now_ns()\n",
        json!({}),
        Some("data.cert.allow"),
    );
    let cert = claims(json!({"not_after": "2026-12-02T12:00:00Z"}));
    let before = "2026-12-02T11:59:59Z".parse::<Timestamp>().unwrap();
    let after = "2026-12-02T12:00:01Z".parse::<Timestamp>().unwrap();
    assert!(policy.evaluate(&cert, before).decision.allow);
    let expired = policy.evaluate(&cert, after).decision;
    assert!(!expired.allow, "{expired:?}");
    assert_eq!(expired.reasons, ["data.cert.allow is undefined"]);
}

/// Loads `source` as `policy.rego`; the load error's text.
fn load_error(source: &str) -> String {
    let err = runtime()
        .load_rego(
            RegoModule {
                name: "policy.rego".into(),
                source: source.into(),
            },
            data(json!({})),
            None,
        )
        .err()
        .expect("the policy must not load");
    assert!(matches!(err, LoadError::Rego(_)), "{err}");
    err.to_string()
}

#[test]
fn an_unknown_function_is_a_load_error_naming_its_location() {
    let text = load_error("package p\n\nallow if {\n  cyrpto.sha256(input.x) == \"y\"\n}\n");
    assert!(text.contains("policy.rego:4:3"), "{text}");
    assert!(text.contains("unknown function `cyrpto.sha256`"), "{text}");
}

#[test]
fn effectful_builtins_are_refused_at_load_naming_the_builtin() {
    for (call, builtin) in [
        ("rand.intn(\"x\", 10) > 1", "rand.intn"),
        ("uuid.rfc4122(\"x\") != \"\"", "uuid.rfc4122"),
        (
            "http.send({\"method\": \"get\", \"url\": \"http://x\"}).status_code == 200",
            "http.send",
        ),
        (
            "net.lookup_ip_addr(\"example.com\") != set()",
            "net.lookup_ip_addr",
        ),
        ("opa.runtime().env.HOME != \"\"", "opa.runtime"),
    ] {
        let text = load_error(&format!("package p\n\nallow if {call}\n"));
        assert!(text.contains("policy.rego:3:10"), "{text}");
        assert!(
            text.contains(&format!("builtin `{builtin}` is refused")),
            "{text}"
        );
    }
}

#[test]
fn a_builtin_with_the_wrong_number_of_arguments_is_a_load_error() {
    let text = load_error("package p\n\nallow if startswith(input.a)\n");
    assert!(text.contains("policy.rego:3:10"), "{text}");
    assert!(
        text.contains("`startswith` takes 2 argument(s), given 1"),
        "{text}"
    );
}

#[test]
fn an_unsafe_variable_is_a_load_error() {
    let text = load_error("package p\n\nallow if {\n  x > 1\n}\n");
    assert!(text.contains("policy.rego:4"), "{text}");
    assert!(text.contains("unsafe"), "{text}");
}

#[test]
fn a_function_of_a_package_not_loaded_is_a_load_error() {
    let text = load_error(
        "package p\n\nimport data.lib.strs as s\n\nallow if s.has_prefix(input.user, \"admin-\")\n",
    );
    assert!(text.contains("policy.rego:5:10"), "{text}");
    assert!(text.contains("unknown function `s.has_prefix`"), "{text}");
}

#[test]
fn lines_longer_than_1024_characters_parse() {
    let long = "x".repeat(3000);
    let policy = rego(
        &format!("package p\n\nallow if input.s == \"{long}\"\n"),
        json!({}),
        Some("data.p.allow"),
    );
    assert!(
        policy
            .evaluate(&claims(json!({ "s": long })), now())
            .decision
            .allow
    );
}

#[test]
fn print_output_never_reaches_a_decision() {
    let policy = rego(
        "package p\n\nallow if {\n  print(\"secret\", input.user)\n  input.user == \"alice\"\n}\n",
        json!({}),
        Some("data.p.allow"),
    );
    let decision = policy
        .evaluate(&claims(json!({"user": "bob"})), now())
        .decision;
    assert!(!decision.allow);
    assert!(
        decision.reasons.iter().all(|r| !r.contains("secret")),
        "{decision:?}"
    );
}
