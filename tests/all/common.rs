//! Shared test helpers.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use verdict_host::claims::{Claims, DataDocument};
use verdict_host::policy::{Policy, PolicyRuntime, RegoModule, RuntimeConfig};
use verdict_host::timestamp::Timestamp;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One runtime for the whole test binary, with a code cache in target/, so
/// the Rego engine compiles once per machine rather than once per test.
pub fn runtime() -> &'static PolicyRuntime {
    static RUNTIME: OnceLock<PolicyRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let config = RuntimeConfig {
            cache_dir: Some(root().join("target/test-cache")),
            ..RuntimeConfig::default()
        };
        PolicyRuntime::new(config).expect("runtime")
    })
}

pub fn claims(value: Value) -> Claims {
    Claims::from_value(value).expect("claims are an object")
}

pub fn data(value: Value) -> DataDocument {
    DataDocument::from_json(&value.to_string()).expect("data is an object")
}

pub fn rego(source: &str, data_doc: Value, entrypoint: Option<&str>) -> Policy {
    runtime()
        .load_rego(
            RegoModule {
                name: "test.rego".into(),
                source: source.into(),
            },
            data(data_doc),
            entrypoint.map(str::to_string),
        )
        .expect("Rego policy loads")
}

pub fn rego_file(path: &Path, data_doc: Value) -> Policy {
    let source = std::fs::read_to_string(path).expect("read policy");
    runtime()
        .load_rego(
            RegoModule {
                name: path.display().to_string(),
                source,
            },
            data(data_doc),
            None,
        )
        .expect("Rego policy loads")
}

/// An auditor's policy directory under `dir`: `dir/policies` holding the
/// feedback policy and its data, which replay finds by digest. Returns it.
pub fn feedback_policy_dir(dir: &Path) -> std::path::PathBuf {
    let policies = dir.join("policies");
    std::fs::create_dir(&policies).expect("create policies/");
    for (from, to) in [
        ("policies/feedback.rego", "feedback.rego"),
        ("examples/feedback/data.json", "data.json"),
    ] {
        std::fs::copy(root().join(from), policies.join(to)).expect("copy the feedback policy");
    }
    policies
}

/// A component published by the build (`target/components/<name>.wasm`).
pub fn component_bytes(name: &str) -> Vec<u8> {
    let dir = Path::new(verdict_host::policy::builtin::COMPONENTS_DIR);
    std::fs::read(dir.join(format!("{name}.wasm"))).expect("built component")
}

pub fn component(name: &str, data_doc: Value) -> Policy {
    runtime()
        .load_component(&component_bytes(name), data(data_doc))
        .expect("component loads")
}

pub fn now() -> Timestamp {
    Timestamp::from_unix(1_795_000_000, 0)
}
