//! The gateway's config file, `verdict.toml`.
//!
//! [`GatewayConfig::load`] reads the TOML file, resolves every relative path
//! against the file's own directory, checks that each file it names exists,
//! and checks the settings against each other, so that a loaded config is one
//! the gateway can start with. It holds paths, not keys: loading and parsing
//! keys and certificates is left to the code that uses them. The format is
//! described in `docs/gateway-config.md`.
//!
//! [`dev`](super::dev) generates a complete local setup (CA, server and client
//! certificates, signing keys and a config) for development and tests.

mod attestation;
pub mod defaults;
mod error;
mod file;
mod fingerprint;
mod identity;
mod limits;
mod policy;
mod replay;
mod sections;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::ids::{Kid, OperatorId, ServiceIdentity, TenantId};

pub use attestation::AttestationConfig;
pub use error::{ConfigError, TextPosition};
pub use fingerprint::{CertFingerprint, FingerprintError, FingerprintParseError};
pub use identity::{IdentityConfig, IdentityKey};
pub use limits::LimitsConfig;
pub use policy::{Entrypoint, EntrypointError, PoliciesConfig, PolicyConfig, PolicyFormat};
pub use replay::{RedisUrl, RedisUrlError, ReplayBackend, ReplayConfig};
pub use sections::{DecisionLogConfig, GatewayKeyConfig, TlsConfig};

/// A loaded and checked gateway config. Every path in it is resolved against
/// the config file's directory and named an existing file when it was loaded
/// (except the decision log, which may be created).
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    source: PathBuf,
    listen: SocketAddr,
    plaintext_listen: Option<SocketAddr>,
    tls: TlsConfig,
    identities: Vec<IdentityConfig>,
    operators: BTreeMap<OperatorId, TenantId>,
    tenants: BTreeSet<TenantId>,
    gateway_key: GatewayKeyConfig,
    decision_log: DecisionLogConfig,
    policies: PoliciesConfig,
    replay: ReplayConfig,
    limits: LimitsConfig,
    attestation: Option<AttestationConfig>,
}

impl GatewayConfig {
    /// Reads, parses and checks the config file at `path`. Relative paths in
    /// it are resolved against `path`'s directory. Errors name the file, and
    /// the key or the line and column at fault.
    ///
    /// # Errors
    ///
    /// [`ConfigError`]: the file cannot be read or parsed, names a file that
    /// is missing, or has settings that contradict each other.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = fs::read_to_string(path).map_err(|source| ConfigError::Read {
            config: path.to_path_buf(),
            source,
        })?;
        let file: file::FileConfig = toml::from_str(&text).map_err(|error| ConfigError::Parse {
            config: path.to_path_buf(),
            position: error
                .span()
                .map(|span| TextPosition::of_offset(&text, span.start)),
            message: error.message().trim_end().to_owned(),
        })?;
        validate::validate(file, path)
    }

    /// The file this config was loaded from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// `listen`: where the mTLS listener binds.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// `plaintext_listen`: where a plaintext (no TLS) listener binds, if one
    /// was asked for explicitly; off by default.
    pub fn plaintext_listen(&self) -> Option<SocketAddr> {
        self.plaintext_listen
    }

    /// `[tls]`.
    pub fn tls(&self) -> &TlsConfig {
        &self.tls
    }

    /// `[[identities]]`, in file order.
    pub fn identities(&self) -> &[IdentityConfig] {
        &self.identities
    }

    /// The identity named `name`.
    pub fn identity(&self, name: &ServiceIdentity) -> Option<&IdentityConfig> {
        self.identities
            .iter()
            .find(|identity| identity.name == *name)
    }

    /// The identity pinned to the client certificate with `fingerprint`.
    pub fn identity_by_cert(&self, fingerprint: &CertFingerprint) -> Option<&IdentityConfig> {
        self.identities
            .iter()
            .find(|identity| identity.cert_sha256 == *fingerprint)
    }

    /// The identity that owns the key `kid`, and the key (retired or not).
    /// Key ids are unique in a config, so there is at most one.
    pub fn identity_key(&self, kid: &Kid) -> Option<(&IdentityConfig, &IdentityKey)> {
        self.identities
            .iter()
            .find_map(|identity| identity.key(kid).map(|key| (identity, key)))
    }

    /// `[operators]`: each operator's tenant.
    pub fn operators(&self) -> &BTreeMap<OperatorId, TenantId> {
        &self.operators
    }

    /// The tenant of `operator`.
    pub fn operator_tenant(&self, operator: &OperatorId) -> Option<&TenantId> {
        self.operators.get(operator)
    }

    /// Every tenant: those named by an identity or an operator. Tenants are
    /// not declared on their own.
    pub fn tenants(&self) -> &BTreeSet<TenantId> {
        &self.tenants
    }

    /// `[gateway_key]`.
    pub fn gateway_key(&self) -> &GatewayKeyConfig {
        &self.gateway_key
    }

    /// `[decision_log]`.
    pub fn decision_log(&self) -> &DecisionLogConfig {
        &self.decision_log
    }

    /// `[policies]`.
    pub fn policies(&self) -> &PoliciesConfig {
        &self.policies
    }

    /// `[replay]`.
    pub fn replay(&self) -> &ReplayConfig {
        &self.replay
    }

    /// `[limits]`.
    pub fn limits(&self) -> &LimitsConfig {
        &self.limits
    }

    /// `[attestation]`, if configured.
    pub fn attestation(&self) -> Option<&AttestationConfig> {
        self.attestation.as_ref()
    }
}
