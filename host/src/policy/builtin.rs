//! Components built from components/ and embedded at build time.

/// The Rego engine (regorus), which evaluates `.rego` policies in the sandbox.
pub const REGO_ENGINE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/rego_engine.wasm"));

/// The feedback-acceptance policy, in Rust (twin of `policies/feedback.rego`).
pub const FEEDBACK_POLICY: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/feedback_policy.wasm"));

/// The tenant-isolation policy, in Rust (twin of `policies/isolation.rego`).
pub const ISOLATION_POLICY: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/isolation_policy.wasm"));

/// `wasmtime <version>; regorus <version>`, as recorded in policy identities.
pub const ENGINE_VERSIONS: &str = concat!(
    "wasmtime ",
    env!("VERDICT_WASMTIME_VERSION"),
    "; regorus ",
    env!("VERDICT_REGORUS_VERSION")
);

/// `verdict-host <version>`, as recorded in policy identities.
pub const HOST_VERSION: &str = concat!("verdict-host ", env!("CARGO_PKG_VERSION"));

/// Where the build published every component of components/ (including test
/// fixtures such as `misbehave_policy.wasm`), as `<name>.wasm`.
pub const COMPONENTS_DIR: &str = env!("VERDICT_COMPONENTS_DIR");
