//! Policy evaluation: native regorus against the sandboxed Rego engine.
//!
//! One Rego policy (`policies/feedback.rego`), one data document and one
//! allowed input for every variant of the group `rego_feedback`:
//!
//! - `native_prepared_clone`: regorus in-process; one engine holds the parsed
//!   policy and the data and has evaluated once (so its rules are analysed and
//!   scheduled, as in the sandbox's snapshot); each iteration clones it, sets
//!   the input from JSON text and evaluates the entrypoint.
//! - `native_parse_each`: regorus in-process, everything from scratch each
//!   iteration: new engine, parse the policy, load the data, set the input,
//!   evaluate.
//! - `sandboxed_fresh_instance`: `Policy::evaluate` on the policy loaded with
//!   `PolicyRuntime::load_rego`: a fresh instance of the prepared snapshot per
//!   evaluation, which parses the claims text inside the sandbox.
//!
//! The group `sandbox_overhead` isolates what (c) spends outside the Rego
//! evaluation proper:
//!
//! - `rego_trivial_policy`: the same path as (c) with `package t` /
//!   `allow := true`: instantiating the Rego snapshot, passing the input,
//!   parsing the claims and evaluating a constant rule.
//! - `rust_feedback_component`: the built-in Rust twin of the feedback policy
//!   (a small component) on the same input: the cost of a fresh instance of a
//!   component without the Rego engine's heap image.
//!
//! The group `native_breakdown` splits (a) into cloning the prepared engine,
//! parsing the input and evaluating. Before the groups run, `cargo bench` prints
//! (to stderr) each variant's mean time and minor page faults per call over
//! 2000 calls: page faults are where much of a fresh instance's time goes.
//!
//! Every variant is checked once, outside the timed loop, to allow the input,
//! so that none can silently measure an error path.
//!
//! Run: `cargo bench -p verdict-host --bench policy`; results are recorded in
//! BENCHMARKS.md.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use regorus::{Engine, Value};
use verdict_host::claims::{Claims, DataDocument};
use verdict_host::policy::builtin;
use verdict_host::policy::{Evaluation, Policy, PolicyRuntime, RegoModule, RuntimeConfig};
use verdict_host::timestamp::Timestamp;

const ENTRYPOINT: &str = "data.verdict.feedback.allow";

const POLICY: &str = include_str!("../../policies/feedback.rego");

const DATA: &str = r#"{"operators": {"op-a1": "tenant-a"}, "schema_versions": ["1.0"]}"#;

const MEASUREMENT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const EXECUTION: &str = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

/// An input the feedback policy allows.
fn input_text() -> String {
    format!(
        r#"{{
  "checks": {{"signature": true, "replay": true}},
  "caller": {{"tenant_id": "tenant-a"}},
  "execution": {{
    "tenant_id": "tenant-a",
    "operator_id": "op-a1",
    "attestation_measurement_hash": "{MEASUREMENT}"
  }},
  "feedback": {{
    "tenant_id": "tenant-a",
    "schema_version": "1.0",
    "kid": "alpha-k1",
    "data": {{
      "execution_hash": "{EXECUTION}",
      "attestation_measurement_hash": "{MEASUREMENT}",
      "confidence": 0.9,
      "ttl_seconds": 3600,
      "adjustment": {{}}
    }}
  }}
}}"#
    )
}

/// `$CARGO_TARGET_DIR/bench-cache`, else `target/bench-cache` beside the
/// bench binary (`target/<profile>/deps/policy-*`).
fn cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.ancestors().nth(3)?.to_path_buf())
        })
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("bench-cache")
}

fn timestamp() -> Timestamp {
    Timestamp::from_unix(1_795_000_000, 0)
}

fn native_engine() -> Engine {
    let mut engine = Engine::new();
    engine.set_rego_v0(false);
    engine
        .add_policy("feedback.rego".into(), POLICY.into())
        .expect("policy parses");
    engine.add_data_json(DATA).expect("data loads");
    engine
}

fn native_parse_each(input: &str) -> Value {
    let mut engine = Engine::new();
    engine.set_rego_v0(false);
    engine
        .add_policy("feedback.rego".into(), POLICY.into())
        .expect("policy parses");
    engine.add_data_json(DATA).expect("data loads");
    engine.set_input_json(input).expect("input parses");
    engine.eval_rule(ENTRYPOINT.into()).expect("evaluates")
}

fn native_clone(prepared: &Engine, input: &str) -> Value {
    let mut engine = prepared.clone();
    engine.set_input_json(input).expect("input parses");
    engine.eval_rule(ENTRYPOINT.into()).expect("evaluates")
}

fn assert_allows(variant: &str, evaluation: &Evaluation) {
    assert!(
        evaluation.decision.allow && evaluation.failure.is_none(),
        "{variant} does not allow the bench input: {evaluation:?}"
    );
}

fn load_rego(runtime: &PolicyRuntime, name: &str, source: &str, entrypoint: &str) -> Policy {
    runtime
        .load_rego(
            RegoModule {
                name: name.into(),
                source: source.into(),
            },
            DataDocument::from_json(DATA).expect("data is an object"),
            Some(entrypoint.into()),
        )
        .expect("the Rego policy loads")
}

/// Minor page faults of this process so far (`/proc/self/stat`, field 10).
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; count from after its `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(7)?.parse().ok()
}

/// Prints the mean time and minor page faults of one call of `f` (outside
/// criterion's measurements).
fn profile(name: &str, mut f: impl FnMut()) {
    const N: u32 = 2000;
    f();
    let faults = minor_faults();
    let start = Instant::now();
    for _ in 0..N {
        f();
    }
    let elapsed = start.elapsed() / N;
    match (faults, minor_faults()) {
        (Some(before), Some(after)) => eprintln!(
            "{name}: {elapsed:?} per call, {:.1} minor page faults per call",
            (after - before) as f64 / f64::from(N)
        ),
        _ => eprintln!("{name}: {elapsed:?} per call"),
    }
}

fn benches(c: &mut Criterion) {
    let input = input_text();
    let claims = Claims::from_json(&input).expect("claims are an object");
    // All variants parse the same bytes: the canonical text the sandbox gets.
    let input = claims.canonical().to_string();
    let at = timestamp();

    let mut prepared = native_engine();
    // Analyse and schedule the rules once, as the sandbox does before its
    // snapshot; clones then carry the prepared interpreter.
    prepared.set_input_json(&input).expect("input parses");
    assert_eq!(
        prepared.eval_rule(ENTRYPOINT.into()).expect("evaluates"),
        Value::from(true),
        "native (prepared) does not allow the bench input"
    );
    assert_eq!(
        native_clone(&prepared, &input),
        Value::from(true),
        "native_prepared_clone does not allow the bench input"
    );
    assert_eq!(
        native_parse_each(&input),
        Value::from(true),
        "native_parse_each does not allow the bench input"
    );

    let runtime = PolicyRuntime::new(RuntimeConfig {
        cache_dir: Some(cache_dir()),
        ..RuntimeConfig::default()
    })
    .expect("policy runtime");
    let policy = load_rego(&runtime, "feedback.rego", POLICY, ENTRYPOINT);
    assert_allows("sandboxed_fresh_instance", &policy.evaluate(&claims, at));

    let trivial = load_rego(
        &runtime,
        "trivial.rego",
        "package t\nallow := true\n",
        "data.t.allow",
    );
    assert_allows("rego_trivial_policy", &trivial.evaluate(&claims, at));

    let rust = runtime
        .load_component(
            builtin::FEEDBACK_POLICY,
            DataDocument::from_json(DATA).expect("data is an object"),
        )
        .expect("the Rust feedback component loads");
    assert_allows("rust_feedback_component", &rust.evaluate(&claims, at));

    // Not under `cargo test`, which runs each benchmark once as a test.
    if std::env::args().any(|arg| arg == "--bench") {
        profile("native_prepared_clone", || {
            black_box(native_clone(&prepared, &input));
        });
        profile("sandboxed_fresh_instance", || {
            black_box(policy.evaluate(&claims, at));
        });
        profile("rego_trivial_policy", || {
            black_box(trivial.evaluate(&claims, at));
        });
        profile("rust_feedback_component", || {
            black_box(rust.evaluate(&claims, at));
        });
    }

    let mut group = c.benchmark_group("rego_feedback");
    group.bench_function("native_prepared_clone", |b| {
        b.iter(|| native_clone(black_box(&prepared), black_box(&input)))
    });
    group.bench_function("native_parse_each", |b| {
        b.iter(|| native_parse_each(black_box(&input)))
    });
    group.bench_function("sandboxed_fresh_instance", |b| {
        b.iter(|| policy.evaluate(black_box(&claims), black_box(at)))
    });
    group.finish();

    let mut group = c.benchmark_group("sandbox_overhead");
    group.bench_function("rego_trivial_policy", |b| {
        b.iter(|| trivial.evaluate(black_box(&claims), black_box(at)))
    });
    group.bench_function("rust_feedback_component", |b| {
        b.iter(|| rust.evaluate(black_box(&claims), black_box(at)))
    });
    group.finish();

    // Where (a)'s time goes: cloning the prepared engine, parsing the input,
    // evaluating.
    let mut group = c.benchmark_group("native_breakdown");
    group.bench_function("clone", |b| b.iter(|| black_box(&prepared).clone()));
    group.bench_function("input_from_json", |b| {
        b.iter(|| Value::from_json_str(black_box(&input)).expect("input parses"))
    });
    group.bench_function("eval_rule", |b| {
        b.iter_batched(
            || {
                let mut engine = prepared.clone();
                engine.set_input_json(&input).expect("input parses");
                engine
            },
            |mut engine| {
                let value = engine.eval_rule(ENTRYPOINT.into()).expect("evaluates");
                (engine, value)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = policy;
    config = config();
    targets = benches
}
criterion_main!(policy);
