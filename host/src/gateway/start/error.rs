//! Why the gateway could not start: [`StartError`], naming the file or
//! setting at fault and keeping the lower layer's error as its source.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::antireplay::{FreshnessConfigError, StoreError};
use crate::claims::JsonError;
use crate::crypto::KeyError;
use crate::evidence::appraisal::TrustError;
use crate::evidence::memory::MemoryError;
use crate::evidence::memory::region::{RegionError, RegionIdError};
use crate::gateway::decisions::LogUnavailable;
use crate::gateway::tls::TlsError;
use crate::ids::IdError;
use crate::log::LogError;
use crate::messages::KeyringError;
use crate::policy::LoadError;

/// Why the gateway could not start. The message names the file or setting
/// at fault; [`std::error::Error::source`] gives the lower layer's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A file named by the config could not be read.
    #[error("{}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An Ed25519 private key (the gateway's or the EAR key) is not PKCS#8 PEM.
    #[error("{}: not an Ed25519 key", path.display())]
    Ed25519Key {
        /// The key file.
        path: PathBuf,
        /// Why it does not parse.
        #[source]
        source: ed25519_dalek::pkcs8::Error,
    },
    /// A telemetry public key is not an Ed25519 SPKI PEM.
    #[error("{}: not an Ed25519 public key", path.display())]
    Ed25519PublicKey {
        /// The key file.
        path: PathBuf,
        /// Why it does not parse.
        #[source]
        source: ed25519_dalek::pkcs8::spki::Error,
    },
    /// A signing or verifying key (decision log, evidence, memory trust)
    /// could not be loaded.
    #[error("{}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why it could not be loaded.
        #[source]
        source: KeyError,
    },
    /// The `[attestation]` evidence key is not ML-DSA-65.
    #[error("{}: the evidence key must be an ML-DSA-65 key", path.display())]
    EvidenceKeyAlgorithm {
        /// The key file.
        path: PathBuf,
    },
    /// Two identities' keys collide in the keyring.
    #[error("keyring")]
    Keyring(#[source] KeyringError),
    /// A policy's data document is not a JSON object.
    #[error("{}", path.display())]
    PolicyData {
        /// The data file.
        path: PathBuf,
        /// Why it was refused.
        #[source]
        source: JsonError,
    },
    /// A policy does not load.
    #[error("policy {}", path.display())]
    Policy {
        /// The policy file.
        path: PathBuf,
        /// Why it does not load.
        #[source]
        source: LoadError,
    },
    /// `[replay]`'s windows contradict each other.
    #[error("[replay]")]
    Freshness(#[source] FreshnessConfigError),
    /// A route's anti-replay namespace is not a valid name.
    #[error("anti-replay namespace")]
    Namespace(#[source] IdError),
    /// The anti-replay store (Redis) could not be reached.
    #[error("anti-replay store")]
    Store(#[source] StoreError),
    /// The decision log could not be opened.
    #[error("decision log")]
    Log(#[source] Box<LogError>),
    /// The decision log's writer thread could not be started.
    #[error("decision log")]
    LogWriter(#[source] LogUnavailable),
    /// The server's TLS identity or the client CA is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// `attestation.tpm_tcti` is set in a build without TPM support.
    #[error(
        "attestation.tpm_tcti is set, but this build has no TPM support (cargo feature `tpm-collect`)"
    )]
    NoTpmSupport,
    /// The gateway could not hash what it reports about itself.
    #[error("self-measurement of {what}")]
    SelfMeasurement {
        /// The region.
        what: SelfRegion,
        /// Why.
        #[source]
        source: MemoryError,
    },
    /// The gateway could not open what it reports about itself.
    #[error("self-measurement of {what}")]
    SelfRegion {
        /// The region.
        what: SelfRegion,
        /// Why.
        #[source]
        source: RegionError,
    },
    /// The appraisal policy's data is not JSON with the members the trust
    /// check reads (docs/attestation.md, "Appraisal data").
    #[error("{}: not appraisal data", path.display())]
    AppraisalData {
        /// The data file.
        path: PathBuf,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// `[attestation]` trusts nothing for a type its appraisal requires.
    #[error("[attestation] could never affirm anything (appraisal data {data})")]
    Untrusted {
        /// The appraisal data file, or `(none)`.
        data: String,
        /// What is missing and where to configure it.
        #[source]
        source: TrustError,
    },
    /// A self-measured region's id is invalid (a bug in this build).
    #[error("self-measurement region id")]
    SelfRegionId(#[source] RegionIdError),
}

/// A region the control plane measures about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfRegion {
    /// Its attestation policy.
    AttestationPolicy,
    /// Its running executable.
    Executable,
}

impl fmt::Display for SelfRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AttestationPolicy => "the attestation policy",
            Self::Executable => "the gateway's executable",
        })
    }
}

/// Reads `path` as text.
pub(super) fn read(path: &Path) -> Result<String, StartError> {
    std::fs::read_to_string(path).map_err(|source| read_error(path, source))
}

/// Reads `path` as bytes.
pub(super) fn read_bytes(path: &Path) -> Result<Vec<u8>, StartError> {
    std::fs::read(path).map_err(|source| read_error(path, source))
}

fn read_error(path: &Path, source: std::io::Error) -> StartError {
    StartError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// `map_err` for a key loaded from `path`.
pub(super) fn key_error(path: &Path) -> impl FnOnce(KeyError) -> StartError + '_ {
    |source| StartError::Key {
        path: path.to_path_buf(),
        source,
    }
}
