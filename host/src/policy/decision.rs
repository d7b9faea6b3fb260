//! What a policy decides, as the host and the decision log see it.

use serde::{Deserialize, Serialize};

/// The outcome of one evaluation. Serialized into decision records as
/// `{"allow", "reasons", "trust_vector", "annotations"}` (docs/formats.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// True only when the policy accepted. Any failure is `false`.
    pub allow: bool,
    /// Why, in the policy's order; for a host-imposed deny, the limit or error.
    pub reasons: Vec<String>,
    /// An AR4SI trust vector, for appraisal policies.
    pub trust_vector: Option<TrustVector>,
    pub annotations: Vec<Annotation>,
}

impl Decision {
    /// A deny the host imposes (limit hit, trap, malformed output).
    pub fn deny(reason: impl Into<String>) -> Self {
        Self {
            allow: false,
            reasons: vec![reason.into()],
            trust_vector: None,
            annotations: Vec::new(),
        }
    }
}

/// An AR4SI trust vector (draft-ietf-rats-ar4si): one signed 8-bit claim per
/// dimension. JSON member names are those of EAR (`instance-identity`, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrustVector {
    pub instance_identity: i8,
    pub configuration: i8,
    pub executables: i8,
    pub file_system: i8,
    pub hardware: i8,
    pub runtime_opaque: i8,
    pub storage_opaque: i8,
    pub sourced_data: i8,
}

/// A key/value note attached to a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Annotation {
    pub key: String,
    pub value: String,
}
