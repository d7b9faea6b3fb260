//! The sandbox: limits, traps, isolation between evaluations, fail-closed loading.

use std::time::Duration;

use serde_json::json;
use verdict_host::policy::{EvalFailure, LoadError, PolicyRuntime, RuntimeConfig};

use crate::common::{claims, component, component_bytes, data, now, runtime};

#[test]
fn a_policy_that_loops_forever_is_denied_at_its_deadline() {
    let policy = component("misbehave_policy", json!({}));
    let eval = policy.evaluate(&claims(json!({"action": "loop"})), now());
    assert!(!eval.decision.allow);
    assert_eq!(
        eval.failure,
        Some(EvalFailure::CpuDeadline(Duration::from_millis(50)))
    );
    assert!(
        eval.decision.reasons[0].contains("CPU deadline"),
        "{:?}",
        eval.decision.reasons
    );
}

#[test]
fn a_policy_that_allocates_without_bound_is_denied_at_the_cap() {
    // A generous deadline: on a loaded machine the cap, not the clock, must stop it.
    let mut config = RuntimeConfig {
        cache_dir: None,
        ..RuntimeConfig::default()
    };
    config.limits.cpu_deadline = Duration::from_secs(10);
    let runtime = PolicyRuntime::new(config).unwrap();
    let policy = runtime
        .load_component(&component_bytes("misbehave_policy"), data(json!({})))
        .unwrap();
    let eval = policy.evaluate(&claims(json!({"action": "alloc"})), now());
    assert!(!eval.decision.allow);
    assert_eq!(eval.failure, Some(EvalFailure::Memory(64 << 20)));
}

#[test]
fn a_trap_is_a_deny_and_the_host_keeps_serving() {
    let policy = component("misbehave_policy", json!({}));
    let eval = policy.evaluate(&claims(json!({"action": "trap"})), now());
    assert!(!eval.decision.allow);
    assert!(
        matches!(eval.failure, Some(EvalFailure::Trap(_))),
        "{eval:?}"
    );
    let next = policy.evaluate(&claims(json!({"action": "none"})), now());
    assert!(next.decision.allow, "{next:?}");
}

#[test]
fn state_written_by_one_evaluation_is_invisible_to_the_next() {
    let policy = component("misbehave_policy", json!({}));
    for _ in 0..3 {
        let eval = policy.evaluate(&claims(json!({"action": "count"})), now());
        assert_eq!(eval.decision.annotations[0].value, "1", "{eval:?}");
    }
}

#[test]
fn oversized_output_is_denied() {
    let policy = component("misbehave_policy", json!({}));
    let eval = policy.evaluate(
        &claims(json!({"action": "big-output", "size": 100_000})),
        now(),
    );
    assert_eq!(
        eval.failure,
        Some(EvalFailure::OutputTooLarge {
            actual: 100_000,
            limit: 64 << 10
        })
    );
}

#[test]
fn oversized_input_is_denied_before_instantiation() {
    let policy = component("misbehave_policy", json!({}));
    let big = "y".repeat(2 << 20);
    let eval = policy.evaluate(&claims(json!({"action": "none", "pad": big})), now());
    assert!(
        matches!(eval.failure, Some(EvalFailure::InputTooLarge { .. })),
        "{eval:?}"
    );
    assert!(!eval.decision.allow);
}

#[test]
fn limits_are_configurable() {
    let mut config = RuntimeConfig {
        cache_dir: None,
        ..RuntimeConfig::default()
    };
    config.limits.memory_bytes = 8 << 20;
    let small = PolicyRuntime::new(config).unwrap();
    let policy = small
        .load_component(&component_bytes("misbehave_policy"), data(json!({})))
        .unwrap();
    let eval = policy.evaluate(&claims(json!({"action": "alloc"})), now());
    assert_eq!(eval.failure, Some(EvalFailure::Memory(8 << 20)));
}

#[test]
fn a_core_module_or_garbage_is_refused_with_a_clear_error() {
    let core_module = b"\0asm\x01\0\0\0";
    let err = runtime()
        .load_component(core_module, data(json!({})))
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::NotAComponent(_)), "{err}");
    let err = runtime()
        .load_component(b"not wasm", data(json!({})))
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::NotAComponent(_)), "{err}");
    let mut truncated = component_bytes("feedback_policy");
    truncated.truncate(truncated.len() / 2);
    let err = runtime()
        .load_component(&truncated, data(json!({})))
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::Compile(_)), "{err}");
}

#[test]
fn a_component_that_is_not_a_policy_is_refused() {
    // The Rego engine exports `evaluate` and `prepare`; an empty component
    // exports nothing.
    let empty_component = b"\0asm\x0d\0\x01\0";
    let err = runtime()
        .load_component(empty_component, data(json!({})))
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::NotThePolicyWorld(_)), "{err}");
    assert!(err.to_string().contains("evaluate"), "{err}");
}

#[test]
fn the_compile_cache_is_used_on_the_second_load() {
    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..RuntimeConfig::default()
    };
    let first = PolicyRuntime::new(config.clone()).unwrap();
    first
        .load_component(&component_bytes("isolation_policy"), data(json!({})))
        .unwrap();
    assert_eq!(first.cache_stats(), Some((0, 1)));
    drop(first);
    let second = PolicyRuntime::new(config).unwrap();
    second
        .load_component(&component_bytes("isolation_policy"), data(json!({})))
        .unwrap();
    assert_eq!(second.cache_stats(), Some((1, 0)));
}
