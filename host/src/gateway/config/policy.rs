//! `[policies]`: which policy decides what, and where its code and data are.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// The two policies the gateway evaluates.
#[derive(Debug, Clone)]
pub struct PoliciesConfig {
    pub(super) isolation: PolicyConfig,
    pub(super) feedback: PolicyConfig,
}

impl PoliciesConfig {
    /// `[policies.isolation]`: decides whether a request may cross tenants.
    pub fn isolation(&self) -> &PolicyConfig {
        &self.isolation
    }

    /// `[policies.feedback]`: decides on feedback requests.
    pub fn feedback(&self) -> &PolicyConfig {
        &self.feedback
    }
}

/// One policy: its code, its optional data document and entrypoint.
#[derive(Debug, Clone)]
pub struct PolicyConfig {
    pub(super) path: PathBuf,
    pub(super) format: PolicyFormat,
    pub(super) data: Option<PathBuf>,
    pub(super) entrypoint: Option<Entrypoint>,
}

impl PolicyConfig {
    /// `path`: the policy's code, resolved against the config file's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the code at [`path`](Self::path) is, from its extension.
    pub fn format(&self) -> PolicyFormat {
        self.format
    }

    /// `data`: a JSON document the policy sees as its data, if any, resolved
    /// against the config file's directory.
    pub fn data(&self) -> Option<&Path> {
        self.data.as_deref()
    }

    /// `entrypoint`: the rule or export to evaluate; `None` leaves the choice
    /// to the policy engine's default for the policy.
    pub fn entrypoint(&self) -> Option<&Entrypoint> {
        self.entrypoint.as_ref()
    }
}

/// What a policy file holds, from its extension; the policy runtime's
/// `PolicyKind` by another name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyFormat {
    /// `.rego`: a Rego module, evaluated by the Rego engine component.
    Rego,
    /// `.wasm`: a component of the `verdict:policy` world.
    Component,
}

impl PolicyFormat {
    /// The format of `path`, by its extension (case-sensitive), or `None` if it
    /// is neither `.rego` nor `.wasm`.
    pub fn of_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "rego" => Some(Self::Rego),
            "wasm" => Some(Self::Component),
            _ => None,
        }
    }
}

/// A policy entrypoint, such as `data.verdict.isolation.allow`: 1-256
/// printable ASCII characters, no spaces. What it must name is the policy
/// runtime's business (`docs/policies.md`), not checked here.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Entrypoint(String);

/// Why a string is not an [`Entrypoint`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid policy entrypoint `{0}`: 1-{max} printable ASCII characters, no spaces", max = Entrypoint::MAX_LEN)]
pub struct EntrypointError(pub String);

impl Entrypoint {
    /// The longest accepted entrypoint, in bytes.
    pub const MAX_LEN: usize = 256;

    /// The entrypoint as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Entrypoint {
    type Err = EntrypointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > Self::MAX_LEN || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(EntrypointError(s.chars().take(80).collect()));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for Entrypoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Entrypoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Entrypoint({:?})", self.0)
    }
}

impl<'de> Deserialize<'de> for Entrypoint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `[policies.isolation]`, `[policies.feedback]` or `[attestation.policy]`
/// as written: the TOML shape, before its paths are resolved.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FilePolicy {
    pub path: PathBuf,
    #[serde(default)]
    pub data: Option<PathBuf>,
    #[serde(default)]
    pub entrypoint: Option<Entrypoint>,
}
