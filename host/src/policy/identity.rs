//! What identifies a policy in a decision record, so replay can find it again.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// How the policy's code is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// A `.rego` module, evaluated by the Rego engine component.
    Rego,
    /// A `.wasm` component of the `verdict:policy` world.
    Component,
    /// A check the host made natively before any policy ran (a gateway's
    /// signature, freshness or replay check). `entrypoint` names the check.
    /// Replay verifies such a record's chain and signature but cannot re-run
    /// it: the raw request is not recorded.
    Host,
}

/// The identity of an evaluated policy: everything that determines its
/// decisions besides the input.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyIdentity {
    pub kind: PolicyKind,
    /// SHA-256 of the `.rego` or `.wasm` file's bytes.
    pub digest: Digest,
    /// SHA-256 of the data document's bytes as given (of `{}` when none).
    pub data_digest: Digest,
    /// The Rego rule that decides, when one was named.
    pub entrypoint: Option<String>,
    /// The name the Rego module was loaded under (it appears in error
    /// messages, hence in reasons); replay loads it under the same name.
    pub module: Option<String>,
    /// The host that evaluated, e.g. `verdict-host 0.1.0`.
    pub host: String,
    /// The engines, e.g. `wasmtime 48.0.8; regorus 0.14.1`.
    pub engine: String,
}
