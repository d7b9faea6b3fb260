//! The config file as written: the TOML shape, with defaults, before paths
//! are resolved and cross-references checked. Every table rejects unknown
//! keys, so a misspelt setting is an error rather than silently ignored.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::PathBuf;

use serde::Deserialize;

use crate::ids::{Kid, OperatorId, ServiceIdentity, TenantId};

use super::policy::FilePolicy;
use super::replay::RedisUrl;
use super::{CertFingerprint, defaults};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    #[serde(default = "listen")]
    pub listen: SocketAddr,
    #[serde(default)]
    pub plaintext_listen: Option<SocketAddr>,
    pub tls: FileTls,
    #[serde(default)]
    pub identities: Vec<FileIdentity>,
    #[serde(default)]
    pub operators: BTreeMap<OperatorId, TenantId>,
    pub gateway_key: FileGatewayKey,
    pub decision_log: FileDecisionLog,
    pub policies: FilePolicies,
    #[serde(default)]
    pub replay: FileReplay,
    #[serde(default)]
    pub limits: FileLimits,
    #[serde(default)]
    pub attestation: Option<super::attestation::FileAttestation>,
}

fn listen() -> SocketAddr {
    defaults::LISTEN
}

/// `[tls]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// One `[[identities]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileIdentity {
    pub name: ServiceIdentity,
    pub tenant: TenantId,
    pub cert_sha256: CertFingerprint,
    /// Defaults to none so that a missing list is reported as
    /// [`ConfigError::IdentityWithoutKeys`](super::ConfigError::IdentityWithoutKeys).
    #[serde(default)]
    pub keys: Vec<FileIdentityKey>,
}

/// One `[[identities.keys]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileIdentityKey {
    pub kid: Kid,
    pub public_key: PathBuf,
    #[serde(default)]
    pub retired: bool,
}

/// `[gateway_key]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileGatewayKey {
    pub kid: Kid,
    pub private_key: PathBuf,
}

/// `[decision_log]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDecisionLog {
    pub path: PathBuf,
    pub key: PathBuf,
}

/// `[policies]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FilePolicies {
    pub isolation: FilePolicy,
    pub feedback: FilePolicy,
}

/// `replay.backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum FileReplayBackend {
    #[default]
    Memory,
    Redis,
}

/// `[replay]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct FileReplay {
    pub backend: FileReplayBackend,
    pub redis_url: Option<RedisUrl>,
    pub redis_ca: Option<PathBuf>,
    pub max_age_secs: NonZeroU64,
    pub future_skew_secs: u64,
    pub retention_secs: u64,
}

impl Default for FileReplay {
    fn default() -> Self {
        Self {
            backend: FileReplayBackend::Memory,
            redis_url: None,
            redis_ca: None,
            max_age_secs: defaults::REPLAY_MAX_AGE_SECS,
            future_skew_secs: defaults::REPLAY_FUTURE_SKEW_SECS,
            retention_secs: defaults::REPLAY_RETENTION_SECS,
        }
    }
}

/// `[limits]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct FileLimits {
    pub max_body_bytes: NonZeroUsize,
    pub rate_per_identity_per_sec: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: defaults::MAX_BODY_BYTES,
            rate_per_identity_per_sec: defaults::RATE_PER_IDENTITY_PER_SEC,
            burst: defaults::BURST,
        }
    }
}
