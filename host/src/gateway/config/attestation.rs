//! `[attestation]`: mutual attestation (`/v1/challenge`, `/v1/attest`) and
//! EAR results. Optional: without it those routes answer 404.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::PolicyConfig;
use crate::evidence::memory::report::DriftMode;
use crate::evidence::memory::snapshot::SnapshotDigest;
use crate::ids::Kid;

/// The resolved `[attestation]` section.
#[derive(Debug, Clone)]
pub struct AttestationConfig {
    pub(super) policy: PolicyConfig,
    pub(super) ear_kid: Kid,
    pub(super) ear_key: PathBuf,
    pub(super) evidence_key: PathBuf,
    pub(super) challenge_ttl: Duration,
    pub(super) ear_ttl: Duration,
    pub(super) binding_retention: Duration,
    pub(super) memory_trusted_keys: Vec<PathBuf>,
    pub(super) memory_pins: BTreeMap<String, SnapshotDigest>,
    pub(super) memory_drift: DriftMode,
    pub(super) tpm_tcti: Option<String>,
    pub(super) tpm_ak_handle: Option<u32>,
}

impl AttestationConfig {
    /// `policy`: the appraisal policy (Rego or component), with its data.
    pub fn policy(&self) -> &PolicyConfig {
        &self.policy
    }

    /// `ear_kid`: the key id EAR tokens and the JWKS carry.
    pub fn ear_kid(&self) -> &Kid {
        &self.ear_kid
    }

    /// `ear_key`: the Ed25519 PKCS#8 PEM key that signs EAR tokens.
    pub fn ear_key(&self) -> &Path {
        &self.ear_key
    }

    /// `evidence_key`: the ML-DSA-65 PKCS#8 PEM key that signs the control
    /// plane's own memory-report evidence.
    pub fn evidence_key(&self) -> &Path {
        &self.evidence_key
    }

    /// `challenge_ttl_secs` (default 120): how long a challenge may be answered.
    pub fn challenge_ttl(&self) -> Duration {
        self.challenge_ttl
    }

    /// `ear_ttl_secs` (default 300): the validity of an EAR token.
    pub fn ear_ttl(&self) -> Duration {
        self.ear_ttl
    }

    /// `binding_retention_secs` (default 86400): how long a session binding
    /// stays bound to its tenant.
    pub fn binding_retention(&self) -> Duration {
        self.binding_retention
    }

    /// `memory.trusted_keys`: ML-DSA-65 public keys trusted to sign memory
    /// reports. Empty falls back to the key a report carries, which anchors
    /// nothing (`signer.pinned: false`; the shipped policy refuses it).
    pub fn memory_trusted_keys(&self) -> &[PathBuf] {
        &self.memory_trusted_keys
    }

    /// `memory.pins`: the expected snapshot digest of each region id.
    pub fn memory_pins(&self) -> &BTreeMap<String, SnapshotDigest> {
        &self.memory_pins
    }

    /// `memory.drift` (default `"strict"`): whether drift, an unpinned
    /// region or a missing pinned region fails verification (`strict`) or is
    /// reported to the policy (`lenient`, only when asked for).
    pub fn memory_drift(&self) -> DriftMode {
        self.memory_drift
    }

    /// `tpm_tcti`: where the gateway's own TPM is, if it adds a quote over
    /// the runner's nonce to its evidence.
    pub fn tpm_tcti(&self) -> Option<&str> {
        self.tpm_tcti.as_deref()
    }

    /// `tpm_ak_handle`: the persistent handle of the gateway's AK (made there
    /// on first use); without it each quote uses a fresh AK.
    pub fn tpm_ak_handle(&self) -> Option<u32> {
        self.tpm_ak_handle
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileAttestation {
    pub policy: super::policy::FilePolicy,
    pub ear_kid: Kid,
    pub ear_key: PathBuf,
    pub evidence_key: PathBuf,
    #[serde(default = "challenge_ttl")]
    pub challenge_ttl_secs: u64,
    #[serde(default = "ear_ttl")]
    pub ear_ttl_secs: u64,
    #[serde(default = "binding_retention")]
    pub binding_retention_secs: u64,
    #[serde(default)]
    pub memory: FileMemory,
    #[serde(default)]
    pub tpm_tcti: Option<String>,
    #[serde(default)]
    pub tpm_ak_handle: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileMemory {
    #[serde(default)]
    pub trusted_keys: Vec<PathBuf>,
    #[serde(default)]
    pub pins: BTreeMap<String, SnapshotDigest>,
    #[serde(default)]
    pub drift: DriftMode,
}

fn challenge_ttl() -> u64 {
    120
}

fn ear_ttl() -> u64 {
    300
}

fn binding_retention() -> u64 {
    86_400
}
